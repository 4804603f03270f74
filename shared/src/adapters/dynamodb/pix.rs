//! The Pix store: one versioned state per end-to-end id (`PIX#`), and the
//! report days closed (`PIXDAY#`). Undecided states are listed in
//! `ByOpenStatus` under `PIX_OPEN#<date>` for the day's close.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{NaiveDate, Utc};

use super::items::{ids_with_prefix, key, s, stamp, with_outbox};
use super::{
    cancellation_reasons, corrupt, failed_condition, is_conditional_failure, sdk_error,
    unavailable, DynamoDbClearingStore, Item, INDEX_BY_OPEN_STATUS,
};
use crate::outbox::OutboxEntry;
use crate::pix::PixReconciliation;
use crate::ports::{DayEntry, DayTally, PixStore, RejectedInput, StoreError, StoredPixState};

const PIX_SK: &str = "STATE";

fn pix_key(e2e: &str) -> Item {
    key(format!("PIX#{e2e}"), PIX_SK)
}

fn day_key(date: NaiveDate) -> Item {
    key(format!("PIXDAY#{date}"), "CLOSED")
}

/// The provider entries applied for a report day (count and total).
fn tally_key(date: NaiveDate) -> Item {
    key(format!("PIXDAY#{date}"), "ENTRIES")
}

/// The stored item of a state at `version`.
fn state_item(
    state: &PixReconciliation,
    version: u64,
    published: bool,
) -> Result<Item, StoreError> {
    let mut item = pix_key(&state.end_to_end_id);
    item.insert("entity".into(), s("PIX_RECONCILIATION"));
    // The state as JSON text: its amounts are decimal strings, kept exactly.
    item.insert(
        "state_json".into(),
        s(serde_json::to_string(state).map_err(corrupt)?),
    );
    item.insert("version".into(), AttributeValue::N(version.to_string()));
    item.insert("published".into(), AttributeValue::Bool(published));
    if let Some(outcome) = &state.outcome {
        item.insert(
            "result_description".into(),
            s(format!("{:?}", outcome.result_description)),
        );
    } else if let Some(date) = state.relevant_business_date() {
        // Sparse index entry: the day's close finds undecided states here.
        item.insert("open_status".into(), s(format!("PIX_OPEN#{date}")));
        item.insert("open_sort".into(), s(state.end_to_end_id.clone()));
    }
    super::console::insert_pix_list_attributes(&mut item, state);
    Ok(item)
}

fn state_from_item(item: &Item) -> Result<StoredPixState, StoreError> {
    let state_json = item
        .get("state_json")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("pix state without state_json"))?;
    let version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt("pix state without version"))?;
    let published = matches!(item.get("published"), Some(AttributeValue::Bool(true)));
    Ok(StoredPixState {
        state: serde_json::from_str(state_json).map_err(corrupt)?,
        version,
        published,
    })
}

#[async_trait]
impl PixStore for DynamoDbClearingStore {
    async fn pix_state(&self, e2e: &str) -> Result<Option<StoredPixState>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(pix_key(e2e)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        resp.item().map(state_from_item).transpose()
    }

    async fn save_pix_state(
        &self,
        state: &PixReconciliation,
        expected_version: u64,
        published: bool,
        outbox: &[OutboxEntry],
        counted: Option<DayEntry>,
    ) -> Result<(), StoreError> {
        let item = with_outbox(state_item(state, expected_version + 1, published)?, outbox);
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(expected_version.to_string()))
        };
        let mut items = vec![TransactWriteItem::builder()
            .put(put.build().map_err(unavailable)?)
            .build()];
        if let Some(entry) = counted {
            // The day's tally moves with the state that applies the entry: counted once.
            let add = Update::builder()
                .table_name(&self.table)
                .set_key(Some(tally_key(entry.business_date)))
                .update_expression(
                    "ADD entry_count :one, total_amount :amount SET entity = :entity",
                )
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":amount", AttributeValue::N(entry.amount.to_string()))
                .expression_attribute_values(":entity", s("PIX_DAY_TALLY"))
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().update(add).build());
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if cancellation_reasons(&e).is_some_and(|r| failed_condition(&r, 0)) => {
                Err(StoreError::VersionConflict(state.end_to_end_id.clone()))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn save_rejected_input(
        &self,
        rejected: &RejectedInput,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(rejected).map_err(corrupt)?;
        item.extend(key(format!("REJECTED#{}", rejected.id), "INPUT"));
        item.insert("entity".into(), s("REJECTED_INPUT"));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_outbox(item, outbox)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Recorded (and announced) by an earlier delivery.
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn day_tally(&self, date: NaiveDate) -> Result<DayTally, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(tally_key(date)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(item) = resp.item() else {
            return Ok(DayTally::default());
        };
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .map(String::as_str)
        };
        Ok(DayTally {
            entry_count: number("entry_count")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt("day tally without entry_count"))?,
            total_amount: number("total_amount")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt("day tally without total_amount"))?,
        })
    }

    async fn close_pix_day(&self, date: NaiveDate) -> Result<(), StoreError> {
        let mut item = day_key(date);
        item.insert("entity".into(), s("PIX_REPORT_DAY_CLOSED"));
        item.insert("closed_at".into(), s(stamp(Utc::now())));
        self.put(item).await
    }

    async fn pix_day_closed(&self, date: NaiveDate) -> Result<bool, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(day_key(date)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(resp.item().is_some())
    }

    async fn open_pix_ids(&self, date: NaiveDate) -> Result<Vec<String>, StoreError> {
        let entries: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_OPEN_STATUS)
            .key_condition_expression("open_status = :s")
            .expression_attribute_values(":s", s(format!("PIX_OPEN#{date}")))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk_error)?;
        Ok(ids_with_prefix(&entries, "PIX#").collect())
    }
}
