//! The fields of a Mastercard clearing record and how each one is parsed.
//!
//! A clearing record is kept as a map from field to its text exactly as the
//! network sent it (numbers keep their JSON digits). Typed values are derived
//! from that text by [`FieldKind::check`]; operators' adjustments replace the
//! text and the record is validated again. Keeping the text means an invalid
//! record can be stored, shown and corrected without losing anything.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::currency;
use crate::parse::{parse_decimal, shorten, Notation};

/// Every field of the clearing record that the product understands.
/// Names are the wire names of the Mastercard notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClearingField {
    ClearingUniqueId,
    CardReference,
    TransUid,
    ReferenceNumber,
    FinancialNetworkCode,
    SettlementDate,
    BanknetDate,
    ProcessDate,
    TransactionAmount,
    TransactionCurrency,
    CardholderAmount,
    CardholderCurrency,
    TransactionLocalDate,
    TransactionLocalTime,
    TransactionType,
    FunctionCode,
    MessageReasonCode,
    MerchantName,
    MerchantCategoryCode,
    CardAcceptorCity,
    CardAcceptorState,
    MerchantCountryCode,
    AcquirerId,
}

/// How a field's text is parsed and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text up to a length.
    Text { max_len: usize },
    /// Exact decimal money amount, never negative.
    Amount,
    /// ISO 4217 alphabetic currency code.
    Currency,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// Local time, `HH:MM:SS`.
    Time,
    /// Exactly `len` ASCII digits.
    Digits { len: usize },
    /// Banknet date, `MMDD`.
    MonthDay,
    /// ISO 3166 alpha-3 country code (three upper-case letters).
    Country,
    /// IPM DE24 function code the product knows how to handle.
    FunctionCode,
}

