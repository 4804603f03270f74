//! The clearing store on DynamoDB (single table; see ARCHITECTURE.md).
//!
//! Items:
//! - `CLR#<clearingUniqueId>` / `MESSAGE`: a clearing message, with its history inline
//!   and the index attributes of the five GSIs; its fields are not stored but
//!   read again from the raw payload with the history's adjustments.
//! - `AUTH#<transUid>` / `AUTHORIZATION`: an authorization; `claimed_by` once cleared.
//! - `AUTHREF#<network>#<reference>#<settlementDate>` / `ALIAS`: points to the transUid.
//! - `AUTHREJ#<digest>` / `REJECTED`: an authorization record that could not be read.
//! - `RECON#<requestId>` / `REQUEST`: an operator's reconciliation request.
//! - `META` / `INGEST_DAYS`: the set of days on which records arrived (for the cursor search).
//! - `ARRIVED#<day>` / `<received>#<nonce>`: the ids of one notification's records, in order
//!   (the cursor search walks these instead of a per-record index).
//! - `TXNDATE#<date>` / `<received>#<nonce>`: the ids of one notification's records with that
//!   transaction date, and one per adjusted date (the date searches walk these).

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use crate::clearing::fields::{parse_date, transaction_date};
use crate::clearing::{AuthorizationClaim, ClearingField, ClearingMessage, ClearingStatus};
use crate::ports::{
    Arrivals, AuthorizationSaved, ClearingSearch, ClearingStore, InsertOutcome, Page,
    ReconciliationRequest, StoreError,
};

type Item = HashMap<String, AttributeValue>;

pub const INDEX_BY_CARD: &str = "ByCard";
pub const INDEX_BY_OPEN_STATUS: &str = "ByOpenStatus";
pub const INDEX_BY_TRANS_UID: &str = "ByTransUid";

/// Searches over days walk at most this many days.
pub const MAX_SEARCH_DAYS: i64 = 366;

#[derive(Clone)]
pub struct DynamoDbClearingStore {
    client: Client,
    table: String,
    capacity: Option<std::sync::Arc<CapacityMeter>>,
}

/// Adds up the capacity units DynamoDB reports, for the capacity benchmark:
/// in all, and per target (the table, each index) so the figure says where it goes.
#[derive(Default, Debug)]
pub struct CapacityMeter {
    /// target -> (write units, read units); "table" is the base table.
    by_target: std::sync::Mutex<std::collections::BTreeMap<String, (f64, f64)>>,
}

impl CapacityMeter {
    fn record(&self, target: &str, write: f64, read: f64) {
        if let Ok(mut map) = self.by_target.lock() {
            let entry = map.entry(target.to_owned()).or_default();
            entry.0 += write;
            entry.1 += read;
        }
    }

    /// `is_write`: how to count a figure DynamoDB gives only as CapacityUnits.
    fn add_all(&self, consumed: &[aws_sdk_dynamodb::types::ConsumedCapacity], is_write: bool) {
        let units = |w: Option<f64>, r: Option<f64>, total: Option<f64>| {
            let (w, r) = (w.unwrap_or(0.0), r.unwrap_or(0.0));
            match (w == 0.0 && r == 0.0, is_write) {
                (true, true) => (total.unwrap_or(0.0), 0.0),
                (true, false) => (0.0, total.unwrap_or(0.0)),
                _ => (w, r),
            }
        };
        for c in consumed {
            let indexes = c.global_secondary_indexes().filter(|i| !i.is_empty());
            let (w, r) = match (c.table(), indexes) {
                // No breakdown in the response: all of it on the table.
                (None, None) => units(
                    c.write_capacity_units(),
                    c.read_capacity_units(),
                    c.capacity_units(),
                ),
                (table, _) => table.map_or((0.0, 0.0), |t| {
                    units(
                        t.write_capacity_units(),
                        t.read_capacity_units(),
                        t.capacity_units(),
                    )
                }),
            };
            self.record("table", w, r);
            for (name, cap) in indexes.into_iter().flatten() {
                let (w, r) = units(
                    cap.write_capacity_units(),
                    cap.read_capacity_units(),
                    cap.capacity_units(),
                );
                self.record(name, w, r);
            }
        }
    }

