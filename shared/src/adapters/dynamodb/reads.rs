//! Reads by key: one message, and many items in batches.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;

use super::items::{message_from_item, message_key};
use super::{sdk_error, unavailable, DynamoDbClearingStore, Item};
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
            .map_err(sdk_error)?;
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

    /// Items for many keys, 100 per call. Keys DynamoDB leaves unprocessed
    /// (throttling) are asked for again with backoff; still unprocessed after
    /// that, the read fails as unavailable: an item not read is never "not found".
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(unavailable)?;
            let fetch = |pending: KeysAndAttributes| async move {
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .set_return_consumed_capacity(self.metering.request())
                    .send()
                    .await
                    .map_err(sdk_error)?;
                self.metering.reads(resp.consumed_capacity());
                let items = resp
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                let rest = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .cloned();
                Ok((items, rest))
            };
            out.extend(read_until_processed(request, BATCH_GET_BACKOFF, fetch).await?);
        }
        Ok(out)
    }
}

/// How many times one batch is asked for, and the first wait between asks (doubling).
const BATCH_GET_ATTEMPTS: u32 = 8;
const BATCH_GET_BACKOFF: Duration = Duration::from_millis(20);

/// What one BatchGetItem call returned: the items, and the keys left unprocessed.
type BatchAnswer = (Vec<Item>, Option<KeysAndAttributes>);

/// Asks `fetch` for `keys`, then for what it left unprocessed, until nothing
/// is left; keys still unprocessed after the last attempt are an error.
async fn read_until_processed<F, Fut>(
    keys: KeysAndAttributes,
    backoff: Duration,
    mut fetch: F,
) -> Result<Vec<Item>, StoreError>
where
    F: FnMut(KeysAndAttributes) -> Fut,
    Fut: std::future::Future<Output = Result<BatchAnswer, StoreError>>,
{
    let mut out = Vec::new();
    let mut pending = keys;
    for attempt in 0..BATCH_GET_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(backoff * (1 << (attempt - 1).min(6))).await;
        }
        let (items, rest) = fetch(pending).await?;
        out.extend(items);
        match rest {
            Some(rest) if !rest.keys().is_empty() => pending = rest,
            _ => return Ok(out),
        }
    }
    Err(StoreError::Unavailable(format!(
        "{} keys still unprocessed after {BATCH_GET_ATTEMPTS} batch reads",
        pending.keys().len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn keys(ids: &[&str]) -> KeysAndAttributes {
        let keys = ids
            .iter()
            .map(|id| HashMap::from([("pk".to_string(), AttributeValue::S(id.to_string()))]))
            .collect();
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn keys_left_unprocessed_are_asked_for_again() {
        let calls = AtomicU32::new(0);
        let got = read_until_processed(keys(&["A", "B"]), Duration::ZERO, |k| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut keys = k.keys().to_vec();
                // The first call answers one key and leaves the other.
                let rest = if call == 0 {
                    let rest = keys.split_off(1);
                    Some(
                        KeysAndAttributes::builder()
                            .set_keys(Some(rest))
                            .build()
                            .unwrap(),
                    )
                } else {
                    None
                };
                Ok((keys, rest))
            }
        })
        .await
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn keys_never_processed_are_an_error_not_absent() {
        let calls = AtomicU32::new(0);
        let e = read_until_processed(keys(&["A", "B"]), Duration::ZERO, |k| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok((Vec::new(), Some(k))) }
        })
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        assert!(e.to_string().contains("2 keys still unprocessed"), "{e}");
        assert_eq!(calls.load(Ordering::SeqCst), BATCH_GET_ATTEMPTS);
    }
}