impl ClearingField {
    pub const ALL: [ClearingField; 23] = [
        Self::ClearingUniqueId,
        Self::CardReference,
        Self::TransUid,
        Self::ReferenceNumber,
        Self::FinancialNetworkCode,
        Self::SettlementDate,
        Self::BanknetDate,
        Self::ProcessDate,
        Self::TransactionAmount,
        Self::TransactionCurrency,
        Self::CardholderAmount,
        Self::CardholderCurrency,
        Self::TransactionLocalDate,
        Self::TransactionLocalTime,
        Self::TransactionType,
        Self::FunctionCode,
        Self::MessageReasonCode,
        Self::MerchantName,
        Self::MerchantCategoryCode,
        Self::CardAcceptorCity,
        Self::CardAcceptorState,
        Self::MerchantCountryCode,
        Self::AcquirerId,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::ClearingUniqueId => "clearingUniqueId",
            Self::CardReference => "cardReference",
            Self::TransUid => "transUid",
            Self::ReferenceNumber => "referenceNumber",
            Self::FinancialNetworkCode => "financialNetworkCode",
            Self::SettlementDate => "settlementDate",
            Self::BanknetDate => "banknetDate",
            Self::ProcessDate => "processDate",
            Self::TransactionAmount => "transactionAmount",
            Self::TransactionCurrency => "transactionCurrency",
            Self::CardholderAmount => "cardholderAmount",
            Self::CardholderCurrency => "cardholderCurrency",
            Self::TransactionLocalDate => "transactionLocalDate",
            Self::TransactionLocalTime => "transactionLocalTime",
            Self::TransactionType => "transactionType",
            Self::FunctionCode => "functionCode",
            Self::MessageReasonCode => "messageReasonCode",
            Self::MerchantName => "merchantName",
            Self::MerchantCategoryCode => "merchantCategoryCode",
            Self::CardAcceptorCity => "cardAcceptorCity",
            Self::CardAcceptorState => "cardAcceptorState",
            Self::MerchantCountryCode => "merchantCountryCode",
            Self::AcquirerId => "acquirerId",
        }
    }

    /// The field of a wire name. A `match` (not a scan of [`Self::ALL`]): every
    /// key of every record goes through it.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "clearingUniqueId" => Self::ClearingUniqueId,
            "cardReference" => Self::CardReference,
            "transUid" => Self::TransUid,
            "referenceNumber" => Self::ReferenceNumber,
            "financialNetworkCode" => Self::FinancialNetworkCode,
            "settlementDate" => Self::SettlementDate,
            "banknetDate" => Self::BanknetDate,
            "processDate" => Self::ProcessDate,
            "transactionAmount" => Self::TransactionAmount,
            "transactionCurrency" => Self::TransactionCurrency,
            "cardholderAmount" => Self::CardholderAmount,
            "cardholderCurrency" => Self::CardholderCurrency,
            "transactionLocalDate" => Self::TransactionLocalDate,
            "transactionLocalTime" => Self::TransactionLocalTime,
            "transactionType" => Self::TransactionType,
            "functionCode" => Self::FunctionCode,
            "messageReasonCode" => Self::MessageReasonCode,
            "merchantName" => Self::MerchantName,
            "merchantCategoryCode" => Self::MerchantCategoryCode,
            "cardAcceptorCity" => Self::CardAcceptorCity,
            "cardAcceptorState" => Self::CardAcceptorState,
            "merchantCountryCode" => Self::MerchantCountryCode,
            "acquirerId" => Self::AcquirerId,
            _ => return None,
        })
    }

    pub const fn kind(self) -> FieldKind {
        match self {
            Self::ClearingUniqueId => FieldKind::Text { max_len: 64 },
            Self::CardReference => FieldKind::Text { max_len: 128 },
            Self::TransUid => FieldKind::Text { max_len: 64 },
            Self::ReferenceNumber => FieldKind::Text { max_len: 32 },
            Self::FinancialNetworkCode => FieldKind::Text { max_len: 8 },
            Self::SettlementDate | Self::ProcessDate | Self::TransactionLocalDate => {
                FieldKind::Date
            }
            Self::BanknetDate => FieldKind::MonthDay,
            Self::TransactionAmount | Self::CardholderAmount => FieldKind::Amount,
            Self::TransactionCurrency | Self::CardholderCurrency => FieldKind::Currency,
            Self::TransactionLocalTime => FieldKind::Time,
            Self::TransactionType => FieldKind::Digits { len: 2 },
            Self::FunctionCode => FieldKind::FunctionCode,
            Self::MessageReasonCode | Self::MerchantCategoryCode => FieldKind::Digits { len: 4 },
            Self::MerchantName => FieldKind::Text { max_len: 128 },
            Self::CardAcceptorCity => FieldKind::Text { max_len: 64 },
            Self::CardAcceptorState => FieldKind::Text { max_len: 8 },
            Self::MerchantCountryCode => FieldKind::Country,
            Self::AcquirerId => FieldKind::Text { max_len: 16 },
        }
    }

    /// Identity fields say which record this is; changing them would make it
    /// another record, so operators cannot adjust them.
    pub const fn is_identity(self) -> bool {
        matches!(self, Self::ClearingUniqueId | Self::CardReference)
    }

    /// Fields a record cannot be matched without.
    pub const fn is_required(self) -> bool {
        matches!(
            self,
            Self::ClearingUniqueId
                | Self::CardReference
                | Self::TransactionAmount
                | Self::TransactionCurrency
                | Self::TransactionLocalDate
                | Self::SettlementDate
                | Self::FunctionCode
        )
    }
}

impl fmt::Display for ClearingField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ClearingField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ClearingField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown clearing field `{name}`")))
    }
}

/// What is wrong with one field, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldProblem {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub field: ClearingField,
    pub problem: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// The text of each field as received (or as adjusted by an operator).
pub type FieldValues = BTreeMap<ClearingField, String>;

/// A value once parsed for its field (text borrowed from the field's own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TypedValue<'a> {
    Text(&'a str),
    Amount(Decimal),
    Date(NaiveDate),
    Time(NaiveTime),
}

use super::lifecycle::FUNCTION_CODES;

/// The value of ASCII digits already checked to be digits.
fn digits(text: &str) -> u32 {
    text.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'))
}

