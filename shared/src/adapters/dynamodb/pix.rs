//! The Pix store: one versioned state per end-to-end id (`PIX#`), and the
//! report days closed (`PIXDAY#`). Undecided states are listed in
//! `ByOpenStatus` under `PIX_OPEN#<date>` for the day's close.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, Utc};

use super::items::{ids_with_prefix, key, s, stamp};
use super::{
    corrupt, is_conditional_failure, unavailable, DynamoDbClearingStore, Item, INDEX_BY_OPEN_STATUS,
};
use crate::pix::PixReconciliation;
use crate::ports::{PixStore, StoreError, StoredPixState};

const PIX_SK: &str = "STATE";

fn pix_key(e2e: &str) -> Item {
    key(format!("PIX#{e2e}"), PIX_SK)
}

fn day_key(date: NaiveDate) -> Item {
    key(format!("PIXDAY#{date}"), "CLOSED")
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
            .map_err(unavailable)?;
        resp.item().map(state_from_item).transpose()
    }

    async fn save_pix_state(
        &self,
        state: &PixReconciliation,
        expected_version: u64,
        published: bool,
    ) -> Result<(), StoreError> {
        let item = state_item(state, expected_version + 1, published)?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(expected_version.to_string()))
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => {
                Err(StoreError::VersionConflict(state.end_to_end_id.clone()))
            }
            Err(e) => Err(unavailable(e)),
        }
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
            .map_err(unavailable)?;
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
            .map_err(unavailable)?;
        Ok(ids_with_prefix(&entries, "PIX#").collect())
    }
}
