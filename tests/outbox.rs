//! The transactional outbox end to end: what a write announces or queues is
//! in the write, and the table's stream, read as Lambda's DynamoDB event
//! source mapping reads it (devstack's `StreamPump`), feeds the publisher.
//! Faults are injected in the publisher's bus or queue: the writers answer as
//! if nothing happened, and the stream's retries deliver everything later.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use devstack::{StartingPosition, StreamFunction};
use integration_tests::*;
use outbox_publisher::PublisherService;
use shared::adapters::{EventBridgeBus, SqsWorkQueue};
use shared::clearing::ClearingStatus;
use shared::ports::ClearingStore;

const SEED_ID: &str = "202404261024009777553";
const SEED_CARD: &str = "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd";

/// The real publisher whose first `failures` invocations run with a bus or
/// queue that does not exist (what an outage looks like to the handler).
struct Flaky {
    broken: PublisherService,
    working: PublisherService,
    failures: AtomicU32,
}

#[async_trait::async_trait]
impl StreamFunction for Flaky {
    async fn invoke(&self, event: Event) -> Result<DynamoDbEventResponse, String> {
        let broken = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let service = if broken { &self.broken } else { &self.working };
        service.invoke(event).await
    }
}

fn flaky(stack: &TestStack, broken: PublisherService, failures: u32) -> Arc<Flaky> {
    Arc::new(Flaky {
        broken,
        working: stack.publisher_service(),
        failures: AtomicU32::new(failures),
    })
}

fn broken_bus(stack: &TestStack) -> PublisherService {
    let mut p = stack.publisher_service();
    p.bus = Arc::new(EventBridgeBus::new(
        stack.clients.eventbridge.clone(),
        "no-such-bus",
    ));
    p
}

fn broken_queue(stack: &TestStack) -> PublisherService {
    let mut p = stack.publisher_service();
    p.queue = Arc::new(SqsWorkQueue::new(
        stack.clients.sqs.clone(),
        "http://127.0.0.1:5000/123456789012/no-such-queue",
    ));
    p
}

async fn post(stack: &TestStack, path: &str, body: &str) -> serde_json::Value {
    let resp = clearing_webhook::handle(&stack.webhook(), signed_webhook(path, body))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", response_json(&resp));
    response_json(&resp)
}

async fn reconcile(stack: &TestStack, body: &str) -> u16 {
    let req = api_request(
        "POST",
        "/v1/clearing-reconciliation",
        Some(&operator_token("clearing:reconcile")),
        body,
    );
    reconciliation_api::handle(&stack.api(), req)
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn seed_fix() -> String {
    format!(
        r#"{{"card_network": "MASTERCARD", "card_hash": "{SEED_CARD}", "reconciliation_reason": "swapped",
            "adjustments": [{{"field": "transactionLocalDate", "new_value": "2024-04-24"}}]}}"#
    )
}

fn of_type<'a>(events: &'a [serde_json::Value], detail_type: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| e["detail-type"] == detail_type)
        .collect()
}

/// The local reader follows the template as written: these are the settings
/// whose documented behaviour `devstack::StreamPump` reproduces
/// (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html: starting
/// position, batch size, bisect, retries, on-failure destination;
/// https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html:
/// partial batch responses). Changing one in template.yaml changes the local run.
#[test]
fn the_local_stream_reader_reads_the_template_mapping() {
    let spec = TestStack::publisher_source();
    assert_eq!(spec.table, "ClearingTable");
    assert_eq!(spec.starting_position, StartingPosition::TrimHorizon);
    assert_eq!(spec.batch_size, 100);
    assert!(spec.report_batch_item_failures);
    assert!(spec.bisect_on_error);
    assert_eq!(spec.maximum_retry_attempts, Some(10));
    assert_eq!(spec.on_failure_queue.as_deref(), Some("OutboxFailureQueue"));
}

