//! Inputs that can never be read (a body that is not what its queue carries,
//! a field that does not parse) are not retried until the dead-letter queue:
//! each is recorded once with its reason and body (`REJECTED#<id>`), and
//! announced in the same write, so the sender's team sees why.

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::Utc;

use shared::events::{stable_id, OutboundEvent};
use shared::outbox::OutboxEntry;
use shared::ports::RejectedInput;

use crate::{JobError, WorkerService};

/// Detail-types of the announcement, by the queue the input came from
/// (declared in the documented catalogue).
pub use shared::event_catalogue::{JOB_REJECTED, PIX_INPUT_REJECTED};

/// How much of the body the event carries (the item keeps all of it).
const BODY_IN_EVENT: usize = 4096;

pub(crate) async fn reject(
    service: &WorkerService,
    record: &SqsMessage,
    reason: &str,
) -> Result<(), JobError> {
    let queue = record.event_source_arn.clone().unwrap_or_default();
    let body = record.body.clone().unwrap_or_default();
    let id = stable_id(&format!("rejected/{queue}/{body}"));
    let (source, detail_type) = if queue == service.queues.pix_inputs {
        ("pix", PIX_INPUT_REJECTED)
    } else {
        ("clearing", JOB_REJECTED)
    };
    let detail = serde_json::json!({
        "event_id": id,
        "queue": queue,
        "sqs_message_id": record.message_id,
        "reason": reason,
        "body": body.chars().take(BODY_IN_EVENT).collect::<String>(),
    });
    let event = OutboundEvent {
        id,
        source: source.into(),
        detail_type: detail_type.into(),
        detail: detail.to_string(),
    };
    let rejected = RejectedInput {
        id: id.to_string(),
        queue,
        reason: reason.to_owned(),
        body,
        rejected_at: Utc::now(),
    };
    service
        .pix
        .save_rejected_input(&rejected, &[OutboxEntry::from(event)])
        .await?;
    tracing::warn!(reason, "input can never be read: recorded and announced");
    Ok(())
}
