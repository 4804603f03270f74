//! The ports in memory, for unit tests of the application services: the same
//! conditional semantics as the DynamoDB adapter (insert if absent,
//! version-conditional updates all or nothing, authorization claims), without
//! a network. The queue and the bus can be switched to fail. The store keeps
//! the outbox entries its writes carry; a test drains them through the
//! publisher's code (`publish_outbox`), as the table's stream would.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};

use crate::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use crate::clearing::conflict::ClearingConflict;
use crate::clearing::fields::transaction_date;
use crate::clearing::{AuthorizationClaim, ClearingField, ClearingMessage, ClearingStatus};
use crate::outbox::{OutboxEntry, OutboxError, OutboxPublisher};
use crate::pix::PixReconciliation;
use crate::ports::{
    Arrivals, AuthorizationSaved, ClearingSearch, ClearingStore, DayEntry, DayTally, InsertOutcome,
    Page, PixStore, ReconciliationRequest, RejectedInput, StoreError, StoredPixState,
};

/// Locks, ignoring poisoning: a panicking test must not hide the state from the next assertion.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct Tables {
    messages: BTreeMap<String, ClearingMessage>,
    /// By transUid.
    authorizations: BTreeMap<String, Authorization>,
    /// Reference alias (partition key) -> transUid.
    aliases: HashMap<String, String>,
    rejected: Vec<RejectedAuthorization>,
    requests: BTreeMap<String, ReconciliationRequest>,
    arrivals: Vec<Arrivals>,
    pix: HashMap<String, StoredPixState>,
    closed_pix_days: BTreeSet<NaiveDate>,
    day_tallies: HashMap<NaiveDate, DayTally>,
    rejected_inputs: BTreeMap<String, RejectedInput>,
    /// Outbox entries written and not yet drained: what the table's stream
    /// would carry to the publisher.
    outbox: Vec<OutboxEntry>,
    /// By (clearingUniqueId, payload digest).
    conflicts: BTreeMap<(String, String), ClearingConflict>,
    /// Ids whose insert is refused as DynamoDB refuses an invalid item.
    refused: BTreeSet<String>,
    /// An id whose updates fail as in an outage (or a crash before the write).
    failing: Option<String>,
    /// The console's write-offs and bulk actions (`console`).
    write_offs: BTreeMap<String, crate::console::WriteOff>,
    bulks: BTreeMap<String, (crate::console::BulkAction, Vec<crate::console::BulkItem>)>,
    bulk_keys: HashMap<String, String>,
    /// The matching rules' versions, by number (`memory_rules`).
    rules: BTreeMap<u64, crate::clearing::RulesVersion>,
}

impl Tables {
    /// The claim condition: the authorization exists and is still at the
    /// version the match was decided on, or already lists this presentment.
    fn claim_allowed(auth: &Authorization, claim: &AuthorizationClaim) -> bool {
        auth.version == claim.authorization_version
            || auth.clearings.contains_key(&claim.clearing_unique_id)
    }

    /// Adds the presentment to the authorization's clearings (the first to
    /// clear it holds `claimed_by`) and moves its version on.
    fn take_claim(&mut self, claim: &AuthorizationClaim) -> Result<(), StoreError> {
        match self.authorizations.get_mut(&claim.trans_uid) {
            Some(auth) if Self::claim_allowed(auth, claim) => {
                auth.clearings
                    .insert(claim.clearing_unique_id.clone(), claim.presentment.clone());
                auth.claimed_by
                    .get_or_insert_with(|| claim.clearing_unique_id.clone());
                auth.version += 1;
                Ok(())
            }
            _ => Err(StoreError::ClaimLost(claim.trans_uid.clone())),
        }
    }

