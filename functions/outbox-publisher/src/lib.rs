//! The outbox publisher: the table's stream (NEW_AND_OLD_IMAGES) in, the
//! events and jobs each write added to its item's `outbox` out, to EventBridge
//! and SQS. Records are handled in stream order; the first that cannot be
//! published is reported (with every record after it, Lambda retries from its
//! sequence number), so nothing is skipped and order per item is kept.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;
use tracing::Instrument;

use shared::outbox::{
    added, decode, decode_packed, OutboxEntry, OutboxError, OutboxPublisher, OUTBOX_ATTRIBUTE,
};
use shared::packed::PACKED_ATTRIBUTE;
use shared::ports::{EventBus, WorkQueue};

mod wiring;

pub struct PublisherService {
    pub bus: Arc<dyn EventBus>,
    pub queue: Arc<dyn WorkQueue>,
}

/// The Lambda handler: one stream batch, the first failed record reported.
pub async fn handle(
    service: &PublisherService,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
    Ok(publish_batch(service, &event.payload.records).await)
}

pub async fn publish_batch(
    service: &PublisherService,
    records: &[EventRecord],
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let publisher = OutboxPublisher {
        bus: service.bus.as_ref(),
        queue: service.queue.as_ref(),
    };
    for record in records {
        let sequence = record.change.sequence_number.clone();
        let span = tracing::info_span!(
            "stream_record",
            sequence_number = sequence.as_deref().unwrap_or("")
        );
        let result = async {
            let entries = entries_added(record)?;
            publisher.publish(&entries).await?;
            if !entries.is_empty() {
                tracing::info!(entries = entries.len(), "outbox published");
            }
            Ok::<_, OutboxError>(())
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = result {
            span.in_scope(|| tracing::error!(error = %e, "outbox not published; the stream retries from this record"));
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            // Later records wait: the stream redelivers from the failed one.
            break;
        }
    }
    response
}

/// The entries in the record's NEW image that its OLD image did not hold.
pub fn entries_added(record: &EventRecord) -> Result<Vec<OutboxEntry>, OutboxError> {
    let new = outbox_of(&record.change.new_image)?;
    if new.is_empty() {
        return Ok(new);
    }
    Ok(added(&outbox_of(&record.change.old_image)?, new))
}

/// An item's entries: its `outbox` attribute (JSON text), or the `outbox`
/// of its packed attribute (a message item's).
fn outbox_of(image: &serde_dynamo::Item) -> Result<Vec<OutboxEntry>, OutboxError> {
    match (image.get(OUTBOX_ATTRIBUTE), image.get(PACKED_ATTRIBUTE)) {
        (Some(serde_dynamo::AttributeValue::S(text)), _) => decode(text),
        (Some(_), _) => Err(OutboxError::Unreadable(
            "the outbox attribute is not a string".into(),
        )),
        (None, Some(serde_dynamo::AttributeValue::B(bytes))) => decode_packed(bytes),
        (None, Some(_)) => Err(OutboxError::Unreadable(
            "the packed attribute is not binary".into(),
        )),
        (None, None) => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests;
