//! Reprocessing worker: applies operators' reconciliation requests from the
//! SQS work queue. For each job it applies the adjustments to the stored
//! record, validates and matches it exactly as ingest does (same domain code),
//! and records the outcome with a transition conditional on the version it read.
//!
//! SQS semantics: partial batch responses (`ReportBatchItemFailures`), so a
//! failing job never re-runs its batch-mates; a job that keeps failing reaches
//! the dead-letter queue after the queue's `maxReceiveCount`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::Utc;
use lambda_runtime::LambdaEvent;

use shared::clearing::{ClearingMessage, ClearingStatus, MatchingRules};
use shared::events::clearing_event;
use shared::jobs::ReprocessingJob;
use shared::ports::{ClearingStore, EventBus, PixStore, StoreError};

pub mod pix;

pub const WORKER_ACTOR: &str = "worker:reprocessing";

pub struct WorkerService {
    pub store: Arc<dyn ClearingStore>,
    pub pix: Arc<dyn PixStore>,
    pub bus: Arc<dyn EventBus>,
    pub rules: MatchingRules,
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

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job body is not a reprocessing job: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] shared::ports::EventBusError),
}

/// The Lambda handler: every record is processed; failures are reported per item.
pub async fn handle(
    service: &WorkerService,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(process_batch(service, &event.payload.records).await)
}

pub async fn process_batch(service: &WorkerService, records: &[SqsMessage]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        // Pix inputs arrive as EventBridge events (they have a detail-type); jobs are our own JSON.
        let result = if let Ok(envelope) = serde_json::from_str::<pix::EventEnvelope>(body) {
            pix::process_pix_event(service, &envelope)
                .await
                .map(|o| format!("{o:?}"))
        } else {
            match serde_json::from_str::<ReprocessingJob>(body) {
                Ok(job) => process_job(service, &job).await.map(|o| format!("{o:?}")),
                Err(e) => Err(JobError::Unreadable(e.to_string())),
            }
        };
        match result {
            Ok(outcome) => tracing::info!(message_id = %id, outcome, "message done"),
            Err(e) => {
                // Left on the queue: retried after the visibility timeout, then dead-lettered.
                tracing::error!(message_id = %id, error = %e, "job failed");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
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
        let decision = message
            .finish_reprocessing(
                &job.adjustments,
                authorization.as_ref(),
                &service.rules,
                WORKER_ACTOR,
                Utc::now(),
            )
            .map_err(|e| JobError::Unreadable(e.to_string()))?;
        match service
            .store
            .update_messages(
                &[(decision.message.clone(), message.version)],
                decision.claim.as_ref(),
                None,
            )
            .await
        {
            Ok(()) => {
                if let Some(event) = clearing_event(&decision.message) {
                    service.bus.publish(&[event]).await?;
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
            && matches!(t.to, ClearingStatus::Matched | ClearingStatus::Pending)
            && t.actor == WORKER_ACTOR
    });
    if settled_by_this_job && message.version == job.expected_version + 1 {
        // A redelivery after the state was written: the event may not have gone out, so send it
        // again (same stable id; subscribers dedupe).
        if let Some(event) = clearing_event(message) {
            service.bus.publish(&[event]).await?;
        }
        return Ok(JobOutcome::AlreadyApplied);
    }
    if settled_by_this_job {
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
