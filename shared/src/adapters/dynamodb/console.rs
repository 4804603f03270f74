//! The console's reads and writes (`ConsoleStore`) on the one table.
//!
//! `ByQueue` (keys `queue_key` / `queue_sort`, projecting only what a list
//! row needs) holds three kinds of entries:
//! - `Q#<status>` / `<received>#<id>`: clearing messages in a queue status
//!   (PENDING, REPROCESSING, WRITE_OFF_REQUESTED), so one page of the queue is
//!   one Query of small entries and no read of the messages themselves;
//! - `WOFF#<status>` / `<requested>#<id>`: write-off requests;
//! - `PIXDAY#<date>` / `<outcome>#<endToEndId>`: Pix reconciliations by business day.
//!
//! Bulk actions live under `BULK#<id>` (`ACTION`, then one `ITEMS#<from>`
//! per chunk done) and `BULKKEY#<operator>#<key>` (the idempotency key).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::cursors::{decode_key, encode_key};
use super::items::{authorization_key, key, message_key, s};
use super::{
    cancellation_reasons, corrupt, failed_condition, sdk_error, unavailable, DynamoDbClearingStore,
    Item,
};
use crate::clearing::{AuthorizationClaim, ClearingField, ClearingMessage, ClearingStatus};
use crate::console::{is_queue_status, QueueFilter, QueueRow, WriteOff, WriteOffStatus};
use crate::outbox::OutboxEntry;
use crate::ports::{Page, StoreError};

