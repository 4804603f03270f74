//! The three Pix inputs, their JSON parsing and validation.
//!
//! Every parser reads each field as raw JSON text first (`serde_json`'s
//! `RawValue`), so that amounts are taken from their decimal digits and never
//! pass through `f64`, and so that every problem is reported as a
//! [`PixInputError`] naming the field. Unknown fields are ignored (upstream
//! payloads carry more than reconciliation needs). Parsing never panics.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

pub(crate) use crate::parse::shorten;
use crate::parse::{parse_date, parse_decimal, DecimalError, Notation};

/// Length of a BCB end-to-end id.
pub const END_TO_END_ID_LEN: usize = 32;
/// Longest accepted `transaction_id` / `provider_authorization_id`, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// BRL has centavos: amounts carry at most two decimal places.
pub const MAX_AMOUNT_DECIMAL_PLACES: u32 = 2;

/// Why a Pix input was rejected. Every variant but `Malformed` names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PixInputError {
    /// Not JSON, not a JSON object, or a field given twice.
    #[error("the body is not a valid JSON object: {reason}")]
    Malformed { reason: String },
    /// A required field is absent.
    #[error("`{field}` is required")]
    MissingField { field: &'static str },
    /// A field is present but its value is unacceptable (including `null` for a required field).
    #[error("`{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl PixInputError {
    /// The offending field, when the problem is one field's.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Malformed { .. } => None,
            Self::MissingField { field } | Self::InvalidField { field, .. } => Some(field),
        }
    }

    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// The Pismo operation behind a Pix transaction. Optional on input (`kind`);
/// informational only: every kind reconciles the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PixTransactionKind {
    PixOutTransfer,
    PixReversal,
    RefundClose,
}

/// An RFC 3339 date-time as received: the instant *and* its offset and
/// precision are kept, and it is re-emitted as the same text.
///
/// Accepted: what RFC 3339's `date-time` production allows (`T`/`t`
/// separator, `Z`/`z` or a numeric offset, any fraction length). The text is
/// stored with `t`/`z` upper-cased (the same instant, the form JSON Schema
/// `date-time` validators and most parsers expect). The space-separated form
/// that `chrono` also tolerates is rejected: it is not RFC 3339's grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthorizationDateTime {
    text: String,
    instant: DateTime<FixedOffset>,
}

impl AuthorizationDateTime {
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown = shorten(text);
        let separator_ok = matches!(text.as_bytes().get(10), Some(b'T' | b't'));
        let instant = DateTime::parse_from_rfc3339(text)
            .ok()
            .filter(|_| separator_ok)
            .ok_or_else(|| {
                format!("'{shown}' is not an RFC 3339 date-time (e.g. 2021-10-29T11:00:00.000Z)")
            })?;
        Ok(Self {
            text: text.to_ascii_uppercase(),
            instant,
        })
    }

    /// The text, as received (with `t`/`z` upper-cased).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant, in the offset it was given in.
    pub fn instant(&self) -> DateTime<FixedOffset> {
        self.instant
    }
}

impl fmt::Display for AuthorizationDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for AuthorizationDateTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl Serialize for AuthorizationDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AuthorizationDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A Pismo-side Pix transaction: a Pix-out transfer, a Pix reversal or a refund close.
///
/// Wire form (snake_case JSON): `transaction_id` (non-empty string),
/// `end_to_end_id` (BCB format, see [`validate_end_to_end_id`]), `amount`
/// (exact decimal > 0 with at most 2 decimal places, a JSON number or a
/// string), `authorization_id` (integer, optional/null),
/// `authorization_datetime` (RFC 3339, optional/null), `business_date`
/// (`YYYY-MM-DD`: the day of the provider report this transaction belongs to),
/// and optionally `kind`.
///
/// The serde derives are the *storage* form (amount as a decimal string), which
/// [`parse_pix_transaction`] also accepts; use the parser for untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixTransaction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PixTransactionKind>,
    pub transaction_id: String,
    pub end_to_end_id: String,
    pub amount: Decimal,
    pub authorization_id: Option<i64>,
    pub authorization_datetime: Option<AuthorizationDateTime>,
    pub business_date: NaiveDate,
}

/// What the payment provider reports it settled.
///
/// Wire form: `end_to_end_id`, `provider_amount` (as `amount` above),
/// `provider_authorization_id` (non-empty string), `business_date`
/// (`YYYY-MM-DD`: the provider report day that carries this entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEntry {
    pub end_to_end_id: String,
    pub provider_amount: Decimal,
    pub provider_authorization_id: String,
    pub business_date: NaiveDate,
}

