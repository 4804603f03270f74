//! Authorizations: read by key (a reference alias first resolves to its
//! transUid), saved with their aliases, and the records that could not be read.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::items::{authorization_key, authorization_pk, key, s, stamp, AUTH_SK};
use super::{corrupt, is_conditional_failure, sdk_error, DynamoDbClearingStore, Item};
use crate::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use crate::clearing::conflict::ClearingConflict;
use crate::ports::{AuthorizationSaved, StoreError};

const ALIAS_SK: &str = "ALIAS";

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
            let auth: Authorization = serde_dynamo::from_item(item).map_err(corrupt)?;
            for k in by_uid.get(&auth.trans_uid).into_iter().flatten() {
                out.insert(k.clone(), auth.clone());
            }
        }
        Ok(out)
    }

    pub(super) async fn save_authorization(
        &self,
        auth: &Authorization,
    ) -> Result<AuthorizationSaved, StoreError> {
        let mut item: Item = serde_dynamo::to_item(auth).map_err(corrupt)?;
        item.insert("pk".into(), s(authorization_pk(&auth.trans_uid)));
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