pub const INDEX_BY_QUEUE: &str = "ByQueue";
const QUEUE_KEYS: [&str; 4] = ["pk", "sk", "queue_key", "queue_sort"];
/// Longest pending detail a list row carries (the message has all of it).
const DETAIL_CHARS: usize = 200;

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The list attributes every message item carries, and its queue entry.
pub(super) fn insert_list_attributes(item: &mut Item, m: &ClearingMessage, received: &str) {
    if let Some(reason) = &m.pending_reason {
        item.insert("q_reason".into(), s(reason.code.as_str()));
        let detail: String = reason.detail.chars().take(DETAIL_CHARS).collect();
        item.insert("q_detail".into(), s(detail));
    }
    if let Some(a) = m.fields.get(&ClearingField::TransactionAmount) {
        item.insert("q_amount".into(), s(a.clone()));
    }
    if let Some(c) = m.fields.get(&ClearingField::TransactionCurrency) {
        item.insert("q_currency".into(), s(c.clone()));
    }
    if is_queue_status(m.status) {
        item.insert("queue_key".into(), s(format!("Q#{}", m.status.as_str())));
        item.insert(
            "queue_sort".into(),
            s(format!("{received}#{}", m.clearing_unique_id)),
        );
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    let t = text(item, name).ok_or_else(|| corrupt(format!("list row without {name}")))?;
    DateTime::parse_from_rfc3339(&t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(corrupt)
}

/// A list row from a message item or its `ByQueue` entry.
pub(super) fn row_from_item(item: &Item) -> Result<QueueRow, StoreError> {
    let status = text(item, "status")
        .and_then(|t| ClearingStatus::parse(&t))
        .ok_or_else(|| corrupt("list row without status"))?;
    Ok(QueueRow {
        clearing_unique_id: text(item, "clearing_unique_id")
            .ok_or_else(|| corrupt("list row without id"))?,
        card_network: text(item, "card_network").unwrap_or_default(),
        card_hash: text(item, "card_hash"),
        status,
        version: item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
        pending_reason: text(item, "q_reason"),
        pending_detail: text(item, "q_detail"),
        received_at: time(item, "received_at")?,
        pending_since: time(item, "updated_at")?,
        amount: text(item, "q_amount"),
        currency: text(item, "q_currency"),
    })
}

/// The `queue_sort` bounds of a received-date filter.
fn date_bounds(filter: &QueueFilter) -> (String, String) {
    // Sort keys start with a `YYYY-` stamp: "0" is before all, "~" after all.
    let from = filter
        .from
        .map(|d| d.to_string())
        .unwrap_or_else(|| "0".into());
    let to = filter
        .to
        .map(|d| format!("{d}~"))
        .unwrap_or_else(|| "~".into());
    (from, to)
}

impl DynamoDbClearingStore {
    /// Reads `ByQueue` under `filter`'s status from `start`, keeping the rows
    /// it admits, until `want` are kept or `budget` entries were read. Returns
    /// the rows and the key to go on from (the last row kept, or the last
    /// entry read), if there may be more.
    async fn walk_queue(
        &self,
        filter: &QueueFilter,
        descending: bool,
        want: usize,
        budget: usize,
        mut start: Option<Item>,
    ) -> Result<(Vec<QueueRow>, Option<Item>), StoreError> {
        let (from, to) = date_bounds(filter);
        let values = HashMap::from([
            (
                ":k".to_string(),
                s(format!("Q#{}", filter.status().as_str())),
            ),
            (":a".to_string(), s(from)),
            (":b".to_string(), s(to)),
        ]);
        let selective = filter
            != &QueueFilter {
                status: filter.status,
                from: filter.from,
                to: filter.to,
                ..Default::default()
            };
        let (mut rows, mut read) = (Vec::new(), 0usize);
        loop {
            let page = if selective {
                1000
            } else {
                (want - rows.len()).clamp(1, 1000)
            };
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_QUEUE)
                .key_condition_expression("queue_key = :k AND queue_sort BETWEEN :a AND :b")
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!descending)
                .set_exclusive_start_key(start.take())
                .limit(page as i32)
                .set_return_consumed_capacity(self.metering.request())
                .send()
                .await
                .map_err(sdk_error)?;
            self.metering.read(resp.consumed_capacity());
            for item in resp.items() {
                read += 1;
                let row = row_from_item(item)?;
                if filter.admits(&row) {
                    rows.push(row);
                }
                if rows.len() >= want || read >= budget {
                    let keys = QUEUE_KEYS
                        .iter()
                        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
                        .collect();
                    return Ok((rows, Some(keys)));
                }
            }
            match resp.last_evaluated_key() {
                Some(last) => start = Some(last.clone()),
                None => return Ok((rows, None)),
            }
        }
    }

    pub(super) async fn queue_page(
        &self,
        filter: &QueueFilter,
        descending: bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<QueueRow>, StoreError> {
        let start = cursor.map(decode_key).transpose()?;
        if let Some(start) = &start {
            if !QUEUE_KEYS.iter().all(|k| start.contains_key(*k)) {
                return Err(StoreError::InvalidCursor(
                    "cursor belongs to another list".into(),
                ));
            }
        }
        // A selective filter reads on past rows it rejects, up to this many per page.
        let (items, last) = self
            .walk_queue(filter, descending, limit, 5_000, start)
            .await?;
        Ok(Page {
            items,
            next_cursor: last.as_ref().map(encode_key),
        })
    }

    pub(super) async fn queue_rows(
        &self,
        filter: &QueueFilter,
        max: usize,
    ) -> Result<Vec<QueueRow>, StoreError> {
        let (rows, _) = self
            .walk_queue(filter, false, max + 1, usize::MAX, None)
            .await?;
        Ok(rows)
    }

    pub(super) async fn undo_match(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        release: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut items = vec![self.versioned_put(message, expected_version, outbox)?];
        if let Some(c) = release {
            // The presentment leaves the authorization's cleared total; the
            // first to clear it also gives back `claimed_by`. Conditional on
            // what was read, so a change meanwhile is a conflict to retry.
            let holder = self
                .authorization(&c.trans_uid)
                .await?
                .is_some_and(|a| a.claimed_by.as_deref() == Some(c.clearing_unique_id.as_str()));
            let (expression, condition) = if holder {
                (
                    "REMOVE #entry, claimed_by SET version = if_not_exists(version, :one) + :one",
                    "claimed_by = :id",
                )
            } else {
                (
                    "REMOVE #entry SET version = if_not_exists(version, :one) + :one",
                    "attribute_not_exists(claimed_by) OR claimed_by <> :id",
                )
            };
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(authorization_key(&c.trans_uid)))
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_names(
                    "#entry",
                    format!(
                        "{}{}",
                        super::messages::CLEARED_PREFIX,
                        c.clearing_unique_id
                    ),
                )
                .expression_attribute_values(":id", s(c.clearing_unique_id.clone()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        self.transact(items, &message.clearing_unique_id).await
    }

    /// A transaction whose first item is the message: a failed condition
    /// there is a version conflict; anywhere else too (the state moved on).
    async fn transact(&self, items: Vec<TransactWriteItem>, id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.metering.writes(out.consumed_capacity());
                Ok(())
            }
            Err(e) => match cancellation_reasons(&e) {
                Some(r) if (0..r.len()).any(|i| failed_condition(&r, i)) => {
                    Err(StoreError::VersionConflict(id.to_owned()))
                }
                _ => Err(sdk_error(e)),
            },
        }
    }

    pub(super) async fn save_write_off(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        w: &WriteOff,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut item = key(format!("WOFF#{}", w.write_off_id), "REQUEST");
        item.insert("entity".into(), s("WRITE_OFF"));
        item.insert(
            "wo_json".into(),
            s(serde_json::to_string(w).map_err(corrupt)?),
        );
        item.insert("wo_status".into(), s(w.status.as_str()));
        item.insert("queue_key".into(), s(format!("WOFF#{}", w.status.as_str())));
        item.insert(
            "queue_sort".into(),
            s(format!(
                "{}#{}",
                super::items::stamp(w.requested_at),
                w.write_off_id
            )),
        );
        let (condition, values) = match w.status {
            WriteOffStatus::AwaitingApproval => ("attribute_not_exists(pk)", None),
            _ => (
                "wo_status = :awaiting",
                Some(HashMap::from([(
                    ":awaiting".to_string(),
                    s(WriteOffStatus::AwaitingApproval.as_str()),
                )])),
            ),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values)
            .build()
            .map_err(unavailable)?;
        let items = vec![
            self.versioned_put(message, expected_version, outbox)?,
            TransactWriteItem::builder().put(put).build(),
        ];
        self.transact(items, &message.clearing_unique_id).await
    }

    pub(super) async fn write_off(&self, id: &str) -> Result<Option<WriteOff>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("WOFF#{id}"), "REQUEST")))
            .consistent_read(true)
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await
            .map_err(sdk_error)?;
        self.metering.read(resp.consumed_capacity());
        resp.item()
            .and_then(|i| text(i, "wo_json"))
            .map(|j| serde_json::from_str(&j).map_err(corrupt))
            .transpose()
    }

    pub(super) async fn write_offs(
        &self,
        status: WriteOffStatus,
        limit: usize,
    ) -> Result<Vec<WriteOff>, StoreError> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_QUEUE)
            .key_condition_expression("queue_key = :k")
            .expression_attribute_values(":k", s(format!("WOFF#{}", status.as_str())))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await
            .map_err(sdk_error)?;
        self.metering.read(resp.consumed_capacity());
        resp.items()
            .iter()
            .filter_map(|i| text(i, "wo_json"))
            .map(|j| serde_json::from_str(&j).map_err(corrupt))
            .collect()
    }

    /// The message items of one received day, found through its arrival
    /// manifests, as list rows (a message listed twice counts once).
    pub(super) async fn received_on(&self, day: NaiveDate) -> Result<Vec<QueueRow>, StoreError> {
        let ids = self.arrived_ids(day).await?;
        let keys = ids.iter().map(|id| message_key(id)).collect();
        let mut rows: Vec<QueueRow> = self
            .batch_get(keys, false)
            .await?
            .iter()
            .map(row_from_item)
            .collect::<Result<_, _>>()?;
        // A noted record stored by another day's delivery is that day's.
        rows.retain(|r| r.received_at.date_naive() == day);
        Ok(rows)
    }

    /// Stores a bulk action unless its idempotency key is taken; then the
    /// action that took it.
    pub(super) async fn start_bulk(
        &self,
        bulk: &crate::console::BulkAction,
    ) -> Result<crate::ports::BulkStarted, StoreError> {
        let mut guard = key(
            format!("BULKKEY#{}#{}", bulk.requested_by, bulk.idempotency_key),
            "KEY",
        );
        guard.insert("bulk_id".into(), s(bulk.bulk_id.clone()));
        let mut item = key(format!("BULK#{}", bulk.bulk_id), "ACTION");
        item.insert("entity".into(), s("BULK_ACTION"));
        item.insert(
            "bulk_json".into(),
            s(serde_json::to_string(bulk).map_err(corrupt)?),
        );
        item.insert("done".into(), n(0));
        let items = vec![self.new_item_put(guard)?, self.new_item_put(item)?];
        match self.transact(items, &bulk.bulk_id).await {
            Ok(()) => Ok(crate::ports::BulkStarted::Started),
            Err(StoreError::VersionConflict(_)) => {
                let existing = self.existing_bulk(bulk).await?;
                Ok(crate::ports::BulkStarted::Existing(existing))
            }
            Err(e) => Err(e),
        }
    }

    async fn existing_bulk(
        &self,
        bulk: &crate::console::BulkAction,
    ) -> Result<crate::console::BulkAction, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("BULKKEY#{}#{}", bulk.requested_by, bulk.idempotency_key),
                "KEY",
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let id = resp
            .item()
            .and_then(|i| text(i, "bulk_id"))
            .ok_or_else(|| corrupt("idempotency key without its bulk action"))?;
        self.bulk(&id)
            .await?
            .map(|(b, _)| b)
            .ok_or_else(|| corrupt(format!("bulk action {id} missing")))
    }

    pub(super) async fn bulk(
        &self,
        id: &str,
    ) -> Result<Option<(crate::console::BulkAction, Vec<crate::console::BulkItem>)>, StoreError>
    {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("BULK#{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut action = None;
        let mut items = Vec::new();
        for item in resp.items() {
            if let Some(j) = text(item, "bulk_json") {
                let mut b: crate::console::BulkAction =
                    serde_json::from_str(&j).map_err(corrupt)?;
                b.done = item
                    .get("done")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_default();
                action = Some(b);
            } else if let Some(j) = text(item, "items_json") {
                let chunk: Vec<crate::console::BulkItem> =
                    serde_json::from_str(&j).map_err(corrupt)?;
                items.extend(chunk);
            }
        }
        Ok(action.map(|a| (a, items)))
    }

    pub(super) async fn record_bulk_items(
        &self,
        id: &str,
        done: usize,
        outcomes: &[crate::console::BulkItem],
    ) -> Result<(), StoreError> {
        let mut chunk = key(format!("BULK#{id}"), &format!("ITEMS#{done:06}"));
        chunk.insert(
            "items_json".into(),
            s(serde_json::to_string(outcomes).map_err(corrupt)?),
        );
        let advance = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("BULK#{id}"), "ACTION")))
            .update_expression("SET done = :next")
            .condition_expression("done = :done")
            .expression_attribute_values(":done", n(done))
            .expression_attribute_values(":next", n(done + outcomes.len()))
            .build()
            .map_err(unavailable)?;
        let items = vec![
            TransactWriteItem::builder().update(advance).build(),
            self.new_item_put(chunk)?,
        ];
        self.transact(items, id).await
    }

    pub(super) async fn pix_results(
        &self,
        day: NaiveDate,
        max: usize,
    ) -> Result<Vec<crate::console::PixResultRow>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_QUEUE)
                .key_condition_expression("queue_key = :k")
                .expression_attribute_values(":k", s(format!("PIXDAY#{day}")))
                .set_exclusive_start_key(start.take())
                .set_return_consumed_capacity(self.metering.request())
                .send()
                .await
                .map_err(sdk_error)?;
            self.metering.read(resp.consumed_capacity());
            for item in resp.items() {
                out.push(pix_row(item));
                if out.len() > max {
                    return Ok(out);
                }
            }
            match resp.last_evaluated_key() {
                Some(last) => start = Some(last.clone()),
                None => return Ok(out),
            }
        }
    }
}

