//! Authorization expiry: unit tests.
use std::str::FromStr;

use chrono::TimeZone;

use super::*;
use crate::authorization::{parse_authorization_notification, ClearedPresentment};
use crate::clearing::matching::{match_clearing, DEFAULT_MATCHING_RULES};
use crate::clearing::{MatchOutcome, PendingReasonCode};
use crate::events::{authorization_events, AUTHORIZATION_EXPIRED};

fn rules() -> MatchingRules {
    MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap()
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 16, 0, 0).unwrap()
}

/// An approved 100.00 USD authorization of 2024-04-24 16:00, stored with the shipped rules.
fn approved(mcc: &str) -> Authorization {
    let body = format!(
        r#"{{"authorizations": [{{"transUid": "T1", "cardReference": "C1", "transactionAmount": 100.00,
            "transactionCurrency": "USD", "merchantCategoryCode": "{mcc}",
            "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"}}]}}"#
    );
    let mut auth = parse_authorization_notification(body.as_bytes(), "MASTERCARD").unwrap()[0]
        .clone()
        .unwrap();
    auth.expiry = rules().expiry_terms(&auth, at(2024, 4, 24));
    auth
}

fn cleared(auth: &mut Authorization, id: &str, amount: &str) {
    auth.clearings.insert(
        id.into(),
        ClearedPresentment {
            amount: Decimal::from_str(amount).unwrap(),
            reference_number: None,
            transaction_date: at(2024, 4, 25).date_naive(),
        },
    );
}

fn expired(auth: &Authorization, now: DateTime<Utc>) -> Authorization {
    match auth.expire(now) {
        ExpiryDecision::Expire(next) => *next,
        other => panic!("expected an expiry, got {other:?}"),
    }
}

#[test]
fn the_window_follows_the_merchant_category() {
    let r = rules();
    assert_eq!(r.expiry_window(Some("5411")).0, 7);
    assert_eq!(r.expiry_window(None), (7, "default".into()));
    for lodging_or_rental in ["7011", "3501", "3999", "3351", "3500", "7512"] {
        assert_eq!(
            r.expiry_window(Some(lodging_or_rental)).0,
            30,
            "{lodging_or_rental}"
        );
    }
    assert_eq!(r.expiry_window(Some("7513")).0, 7);
    let hotel = approved("7011").expiry.unwrap();
    assert_eq!(hotel.expires_at, at(2024, 5, 24));
    assert_eq!(hotel.window_rule, "lodging (hotels, motels, resorts)");
}

#[test]
fn the_sweep_day_is_never_before_the_day_it_was_stored() {
    let auth = approved("5411");
    let late = rules().expiry_terms(&auth, at(2024, 6, 1)).unwrap();
    assert_eq!(late.expires_at, at(2024, 5, 1));
    assert_eq!(late.sweep_on, at(2024, 6, 1).date_naive());
    assert_eq!(auth.expiry.unwrap().sweep_on, at(2024, 5, 1).date_naive());
}

#[test]
fn only_approved_authorizations_get_a_window() {
    let mut declined = approved("5411");
    declined.status = AuthorizationStatus::Declined;
    assert_eq!(rules().expiry_terms(&declined, at(2024, 4, 24)), None);
}

