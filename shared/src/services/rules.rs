//! The matching rules in force, and their changes.
//!
//! [`RulesService`] reads and changes the versioned rules document; version 1
//! is the deployment's rules until the first change stores it. [`RulesInForce`]
//! is what the matcher's functions hold: the current version, read at first
//! use (not at cold start) and kept for a short time, so a change applies to
//! every decision taken after at most that time
//! ([0028](../../../docs/decisions/0028-rules-are-versioned-data.md)).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::clearing::{RulesChangeError, RulesVersion};
use crate::events::rules_changed_event;
use crate::outbox::OutboxEntry;
use crate::ports::{RulesStore, StoreError};

/// How long a function keeps the rules it read: the most a change waits
/// before every new decision uses it.
pub const RULES_CACHE_TTL: Duration = Duration::from_secs(30);

/// Most versions one page of the history lists.
pub const MAX_RULES_PAGE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Change(#[from] RulesChangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The rules document over its store.
#[derive(Clone)]
pub struct RulesService {
    pub store: Arc<dyn RulesStore>,
    /// Version 1, in force while no version is stored.
    pub first: RulesVersion,
}

impl RulesService {
    /// The version in force.
    pub async fn current(&self) -> Result<RulesVersion, StoreError> {
        Ok(self
            .store
            .current_rules()
            .await?
            .unwrap_or_else(|| self.first.clone()))
    }

    /// Up to `limit` versions older than `before` (all if `None`), newest first.
    pub async fn versions(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<RulesVersion>, StoreError> {
        let mut page = self.store.rules_versions(before, limit).await?;
        // Version 1 is stored with the first change; until then it is the only one.
        let first_listed = before.is_none_or(|b| b > 1) && limit > 0;
        if page.is_empty() && first_listed && self.store.current_rules().await?.is_none() {
            page.push(self.first.clone());
        }
        Ok(page)
    }

    /// Makes `rules_json` the next version if `expected_version` is still the
    /// current one; announced as `rules.changed` with the version's write.
    /// Two editors of the same version: one wins, the other is told it is stale.
    pub async fn change(
        &self,
        expected_version: u64,
        rules_json: &str,
        author: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<RulesVersion, RulesError> {
        let current = match self.store.current_rules().await? {
            Some(current) => current,
            None => {
                // Store version 1 as it stands before it has a successor; a
                // concurrent first change may have stored it already.
                let mut first = self.first.clone();
                first.changed_at = now;
                self.store.add_rules_version(&first, &[]).await?;
                first
            }
        };
        let next = current.next(expected_version, rules_json, author, reason, now)?;
        let announcement = OutboxEntry::from(rules_changed_event(&next));
        if self.store.add_rules_version(&next, &[announcement]).await? {
            return Ok(next);
        }
        let now_current = self.current().await?.version.max(next.version);
        Err(RulesChangeError::Stale {
            expected: expected_version,
            current: now_current,
        }
        .into())
    }
}

/// The rules a function decides with.
pub struct RulesInForce {
    source: Source,
}

enum Source {
    /// Always this version (tests and benchmarks without a rules store).
    Fixed(Arc<RulesVersion>),
    Stored {
        service: RulesService,
        ttl: Duration,
        cached: Mutex<Option<(Instant, Arc<RulesVersion>)>>,
    },
}

impl RulesInForce {
    pub fn fixed(version: RulesVersion) -> Self {
        Self {
            source: Source::Fixed(Arc::new(version)),
        }
    }

    /// The stored current version, read again once `ttl` has passed.
    pub fn stored(service: RulesService, ttl: Duration) -> Self {
        Self {
            source: Source::Stored {
                service,
                ttl,
                cached: Mutex::new(None),
            },
        }
    }

    /// The version in force (at most the cache's time old).
    pub async fn current(&self) -> Result<Arc<RulesVersion>, StoreError> {
        let (service, ttl, cached) = match &self.source {
            Source::Fixed(version) => return Ok(version.clone()),
            Source::Stored {
                service,
                ttl,
                cached,
            } => (service, *ttl, cached),
        };
        let lock = || cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((read_at, version)) = lock().as_ref() {
            if read_at.elapsed() < ttl {
                return Ok(version.clone());
            }
        }
        let version = Arc::new(service.current().await?);
        *lock() = Some((Instant::now(), version.clone()));
        Ok(version)
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