fn pix_row(item: &Item) -> crate::console::PixResultRow {
    crate::console::PixResultRow {
        end_to_end_id: text(item, "pk")
            .and_then(|pk| pk.strip_prefix("PIX#").map(str::to_owned))
            .unwrap_or_default(),
        outcome: text(item, "pix_outcome").unwrap_or_else(|| crate::console::PIX_UNDECIDED.into()),
        transaction_id: text(item, "pix_transaction_id"),
        amount: text(item, "pix_amount"),
        provider_amount: text(item, "pix_provider_amount"),
    }
}

/// The list attributes of a Pix state: its day's entry in `ByQueue`.
pub(super) fn insert_pix_list_attributes(item: &mut Item, state: &crate::pix::PixReconciliation) {
    let row = crate::console::PixResultRow::of(state);
    let Some(date) = state.relevant_business_date() else {
        return;
    };
    item.insert("queue_key".into(), s(format!("PIXDAY#{date}")));
    item.insert(
        "queue_sort".into(),
        s(format!("{}#{}", row.outcome, row.end_to_end_id)),
    );
    item.insert("pix_outcome".into(), s(row.outcome));
    for (name, value) in [
        ("pix_transaction_id", row.transaction_id),
        ("pix_amount", row.amount),
        ("pix_provider_amount", row.provider_amount),
    ] {
        if let Some(v) = value {
            item.insert(name.into(), s(v));
        }
    }
}