#[test]
fn an_authorization_expires_once_its_window_is_over_and_not_before() {
    let auth = approved("5411");
    assert_eq!(
        auth.expire(at(2024, 5, 1) - Duration::seconds(1)),
        ExpiryDecision::NotDue(at(2024, 5, 1))
    );
    let next = expired(&auth, at(2024, 5, 1));
    assert_eq!(next.status, AuthorizationStatus::Expired);
    assert_eq!(next.version, auth.version + 1);
    let change = next.history.last().unwrap();
    assert_eq!(change.kind, AuthorizationChangeKind::Expired);
    assert_eq!(change.amount.to_string(), "100.00");
    assert!(
        change.raw_payload.contains(r#""window_days":7"#),
        "{}",
        change.raw_payload
    );
    // Expired, it is closed: a second sweep changes nothing.
    assert_eq!(next.expire(at(2024, 6, 1)), ExpiryDecision::Closed);
}

#[test]
fn a_partly_cleared_authorization_expires_with_what_was_left_uncleared() {
    let mut auth = approved("5411");
    cleared(&mut auth, "c-1", "60.00");
    let next = expired(&auth, at(2024, 5, 2));
    assert_eq!(next.history.last().unwrap().amount.to_string(), "40.00");
}

#[test]
fn a_fully_cleared_reversed_or_windowless_authorization_never_expires() {
    let mut cleared_in_full = approved("5411");
    cleared(&mut cleared_in_full, "c-1", "60.00");
    cleared(&mut cleared_in_full, "c-2", "40.00");
    assert_eq!(
        cleared_in_full.expire(at(2025, 1, 1)),
        ExpiryDecision::Closed
    );
    let mut over_cleared = approved("5812");
    cleared(&mut over_cleared, "c-1", "115.00");
    assert_eq!(over_cleared.expire(at(2025, 1, 1)), ExpiryDecision::Closed);
    let mut reversed = approved("5411");
    reversed.status = AuthorizationStatus::Reversed;
    assert_eq!(reversed.expire(at(2025, 1, 1)), ExpiryDecision::Closed);
    let mut legacy = approved("5411");
    legacy.expiry = None;
    assert_eq!(legacy.expire(at(2025, 1, 1)), ExpiryDecision::Closed);
}

#[test]
fn an_expiry_is_announced_with_its_window_and_the_same_id_every_time() {
    let next = expired(&approved("7011"), at(2024, 5, 25));
    let events = authorization_events(&next, next.version);
    assert_eq!(events.len(), 1, "no clearing event for an expiry");
    assert_eq!(events[0].detail_type, AUTHORIZATION_EXPIRED);
    let detail: serde_json::Value = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(detail["status"], "EXPIRED");
    assert_eq!(detail["change"], "EXPIRED");
    assert_eq!(detail["expiry"]["window_days"], 30);
    assert_eq!(
        authorization_events(&next, next.version)[0].id,
        events[0].id
    );
}

#[test]
fn impossible_windows_are_refused() {
    for bad in [
        r#""default_expiry_days": 0"#,
        r#""expiry_windows": [{"name": "x", "mcc_from": 10, "mcc_to": 1, "days": 3}]"#,
        r#""expiry_windows": [{"name": "x", "mcc_from": 1, "mcc_to": 10, "days": 400}]"#,
    ] {
        let json = format!(r#"{{"tolerances": [], {bad}}}"#);
        assert!(MatchingRules::from_json(&json).is_err(), "{bad}");
    }
    let bare = MatchingRules::from_json(r#"{"tolerances": []}"#).unwrap();
    assert_eq!(bare.default_expiry_days, 7);
    assert_eq!(bare.late_presentment, LatePresentmentRule::Hold);
}

fn clearing(amount: &str) -> crate::clearing::validate::ValidClearing {
    use crate::clearing::ClearingField;
    let mut fields = crate::clearing::validate::tests_support::seed_fields();
    fields.insert(ClearingField::TransactionLocalDate, "2024-05-20".into());
    fields.insert(ClearingField::TransactionAmount, amount.into());
    fields.insert(ClearingField::TransactionCurrency, "USD".into());
    fields.insert(ClearingField::CardReference, "C1".into());
    fields.insert(ClearingField::TransUid, "T1".into());
    fields.insert(ClearingField::MessageReasonCode, "1402".into());
    crate::clearing::validate::validate(&fields).unwrap()
}

#[test]
fn a_late_presentment_is_matched_and_flagged_or_held_by_rule() {
    let late = expired(&approved("5411"), at(2024, 5, 2));
    let mut r = rules();
    assert_eq!(r.late_presentment, LatePresentmentRule::MatchAndFlag);
    let MatchOutcome::Matched(m) = match_clearing(&clearing("100.00"), Some(&late), &r) else {
        panic!("expected a match");
    };
    let flag = m.late_presentment.unwrap();
    for part in ["2024-04-24", "7-day window", "2024-05-01", "MATCH_AND_FLAG"] {
        assert!(flag.contains(part), "{part}: {flag}");
    }
    r.late_presentment = LatePresentmentRule::Hold;
    let MatchOutcome::Pending(reason) = match_clearing(&clearing("100.00"), Some(&late), &r) else {
        panic!("expected pending");
    };
    assert_eq!(reason.code, PendingReasonCode::LatePresentment);
    for part in [
        "2024-04-24",
        "7-day window",
        "2024-05-01",
        "2024-05-20",
        "HOLD",
    ] {
        assert!(reason.detail.contains(part), "{part}: {}", reason.detail);
    }
    // Not expired: no flag.
    let MatchOutcome::Matched(m) = match_clearing(&clearing("100.00"), Some(&approved("5411")), &r)
    else {
        panic!("expected a match");
    };
    assert_eq!(m.late_presentment, None);
}
