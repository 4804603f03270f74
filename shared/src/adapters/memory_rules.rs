//! `RulesStore` in memory: a version is added only if its number is free.

use async_trait::async_trait;

use super::{lock, MemoryStore};
use crate::clearing::RulesVersion;
use crate::outbox::OutboxEntry;
use crate::ports::{RulesStore, StoreError};

#[async_trait]
impl RulesStore for MemoryStore {
    async fn current_rules(&self) -> Result<Option<RulesVersion>, StoreError> {
        Ok(lock(&self.tables).rules.values().next_back().cloned())
    }

    async fn add_rules_version(
        &self,
        version: &RulesVersion,
        outbox: &[OutboxEntry],
    ) -> Result<bool, StoreError> {
        let mut t = lock(&self.tables);
        if t.rules.contains_key(&version.version) {
            return Ok(false);
        }
        t.rules.insert(version.version, version.clone());
        t.outbox.extend_from_slice(outbox);
        Ok(true)
    }

    async fn rules_versions(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<RulesVersion>, StoreError> {
        let t = lock(&self.tables);
        Ok(t.rules
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .take(limit)
            .map(|(_, v)| v.clone())
            .collect())
    }
}