/// The provider's report for `business_date` is complete and holds
/// `entry_count` entries (integer >= 0) totalling `total_amount` (as `amount`;
/// absent when the count is 0). It applies once the day's entries add up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProviderReportClosed {
    pub business_date: NaiveDate,
    #[serde(default)]
    pub entry_count: u64,
    #[serde(default)]
    pub total_amount: Decimal,
}

/// Any of the three inputs, for one `apply` entry point and for recording
/// conflicting or late inputs on the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum PixInput {
    Transaction(PixTransaction),
    ProviderEntry(ProviderEntry),
    ProviderReportClosed(ProviderReportClosed),
}

impl PixInput {
    /// The end-to-end id the input is about (`None` for a report closure, which is about a day).
    pub fn end_to_end_id(&self) -> Option<&str> {
        match self {
            Self::Transaction(tx) => Some(&tx.end_to_end_id),
            Self::ProviderEntry(entry) => Some(&entry.end_to_end_id),
            Self::ProviderReportClosed(_) => None,
        }
    }

    /// A total, deterministic order over inputs (by their storage JSON), used
    /// to keep the state independent of arrival order when inputs conflict.
    pub(crate) fn canonical_cmp(&self, other: &Self) -> Ordering {
        canonical_key(self).cmp(&canonical_key(other))
    }
}

fn canonical_key(input: &PixInput) -> String {
    // Plain data with string keys: serialization cannot fail; an empty key
    // would only make the order less specific, never panic.
    serde_json::to_string(input).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Parsing

/// A field's raw JSON text: `None` when absent, `Some("null")` when null.
pub(crate) fn raw_field<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct RawTransaction<'a> {
    #[serde(borrow, default, deserialize_with = "raw_field")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    transaction_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    end_to_end_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    amount: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    authorization_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    authorization_datetime: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    business_date: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct RawProviderEntry<'a> {
    #[serde(borrow, default, deserialize_with = "raw_field")]
    end_to_end_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    provider_amount: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    provider_authorization_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    business_date: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct RawReportClosed<'a> {
    #[serde(borrow, default, deserialize_with = "raw_field")]
    business_date: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    entry_count: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_field")]
    total_amount: Option<&'a RawValue>,
}

/// Deserializes the raw-field struct of a body that must be a JSON *object*
/// (serde's derived structs would also accept an array, positionally).
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, PixInputError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        let reason = match first {
            None => "the body is empty".to_owned(),
            Some(_) => match serde_json::from_slice::<&RawValue>(body) {
                Ok(value) => format!("expected a JSON object, got {}", json_type(value)),
                Err(e) => e.to_string(),
            },
        };
        return Err(PixInputError::Malformed { reason });
    }
    serde_json::from_slice(body).map_err(|e| PixInputError::Malformed {
        reason: e.to_string(),
    })
}

/// Parses and validates a Pismo-side Pix transaction (JSON text or bytes).
pub fn parse_pix_transaction(body: impl AsRef<[u8]>) -> Result<PixTransaction, PixInputError> {
    let raw: RawTransaction<'_> = parse_object(body.as_ref())?;
    let kind = match optional(raw.kind) {
        None => None,
        Some(value) => Some(
            serde_json::from_str::<PixTransactionKind>(value.get()).map_err(|_| {
                PixInputError::invalid(
                    "kind",
                    format!(
                        "must be one of PIX_OUT_TRANSFER, PIX_REVERSAL, REFUND_CLOSE, got {}",
                        shorten(value.get())
                    ),
                )
            })?,
        ),
    };
    Ok(PixTransaction {
        transaction_id: id_field("transaction_id", raw.transaction_id)?,
        end_to_end_id: end_to_end_id_field("end_to_end_id", raw.end_to_end_id)?,
        amount: amount_field("amount", raw.amount)?,
        authorization_id: optional_integer_field("authorization_id", raw.authorization_id)?,
        authorization_datetime: optional_datetime_field(
            "authorization_datetime",
            raw.authorization_datetime,
        )?,
        business_date: date_field("business_date", raw.business_date)?,
        kind,
    })
}

/// Parses and validates a provider entry (JSON text or bytes).
pub fn parse_provider_entry(body: impl AsRef<[u8]>) -> Result<ProviderEntry, PixInputError> {
    let raw: RawProviderEntry<'_> = parse_object(body.as_ref())?;
    Ok(ProviderEntry {
        end_to_end_id: end_to_end_id_field("end_to_end_id", raw.end_to_end_id)?,
        provider_amount: amount_field("provider_amount", raw.provider_amount)?,
        provider_authorization_id: id_field(
            "provider_authorization_id",
            raw.provider_authorization_id,
        )?,
        business_date: date_field("business_date", raw.business_date)?,
    })
}