    /// Gives a claim back while its message is stored unmatched.
    fn release_claim(&mut self, claim: &AuthorizationClaim) {
        let unmatched = self
            .messages
            .get(&claim.clearing_unique_id)
            .is_some_and(|m| m.status != ClearingStatus::Matched);
        if let Some(auth) = self.authorizations.get_mut(&claim.trans_uid) {
            let held = auth.clearings.contains_key(&claim.clearing_unique_id)
                || auth.claimed_by.as_deref() == Some(&claim.clearing_unique_id);
            if unmatched && held {
                auth.clearings.remove(&claim.clearing_unique_id);
                if auth.claimed_by.as_deref() == Some(&claim.clearing_unique_id) {
                    auth.claimed_by = None;
                }
                auth.version += 1;
            }
        }
    }

    fn check_updates(
        &self,
        updates: &[(ClearingMessage, u64)],
        claim: Option<&AuthorizationClaim>,
        request: Option<&ReconciliationRequest>,
    ) -> Result<(), StoreError> {
        for (m, expected) in updates {
            let stored = self.messages.get(&m.clearing_unique_id);
            if stored.is_none_or(|s| s.version != *expected) {
                return Err(StoreError::VersionConflict(m.clearing_unique_id.clone()));
            }
        }
        if let Some(c) = claim {
            let free = self
                .authorizations
                .get(&c.trans_uid)
                .is_some_and(|a| Self::claim_allowed(a, c));
            if !free {
                return Err(StoreError::ClaimLost(c.trans_uid.clone()));
            }
        }
        if request.is_some_and(|r| self.requests.contains_key(&r.request_id)) {
            return Err(StoreError::Unavailable(
                "reconciliation request recorded twice".into(),
            ));
        }
        Ok(())
    }
}

#[path = "memory_console.rs"]
mod console;
#[path = "memory_expiry.rs"]
mod expiry;
#[path = "memory_rules.rs"]
mod rules;

/// [`ClearingStore`], [`PixStore`] and `ConsoleStore` in memory.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every reconciliation request recorded, by request id.
    pub fn requests(&self) -> Vec<ReconciliationRequest> {
        lock(&self.tables).requests.values().cloned().collect()
    }

    /// Every notification noted, in order.
    pub fn arrivals(&self) -> Vec<Arrivals> {
        lock(&self.tables).arrivals.clone()
    }

    pub fn rejected_authorizations(&self) -> Vec<RejectedAuthorization> {
        lock(&self.tables).rejected.clone()
    }

    /// Takes the outbox entries written since the last drain, in write order.
    pub fn drain_outbox(&self) -> Vec<OutboxEntry> {
        std::mem::take(&mut lock(&self.tables).outbox)
    }

    /// Publishes the entries written since the last drain through `publisher`
    /// (the publisher function's code); on failure they stay to be drained again.
    pub async fn publish_outbox(
        &self,
        publisher: &OutboxPublisher<'_>,
    ) -> Result<usize, OutboxError> {
        let entries = self.drain_outbox();
        if let Err(e) = publisher.publish(&entries).await {
            let mut t = lock(&self.tables);
            let newer = std::mem::replace(&mut t.outbox, entries);
            t.outbox.extend(newer);
            return Err(e);
        }
        Ok(entries.len())
    }

    /// Every conflicting record refused, by id and payload digest.
    pub fn conflicts(&self) -> Vec<ClearingConflict> {
        lock(&self.tables).conflicts.values().cloned().collect()
    }

    /// Makes every insert of message `id` fail as a ValidationException would.
    pub fn refuse(&self, id: &str) {
        lock(&self.tables).refused.insert(id.to_owned());
    }

    /// Makes every update of message `id` fail as unavailable (None: none).
    pub fn fail_updates(&self, id: Option<&str>) {
        lock(&self.tables).failing = id.map(str::to_owned);
    }

    /// Stores a message as it is (test set-up), replacing any stored under its id.
    pub fn put_message(&self, message: ClearingMessage) {
        lock(&self.tables)
            .messages
            .insert(message.clearing_unique_id.clone(), message);
    }
}

/// A list's cursor: which list, and the sort key of the last item returned.
fn cursor_for(list: &str, sort_key: &str) -> String {
    format!("{list}|{sort_key}")
}

