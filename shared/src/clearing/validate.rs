//! Validation of a clearing record's fields into typed values.

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;

use super::currency;
use super::fields::{ClearingField, FieldProblem, FieldValues, TypedValue};
use crate::authorization::AuthorizationKey;

/// A clearing record whose every field parsed for its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidClearing {
    pub clearing_unique_id: String,
    pub card_hash: String,
    pub trans_uid: Option<String>,
    pub reference_number: Option<String>,
    pub financial_network_code: Option<String>,
    pub settlement_date: NaiveDate,
    pub transaction_amount: Decimal,
    pub transaction_currency: String,
    pub cardholder_amount: Option<Decimal>,
    pub cardholder_currency: Option<String>,
    pub transaction_local_date: NaiveDate,
    pub transaction_local_time: Option<NaiveTime>,
    pub function_code: String,
    pub message_reason_code: Option<String>,
    pub merchant_category_code: Option<String>,
}

impl ValidClearing {
    /// The key its authorization is looked up by: `transUid`, else the
    /// network's reference number on its settlement date.
    pub fn authorization_key(&self) -> AuthorizationKey {
        match (
            &self.trans_uid,
            &self.financial_network_code,
            &self.reference_number,
        ) {
            (Some(uid), _, _) => AuthorizationKey::TransUid(uid.clone()),
            (None, Some(network), Some(reference)) => AuthorizationKey::Reference {
                financial_network_code: network.clone(),
                reference_number: reference.clone(),
                settlement_date: self.settlement_date,
            },
            // validate() refuses a record with neither, so this is not reached;
            // an impossible key simply finds no authorization.
            _ => AuthorizationKey::TransUid(String::new()),
        }
    }

    /// First presentments claim their authorization; a second one is a duplicate.
    pub fn is_first_presentment(&self) -> bool {
        is_first_presentment_code(&self.function_code)
    }
}

/// DE24 200: a first presentment (a valid record's function code is exactly one of the codes).
pub fn is_first_presentment_code(code: &str) -> bool {
    code == "200"
}

/// Each field's parsed value, by the field's place in [`ClearingField::ALL`]
/// (an array: validation runs on every record, a map would allocate).
struct Parsed<'a>([Option<TypedValue<'a>>; ClearingField::ALL.len()]);

impl<'a> Parsed<'a> {
    fn get(&self, field: &ClearingField) -> Option<&TypedValue<'a>> {
        self.0[*field as usize].as_ref()
    }
}

/// Longest text, in bytes, of a field the store puts in a key or an index key.
/// DynamoDB refuses a partition key over 2,048 bytes and a sort key over 1,024
/// (the whole write fails); the store's keys add a prefix and a timestamp.
pub const MAX_KEY_VALUE_BYTES: usize = 512;

/// The fields whose text the store puts in a key or an index key.
pub const KEY_FIELDS: [ClearingField; 5] = [
    ClearingField::ClearingUniqueId,
    ClearingField::CardReference,
    ClearingField::TransUid,
    ClearingField::ReferenceNumber,
    ClearingField::FinancialNetworkCode,
];

/// `field`'s text if the store can put it in a key: present, not blank, no
/// control characters, at most [`MAX_KEY_VALUE_BYTES`]. Any other value stays
/// in the raw payload only, and validation names its field, so one such
/// record is stored PENDING rather than failing its whole notification.
pub fn key_value(fields: &FieldValues, field: ClearingField) -> Option<&str> {
    fields
        .get(&field)
        .map(String::as_str)
        .filter(|text| is_key_safe(text))
}

fn is_key_safe(text: &str) -> bool {
    !text.trim().is_empty() && text.len() <= MAX_KEY_VALUE_BYTES && !text.contains(char::is_control)
}

/// Checks every field, collecting all problems rather than stopping at the first,
/// so an operator sees everything to fix at once.
pub fn validate(fields: &FieldValues) -> Result<ValidClearing, Vec<FieldProblem>> {
    let (parsed, mut problems) = parse_fields(fields);
    record_problems(fields, &parsed, &mut problems);
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.field);
        problems.dedup();
        return Err(problems);
    }
    typed(&parsed)
}

/// Each present field parsed for its kind; the fields that do not parse.
fn parse_fields(fields: &FieldValues) -> (Parsed<'_>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let mut parsed = Parsed([None; ClearingField::ALL.len()]);
    for (&field, text) in fields {
        match field.kind().check(text) {
            Ok(value) => {
                parsed.0[field as usize] = Some(value);
            }
            Err(problem) => problems.push(FieldProblem { field, problem }),
        }
    }
    (parsed, problems)
}

