//! Inputs that can never be read (a body that is not what its queue carries,
//! a field that does not parse) are not retried until the dead-letter queue:
//! each is recorded once with its reason and body (`REJECTED#<id>`), and
//! announced in the same write, so the sender's team sees why.

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::Utc;

use shared::events::rejected_input_event;
use shared::outbox::OutboxEntry;
use shared::ports::RejectedInput;

use crate::{JobError, WorkerService};

/// Detail-types of the announcement, by the queue the input came from
/// (declared in the documented catalogue).
pub use shared::event_catalogue::{JOB_REJECTED, PIX_INPUT_REJECTED};

pub(crate) async fn reject(
    service: &WorkerService,
    record: &SqsMessage,
    reason: &str,
) -> Result<(), JobError> {
    let queue = record.event_source_arn.clone().unwrap_or_default();
    let body = record.body.clone().unwrap_or_default();
    let event = rejected_input_event(
        queue == service.queues.pix_inputs,
        &queue,
        record.message_id.as_deref(),
        reason,
        &body,
    );
    let id = event.id;
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