    /// (write units, read units) consumed so far.
    pub fn totals(&self) -> (f64, f64) {
        self.breakdown()
            .iter()
            .fold((0.0, 0.0), |(w, r), (_, (bw, br))| (w + bw, r + br))
    }

    /// (target, write units, read units) per target: "table", then each index by name.
    pub fn breakdown(&self) -> Vec<(String, (f64, f64))> {
        self.by_target
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn unavailable<E: std::fmt::Debug>(e: E) -> StoreError {
    StoreError::Unavailable(format!("{e:?}").chars().take(600).collect())
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub fn message_pk(id: &str) -> String {
    format!("CLR#{id}")
}
const MESSAGE_SK: &str = "MESSAGE";
const AUTH_SK: &str = "AUTHORIZATION";
const ALIAS_SK: &str = "ALIAS";
const ARRIVED_PREFIX: &str = "ARRIVED#";
const TXNDATE_PREFIX: &str = "TXNDATE#";

/// Where a search stopped: a manifest (its sort key) and an index in its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    sk: String,
    index: usize,
}

/// An authorization is claimed once, by one first presentment (`:id`).
const CLAIM_CONDITION: &str = "attribute_exists(pk) AND (attribute_not_exists(claimed_by) OR claimed_by = :id OR claimed_by = :null)";

/// Sortable timestamp, fixed width.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn message_item(m: &ClearingMessage) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(m).map_err(corrupt)?;
    // Derived again on read from the raw payload and the history's adjustments.
    item.remove("fields");
    let id = &m.clearing_unique_id;
    let received = stamp(m.received_at);
    item.insert("pk".into(), s(message_pk(id)));
    item.insert("sk".into(), s(MESSAGE_SK));
    item.insert("entity".into(), s("CLEARING_MESSAGE"));
    if let Some(card) = &m.card_hash {
        item.insert("card_key".into(), s(format!("{}#{card}", m.card_network)));
        item.insert(
            "card_sort".into(),
            s(format!("{}#{received}#{id}", m.status.as_str())),
        );
    }
    if m.status.is_open() {
        item.insert("open_status".into(), s(m.status.as_str()));
        item.insert("open_sort".into(), s(format!("{received}#{id}")));
    }
    if let Some(uid) = m.fields.get(&ClearingField::TransUid) {
        // Sparse: the message holding its authorization's claim is found by the
        // claim itself (`AUTH#uid.claimed_by`), which saves an index write on
        // most records. The transUid search reads both.
        if m.claimed_authorization() != Some(uid.as_str()) {
            item.insert("trans_uid".into(), s(uid.clone()));
        }
    }
    // The sort key of `ByTransUid`: a transUid's messages in arrival order.
    item.insert("ingest_sort".into(), s(format!("{received}#{id}")));
    Ok(item)
}

fn message_from_item(mut item: Item) -> Result<ClearingMessage, StoreError> {
    let derive = !item.contains_key("fields");
    if derive {
        item.insert("fields".into(), AttributeValue::M(HashMap::new()));
    }
    let mut m: ClearingMessage = serde_dynamo::from_item(item).map_err(corrupt)?;
    if derive {
        m.fields = ClearingMessage::fields_from_record(&m.raw_payload, &m.history)
            .map_err(|e| corrupt(format!("raw payload of {}: {e}", m.clearing_unique_id)))?;
    }
    Ok(m)
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn is_conditional_failure<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

fn cancellation_reasons<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<CancellationReason>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
            Some(t.cancellation_reasons().to_vec())
        }
        _ => None,
    }
}

