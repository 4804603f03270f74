//! The clearing store on DynamoDB: one table (see ARCHITECTURE.md).
//!
//! Items:
//! - `CLR#<clearingUniqueId>` / `MESSAGE`: a clearing message: the attributes of
//!   the indexes below, of the conditions (`version`, `status`) and of a list
//!   row, and the rest (raw payload, history, outcome) with the outbox of the
//!   change that wrote it packed in one binary attribute, `packed` (`crate::packed`);
//!   its fields are not stored but read again from the raw payload with the
//!   history's adjustments.
//! - `AUTH#<transUid>` / `AUTHORIZATION`: an authorization with its `version` and
//!   `history`; `claimed_by` (the first presentment to clear it) and one
//!   `cleared#<clearingUniqueId>` attribute per presentment that cleared it.
//! - `AUTHREF#<network>#<reference>#<settlementDate>` / `ALIAS`: points to the transUid.
//! - `AUTHREJ#<digest>` / `REJECTED`: an authorization record that could not be read.
//! - `CONFLICT#<clearingUniqueId>` / `<payload digest>`: a record refused because
//!   different content is stored under its id, with the refused payload.
//! - `RECON#<requestId>` / `REQUEST`: an operator's reconciliation request.
//! - `META` / `INGEST_DAYS`: the set of days on which records arrived (for the cursor search).
//! - `ARRIVED#<day>` / `<received>#<nonce>`: the ids of one notification's records, in order
//!   (the cursor search walks these instead of a per-record index).
//! - `TXNDATE#<date>` / `<received>#<nonce>`: the ids of one notification's records with that
//!   transaction date, and one per adjusted date (the date searches walk these).
//! - `PIX#<endToEndId>` / `STATE` and `PIXDAY#<date>` / `CLOSED`: the Pix store.
//!
//! - `WOFF#<id>` / `REQUEST`, `BULK#<id>` / `ACTION` and `ITEMS#<n>`,
//!   `BULKKEY#<operator>#<key>` / `KEY`: the console's write-offs and bulk actions.
//!
//! Four global secondary indexes, all keys only (the items are then read by key),
//! and `ByQueue`, the console's lists, projecting a list row (see `console`):
//! - `ByCard`: `card_key` (`<network>#<card hash>`) / `card_sort` (`<status>#<received>#<id>`).
//! - `ByOpenStatus`, sparse: `open_status` / `open_sort`; undecided Pix states
//!   (`PIX_OPEN#<date>`). PENDING and REPROCESSING messages are listed by
//!   `ByQueue` (`Q#<status>` / `<received>#<id>`): one index entry a message.
//! - `ByTransUid`, sparse: `trans_uid` / `ingest_sort`; every message with a
//!   transUid except the one holding that authorization's claim.
//! - `ByExpiry`, sparse: `expiry_pk` / `expiry_sk`; authorizations awaiting
//!   their expiry, by sweep day (see `expiry`).
//!
//! One file a concern: `items` (item mapping), `reads` (reads by key),
//! `authorizations`, `messages` (writes and claims), `searches` (index lists),
//! `manifests` (arrival and date manifests, their searches), `cursors`, `pix`, `console`,
//! `rules` (the matching rules' versions, `RULES` / `V#<version>`),
//! and `capacity` (the benchmark's meter, behind the `capacity-meter` feature).

mod authorizations;
mod capacity;
mod console;
mod cursors;
mod expiry;
mod items;
mod manifests;
mod messages;
mod pix;
mod reads;
mod rules;
mod searches;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_sdk_dynamodb::Client;

use crate::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use crate::clearing::conflict::ClearingConflict;
use crate::clearing::{AuthorizationClaim, ClearingMessage, ClearingStatus};
use crate::outbox::OutboxEntry;
use crate::ports::{
    Arrivals, AuthorizationSaved, ClearingSearch, ClearingStore, InsertOutcome, Page,
    ReconciliationRequest, StoreError,
};

