//! Authorizations: read by key (a reference alias first resolves to its
//! transUid), saved with their aliases, and the records that could not be read.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::items::{authorization_key, authorization_pk, key, s, stamp, AUTH_SK};
use super::messages::CLEARED_PREFIX;
use super::{corrupt, is_conditional_failure, sdk_error, unavailable, DynamoDbClearingStore, Item};
use crate::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use crate::clearing::conflict::ClearingConflict;
use crate::outbox::{OutboxEntry, OUTBOX_ATTRIBUTE};
use crate::packed::PACKED_ATTRIBUTE;
use crate::ports::{AuthorizationSaved, StoreError};

const ALIAS_SK: &str = "ALIAS";

/// The attributes of an authorization item packed into one (`crate::packed`):
/// every claim rewrites the item, and DynamoDB bills the whole of it.
const PACKED_KEYS: [&str; 2] = ["raw_payload", "history"];

/// The authorization's attributes, its raw payload and history packed with
/// the outbox of the change that writes it (none: the claims keep the last one).
fn authorization_item(auth: &Authorization, outbox: &[OutboxEntry]) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(auth).map_err(corrupt)?;
    let mut packed = serde_json::Map::new();
    let json = serde_json::to_value(auth).map_err(corrupt)?;
    for name in PACKED_KEYS {
        item.remove(name);
        if let Some(v) = json.get(name) {
            packed.insert(name.into(), v.clone());
        }
    }
    if !outbox.is_empty() {
        packed.insert(
            OUTBOX_ATTRIBUTE.into(),
            serde_json::to_value(outbox).map_err(corrupt)?,
        );
    }
    let packed = crate::packed::pack(&packed).map_err(corrupt)?;
    item.insert(
        PACKED_ATTRIBUTE.into(),
        AttributeValue::B(Blob::new(packed)),
    );
    Ok(item)
}

/// An authorization item, with the presentments that cleared it (one
/// top-level `cleared#<clearingUniqueId>` attribute each, written by the claims).
/// Items written before packing hold every attribute plain.
fn authorization_from_item(mut item: Item) -> Result<Authorization, StoreError> {
    match item.remove(PACKED_ATTRIBUTE) {
        Some(AttributeValue::B(bytes)) => {
            let packed: serde_json::Map<String, serde_json::Value> =
                crate::packed::unpack(bytes.as_ref()).map_err(corrupt)?;
            for name in PACKED_KEYS {
                if let Some(v) = packed.get(name) {
                    let value = serde_dynamo::to_attribute_value(v).map_err(corrupt)?;
                    item.insert(name.into(), value);
                }
            }
        }
        Some(_) => return Err(corrupt("packed attribute is not binary")),
        None => {}
    }
    let names: Vec<String> = item
        .keys()
        .filter(|k| k.starts_with(CLEARED_PREFIX))
        .cloned()
        .collect();
    let mut clearings = std::collections::BTreeMap::new();
    for name in names {
        let value = item.remove(&name).unwrap_or(AttributeValue::Null(true));
        let entry = serde_dynamo::from_attribute_value(value).map_err(corrupt)?;
        clearings.insert(name[CLEARED_PREFIX.len()..].to_owned(), entry);
    }
    let mut auth: Authorization = serde_dynamo::from_item(item).map_err(corrupt)?;
    auth.clearings = clearings;
    Ok(auth)
}

impl DynamoDbClearingStore {
    pub(super) async fn authorizations(
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
        let auth_keys = by_uid.keys().map(|uid| authorization_key(uid)).collect();
        let mut out = HashMap::new();
        for item in self.batch_get(auth_keys, false).await? {
            let auth = authorization_from_item(item)?;
            for k in by_uid.get(&auth.trans_uid).into_iter().flatten() {
                out.insert(k.clone(), auth.clone());
            }
        }
        Ok(out)
    }

