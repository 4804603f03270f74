//! Bulk actions: many messages (named, or all matching a filter, resolved
//! here), one action, an outcome per item. Safe to retry: the operator's
//! idempotency key names one action. The work is done in chunks by the API
//! calls that start and read the action, so its progress is visible while it
//! runs; a chunk's outcomes and the progress are written together,
//! conditionally, so two readers never record a chunk twice (and each item's
//! own action is conditional on the message's state anyway).

use chrono::Utc;
use serde::Serialize;

use super::console::{ConsoleError, ConsoleService};
use crate::console::{
    BulkAction, BulkItem, BulkKind, BulkOutcome, QueueFilter, BULK_CHUNK, MAX_BULK_ITEMS,
};
use crate::ports::{BulkStarted, StoreError};
use crate::services::ReconcileError;

/// What to act on: named messages or a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkSelection {
    Ids(Vec<String>),
    Filter(QueueFilter),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkCommand {
    pub action: BulkKind,
    pub selection: BulkSelection,
    pub reason: String,
    pub remark: Option<String>,
    pub idempotency_key: String,
}

/// A bulk action's progress and the outcomes so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkStatus {
    pub bulk_id: String,
    pub action: BulkKind,
    /// RUNNING or DONE.
    pub status: &'static str,
    pub total: usize,
    pub done: usize,
    pub items: Vec<BulkItem>,
}

impl ConsoleService {
    /// Starts the action (or finds the one its key started) and does a first chunk.
    pub async fn start_bulk(
        &self,
        actor: &str,
        command: BulkCommand,
    ) -> Result<String, ConsoleError> {
        let ids = match command.selection {
            BulkSelection::Ids(ids) => ids,
            BulkSelection::Filter(filter) => self
                .store
                .queue_rows(&filter, MAX_BULK_ITEMS)
                .await?
                .into_iter()
                .map(|r| r.clearing_unique_id)
                .collect(),
        };
        let mut ids_once = Vec::with_capacity(ids.len());
        for id in ids {
            if !ids_once.contains(&id) {
                ids_once.push(id);
            }
        }
        // Nothing matching is an action with no items (DONE at once): a retry
        // after the first run moved every message on must still find its action.
        if ids_once.len() > MAX_BULK_ITEMS {
            return Err(ConsoleError::TooMany {
                count: ids_once.len(),
                max: MAX_BULK_ITEMS,
            });
        }
        let bulk = BulkAction {
            bulk_id: format!("BULK-{}", uuid::Uuid::new_v4().simple()),
            action: command.action,
            requested_by: actor.to_owned(),
            requested_at: Utc::now(),
            idempotency_key: command.idempotency_key,
            reason: command.reason,
            remark: command.remark,
            clearing_unique_ids: ids_once,
            done: 0,
        };
        let bulk = match self.store.start_bulk(&bulk).await? {
            BulkStarted::Started => bulk,
            BulkStarted::Existing(existing) => existing,
        };
        self.advance(&bulk).await?;
        Ok(bulk.bulk_id)
    }

    /// The action's status, after doing its next chunk if it is not done.
    pub async fn bulk_status(&self, bulk_id: &str) -> Result<BulkStatus, ConsoleError> {
        let (bulk, _) = self
            .store
            .bulk(bulk_id)
            .await?
            .ok_or_else(|| ConsoleError::BulkNotFound(bulk_id.to_owned()))?;
        self.advance(&bulk).await?;
        let (bulk, items) = self
            .store
            .bulk(bulk_id)
            .await?
            .ok_or_else(|| ConsoleError::BulkNotFound(bulk_id.to_owned()))?;
        let total = bulk.clearing_unique_ids.len();
        Ok(BulkStatus {
            bulk_id: bulk.bulk_id,
            action: bulk.action,
            status: if bulk.done >= total {
                "DONE"
            } else {
                "RUNNING"
            },
            total,
            done: bulk.done,
            items,
        })
    }

    /// Does the next chunk and records its outcomes; another caller that
    /// recorded it first wins (its outcomes stand).
    async fn advance(&self, bulk: &BulkAction) -> Result<(), ConsoleError> {
        let from = bulk.done;
        let Some(chunk) = bulk
            .clearing_unique_ids
            .get(from..(from + BULK_CHUNK).min(bulk.clearing_unique_ids.len()))
            .filter(|c| !c.is_empty())
        else {
            return Ok(());
        };
        let mut outcomes = Vec::with_capacity(chunk.len());
        for id in chunk {
            outcomes.push(self.bulk_item(bulk, id).await);
        }
        match self
            .store
            .record_bulk_items(&bulk.bulk_id, from, &outcomes)
            .await
        {
            Ok(()) | Err(StoreError::VersionConflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn bulk_item(&self, bulk: &BulkAction, id: &str) -> BulkItem {
        let item = |outcome, detail: String| BulkItem {
            clearing_unique_id: id.to_owned(),
            outcome,
            detail,
        };
        let message = match self.existing(id).await {
            Ok(m) => m,
            Err(e @ ConsoleError::MessageNotFound(_)) => {
                return item(BulkOutcome::Failed, e.to_string())
            }
            Err(e) => return item(BulkOutcome::Failed, e.to_string()),
        };
        match bulk.action {
            BulkKind::Reprocess => {
                let done = self
                    .reconciliation
                    .reprocess_one(&bulk.requested_by, message, &bulk.reason)
                    .await;
                match done {
                    Ok(a) => item(
                        BulkOutcome::Accepted,
                        format!("reprocessing request {}", a.request_id),
                    ),
                    Err(
                        e @ (ReconcileError::NothingPending { .. } | ReconcileError::LostRace(_)),
                    ) => item(BulkOutcome::Skipped, e.to_string()),
                    Err(e) => item(BulkOutcome::Failed, e.to_string()),
                }
            }
            BulkKind::WriteOff => {
                let done = self
                    .request_write_off(&bulk.requested_by, id, &bulk.reason, bulk.remark.as_deref())
                    .await;
                match done {
                    Ok(w) => item(
                        BulkOutcome::Accepted,
                        format!("write-off {} awaits approval", w.write_off_id),
                    ),
                    Err(e @ (ConsoleError::Manual(_) | ConsoleError::Changed(_))) => {
                        item(BulkOutcome::Skipped, e.to_string())
                    }
                    Err(e) => item(BulkOutcome::Failed, e.to_string()),
                }
            }
        }
    }
}
