//! The expiry sweep's index, `ByExpiry` (sparse, keys only): an authorization
//! that still awaits its expiry (approved, with a window, not cleared in full)
//! carries `expiry_pk` = `EXP#<sweep day>#<shard>` and `expiry_sk` =
//! `<expires_at>#<transUid>`; it loses them when it is expired, reversed, or
//! found cleared in full by the sweep. The sweep queries a bounded number of
//! days and shards, never the table. Shards spread one day's writes over
//! several index partitions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Days, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::items::{ids_with_prefix, s, stamp};
use super::{sdk_error, DynamoDbClearingStore, Item};
use crate::authorization::Authorization;
use crate::ports::StoreError;

pub const INDEX_BY_EXPIRY: &str = "ByExpiry";
pub(super) const EXPIRY_PK: &str = "expiry_pk";
pub(super) const EXPIRY_SK: &str = "expiry_sk";

/// Index partitions per sweep day.
const SHARDS: u8 = 4;

fn shard(trans_uid: &str) -> u8 {
    Sha256::digest(trans_uid.as_bytes())[0] % SHARDS
}

fn partition(day: NaiveDate, shard: u8) -> String {
    format!("EXP#{day}#{shard}")
}

/// The index attributes of an authorization that awaits its expiry, else none.
pub(super) fn expiry_attributes(auth: &Authorization) -> Option<[(&'static str, String); 2]> {
    let terms = auth.expiry.as_ref().filter(|_| auth.awaits_expiry())?;
    Some([
        (EXPIRY_PK, partition(terms.sweep_on, shard(&auth.trans_uid))),
        (
            EXPIRY_SK,
            format!("{}#{}", stamp(terms.expires_at), auth.trans_uid),
        ),
    ])
}

impl DynamoDbClearingStore {
    /// Up to `limit` transUids whose expiry is at or before `due_by`, from
    /// the sweep days `since..=due_by`'s day, oldest day first.
    pub(super) async fn due_authorizations(
        &self,
        due_by: DateTime<Utc>,
        since: NaiveDate,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        // Every key of an instant sorts before `<stamp>$` ('$' follows '#').
        let bound = format!("{}$", stamp(due_by));
        let mut out = Vec::new();
        let mut day = since;
        while day <= due_by.date_naive() && out.len() < limit {
            for shard in 0..SHARDS {
                self.due_in(&partition(day, shard), &bound, limit, &mut out)
                    .await?;
            }
            day = match day.checked_add_days(Days::new(1)) {
                Some(next) => next,
                None => break,
            };
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn due_in(
        &self,
        partition: &str,
        bound: &str,
        limit: usize,
        out: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let mut start: Option<Item> = None;
        while out.len() < limit {
            let values = HashMap::from([
                (":p".to_string(), s(partition)),
                (":b".to_string(), s(bound)),
            ]);
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_EXPIRY)
                .key_condition_expression("#p = :p AND #s < :b")
                .expression_attribute_names("#p", EXPIRY_PK)
                .expression_attribute_names("#s", EXPIRY_SK)
                .set_expression_attribute_values(Some(values))
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            out.extend(ids_with_prefix(resp.items(), "AUTH#"));
            match resp.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(())
    }
}

/// The index attributes for a put of the whole item.
pub(super) fn insert_expiry_attributes(item: &mut Item, auth: &Authorization) {
    for (name, value) in expiry_attributes(auth).into_iter().flatten() {
        item.insert(name.into(), AttributeValue::S(value));
    }
}
