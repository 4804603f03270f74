//! Authorizations: what clearing records are matched against.
//!
//! They arrive by the same webhook as clearings, as
//! `{"authorizations": [{...}]}` with camelCase fields like the clearing
//! record's. Amounts are exact decimals read from the JSON text.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::authorization_change::{change_id, AuthorizationChange, AuthorizationChangeKind};
use crate::clearing::currency;
use crate::clearing::fields::parse_amount;
use crate::clearing::notification::{check_count, check_sizes, parse_envelope, NotificationError};
use crate::parse::parse_date;

/// How a clearing record finds its authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthorizationKey {
    TransUid(String),
    Reference {
        financial_network_code: String,
        reference_number: String,
        settlement_date: NaiveDate,
    },
}

impl AuthorizationKey {
    /// The partition key of the authorization item (or of its reference alias).
    pub fn partition_key(&self) -> String {
        match self {
            Self::TransUid(uid) => format!("AUTH#{uid}"),
            Self::Reference {
                financial_network_code,
                reference_number,
                settlement_date,
            } => {
                format!("AUTHREF#{financial_network_code}#{reference_number}#{settlement_date}")
            }
        }
    }
}

impl fmt::Display for AuthorizationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TransUid(uid) => write!(f, "transUid {uid}"),
            Self::Reference { financial_network_code, reference_number, settlement_date } => write!(
                f,
                "financialNetworkCode {financial_network_code}, referenceNumber {reference_number}, settlementDate {settlement_date}"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizationStatus {
    Approved,
    Declined,
    Reversed,
    /// Not cleared in full within its window (set by the expiry sweep only).
    Expired,
}

/// A stored authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    pub trans_uid: String,
    pub card_network: String,
    pub card_hash: String,
    pub financial_network_code: Option<String>,
    pub reference_number: Option<String>,
    pub settlement_date: Option<NaiveDate>,
    pub amount: Decimal,
    pub currency: String,
    pub merchant_category_code: Option<String>,
    pub authorized_at: DateTime<Utc>,
    pub status: AuthorizationStatus,
    /// The first presentment that cleared this authorization, once one has.
    #[serde(default)]
    pub claimed_by: Option<String>,
    pub raw_payload: String,
    /// Reversed so far; the amount still authorized is `amount - reversed_amount`.
    #[serde(default)]
    pub reversed_amount: Decimal,
    /// Number of changes so far; updates are conditional on it.
    #[serde(default = "first_version")]
    pub version: u64,
    /// Every record that changed it, in order (the first is the one that created it).
    #[serde(default)]
    pub history: Vec<AuthorizationChange>,
    /// The first presentments that cleared it, by clearing id (split shipments
    /// and partial captures clear it cumulatively). Written by the claims
    /// only; stores keep them apart from the rest of the item.
    #[serde(skip)]
    pub clearings: BTreeMap<String, ClearedPresentment>,
    /// When it expires if not cleared in full: fixed when it was stored, with
    /// the rules in force then (none for one stored declined or reversed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<crate::authorization_expiry::ExpiryTerms>,
}

/// A first presentment that cleared (part of) an authorization: what a true
/// duplicate repeats (amount, reference and date) and what it counts towards the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearedPresentment {
    /// In the authorization's currency (the billed amount for a foreign purchase).
    pub amount: Decimal,
    #[serde(default)]
    pub reference_number: Option<String>,
    pub transaction_date: NaiveDate,
}

impl Authorization {
    /// What the first presentments other than `except` cleared so far
    /// (None if out of range).
    pub fn cleared_except(&self, except: &str) -> Option<Decimal> {
        self.clearings
            .iter()
            .filter(|(id, _)| id.as_str() != except)
            .try_fold(Decimal::ZERO, |sum, (_, c)| sum.checked_add(c.amount))
    }
}

fn first_version() -> u64 {
    1
}

impl Authorization {
    /// Keys under which this authorization is stored: always its transUid,
    /// plus the reference alias when the network gave one.
    pub fn keys(&self) -> Vec<AuthorizationKey> {
        let mut keys = vec![AuthorizationKey::TransUid(self.trans_uid.clone())];
        if let (Some(n), Some(r), Some(d)) = (
            &self.financial_network_code,
            &self.reference_number,
            self.settlement_date,
        ) {
            keys.push(AuthorizationKey::Reference {
                financial_network_code: n.clone(),
                reference_number: r.clone(),
                settlement_date: d,
            });
        }
        keys
    }
}

/// An authorization record that could not be read, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedAuthorization {
    pub index: usize,
    pub trans_uid: Option<String>,
    pub problem: String,
    pub raw_payload: String,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    authorizations: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAuthorization<'a> {
    trans_uid: String,
    card_reference: String,
    financial_network_code: Option<String>,
    reference_number: Option<String>,
    settlement_date: Option<String>,
    #[serde(borrow)]
    transaction_amount: &'a RawValue,
    transaction_currency: String,
    merchant_category_code: Option<String>,
    authorization_date_time: String,
    status: AuthorizationStatus,
    /// For a partial reversal (status REVERSED): the amount reversed; absent, all of it.
    #[serde(borrow, default)]
    reversal_amount: Option<&'a RawValue>,
}

