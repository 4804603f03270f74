//! Reprocessing worker: applies operators' reconciliation requests from the
//! SQS work queue. For each job it applies the adjustments to the stored
//! record, validates and matches it exactly as ingest does (same domain code),
//! and records the outcome with a transition conditional on the version it read,
//! its event in the same write (the outbox, published from the table's stream).
//! It also consumes the Pix input queue (`pix.rs`); what a record is follows
//! from the queue it came from (`eventSourceARN`), never from guessing at its body.
//!
//! SQS semantics: partial batch responses (`ReportBatchItemFailures`), so a
//! failing job never re-runs its batch-mates; a job that keeps failing reaches
//! the dead-letter queue after the queue's `maxReceiveCount`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;
use tracing::Instrument;

use shared::clearing::{ClearingMessage, ClearingStatus};
use shared::events::clearing_event;
use shared::jobs::ReprocessingJob;
use shared::outbox::OutboxEntry;
use shared::ports::{ClearingStore, PixStore, StoreError};

pub mod pix;
pub mod rejected;
mod wiring;

pub const WORKER_ACTOR: &str = "worker:reprocessing";

pub struct WorkerService {
    pub store: Arc<dyn ClearingStore>,
    pub pix: Arc<dyn PixStore>,
    /// The matching rules in force (read at the first job, then kept briefly).
    pub rules: Arc<shared::services::RulesInForce>,
    pub queues: SourceQueues,
}

/// The ARNs of the queues the worker consumes (its event source mappings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceQueues {
    /// Reprocessing jobs (`ReprocessingQueue`).
    pub jobs: String,
    /// Pix inputs, EventBridge events (`PixInputQueue`).
    pub pix_inputs: String,
}

/// One SQS record, read according to its queue.
enum Work {
    Job(ReprocessingJob),
    Pix(pix::EventEnvelope),
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The message reached a new state (MATCHED or PENDING with a new reason).
    Settled(ClearingStatus),
    /// Already applied by an earlier delivery of this job; its event was re-announced.
    AlreadyApplied,
    /// The message moved on (another request, or released): acknowledged without effect.
    Stale,
}

