//! The operator API's requests as types: the reconciliation body and the
//! list and search query strings. Reading them names the field at fault;
//! the checks serde cannot express follow in `into_*`.

use chrono::NaiveDate;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

use shared::api_error::ApiError;
use shared::clearing::fields::parse_date;
use shared::clearing::ClearingStatus;
use shared::console::{is_queue_status, QueueFilter, QueueSort};
use shared::ports::ClearingSearch;
use shared::services::ReconciliationCommand;

use crate::openapi::CardNetworkSchema;

/// Largest `offset` of the clearing search: every skipped record is still read.
pub const MAX_SEARCH_OFFSET: usize = 10_000;
/// Longest text accepted in the body's required fields.
pub const MAX_TEXT_CHARS: usize = 256;

/// Clearing reconciliation request
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct ReconciliationRequest {
    /// Card network
    #[serde(deserialize_with = "required_text")]
    #[schema(example = "valid card network", min_length = 1, max_length = 256)]
    pub card_network: String,
    /// Card hash
    #[serde(deserialize_with = "required_text")]
    #[schema(example = "valid card hash", min_length = 1, max_length = 256)]
    pub card_hash: String,
    /// Reason for reconciliation
    #[serde(deserialize_with = "required_text")]
    #[schema(example = "valid reason", min_length = 1, max_length = 256)]
    pub reconciliation_reason: String,
    /// Absent or null: no adjustment.
    #[serde(default, deserialize_with = "null_as_empty")]
    #[schema(inline)]
    pub adjustments: Vec<AdjustmentRequest>,
}

/// One field to correct; both keys are required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct AdjustmentRequest {
    /// Field to be adjusted
    #[serde(deserialize_with = "non_blank")]
    #[schema(example = "valid field", min_length = 1)]
    pub field: String,
    /// New value for the field
    #[serde(deserialize_with = "non_blank")]
    #[schema(example = "valid field value", min_length = 1)]
    pub new_value: String,
}

impl From<ReconciliationRequest> for ReconciliationCommand {
    fn from(r: ReconciliationRequest) -> Self {
        Self {
            card_network: r.card_network,
            card_hash: r.card_hash,
            reconciliation_reason: r.reconciliation_reason,
            adjustments: r
                .adjustments
                .into_iter()
                .map(|a| (a.field, a.new_value))
                .collect(),
        }
    }
}

fn non_blank<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    Ok(text)
}

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = non_blank(d)?;
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(D::Error::custom(format!(
            "is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(text)
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A status, in any case.
fn status_param<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClearingStatus>, D::Error> {
    let text = String::deserialize(d)?;
    crate::request_console::status_text(&text).map(Some)
}

/// `YYYY-MM-DD`, named problems (`month 24`) as for the record's own dates.
fn date_param<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text = String::deserialize(d)?;
    parse_date(&text).map(Some).map_err(D::Error::custom)
}

/// `limit` within 1..=max, else the default.
fn limit_within(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::InvalidQuery(format!(
            "limit must be a whole number from 1 to {max}"
        ))),
    }
}

/// `GET /v1/clearing-messages`: a card's messages (optionally of one status),
/// or the queue (PENDING, REPROCESSING or WRITE_OFF_REQUESTED) with filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The card's network (with card_hash), in any case
    #[param(value_type = Option<CardNetworkSchema>)]
    pub card_network: Option<String>,
    /// The card's hash (cardReference), with card_network
    pub card_hash: Option<String>,
    /// Only messages in this status; without a card, PENDING, REPROCESSING or WRITE_OFF_REQUESTED
    #[serde(default, deserialize_with = "status_param")]
    #[param(value_type = Option<ClearingStatus>)]
    pub status: Option<ClearingStatus>,
    /// The queue: only this pending reason code
    pub reason: Option<String>,
    /// The queue: received on or after this date (YYYY-MM-DD, UTC)
    #[serde(default, deserialize_with = "date_param")]
    pub from: Option<NaiveDate>,
    /// The queue: received on or before this date
    #[serde(default, deserialize_with = "date_param")]
    pub to: Option<NaiveDate>,
    /// The queue: transactionAmount at least this
    #[serde(default, deserialize_with = "crate::request_console::amount_param")]
    #[param(value_type = Option<String>)]
    pub min_amount: Option<rust_decimal::Decimal>,
    /// The queue: transactionAmount at most this
    #[serde(default, deserialize_with = "crate::request_console::amount_param")]
    #[param(value_type = Option<String>)]
    pub max_amount: Option<rust_decimal::Decimal>,
    /// The queue: received_at (default), -received_at, amount or -amount
    pub sort: Option<String>,
    /// Page size
    #[param(minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<usize>,
    /// next_cursor of the previous page
    pub cursor: Option<String>,
}

/// Which messages a list request reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSelection {
    Card {
        card_network: String,
        card_hash: String,
        status: Option<ClearingStatus>,
    },
    Queue(QueueFilter, QueueSort),
}