impl FieldKind {
    /// Parses `text` for this kind, or says why it cannot be.
    pub fn check(self, text: &str) -> Result<TypedValue<'_>, String> {
        match self {
            FieldKind::Text { max_len } => {
                if text.trim().is_empty() {
                    Err("must not be empty".into())
                // Characters are never more than bytes: count them only when it can matter.
                } else if text.len() > max_len && text.chars().count() > max_len {
                    Err(format!("is longer than {max_len} characters"))
                } else if text.chars().any(char::is_control) {
                    Err("contains control characters".into())
                } else {
                    Ok(TypedValue::Text(text))
                }
            }
            FieldKind::Amount => parse_amount(text).map(TypedValue::Amount),
            FieldKind::Currency => {
                if currency::minor_units(text).is_some() {
                    Ok(TypedValue::Text(text))
                } else {
                    Err(format!("'{text}' is not an ISO 4217 currency code"))
                }
            }
            FieldKind::Date => parse_date(text).map(TypedValue::Date),
            FieldKind::Time => parse_time(text)
                .map(TypedValue::Time)
                .ok_or_else(|| format!("'{text}' is not a valid time (HH:MM:SS)")),
            FieldKind::Digits { len } => {
                if text.len() == len && text.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(TypedValue::Text(text))
                } else {
                    Err(format!("'{text}' must be exactly {len} digits"))
                }
            }
            FieldKind::MonthDay => {
                let ok = text.len() == 4
                    && text.bytes().all(|b| b.is_ascii_digit())
                    // 2000 is a leap year, so 0229 is accepted.
                    && NaiveDate::from_ymd_opt(2000, digits(&text[..2]), digits(&text[2..])).is_some();
                if ok {
                    Ok(TypedValue::Text(text))
                } else {
                    Err(format!("'{text}' is not a valid month and day (MMDD)"))
                }
            }
            FieldKind::Country => {
                if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
                    Ok(TypedValue::Text(text))
                } else {
                    Err(format!("'{text}' is not an ISO 3166 alpha-3 country code"))
                }
            }
            FieldKind::FunctionCode => {
                if FUNCTION_CODES.contains(&text) {
                    Ok(TypedValue::Text(text))
                } else {
                    Err(format!(
                        "'{text}' is not a supported function code ({})",
                        FUNCTION_CODES.join(", ")
                    ))
                }
            }
        }
    }
}

/// Reads `HH:MM:SS`. The canonical form is read directly (every record has a
/// time, and chrono's format interpreter is slow); anything else goes through
/// chrono's `%H:%M:%S`, so what is accepted is exactly what chrono accepts.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    let canonical = b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit());
    canonical
        .then(|| {
            NaiveTime::from_hms_opt(digits(&text[..2]), digits(&text[3..5]), digits(&text[6..]))
        })
        .flatten()
        .or_else(|| NaiveTime::parse_from_str(text, "%H:%M:%S").ok())
}

/// Reads a clearing amount: its decimal text through the one parser, never negative.
/// Whether it has more decimals than its currency is checked in validation,
/// where the currency is known.
pub fn parse_amount(text: &str) -> Result<Decimal, String> {
    // A field's text does not say whether the network sent a JSON number or a
    // string, so JSON's exponent form (`1.5e2`) is read too; either way exactly.
    let amount = parse_decimal(text, Notation::JsonNumber).map_err(|e| e.to_string())?;
    if amount.is_sign_negative() {
        return Err(format!("'{}' is negative", shorten(text)));
    }
    Ok(amount)
}

/// Parses `YYYY-MM-DD`, naming what is wrong (the seed's `2024-24-04` has month 24).
/// Kept under this path for its callers; the parser is [`crate::parse::parse_date`].
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    crate::parse::parse_date(text).map_err(|e| e.to_string())
}