/// Problems of the record as a whole: missing fields, no key to match on,
/// amounts finer than their currency, a billing amount without its currency.
fn record_problems(fields: &FieldValues, parsed: &Parsed, problems: &mut Vec<FieldProblem>) {
    for field in ClearingField::ALL {
        if field.is_required() && !fields.contains_key(&field) {
            problems.push(FieldProblem {
                field,
                problem: "is missing".into(),
            });
        }
    }
    for field in KEY_FIELDS {
        match fields.get(&field) {
            Some(text) if !is_key_safe(text) && text.len() > MAX_KEY_VALUE_BYTES => {
                problems.push(FieldProblem {
                    field,
                    problem: format!(
                        "is {} bytes; a value used as a key may be at most {MAX_KEY_VALUE_BYTES}",
                        text.len()
                    ),
                })
            }
            _ => {}
        }
    }
    let has = |f: ClearingField| fields.contains_key(&f);
    let matchable = has(ClearingField::TransUid)
        || (has(ClearingField::FinancialNetworkCode) && has(ClearingField::ReferenceNumber));
    if !matchable {
        problems.push(FieldProblem {
            field: ClearingField::TransUid,
            problem: "is missing, and there is no financialNetworkCode with referenceNumber to match on instead"
                .into(),
        });
    }
    check_scale(
        parsed,
        ClearingField::TransactionAmount,
        ClearingField::TransactionCurrency,
        problems,
    );
    check_scale(
        parsed,
        ClearingField::CardholderAmount,
        ClearingField::CardholderCurrency,
        problems,
    );
    if has(ClearingField::CardholderAmount) != has(ClearingField::CardholderCurrency) {
        problems.push(FieldProblem {
            field: ClearingField::CardholderCurrency,
            problem: "cardholderAmount and cardholderCurrency must be given together".into(),
        });
    }
}

/// The typed record from fields that all parsed (a required one absent is still named).
fn typed(parsed: &Parsed) -> Result<ValidClearing, Vec<FieldProblem>> {
    let text = |f: ClearingField| match parsed.get(&f) {
        Some(TypedValue::Text(s)) => Some((*s).to_owned()),
        _ => None,
    };
    let amount = |f: ClearingField| match parsed.get(&f) {
        Some(TypedValue::Amount(a)) => Some(*a),
        _ => None,
    };
    let date = |f: ClearingField| match parsed.get(&f) {
        Some(TypedValue::Date(d)) => Some(*d),
        _ => None,
    };
    let missing = |f: ClearingField| {
        vec![FieldProblem {
            field: f,
            problem: "is missing".into(),
        }]
    };
    Ok(ValidClearing {
        clearing_unique_id: text(ClearingField::ClearingUniqueId)
            .ok_or_else(|| missing(ClearingField::ClearingUniqueId))?,
        card_hash: text(ClearingField::CardReference)
            .ok_or_else(|| missing(ClearingField::CardReference))?,
        trans_uid: text(ClearingField::TransUid),
        reference_number: text(ClearingField::ReferenceNumber),
        financial_network_code: text(ClearingField::FinancialNetworkCode),
        settlement_date: date(ClearingField::SettlementDate)
            .ok_or_else(|| missing(ClearingField::SettlementDate))?,
        transaction_amount: amount(ClearingField::TransactionAmount)
            .ok_or_else(|| missing(ClearingField::TransactionAmount))?,
        transaction_currency: text(ClearingField::TransactionCurrency)
            .ok_or_else(|| missing(ClearingField::TransactionCurrency))?,
        cardholder_amount: amount(ClearingField::CardholderAmount),
        cardholder_currency: text(ClearingField::CardholderCurrency),
        transaction_local_date: date(ClearingField::TransactionLocalDate)
            .ok_or_else(|| missing(ClearingField::TransactionLocalDate))?,
        transaction_local_time: match parsed.get(&ClearingField::TransactionLocalTime) {
            Some(TypedValue::Time(t)) => Some(*t),
            _ => None,
        },
        function_code: text(ClearingField::FunctionCode)
            .ok_or_else(|| missing(ClearingField::FunctionCode))?,
        message_reason_code: text(ClearingField::MessageReasonCode),
        merchant_category_code: text(ClearingField::MerchantCategoryCode),
    })
}

