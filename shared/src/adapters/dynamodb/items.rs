//! Item mapping: keys, stamps, and the message item ↔ `ClearingMessage`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{corrupt, Item};
use crate::clearing::{ClearingField, ClearingMessage};
use crate::ports::StoreError;

pub(super) const MESSAGE_SK: &str = "MESSAGE";
pub(super) const AUTH_SK: &str = "AUTHORIZATION";

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub fn message_pk(id: &str) -> String {
    format!("CLR#{id}")
}

/// The key of a message item.
pub(super) fn message_key(id: &str) -> Item {
    key(message_pk(id), MESSAGE_SK)
}

pub(super) fn authorization_pk(trans_uid: &str) -> String {
    format!("AUTH#{trans_uid}")
}

/// The key of an authorization item (which holds its claim).
pub(super) fn authorization_key(trans_uid: &str) -> Item {
    key(authorization_pk(trans_uid), AUTH_SK)
}

/// Sortable timestamp, fixed width.
pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn message_item(m: &ClearingMessage) -> Result<Item, StoreError> {
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
    super::console::insert_list_attributes(&mut item, m, &received);
    Ok(item)
}

pub(super) fn message_from_item(mut item: Item) -> Result<ClearingMessage, StoreError> {
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

/// The ids in index entries whose `pk` starts with `prefix` (`CLR#`, `PIX#`).
pub(super) fn ids_with_prefix<'a>(
    items: &'a [Item],
    prefix: &'a str,
) -> impl Iterator<Item = String> + 'a {
    items.iter().filter_map(move |item| match item.get("pk") {
        Some(AttributeValue::S(pk)) => pk.strip_prefix(prefix).map(str::to_owned),
        _ => None,
    })
}
