//! SQS queues read as Lambda's SQS event source reads them, for the local
//! runner and the tests: batches of up to 10 records carrying their queue's
//! ARN, handed to the worker's handler, and only the records it does not
//! report failed deleted (the others come back after the visibility timeout).

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use reprocessing_worker::WorkerService;

use crate::{DevstackError, LocalClients, Provisioned, QueueInfo};

/// One receive (long poll of 1 s) of up to 10 messages, as the records of an SQS event.
/// `visibility_timeout` overrides the queue's own for these messages.
pub async fn receive_batch(
    clients: &LocalClients,
    queue: &QueueInfo,
    visibility_timeout: Option<i32>,
) -> Result<Vec<SqsMessage>, DevstackError> {
    let received = clients
        .sqs
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .set_visibility_timeout(visibility_timeout)
        .send()
        .await
        .map_err(|e| clients.aws_error("sqs", "ReceiveMessage", &queue.name, e))?;
    Ok(received
        .messages()
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_owned);
            record.receipt_handle = m.receipt_handle().map(str::to_owned);
            record.body = m.body().map(str::to_owned);
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(queue.arn.clone());
            record
        })
        .collect())
}

/// Deletes `records` from `queue`.
pub async fn delete_batch(
    clients: &LocalClients,
    queue: &QueueInfo,
    records: &[SqsMessage],
) -> Result<(), DevstackError> {
    for handle in records.iter().filter_map(|r| r.receipt_handle.as_deref()) {
        clients
            .sqs
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| clients.aws_error("sqs", "DeleteMessage", &queue.name, e))?;
    }
    Ok(())
}

/// Hands `batch` (received from `queue`) to the worker's handler and deletes
/// what it did not report failed.
pub async fn run_worker_batch(
    worker: &WorkerService,
    clients: &LocalClients,
    queue: &QueueInfo,
    batch: Vec<SqsMessage>,
) -> Result<SqsBatchResponse, DevstackError> {
    let mut event = SqsEvent::default();
    event.records = batch;
    // The event exactly as Lambda delivers it: serialized, then read by the runtime's types.
    let event: SqsEvent = serde_json::to_string(&event)
        .and_then(|text| serde_json::from_str(&text))
        .unwrap_or(event);
    let records = event.records.clone();
    let context = lambda_runtime::Context::default();
    let response =
        reprocessing_worker::handle(worker, lambda_runtime::LambdaEvent::new(event, context))
            .await
            .map_err(|e| DevstackError::Worker(e.to_string()))?;
    let failed = |r: &SqsMessage| {
        response
            .batch_item_failures
            .iter()
            .any(|f| Some(f.item_identifier.as_str()) == r.message_id.as_deref())
    };
    let done: Vec<SqsMessage> = records.into_iter().filter(|r| !failed(r)).collect();
    delete_batch(clients, queue, &done).await?;
    Ok(response)
}

/// Receives and deletes messages until at least `expected` have come and a
/// receive finds no more, or `max_wait` passes; their bodies as JSON (a body
/// that is not JSON as a JSON string).
pub async fn drain(
    clients: &LocalClients,
    queue: &QueueInfo,
    expected: usize,
    max_wait: Duration,
) -> Result<Vec<serde_json::Value>, DevstackError> {
    let deadline = Instant::now() + max_wait;
    let mut bodies = Vec::new();
    while Instant::now() < deadline {
        let batch = receive_batch(clients, queue, None).await?;
        delete_batch(clients, queue, &batch).await?;
        let done = batch.is_empty() && bodies.len() >= expected;
        bodies.extend(batch.into_iter().map(|r| {
            let body = r.body.unwrap_or_default();
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
        }));
        if done {
            break;
        }
    }
    Ok(bodies)
}

/// The prefix the sample events in `events/` were made for (`devstack up`, `./dev.sh lambda`).
pub const SAMPLE_PREFIX: &str = "local-";

/// Points the records of a sample SQS event (`events/reprocessing-worker/*.json`)
/// at `provisioned`'s queues. Each sample names its queue by the ARN the local
/// stack gives it under [`SAMPLE_PREFIX`]; any other ARN is an error, so a
/// sample that would not reach the worker locally does not pass unnoticed.
pub fn retarget_sample_event(
    event: &mut serde_json::Value,
    provisioned: &Provisioned,
) -> Result<(), DevstackError> {
    let records = event["Records"].as_array_mut().into_iter().flatten();
    for record in records {
        let arn = record["eventSourceARN"].as_str().unwrap_or_default();
        let (account, name) = arn.rsplit_once(':').unwrap_or(("", arn));
        let queue = name
            .strip_prefix(SAMPLE_PREFIX)
            .map(|logical| provisioned.queue(logical))
            .transpose()?
            .filter(|q| q.arn.rsplit_once(':').map(|(a, _)| a) == Some(account))
            .ok_or_else(|| {
                DevstackError::Sample(format!(
                    "eventSourceARN {arn:?} is not a queue of the local stack under the prefix {SAMPLE_PREFIX}"
                ))
            })?;
        record["eventSourceARN"] = queue.arn.clone().into();
    }
    Ok(())
}
