//! The operator's reconciliation request: move a card's pending clearing
//! message(s) to REPROCESSING and queue one job per message for the worker.
//!
//! Steps: find the card's PENDING messages (and REPROCESSING ones whose
//! request outlived its lease), decide whether the request is acceptable,
//! record it with the transitions in one conditional write, queue the jobs,
//! and if queueing fails release the messages back to PENDING.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use crate::clearing::{
    check_adjustments, Adjustment, AdjustmentError, ClearingMessage, ClearingStatus,
    ReprocessingTicket, TransitionError,
};
use crate::jobs::ReprocessingJob;
use crate::ports::{ClearingStore, QueueError, ReconciliationRequest, StoreError, WorkQueue};

/// A request without adjustments reprocesses every pending message of the card, up to this many.
pub const MAX_MESSAGES_PER_REQUEST: usize = 50;

/// What an operator asks for, as the edge read it (adjustments not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationCommand {
    pub card_network: String,
    pub card_hash: String,
    pub reconciliation_reason: String,
    /// (field name, new value) pairs, in the order given.
    pub adjustments: Vec<(String, String)>,
}

/// The request was recorded and its jobs queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub request_id: String,
    pub clearing_unique_ids: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    InvalidAdjustment(#[from] AdjustmentError),
    #[error("no clearing message for card_hash `{card_hash}` on card_network `{card_network}`")]
    NoMessages {
        card_network: String,
        card_hash: String,
    },
    #[error("no clearing message of that card is pending (statuses: {})", statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))]
    NothingPending { statuses: Vec<ClearingStatus> },
    #[error("{} clearing messages of that card are pending ({}); adjustments would apply to all of them. Correct them one at a time", ids.len(), ids.join(", "))]
    Ambiguous { ids: Vec<String> },
    #[error("{count} messages are pending for that card; at most {MAX_MESSAGES_PER_REQUEST} are reprocessed per request")]
    TooManyPending { count: usize },
    #[error(transparent)]
    NotReprocessable(#[from] TransitionError),
    /// Another request moved the message first: exactly one wins.
    #[error("clearing message {0} is no longer pending")]
    LostRace(String),
    #[error("the reprocessing queue is unavailable; the message is still pending, retry later")]
    QueueUnavailable(#[source] QueueError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ReconcileError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict(id) => Self::LostRace(id),
            other => Self::Store(other),
        }
    }
}

/// A message this request starts from, and the stored version it was read at
/// (a released message is one transition ahead of what is stored).
type Candidate = (ClearingMessage, u64);

/// The reconciliation use case over the clearing store and the work queue.
#[derive(Clone)]
pub struct ReconciliationService {
    pub store: Arc<dyn ClearingStore>,
    pub queue: Arc<dyn WorkQueue>,
    /// How long a request may keep its messages REPROCESSING. Past it (its job
    /// ended in the dead-letter queue), a new request for the card takes them
    /// over; the old job, if it ever runs, finds another request and changes nothing.
    pub lease: chrono::Duration,
}