/// Splits an authorization notification into readable and rejected records.
pub fn parse_authorization_notification(
    body: &[u8],
    card_network: &str,
) -> Result<Vec<Result<Authorization, RejectedAuthorization>>, NotificationError> {
    let envelope: Envelope<'_> = parse_envelope(body, "authorizations")?;
    check_count(envelope.authorizations.len(), "authorizations")?;
    check_sizes(&envelope.authorizations, "authorizations")?;
    Ok(envelope
        .authorizations
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            parse_one(raw, card_network).map_err(|problem| RejectedAuthorization {
                index,
                trans_uid: serde_json::from_str::<serde_json::Value>(raw.get())
                    .ok()
                    .and_then(|v| {
                        v.get("transUid")
                            .and_then(|u| u.as_str())
                            .map(str::to_owned)
                    }),
                problem,
                raw_payload: raw.get().to_owned(),
            })
        })
        .collect())
}

fn parse_one(raw: &RawValue, card_network: &str) -> Result<Authorization, String> {
    // serde reads a struct from a sequence too: a record is an object.
    if !crate::clearing::notification::is_json_object(raw.get().as_bytes()) {
        return Err("record is not a JSON object".into());
    }
    let wire: WireAuthorization<'_> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    let non_empty = |name: &str, v: &str| {
        if v.trim().is_empty() || v.len() > 128 {
            Err(format!(
                "{name} must be a non-empty string of at most 128 characters"
            ))
        } else {
            Ok(())
        }
    };
    non_empty("transUid", &wire.trans_uid)?;
    non_empty("cardReference", &wire.card_reference)?;
    // Both are part of a key (the reference alias): bounded like transUid.
    if let Some(code) = &wire.financial_network_code {
        non_empty("financialNetworkCode", code)?;
    }
    if let Some(reference) = &wire.reference_number {
        non_empty("referenceNumber", reference)?;
    }
    // Read as the clearing record's amount is, so the two compare like for like.
    let amount_text = wire.transaction_amount.get().trim_matches('"');
    let amount = parse_amount(amount_text).map_err(|e| format!("transactionAmount: {e}"))?;
    let units = currency::minor_units(&wire.transaction_currency).ok_or_else(|| {
        format!(
            "transactionCurrency: '{}' is not an ISO 4217 currency code",
            wire.transaction_currency
        )
    })?;
    if !currency::fits_minor_units(amount, units) {
        return Err(format!(
            "transactionAmount: {amount} has more than {units} decimal places for {}",
            wire.transaction_currency
        ));
    }
    let settlement_date = wire
        .settlement_date
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(|e| format!("settlementDate: {e}"))?;
    let authorized_at = DateTime::parse_from_rfc3339(&wire.authorization_date_time)
        .map_err(|_| {
            format!(
                "authorizationDateTime: '{}' is not an RFC 3339 date-time",
                wire.authorization_date_time
            )
        })?
        .with_timezone(&Utc);
    if let Some(mcc) = &wire.merchant_category_code {
        if mcc.len() != 4 || !mcc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "merchantCategoryCode: '{mcc}' must be exactly 4 digits"
            ));
        }
    }
    let reversal = reversal_of(&wire, amount)?;
    let change = first_change(wire.status, reversal, amount, card_network, raw.get());
    let (status, reversed_amount) = (change.status, change.reversed_amount);
    Ok(Authorization {
        trans_uid: wire.trans_uid,
        card_network: card_network.to_owned(),
        card_hash: wire.card_reference,
        financial_network_code: wire.financial_network_code,
        reference_number: wire.reference_number,
        settlement_date,
        amount,
        currency: wire.transaction_currency,
        merchant_category_code: wire.merchant_category_code,
        authorized_at,
        status,
        claimed_by: None,
        raw_payload: raw.get().to_owned(),
        reversed_amount,
        version: 1,
        history: vec![change],
        clearings: BTreeMap::new(),
        expiry: None,
    })
}

