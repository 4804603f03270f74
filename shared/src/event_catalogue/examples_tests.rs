//! One example of every documented detail-type, made as the services make
//! them: the domain value a use case writes (the seed record, its
//! authorization, the operator's action, ...), the constructor that use case
//! calls, and the outbox entry it stores, read back as the outbox publisher
//! reads it. Instants are fixed so `docs/events.md` is the same on every run.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::authorization::{parse_authorization_notification, Authorization};
use crate::authorization_change::AuthorizationUpdate;
use crate::authorization_expiry::ExpiryDecision;
use crate::clearing::conflict::ClearingConflict;
use crate::clearing::{
    parse_clearing_notification, Adjustment, ClearingField, ClearingMessage, PreparedRecord,
    ReprocessingTicket, RulesVersion,
};
use crate::events::*;
use crate::outbox::{decode, encode, OutboxEntry};

const SEED: &str = include_str!("../../../spec/mastercard-clearing-notification.example.json");
const SEED_ID: &str = "202404261024009777553";
/// Each example's own record, so no two examples share an event id.
const MATCHED_ID: &str = "202404261024009777554";
const CONSOLE_ID: &str = "202404261024009777555";
const REFUSED_WRITE_OFF_ID: &str = "202404261024009777556";
const OPERATOR: &str = "operator:ana";
const CHECKER: &str = "operator:bruno";

fn at(hours_after_ingest: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-04-26T10:24:00Z")
        .unwrap()
        .to_utc()
        + Duration::hours(hours_after_ingest)
}

/// The event as the outbox publisher hands it to the bus: stored in the
/// item's outbox attribute, read back.
fn published(event: OutboundEvent) -> OutboundEvent {
    let stored = encode(&[OutboxEntry::from(event)]);
    decode(&stored).unwrap()[0].as_event().unwrap()
}

fn announced(message: &ClearingMessage) -> OutboundEvent {
    published(clearing_event(message).unwrap())
}

/// The seed record with `changes` (JSON values by field name); the seed's
/// swapped date is kept unless a change fixes it.
fn record(changes: &[(&str, Value)]) -> PreparedRecord {
    let mut body: Value = serde_json::from_str(SEED).unwrap();
    for (field, value) in changes {
        body["clearing"][0][*field] = value.clone();
    }
    let body = body.to_string();
    PreparedRecord::new(
        parse_clearing_notification(body.as_bytes())
            .unwrap()
            .remove(0),
    )
}

fn fixed_date() -> (&'static str, Value) {
    ("transactionLocalDate", "2024-04-24".into())
}

/// The seed's authorization (12.34 USD, MCC 4111), with `extra` fields.
fn authorization(status: &str, extra: &str) -> Authorization {
    authorization_of("20240426O9EC2A", status, extra)
}

/// An authorization record of `trans_uid` as the webhook parses it, received at `at(48)`.
fn authorization_of(trans_uid: &str, status: &str, extra: &str) -> Authorization {
    let body = format!(
        r#"{{"authorizations": [{{"transUid": "{trans_uid}",
            "cardReference": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd", "transactionAmount": 12.34,
            "transactionCurrency": "USD", "merchantCategoryCode": "4111",
            "authorizationDateTime": "2024-04-24T16:01:00Z", "status": "{status}"{extra}}}]}}"#
    );
    let mut auth = parse_authorization_notification(body.as_bytes(), "MASTERCARD").unwrap()[0]
        .clone()
        .unwrap();
    // The webhook stamps a change with the time it received it.
    for change in &mut auth.history {
        change.at = at(48);
    }
    auth.expiry = RulesVersion::shipped()
        .rules
        .expiry_terms(&auth, auth.authorized_at);
    auth
}

fn ingest(prepared: PreparedRecord, auth: Option<&Authorization>) -> ClearingMessage {
    let rules = RulesVersion::shipped();
    ClearingMessage::ingest(prepared, "MASTERCARD", auth, &rules, "webhook", at(0)).message
}

