//! Lists on the indexes (a card's messages, the open work list, a
//! transUid's messages) with their opaque cursors, and the search forms'
//! dispatch (the date and arrival forms walk manifests: see `manifests`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;

use super::cursors::{decode_key, encode_key};
use super::items::{authorization_key, ids_with_prefix, s};
use super::{
    sdk_error, DynamoDbClearingStore, Item, INDEX_BY_CARD, INDEX_BY_QUEUE, INDEX_BY_TRANS_UID,
};
use crate::clearing::{ClearingField, ClearingMessage, ClearingStatus};
use crate::ports::{ClearingSearch, Page, StoreError};

impl DynamoDbClearingStore {
    pub(super) async fn messages_for_card(
        &self,
        card_network: &str,
        card_hash: &str,
        status: Option<ClearingStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let mut values: Item =
            HashMap::from([(":k".to_string(), s(format!("{card_network}#{card_hash}")))]);
        let condition = match status {
            Some(st) => {
                values.insert(":s".into(), s(format!("{}#", st.as_str())));
                "card_key = :k AND begins_with(card_sort, :s)"
            }
            None => "card_key = :k",
        };
        self.page(INDEX_BY_CARD, condition, values, limit, cursor)
            .await
    }

    pub(super) async fn open_messages(
        &self,
        status: ClearingStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        // The console's queue index lists PENDING and REPROCESSING messages in
        // arrival order: one index entry a message serves both lists.
        let values = HashMap::from([(":s".to_string(), s(format!("Q#{}", status.as_str())))]);
        self.page(INDEX_BY_QUEUE, "queue_key = :s", values, limit, cursor)
            .await
    }

    pub(super) async fn search(
        &self,
        search: &ClearingSearch,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        match search {
            ClearingSearch::TransUid(uid) => self.search_trans_uid(uid, offset, limit).await,
            ClearingSearch::DateRange { .. } | ClearingSearch::AfterDate(_) => {
                match search.transaction_days(Utc::now().date_naive()) {
                    Some((start, end)) => self.search_days(start, end, offset, limit).await,
                    None => Ok(Page {
                        items: Vec::new(),
                        next_cursor: None,
                    }),
                }
            }
            ClearingSearch::Cursor(cursor) => self.search_arrivals(cursor, offset, limit).await,
        }
    }

    /// The claimer first (kept out of the index), then the rest in arrival order.
    async fn search_trans_uid(
        &self,
        uid: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let claimer = self.claimer_with_trans_uid(uid).await?;
        let values = HashMap::from([(":u".to_string(), s(uid))]);
        let (ids, _) = self
            .query_ids(
                INDEX_BY_TRANS_UID,
                "trans_uid = :u",
                values,
                offset.saturating_add(limit),
                None,
            )
            .await?;
        let claimer_id = claimer.as_ref().map(|m| m.clearing_unique_id.clone());
        let mut items: Vec<ClearingMessage> = claimer.into_iter().collect();
        let rest: Vec<String> = ids
            .into_iter()
            .filter(|id| Some(id) != claimer_id.as_ref())
            .collect();
        items.extend(self.messages_by_id(&rest).await?);
        Ok(Page {
            items: items.into_iter().skip(offset).take(limit).collect(),
            next_cursor: None,
        })
    }

    /// The message holding the claim of authorization `uid`, if it carries that transUid itself.
    async fn claimer_with_trans_uid(
        &self,
        uid: &str,
    ) -> Result<Option<ClearingMessage>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(authorization_key(uid)))
            .projection_expression("claimed_by")
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(AttributeValue::S(id)) = resp.item().and_then(|i| i.get("claimed_by")) else {
            return Ok(None);
        };
        // A claim whose message is not stored yet, is stored unmatched (about to
        // be given back), or matched through a reference alias, is not this search's.
        Ok(self.message(id).await?.filter(|m| {
            m.claimed_authorization() == Some(uid)
                && m.fields.get(&ClearingField::TransUid).map(String::as_str) == Some(uid)
        }))
    }

    async fn page(
        &self,
        index: &str,
        condition: &str,
        values: Item,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let start = cursor.map(decode_key).transpose()?;
        // A cursor of another list (another index) would be a DynamoDB validation error: say so as a 400.
        let index_keys: &[&str] = match index {
            INDEX_BY_CARD => &["card_key", "card_sort"],
            INDEX_BY_QUEUE => &["queue_key", "queue_sort"],
            _ => &[],
        };
        if let Some(start) = &start {
            if !["pk", "sk"]
                .iter()
                .chain(index_keys)
                .all(|k| start.contains_key(*k))
            {
                return Err(StoreError::InvalidCursor(
                    "cursor belongs to another list".into(),
                ));
            }
        }
        let (ids, last) = self
            .query_ids(index, condition, values, limit, start)
            .await?;
        Ok(Page {
            items: self.messages_by_id(&ids).await?,
            next_cursor: last.as_ref().map(encode_key),
        })
    }

    /// Up to `limit` message ids from `index`, from `start`, and the key to go
    /// on from when there may be more. Hand-written rather than a paginator:
    /// each page asks only for what is still wanted, so the last key is exactly
    /// where the caller's next page starts.
    async fn query_ids(
        &self,
        index: &str,
        condition: &str,
        values: Item,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<String>, Option<Item>), StoreError> {
        let mut ids = Vec::new();
        let mut start = start;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .limit((limit - ids.len()).clamp(1, 1000) as i32)
                .send()
                .await
                .map_err(sdk_error)?;
            ids.extend(ids_with_prefix(resp.items(), "CLR#"));
            let last = resp.last_evaluated_key().cloned();
            if ids.len() >= limit || last.is_none() {
                let more = ids.len() >= limit;
                return Ok((ids, if more { last } else { None }));
            }
            start = last;
        }
    }
}