/// The change a record makes to an authorization not stored yet: a reversal
/// received before its approval stores the authorization reversed (in part or whole).
fn first_change(
    wire_status: AuthorizationStatus,
    reversal: Option<Decimal>,
    amount: Decimal,
    card_network: &str,
    raw: &str,
) -> AuthorizationChange {
    let (kind, status, reversed_amount) = match (wire_status, reversal) {
        (AuthorizationStatus::Reversed, Some(r)) if r < amount => (
            AuthorizationChangeKind::PartiallyReversed,
            AuthorizationStatus::Approved,
            r,
        ),
        (AuthorizationStatus::Reversed, _) => (
            AuthorizationChangeKind::Reversed,
            AuthorizationStatus::Reversed,
            amount,
        ),
        (AuthorizationStatus::Approved, _) => (
            AuthorizationChangeKind::Approved,
            AuthorizationStatus::Approved,
            Decimal::ZERO,
        ),
        (AuthorizationStatus::Declined, _) => (
            AuthorizationChangeKind::Declined,
            AuthorizationStatus::Declined,
            Decimal::ZERO,
        ),
        // Refused by `reversal_of` before this.
        (AuthorizationStatus::Expired, _) => (
            AuthorizationChangeKind::Declined,
            AuthorizationStatus::Declined,
            Decimal::ZERO,
        ),
    };
    AuthorizationChange {
        version: 1,
        kind,
        amount: if reversed_amount.is_zero() {
            amount
        } else {
            reversed_amount
        },
        status,
        reversed_amount,
        at: Utc::now(),
        actor: format!("webhook:{}", card_network.to_ascii_lowercase()),
        change_id: change_id(raw),
        matched_clearing: None,
        raw_payload: raw.to_owned(),
    }
}

/// The amount a REVERSED record reverses, when it names one: positive, in the
/// currency's minor units, at most the authorized amount. (A record may not say EXPIRED.)
fn reversal_of(wire: &WireAuthorization<'_>, amount: Decimal) -> Result<Option<Decimal>, String> {
    // Only the expiry sweep expires: a record saying so is refused.
    if wire.status == AuthorizationStatus::Expired {
        return Err("status: EXPIRED is decided by the expiry sweep, not sent".into());
    }
    let Some(raw) = wire.reversal_amount else {
        return Ok(None);
    };
    let r =
        parse_amount(raw.get().trim_matches('"')).map_err(|e| format!("reversalAmount: {e}"))?;
    let units = currency::minor_units(&wire.transaction_currency).unwrap_or(2);
    if r <= Decimal::ZERO || r > amount || !currency::fits_minor_units(r, units) {
        return Err(format!(
            "reversalAmount: {r} must be above zero, at most the transactionAmount {amount}, with at most {units} decimal places"
        ));
    }
    if wire.status != AuthorizationStatus::Reversed {
        return Err("reversalAmount: only a REVERSED record reverses an amount".into());
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_and_rejects_bad_records_independently() {
        let body = br#"{"authorizations": [
            {"transUid": "T1", "cardReference": "C1", "transactionAmount": 10.10, "transactionCurrency": "USD",
             "merchantCategoryCode": "5812", "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED",
             "financialNetworkCode": "MCF", "referenceNumber": "R1", "settlementDate": "2024-04-26"},
            {"transUid": "T2", "cardReference": "C1", "transactionAmount": 1.001, "transactionCurrency": "USD",
             "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"}
        ]}"#;
        let parsed = parse_authorization_notification(body, "MASTERCARD").unwrap();
        let first = parsed[0].as_ref().unwrap();
        assert_eq!(first.amount.to_string(), "10.10");
        assert_eq!(first.keys().len(), 2);
        let second = parsed[1].as_ref().unwrap_err();
        assert_eq!(second.trans_uid.as_deref(), Some("T2"));
        assert!(
            second.problem.contains("decimal places"),
            "{}",
            second.problem
        );
    }

    #[test]
    fn values_that_become_keys_are_bounded() {
        for field in [
            "transUid",
            "cardReference",
            "financialNetworkCode",
            "referenceNumber",
        ] {
            let mut record = serde_json::json!({"transUid": "T1", "cardReference": "C1",
                "transactionAmount": "1.00", "transactionCurrency": "USD",
                "financialNetworkCode": "MCF", "referenceNumber": "R1", "settlementDate": "2024-04-26",
                "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"});
            record[field] = serde_json::json!("x".repeat(3000));
            let body = serde_json::json!({ "authorizations": [record] }).to_string();
            let parsed = parse_authorization_notification(body.as_bytes(), "MASTERCARD").unwrap();
            let problem = &parsed[0].as_ref().unwrap_err().problem;
            assert!(problem.starts_with(field), "{field}: {problem}");
        }
    }

    #[test]
    fn the_envelope_and_each_record_are_objects() {
        let record =
            r#"["T1", "C1", null, null, null, 1, "USD", null, "2024-04-24T16:00:00Z", "APPROVED"]"#;
        let e = parse_authorization_notification(format!("[[{record}]]").as_bytes(), "MASTERCARD");
        assert!(matches!(e, Err(NotificationError::WrongShape { .. })));
        let body = format!(r#"{{"authorizations": [{record}]}}"#);
        let parsed = parse_authorization_notification(body.as_bytes(), "MASTERCARD").unwrap();
        assert_eq!(
            parsed[0].as_ref().unwrap_err().problem,
            "record is not a JSON object"
        );
    }
}