#[cfg(feature = "capacity-meter")]
pub use capacity::CapacityMeter;
pub use console::INDEX_BY_QUEUE;
pub use expiry::INDEX_BY_EXPIRY;
pub use items::message_pk;

type Item = HashMap<String, AttributeValue>;

pub const INDEX_BY_CARD: &str = "ByCard";
pub const INDEX_BY_OPEN_STATUS: &str = "ByOpenStatus";
pub const INDEX_BY_TRANS_UID: &str = "ByTransUid";

#[derive(Clone)]
pub struct DynamoDbClearingStore {
    client: Client,
    table: String,
    metering: capacity::Metering,
}

impl DynamoDbClearingStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            metering: capacity::Metering::default(),
        }
    }

    /// Puts an item unconditionally.
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        let resp = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await
            .map_err(sdk_error)?;
        self.metering.write(resp.consumed_capacity());
        Ok(())
    }
}

/// The item a new clearing message is written as, with the outbox of that
/// write: what the table's stream hands the outbox publisher (its sample
/// event in `events/outbox-publisher/` is made of it).
pub fn new_message_item(
    message: &ClearingMessage,
    outbox: &[OutboxEntry],
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    items::message_item(message, outbox)
}

fn unavailable<E: std::fmt::Debug>(e: E) -> StoreError {
    StoreError::Unavailable(format!("{e:?}").chars().take(600).collect())
}

/// A DynamoDB call's error: a ValidationException (an item or key DynamoDB
/// will never take: a key too long, an item too large) is refused, since
/// retrying cannot help; anything else may pass, so it is unavailable.
fn sdk_error<E: ProvideErrorMetadata + std::fmt::Debug>(e: E) -> StoreError {
    if e.code() == Some("ValidationException") {
        let why = e.message().unwrap_or("ValidationException").to_owned();
        tracing::error!(error = %why, "DynamoDB refused the request as invalid");
        StoreError::Refused(why)
    } else {
        unavailable(e)
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn is_conditional_failure<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// Why each item of a cancelled transaction failed, in the order written.
fn cancellation_reasons<R>(
    e: &SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<CancellationReason>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
            Some(t.cancellation_reasons().to_vec())
        }
        _ => None,
    }
}