fn failed_condition(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

impl DynamoDbClearingStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            capacity: None,
        }
    }

    /// Reports consumed capacity into `meter` (benchmarks).
    pub fn with_capacity_meter(mut self, meter: std::sync::Arc<CapacityMeter>) -> Self {
        self.capacity = Some(meter);
        self
    }

    fn rcc(&self) -> Option<ReturnConsumedCapacity> {
        self.capacity
            .as_ref()
            .map(|_| ReturnConsumedCapacity::Indexes)
    }

    fn meter_write(&self, c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) {
        if let (Some(m), Some(c)) = (&self.capacity, c) {
            m.add_all(std::slice::from_ref(c), true);
        }
    }

    /// Items for many keys, 100 per call, retrying unprocessed keys.
    async fn batch_get(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
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
                    .set_return_consumed_capacity(self.rcc())
                    .send()
                    .await
                    .map_err(unavailable)?;
                if let Some(m) = &self.capacity {
                    m.add_all(resp.consumed_capacity(), false);
                }
                if let Some(items) = resp.responses().and_then(|r| r.get(&self.table)) {
                    out.extend(items.iter().cloned());
                }
                match resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        pending = rest.clone();
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(6)))
                            .await;
                    }
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// Messages for ids, in the order of `ids`.
    async fn messages_by_id(&self, ids: &[String]) -> Result<Vec<ClearingMessage>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| key(message_pk(id), MESSAGE_SK))
            .collect();
        let mut by_id: HashMap<String, ClearingMessage> = HashMap::new();
        // Strongly consistent: operators act on what they read (the index itself is eventually consistent).
        for item in self.batch_get(keys, true).await? {
            let m = message_from_item(item)?;
            by_id.insert(m.clearing_unique_id.clone(), m);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

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
                .map_err(unavailable)?;
            for item in resp.items() {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    if let Some(id) = pk.strip_prefix("CLR#") {
                        ids.push(id.to_owned());
                    }
                }
            }
            let last = resp.last_evaluated_key().cloned();
            if ids.len() >= limit || last.is_none() {
                let more = ids.len() >= limit;
                return Ok((ids, if more { last } else { None }));
            }
            start = last;
        }
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
            INDEX_BY_OPEN_STATUS => &["open_status", "open_sort"],
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

    /// Walks the manifests under `pk` in order, from `start` (a manifest's sort
    /// key and the index of the first id to take), and returns the messages
    /// `keep` accepts with their positions, until `wanted` are found. A manifest
    /// lists what a notification was about to store, so each id is checked
    /// against its message (strongly consistent): missing, or not `keep`, is passed over.
    async fn walk_manifests(
        &self,
        pk: &str,
        start: Option<(&str, usize)>,
        wanted: usize,
        keep: &(dyn Fn(&str, &ClearingMessage) -> bool + Send + Sync),
        seen: &mut std::collections::HashSet<String>,
    ) -> Result<Vec<(ClearingMessage, Position)>, StoreError> {
        let mut out = Vec::new();
        let mut values: Item = HashMap::from([(":pk".to_string(), s(pk))]);
        let condition = match start {
            Some((sk, _)) => {
                values.insert(":from".into(), s(sk));
                "pk = :pk AND sk >= :from"
            }
            None => "pk = :pk",
        };
        let mut exclusive_start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(exclusive_start.take())
                .limit(50)
                .send()
                .await
                .map_err(unavailable)?;
            for item in resp.items() {
                let Some(AttributeValue::S(sk)) = item.get("sk") else {
                    continue;
                };
                let first = match start {
                    Some((from, index)) if from == sk => index,
                    _ => 0,
                };
                let candidates: Vec<(usize, String)> = match item.get("ids") {
                    Some(AttributeValue::L(ids)) => ids
                        .iter()
                        .enumerate()
                        .skip(first)
                        .filter_map(|(i, v)| v.as_s().ok().map(|id| (i, id.clone())))
                        .filter(|(_, id)| !seen.contains(id))
                        .collect(),
                    _ => Vec::new(),
                };
                for chunk in candidates.chunks(100) {
                    let ids: Vec<String> = chunk.iter().map(|(_, id)| id.clone()).collect();
                    let mut found: HashMap<String, ClearingMessage> = self
                        .messages_by_id(&ids)
                        .await?
                        .into_iter()
                        .map(|m| (m.clearing_unique_id.clone(), m))
                        .collect();
                    for (index, id) in chunk {
                        let Some(m) = found.remove(id) else { continue };
                        if !keep(sk, &m) || !seen.insert(id.clone()) {
                            continue;
                        }
                        out.push((
                            m,
                            Position {
                                sk: sk.clone(),
                                index: *index,
                            },
                        ));
                        if out.len() >= wanted {
                            return Ok(out);
                        }
                    }
                }
            }
            match resp.last_evaluated_key() {
                Some(k) => exclusive_start = Some(k.clone()),
                None => return Ok(out),
            }
        }
    }

    /// Puts a manifest: `ids` under `pk`, at the arrival stamp `received` (unique by `nonce`).
    fn manifest_item(
        pk: String,
        received: &str,
        nonce: &str,
        entity: &str,
        ids: &[String],
    ) -> Item {
        let mut item = key(pk, &format!("{received}#{nonce}"));
        item.insert("entity".into(), s(entity));
        item.insert(
            "ids".into(),
            AttributeValue::L(ids.iter().map(|id| s(id.clone())).collect()),
        );
        item
    }

    async fn put_item_metered(&self, item: Item) -> Result<(), StoreError> {
        let resp = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_return_consumed_capacity(self.rcc())
            .send()
            .await
            .map_err(unavailable)?;
        self.meter_write(resp.consumed_capacity());
        Ok(())
    }

    async fn ingest_days(&self) -> Result<Vec<String>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key("META".into(), "INGEST_DAYS")))
            .send()
            .await
            .map_err(unavailable)?;
        let mut days: Vec<String> = match resp.item().and_then(|i| i.get("days")) {
            Some(AttributeValue::Ss(days)) => days.clone(),
            _ => Vec::new(),
        };
        days.sort();
        Ok(days)
    }

    async fn note_ingest_day_impl(&self, day: NaiveDate) -> Result<(), StoreError> {
        let resp = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("META".into(), "INGEST_DAYS")))
            .update_expression("ADD days :d")
            .expression_attribute_values(":d", AttributeValue::Ss(vec![day.to_string()]))
            .set_return_consumed_capacity(self.rcc())
            .send()
            .await
            .map_err(unavailable)?;
        self.meter_write(resp.consumed_capacity());
        Ok(())
    }

    fn put_message(
        &self,
        m: &ClearingMessage,
        expected_version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(message_item(m)?));
        put = match expected_version {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(unavailable)?)
            .build())
    }

    /// The one definition of the claim write, used alone (ingest) and in a
    /// transaction (the worker).
    fn claim_write(&self, claim: &AuthorizationClaim) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("AUTH#{}", claim.trans_uid), AUTH_SK)))
            .update_expression("SET claimed_by = :id")
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_values(":id", s(claim.clearing_unique_id.clone()))
            .expression_attribute_values(":null", AttributeValue::Null(true))
            .build()
            .map_err(unavailable)
    }

    fn claim_update(&self, claim: &AuthorizationClaim) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .update(self.claim_write(claim)?)
            .build())
    }

    /// Takes the authorization for `claim`'s message (again, if it holds it already).
    async fn take_claim(&self, claim: &AuthorizationClaim) -> Result<(), StoreError> {
        let write = self.claim_write(claim)?;
        let result = self
            .client
            .update_item()
            .table_name(write.table_name())
            .set_key(Some(write.key().clone()))
            .update_expression(write.update_expression())
            .set_condition_expression(write.condition_expression().map(str::to_owned))
            .set_expression_attribute_values(write.expression_attribute_values().cloned())
            .set_return_consumed_capacity(self.rcc())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter_write(out.consumed_capacity());
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => {
                Err(StoreError::ClaimLost(claim.trans_uid.clone()))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Gives back a claim taken for a message that turned out to be stored
    /// already and unmatched, unless that message has been matched meanwhile
    /// (the worker, reprocessing it, takes the same claim).
    async fn release_claim(&self, claim: &AuthorizationClaim) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::ConditionCheck;
        let still_unmatched = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(message_pk(&claim.clearing_unique_id), MESSAGE_SK)))
            .condition_expression("attribute_exists(pk) AND #status <> :matched")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":matched", s(ClearingStatus::Matched.as_str()))
            .build()
            .map_err(unavailable)?;
        let release = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("AUTH#{}", claim.trans_uid), AUTH_SK)))
            .update_expression("REMOVE claimed_by")
            .condition_expression("claimed_by = :id")
            .expression_attribute_values(":id", s(claim.clearing_unique_id.clone()))
            .build()
            .map_err(unavailable)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(still_unmatched)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(release).build())
            .set_return_consumed_capacity(self.rcc())
            .send()
            .await;
        match result {
            Ok(out) => {
                if let Some(m) = &self.capacity {
                    m.add_all(out.consumed_capacity(), true);
                }
                Ok(())
            }
            // Matched meanwhile, or the claim is not this message's: nothing to give back.
            Err(e)
                if cancellation_reasons(&e)
                    .is_some_and(|r| failed_condition(&r, 0) || failed_condition(&r, 1)) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Stores a message that is new, or returns the one stored under its id.
    async fn put_new_message(
        &self,
        message: &ClearingMessage,
    ) -> Result<InsertOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(message_item(message)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .set_return_consumed_capacity(self.rcc())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter_write(out.consumed_capacity());
                Ok(InsertOutcome::Inserted)
            }
            Err(e) => match e.as_service_error() {
                Some(se) if is_conditional_failure(se) => {
                    use aws_sdk_dynamodb::operation::put_item::PutItemError;
                    let old = match se {
                        PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                        _ => None,
                    };
                    let existing = match old {
                        Some(item) => message_from_item(item)?,
                        None => self.existing(&message.clearing_unique_id).await?,
                    };
                    Ok(InsertOutcome::AlreadyStored(Box::new(existing)))
                }
                _ => Err(unavailable(e)),
            },
        }
    }

    async fn existing(&self, id: &str) -> Result<ClearingMessage, StoreError> {
        self.message(id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("message {id} reported as existing but not found"))
        })
    }
}

