//! Ports: the capabilities the functions need, named for what they do.
//! Adapters in `crate::adapters` provide them on DynamoDB, SQS and EventBridge.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use crate::clearing::{Adjustment, AuthorizationClaim, ClearingMessage, ClearingStatus};
use crate::events::OutboundEvent;
use crate::outbox::OutboxEntry;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stored message is no longer at the version the change was computed from.
    #[error("clearing message {0} changed concurrently")]
    VersionConflict(String),
    /// The authorization was claimed by another first presentment meanwhile.
    #[error("authorization {0} was claimed by another clearing")]
    ClaimLost(String),
    #[error("{0}")]
    InvalidCursor(String),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store will never take this write or read as asked (DynamoDB's
    /// ValidationException: a key too long, an item too large); retrying cannot help.
    #[error("the store refused the request as invalid: {0}")]
    Refused(String),
}

/// What happened to a message offered for first storage.
#[derive(Debug)]
pub enum InsertOutcome {
    Inserted,
    /// Stored before (a redelivery); the stored message is returned unchanged.
    AlreadyStored(Box<ClearingMessage>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationSaved {
    Inserted,
    AlreadyStored,
}

/// An operator's reconciliation request, recorded with the state change it caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationRequest {
    pub request_id: String,
    pub card_network: String,
    pub card_hash: String,
    pub reconciliation_reason: String,
    pub adjustments: Vec<Adjustment>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub clearing_unique_ids: Vec<String>,
}

/// The records of one notification, as the searches find them: in arrival
/// order, and by transaction date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// The `received_at` of every message this notification stores.
    pub received_at: DateTime<Utc>,
    /// Every record's id, in the notification's order.
    pub clearing_unique_ids: Vec<String>,
    /// The ids of the records with a valid transaction date, by that date.
    pub by_transaction_date: std::collections::BTreeMap<NaiveDate, Vec<String>>,
    listed: std::collections::HashSet<String>,
}

impl Arrivals {
    pub fn new(received_at: DateTime<Utc>) -> Self {
        Self {
            received_at,
            clearing_unique_ids: Vec::new(),
            by_transaction_date: Default::default(),
            listed: Default::default(),
        }
    }

    /// Adds a record; a second record with the same id in one notification is
    /// the same stored message, listed once.
    pub fn add(&mut self, clearing_unique_id: &str, transaction_date: Option<NaiveDate>) {
        if !self.listed.insert(clearing_unique_id.to_owned()) {
            return;
        }
        self.clearing_unique_ids.push(clearing_unique_id.to_owned());
        if let Some(date) = transaction_date {
            self.by_transaction_date
                .entry(date)
                .or_default()
                .push(clearing_unique_id.to_owned());
        }
    }
}

/// One page of results and where the next one starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The Mastercard Clearing API's four search forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearingSearch {
    TransUid(String),
    DateRange { start: NaiveDate, end: NaiveDate },
    AfterDate(NaiveDate),
    Cursor(String),
}

/// Most days one date search covers (a range, or the days after a date).
pub const MAX_SEARCH_DAYS: u64 = 366;

impl ClearingSearch {
    /// The transaction dates a date search covers, both ends included: a range
    /// as given; after a date, from the next day for at most
    /// [`MAX_SEARCH_DAYS`], not past `today`. Every walk over days is bounded,
    /// whatever date the caller sends.
    pub fn transaction_days(&self, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        match self {
            Self::DateRange { start, end } => Some((*start, *end)),
            Self::AfterDate(after) => {
                let start = after.succ_opt()?;
                let last = after
                    .checked_add_days(chrono::Days::new(MAX_SEARCH_DAYS))
                    .unwrap_or(NaiveDate::MAX);
                Some((start, last.min(today)))
            }
            Self::TransUid(_) | Self::Cursor(_) => None,
        }
    }
}

#[async_trait]
pub trait ClearingStore: Send + Sync {
    /// Authorizations for the keys, read in batches; missing keys are absent.
    async fn authorizations(
        &self,
        keys: &[AuthorizationKey],
    ) -> Result<HashMap<AuthorizationKey, Authorization>, StoreError>;

    /// Stores a new authorization with `outbox` in its item, or reports it stored already
    /// (then writes nothing).
    async fn save_authorization(
        &self,
        authorization: &Authorization,
        outbox: &[OutboxEntry],
    ) -> Result<AuthorizationSaved, StoreError>;

    async fn save_rejected_authorization(
        &self,
        rejected: &RejectedAuthorization,
    ) -> Result<(), StoreError>;

    /// The authorization stored under a transUid, read strongly consistent:
    /// what a change is computed from.
    async fn authorization(&self, trans_uid: &str) -> Result<Option<Authorization>, StoreError>;

