//! Unit tests of the clearing message state machine.

use super::*;
use crate::authorization::AuthorizationStatus;
use crate::clearing::matching::PendingReasonCode;
use crate::clearing::notification::parse_clearing_notification;
use std::str::FromStr;

fn seed() -> PreparedRecord {
    let body = include_str!("../../../spec/mastercard-clearing-notification.example.json");
    PreparedRecord::new(
        parse_clearing_notification(body.as_bytes())
            .unwrap()
            .remove(0),
    )
}

fn rules() -> crate::clearing::RulesVersion {
    crate::clearing::RulesVersion::shipped()
}

fn seed_auth() -> Authorization {
    Authorization {
        trans_uid: "20240426O9EC2A".into(),
        card_network: "MASTERCARD".into(),
        card_hash: "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd".into(),
        financial_network_code: None,
        reference_number: None,
        settlement_date: None,
        amount: rust_decimal::Decimal::from_str("12.34").unwrap(),
        currency: "USD".into(),
        merchant_category_code: Some("4111".into()),
        authorized_at: Utc::now(),
        status: AuthorizationStatus::Approved,
        claimed_by: None,
        raw_payload: "{}".into(),
        reversed_amount: rust_decimal::Decimal::ZERO,
        version: 1,
        history: Vec::new(),
        clearings: Default::default(),
        expiry: None,
    }
}

fn ticket() -> ReprocessingTicket {
    ReprocessingTicket {
        request_id: "req-1".into(),
        requested_by: "operator:ana".into(),
        requested_at: Utc::now(),
        reconciliation_reason: "fix local date".into(),
    }
}

#[test]
fn the_seed_is_pending_then_reconciled_by_fixing_its_date() {
    let auth = seed_auth();
    let d = ClearingMessage::ingest(
        seed(),
        "MASTERCARD",
        Some(&auth),
        &rules(),
        "webhook",
        Utc::now(),
    );
    let msg = d.message;
    assert_eq!(msg.status, ClearingStatus::Pending);
    assert_eq!(msg.version, 2);
    let reason = msg.pending_reason.clone().unwrap();
    assert_eq!(reason.code, PendingReasonCode::InvalidField);
    assert_eq!(reason.fields[0].field, ClearingField::TransactionLocalDate);
    assert!(d.claim.is_none());

    let adjustments =
        check_adjustments(&[("transactionLocalDate".into(), "2024-04-24".into())]).unwrap();
    let reprocessing = msg.begin_reprocessing(ticket(), Utc::now()).unwrap();
    assert_eq!(reprocessing.status, ClearingStatus::Reprocessing);
    assert_eq!(
        reprocessing.authorization_key_after(&adjustments),
        Some(AuthorizationKey::TransUid("20240426O9EC2A".into()))
    );
    let done = reprocessing
        .finish_reprocessing(&adjustments, Some(&auth), &rules(), "worker", Utc::now())
        .unwrap();
    assert_eq!(done.message.status, ClearingStatus::Matched);
    assert_eq!(done.message.version, 4);
    assert_eq!(done.claim.unwrap().trans_uid, "20240426O9EC2A");
    let last = done.message.history.last().unwrap();
    assert_eq!(last.changes[0].old_value.as_deref(), Some("2024-24-04"));
    assert_eq!(last.changes[0].new_value, "2024-04-24");
    assert_eq!(last.reason.as_deref(), Some("fix local date"));
    assert_eq!(last.request_id.as_deref(), Some("req-1"));
    assert!(done.message.reprocessing.is_none());
}

#[test]
fn fields_are_the_raw_record_read_again_with_the_recorded_adjustments() {
    let msg = ClearingMessage::ingest(seed(), "MASTERCARD", None, &rules(), "webhook", Utc::now())
        .message;
    assert_eq!(
        ClearingMessage::fields_from_record(&msg.raw_payload, &msg.history).unwrap(),
        msg.fields
    );
    let adjustments = check_adjustments(&[
        ("transactionLocalDate".into(), "2024-04-24".into()),
        ("transactionAmount".into(), "12.30".into()),
    ])
    .unwrap();
    let done = msg
        .begin_reprocessing(ticket(), Utc::now())
        .unwrap()
        .finish_reprocessing(&adjustments, None, &rules(), "worker", Utc::now())
        .unwrap()
        .message;
    let derived = ClearingMessage::fields_from_record(&done.raw_payload, &done.history).unwrap();
    assert_eq!(derived, done.fields);
    assert_eq!(derived[&ClearingField::TransactionAmount], "12.30");
    assert_eq!(derived[&ClearingField::TransactionLocalDate], "2024-04-24");
    assert!(ClearingMessage::fields_from_record("{not json", &[]).is_err());
}

