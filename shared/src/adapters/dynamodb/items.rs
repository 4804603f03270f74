//! Item mapping: keys, stamps, and the message item ↔ `ClearingMessage`.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{corrupt, Item};
use crate::clearing::validate::key_value;
use crate::clearing::{ClearingField, ClearingMessage};
use crate::outbox::OutboxEntry;
use crate::packed::PACKED_ATTRIBUTE;
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

/// What a message item packs: the message (less its fields, derived again on
/// read from the raw payload and the history's adjustments) and the outbox
/// of the change that wrote it.
#[derive(serde::Serialize, serde::Deserialize)]
struct PackedMessage {
    message: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outbox: Vec<OutboxEntry>,
}

/// The message item: its key, the attributes the indexes, the conditions and
/// the console's list rows read, and the rest packed in one binary attribute
/// (`crate::packed`) with the outbox of the change that writes it.
pub(super) fn message_item(
    m: &ClearingMessage,
    outbox: &[OutboxEntry],
) -> Result<Item, StoreError> {
    let mut message = serde_json::to_value(m).map_err(corrupt)?;
    if let Some(object) = message.as_object_mut() {
        object.remove("fields");
    }
    let packed = PackedMessage {
        message,
        outbox: outbox.to_vec(),
    };
    let packed = crate::packed::pack(&packed).map_err(corrupt)?;
    let id = &m.clearing_unique_id;
    let received = stamp(m.received_at);
    let mut item = key(message_pk(id), MESSAGE_SK);
    item.insert(
        PACKED_ATTRIBUTE.into(),
        AttributeValue::B(Blob::new(packed)),
    );
    item.insert("entity".into(), s("CLEARING_MESSAGE"));
    item.insert("clearing_unique_id".into(), s(id.clone()));
    item.insert("card_network".into(), s(m.card_network.clone()));
    item.insert("status".into(), s(m.status.as_str()));
    item.insert("version".into(), AttributeValue::N(m.version.to_string()));
    // RFC 3339 as serde writes them: the list rows read these two.
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    item.insert("received_at".into(), s(rfc3339(m.received_at)));
    item.insert("updated_at".into(), s(rfc3339(m.updated_at)));
    if let Some(card) = &m.card_hash {
        item.insert("card_hash".into(), s(card.clone()));
        item.insert("card_key".into(), s(format!("{}#{card}", m.card_network)));
        item.insert(
            "card_sort".into(),
            s(format!("{}#{received}#{id}", m.status.as_str())),
        );
    }
    if let Some(uid) = key_value(&m.fields, ClearingField::TransUid) {
        // Sparse: the message holding its authorization's claim is found by the
        // claim itself (`AUTH#uid.claimed_by`), which saves an index write on
        // most records. The transUid search reads both.
        if m.claimed_authorization() != Some(uid) {
            item.insert("trans_uid".into(), s(uid));
            // The sort key of `ByTransUid`: a transUid's messages in arrival order.
            item.insert("ingest_sort".into(), s(format!("{received}#{id}")));
        }
    }
    // PENDING and REPROCESSING messages are listed by `ByQueue` (the console's
    // queue and the API's open lists alike).
    super::console::insert_list_attributes(&mut item, m, &received);
    Ok(item)
}

/// Writes the outbox of the change into the item written by it; an item
/// written without one carries none (the publisher compares images).
pub(super) fn with_outbox(mut item: Item, outbox: &[OutboxEntry]) -> Item {
    if !outbox.is_empty() {
        item.insert(
            crate::outbox::OUTBOX_ATTRIBUTE.into(),
            s(crate::outbox::encode(outbox)),
        );
    }
    item
}

