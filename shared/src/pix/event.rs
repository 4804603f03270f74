//! The `financial_reconciliation` event: its `detail`, result codes and stable id.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::input::{
    amount_field, end_to_end_id_field, id_field, json_type, optional, optional_datetime_field,
    parse_object, raw_field, required, shorten, AuthorizationDateTime, PixInputError,
};

/// EventBridge `source` of Pix events.
pub const EVENT_SOURCE: &str = "pix";
/// EventBridge `detail-type` of the financial reconciliation event.
pub const EVENT_DETAIL_TYPE: &str = "financial_reconciliation";
/// Version of the event's `detail` shape (the seed schema).
pub const EVENT_VERSION: u32 = 1;

/// The v5 namespace of event ids: the product-wide one, so Pix ids live in the
/// same id space as the clearing events' ids.
pub const EVENT_ID_NAMESPACE: Uuid = crate::events::EVENT_ID_NAMESPACE;

/// The outcome of a financial reconciliation, serialized as the exact codes of
/// the schema's `result_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResultDescription {
    /// Both sides, same amount. The only outcome with `result: true`.
    #[serde(rename = "OK")]
    Ok,
    /// Both sides, different amounts.
    #[serde(rename = "TRANSACTION_AMOUNT_DIVERGENT")]
    TransactionAmountDivergent,
    /// A provider entry whose report day closed with no Pismo transaction.
    #[serde(rename = "PISMO_TRANSACTION_NOT_FOUND")]
    PismoTransactionNotFound,
    /// A Pismo transaction whose provider report day closed without an entry for it.
    #[serde(rename = "PROVIDER_TRANSACTION_NOT_FOUND")]
    ProviderTransactionNotFound,
}

impl ResultDescription {
    pub const ALL: [Self; 4] = [
        Self::Ok,
        Self::TransactionAmountDivergent,
        Self::PismoTransactionNotFound,
        Self::ProviderTransactionNotFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::TransactionAmountDivergent => "TRANSACTION_AMOUNT_DIVERGENT",
            Self::PismoTransactionNotFound => "PISMO_TRANSACTION_NOT_FOUND",
            Self::ProviderTransactionNotFound => "PROVIDER_TRANSACTION_NOT_FOUND",
        }
    }

    /// The event's `result`: true only for [`ResultDescription::Ok`].
    pub fn result(self) -> bool {
        matches!(self, Self::Ok)
    }
}

impl fmt::Display for ResultDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `detail` of the `pix` / `financial_reconciliation` / v1 event.
///
/// Serializes (with `serde_json`) to exactly the seed schema's properties, in
/// its order: `amount`, `end_to_end_id`, `result`, `result_description`,
/// `transaction_id`, `authorization_datetime` (string or `null`),
/// `authorization_id` (integer or `null`), `provider_amount` (number or
/// `null`) and `provider_authorization_id` (a string; the key is omitted when
/// there is no provider entry, since the schema allows only a string).
///
/// Amounts are written as JSON numbers carrying the decimal's exact digits
/// (`125.5`, `12.30`), through `RawValue`, never through `f64`. That relies on
/// `serde_json`'s raw-value support: serialize the detail with `serde_json`
/// (as [`FinancialReconciliation::to_json`] does), not with another format.
///
/// What each outcome carries:
/// - `OK` / `TRANSACTION_AMOUNT_DIVERGENT`: the Pismo transaction's fields and
///   the provider's `provider_amount` / `provider_authorization_id`.
/// - `PROVIDER_TRANSACTION_NOT_FOUND`: the Pismo transaction's fields,
///   `provider_amount: null`, no `provider_authorization_id`.
/// - `PISMO_TRANSACTION_NOT_FOUND`: there is no Pismo transaction, yet the
///   schema requires `transaction_id` and `amount`. We emit
///   `transaction_id` = the `end_to_end_id` and `amount` = the
///   `provider_amount`, with `authorization_id` and `authorization_datetime`
///   null. Why: the end-to-end id is the one identifier that names this Pix on
///   both sides (issued by the central bank, unique, never empty), so it is
///   what an operator searches Pismo for; an empty string or a nil UUID would
///   look like a bug and collide across events, and the provider's id lives in
///   `provider_authorization_id` already. The amount at stake is the one the
///   provider settled; `0` would misstate it as a zero-value Pix. Subscribers
///   recognise the case by `result_description` (and by `transaction_id ==
///   end_to_end_id`, which a real Pismo transaction id, a UUID, never is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinancialReconciliation {
    #[serde(serialize_with = "decimal_as_number")]
    pub amount: Decimal,
    pub end_to_end_id: String,
    pub result: bool,
    pub result_description: ResultDescription,
    pub transaction_id: String,
    pub authorization_datetime: Option<AuthorizationDateTime>,
    pub authorization_id: Option<i64>,
    #[serde(serialize_with = "optional_decimal_as_number")]
    pub provider_amount: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_authorization_id: Option<String>,
}