impl ListQuery {
    fn is_queue_query(&self) -> bool {
        self.reason.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.min_amount.is_some()
            || self.max_amount.is_some()
            || self.sort.is_some()
    }

    /// The selection, page size and cursor.
    pub fn into_selection(self) -> Result<(ListSelection, usize, Option<String>), ApiError> {
        let limit = limit_within(self.limit, 50, 100)?;
        let queue = self.is_queue_query();
        let selection = match (self.card_network, self.card_hash, self.status) {
            (Some(network), Some(card_hash), status) if !queue => ListSelection::Card {
                card_network: network.to_ascii_uppercase(),
                card_hash,
                status,
            },
            (network, card_hash, Some(status)) if is_queue_status(status) => {
                let sort = match self.sort.as_deref() {
                    None | Some("") => QueueSort::default(),
                    Some(s) => QueueSort::parse(s).ok_or_else(|| {
                        ApiError::InvalidQuery(format!(
                            "sort: `{s}` is not received_at, -received_at, amount or -amount"
                        ))
                    })?,
                };
                let filter = QueueFilter {
                    status: Some(status),
                    reason: self.reason.filter(|r| !r.is_empty()),
                    card_network: network.map(|n| n.to_ascii_uppercase()),
                    card_hash,
                    from: self.from,
                    to: self.to,
                    min_amount: self.min_amount,
                    max_amount: self.max_amount,
                };
                ListSelection::Queue(filter, sort)
            }
            _ => {
                return Err(ApiError::InvalidQuery(
                    "give card_network with card_hash (and optionally status), or status PENDING, REPROCESSING or WRITE_OFF_REQUESTED (with the queue's filters)".into(),
                ))
            }
        };
        Ok((selection, limit, self.cursor))
    }
}

/// `GET /v1/clearing-search`: the Mastercard Clearing API's four input
/// combinations, and only those: exactly one of `transUid`;
/// `transactionStartDate` with `transactionEndDate`; `afterTransactionDate`; `cursor`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct SearchQuery {
    /// Form 1: one transaction's records
    pub trans_uid: Option<String>,
    /// Form 2: first transaction date (with transactionEndDate; at most 366 days)
    #[serde(default, deserialize_with = "date_param")]
    pub transaction_start_date: Option<NaiveDate>,
    /// Form 2: last transaction date
    #[serde(default, deserialize_with = "date_param")]
    pub transaction_end_date: Option<NaiveDate>,
    /// Form 3: records with a later transaction date
    #[serde(default, deserialize_with = "date_param")]
    pub after_transaction_date: Option<NaiveDate>,
    /// Form 4: "0" for the oldest record, then nextClearingCursor
    pub cursor: Option<String>,
    /// Records to skip; beyond that, read on with the cursor form
    #[param(minimum = 0, maximum = 10000, default = 0)]
    pub offset: Option<usize>,
    /// Page size
    #[param(minimum = 1, maximum = 500, default = 100)]
    pub limit: Option<usize>,
}

impl SearchQuery {
    /// The search form, offset and limit.
    pub fn into_search(self) -> Result<(ClearingSearch, usize, usize), ApiError> {
        let offset = match self.offset {
            None => 0,
            Some(n) if n <= MAX_SEARCH_OFFSET => n,
            Some(_) => {
                return Err(ApiError::InvalidQuery(format!(
                    "offset must be a whole number from 0 to {MAX_SEARCH_OFFSET}; use the cursor form to read further"
                )))
            }
        };
        let limit = limit_within(self.limit, 100, 500)?;
        let uid = self.trans_uid.filter(|u| !u.is_empty());
        let cursor = self.cursor.filter(|c| !c.is_empty());
        let (start, end, after) = (
            self.transaction_start_date,
            self.transaction_end_date,
            self.after_transaction_date,
        );
        let search = match (uid, start, end, after, cursor) {
            (Some(uid), None, None, None, None) => ClearingSearch::TransUid(uid),
            (None, Some(start), Some(end), None, None) => date_range(start, end)?,
            (None, None, None, Some(after), None) => ClearingSearch::AfterDate(after),
            (None, None, None, None, Some(cursor)) => ClearingSearch::Cursor(cursor),
            _ => {
                return Err(ApiError::InvalidQuery(
                    "give exactly one of: transUid; transactionStartDate with transactionEndDate; afterTransactionDate; cursor (\"0\" to start)".into(),
                ))
            }
        };
        Ok((search, offset, limit))
    }
}