/// The record's transaction date, if it has a valid one: what the date searches go by.
pub fn transaction_date(fields: &FieldValues) -> Option<NaiveDate> {
    fields
        .get(&ClearingField::TransactionLocalDate)
        .and_then(|d| crate::parse::parse_date(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_its_name() {
        for f in ClearingField::ALL {
            assert_eq!(ClearingField::from_name(f.name()), Some(f));
        }
        assert_eq!(ClearingField::from_name("cardNumber"), None);
    }

    #[test]
    fn seed_local_date_is_rejected_naming_the_month() {
        let err = parse_date("2024-24-04").unwrap_err();
        assert!(err.contains("month 24"), "{err}");
        assert_eq!(
            parse_date("2024-04-24").unwrap(),
            NaiveDate::from_ymd_opt(2024, 4, 24).unwrap()
        );
        assert!(parse_date("2023-02-29")
            .unwrap_err()
            .contains("day out of range"));
        assert!(parse_date("24-04-2024").is_err());
    }

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(parse_amount("12.34").unwrap().to_string(), "12.34");
        assert_eq!(parse_amount("12.30").unwrap().to_string(), "12.30");
        assert_eq!(parse_amount("1.5e2").unwrap(), Decimal::from(150));
        assert_eq!(
            parse_amount("0.1").unwrap() + parse_amount("0.2").unwrap(),
            parse_amount("0.3").unwrap()
        );
        assert!(parse_amount("-1").unwrap_err().contains("is negative"));
        assert!(
            parse_amount("-0.00").unwrap().is_zero(),
            "zero is not negative"
        );
        assert!(parse_amount("12,34").is_err());
        assert!(parse_amount("abc").is_err());
        // What the network's digits cannot mean is refused, never guessed or rounded.
        for text in [
            "012.30",
            "12.",
            ".5",
            "+1",
            "1_000",
            "1.00000000000000000000000000001",
        ] {
            assert!(FieldKind::Amount.check(text).is_err(), "{text}");
        }
    }

    #[test]
    fn times_read_directly_agree_with_chrono() {
        let chrono = |t: &str| NaiveTime::parse_from_str(t, "%H:%M:%S").ok();
        let mut texts: Vec<String> = ["16:01:00", "23:59:60", "24:00:00", "7:01:00", "07:1:00"]
            .map(String::from)
            .into();
        texts.extend(["1a:00:00", "16-01-00", "16:01:00 ", "", "16:01"].map(String::from));
        for h in [0, 9, 23, 24, 99] {
            for m in [0, 59, 60] {
                for s in [0, 59, 60, 61] {
                    texts.push(format!("{h:02}:{m:02}:{s:02}"));
                }
            }
        }
        for text in &texts {
            assert_eq!(parse_time(text), chrono(text), "{text:?}");
        }
        assert_eq!(parse_time("16:01:02"), NaiveTime::from_hms_opt(16, 1, 2));
    }

    #[test]
    fn long_text_is_measured_in_characters() {
        let kind = FieldKind::Text { max_len: 3 };
        assert!(kind.check("ééé").is_ok(), "6 bytes, 3 characters");
        assert!(kind.check("éééé").is_err());
    }

    #[test]
    fn kinds_check_their_text() {
        assert!(FieldKind::Currency.check("USD").is_ok());
        assert!(FieldKind::Currency.check("XXZ").is_err());
        assert!(FieldKind::Time.check("16:01:00").is_ok());
        assert!(FieldKind::Time.check("25:01:00").is_err());
        assert!(FieldKind::MonthDay.check("0424").is_ok());
        assert!(FieldKind::MonthDay.check("1324").is_err());
        assert!(FieldKind::Digits { len: 4 }.check("4111").is_ok());
        assert!(FieldKind::Digits { len: 4 }.check("411").is_err());
        assert!(FieldKind::FunctionCode.check("200").is_ok());
        assert!(FieldKind::FunctionCode.check("999").is_err());
        assert!(FieldKind::Country.check("USA").is_ok());
        assert!(FieldKind::Country.check("us").is_err());
        assert!(FieldKind::Text { max_len: 3 }.check("abcd").is_err());
        assert!(FieldKind::Text { max_len: 3 }.check(" ").is_err());
    }
}