/// Parses and validates a provider report closure (JSON text or bytes).
pub fn parse_provider_report_closed(
    body: impl AsRef<[u8]>,
) -> Result<ProviderReportClosed, PixInputError> {
    let raw: RawReportClosed<'_> = parse_object(body.as_ref())?;
    let business_date = date_field("business_date", raw.business_date)?;
    let count = required("entry_count", raw.entry_count)?.get();
    let entry_count = serde_json::from_str::<u64>(count)
        .map_err(|_| PixInputError::invalid("entry_count", "must be a whole number >= 0"))?;
    Ok(ProviderReportClosed {
        business_date,
        entry_count,
        total_amount: match entry_count {
            0 => Decimal::ZERO,
            _ => amount_field("total_amount", raw.total_amount)?,
        },
    })
}

// --- field readers (shared with the event's parser) ---

pub(crate) fn json_type(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Present and not null.
pub(crate) fn required<'a>(
    field: &'static str,
    raw: Option<&'a RawValue>,
) -> Result<&'a RawValue, PixInputError> {
    match raw {
        None => Err(PixInputError::MissingField { field }),
        Some(value) if value.get() == "null" => {
            Err(PixInputError::invalid(field, "must not be null"))
        }
        Some(value) => Ok(value),
    }
}

/// `None` when absent or null.
pub(crate) fn optional(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|value| value.get() != "null")
}

pub(crate) fn string_value(field: &'static str, raw: &RawValue) -> Result<String, PixInputError> {
    if !raw.get().starts_with('"') {
        return Err(PixInputError::invalid(
            field,
            format!("must be a string, got {}", json_type(raw)),
        ));
    }
    serde_json::from_str::<String>(raw.get())
        .map_err(|e| PixInputError::invalid(field, e.to_string()))
}

/// A non-empty identifier of at most [`MAX_ID_CHARS`] characters.
pub(crate) fn id_field(
    field: &'static str,
    raw: Option<&RawValue>,
) -> Result<String, PixInputError> {
    let text = string_value(field, required(field, raw)?)?;
    if text.trim().is_empty() {
        return Err(PixInputError::invalid(field, "must not be empty"));
    }
    if text.chars().count() > MAX_ID_CHARS {
        return Err(PixInputError::invalid(
            field,
            format!("must be at most {MAX_ID_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(PixInputError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text)
}

pub(crate) fn end_to_end_id_field(
    field: &'static str,
    raw: Option<&RawValue>,
) -> Result<String, PixInputError> {
    let text = string_value(field, required(field, raw)?)?;
    validate_end_to_end_id(&text).map_err(|reason| PixInputError::invalid(field, reason))?;
    Ok(text)
}

pub(crate) fn amount_field(
    field: &'static str,
    raw: Option<&RawValue>,
) -> Result<Decimal, PixInputError> {
    let value = required(field, raw)?;
    // A JSON number's token may use JSON's exponent; an amount in a string is plain digits.
    let (text, notation): (Cow<'_, str>, _) = match value.get().as_bytes().first() {
        Some(b'"') => (Cow::Owned(string_value(field, value)?), Notation::Plain),
        Some(b'-' | b'0'..=b'9') => (Cow::Borrowed(value.get()), Notation::JsonNumber),
        _ => {
            return Err(PixInputError::invalid(
                field,
                format!(
                    "must be a number or a decimal string, got {}",
                    json_type(value)
                ),
            ))
        }
    };
    let amount = parse_decimal(&text, notation).map_err(|e| {
        let reason = match e {
            // Far beyond centavos: the BRL rule is the one to tell.
            DecimalError::TooManyPlaces { .. } => too_many_places(&shorten(&text)),
            other => other.to_string(),
        };
        PixInputError::invalid(field, reason)
    })?;
    brl_amount(amount, &text).map_err(|reason| PixInputError::invalid(field, reason))
}

fn optional_integer_field(
    field: &'static str,
    raw: Option<&RawValue>,
) -> Result<Option<i64>, PixInputError> {
    let Some(value) = optional(raw) else {
        return Ok(None);
    };
    serde_json::from_str::<i64>(value.get())
        .map(Some)
        .map_err(|_| {
            PixInputError::invalid(
                field,
                format!(
                    "must be an integer (or null), got {} {}",
                    json_type(value),
                    shorten(value.get())
                ),
            )
        })
}

pub(crate) fn optional_datetime_field(
    field: &'static str,
    raw: Option<&RawValue>,
) -> Result<Option<AuthorizationDateTime>, PixInputError> {
    let Some(value) = optional(raw) else {
        return Ok(None);
    };
    let text = string_value(field, value)?;
    AuthorizationDateTime::parse(&text)
        .map(Some)
        .map_err(|reason| PixInputError::invalid(field, reason))
}

fn date_field(field: &'static str, raw: Option<&RawValue>) -> Result<NaiveDate, PixInputError> {
    let text = string_value(field, required(field, raw)?)?;
    parse_date(&text).map_err(|e| PixInputError::invalid(field, e.to_string()))
}

// --- value validators ---

/// Validates a BCB end-to-end id (`EndToEndId` of the Pix rulebook):
/// exactly 32 ASCII characters, `E` + the payer institution's 8-digit ISPB +
/// the initiation date-time `yyyyMMddHHmm` (UTC; month 01-12, day 01-31,
/// hour 00-23, minute 00-59) + 11 letters or digits, e.g.
/// `E4086716320220629204700103800548`. This mirrors the BCB pattern
/// `^E[0-9]{8}[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])(2[0-3]|[01][0-9])[0-5][0-9][a-zA-Z0-9]{11}$`
/// (the calendar is not checked beyond those ranges). Refund-return ids
/// (`D…`) are not end-to-end ids and are rejected.
pub fn validate_end_to_end_id(id: &str) -> Result<(), String> {
    let b = id.as_bytes();
    if b.len() != END_TO_END_ID_LEN {
        return Err(format!(
            "must be {END_TO_END_ID_LEN} characters (E + 8-digit ISPB + yyyyMMddHHmm + 11 letters or digits), got {}",
            id.chars().count()
        ));
    }
    let shown = shorten(id);
    if b[0] != b'E' {
        return Err(format!("'{shown}' must start with 'E'"));
    }
    if !b[1..21].iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "'{shown}': characters 2-21 (ISPB and yyyyMMddHHmm) must be digits"
        ));
    }
    let two = |at: usize| u32::from(b[at] - b'0') * 10 + u32::from(b[at + 1] - b'0');
    let (month, day, hour, minute) = (two(13), two(15), two(17), two(19));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err(format!(
            "'{shown}': characters 10-21 must be a date-time yyyyMMddHHmm"
        ));
    }
    if !b[21..].iter().all(u8::is_ascii_alphanumeric) {
        return Err(format!(
            "'{shown}': characters 22-32 must be letters or digits"
        ));
    }
    Ok(())
}