fn date_range(start: NaiveDate, end: NaiveDate) -> Result<ClearingSearch, ApiError> {
    if end < start {
        return Err(ApiError::InvalidQuery(
            "transactionEndDate is before transactionStartDate".into(),
        ));
    }
    if (end - start).num_days() > 366 {
        return Err(ApiError::InvalidQuery(
            "a date range covers at most 366 days".into(),
        ));
    }
    Ok(ClearingSearch::DateRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::http::{json_body, query_from_pairs};

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse_search(q: &[(&str, &str)]) -> Result<(ClearingSearch, usize, usize), ApiError> {
        query_from_pairs::<SearchQuery>(pairs(q))?.into_search()
    }

    fn body(b: &str) -> Result<ReconciliationRequest, ApiError> {
        json_body(b.as_bytes(), 64 * 1024)
    }

    #[test]
    fn body_problems_are_named_by_their_path() {
        let err = |b: &str| body(b).unwrap_err();
        assert!(matches!(err("{"), ApiError::MalformedJson(_)));
        let cases = [
            (
                r#"{"card_hash":"c","reconciliation_reason":"r"}"#,
                "missing field `card_network`",
            ),
            (
                r#"{"card_network":"","card_hash":"c","reconciliation_reason":"r"}"#,
                "card_network: must not be empty",
            ),
            (
                r#"{"card_network":1,"card_hash":"c","reconciliation_reason":"r"}"#,
                "card_network: invalid type: integer `1`, expected a string",
            ),
            (
                r#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r","adjustments":[{"field":"x"}]}"#,
                "adjustments[0]: missing field `new_value`",
            ),
            (
                r#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r","adjustments":[{"field":"x","new_value":" "}]}"#,
                "adjustments[0].new_value: must not be empty",
            ),
            (
                r#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r","adjustments":{}}"#,
                "adjustments: invalid type: map, expected a sequence",
            ),
        ];
        for (b, message) in cases {
            let e = err(b);
            assert_eq!(
                (e.code(), e.to_string().as_str()),
                ("BTN0002", message),
                "{b}"
            );
        }
        let long = format!(
            r#"{{"card_network":"m","card_hash":"{}","reconciliation_reason":"r"}}"#,
            "é".repeat(257)
        );
        assert_eq!(
            err(&long).to_string(),
            "card_hash: is longer than 256 characters"
        );
        let ok = body(r#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r","adjustments":null}"#)
            .unwrap();
        assert!(ok.adjustments.is_empty());
        assert!(body(&long.replace(&"é".repeat(257), &"é".repeat(256))).is_ok());
    }

    #[test]
    fn search_takes_exactly_one_form() {
        assert!(matches!(
            parse_search(&[("transUid", "U")]).unwrap().0,
            ClearingSearch::TransUid(_)
        ));
        assert!(matches!(
            parse_search(&[
                ("transactionStartDate", "2024-04-01"),
                ("transactionEndDate", "2024-04-30")
            ])
            .unwrap()
            .0,
            ClearingSearch::DateRange { .. }
        ));
        assert!(parse_search(&[("transactionStartDate", "2024-04-01")]).is_err());
        assert!(parse_search(&[("transUid", "U"), ("cursor", "0")]).is_err());
        let e = parse_search(&[("afterTransactionDate", "2024-24-04")]).unwrap_err();
        assert!(e.to_string().starts_with("afterTransactionDate: "), "{e}");
        assert!(e.to_string().contains("month 24"), "{e}");
        assert!(parse_search(&[("cursor", "0"), ("limit", "0")]).is_err());
        assert!(parse_search(&[("cursor", "0"), ("offset", "18446744073709551615")]).is_err());
        assert!(parse_search(&[("cursor", "0"), ("offset", "10001")]).is_err());
        let e = parse_search(&[("cursor", "0"), ("offset", "-1")]).unwrap_err();
        assert_eq!(e.code(), "BTN0005");
        assert!(e.to_string().starts_with("offset: "), "{e}");
        assert_eq!(
            parse_search(&[("cursor", "0"), ("offset", "5"), ("limit", "10")])
                .unwrap()
                .1,
            5
        );
    }

    #[test]
    fn lists_are_by_card_or_open_status() {
        let list = |q: &[(&str, &str)]| query_from_pairs::<ListQuery>(pairs(q))?.into_selection();
        assert_eq!(
            list(&[("status", "pending")]).unwrap().0,
            ListSelection::Queue(
                QueueFilter {
                    status: Some(ClearingStatus::Pending),
                    ..Default::default()
                },
                QueueSort::ReceivedAsc
            )
        );
        let (selection, limit, _) = list(&[
            ("card_network", "mastercard"),
            ("card_hash", "c"),
            ("limit", "3"),
        ])
        .unwrap();
        assert_eq!(
            selection,
            ListSelection::Card {
                card_network: "MASTERCARD".into(),
                card_hash: "c".into(),
                status: None
            }
        );
        assert_eq!(limit, 3);
        for bad in [
            &[][..],
            &[("status", "MATCHED")][..],
            &[("status", "DONE")][..],
            &[("status", "PENDING"), ("limit", "101")][..],
        ] {
            assert_eq!(list(bad).unwrap_err().code(), "BTN0005", "{bad:?}");
        }
        assert!(list(&[("status", "DONE")])
            .unwrap_err()
            .to_string()
            .starts_with("status: `DONE` is not"));
    }
}