/// A bus outage right after the records are stored: the webhook still answers
/// 200 (nothing to retry), and the stream's retries deliver the event once.
#[tokio::test]
async fn a_bus_failure_at_ingest_loses_no_event() {
    let stack = TestStack::without_publisher().await;
    stack
        .start_publisher(flaky(&stack, broken_bus(&stack), 2))
        .await;
    let ack = post(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    assert_eq!(ack["results"][0]["status"], "PENDING");
    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(20))
        .await;
    let pending = of_type(&events, "clearing_message.pending");
    assert_eq!(pending.len(), 1, "{events:?}");
    assert_eq!(pending[0]["detail"]["clearing_unique_id"], SEED_ID);
    // A redelivery of the notification writes nothing and announces nothing again.
    let again = post(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    assert_eq!(again["results"][0]["duplicate"], true);
    let more = stack
        .drain(&stack.all_events, 0, Duration::from_secs(3))
        .await;
    assert!(more.is_empty(), "{more:?}");
}

/// A queue outage after the request's transaction: the request is accepted
/// (202) and its job reaches the queue once the publisher's retry succeeds.
#[tokio::test]
async fn a_queue_failure_after_the_request_loses_no_job() {
    let stack = TestStack::without_publisher().await;
    post(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    stack
        .start_publisher(flaky(&stack, broken_queue(&stack), 2))
        .await;
    assert_eq!(reconcile(&stack, &seed_fix()).await, 202);
    let jobs = stack
        .drain(&stack.reprocessing_queue(), 1, Duration::from_secs(20))
        .await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["clearing_unique_id"], SEED_ID);
}

/// The worker's outcome is announced by the write that settles it: an operator
/// request that moves the message before anything is published (the case where
/// a re-announcement conditional on the version was lost) changes nothing.
#[tokio::test]
async fn a_settled_job_is_announced_even_after_the_message_moved_on() {
    let stack = TestStack::new().await;
    post(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    let no_fix = format!(
        r#"{{"card_network": "MASTERCARD", "card_hash": "{SEED_CARD}", "reconciliation_reason": "retry as is"}}"#
    );
    assert_eq!(reconcile(&stack, &no_fix).await, 202);
    let queue = stack.reprocessing_queue();
    let mut batch = Vec::new();
    for _ in 0..20 {
        batch = stack.receive_batch(&queue, 30).await;
        if !batch.is_empty() {
            break;
        }
    }
    assert_eq!(batch.len(), 1);
    stack
        .drain(&stack.all_events, 1, Duration::from_secs(5))
        .await;
    // Nothing reads the stream while the job settles and the operator asks again.
    stack.stop_publisher();
    let response = stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let settled = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(settled.status, ClearingStatus::Pending);
    assert_eq!(reconcile(&stack, &no_fix).await, 202);
    stack
        .start_publisher(Arc::new(stack.publisher_service()))
        .await;
    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(15))
        .await;
    // (A new reader starts from the stream's oldest record, as a re-created
    // mapping does: earlier events come again, under the same ids.)
    let settled_event: Vec<_> = of_type(&events, "clearing_message.pending")
        .into_iter()
        .filter(|e| e["detail"]["version"] == settled.version)
        .collect();
    assert_eq!(settled_event.len(), 1, "{events:?}");
}

/// A stream batch the publisher can never publish goes, after the template's
/// retries, to the on-failure queue with its shard and sequence numbers; the
/// stream moves on and later writes are published.
#[tokio::test]
async fn a_batch_that_keeps_failing_goes_to_the_failure_queue() {
    let stack = TestStack::without_publisher().await;
    post(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    stack
        .start_publisher(flaky(&stack, broken_bus(&stack), 11))
        .await;
    let failures = stack
        .provisioned
        .queue("OutboxFailureQueue")
        .unwrap()
        .clone();
    let given_up = stack.drain(&failures, 1, Duration::from_secs(60)).await;
    assert_eq!(given_up.len(), 1, "{given_up:?}");
    let info = &given_up[0]["DDBStreamBatchInfo"];
    assert!(info["shardId"].is_string() && info["startSequenceNumber"].is_string());
    assert_eq!(
        given_up[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    let record = clearing_record(
        &unique("later-"),
        &unique("uid-"),
        &unique("card-"),
        "1.00",
        "4111",
    );
    post(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        &format!(r#"{{"clearing": [{record}]}}"#),
    )
    .await;
    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(15))
        .await;
    assert_eq!(
        of_type(&events, "clearing_message.pending").len(),
        1,
        "{events:?}"
    );
}

/// `events/outbox-publisher/`'s sample, through the handler with the stack's
/// real bus: the seed's PENDING event reaches the bus's subscribers.
#[tokio::test]
async fn the_stream_sample_publishes_the_seeds_pending_event() {
    let stack = TestStack::without_publisher().await;
    let path = devstack::repo_root().join("events/outbox-publisher/stream-seed-pending.json");
    let event: Event = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let answer = outbox_publisher::handle(
        &stack.publisher_service(),
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert!(answer.batch_item_failures.is_empty());
    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(10))
        .await;
    let pending = of_type(&events, "clearing_message.pending");
    assert_eq!(pending.len(), 1, "{events:?}");
    assert_eq!(pending[0]["detail"]["clearing_unique_id"], SEED_ID);
    assert_eq!(pending[0]["detail"]["card_hash"], SEED_CARD);
    assert_eq!(
        pending[0]["detail"]["pending_reason"]["code"],
        "INVALID_FIELD"
    );
}
