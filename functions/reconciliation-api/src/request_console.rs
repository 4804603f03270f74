//! The console endpoints' requests as types: bodies with a required reason,
//! and the query strings of the summaries and reports.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

use shared::api_error::ApiError;
use shared::clearing::fields::parse_date;
use shared::clearing::ClearingStatus;
use shared::console::{is_queue_status, BulkKind, QueueFilter, WriteOffStatus};
use shared::services::{BulkCommand, BulkSelection};

use crate::request::MAX_TEXT_CHARS;

/// Longest remark on a write-off.
pub const MAX_REMARK_CHARS: usize = 1000;

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(D::Error::custom(format!(
            "is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(text)
}

fn remark<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_REMARK_CHARS)
    {
        return Err(D::Error::custom(format!(
            "is longer than {MAX_REMARK_CHARS} characters"
        )));
    }
    Ok(text.filter(|t| !t.trim().is_empty()))
}

pub(crate) fn status_text<E: serde::de::Error>(text: &str) -> Result<ClearingStatus, E> {
    ClearingStatus::parse(text).ok_or_else(|| {
        E::custom(format!(
            "`{text}` is not RECEIVED, MATCHED, PENDING, REPROCESSING, WRITE_OFF_REQUESTED or WRITTEN_OFF"
        ))
    })
}

pub(crate) fn queue_status<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<ClearingStatus>, D::Error> {
    let status = status_text(&String::deserialize(d)?)?;
    if !is_queue_status(status) {
        return Err(D::Error::custom(
            "the queue lists PENDING, REPROCESSING or WRITE_OFF_REQUESTED",
        ));
    }
    Ok(Some(status))
}

pub(crate) fn date_param<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text = String::deserialize(d)?;
    parse_date(&text).map(Some).map_err(D::Error::custom)
}

pub(crate) fn amount_param<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let text = String::deserialize(d)?;
    text.trim()
        .parse::<Decimal>()
        .map(Some)
        .map_err(|_| D::Error::custom(format!("`{text}` is not a decimal amount")))
}

/// Body of force match.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForceMatchBody {
    /// The authorization to match with
    #[serde(deserialize_with = "required_text")]
    pub authorization_trans_uid: String,
    /// Why (recorded in history)
    #[serde(deserialize_with = "required_text")]
    pub reason: String,
}

/// Body of undo match, approve and reject.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why (recorded in history)
    #[serde(deserialize_with = "required_text")]
    pub reason: String,
}

/// Body of a write-off request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOffBody {
    /// Why (recorded in history)
    #[serde(deserialize_with = "required_text")]
    pub reason: String,
    /// Free text for the checker, up to 1000 characters
    #[serde(default, deserialize_with = "remark")]
    pub remark: Option<String>,
}

/// The list filters, as a bulk action's `filter`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    /// PENDING (default), REPROCESSING or WRITE_OFF_REQUESTED
    #[serde(default, deserialize_with = "queue_status")]
    #[schema(value_type = Option<String>)]
    pub status: Option<ClearingStatus>,
    pub reason: Option<String>,
    pub card_network: Option<String>,
    pub card_hash: Option<String>,
    #[serde(default, deserialize_with = "date_param")]
    pub from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "date_param")]
    pub to: Option<NaiveDate>,
    #[serde(default, deserialize_with = "amount_param")]
    #[schema(value_type = Option<String>)]
    pub min_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "amount_param")]
    #[schema(value_type = Option<String>)]
    pub max_amount: Option<Decimal>,
}

impl From<FilterBody> for QueueFilter {
    fn from(f: FilterBody) -> Self {
        QueueFilter {
            status: f.status,
            reason: f.reason,
            card_network: f.card_network.map(|n| n.to_ascii_uppercase()),
            card_hash: f.card_hash,
            from: f.from,
            to: f.to,
            min_amount: f.min_amount,
            max_amount: f.max_amount,
        }
    }
}

