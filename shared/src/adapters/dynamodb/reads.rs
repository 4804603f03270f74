//! Reads by key: one message, and many items in batches.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::items::{message_from_item, message_key};
use super::{unavailable, DynamoDbClearingStore, Item};
use crate::clearing::ClearingMessage;
use crate::ports::StoreError;

impl DynamoDbClearingStore {
    pub(super) async fn message(&self, id: &str) -> Result<Option<ClearingMessage>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(message_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        resp.item().cloned().map(message_from_item).transpose()
    }

    /// A message a failed condition said is stored.
    pub(super) async fn existing(&self, id: &str) -> Result<ClearingMessage, StoreError> {
        self.message(id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("message {id} reported as existing but not found"))
        })
    }

    /// Messages for ids, in the order of `ids`.
    pub(super) async fn messages_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<ClearingMessage>, StoreError> {
        let keys = ids.iter().map(|id| message_key(id)).collect();
        let mut by_id: HashMap<String, ClearingMessage> = HashMap::new();
        // Strongly consistent: operators act on what they read (the index itself is eventually consistent).
        for item in self.batch_get(keys, true).await? {
            let m = message_from_item(item)?;
            by_id.insert(m.clearing_unique_id.clone(), m);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Items for many keys, 100 per call, retrying unprocessed keys.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(unavailable)?;
            for attempt in 0..8u32 {
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending.clone())
                    .set_return_consumed_capacity(self.metering.request())
                    .send()
                    .await
                    .map_err(unavailable)?;
                self.metering.reads(resp.consumed_capacity());
                if let Some(items) = resp.responses().and_then(|r| r.get(&self.table)) {
                    out.extend(items.iter().cloned());
                }
                match resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        pending = rest.clone();
                        tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(out)
    }
}