    /// Writes an authorization's new state and history (never its claim), only
    /// if it is still at `expected_version` and its claim is still the one
    /// `authorization.claimed_by` names; else [`StoreError::VersionConflict`].
    /// `outbox` (this change's entries) is written in the same item.
    async fn update_authorization(
        &self,
        authorization: &Authorization,
        expected_version: u64,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError>;

    /// Stores a new message (and takes its authorization claim) unless a
    /// message with that id is stored already; `outbox` is written in the
    /// message's item (announced from the table's stream).
    async fn insert_message(
        &self,
        message: &ClearingMessage,
        claim: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<InsertOutcome, StoreError>;

    /// Replaces messages, each only if still at its expected version, all or
    /// nothing, together with an authorization claim and the operator request.
    /// `outbox` is written in the same transaction: in the request's item when
    /// there is one, else in the first message's.
    async fn update_messages(
        &self,
        updates: &[(ClearingMessage, u64)],
        claim: Option<&AuthorizationClaim>,
        request: Option<&ReconciliationRequest>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError>;

    /// Notes a notification's records before any of them is stored, for the
    /// searches by arrival and by transaction date. A record noted but never
    /// stored, or stored by another delivery, is passed over by the searches.
    async fn note_arrivals(&self, arrivals: &Arrivals) -> Result<(), StoreError>;

    /// Records a refused conflicting record with its announcement (idempotent:
    /// the same refused payload under the same id is one record).
    async fn save_conflict(
        &self,
        conflict: &crate::clearing::conflict::ClearingConflict,
        outbox: &[crate::outbox::OutboxEntry],
    ) -> Result<(), StoreError>;

    async fn message(
        &self,
        clearing_unique_id: &str,
    ) -> Result<Option<ClearingMessage>, StoreError>;

    async fn messages_for_card(
        &self,
        card_network: &str,
        card_hash: &str,
        status: Option<ClearingStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError>;

    async fn open_messages(
        &self,
        status: ClearingStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError>;

    /// Mastercard-style search with offset/limit; the cursor form returns the
    /// next cursor.
    async fn search(
        &self,
        search: &ClearingSearch,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError>;
}

/// A bulk action as stored, or the one an earlier request with the same
/// idempotency key started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkStarted {
    Started,
    Existing(crate::console::BulkAction),
}

/// What the authorization expiry sweep needs besides the clearing store.
#[async_trait]
pub trait ExpiryStore: ClearingStore {
    /// Up to `limit` transUids of authorizations awaiting their expiry whose
    /// expiry is at or before `due_by`, looked for on the sweep days from
    /// `since` to `due_by`'s day (oldest first). Never a scan.
    async fn due_authorizations(
        &self,
        due_by: DateTime<Utc>,
        since: NaiveDate,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}

/// What the operators' console reads and writes beyond the clearing store.
#[async_trait]
pub trait ConsoleStore: ClearingStore {
    /// One page of the queue (`filter.status`), by received time, every filter applied.
    async fn queue_page(
        &self,
        filter: &crate::console::QueueFilter,
        descending: bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<crate::console::QueueRow>, StoreError>;

    /// Every queue row the filter admits, oldest first, at most `max + 1`
    /// (one more than `max` says there are more).
    async fn queue_rows(
        &self,
        filter: &crate::console::QueueFilter,
        max: usize,
    ) -> Result<Vec<crate::console::QueueRow>, StoreError>;

    /// A forced match undone: the message written if still at `expected_version`,
    /// with the authorization's claim given back and `outbox` in the same write.
    async fn undo_match(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        release: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError>;

    /// The message (if still at `expected_version`, with `outbox`) and the
    /// write-off, in one write; a decided write-off only if it was still
    /// awaiting approval.
    async fn save_write_off(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        write_off: &crate::console::WriteOff,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError>;

    async fn write_off(&self, id: &str) -> Result<Option<crate::console::WriteOff>, StoreError>;

    /// Newest first, at most `limit`.
    async fn write_offs(
        &self,
        status: crate::console::WriteOffStatus,
        limit: usize,
    ) -> Result<Vec<crate::console::WriteOff>, StoreError>;

    /// Stores a new bulk action unless its operator's idempotency key started one.
    async fn start_bulk(
        &self,
        bulk: &crate::console::BulkAction,
    ) -> Result<BulkStarted, StoreError>;

    async fn bulk(
        &self,
        bulk_id: &str,
    ) -> Result<Option<(crate::console::BulkAction, Vec<crate::console::BulkItem>)>, StoreError>;

    /// Records the outcomes of the items from `done` on and moves `done` past
    /// them, only if `done` is still what it was (VersionConflict otherwise).
    async fn record_bulk_items(
        &self,
        bulk_id: &str,
        done: usize,
        items: &[crate::console::BulkItem],
    ) -> Result<(), StoreError>;

    /// Every clearing message received on `day` (UTC), as list rows.
    async fn received_on(
        &self,
        day: NaiveDate,
    ) -> Result<Vec<crate::console::QueueRow>, StoreError>;

    /// The Pix reconciliations whose business day is `day`, at most `max + 1`.
    async fn pix_results(
        &self,
        day: NaiveDate,
        max: usize,
    ) -> Result<Vec<crate::console::PixResultRow>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
#[error("work queue unavailable: {0}")]
pub struct QueueError(pub String);

/// The reprocessing work queue (the outbox publisher queues jobs on it).
#[async_trait]
pub trait WorkQueue: Send + Sync {
    async fn enqueue(&self, job: &crate::jobs::ReprocessingJob) -> Result<(), QueueError>;
}

#[derive(Debug, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct EventBusError(pub String);

/// The outbound event bus (the outbox publisher announces on it). Publishing is at least once: a failed entry is
/// resent, and an error means some event may not have been delivered.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), EventBusError>;
}

/// A stored Pix reconciliation state with its version and whether its event went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPixState {
    pub state: crate::pix::PixReconciliation,
    pub version: u64,
    pub published: bool,
}

/// A queued input that can never be read (not JSON, a field that does not
/// parse): kept with its reason instead of being retried to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedInput {
    /// Stable per queue and body: a redelivery is the same rejection.
    pub id: String,
    /// The queue it came from (its ARN).
    pub queue: String,
    pub reason: String,
    pub body: String,
    pub rejected_at: DateTime<Utc>,
}

/// A provider entry a Pix write applies for the first time: counted in its
/// report day's tally in the same write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayEntry {
    pub business_date: NaiveDate,
    pub amount: rust_decimal::Decimal,
}

/// The provider entries applied for one report day: how many, and their total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayTally {
    pub entry_count: u64,
    pub total_amount: rust_decimal::Decimal,
}

/// Storage of Pix reconciliation states (one per end_to_end_id) and closed report days.
#[async_trait]
pub trait PixStore: Send + Sync {
    async fn pix_state(&self, end_to_end_id: &str) -> Result<Option<StoredPixState>, StoreError>;
    /// Writes `state` as version `expected_version + 1`, only if the stored
    /// version is still `expected_version` (0: not stored yet), with `outbox`
    /// in the same item; `published`: its decision is announced (in this
    /// outbox or an earlier one).
    async fn save_pix_state(
        &self,
        state: &crate::pix::PixReconciliation,
        expected_version: u64,
        published: bool,
        outbox: &[OutboxEntry],
        counted: Option<DayEntry>,
    ) -> Result<(), StoreError>;
    /// Records an input that can never be read, with `outbox` (its
    /// announcement), once: a second record of the same id changes nothing.
    async fn save_rejected_input(
        &self,
        rejected: &RejectedInput,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError>;
    /// The provider entries applied so far for `business_date`.
    async fn day_tally(&self, business_date: NaiveDate) -> Result<DayTally, StoreError>;
    async fn close_pix_day(&self, business_date: NaiveDate) -> Result<(), StoreError>;
    async fn pix_day_closed(&self, business_date: NaiveDate) -> Result<bool, StoreError>;
    /// End-to-end ids still undecided whose relevant business day is `business_date`.
    async fn open_pix_ids(&self, business_date: NaiveDate) -> Result<Vec<String>, StoreError>;
}

/// The versions of the matching rules document. Versions are only added,
/// never changed.
#[async_trait]
pub trait RulesStore: Send + Sync {
    /// The highest version stored, if any is.
    async fn current_rules(&self) -> Result<Option<crate::clearing::RulesVersion>, StoreError>;

    /// Stores `version` with the change's `outbox`, only if no version with
    /// its number is stored: `false` (nothing written) if one is.
    async fn add_rules_version(
        &self,
        version: &crate::clearing::RulesVersion,
        outbox: &[OutboxEntry],
    ) -> Result<bool, StoreError>;

    /// Up to `limit` versions below `before` (all if `None`), newest first.
    async fn rules_versions(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<crate::clearing::RulesVersion>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_days_after_a_date_are_bounded_whatever_the_date() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let today = d("2026-11-23");
        let after = |date: NaiveDate| ClearingSearch::AfterDate(date).transaction_days(today);
        assert_eq!(
            after(d("2024-04-30")),
            Some((d("2024-05-01"), d("2025-05-01")))
        );
        assert_eq!(after(d("2026-11-01")), Some((d("2026-11-02"), today)));
        let (start, end) = after(NaiveDate::MIN).unwrap();
        assert!(end.signed_duration_since(start).num_days() < MAX_SEARCH_DAYS as i64);
        assert_eq!(after(NaiveDate::MAX), None);
        let (start, end) = after(d("2030-01-01")).unwrap();
        assert!(start > end, "after a future date: no day to walk");
    }

    #[test]
    fn arrivals_list_each_id_once_and_group_valid_dates() {
        let day = NaiveDate::from_ymd_opt(2024, 4, 24).unwrap();
        let mut a = Arrivals::new(Utc::now());
        a.add("A", Some(day));
        a.add("B", None);
        a.add("A", Some(day));
        a.add("C", Some(day));
        assert_eq!(a.clearing_unique_ids, ["A", "B", "C"]);
        assert_eq!(a.by_transaction_date[&day], ["A", "C"]);
    }
}