/// Body of a bulk action: exactly one of clearingUniqueIds and filter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    /// `reprocess` or `write-off`
    #[schema(value_type = String)]
    pub action: BulkKind,
    pub clearing_unique_ids: Option<Vec<String>>,
    pub filter: Option<FilterBody>,
    #[serde(deserialize_with = "required_text")]
    pub reason: String,
    #[serde(default, deserialize_with = "remark")]
    pub remark: Option<String>,
    /// The client's key for this action: sent again, the same bulkId comes back
    #[serde(deserialize_with = "required_text")]
    pub idempotency_key: String,
}

impl BulkBody {
    pub fn into_command(self) -> Result<BulkCommand, ApiError> {
        let selection = match (self.clearing_unique_ids, self.filter) {
            (Some(ids), None) if !ids.is_empty() => BulkSelection::Ids(ids),
            (None, Some(filter)) => BulkSelection::Filter(filter.into()),
            _ => {
                return Err(ApiError::InvalidBody(
                    "give exactly one of clearingUniqueIds (not empty) and filter".into(),
                ))
            }
        };
        Ok(BulkCommand {
            action: self.action,
            selection,
            reason: self.reason,
            remark: self.remark,
            idempotency_key: self.idempotency_key,
        })
    }
}

/// `GET /v1/queue/summary`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// PENDING (default), REPROCESSING or WRITE_OFF_REQUESTED
    #[serde(default, deserialize_with = "queue_status")]
    #[param(value_type = Option<String>)]
    pub status: Option<ClearingStatus>,
}

fn write_off_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WriteOffStatus>, D::Error> {
    let text = String::deserialize(d)?;
    WriteOffStatus::parse(&text).map(Some).ok_or_else(|| {
        D::Error::custom(format!(
            "`{text}` is not AWAITING_APPROVAL, APPROVED or REJECTED"
        ))
    })
}

/// `GET /v1/write-offs`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WriteOffsQuery {
    /// AWAITING_APPROVAL (default), APPROVED or REJECTED
    #[serde(default, deserialize_with = "write_off_status")]
    #[param(value_type = Option<String>)]
    pub status: Option<WriteOffStatus>,
}

/// `GET /v1/reports/daily-summary`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// Days back from today, 1 to 90
    #[param(minimum = 1, maximum = 90, default = 30)]
    pub days: Option<u32>,
}

impl DailyQuery {
    pub fn days(&self) -> Result<u32, ApiError> {
        match self.days {
            None => Ok(30),
            Some(d) if (1..=90).contains(&d) => Ok(d),
            Some(_) => Err(ApiError::InvalidQuery(
                "days must be a whole number from 1 to 90".into(),
            )),
        }
    }
}

/// `GET /v1/pix/results`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PixQuery {
    /// The business date, YYYY-MM-DD
    #[serde(default, deserialize_with = "date_param")]
    #[param(required = true, value_type = String)]
    pub date: Option<NaiveDate>,
    /// OK, TRANSACTION_AMOUNT_DIVERGENT, PISMO_TRANSACTION_NOT_FOUND, PROVIDER_TRANSACTION_NOT_FOUND or UNDECIDED
    pub outcome: Option<String>,
}

pub const PIX_OUTCOMES: [&str; 5] = [
    "OK",
    "TRANSACTION_AMOUNT_DIVERGENT",
    "PISMO_TRANSACTION_NOT_FOUND",
    "PROVIDER_TRANSACTION_NOT_FOUND",
    "UNDECIDED",
];

impl PixQuery {
    pub fn checked(self) -> Result<(NaiveDate, Option<String>), ApiError> {
        let date = self
            .date
            .ok_or_else(|| ApiError::InvalidQuery("date: required (YYYY-MM-DD)".into()))?;
        let outcome = self.outcome.filter(|o| !o.is_empty());
        if let Some(o) = &outcome {
            if !PIX_OUTCOMES.contains(&o.as_str()) {
                return Err(ApiError::InvalidQuery(format!(
                    "outcome: `{o}` is not one of {}",
                    PIX_OUTCOMES.join(", ")
                )));
            }
        }
        Ok((date, outcome))
    }
}
