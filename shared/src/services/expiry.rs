//! The authorization expiry sweep: every authorization past its window and
//! not cleared in full becomes EXPIRED, one versioned change each, written
//! with its `authorization.expired` event (the outbox).
//!
//! Candidates come from the store's expiry index (never a scan), a page at a
//! time, at most `max_per_run` per run. Each is read again and decided on
//! what is stored: a concurrent run, a redelivered schedule or a clearing
//! meanwhile moves its version on, and the loser decides again (an expired
//! one is then left alone). One failure is reported and the rest go on; what
//! failed stays in the index for the next run.

use std::collections::HashSet;

use chrono::{DateTime, Days, Utc};
use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::authorization::AuthorizationStatus;
use crate::authorization_expiry::ExpiryDecision;
use crate::events::authorization_events;
use crate::outbox::OutboxEntry;
use crate::ports::{ExpiryStore, StoreError};

/// How much one run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepLimits {
    /// Most authorizations one run looks at (what is left waits for the next run).
    pub max_per_run: usize,
    /// Candidates read from the index at a time.
    pub page_size: usize,
    /// Sweep days looked back over before today: a run missed for longer than
    /// this leaves older authorizations unexpired.
    pub lookback_days: u32,
    /// Authorizations changed at once.
    pub concurrency: usize,
}

impl Default for SweepLimits {
    fn default() -> Self {
        Self {
            max_per_run: 5_000,
            page_size: 100,
            lookback_days: 14,
            concurrency: 8,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub examined: usize,
    /// Expired by this run.
    pub expired: usize,
    /// Cleared in full: taken out of the index, not expired.
    pub closed: usize,
    /// Expired, reversed or gone already (a concurrent run, a redelivery).
    pub unchanged: usize,
    pub not_due: usize,
    /// transUid and why, for each that could not be decided.
    pub failed: Vec<(String, String)>,
}

/// What became of one candidate.
enum Swept {
    Expired,
    Closed,
    Unchanged,
    NotDue,
}

/// How often one authorization is decided again when it changed under the sweep.
const MAX_ATTEMPTS: usize = 5;

pub struct ExpiryService<'a> {
    pub store: &'a dyn ExpiryStore,
    pub limits: SweepLimits,
}

impl ExpiryService<'_> {
    /// One run at `now`. An error only when the index cannot be read at all.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let since = now
            .date_naive()
            .checked_sub_days(Days::new(u64::from(self.limits.lookback_days)))
            .unwrap_or(now.date_naive());
        let mut report = SweepReport::default();
        let mut seen = HashSet::new();
        // What this run saw and left in the index: asked for again beyond them.
        let mut left = 0;
        while report.examined < self.limits.max_per_run {
            let want = left + self.limits.page_size;
            let page = self.store.due_authorizations(now, since, want).await?;
            let exhausted = page.len() < want;
            let fresh: Vec<String> = page
                .into_iter()
                .filter(|uid| seen.insert(uid.clone()))
                .take(self.limits.max_per_run - report.examined)
                .collect();
            if fresh.is_empty() {
                break;
            }
            let outcomes: Vec<(String, Result<Swept, StoreError>)> = stream::iter(fresh)
                .map(|uid| async move {
                    let outcome = self.expire_one(&uid, now).await;
                    (uid, outcome)
                })
                .buffer_unordered(self.limits.concurrency.max(1))
                .collect()
                .await;
            for (uid, outcome) in outcomes {
                report.examined += 1;
                match outcome {
                    Ok(Swept::Expired) => report.expired += 1,
                    Ok(Swept::Closed) => report.closed += 1,
                    Ok(Swept::Unchanged) => report.unchanged += 1,
                    Ok(Swept::NotDue) => {
                        report.not_due += 1;
                        left += 1;
                    }
                    Err(e) => {
                        tracing::error!(trans_uid = %uid, error = %e, "authorization not expired");
                        report.failed.push((uid, e.to_string()));
                        left += 1;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        report.failed.sort();
        Ok(report)
    }

    /// Decides one authorization on what is stored, again if it changed meanwhile.
    async fn expire_one(&self, trans_uid: &str, now: DateTime<Utc>) -> Result<Swept, StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.store.authorization(trans_uid).await? else {
                return Ok(Swept::Unchanged);
            };
            let (next, outbox, swept) = match current.expire(now) {
                ExpiryDecision::NotDue(_) => return Ok(Swept::NotDue),
                ExpiryDecision::Expire(next) => {
                    let outbox: Vec<OutboxEntry> = authorization_events(&next, next.version)
                        .into_iter()
                        .map(OutboxEntry::from)
                        .collect();
                    (*next, outbox, Swept::Expired)
                }
                // Cleared in full while the index still lists it: rewritten
                // at its version, which takes it out of the index.
                ExpiryDecision::Closed
                    if current.status == AuthorizationStatus::Approved
                        && current.expiry.is_some() =>
                {
                    (current.clone(), Vec::new(), Swept::Closed)
                }
                ExpiryDecision::Closed => return Ok(Swept::Unchanged),
            };
            match self
                .store
                .update_authorization(&next, current.version, &outbox)
                .await
            {
                Ok(()) => return Ok(swept),
                Err(StoreError::VersionConflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "authorization {trans_uid} kept changing during the sweep; the next run tries again"
        )))
    }
}

#[cfg(test)]
#[path = "expiry_tests.rs"]
mod tests;