fn number_text<E: serde::ser::Error>(amount: &Decimal) -> Result<Box<RawValue>, E> {
    // `Decimal`'s Display is plain decimal notation (no exponent): valid JSON number text.
    RawValue::from_string(amount.to_string()).map_err(E::custom)
}

fn decimal_as_number<S: Serializer>(amount: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    number_text::<S::Error>(amount)?.serialize(s)
}

fn optional_decimal_as_number<S: Serializer>(
    amount: &Option<Decimal>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match amount {
        Some(amount) => number_text::<S::Error>(amount)?.serialize(s),
        None => s.serialize_none(),
    }
}

/// The stable id of the financial reconciliation event of one end-to-end id:
/// UUID v5 over [`EVENT_ID_NAMESPACE`] and
/// `pix/financial_reconciliation/1/<end_to_end_id>`.
///
/// There is exactly one outcome per end-to-end id, so the id names the fact;
/// a re-publication after a retry (delivery is at least once) carries the same
/// id, and subscribers dedupe on it.
pub fn financial_reconciliation_event_id(end_to_end_id: &str) -> Uuid {
    let name = format!("{EVENT_SOURCE}/{EVENT_DETAIL_TYPE}/{EVENT_VERSION}/{end_to_end_id}");
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}

impl FinancialReconciliation {
    /// See [`financial_reconciliation_event_id`]: the same on every re-emission.
    pub fn event_id(&self) -> Uuid {
        financial_reconciliation_event_id(&self.end_to_end_id)
    }

    /// The `detail` as JSON text, amounts exact. Fails only if an amount's
    /// text were not valid JSON, which a `Decimal` never produces.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The bus entry announcing this outcome.
    pub fn outbound_event(&self) -> Result<crate::events::OutboundEvent, serde_json::Error> {
        Ok(crate::events::OutboundEvent {
            id: self.event_id(),
            source: EVENT_SOURCE.into(),
            detail_type: EVENT_DETAIL_TYPE.into(),
            detail: self.to_json()?,
        })
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct RawDetail<'a> {
    #[serde(borrow, default, deserialize_with = "raw_field")]
    amount: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    end_to_end_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    result_description: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    transaction_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    authorization_datetime: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    authorization_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    provider_amount: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    provider_authorization_id: Option<&'a RawValue>,
}

/// Parses an event `detail` (for subscribers and tests), amounts exact and
/// validated as on input; `result` must agree with `result_description`.
pub fn parse_financial_reconciliation(
    body: impl AsRef<[u8]>,
) -> Result<FinancialReconciliation, PixInputError> {
    let raw: RawDetail<'_> = parse_object(body.as_ref())?;
    let description_raw = required("result_description", raw.result_description)?;
    let result_description = serde_json::from_str::<ResultDescription>(description_raw.get()).map_err(|_| {
        PixInputError::InvalidField {
            field: "result_description",
            reason: format!(
                "must be one of OK, TRANSACTION_AMOUNT_DIVERGENT, PISMO_TRANSACTION_NOT_FOUND, PROVIDER_TRANSACTION_NOT_FOUND, got {}",
                shorten(description_raw.get())
            ),
        }
    })?;
    let result_raw = required("result", raw.result)?;
    let result = serde_json::from_str::<bool>(result_raw.get()).map_err(|_| {
        PixInputError::InvalidField {
            field: "result",
            reason: format!("must be a boolean, got {}", json_type(result_raw)),
        }
    })?;
    if result != result_description.result() {
        return Err(PixInputError::InvalidField {
            field: "result",
            reason: format!(
                "must be {} for {result_description}",
                result_description.result()
            ),
        });
    }
    let authorization_id = match optional(raw.authorization_id) {
        None => None,
        Some(value) => Some(serde_json::from_str::<i64>(value.get()).map_err(|_| {
            PixInputError::InvalidField {
                field: "authorization_id",
                reason: format!("must be an integer (or null), got {}", json_type(value)),
            }
        })?),
    };
    let provider_amount = match optional(raw.provider_amount) {
        None => None,
        Some(value) => Some(amount_field("provider_amount", Some(value))?),
    };
    let provider_authorization_id = match raw.provider_authorization_id {
        None => None,
        Some(value) if value.get() == "null" => {
            return Err(PixInputError::InvalidField {
                field: "provider_authorization_id",
                reason: "must be a string when present (omit it when unknown)".into(),
            })
        }
        Some(value) => Some(id_field("provider_authorization_id", Some(value))?),
    };
    Ok(FinancialReconciliation {
        amount: amount_field("amount", raw.amount)?,
        end_to_end_id: end_to_end_id_field("end_to_end_id", raw.end_to_end_id)?,
        result,
        result_description,
        transaction_id: id_field("transaction_id", raw.transaction_id)?,
        authorization_datetime: optional_datetime_field(
            "authorization_datetime",
            raw.authorization_datetime,
        )?,
        authorization_id,
        provider_amount,
        provider_authorization_id,
    })
}
