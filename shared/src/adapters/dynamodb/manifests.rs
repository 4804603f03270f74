//! Manifests: one item per notification listing its records' ids, by arrival
//! day (`ARRIVED#`) and by transaction date (`TXNDATE#`), and the days with
//! arrivals (`META`). The cursor search walks the arrivals, the date searches
//! the dates; a manifest is written before its records, so each id listed is
//! checked against its message.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;

use super::cursors::{format_clearing_cursor, parse_clearing_cursor, Position};
use super::items::{key, s, stamp};
use super::{unavailable, DynamoDbClearingStore, Item};
use crate::clearing::fields::transaction_date;
use crate::clearing::ClearingMessage;
use crate::ports::{Arrivals, Page, StoreError};

const ARRIVED_PREFIX: &str = "ARRIVED#";
const TXNDATE_PREFIX: &str = "TXNDATE#";

/// Whether a walk keeps a message listed in the manifest with this sort key.
type Keep<'a> = &'a (dyn Fn(&str, &ClearingMessage) -> bool + Send + Sync);

/// A manifest: `ids` under `pk`, at the arrival stamp `received` (unique by `nonce`).
fn manifest_item(pk: String, received: &str, nonce: &str, entity: &str, ids: &[String]) -> Item {
    let mut item = key(pk, &format!("{received}#{nonce}"));
    item.insert("entity".into(), s(entity));
    item.insert(
        "ids".into(),
        AttributeValue::L(ids.iter().map(|id| s(id.clone())).collect()),
    );
    item
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// The manifest that lists `m` under its transaction date, when an update
/// adjusts that date (its old date's manifest then passes it over).
pub(super) fn adjusted_date_manifest(m: &ClearingMessage) -> Option<Item> {
    let date = transaction_date(&m.fields)?;
    Some(manifest_item(
        format!("{TXNDATE_PREFIX}{date}"),
        &stamp(m.updated_at),
        &nonce(),
        "TRANSACTION_DATE",
        std::slice::from_ref(&m.clearing_unique_id),
    ))
}

impl DynamoDbClearingStore {
    pub(super) async fn note_arrivals(&self, arrivals: &Arrivals) -> Result<(), StoreError> {
        let day = arrivals.received_at.date_naive();
        let received = stamp(arrivals.received_at);
        let nonce = nonce();
        let mut puts = vec![manifest_item(
            format!("{ARRIVED_PREFIX}{day}"),
            &received,
            &nonce,
            "ARRIVALS",
            &arrivals.clearing_unique_ids,
        )];
        for (date, ids) in &arrivals.by_transaction_date {
            puts.push(manifest_item(
                format!("{TXNDATE_PREFIX}{date}"),
                &received,
                &nonce,
                "TRANSACTION_DATE",
                ids,
            ));
        }
        futures::future::try_join_all(puts.into_iter().map(|item| self.put(item))).await?;
        self.note_ingest_day(day).await
    }

    async fn note_ingest_day(&self, day: NaiveDate) -> Result<(), StoreError> {
        let resp = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key("META".into(), "INGEST_DAYS")))
            .update_expression("ADD days :d")
            .expression_attribute_values(":d", AttributeValue::Ss(vec![day.to_string()]))
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await
            .map_err(unavailable)?;
        self.metering.write(resp.consumed_capacity());
        Ok(())
    }

    /// The days with arrivals, oldest first.
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

    /// Every id the arrival manifests of `day` list, each once.
    pub(super) async fn arrived_ids(&self, day: NaiveDate) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("{ARRIVED_PREFIX}{day}")))
            .into_paginator()
            .items()
            .send();
        let (mut ids, mut seen) = (Vec::new(), HashSet::new());
        while let Some(item) = pages.try_next().await.map_err(unavailable)? {
            for (_, id) in unseen_ids(&item, 0, &seen) {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// Search by transaction date, `start` to `end` inclusive.
    pub(super) async fn search_days(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let wanted = offset + limit;
        let mut found = Vec::new();
        // Redeliveries list a record again: the first listing counts.
        let mut seen = HashSet::new();
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

    /// Search by arrival from `cursor`, handing back the cursor to go on from.
    pub(super) async fn search_arrivals(
        &self,
        cursor: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let wanted = offset + limit;
        let from = parse_clearing_cursor(cursor)?;
        let days = self.ingest_days().await?;
        // A message belongs to the arrival its received_at names; other
        // deliveries that listed it are passed over.
        let keep = |sk: &str, m: &ClearingMessage| {
            sk.split('#').next() == Some(stamp(m.received_at).as_str())
        };
        let mut found: Vec<(ClearingMessage, String, Position)> = Vec::new();
        let after_cursor = |d: &&String| {
            from.as_ref()
                .is_none_or(|(day, _)| d.as_str() >= day.as_str())
        };
        for d in days.iter().filter(after_cursor) {
            let start = match &from {
                Some((day, p)) if day == d => Some((p.sk.as_str(), p.index.saturating_add(1))),
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
            None => cursor.to_owned(),
        };
        Ok(Page {
            items: found.into_iter().skip(offset).map(|(m, _, _)| m).collect(),
            next_cursor: Some(next),
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
        keep: Keep<'_>,
        seen: &mut HashSet<String>,
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
        // Pages of 50 manifests; the paginator asks for the next page only once
        // this one is used up, so a walk that has its `wanted` reads no further.
        let mut manifests = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .into_paginator()
            .page_size(50)
            .items()
            .send();
        while let Some(item) = manifests.try_next().await.map_err(unavailable)? {
            let Some(AttributeValue::S(sk)) = item.get("sk") else {
                continue;
            };
            let first = match start {
                Some((from, index)) if from == sk => index,
                _ => 0,
            };
            let candidates = unseen_ids(&item, first, seen);
            if self
                .take_listed(sk, &candidates, wanted, keep, seen, &mut out)
                .await?
            {
                break;
            }
        }
        Ok(out)
    }

    /// Adds to `out` the messages of one manifest's `candidates` that are
    /// stored and kept, in order; true once that makes `out` hold `wanted`.
    async fn take_listed(
        &self,
        sk: &str,
        candidates: &[(usize, String)],
        wanted: usize,
        keep: Keep<'_>,
        seen: &mut HashSet<String>,
        out: &mut Vec<(ClearingMessage, Position)>,
    ) -> Result<bool, StoreError> {
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
                let sk = sk.to_owned();
                out.push((m, Position { sk, index: *index }));
                if out.len() >= wanted {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// A manifest's ids from index `first` on, with their indexes, less those seen.
fn unseen_ids(manifest: &Item, first: usize, seen: &HashSet<String>) -> Vec<(usize, String)> {
    match manifest.get("ids") {
        Some(AttributeValue::L(ids)) => ids
            .iter()
            .enumerate()
            .skip(first)
            .filter_map(|(i, v)| v.as_s().ok().map(|id| (i, id.clone())))
            .filter(|(_, id)| !seen.contains(id))
            .collect(),
        _ => Vec::new(),
    }
}