#[test]
fn only_pending_messages_can_be_reprocessed() {
    let mut fields_ok = seed();
    fields_ok
        .record
        .fields
        .insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
    let prepared = PreparedRecord::new(fields_ok.record);
    let d = ClearingMessage::ingest(
        prepared,
        "MASTERCARD",
        Some(&seed_auth()),
        &rules(),
        "webhook",
        Utc::now(),
    );
    assert_eq!(d.message.status, ClearingStatus::Matched);
    assert!(d.message.begin_reprocessing(ticket(), Utc::now()).is_err());
}

#[test]
fn a_released_request_returns_to_pending_with_its_reason() {
    let d = ClearingMessage::ingest(seed(), "MASTERCARD", None, &rules(), "webhook", Utc::now());
    let r = d.message.begin_reprocessing(ticket(), Utc::now()).unwrap();
    let back = r
        .release_reprocessing("queue unavailable", Utc::now())
        .unwrap();
    assert_eq!(back.status, ClearingStatus::Pending);
    assert_eq!(back.pending_reason, d.message.pending_reason);
    assert_eq!(back.history.len(), 4);
}

#[test]
fn adjustments_are_checked() {
    assert!(matches!(
        check_adjustments(&[("clearingUniqueId".into(), "x".into())]),
        Err(AdjustmentError::IdentityField { .. })
    ));
    assert!(matches!(
        check_adjustments(&[("pan".into(), "x".into())]),
        Err(AdjustmentError::UnknownField { .. })
    ));
    assert!(matches!(
        check_adjustments(&[("transactionLocalDate".into(), "2024-13-01".into())]),
        Err(AdjustmentError::InvalidValue { .. })
    ));
    assert!(matches!(
        check_adjustments(&[("transactionAmount".into(), "ten".into())]),
        Err(AdjustmentError::InvalidValue { .. })
    ));
    assert!(check_adjustments(&[("transactionAmount".into(), "10.00".into())]).is_ok());
}

#[test]
fn each_decision_records_its_rules_version_and_a_reprocess_uses_the_newer_rules() {
    let auth = seed_auth();
    let v1 = rules();
    let tips = r#"{"tolerances": [{"name": "4111 tips", "mcc_from": 4111, "mcc_to": 4111, "max_over_percent": "10"}]}"#;
    let v2 = v1
        .next(1, tips, "operator:ana", "4111 may tip", Utc::now())
        .unwrap();
    let fix = [
        ("transactionLocalDate".into(), "2024-04-24".into()),
        ("transactionAmount".into(), "13.00".into()),
        ("messageReasonCode".into(), "1402".into()),
    ];
    let adjustments = check_adjustments(&fix).unwrap();
    let first = ClearingMessage::ingest(
        seed(),
        "MASTERCARD",
        Some(&auth),
        &v1,
        "webhook",
        Utc::now(),
    )
    .message;
    assert_eq!(
        first.history[0].rules_version, None,
        "RECEIVED decides nothing"
    );
    assert_eq!(first.history[1].rules_version, Some(1));

    // Under version 1 the 13.00 of a 12.34 authorization diverges.
    let under_v1 = first
        .begin_reprocessing(ticket(), Utc::now())
        .unwrap()
        .finish_reprocessing(&adjustments, Some(&auth), &v1, "worker", Utc::now())
        .unwrap()
        .message;
    assert_eq!(
        under_v1.pending_reason.map(|r| r.code),
        Some(PendingReasonCode::AmountDivergent)
    );

    // Under version 2 it matches by the new tolerance; the past decision keeps version 1.
    let reprocessing = first.begin_reprocessing(ticket(), Utc::now()).unwrap();
    assert_eq!(reprocessing.history[2].rules_version, None);
    let done = reprocessing
        .finish_reprocessing(&adjustments, Some(&auth), &v2, "worker", Utc::now())
        .unwrap()
        .message;
    assert_eq!(
        done.status,
        ClearingStatus::Matched,
        "{:?}",
        done.pending_reason
    );
    assert_eq!(
        done.matched.as_ref().unwrap().tolerance_rule.as_deref(),
        Some("4111 tips")
    );
    assert_eq!(done.history[1], first.history[1]);
    assert_eq!(done.history[3].rules_version, Some(2));
    let event = crate::events::clearing_event(&done).unwrap();
    let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(detail["rules_version"], 2);
}