    pub(super) async fn save_authorization(
        &self,
        auth: &Authorization,
        outbox: &[OutboxEntry],
    ) -> Result<AuthorizationSaved, StoreError> {
        let mut item = authorization_item(auth, outbox)?;
        item.insert("pk".into(), s(authorization_pk(&auth.trans_uid)));
        item.insert("sk".into(), s(AUTH_SK));
        item.insert("entity".into(), s("AUTHORIZATION"));
        item.remove("claimed_by");
        super::expiry::insert_expiry_attributes(&mut item, auth);
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
            Err(e) => return Err(sdk_error(e)),
        };
        for k in auth.keys().into_iter().skip(1) {
            let mut alias = key(k.partition_key(), ALIAS_SK);
            alias.insert("trans_uid".into(), s(auth.trans_uid.clone()));
            alias.insert("entity".into(), s("AUTHORIZATION_ALIAS"));
            self.put(alias).await?;
        }
        Ok(saved)
    }

    pub(super) async fn authorization(
        &self,
        trans_uid: &str,
    ) -> Result<Option<Authorization>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(authorization_key(trans_uid)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        resp.item()
            .cloned()
            .map(authorization_from_item)
            .transpose()
    }

    /// Sets every attribute of the authorization but its key and its claim,
    /// conditional on its version and on the claim being the one read (a claim
    /// taken meanwhile must be seen by the change: it names the clearing to announce).
    pub(super) async fn update_authorization(
        &self,
        auth: &Authorization,
        expected_version: u64,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let item = authorization_item(auth, outbox)?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (i, (name, value)) in item.into_iter().enumerate() {
            if name == "claimed_by" {
                continue;
            }
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), value);
            sets.push(format!("#a{i} = :a{i}"));
        }
        // This change's entries, packed, replace the last change's (the
        // stream's publisher sends those the old image did not hold); an item
        // written before packing loses its plain ones.
        names.insert("#outbox".into(), OUTBOX_ATTRIBUTE.into());
        let mut removes = vec!["#outbox".to_owned()];
        // In the expiry sweep's index while it awaits its expiry, out of it after.
        match super::expiry::expiry_attributes(auth) {
            Some(attributes) => {
                for (name, value) in attributes {
                    names.insert(format!("#{name}"), name.into());
                    values.insert(format!(":{name}"), s(value));
                    sets.push(format!("#{name} = :{name}"));
                }
            }
            None => {
                for name in [super::expiry::EXPIRY_PK, super::expiry::EXPIRY_SK] {
                    names.insert(format!("#{name}"), name.into());
                    removes.push(format!("#{name}"));
                }
            }
        }
        let expression = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
        names.insert("#version".into(), "version".into());
        names.insert("#claimed".into(), "claimed_by".into());
        values.insert(
            ":expected".into(),
            AttributeValue::N(expected_version.to_string()),
        );
        // Items stored before authorizations had versions are at version 1.
        let version = if expected_version == 1 {
            "(attribute_not_exists(#version) OR #version = :expected)"
        } else {
            "#version = :expected"
        };
        let claim = match &auth.claimed_by {
            Some(id) => {
                values.insert(":claimed".into(), s(id.clone()));
                "#claimed = :claimed"
            }
            None => {
                values.insert(":nul".into(), s("NULL"));
                "(attribute_not_exists(#claimed) OR attribute_type(#claimed, :nul))"
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(authorization_key(&auth.trans_uid)))
            .update_expression(expression)
            .condition_expression(format!("attribute_exists(pk) AND {version} AND {claim}"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => {
                Err(StoreError::VersionConflict(auth.trans_uid.clone()))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    pub(super) async fn save_rejected_authorization(
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
        self.put(item).await
    }

    /// A refused conflicting record, one item per id and refused payload (a
    /// redelivery writes the same item again).
    pub(super) async fn save_conflict(
        &self,
        c: &ClearingConflict,
        outbox: &[crate::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut item: Item = serde_dynamo::to_item(c).map_err(corrupt)?;
        item.extend(key(
            format!("CONFLICT#{}", c.clearing_unique_id),
            &c.payload_digest,
        ));
        item.insert("entity".into(), s("CLEARING_CONFLICT"));
        // Rewritten unchanged on a redelivery: the stream sees no new entry.
        self.put(super::items::with_outbox(item, outbox)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::parse_authorization_notification;

    fn authorization() -> Authorization {
        let body = br#"{"authorizations": [
            {"transUid": "T1", "cardReference": "C1", "transactionAmount": 10.10, "transactionCurrency": "USD",
             "merchantCategoryCode": "5812", "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED",
             "financialNetworkCode": "MCF", "referenceNumber": "R1", "settlementDate": "2024-04-26"}
        ]}"#;
        let parsed = parse_authorization_notification(body, "MASTERCARD").unwrap();
        parsed.into_iter().next().unwrap().unwrap()
    }

    #[test]
    fn packed_and_plain_authorization_items_read_the_same() {
        let auth = authorization();
        let packed = authorization_item(&auth, &[]).unwrap();
        assert!(!packed.contains_key("raw_payload") && !packed.contains_key("history"));
        assert_eq!(authorization_from_item(packed).unwrap(), auth);
        // Written before packing: every attribute plain.
        let plain: Item = serde_dynamo::to_item(&auth).unwrap();
        assert_eq!(authorization_from_item(plain).unwrap(), auth);
    }

    #[test]
    fn an_authorization_outbox_is_packed_where_the_publisher_reads_it() {
        let auth = authorization();
        let event = OutboxEntry::Event {
            id: crate::events::stable_id("x"),
            source: "clearing".into(),
            detail_type: "authorization.reversed".into(),
            detail: "{}".into(),
        };
        let item = authorization_item(&auth, std::slice::from_ref(&event)).unwrap();
        assert!(!item.contains_key(OUTBOX_ATTRIBUTE));
        let Some(AttributeValue::B(bytes)) = item.get(PACKED_ATTRIBUTE) else {
            panic!("no packed attribute");
        };
        assert_eq!(
            crate::outbox::decode_packed(bytes.as_ref()).unwrap(),
            [event]
        );
    }
}