impl JobOutcome {
    /// The `Outcome` dimension of the `Reprocessed` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Settled(status) => status.as_str(),
            Self::AlreadyApplied => "ALREADY_APPLIED",
            Self::Stale => "STALE",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The body can never be read as what its queue carries: recorded and
    /// announced as rejected, not retried.
    #[error("input rejected: {0}")]
    Rejected(String),
    /// A report close that arrived before all of its day's entries: retried.
    #[error("report close not applicable yet: {0}")]
    CloseEarly(String),
    /// The stored message cannot be reprocessed as read.
    #[error("message is unreadable: {0}")]
    Unreadable(String),
    #[error("message from a queue the worker does not consume: {0}")]
    UnknownQueue(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The Lambda handler: every record is processed; failures are reported per
/// item. The batch's metrics are flushed before it returns.
pub async fn handle(
    service: &WorkerService,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let response = process_batch(service, &event.payload.records).await;
    shared::metrics::flush();
    Ok(response)
}

pub async fn process_batch(service: &WorkerService, records: &[SqsMessage]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in records {
        let id = record.message_id.clone().unwrap_or_default();
        let span = shared::spans::sqs_message(&id);
        if let Err(e) = process_record(service, record)
            .instrument(span.clone())
            .await
        {
            // Left on the queue: retried after the visibility timeout, then dead-lettered.
            let queue = record.event_source_arn.as_deref().unwrap_or("<none>");
            span.in_scope(|| tracing::error!(queue, error = %e, "job failed"));
            shared::metrics::failed_message();
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// One record; one that can never be read is recorded as rejected instead.
async fn process_record(service: &WorkerService, record: &SqsMessage) -> Result<(), JobError> {
    match apply_record(service, record).await {
        Err(JobError::Rejected(reason)) => rejected::reject(service, record, &reason).await,
        other => other,
    }
}

/// One record, read according to its queue, processed and its outcome logged and counted.
async fn apply_record(service: &WorkerService, record: &SqsMessage) -> Result<(), JobError> {
    let outcome = match read_record(&service.queues, record)? {
        Work::Job(job) => {
            let span = shared::spans::reconciliation_job(&job.request_id, &job.clearing_unique_id);
            let outcome = process_job(service, &job).instrument(span).await?;
            shared::metrics::reprocessed(outcome.metric_label());
            format!("{outcome:?}")
        }
        Work::Pix(envelope) => format!("{:?}", pix::process_pix_event(service, &envelope).await?),
    };
    tracing::info!(outcome, "message done");
    Ok(())
}

/// What a record is, by the queue it came from: a job on the job queue, an
/// EventBridge event on the Pix input queue; anything else is an error for that record.
fn read_record(queues: &SourceQueues, record: &SqsMessage) -> Result<Work, JobError> {
    let body = record.body.as_deref().unwrap_or("");
    match record.event_source_arn.as_deref() {
        Some(arn) if arn == queues.jobs => serde_json::from_str(body)
            .map(Work::Job)
            .map_err(|e| JobError::Rejected(format!("not a reprocessing job: {e}"))),
        Some(arn) if arn == queues.pix_inputs => serde_json::from_str(body)
            .map(Work::Pix)
            .map_err(|e| JobError::Rejected(format!("not an EventBridge event: {e}"))),
        other => Err(JobError::UnknownQueue(other.unwrap_or("<none>").to_owned())),
    }
}

/// Applies one job, exactly once in effect.
pub async fn process_job(
    service: &WorkerService,
    job: &ReprocessingJob,
) -> Result<JobOutcome, JobError> {
    for _ in 0..3 {
        let Some(message) = service.store.message(&job.clearing_unique_id).await? else {
            tracing::warn!(id = %job.clearing_unique_id, "job for an unknown clearing message; acknowledged");
            return Ok(JobOutcome::Stale);
        };
        let ours = message.status == ClearingStatus::Reprocessing
            && message.reprocessing.as_ref().map(|t| t.request_id.as_str())
                == Some(job.request_id.as_str());
        if !ours {
            return already_applied_or_stale(service, job, &message).await;
        }
        let key = message.authorization_key_after(&job.adjustments);
        let authorization = match &key {
            Some(k) => service
                .store
                .authorizations(std::slice::from_ref(k))
                .await?
                .remove(k),
            None => None,
        };
        // The rules in force now: a reprocess decides under the latest version.
        let rules = service.rules.current().await?;
        let decision = message
            .finish_reprocessing(
                &job.adjustments,
                authorization.as_ref(),
                &rules,
                WORKER_ACTOR,
                Utc::now(),
            )
            .map_err(|e| JobError::Unreadable(e.to_string()))?;
        // The outcome's event is written with it (published from the table's stream).
        let announcement: Vec<OutboxEntry> = clearing_event(&decision.message)
            .map(OutboxEntry::from)
            .into_iter()
            .collect();
        match service
            .store
            .update_messages(
                &[(decision.message.clone(), message.version)],
                decision.claim.as_ref(),
                None,
                &announcement,
            )
            .await
        {
            Ok(()) => {
                // A dispute step now linked moves its first presentment on.
                if let Some((original, step)) = &decision.dispute {
                    shared::services::disputes::record_on_original(
                        service.store.as_ref(),
                        original,
                        step,
                        WORKER_ACTOR,
                    )
                    .await?;
                }
                return Ok(JobOutcome::Settled(decision.message.status));
            }
            // Someone else changed it, or the authorization was claimed meanwhile: read again and decide again.
            Err(StoreError::VersionConflict(_)) | Err(StoreError::ClaimLost(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Store(StoreError::Unavailable(
        "message kept changing under the job".into(),
    )))
}

async fn already_applied_or_stale(
    service: &WorkerService,
    job: &ReprocessingJob,
    message: &ClearingMessage,
) -> Result<JobOutcome, JobError> {
    let settled_by_this_job = message.history.iter().any(|t| {
        t.request_id.as_deref() == Some(job.request_id.as_str())
            && t.from == Some(ClearingStatus::Reprocessing)
            && matches!(
                t.to,
                ClearingStatus::Matched | ClearingStatus::Pending | ClearingStatus::Recorded
            )
            && t.actor == WORKER_ACTOR
    });
    // Its event went out with the write that settled it, whatever happened since.
    if settled_by_this_job {
        // A dispute step it linked is recorded on its original after that
        // write: a failure in between is made good here (once recorded, this
        // changes nothing).
        if let Some((original, step)) = message.dispute_step() {
            shared::services::disputes::record_on_original(
                service.store.as_ref(),
                &original,
                &step,
                WORKER_ACTOR,
            )
            .await?;
        }
        return Ok(JobOutcome::AlreadyApplied);
    }
    tracing::warn!(
        id = %message.clearing_unique_id,
        request_id = %job.request_id,
        status = message.status.as_str(),
        "job's message has moved on; acknowledged without effect"
    );
    Ok(JobOutcome::Stale)
}

#[cfg(test)]
mod tests;
