//! The operators' console: what its lists, reports and bulk actions are made
//! of. Pure types and functions; the store methods are the `ConsoleStore` port.
//!
//! - `QueueRow`: one message as the lists show it (a small index projection).
//! - `QueueFilter`, `QueueSort`: the list query.
//! - `WriteOff`: a maker's request, decided by a checker.
//! - `BulkAction`, `BulkItem`: many messages, one action, per-item outcome.
//! - `summary`: queue summary (reasons, aging) and daily summary.
//! - `csv`: RFC 4180 export.

pub mod csv;
pub mod explain;
pub mod summary;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clearing::ClearingStatus;

/// One clearing message as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueRow {
    pub clearing_unique_id: String,
    pub card_network: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub card_hash: Option<String>,
    pub status: ClearingStatus,
    pub version: u64,
    /// The pending reason's code, else null.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub pending_reason: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub pending_detail: Option<String>,
    pub received_at: DateTime<Utc>,
    /// When it entered its current status.
    pub pending_since: DateTime<Utc>,
    /// transactionAmount exactly as received, else null.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub amount: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub currency: Option<String>,
}

impl QueueRow {
    pub fn amount_value(&self) -> Option<Decimal> {
        self.amount.as_deref().and_then(|a| a.trim().parse().ok())
    }
}

/// The list query's filters; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueFilter {
    /// PENDING, REPROCESSING or WRITE_OFF_REQUESTED (default PENDING).
    #[serde(default)]
    pub status: Option<ClearingStatus>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub card_network: Option<String>,
    #[serde(default)]
    pub card_hash: Option<String>,
    /// First received date, inclusive.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last received date, inclusive.
    #[serde(default)]
    pub to: Option<NaiveDate>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub min_amount: Option<Decimal>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub max_amount: Option<Decimal>,
}

/// The statuses the console's queue lists.
pub const QUEUE_STATUSES: [ClearingStatus; 3] = [
    ClearingStatus::Pending,
    ClearingStatus::Reprocessing,
    ClearingStatus::WriteOffRequested,
];

pub fn is_queue_status(status: ClearingStatus) -> bool {
    QUEUE_STATUSES.contains(&status)
}

impl QueueFilter {
    pub fn status(&self) -> ClearingStatus {
        self.status.unwrap_or(ClearingStatus::Pending)
    }

    /// Whether a row passes the filters the index key does not apply.
    pub fn admits(&self, row: &QueueRow) -> bool {
        let amount = row.amount_value();
        let within = |bound: Option<Decimal>, ok: fn(Decimal, Decimal) -> bool| match bound {
            None => true,
            Some(b) => amount.is_some_and(|a| ok(a, b)),
        };
        row.status == self.status()
            && self
                .reason
                .as_ref()
                .is_none_or(|r| row.pending_reason.as_ref() == Some(r))
            && self
                .card_network
                .as_ref()
                .is_none_or(|n| n.eq_ignore_ascii_case(&row.card_network))
            && self
                .card_hash
                .as_ref()
                .is_none_or(|c| row.card_hash.as_ref() == Some(c))
            && self.from.is_none_or(|d| row.received_at.date_naive() >= d)
            && self.to.is_none_or(|d| row.received_at.date_naive() <= d)
            && within(self.min_amount, |a, b| a >= b)
            && within(self.max_amount, |a, b| a <= b)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueSort {
    #[default]
    ReceivedAsc,
    ReceivedDesc,
    AmountAsc,
    AmountDesc,
}

impl QueueSort {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "received_at" => Self::ReceivedAsc,
            "-received_at" => Self::ReceivedDesc,
            "amount" => Self::AmountAsc,
            "-amount" => Self::AmountDesc,
            _ => return None,
        })
    }

    pub fn by_amount(self) -> bool {
        matches!(self, Self::AmountAsc | Self::AmountDesc)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WriteOffStatus {
    AwaitingApproval,
    Approved,
    Rejected,
}

impl WriteOffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "AWAITING_APPROVAL",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::AwaitingApproval, Self::Approved, Self::Rejected]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// A maker's write-off request and, once taken, the checker's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WriteOff {
    pub write_off_id: String,
    pub clearing_unique_id: String,
    pub status: WriteOffStatus,
    pub reason: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub remark: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub decided_by: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub decided_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub decision_reason: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub amount: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BulkKind {
    #[serde(rename = "reprocess")]
    Reprocess,
    #[serde(rename = "write-off")]
    WriteOff,
}

/// At most this many messages per bulk action.
pub const MAX_BULK_ITEMS: usize = 1_000;
/// Items done per API call that advances a bulk action.
pub const BULK_CHUNK: usize = 25;

/// Many messages, one action; `done` items have their outcome recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkAction {
    pub bulk_id: String,
    pub action: BulkKind,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub idempotency_key: String,
    pub reason: String,
    pub remark: Option<String>,
    pub clearing_unique_ids: Vec<String>,
    /// Items with a recorded outcome (always a whole number of chunks, or all).
    pub done: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BulkOutcome {
    Accepted,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkItem {
    pub clearing_unique_id: String,
    pub outcome: BulkOutcome,
    pub detail: String,
}

/// One Pix reconciliation as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PixResultRow {
    pub end_to_end_id: String,
    /// The result description, or UNDECIDED.
    pub outcome: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub transaction_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub amount: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub provider_amount: Option<String>,
}

pub const PIX_UNDECIDED: &str = "UNDECIDED";

impl PixResultRow {
    pub fn of(state: &crate::pix::PixReconciliation) -> Self {
        Self {
            end_to_end_id: state.end_to_end_id.clone(),
            outcome: state
                .outcome
                .and_then(|o| serde_json::to_value(o.result_description).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| PIX_UNDECIDED.into()),
            transaction_id: state.transaction.as_ref().map(|t| t.transaction_id.clone()),
            amount: state.transaction.as_ref().map(|t| t.amount.to_string()),
            provider_amount: state
                .provider_entry
                .as_ref()
                .map(|p| p.provider_amount.to_string()),
        }
    }
}