fn cursor_start(list: &str, cursor: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    match cursor.split_once('|') {
        Some((l, key)) if l == list => Ok(Some(key.to_owned())),
        Some(_) => Err(StoreError::InvalidCursor(
            "cursor belongs to another list".into(),
        )),
        None => Err(StoreError::InvalidCursor(
            "cursor is not one this API returned".into(),
        )),
    }
}

/// One page of `items` (sorted by key) after the cursor's key.
fn page_of(
    list: &str,
    mut items: Vec<(String, ClearingMessage)>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<ClearingMessage>, StoreError> {
    let start = cursor_start(list, cursor)?;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let rest: Vec<_> = items
        .into_iter()
        .filter(|(k, _)| start.as_ref().is_none_or(|s| k > s))
        .collect();
    let more = rest.len() > limit;
    let taken: Vec<_> = rest.into_iter().take(limit).collect();
    let next_cursor = more
        .then(|| taken.last().map(|(k, _)| cursor_for(list, k)))
        .flatten();
    Ok(Page {
        items: taken.into_iter().map(|(_, m)| m).collect(),
        next_cursor,
    })
}

fn arrival_key(m: &ClearingMessage) -> String {
    format!("{}#{}", m.received_at.to_rfc3339(), m.clearing_unique_id)
}

#[async_trait]
impl ClearingStore for MemoryStore {
    async fn authorizations(
        &self,
        keys: &[AuthorizationKey],
    ) -> Result<HashMap<AuthorizationKey, Authorization>, StoreError> {
        let t = lock(&self.tables);
        Ok(keys
            .iter()
            .filter_map(|k| {
                let uid = match k {
                    AuthorizationKey::TransUid(uid) => Some(uid.clone()),
                    AuthorizationKey::Reference { .. } => {
                        t.aliases.get(&k.partition_key()).cloned()
                    }
                }?;
                t.authorizations.get(&uid).map(|a| (k.clone(), a.clone()))
            })
            .collect())
    }

    async fn save_authorization(
        &self,
        authorization: &Authorization,
        outbox: &[OutboxEntry],
    ) -> Result<AuthorizationSaved, StoreError> {
        let mut t = lock(&self.tables);
        for k in authorization.keys().into_iter().skip(1) {
            t.aliases
                .insert(k.partition_key(), authorization.trans_uid.clone());
        }
        if t.authorizations.contains_key(&authorization.trans_uid) {
            return Ok(AuthorizationSaved::AlreadyStored);
        }
        let mut stored = authorization.clone();
        stored.claimed_by = None;
        stored.clearings.clear();
        t.authorizations
            .insert(authorization.trans_uid.clone(), stored);
        t.outbox.extend_from_slice(outbox);
        Ok(AuthorizationSaved::Inserted)
    }

    async fn save_rejected_authorization(
        &self,
        rejected: &RejectedAuthorization,
    ) -> Result<(), StoreError> {
        lock(&self.tables).rejected.push(rejected.clone());
        Ok(())
    }

    async fn authorization(&self, trans_uid: &str) -> Result<Option<Authorization>, StoreError> {
        Ok(lock(&self.tables).authorizations.get(trans_uid).cloned())
    }

    async fn update_authorization(
        &self,
        authorization: &Authorization,
        expected_version: u64,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        let stored = t
            .authorizations
            .get_mut(&authorization.trans_uid)
            .filter(|a| a.version == expected_version && a.claimed_by == authorization.claimed_by)
            .ok_or_else(|| StoreError::VersionConflict(authorization.trans_uid.clone()))?;
        // The claims' part of the item is theirs: kept as stored.
        let clearings = std::mem::take(&mut stored.clearings);
        *stored = authorization.clone();
        stored.clearings = clearings;
        t.outbox.extend_from_slice(outbox);
        Ok(())
    }

    async fn insert_message(
        &self,
        message: &ClearingMessage,
        claim: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<InsertOutcome, StoreError> {
        let mut t = lock(&self.tables);
        if t.refused.contains(&message.clearing_unique_id) {
            return Err(StoreError::Refused(format!(
                "memory store refuses {}",
                message.clearing_unique_id
            )));
        }
        // The claim first, as on DynamoDB: a stored MATCHED message always holds its claim.
        if let Some(c) = claim.filter(|c| !c.already_held) {
            t.take_claim(c)?;
        }
        if let Some(existing) = t.messages.get(&message.clearing_unique_id).cloned() {
            if let Some(c) = claim {
                t.release_claim(c);
            }
            return Ok(InsertOutcome::AlreadyStored(Box::new(existing)));
        }
        t.messages
            .insert(message.clearing_unique_id.clone(), message.clone());
        t.outbox.extend_from_slice(outbox);
        Ok(InsertOutcome::Inserted)
    }

    async fn update_messages(
        &self,
        updates: &[(ClearingMessage, u64)],
        claim: Option<&AuthorizationClaim>,
        request: Option<&ReconciliationRequest>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        if let Some(id) = t
            .failing
            .as_ref()
            .filter(|id| updates.iter().any(|(m, _)| m.clearing_unique_id == **id))
        {
            return Err(StoreError::Unavailable(format!("{id} (injected)")));
        }
        // Every condition is checked before anything is written: all or nothing.
        t.check_updates(updates, claim, request)?;
        for (m, _) in updates {
            t.messages.insert(m.clearing_unique_id.clone(), m.clone());
        }
        if let Some(c) = claim {
            t.take_claim(c)?;
        }
        if let Some(r) = request {
            t.requests.insert(r.request_id.clone(), r.clone());
        }
        t.outbox.extend_from_slice(outbox);
        Ok(())
    }

    async fn note_arrivals(&self, arrivals: &Arrivals) -> Result<(), StoreError> {
        lock(&self.tables).arrivals.push(arrivals.clone());
        Ok(())
    }

    async fn save_conflict(
        &self,
        conflict: &ClearingConflict,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let key = (
            conflict.clearing_unique_id.clone(),
            conflict.payload_digest.clone(),
        );
        let mut t = lock(&self.tables);
        // Rewriting the same conflict adds nothing to the stream's view.
        if t.conflicts.insert(key, conflict.clone()).is_none() {
            t.outbox.extend_from_slice(outbox);
        }
        Ok(())
    }

    async fn message(
        &self,
        clearing_unique_id: &str,
    ) -> Result<Option<ClearingMessage>, StoreError> {
        Ok(lock(&self.tables).messages.get(clearing_unique_id).cloned())
    }

    async fn messages_for_card(
        &self,
        card_network: &str,
        card_hash: &str,
        status: Option<ClearingStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let items = lock(&self.tables)
            .messages
            .values()
            .filter(|m| m.card_network == card_network && m.card_hash.as_deref() == Some(card_hash))
            .filter(|m| status.is_none_or(|s| m.status == s))
            // The ByCard sort key: status, then arrival.
            .map(|m| {
                (
                    format!("{}#{}", m.status.as_str(), arrival_key(m)),
                    m.clone(),
                )
            })
            .collect();
        page_of("card", items, limit, cursor)
    }

    async fn open_messages(
        &self,
        status: ClearingStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let items = lock(&self.tables)
            .messages
            .values()
            .filter(|m| m.status == status && status.is_open())
            .map(|m| (arrival_key(m), m.clone()))
            .collect();
        page_of("open", items, limit, cursor)
    }

    async fn search(
        &self,
        search: &ClearingSearch,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        let in_dates = |from: NaiveDate, to: NaiveDate| {
            move |m: &ClearingMessage| {
                transaction_date(&m.fields).is_some_and(|d| from <= d && d <= to)
            }
        };
        let keep: Box<dyn Fn(&ClearingMessage) -> bool> = match search {
            ClearingSearch::TransUid(uid) => Box::new(move |m: &ClearingMessage| {
                m.fields.get(&ClearingField::TransUid) == Some(uid)
            }),
            ClearingSearch::DateRange { .. } | ClearingSearch::AfterDate(_) => {
                match search.transaction_days(Utc::now().date_naive()) {
                    Some((start, end)) => Box::new(in_dates(start, end)),
                    None => Box::new(|_: &ClearingMessage| false),
                }
            }
            ClearingSearch::Cursor(_) => Box::new(|_: &ClearingMessage| true),
        };
        let mut found: Vec<(String, ClearingMessage)> = lock(&self.tables)
            .messages
            .values()
            .filter(|m| keep(m))
            .map(|m| (arrival_key(m), m.clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let ClearingSearch::Cursor(cursor) = search else {
            let items = found.into_iter().skip(offset).take(limit).map(|(_, m)| m);
            return Ok(Page {
                items: items.collect(),
                next_cursor: None,
            });
        };
        // "0" starts at the oldest record; the next cursor is the last one returned.
        let start = if cursor == "0" {
            None
        } else {
            cursor_start("arrivals", Some(cursor))?
        };
        let taken: Vec<_> = found
            .into_iter()
            .filter(|(k, _)| start.as_ref().is_none_or(|s| k > s))
            .take(offset + limit)
            .collect();
        let next_cursor = match taken.last() {
            Some((k, _)) => cursor_for("arrivals", k),
            None => cursor.clone(),
        };
        Ok(Page {
            items: taken.into_iter().skip(offset).map(|(_, m)| m).collect(),
            next_cursor: Some(next_cursor),
        })
    }
}

#[async_trait]
impl PixStore for MemoryStore {
    async fn pix_state(&self, end_to_end_id: &str) -> Result<Option<StoredPixState>, StoreError> {
        Ok(lock(&self.tables).pix.get(end_to_end_id).cloned())
    }

    async fn save_pix_state(
        &self,
        state: &PixReconciliation,
        expected_version: u64,
        published: bool,
        outbox: &[OutboxEntry],
        counted: Option<DayEntry>,
    ) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        let stored = t.pix.get(&state.end_to_end_id).map_or(0, |s| s.version);
        if stored != expected_version {
            return Err(StoreError::VersionConflict(state.end_to_end_id.clone()));
        }
        t.pix.insert(
            state.end_to_end_id.clone(),
            StoredPixState {
                state: state.clone(),
                version: expected_version + 1,
                published,
            },
        );
        if let Some(entry) = counted {
            let tally = t.day_tallies.entry(entry.business_date).or_default();
            tally.entry_count += 1;
            tally.total_amount += entry.amount;
        }
        t.outbox.extend_from_slice(outbox);
        Ok(())
    }

    async fn save_rejected_input(
        &self,
        rejected: &RejectedInput,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut t = lock(&self.tables);
        if !t.rejected_inputs.contains_key(&rejected.id) {
            t.rejected_inputs
                .insert(rejected.id.clone(), rejected.clone());
            t.outbox.extend_from_slice(outbox);
        }
        Ok(())
    }

    async fn day_tally(&self, business_date: NaiveDate) -> Result<DayTally, StoreError> {
        Ok(lock(&self.tables)
            .day_tallies
            .get(&business_date)
            .copied()
            .unwrap_or_default())
    }

    async fn close_pix_day(&self, business_date: NaiveDate) -> Result<(), StoreError> {
        lock(&self.tables).closed_pix_days.insert(business_date);
        Ok(())
    }

    async fn pix_day_closed(&self, business_date: NaiveDate) -> Result<bool, StoreError> {
        Ok(lock(&self.tables).closed_pix_days.contains(&business_date))
    }

    async fn open_pix_ids(&self, business_date: NaiveDate) -> Result<Vec<String>, StoreError> {
        Ok(lock(&self.tables)
            .pix
            .values()
            .filter(|s| {
                !s.state.is_decided() && s.state.relevant_business_date() == Some(business_date)
            })
            .map(|s| s.state.end_to_end_id.clone())
            .collect())
    }
}

#[path = "memory_queues.rs"]
mod queues;
pub use queues::{MemoryBus, MemoryQueue};
