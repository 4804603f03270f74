//! `ExpiryStore` in memory: the authorizations the DynamoDB index would list
//! (awaiting their expiry, due, on a sweep day from `since`), in sweep-day
//! and expiry order.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{lock, MemoryStore};
use crate::ports::{ExpiryStore, StoreError};

#[async_trait]
impl ExpiryStore for MemoryStore {
    async fn due_authorizations(
        &self,
        due_by: DateTime<Utc>,
        since: NaiveDate,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let tables = lock(&self.tables);
        let mut due: Vec<(NaiveDate, DateTime<Utc>, String)> = tables
            .authorizations
            .values()
            .filter(|a| a.awaits_expiry())
            .filter_map(|a| {
                let t = a.expiry.as_ref()?;
                (t.sweep_on >= since && t.sweep_on <= due_by.date_naive() && t.expires_at <= due_by)
                    .then(|| (t.sweep_on, t.expires_at, a.trans_uid.clone()))
            })
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, _, uid)| uid).collect())
    }
}