/// Applies the BRL rule to an amount the one parser read: greater than zero,
/// at most [`MAX_AMOUNT_DECIMAL_PLACES`] places *as a value*. Trailing zeros
/// are not significant (`12.300` becomes `12.30`); `12.345` is refused, never
/// rounded. A scale up to 2 is kept as given (`"12.30"` stays `12.30`, `125.5`
/// stays `125.5`).
fn brl_amount(amount: Decimal, text: &str) -> Result<Decimal, String> {
    let shown = shorten(text);
    if amount <= Decimal::ZERO {
        return Err(format!("must be greater than zero, got '{shown}'"));
    }
    if amount.scale() <= MAX_AMOUNT_DECIMAL_PLACES {
        return Ok(amount);
    }
    if amount.normalize().scale() > MAX_AMOUNT_DECIMAL_PLACES {
        return Err(too_many_places(&shown));
    }
    let mut cents = amount;
    cents.rescale(MAX_AMOUNT_DECIMAL_PLACES); // drops only zeros: checked above
    Ok(cents)
}

fn too_many_places(shown: &str) -> String {
    format!("'{shown}' has more than {MAX_AMOUNT_DECIMAL_PLACES} decimal places (BRL has centavos)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(json: &str) -> Result<Decimal, String> {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        amount_field("amount", Some(raw)).map_err(|e| e.to_string())
    }

    #[test]
    fn amounts_follow_the_brl_rule_over_the_shared_parser() {
        assert_eq!(amount("12.300").unwrap().to_string(), "12.30");
        assert_eq!(amount("\"12.3\"").unwrap().to_string(), "12.3");
        assert_eq!(amount("1.255e2").unwrap().to_string(), "125.5");
        assert_eq!(amount("0.01").unwrap().to_string(), "0.01");
        for (json, reason) in [
            // In a string an amount is plain digits; only a JSON number may use an exponent.
            ("\"1e3\"", "an exponent is not accepted"),
            ("0.001", "more than 2 decimal places"),
            // Zeros past what a decimal holds are refused, not trimmed.
            (
                "1.000000000000000000000000000000000",
                "more than 2 decimal places",
            ),
            ("79228162514264337593543950335", "out of range"),
            ("-0", "greater than zero"),
            ("\"+1\"", "a leading '+' is not accepted"),
        ] {
            let err = amount(json).unwrap_err();
            assert!(err.contains(reason), "{json}: {err}");
        }
    }
}
