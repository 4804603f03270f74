//! `ConsoleStore` in memory: the same conditions as the DynamoDB adapter
//! (version-conditional message writes, a decided write-off only while it
//! awaits approval, one bulk action per idempotency key, bulk progress
//! conditional on its counter).

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{lock, MemoryStore};
use crate::clearing::{AuthorizationClaim, ClearingMessage};
use crate::console::{
    is_queue_status, BulkAction, BulkItem, PixResultRow, QueueFilter, QueueRow, WriteOff,
    WriteOffStatus,
};
use crate::outbox::OutboxEntry;
use crate::ports::{BulkStarted, ConsoleStore, Page, StoreError};

impl MemoryStore {
    /// The queue's rows in `ByQueue` order: received, then id.
    fn queue(&self, filter: &QueueFilter) -> Vec<QueueRow> {
        let tables = lock(&self.tables);
        let mut rows: Vec<QueueRow> = tables
            .messages
            .values()
            .filter(|m| is_queue_status(m.status))
            .map(QueueRow::of)
            .filter(|r| filter.admits(r))
            .collect();
        rows.sort_by(|a, b| {
            (a.received_at, &a.clearing_unique_id).cmp(&(b.received_at, &b.clearing_unique_id))
        });
        rows
    }
}

fn write_versioned(
    messages: &mut std::collections::BTreeMap<String, ClearingMessage>,
    message: &ClearingMessage,
    expected: u64,
) -> Result<(), StoreError> {
    match messages.get(&message.clearing_unique_id) {
        Some(stored) if stored.version == expected => Ok(()),
        _ => Err(StoreError::VersionConflict(
            message.clearing_unique_id.clone(),
        )),
    }
}

#[async_trait]
impl ConsoleStore for MemoryStore {
    async fn queue_page(
        &self,
        filter: &QueueFilter,
        descending: bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<QueueRow>, StoreError> {
        let mut rows = self.queue(filter);
        if descending {
            rows.reverse();
        }
        let start = match cursor {
            None => 0,
            Some(c) => c
                .strip_prefix("queue|")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    StoreError::InvalidCursor("cursor belongs to another list".into())
                })?,
        };
        let end = (start + limit).min(rows.len());
        Ok(Page {
            items: rows.get(start..end).map(<[_]>::to_vec).unwrap_or_default(),
            next_cursor: (end < rows.len()).then(|| format!("queue|{end}")),
        })
    }

    async fn queue_rows(
        &self,
        filter: &QueueFilter,
        max: usize,
    ) -> Result<Vec<QueueRow>, StoreError> {
        Ok(self.queue(filter).into_iter().take(max + 1).collect())
    }

    async fn undo_match(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        release: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tables = lock(&self.tables);
        write_versioned(&mut tables.messages, message, expected_version)?;
        if let Some(c) = release {
            // The presentment leaves the authorization's cleared total.
            if let Some(auth) = tables.authorizations.get_mut(&c.trans_uid) {
                if auth.clearings.remove(&c.clearing_unique_id).is_some() {
                    auth.version += 1;
                }
                if auth.claimed_by.as_deref() == Some(c.clearing_unique_id.as_str()) {
                    auth.claimed_by = None;
                }
            }
        }
        tables
            .messages
            .insert(message.clearing_unique_id.clone(), message.clone());
        tables.outbox.extend_from_slice(outbox);
        Ok(())
    }

    async fn save_write_off(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        write_off: &WriteOff,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tables = lock(&self.tables);
        write_versioned(&mut tables.messages, message, expected_version)?;
        let stored = tables
            .write_offs
            .get(&write_off.write_off_id)
            .map(|w| w.status);
        let allowed = match write_off.status {
            WriteOffStatus::AwaitingApproval => stored.is_none(),
            _ => stored == Some(WriteOffStatus::AwaitingApproval),
        };
        if !allowed {
            return Err(StoreError::VersionConflict(
                message.clearing_unique_id.clone(),
            ));
        }
        tables
            .write_offs
            .insert(write_off.write_off_id.clone(), write_off.clone());
        tables
            .messages
            .insert(message.clearing_unique_id.clone(), message.clone());
        tables.outbox.extend_from_slice(outbox);
        Ok(())
    }

    async fn write_off(&self, id: &str) -> Result<Option<WriteOff>, StoreError> {
        Ok(lock(&self.tables).write_offs.get(id).cloned())
    }

    async fn write_offs(
        &self,
        status: WriteOffStatus,
        limit: usize,
    ) -> Result<Vec<WriteOff>, StoreError> {
        let mut list: Vec<WriteOff> = lock(&self.tables)
            .write_offs
            .values()
            .filter(|w| w.status == status)
            .cloned()
            .collect();
        list.sort_by_key(|w| std::cmp::Reverse(w.requested_at));
        list.truncate(limit);
        Ok(list)
    }

    async fn start_bulk(&self, bulk: &BulkAction) -> Result<BulkStarted, StoreError> {
        let mut tables = lock(&self.tables);
        let key = format!("{}#{}", bulk.requested_by, bulk.idempotency_key);
        if let Some(id) = tables.bulk_keys.get(&key).cloned() {
            let existing = tables.bulks.get(&id).map(|(b, _)| b.clone());
            return existing
                .map(BulkStarted::Existing)
                .ok_or_else(|| StoreError::Corrupt(format!("bulk action {id} missing")));
        }
        tables.bulk_keys.insert(key, bulk.bulk_id.clone());
        tables
            .bulks
            .insert(bulk.bulk_id.clone(), (bulk.clone(), Vec::new()));
        Ok(BulkStarted::Started)
    }

    async fn bulk(&self, bulk_id: &str) -> Result<Option<(BulkAction, Vec<BulkItem>)>, StoreError> {
        Ok(lock(&self.tables).bulks.get(bulk_id).cloned())
    }

    async fn record_bulk_items(
        &self,
        bulk_id: &str,
        done: usize,
        items: &[BulkItem],
    ) -> Result<(), StoreError> {
        let mut tables = lock(&self.tables);
        match tables.bulks.get_mut(bulk_id) {
            Some((bulk, outcomes)) if bulk.done == done => {
                bulk.done += items.len();
                outcomes.extend_from_slice(items);
                Ok(())
            }
            _ => Err(StoreError::VersionConflict(bulk_id.to_owned())),
        }
    }

    async fn received_on(&self, day: NaiveDate) -> Result<Vec<QueueRow>, StoreError> {
        Ok(lock(&self.tables)
            .messages
            .values()
            .filter(|m| m.received_at.date_naive() == day)
            .map(QueueRow::of)
            .collect())
    }

    async fn pix_results(
        &self,
        day: NaiveDate,
        max: usize,
    ) -> Result<Vec<PixResultRow>, StoreError> {
        let mut rows: Vec<PixResultRow> = lock(&self.tables)
            .pix
            .values()
            .filter(|s| s.state.relevant_business_date() == Some(day))
            .map(|s| PixResultRow::of(&s.state))
            .collect();
        rows.sort_by(|a, b| (&a.outcome, &a.end_to_end_id).cmp(&(&b.outcome, &b.end_to_end_id)));
        rows.truncate(max + 1);
        Ok(rows)
    }
}