/// A message item, packed or (written before packing) in plain attributes.
pub(super) fn message_from_item(mut item: Item) -> Result<ClearingMessage, StoreError> {
    let mut m: ClearingMessage = match item.remove(PACKED_ATTRIBUTE) {
        Some(AttributeValue::B(bytes)) => {
            let packed: PackedMessage = crate::packed::unpack(bytes.as_ref()).map_err(corrupt)?;
            let mut message = packed.message;
            if let Some(object) = message.as_object_mut() {
                object.insert(
                    "fields".into(),
                    serde_json::Value::Object(Default::default()),
                );
            }
            serde_json::from_value(message).map_err(corrupt)?
        }
        Some(_) => return Err(corrupt("packed attribute is not binary")),
        None => {
            if item.contains_key("fields") {
                return serde_dynamo::from_item(item).map_err(corrupt);
            }
            item.insert("fields".into(), AttributeValue::M(HashMap::new()));
            serde_dynamo::from_item(item).map_err(corrupt)?
        }
    };
    m.fields = ClearingMessage::fields_from_record(&m.raw_payload, &m.history)
        .map_err(|e| corrupt(format!("raw payload of {}: {e}", m.clearing_unique_id)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::clearing::{parse_clearing_notification, PreparedRecord};
    use proptest::prelude::*;

    /// The seed record with its amounts as `amount` (a JSON number or string).
    fn message(amount: &str, quoted: bool) -> ClearingMessage {
        let body = include_str!("../../../../spec/mastercard-clearing-notification.example.json");
        let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
        let record = &mut v["clearing"][0];
        record["transactionLocalDate"] = "2024-04-24".into();
        let raw = v.to_string();
        let value = if quoted {
            format!("\"{amount}\"")
        } else {
            amount.to_owned()
        };
        let raw = raw
            .replace(
                "\"transactionAmount\":12.34",
                &format!("\"transactionAmount\":{value}"),
            )
            .replace(
                "\"cardholderAmount\":12.34",
                &format!("\"cardholderAmount\":{value}"),
            );
        let record = parse_clearing_notification(raw.as_bytes())
            .unwrap()
            .remove(0);
        let rules = crate::clearing::RulesVersion::shipped();
        ClearingMessage::ingest(
            PreparedRecord::new(record),
            "MASTERCARD",
            None,
            &rules,
            "test",
            Utc::now(),
        )
        .message
    }

    /// A message item as written before packing: every attribute plain.
    fn plain_item(m: &ClearingMessage) -> Item {
        let mut item: Item = serde_dynamo::to_item(m).unwrap();
        item.remove("fields");
        item.extend(message_key(&m.clearing_unique_id));
        item
    }

    #[test]
    fn items_written_before_packing_are_read_the_same() {
        let m = message("12.34", false);
        let packed = message_item(&m, &[]).unwrap();
        assert!(packed.contains_key(PACKED_ATTRIBUTE));
        assert!(!packed.contains_key("raw_payload") && !packed.contains_key("history"));
        assert_eq!(message_from_item(plain_item(&m)).unwrap(), m);
        assert_eq!(message_from_item(packed).unwrap(), m);
    }

    #[test]
    fn a_damaged_packed_attribute_is_corrupt_not_a_panic() {
        let m = message("12.34", false);
        let mut item = message_item(&m, &[]).unwrap();
        item.insert(
            PACKED_ATTRIBUTE.into(),
            AttributeValue::B(Blob::new(vec![1, 2, 3])),
        );
        assert!(matches!(
            message_from_item(item),
            Err(StoreError::Corrupt(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Exact decimals survive parse -> item -> read back -> serialize as the text sent.
        #[test]
        fn amounts_survive_storage_and_serialization_exactly(
            amount in "(0|[1-9][0-9]{0,15})(\\.[0-9]{1,2})?",
            quoted in any::<bool>(),
        ) {
            let m = message(&amount, quoted);
            prop_assert_eq!(&m.fields[&ClearingField::TransactionAmount], &amount);
            let back = message_from_item(message_item(&m, &[]).unwrap()).unwrap();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(&back.fields[&ClearingField::TransactionAmount], &amount);
            prop_assert_eq!(&back.fields[&ClearingField::CardholderAmount], &amount);
            let json = serde_json::to_value(&back).unwrap();
            prop_assert_eq!(json["fields"]["transactionAmount"].as_str(), Some(amount.as_str()));
        }
    }
}
