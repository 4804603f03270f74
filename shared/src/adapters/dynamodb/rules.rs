//! The matching rules' versions: `RULES` / `V#<version, 20 digits>`, one item
//! per version, written only if absent (two editors cannot both write the same
//! next version), never updated. The current version is the highest: one
//! Query, newest first, limit 1 (0.5 RCU eventually consistent).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::items::{key, s, with_outbox};
use super::{corrupt, is_conditional_failure, sdk_error, DynamoDbClearingStore, Item};
use crate::clearing::{MatchingRules, RulesVersion};
use crate::outbox::OutboxEntry;
use crate::ports::{RulesStore, StoreError};

const RULES_PK: &str = "RULES";
const VERSION_PREFIX: &str = "V#";

fn version_sk(version: u64) -> String {
    format!("{VERSION_PREFIX}{version:020}")
}

fn rules_item(v: &RulesVersion) -> Result<Item, StoreError> {
    let mut item = key(RULES_PK.into(), &version_sk(v.version));
    item.insert("entity".into(), s("RULES_VERSION"));
    item.insert("version".into(), AttributeValue::N(v.version.to_string()));
    item.insert("author".into(), s(v.author.clone()));
    item.insert("changed_at".into(), s(v.changed_at.to_rfc3339()));
    item.insert("reason".into(), s(v.reason.clone()));
    let rules = serde_json::to_string(&v.rules).map_err(corrupt)?;
    item.insert("rules".into(), s(rules));
    Ok(item)
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("rules version item without {name}")))
}

fn rules_version(item: &Item) -> Result<RulesVersion, StoreError> {
    let version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("rules version item without version".into()))?;
    Ok(RulesVersion {
        version,
        author: text(item, "author")?.to_owned(),
        changed_at: text(item, "changed_at")?.parse().map_err(corrupt)?,
        reason: text(item, "reason")?.to_owned(),
        // Read as any deployment's rules are: a stored version that no longer
        // reads is named, never matched with.
        rules: MatchingRules::from_json(text(item, "rules")?).map_err(corrupt)?,
    })
}

#[async_trait]
impl RulesStore for DynamoDbClearingStore {
    async fn current_rules(&self) -> Result<Option<RulesVersion>, StoreError> {
        Ok(self.rules_versions(None, 1).await?.into_iter().next())
    }

    async fn add_rules_version(
        &self,
        version: &RulesVersion,
        outbox: &[OutboxEntry],
    ) -> Result<bool, StoreError> {
        let item = with_outbox(rules_item(version)?, outbox);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await;
        match result {
            Ok(resp) => {
                self.metering.write(resp.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn rules_versions(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<RulesVersion>, StoreError> {
        let upper = match before {
            _ if limit == 0 => return Ok(Vec::new()),
            Some(0) => return Ok(Vec::new()),
            Some(b) => b - 1,
            None => u64::MAX,
        };
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(RULES_PK))
            .expression_attribute_values(":from", s(version_sk(0)))
            .expression_attribute_values(":to", s(version_sk(upper)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await
            .map_err(sdk_error)?;
        self.metering.read(resp.consumed_capacity());
        resp.items().iter().map(rules_version).collect()
    }
}
