//! Unit tests of the manual actions.

use std::str::FromStr;

use chrono::Utc;
use rust_decimal::Decimal;

use super::*;
use crate::authorization::AuthorizationStatus;
use crate::clearing::matching::PendingReasonCode;
use crate::clearing::notification::parse_clearing_notification;
use crate::clearing::PreparedRecord;

/// The seed record, PENDING (its local date has month 24).
fn pending() -> ClearingMessage {
    let body = include_str!("../../../spec/mastercard-clearing-notification.example.json");
    let record = parse_clearing_notification(body.as_bytes())
        .unwrap()
        .remove(0);
    let rules = crate::clearing::RulesVersion::shipped();
    let d = ClearingMessage::ingest(
        PreparedRecord::new(record),
        "MASTERCARD",
        None,
        &rules,
        "webhook",
        Utc::now(),
    );
    assert_eq!(d.message.status, ClearingStatus::Pending);
    d.message
}

fn auth(amount: &str) -> Authorization {
    Authorization {
        trans_uid: "20240426O9EC2A".into(),
        card_network: "MASTERCARD".into(),
        card_hash: "c".into(),
        financial_network_code: None,
        reference_number: None,
        settlement_date: None,
        amount: Decimal::from_str(amount).unwrap(),
        currency: "USD".into(),
        merchant_category_code: None,
        authorized_at: Utc::now(),
        status: AuthorizationStatus::Approved,
        claimed_by: None,
        raw_payload: "{}".into(),
        reversed_amount: Decimal::ZERO,
        version: 1,
        history: Vec::new(),
        clearings: Default::default(),
        expiry: None,
    }
}

#[test]
fn force_match_records_the_operator_and_undo_restores_the_reason() {
    let m = pending();
    let reason = m.pending_reason.clone().unwrap();
    assert_eq!(reason.code, PendingReasonCode::InvalidField);
    let (matched, claim) = m
        .force_match(
            &auth("10.00"),
            "operator:alice",
            "confirmed by phone",
            Utc::now(),
        )
        .unwrap();
    assert_eq!(matched.status, ClearingStatus::Matched);
    assert_eq!(matched.version, m.version + 1);
    let details = matched.matched.as_ref().unwrap();
    assert_eq!(details.tolerance_rule.as_deref(), Some(MANUAL_MATCH_RULE));
    assert_eq!(
        details.difference,
        details.cleared_amount - Decimal::from(10)
    );
    let last = matched.history.last().unwrap();
    assert_eq!(last.action, Some(ManualAction::ForceMatch));
    assert_eq!(last.actor, "operator:alice");
    assert_eq!(last.reason.as_deref(), Some("confirmed by phone"));
    assert_eq!(claim.unwrap().trans_uid, "20240426O9EC2A");

    let (back, released) = matched
        .undo_match("operator:bob", "wrong auth", Utc::now())
        .unwrap();
    assert_eq!(back.status, ClearingStatus::Pending);
    assert_eq!(back.pending_reason, Some(reason));
    assert!(back.matched.is_none());
    assert!(released.is_some());
    assert_eq!(
        back.history.last().unwrap().action,
        Some(ManualAction::UndoMatch)
    );
    // Twice: the message is no longer matched.
    assert!(matches!(
        back.undo_match("operator:bob", "again", Utc::now()),
        Err(ManualActionError::WrongStatus { .. })
    ));
}

#[test]
fn only_a_forced_match_can_be_undone_and_only_pending_can_be_forced() {
    let m = pending();
    let (matched, _) = m
        .force_match(&auth("1"), "operator:a", "r", Utc::now())
        .unwrap();
    assert!(matches!(
        matched.force_match(&auth("1"), "operator:a", "r", Utc::now()),
        Err(ManualActionError::WrongStatus { .. })
    ));
    let mut rule_matched = matched.clone();
    rule_matched.history.last_mut().unwrap().action = None;
    assert!(matches!(
        rule_matched.undo_match("operator:a", "r", Utc::now()),
        Err(ManualActionError::NotManualMatch(_))
    ));
}

#[test]
fn write_off_waits_for_a_decision_and_a_rejection_restores_pending() {
    let m = pending();
    let asked = m
        .request_write_off("WO-1", "operator:alice", "chargeback lost", Utc::now())
        .unwrap();
    assert_eq!(asked.status, ClearingStatus::WriteOffRequested);
    assert_eq!(
        asked.history.last().unwrap().request_id.as_deref(),
        Some("WO-1")
    );
    let rejected = asked
        .decide_write_off("WO-1", false, "operator:bob", "not yet", Utc::now())
        .unwrap();
    assert_eq!(rejected.status, ClearingStatus::Pending);
    assert_eq!(rejected.pending_reason, m.pending_reason);
    let approved = asked
        .decide_write_off("WO-1", true, "operator:bob", "ok", Utc::now())
        .unwrap();
    assert_eq!(approved.status, ClearingStatus::WrittenOff);
    assert_eq!(
        approved.history.last().unwrap().action,
        Some(ManualAction::WriteOffApproved)
    );
    assert!(m
        .decide_write_off("WO-1", true, "operator:bob", "ok", Utc::now())
        .is_err());
}