fn failed_condition(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

/// The port, each method on the inherent method of the same name in its concern's file.
#[async_trait]
impl ClearingStore for DynamoDbClearingStore {
    async fn authorizations(
        &self,
        keys: &[AuthorizationKey],
    ) -> Result<HashMap<AuthorizationKey, Authorization>, StoreError> {
        DynamoDbClearingStore::authorizations(self, keys).await
    }

    async fn save_authorization(
        &self,
        auth: &Authorization,
        outbox: &[OutboxEntry],
    ) -> Result<AuthorizationSaved, StoreError> {
        DynamoDbClearingStore::save_authorization(self, auth, outbox).await
    }

    async fn save_rejected_authorization(
        &self,
        rejected: &RejectedAuthorization,
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::save_rejected_authorization(self, rejected).await
    }

    async fn authorization(&self, trans_uid: &str) -> Result<Option<Authorization>, StoreError> {
        DynamoDbClearingStore::authorization(self, trans_uid).await
    }

    async fn update_authorization(
        &self,
        authorization: &Authorization,
        expected_version: u64,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::update_authorization(self, authorization, expected_version, outbox)
            .await
    }

    async fn insert_message(
        &self,
        message: &ClearingMessage,
        claim: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<InsertOutcome, StoreError> {
        DynamoDbClearingStore::insert_message(self, message, claim, outbox).await
    }

    async fn update_messages(
        &self,
        updates: &[(ClearingMessage, u64)],
        claim: Option<&AuthorizationClaim>,
        request: Option<&ReconciliationRequest>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::update_messages(self, updates, claim, request, outbox).await
    }

    async fn note_arrivals(&self, arrivals: &Arrivals) -> Result<(), StoreError> {
        DynamoDbClearingStore::note_arrivals(self, arrivals).await
    }

    async fn save_conflict(
        &self,
        conflict: &ClearingConflict,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::save_conflict(self, conflict, outbox).await
    }

    async fn message(&self, id: &str) -> Result<Option<ClearingMessage>, StoreError> {
        DynamoDbClearingStore::message(self, id).await
    }

    async fn messages_for_card(
        &self,
        card_network: &str,
        card_hash: &str,
        status: Option<ClearingStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        DynamoDbClearingStore::messages_for_card(
            self,
            card_network,
            card_hash,
            status,
            limit,
            cursor,
        )
        .await
    }

    async fn open_messages(
        &self,
        status: ClearingStatus,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        DynamoDbClearingStore::open_messages(self, status, limit, cursor).await
    }

    async fn search(
        &self,
        search: &ClearingSearch,
        offset: usize,
        limit: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        DynamoDbClearingStore::search(self, search, offset, limit).await
    }
}

/// The console's port, each method on the inherent method in `console.rs`.
#[async_trait]
impl crate::ports::ConsoleStore for DynamoDbClearingStore {
    async fn queue_page(
        &self,
        filter: &crate::console::QueueFilter,
        descending: bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<crate::console::QueueRow>, StoreError> {
        DynamoDbClearingStore::queue_page(self, filter, descending, limit, cursor).await
    }

    async fn queue_rows(
        &self,
        filter: &crate::console::QueueFilter,
        max: usize,
    ) -> Result<Vec<crate::console::QueueRow>, StoreError> {
        DynamoDbClearingStore::queue_rows(self, filter, max).await
    }

    async fn undo_match(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        release: Option<&AuthorizationClaim>,
        outbox: &[crate::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::undo_match(self, message, expected_version, release, outbox).await
    }

    async fn save_write_off(
        &self,
        message: &ClearingMessage,
        expected_version: u64,
        write_off: &crate::console::WriteOff,
        outbox: &[crate::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::save_write_off(self, message, expected_version, write_off, outbox)
            .await
    }

    async fn write_off(&self, id: &str) -> Result<Option<crate::console::WriteOff>, StoreError> {
        DynamoDbClearingStore::write_off(self, id).await
    }

    async fn write_offs(
        &self,
        status: crate::console::WriteOffStatus,
        limit: usize,
    ) -> Result<Vec<crate::console::WriteOff>, StoreError> {
        DynamoDbClearingStore::write_offs(self, status, limit).await
    }

    async fn start_bulk(
        &self,
        bulk: &crate::console::BulkAction,
    ) -> Result<crate::ports::BulkStarted, StoreError> {
        DynamoDbClearingStore::start_bulk(self, bulk).await
    }

    async fn bulk(
        &self,
        bulk_id: &str,
    ) -> Result<Option<(crate::console::BulkAction, Vec<crate::console::BulkItem>)>, StoreError>
    {
        DynamoDbClearingStore::bulk(self, bulk_id).await
    }

    async fn record_bulk_items(
        &self,
        bulk_id: &str,
        done: usize,
        items: &[crate::console::BulkItem],
    ) -> Result<(), StoreError> {
        DynamoDbClearingStore::record_bulk_items(self, bulk_id, done, items).await
    }

    async fn received_on(
        &self,
        day: chrono::NaiveDate,
    ) -> Result<Vec<crate::console::QueueRow>, StoreError> {
        DynamoDbClearingStore::received_on(self, day).await
    }

    async fn pix_results(
        &self,
        day: chrono::NaiveDate,
        max: usize,
    ) -> Result<Vec<crate::console::PixResultRow>, StoreError> {
        DynamoDbClearingStore::pix_results(self, day, max).await
    }
}

/// The expiry sweep's port, on `expiry.rs`.
#[async_trait]
impl crate::ports::ExpiryStore for DynamoDbClearingStore {
    async fn due_authorizations(
        &self,
        due_by: chrono::DateTime<chrono::Utc>,
        since: chrono::NaiveDate,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        DynamoDbClearingStore::due_authorizations(self, due_by, since, limit).await
    }
}