impl ReconciliationService {
    /// Records the request, moves the pending message(s) to REPROCESSING
    /// (conditionally on the versions read) and queues one job per message.
    pub async fn reconcile(
        &self,
        actor: &str,
        command: ReconciliationCommand,
    ) -> Result<Accepted, ReconcileError> {
        let adjustments = check_adjustments(&command.adjustments)?;
        let network = command.card_network.trim().to_ascii_uppercase();
        let now = Utc::now();
        let pending = self.candidates(&network, &command.card_hash, now).await?;
        if pending.is_empty() {
            return Err(self.why_nothing_pending(&network, &command.card_hash).await);
        }
        check_acceptable(&pending, &adjustments)?;

        let request = ReconciliationRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            card_network: network,
            card_hash: command.card_hash,
            reconciliation_reason: command.reconciliation_reason,
            adjustments,
            requested_by: actor.to_owned(),
            requested_at: now,
            clearing_unique_ids: pending
                .iter()
                .map(|(m, _)| m.clearing_unique_id.clone())
                .collect(),
        };
        // From here on every log line names the request.
        let span = crate::spans::reconciliation(&request.request_id);
        async {
            let updates = self.begin(&pending, &request).await?;
            self.enqueue(&updates, &request).await?;
            tracing::info!(messages = updates.len(), actor, "reconciliation accepted");
            Ok::<_, ReconcileError>(())
        }
        .instrument(span)
        .await?;
        Ok(Accepted {
            request_id: request.request_id,
            clearing_unique_ids: request.clearing_unique_ids,
        })
    }

    /// One PENDING message reprocessed as it is (no adjustments): the
    /// console's bulk reprocess, one request per message.
    pub async fn reprocess_one(
        &self,
        actor: &str,
        message: ClearingMessage,
        reason: &str,
    ) -> Result<Accepted, ReconcileError> {
        if message.status != ClearingStatus::Pending {
            return Err(ReconcileError::NothingPending {
                statuses: vec![message.status],
            });
        }
        let request = ReconciliationRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            card_network: message.card_network.clone(),
            card_hash: message.card_hash.clone().unwrap_or_default(),
            reconciliation_reason: reason.to_owned(),
            adjustments: Vec::new(),
            requested_by: actor.to_owned(),
            requested_at: Utc::now(),
            clearing_unique_ids: vec![message.clearing_unique_id.clone()],
        };
        let version = message.version;
        let updates = self.begin(&[(message, version)], &request).await?;
        self.enqueue(&updates, &request).await?;
        Ok(Accepted {
            request_id: request.request_id,
            clearing_unique_ids: request.clearing_unique_ids,
        })
    }

    /// The card's PENDING messages straight from the index (its sort key starts
    /// with the status), however many other messages the card has; and its
    /// REPROCESSING ones whose request outlived the lease, released (recorded)
    /// so this request can take them.
    async fn candidates(
        &self,
        network: &str,
        card_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Candidate>, StoreError> {
        let of_status = |status| {
            self.store.messages_for_card(
                network,
                card_hash,
                Some(status),
                MAX_MESSAGES_PER_REQUEST + 1,
                None,
            )
        };
        let (pending, stuck) = futures::try_join!(
            of_status(ClearingStatus::Pending),
            of_status(ClearingStatus::Reprocessing)
        )?;
        let mut out: Vec<Candidate> = pending
            .items
            .into_iter()
            .filter(|m| m.status == ClearingStatus::Pending)
            .map(|m| {
                let version = m.version;
                (m, version)
            })
            .collect();
        out.extend(
            stuck
                .items
                .iter()
                .filter_map(|m| self.release_if_expired(m, now)),
        );
        Ok(out)
    }

    /// A REPROCESSING message whose request is older than the lease, as released.
    fn release_if_expired(&self, m: &ClearingMessage, now: DateTime<Utc>) -> Option<Candidate> {
        let ticket = m.reprocessing.as_ref()?;
        if m.status != ClearingStatus::Reprocessing || now - ticket.requested_at <= self.lease {
            return None;
        }
        let why = format!(
            "reprocessing lease expired: request {} did not finish within {} s",
            ticket.request_id,
            self.lease.num_seconds()
        );
        let released = m.release_reprocessing(&why, now).ok()?;
        Some((released, m.version))
    }

    /// No candidate: either the card has no message at all (404) or none is pending (409).
    async fn why_nothing_pending(&self, network: &str, card_hash: &str) -> ReconcileError {
        let any = match self
            .store
            .messages_for_card(network, card_hash, None, 20, None)
            .await
        {
            Ok(page) => page,
            Err(e) => return e.into(),
        };
        if any.items.is_empty() {
            return ReconcileError::NoMessages {
                card_network: network.to_owned(),
                card_hash: card_hash.to_owned(),
            };
        }
        ReconcileError::NothingPending {
            statuses: any.items.iter().map(|m| m.status).collect(),
        }
    }

    /// PENDING -> REPROCESSING for every candidate, written with the request
    /// record in one all-or-nothing conditional write.
    async fn begin(
        &self,
        pending: &[Candidate],
        request: &ReconciliationRequest,
    ) -> Result<Vec<Candidate>, ReconcileError> {
        let ticket = ReprocessingTicket {
            request_id: request.request_id.clone(),
            requested_by: request.requested_by.clone(),
            requested_at: request.requested_at,
            reconciliation_reason: request.reconciliation_reason.clone(),
        };
        let updates = pending
            .iter()
            .map(|(m, stored_version)| {
                let next = m.begin_reprocessing(ticket.clone(), request.requested_at)?;
                Ok((next, *stored_version))
            })
            .collect::<Result<Vec<_>, TransitionError>>()?;
        self.store
            .update_messages(&updates, None, Some(request))
            .await?;
        Ok(updates)
    }

    /// One job per message; on the first failure the messages go back to PENDING.
    async fn enqueue(
        &self,
        updates: &[Candidate],
        request: &ReconciliationRequest,
    ) -> Result<(), ReconcileError> {
        for (next, _) in updates {
            let job = ReprocessingJob {
                request_id: request.request_id.clone(),
                clearing_unique_id: next.clearing_unique_id.clone(),
                card_network: request.card_network.clone(),
                card_hash: request.card_hash.clone(),
                adjustments: request.adjustments.clone(),
                reconciliation_reason: request.reconciliation_reason.clone(),
                requested_by: request.requested_by.clone(),
                requested_at: request.requested_at,
                expected_version: next.version,
            };
            if let Err(e) = self.queue.enqueue(&job).await {
                tracing::error!(error = %e, request_id = %request.request_id, "queueing failed; releasing the messages back to PENDING");
                self.release(updates, &request.request_id).await;
                return Err(ReconcileError::QueueUnavailable(e));
            }
        }
        Ok(())
    }

    /// Compensation: REPROCESSING -> PENDING for messages whose job was not queued.
    /// Jobs already queued for this request find the message PENDING and do nothing.
    async fn release(&self, updates: &[Candidate], request_id: &str) {
        let now = Utc::now();
        for (next, _) in updates {
            let back =
                match next.release_reprocessing("reprocessing request could not be queued", now) {
                    Ok(back) => back,
                    Err(e) => {
                        tracing::error!(error = %e, "release not allowed");
                        continue;
                    }
                };
            if let Err(e) = self
                .store
                .update_messages(&[(back, next.version)], None, None)
                .await
            {
                tracing::error!(error = %e, request_id, id = %next.clearing_unique_id, "release failed; message left REPROCESSING");
            }
        }
    }
}

/// With adjustments only one message may be pending (the API refuses to guess
/// which one they are for); without, at most [`MAX_MESSAGES_PER_REQUEST`].
fn check_acceptable(
    pending: &[Candidate],
    adjustments: &[Adjustment],
) -> Result<(), ReconcileError> {
    if !adjustments.is_empty() && pending.len() > 1 {
        return Err(ReconcileError::Ambiguous {
            ids: pending
                .iter()
                .map(|(m, _)| m.clearing_unique_id.clone())
                .collect(),
        });
    }
    if pending.len() > MAX_MESSAGES_PER_REQUEST {
        return Err(ReconcileError::TooManyPending {
            count: pending.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "reconciliation_tests.rs"]
mod tests;