/// The seed under `id`, arrived with its date swapped: PENDING, INVALID_FIELD.
fn pending_seed(id: &str) -> ClearingMessage {
    ingest(record(&[("clearingUniqueId", id.into())]), None)
}

/// Matched on arrival, reconciled after a reprocess, force-posted (DE25 1400),
/// recorded (a chargeback on the matched seed) and the seed disputed by it.
fn clearing_outcomes() -> Vec<OutboundEvent> {
    let auth = authorization("APPROVED", "");
    let matched = ingest(
        record(&[fixed_date(), ("clearingUniqueId", MATCHED_ID.into())]),
        Some(&auth),
    );
    let ticket = ReprocessingTicket {
        request_id: "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
        requested_by: OPERATOR.into(),
        requested_at: at(1),
        reconciliation_reason: "transactionLocalDate had month and day swapped".into(),
    };
    let fix = [Adjustment {
        field: ClearingField::TransactionLocalDate,
        new_value: "2024-04-24".into(),
    }];
    let reprocessing = pending_seed(SEED_ID)
        .begin_reprocessing(ticket, at(1))
        .unwrap();
    let reconciled = reprocessing
        .finish_reprocessing(&fix, Some(&auth), &RulesVersion::shipped(), "worker", at(1))
        .unwrap()
        .message;
    let force_posted = ingest(
        record(&[
            fixed_date(),
            ("clearingUniqueId", "202404261024009777560".into()),
            ("transUid", "20240426X1400A".into()),
            ("messageReasonCode", "1400".into()),
        ]),
        None,
    );
    // The store sets the claim when the matched first presentment is written.
    let mut claimed = auth.clone();
    claimed.claimed_by = Some(MATCHED_ID.into());
    let chargeback = ClearingMessage::ingest(
        record(&[
            fixed_date(),
            ("clearingUniqueId", "202405061024009777601".into()),
            ("functionCode", "450".into()),
            ("messageReasonCode", "4837".into()),
        ]),
        "MASTERCARD",
        Some(&claimed),
        &RulesVersion::shipped(),
        "webhook",
        at(240),
    );
    let (original, step) = chargeback.dispute.clone().unwrap();
    assert_eq!(original, MATCHED_ID);
    let disputed = matched.record_dispute(&step, "webhook").unwrap();
    [
        matched,
        reconciled,
        force_posted,
        chargeback.message,
        disputed,
    ]
    .iter()
    .map(announced)
    .collect()
}

/// The console's actions: force match and its undo, a write-off requested,
/// approved, and (another) rejected.
fn console_actions() -> Vec<OutboundEvent> {
    let auth = authorization("APPROVED", "");
    let (forced, _) = pending_seed(CONSOLE_ID)
        .force_match(&auth, OPERATOR, "date confirmed with the acquirer", at(2))
        .unwrap();
    let (undone, _) = forced
        .undo_match(OPERATOR, "matched to the wrong authorization", at(3))
        .unwrap();
    let write_off = "wo-2024-04-26-0001";
    let requested = undone
        .request_write_off(write_off, OPERATOR, "acquirer will not re-present", at(4))
        .unwrap();
    let approved = requested
        .decide_write_off(write_off, true, CHECKER, "below the write-off limit", at(5))
        .unwrap();
    let refused = "wo-2024-04-26-0002";
    let rejected = pending_seed(REFUSED_WRITE_OFF_ID)
        .request_write_off(refused, OPERATOR, "acquirer will not re-present", at(4))
        .unwrap()
        .decide_write_off(refused, false, CHECKER, "ask the acquirer first", at(5))
        .unwrap();
    [forced, undone, requested, approved, rejected]
        .iter()
        .map(announced)
        .collect()
}