fn encode_key(k: &Item) -> String {
    let map: std::collections::BTreeMap<&str, &str> = k
        .iter()
        .filter_map(|(name, v)| v.as_s().ok().map(|s| (name.as_str(), s.as_str())))
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&map).unwrap_or_default())
}

fn decode_key(cursor: &str) -> Result<Item, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor("cursor is not one this API returned".into()))?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes)
        .map_err(|_| StoreError::InvalidCursor("cursor is not one this API returned".into()))?;
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[async_trait]
impl ClearingStore for DynamoDbClearingStore {
    async fn authorizations(
        &self,
        keys: &[AuthorizationKey],
    ) -> Result<HashMap<AuthorizationKey, Authorization>, StoreError> {
        let unique: BTreeSet<&AuthorizationKey> = keys.iter().collect();
        // Reference aliases first resolve to their transUid.
        let mut by_uid: HashMap<String, Vec<AuthorizationKey>> = HashMap::new();
        let mut alias_keys = Vec::new();
        for k in &unique {
            match k {
                AuthorizationKey::TransUid(uid) => {
                    by_uid.entry(uid.clone()).or_default().push((*k).clone())
                }
                AuthorizationKey::Reference { .. } => {
                    alias_keys.push(key(k.partition_key(), ALIAS_SK))
                }
            }
        }
        if !alias_keys.is_empty() {
            for item in self.batch_get(alias_keys, false).await? {
                let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(uid))) =
                    (item.get("pk"), item.get("trans_uid"))
                else {
                    continue;
                };
                if let Some(k) = unique.iter().find(|k| &k.partition_key() == pk) {
                    by_uid.entry(uid.clone()).or_default().push((*k).clone());
                }
            }
        }
        let auth_keys = by_uid
            .keys()
            .map(|uid| key(format!("AUTH#{uid}"), AUTH_SK))
            .collect();
        let mut out = HashMap::new();
        for item in self.batch_get(auth_keys, false).await? {
            let auth: Authorization = serde_dynamo::from_item(item).map_err(corrupt)?;
            for k in by_uid.get(&auth.trans_uid).into_iter().flatten() {
                out.insert(k.clone(), auth.clone());
            }
        }
        Ok(out)
    }

    async fn save_authorization(
        &self,
        auth: &Authorization,
    ) -> Result<AuthorizationSaved, StoreError> {
        let mut item: Item = serde_dynamo::to_item(auth).map_err(corrupt)?;
        item.insert("pk".into(), s(format!("AUTH#{}", auth.trans_uid)));
        item.insert("sk".into(), s(AUTH_SK));
        item.insert("entity".into(), s("AUTHORIZATION"));
        item.remove("claimed_by");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        let saved = match result {
            Ok(_) => AuthorizationSaved::Inserted,
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => {
                AuthorizationSaved::AlreadyStored
            }
            Err(e) => return Err(unavailable(e)),
        };
        for k in auth.keys().into_iter().skip(1) {
            let mut alias = key(k.partition_key(), ALIAS_SK);
            alias.insert("trans_uid".into(), s(auth.trans_uid.clone()));
            alias.insert("entity".into(), s("AUTHORIZATION_ALIAS"));
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(alias))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(saved)
    }

    async fn save_rejected_authorization(
        &self,
        rejected: &RejectedAuthorization,
    ) -> Result<(), StoreError> {
        let digest = hex::encode(Sha256::digest(rejected.raw_payload.as_bytes()));
        let mut item = key(format!("AUTHREJ#{}", &digest[..32]), "REJECTED");
        item.insert("entity".into(), s("REJECTED_AUTHORIZATION"));
        item.insert("problem".into(), s(rejected.problem.clone()));
        item.insert("raw_payload".into(), s(rejected.raw_payload.clone()));
        item.insert("received_at".into(), s(stamp(Utc::now())));
        if let Some(uid) = &rejected.trans_uid {
            item.insert("trans_uid_given".into(), s(uid.clone()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// A matched first presentment takes its authorization's claim first and
    /// is stored second: two single-item conditional writes rather than one
    /// transaction, which DynamoDB charges twice (on AWS and DynamoDB Local
    /// alike). The order is what keeps it safe: a claim is never missing under
    /// a stored MATCHED message. A claim whose message is not stored (a failure
    /// in between) belongs to a record that was not acknowledged, so the
    /// network sends it again and the same id takes the same claim; a
    /// presentment of the same authorization meanwhile is its duplicate.
    async fn insert_message(
        &self,
        message: &ClearingMessage,
        claim: Option<&AuthorizationClaim>,
    ) -> Result<InsertOutcome, StoreError> {
        let Some(claim) = claim else {
            return self.put_new_message(message).await;
        };
        // Held already (a redelivery): writing it again would be a write for
        // nothing. Safe at ingest, not in the worker's transaction: a claim is
        // given back only while its message is stored unmatched, and then this
        // put finds that message and stores nothing.
        if !claim.already_held {
            self.take_claim(claim).await?;
        }
        let outcome = self.put_new_message(message).await?;
        if let InsertOutcome::AlreadyStored(existing) = &outcome {
            // Stored by an earlier delivery, before its authorization arrived:
            // it did not match then and is not moved now, so it holds no claim.
            if existing.status != ClearingStatus::Matched {
                self.release_claim(claim).await?;
            }
        }
        Ok(outcome)
    }

    async fn update_messages(
        &self,
        updates: &[(ClearingMessage, u64)],
        claim: Option<&AuthorizationClaim>,
        request: Option<&ReconciliationRequest>,
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(updates.len() + 2);
        for (m, expected) in updates {
            items.push(self.put_message(m, Some(*expected))?);
        }
        if let Some(c) = claim {
            items.push(self.claim_update(c)?);
        }
        if let Some(r) = request {
            let mut item: Item = serde_dynamo::to_item(r).map_err(corrupt)?;
            item.insert("pk".into(), s(format!("RECON#{}", r.request_id)));
            item.insert("sk".into(), s("REQUEST"));
            item.insert("entity".into(), s("RECONCILIATION_REQUEST"));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(unavailable)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // (Last: a failed condition is identified by its place among the messages and the claim.)
        // An adjusted transaction date: the date searches must find the record
        // under its new date too (its old date's manifest is passed over).
        for (m, _) in updates {
            let adjusted_date = m.history.last().is_some_and(|t| {
                t.changes
                    .iter()
                    .any(|c| c.field == ClearingField::TransactionLocalDate)
            });
            if let (true, Some(date)) = (adjusted_date, transaction_date(&m.fields)) {
                let nonce = &uuid::Uuid::new_v4().simple().to_string()[..8];
                let manifest = Self::manifest_item(
                    format!("{TXNDATE_PREFIX}{date}"),
                    &stamp(m.updated_at),
                    nonce,
                    "TRANSACTION_DATE",
                    std::slice::from_ref(&m.clearing_unique_id),
                );
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(manifest))
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_return_consumed_capacity(self.rcc())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_reasons(&e) {
                Some(reasons) => {
                    if let Some(i) = (0..updates.len()).find(|i| failed_condition(&reasons, *i)) {
                        return Err(StoreError::VersionConflict(
                            updates[i].0.clearing_unique_id.clone(),
                        ));
                    }
                    match claim {
                        Some(c) if failed_condition(&reasons, updates.len()) => {
                            Err(StoreError::ClaimLost(c.trans_uid.clone()))
                        }
                        _ => Err(unavailable(e)),
                    }
                }
                None => Err(unavailable(e)),
            },
        }
    }

    async fn note_arrivals(&self, arrivals: &Arrivals) -> Result<(), StoreError> {
        let day = arrivals.received_at.date_naive();
        let received = stamp(arrivals.received_at);
        let nonce = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let mut puts = vec![Self::manifest_item(
            format!("{ARRIVED_PREFIX}{day}"),
            &received,
            nonce,
            "ARRIVALS",
            &arrivals.clearing_unique_ids,
        )];
        for (date, ids) in &arrivals.by_transaction_date {
            puts.push(Self::manifest_item(
                format!("{TXNDATE_PREFIX}{date}"),
                &received,
                nonce,
                "TRANSACTION_DATE",
                ids,
            ));
        }
        futures::future::try_join_all(puts.into_iter().map(|item| self.put_item_metered(item)))
            .await?;
        self.note_ingest_day_impl(day).await
    }

    async fn message(&self, id: &str) -> Result<Option<ClearingMessage>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(message_pk(id), MESSAGE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        resp.item().cloned().map(message_from_item).transpose()
    }

    async fn messages_for_card(
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

    async fn open_messages(
        &self,
        status: ClearingStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let values = HashMap::from([(":s".to_string(), s(status.as_str()))]);
        self.page(
            INDEX_BY_OPEN_STATUS,
            "open_status = :s",
            values,
            limit,
            cursor,
        )
        .await
    }

    async fn search(
        &self,
        search: &ClearingSearch,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let wanted = offset + limit;
        match search {
            ClearingSearch::TransUid(uid) => {
                // The claimer first (kept out of the index), then the rest.
                let claimer = self.claimer_with_trans_uid(uid).await?;
                let values = HashMap::from([(":u".to_string(), s(uid.clone()))]);
                let (ids, _) = self
                    .query_ids(INDEX_BY_TRANS_UID, "trans_uid = :u", values, wanted, None)
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
            ClearingSearch::DateRange { start, end } => {
                self.search_days(*start, *end, offset, limit).await
            }
            ClearingSearch::AfterDate(after) => {
                let start = after.succ_opt().unwrap_or(*after);
                self.search_days(start, Utc::now().date_naive(), offset, limit)
                    .await
            }
            ClearingSearch::Cursor(cursor) => {
                let from = parse_clearing_cursor(cursor)?;
                let days = self.ingest_days().await?;
                // A message belongs to the arrival its received_at names; other
                // deliveries that listed it are passed over.
                let keep = |sk: &str, m: &ClearingMessage| {
                    sk.split('#').next() == Some(stamp(m.received_at).as_str())
                };
                let mut found: Vec<(ClearingMessage, String, Position)> = Vec::new();
                for d in days.iter().filter(|d| {
                    from.as_ref()
                        .is_none_or(|(day, _)| d.as_str() >= day.as_str())
                }) {
                    let start = match &from {
                        Some((day, p)) if day == d => {
                            Some((p.sk.as_str(), p.index.saturating_add(1)))
                        }
                        _ => None,
                    };
                    let got = self
                        .walk_manifests(
                            &format!("{ARRIVED_PREFIX}{d}"),
                            start,
                            wanted - found.len(),
                            &keep,
                            &mut Default::default(),
                        )
                        .await?;
                    found.extend(got.into_iter().map(|(m, p)| (m, d.clone(), p)));
                    if found.len() >= wanted {
                        break;
                    }
                }
                let next = match found.last() {
                    Some((_, day, p)) => format_clearing_cursor(day, p),
                    None => cursor.clone(),
                };
                Ok(Page {
                    items: found.into_iter().skip(offset).map(|(m, _, _)| m).collect(),
                    next_cursor: Some(next),
                })
            }
        }
    }
}

impl DynamoDbClearingStore {
    /// The message holding the claim of authorization `uid`, if it carries that transUid itself.
    async fn claimer_with_trans_uid(
        &self,
        uid: &str,
    ) -> Result<Option<ClearingMessage>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("AUTH#{uid}"), AUTH_SK)))
            .projection_expression("claimed_by")
            .send()
            .await
            .map_err(unavailable)?;
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

    async fn search_days(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let wanted = offset + limit;
        let mut found = Vec::new();
        // Redeliveries list a record again: the first listing counts.
        let mut seen = std::collections::HashSet::new();
        let mut day = start;
        while day <= end && found.len() < wanted {
            // An adjusted date leaves the record in its old date's manifest too.
            let keep = move |_: &str, m: &ClearingMessage| transaction_date(&m.fields) == Some(day);
            let got = self
                .walk_manifests(
                    &format!("{TXNDATE_PREFIX}{day}"),
                    None,
                    wanted - found.len(),
                    &keep,
                    &mut seen,
                )
                .await?;
            found.extend(got.into_iter().map(|(m, _)| m));
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(Page {
            items: found.into_iter().skip(offset).take(limit).collect(),
            next_cursor: None,
        })
    }
}

/// `"0"` starts at the oldest record; other cursors are opaque positions this
/// API returned: a day, a manifest of that day and an index in it.
fn parse_clearing_cursor(cursor: &str) -> Result<Option<(String, Position)>, StoreError> {
    if cursor == "0" {
        return Ok(None);
    }
    let bad = || StoreError::InvalidCursor("cursor is not one this API returned".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let (Some(day), Some(sk), Some(index)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    parse_date(day).map_err(|_| bad())?;
    let index = index.parse().map_err(|_| bad())?;
    Ok(Some((
        day.to_owned(),
        Position {
            sk: sk.to_owned(),
            index,
        },
    )))
}

fn format_clearing_cursor(day: &str, p: &Position) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{day}|{}|{}", p.sk, p.index))
}

const PIX_SK: &str = "STATE";

#[async_trait]
impl crate::ports::PixStore for DynamoDbClearingStore {
    async fn pix_state(
        &self,
        e2e: &str,
    ) -> Result<Option<crate::ports::StoredPixState>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("PIX#{e2e}"), PIX_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = resp.item() else {
            return Ok(None);
        };
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
        Ok(Some(crate::ports::StoredPixState {
            state: serde_json::from_str(state_json).map_err(corrupt)?,
            version,
            published,
        }))
    }

    async fn save_pix_state(
        &self,
        state: &crate::pix::PixReconciliation,
        expected_version: u64,
        published: bool,
    ) -> Result<(), StoreError> {
        let mut item = key(format!("PIX#{}", state.end_to_end_id), PIX_SK);
        item.insert("entity".into(), s("PIX_RECONCILIATION"));
        // The state as JSON text: its amounts are decimal strings, kept exactly.
        item.insert(
            "state_json".into(),
            s(serde_json::to_string(state).map_err(corrupt)?),
        );
        item.insert(
            "version".into(),
            AttributeValue::N((expected_version + 1).to_string()),
        );
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
        let mut item = key(format!("PIXDAY#{date}"), "CLOSED");
        item.insert("entity".into(), s("PIX_REPORT_DAY_CLOSED"));
        item.insert("closed_at".into(), s(stamp(Utc::now())));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn pix_day_closed(&self, date: NaiveDate) -> Result<bool, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("PIXDAY#{date}"), "CLOSED")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(resp.item().is_some())
    }

    async fn open_pix_ids(&self, date: NaiveDate) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_OPEN_STATUS)
                .key_condition_expression("open_status = :s")
                .expression_attribute_values(":s", s(format!("PIX_OPEN#{date}")))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in resp.items() {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    if let Some(id) = pk.strip_prefix("PIX#") {
                        ids.push(id.to_owned());
                    }
                }
            }
            match resp.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok(ids),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let p = Position {
            sk: "2024-04-26T10:00:00.000000Z#ab12cd34".into(),
            index: 7,
        };
        let c = format_clearing_cursor("2024-04-26", &p);
        assert_eq!(
            parse_clearing_cursor(&c).unwrap(),
            Some(("2024-04-26".into(), p))
        );
        assert_eq!(parse_clearing_cursor("0").unwrap(), None);
        assert!(parse_clearing_cursor("not-a-cursor!").is_err());
        let old_form = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode("2024-04-26|2024-04-26T10:00:00.000000Z#X");
        assert!(parse_clearing_cursor(&old_form).is_err());
        // A forged index is a position past every manifest, not an overflow.
        let far = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("2024-04-26|x|{}", usize::MAX));
        assert_eq!(
            parse_clearing_cursor(&far).unwrap().unwrap().1.index,
            usize::MAX
        );
        let k: Item = HashMap::from([("pk".to_string(), s("CLR#1"))]);
        assert_eq!(decode_key(&encode_key(&k)).unwrap(), k);
        assert!(decode_key("%%%").is_err());
    }
}