/// An amount may not carry more decimals than its currency has (12.345 USD):
/// rounding it would move money.
fn check_scale(
    parsed: &Parsed,
    amount_field: ClearingField,
    currency_field: ClearingField,
    problems: &mut Vec<FieldProblem>,
) {
    let (Some(TypedValue::Amount(amount)), Some(TypedValue::Text(code))) =
        (parsed.get(&amount_field), parsed.get(&currency_field))
    else {
        return;
    };
    if let Some(units) = currency::minor_units(code) {
        if !currency::fits_minor_units(*amount, units) {
            problems.push(FieldProblem {
                field: amount_field,
                problem: format!("{amount} has more than {units} decimal places for {code}"),
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::FieldValues;
    use crate::clearing::notification::parse_clearing_notification;

    pub(crate) fn seed_fields() -> FieldValues {
        let body = include_str!("../../../spec/mastercard-clearing-notification.example.json");
        parse_clearing_notification(body.as_bytes()).unwrap()[0]
            .fields
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::seed_fields;
    use super::*;

    #[test]
    fn every_field_has_its_own_place_in_the_parsed_array() {
        for (i, field) in ClearingField::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, i, "{field:?}");
        }
    }

    #[test]
    fn the_seed_record_fails_only_on_its_local_date() {
        let problems = validate(&seed_fields()).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, ClearingField::TransactionLocalDate);
        assert!(problems[0].problem.contains("month 24"));
    }

    #[test]
    fn the_corrected_seed_record_is_valid() {
        let mut fields = seed_fields();
        fields.insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
        let valid = validate(&fields).unwrap();
        assert_eq!(valid.transaction_amount.to_string(), "12.34");
        assert_eq!(
            valid.authorization_key(),
            AuthorizationKey::TransUid("20240426O9EC2A".into())
        );
    }

    #[test]
    fn all_problems_are_reported_together() {
        let mut fields = seed_fields();
        fields.remove(&ClearingField::TransactionCurrency);
        fields.insert(ClearingField::SettlementDate, "tomorrow".into());
        let problems = validate(&fields).unwrap_err();
        let named: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert!(named.contains(&ClearingField::TransactionCurrency));
        assert!(named.contains(&ClearingField::SettlementDate));
        assert!(named.contains(&ClearingField::TransactionLocalDate));
    }

    #[test]
    fn too_many_decimals_for_the_currency_is_invalid() {
        let mut fields = seed_fields();
        fields.insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
        fields.insert(ClearingField::TransactionAmount, "12.345".into());
        let problems = validate(&fields).unwrap_err();
        assert_eq!(problems[0].field, ClearingField::TransactionAmount);
        fields.insert(ClearingField::TransactionAmount, "12.340".into());
        assert!(
            validate(&fields).is_ok(),
            "trailing zeros are not extra precision"
        );
    }

    #[test]
    fn values_that_cannot_be_keys_are_invalid_and_never_offered_as_keys() {
        let mut fields = seed_fields();
        fields.insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
        for field in KEY_FIELDS {
            let mut bad = fields.clone();
            bad.insert(field, "é".repeat(MAX_KEY_VALUE_BYTES));
            let problems = validate(&bad).unwrap_err();
            assert!(
                problems.iter().any(|p| p.field == field),
                "{field}: {problems:?}"
            );
            assert!(
                problems.iter().any(|p| p.problem.contains("bytes")),
                "{field}: {problems:?}"
            );
            assert_eq!(key_value(&bad, field), None, "{field}");
        }
        for text in ["", "  ", "a\u{0}b"] {
            let mut bad = fields.clone();
            bad.insert(ClearingField::CardReference, text.into());
            assert_eq!(key_value(&bad, ClearingField::CardReference), None);
        }
        assert_eq!(
            key_value(&fields, ClearingField::TransUid),
            Some("20240426O9EC2A")
        );
    }

    #[test]
    fn reference_key_is_used_without_trans_uid() {
        let mut fields = seed_fields();
        fields.insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
        fields.remove(&ClearingField::TransUid);
        let valid = validate(&fields).unwrap();
        assert_eq!(
            valid.authorization_key(),
            AuthorizationKey::Reference {
                financial_network_code: "MCF".into(),
                reference_number: "MCFO9EC2A".into(),
                settlement_date: NaiveDate::from_ymd_opt(2024, 4, 26).unwrap(),
            }
        );
        fields.remove(&ClearingField::ReferenceNumber);
        let problems = validate(&fields).unwrap_err();
        assert_eq!(problems[0].field, ClearingField::TransUid);
    }
}