/// An authorization reversed in full; one partly reversed after the seed
/// matched it (its own event and the matched clearing's); one expired.
fn authorization_changes() -> Vec<OutboundEvent> {
    let changed =
        |stored: &Authorization, incoming: &Authorization| match stored.apply(incoming).unwrap() {
            AuthorizationUpdate::Changed(next) => *next,
            other => panic!("expected a change, got {other:?}"),
        };
    let approved = authorization("APPROVED", "");
    let other = "20240425K7QW1B";
    let reversed = changed(
        &authorization_of(other, "APPROVED", ""),
        &authorization_of(other, "REVERSED", ""),
    );
    let mut claimed = approved.clone();
    claimed.claimed_by = Some(MATCHED_ID.into());
    let partial = changed(
        &claimed,
        &authorization("REVERSED", r#", "reversalAmount": 2.34"#),
    );
    let window_over = authorization_of("20240420H2LM3C", "APPROVED", "");
    let expired = match window_over.expire(at(24 * 7)) {
        ExpiryDecision::Expire(next) => *next,
        other => panic!("expected an expiry, got {other:?}"),
    };
    [reversed, partial, expired]
        .iter()
        .flat_map(|a| authorization_events(a, a.version))
        .map(published)
        .collect()
}

/// A conflicting record, a rules change, a Pix result and unreadable inputs.
fn others() -> Vec<OutboundEvent> {
    let conflict = clearing_conflict_event(&ClearingConflict {
        clearing_unique_id: SEED_ID.into(),
        card_network: "MASTERCARD".into(),
        payload_digest: "3f1c0d5e".into(),
        refused_payload: r#"{"transactionAmount":"99.00"}"#.into(),
        stored_version: 2,
        received_at: at(0),
    });
    let shipped = crate::clearing::matching::DEFAULT_MATCHING_RULES;
    let stricter = shipped.replace(
        r#""fx_variance_percent": "3""#,
        r#""fx_variance_percent": "2""#,
    );
    assert_ne!(stricter, shipped);
    let rules = RulesVersion::shipped()
        .next(
            1,
            &stricter,
            OPERATOR,
            "card scheme lowered the FX margin",
            at(6),
        )
        .unwrap();
    let pix = crate::pix::FinancialReconciliation {
        amount: "150.75".parse().unwrap(),
        end_to_end_id: "E1234567820240426102400000000001".into(),
        result: false,
        result_description: crate::pix::ResultDescription::TransactionAmountDivergent,
        transaction_id: "0b6f8a52-3c1e-4f7a-9d2b-6a1e5c4d3b2a".into(),
        authorization_datetime: None,
        authorization_id: Some(918273645),
        provider_amount: Some("150.70".parse().unwrap()),
        provider_authorization_id: None,
    }
    .outbound_event()
    .unwrap();
    let queue = |name: &str| format!("arn:aws:sqs:us-east-1:123456789012:{name}");
    let job = rejected_input_event(
        false,
        &queue("ReprocessingQueue"),
        Some("0b7a1c8e-0000-4000-8000-000000000001"),
        "job body is not a reprocessing job: missing field `clearing_unique_id`",
        r#"{"request_id":"r-1"}"#,
    );
    let pix_input = rejected_input_event(
        true,
        &queue("PixInputQueue"),
        Some("0b7a1c8e-0000-4000-8000-000000000002"),
        "pix_transaction: amount: not a decimal amount",
        r#"{"detail-type":"pix_transaction","detail":{"amount":"abc"}}"#,
    );
    [conflict, rules_changed_event(&rules), pix, job, pix_input]
        .into_iter()
        .map(published)
        .collect()
}

/// The seed's pending event first (the README's alerting rule selects it),
/// then one or more of every documented detail-type.
pub(super) fn examples() -> Vec<OutboundEvent> {
    let mut all = vec![announced(&ingest(record(&[fixed_date()]), None))];
    all.extend(clearing_outcomes());
    all.extend(console_actions());
    all.extend(authorization_changes());
    all.extend(others());
    all
}
