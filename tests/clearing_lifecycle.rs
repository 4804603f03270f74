//! The clearing lifecycle through the webhook handler, against DynamoDB Local
//! and moto: authorizations that change after they were stored.

use std::time::Duration;

use clearing_webhook::handle;
use integration_tests::*;
use shared::authorization::AuthorizationStatus;
use shared::clearing::AuthorizationClaim;
use shared::ports::{ClearingStore, StoreError};

const CLEARING: &str = "/v1/webhooks/mastercard/clearing";
const AUTHORIZATIONS: &str = "/v1/webhooks/mastercard/authorizations";

async fn post(stack: &TestStack, path: &str, body: &str) -> (u16, serde_json::Value) {
    let resp = handle(&stack.webhook(), signed_webhook(path, body))
        .await
        .unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

/// A reversal of `uid` (the whole amount unless `reversal` names a part).
fn reversal(uid: &str, card: &str, amount: &str, reversal: Option<&str>) -> String {
    let part = reversal
        .map(|r| format!(r#", "reversalAmount": {r}"#))
        .unwrap_or_default();
    authorization(uid, card, amount, "4111").replace(
        r#""status": "APPROVED""#,
        &format!(r#""status": "REVERSED"{part}"#),
    )
}

fn notification(records: &[String]) -> String {
    format!(r#"{{"clearing": [{}]}}"#, records.join(","))
}

#[tokio::test]
async fn a_reversal_after_a_match_updates_the_authorization_and_announces_the_clearing() {
    let stack = TestStack::new().await;
    let (card, uid) = (unique("card-"), unique("uid-"));
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "100.00", "4111"),
    )
    .await;
    let (_, ack) = post(
        &stack,
        CLEARING,
        &notification(&[clearing_record("rev-1", &uid, &card, "100.00", "4111")]),
    )
    .await;
    assert_eq!(ack["results"][0]["status"], "MATCHED", "{ack}");

    let body = reversal(&uid, &card, "100.00", None);
    let (status, ack) = post(&stack, AUTHORIZATIONS, &body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        (ack["stored"].as_u64(), ack["updated"].as_u64()),
        (Some(0), Some(1))
    );
    let stored = stack.store().authorization(&uid).await.unwrap().unwrap();
    assert_eq!(stored.status, AuthorizationStatus::Reversed);
    // Version 1, the claim of rev-1, then the reversal.
    assert_eq!((stored.version, stored.history.len()), (3, 2));
    assert_eq!(
        stored.claimed_by.as_deref(),
        Some("rev-1"),
        "the claim is kept"
    );

    let events = stack
        .drain(&stack.all_events, 3, Duration::from_secs(10))
        .await;
    let types: Vec<_> = events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"authorization.reversed"), "{types:?}");
    let announced = events
        .iter()
        .find(|e| e["detail-type"] == "clearing_message.authorization_reversed")
        .expect("the matched clearing is announced");
    assert_eq!(announced["detail"]["matched_clearing"], "rev-1");
    assert_eq!(announced["detail"]["trans_uid"], uid.as_str());

    // Redelivered: nothing changes, so nothing is written or announced again
    // (the first write's stream record announced it).
    let (_, again) = post(&stack, AUTHORIZATIONS, &body).await;
    assert_eq!(again["updated"], 1);
    assert_eq!(
        stack
            .store()
            .authorization(&uid)
            .await
            .unwrap()
            .unwrap()
            .version,
        3
    );
    let repeated = stack
        .drain(&stack.all_events, 1, Duration::from_secs(3))
        .await;
    assert!(repeated.is_empty(), "{repeated:?}");

    // A first presentment decided on the authorization as it was before the
    // reversal cannot take its claim now.
    let stale = AuthorizationClaim {
        trans_uid: uid.clone(),
        clearing_unique_id: "rev-late".into(),
        already_held: false,
        authorization_version: 1,
        presentment: shared::authorization::ClearedPresentment {
            amount: "1.00".parse().unwrap(),
            reference_number: None,
            transaction_date: chrono::NaiveDate::from_ymd_opt(2024, 4, 24).unwrap(),
        },
    };
    let lost = stack
        .store()
        .update_messages(&[], Some(&stale), None, &[])
        .await;
    assert!(matches!(lost, Err(StoreError::ClaimLost(_))), "{lost:?}");
}

#[tokio::test]
async fn a_partial_reversal_leaves_the_rest_to_clear_and_a_later_clearing_sees_it() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let (partly, fully) = (unique("uid-"), unique("uid-"));
    // Approval and reversals in one notification: applied in order.
    let body = format!(
        r#"{{"authorizations": [{}, {}, {}, {}]}}"#,
        authorization_record(&authorization(&partly, &card, "100.00", "4111")),
        authorization_record(&reversal(&partly, &card, "100.00", Some("30.00"))),
        authorization_record(&authorization(&fully, &card, "100.00", "4111")),
        authorization_record(&reversal(&fully, &card, "100.00", None)),
    );
    let (status, ack) = post(&stack, AUTHORIZATIONS, &body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        (ack["stored"].as_u64(), ack["updated"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, ack) = post(
        &stack,
        CLEARING,
        &notification(&[
            clearing_record("part-1", &partly, &card, "70.00", "4111"),
            clearing_record("full-1", &fully, &card, "100.00", "4111"),
        ]),
    )
    .await;
    assert_eq!(ack["results"][0]["status"], "MATCHED", "{ack}");
    assert_eq!(
        ack["results"][1]["pendingReason"]["code"],
        "AUTHORIZATION_NOT_APPROVED"
    );
    let m = stack.store().message("part-1").await.unwrap().unwrap();
    assert_eq!(m.matched.unwrap().authorized_amount.to_string(), "70.00");
}

#[tokio::test]
async fn a_thousand_authorizations_are_written_concurrently() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let prefix = unique("many-");
    let records: Vec<_> = (0..1000)
        .map(|i| {
            authorization_record(&authorization(
                &format!("{prefix}{i}"),
                &card,
                "1.00",
                "4111",
            ))
        })
        .collect();
    let body = format!(r#"{{"authorizations": [{}]}}"#, records.join(","));
    let started = std::time::Instant::now();
    let (status, ack) = post(&stack, AUTHORIZATIONS, &body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["stored"], 1000);
    println!("1,000 authorizations stored in {:?}", started.elapsed());
}

/// The one record of a one-record authorization notification, as its text
/// (exact amounts: not read back through floating point).
fn authorization_record(notification: &str) -> String {
    let start = notification.find('[').unwrap() + 1;
    let end = notification.rfind(']').unwrap();
    notification[start..end].trim().to_owned()
}

/// `clearing_record` with another function code.
fn with_code(record: String, code: &str) -> String {
    record.replace(
        r#""functionCode": "200""#,
        &format!(r#""functionCode": "{code}""#),
    )
}

#[tokio::test]
async fn a_chargeback_and_a_second_presentment_after_a_purchase_are_linked_and_move_it() {
    let stack = TestStack::new().await;
    let (card, uid) = (unique("card-"), unique("uid-"));
    let id = |s: &str| format!("{uid}-{s}");
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "100.00", "4111"),
    )
    .await;
    let (_, ack) = post(
        &stack,
        CLEARING,
        &notification(&[clearing_record(&id("p"), &uid, &card, "100.00", "4111")]),
    )
    .await;
    assert_eq!(ack["results"][0]["status"], "MATCHED", "{ack}");
    stack
        .drain(&stack.all_events, 1, Duration::from_secs(10))
        .await;

    let disputes = notification(&[
        with_code(
            clearing_record(&id("cb"), &uid, &card, "100.00", "4111"),
            "450",
        ),
        with_code(
            clearing_record(&id("sp"), &uid, &card, "100.00", "4111"),
            "205",
        ),
        with_code(
            clearing_record(&id("fee"), &unique("nouid-"), &card, "1.50", "4111"),
            "783",
        ),
    ]);
    let (status, ack) = post(&stack, CLEARING, &disputes).await;
    assert_eq!(status, 200, "{ack}");
    for r in ack["results"].as_array().unwrap() {
        assert_eq!(r["status"], "RECORDED", "{ack}");
    }
    let cb = stack.store().message(&id("cb")).await.unwrap().unwrap();
    let link = cb.lifecycle.expect("linked");
    assert_eq!(link.original_presentment.as_deref(), Some(id("p").as_str()));
    assert!(cb.matched.is_none(), "never matched as a purchase");
    let original = stack.store().message(&id("p")).await.unwrap().unwrap();
    assert_eq!(original.disputes.len(), 2);
    assert_eq!(original.history.len(), 4);
    let fee = stack.store().message(&id("fee")).await.unwrap().unwrap();
    assert_eq!(
        fee.lifecycle.unwrap().message_type,
        shared::clearing::MessageType::FeeCollection
    );

    let events = stack
        .drain(&stack.all_events, 5, Duration::from_secs(10))
        .await;
    let count = |t: &str| events.iter().filter(|e| e["detail-type"] == t).count();
    assert_eq!(count("clearing_message.recorded"), 3, "{events:?}");
    assert_eq!(count("clearing_message.disputed"), 2, "{events:?}");
    let disputed = events
        .iter()
        .filter(|e| e["detail-type"] == "clearing_message.disputed")
        .max_by_key(|e| e["detail"]["version"].as_u64())
        .unwrap();
    assert_eq!(disputed["detail"]["disputes"].as_array().unwrap().len(), 2);

    // Redelivered: stored once, recorded once on the original.
    let (_, again) = post(&stack, CLEARING, &disputes).await;
    assert_eq!(again["results"][0]["duplicate"], true);
    let original = stack.store().message(&id("p")).await.unwrap().unwrap();
    assert_eq!(original.version, 4);
}

#[tokio::test]
async fn not_previously_authorized_is_force_posted_and_a_foreign_purchase_compares_billed_amounts()
{
    let stack = TestStack::new().await;
    let (card, uid, brl_uid) = (unique("card-"), unique("uid-"), unique("uid-"));
    let forced = clearing_record(&format!("{uid}-1400"), &uid, &card, "25.00", "4111").replace(
        r#""messageReasonCode": "1401""#,
        r#""messageReasonCode": "1400""#,
    );
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&brl_uid, &card, "500.00", "4111").replace(
            r#""transactionCurrency": "USD""#,
            r#""transactionCurrency": "BRL""#,
        ),
    )
    .await;
    // Cleared in USD, billed 510.00 BRL: within the shipped 3% exchange-rate variance.
    let foreign = clearing_record(&format!("{brl_uid}-fx"), &brl_uid, &card, "100.00", "4111")
        .replace(
            r#""cardholderAmount": 100.00, "cardholderCurrency": "USD""#,
            r#""cardholderAmount": 510.00, "cardholderCurrency": "BRL""#,
        )
        .replace(
            r#""messageReasonCode": "1401""#,
            r#""messageReasonCode": "1402""#,
        );
    let (status, ack) = post(&stack, CLEARING, &notification(&[forced, foreign])).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["results"][0]["status"], "FORCE_POSTED", "{ack}");
    assert_eq!(ack["results"][1]["status"], "MATCHED", "{ack}");
    let posted = stack
        .store()
        .message(&format!("{uid}-1400"))
        .await
        .unwrap()
        .unwrap();
    let why = posted.history.last().unwrap().reason.clone().unwrap();
    assert!(why.contains("1400") && why.contains("FORCE_POST"), "{why}");
    let fx = stack
        .store()
        .message(&format!("{brl_uid}-fx"))
        .await
        .unwrap()
        .unwrap();
    let m = fx.matched.unwrap();
    assert_eq!(
        (m.currency.as_str(), m.cleared_amount.to_string()),
        ("BRL", "510.00".into())
    );
    assert_eq!(m.fx_variance.unwrap().to_string(), "10.00");
    let events = stack
        .drain(&stack.all_events, 2, Duration::from_secs(10))
        .await;
    assert!(
        events
            .iter()
            .any(|e| e["detail-type"] == "clearing_message.force_posted"),
        "{events:?}"
    );
}

/// `clearing_record` with DE25 1402 (the amount differs from the authorization's).
fn differs(record: String) -> String {
    record.replace(
        r#""messageReasonCode": "1401""#,
        r#""messageReasonCode": "1402""#,
    )
}

#[tokio::test]
async fn a_split_shipment_clears_one_authorization_cumulatively_without_losing_an_update() {
    let stack = TestStack::new().await;
    let (card, uid) = (unique("card-"), unique("uid-"));
    let id = |s: &str| format!("{uid}-{s}");
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "100.00", "4111"),
    )
    .await;
    // Two shipments in one notification, written concurrently: one claim loses
    // the race, reads the authorization again and clears the rest.
    let shipment = |n: &str, amount: &str| {
        differs(clearing_record(&id(n), &uid, &card, amount, "4111"))
            .replace(&format!("REF{uid}"), &format!("REF{uid}{n}"))
    };
    let (status, ack) = post(
        &stack,
        CLEARING,
        &notification(&[shipment("a", "60.00"), shipment("b", "40.00")]),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["results"][0]["status"], "MATCHED", "{ack}");
    assert_eq!(ack["results"][1]["status"], "MATCHED", "{ack}");
    let auth = stack.store().authorization(&uid).await.unwrap().unwrap();
    assert_eq!(auth.clearings.len(), 2);
    let total: rust_decimal::Decimal = auth.clearings.values().map(|c| c.amount).sum();
    assert_eq!(total.to_string(), "100.00");
    let (a, b) = (
        stack.store().message(&id("a")).await.unwrap().unwrap(),
        stack.store().message(&id("b")).await.unwrap().unwrap(),
    );
    let fully: Vec<bool> = [&a, &b]
        .iter()
        .map(|m| m.matched.as_ref().unwrap().fully_cleared)
        .collect();
    assert!(fully.contains(&true) && fully.contains(&false), "{fully:?}");

    // Past it, in a later notification: pending, with the totals.
    let (_, ack) = post(&stack, CLEARING, &notification(&[shipment("c", "0.01")])).await;
    assert_eq!(
        ack["results"][0]["pendingReason"]["code"], "AMOUNT_DIVERGENT",
        "{ack}"
    );
    let detail = ack["results"][0]["pendingReason"]["detail"]
        .as_str()
        .unwrap();
    assert!(
        detail.contains("100.00 cleared before") && detail.contains("100.01 in total"),
        "{detail}"
    );

    // A true duplicate of the first shipment under another id.
    let copy = shipment("a", "60.00").replace(&id("a"), &id("copy"));
    let (_, ack) = post(&stack, CLEARING, &notification(&[copy])).await;
    assert_eq!(
        ack["results"][0]["pendingReason"]["code"], "DUPLICATE_PRESENTMENT",
        "{ack}"
    );

    // The transUid search finds both shipments.
    let found = stack
        .store()
        .search(&shared::ports::ClearingSearch::TransUid(uid.clone()), 0, 10)
        .await
        .unwrap();
    let ids: Vec<_> = found
        .items
        .iter()
        .map(|m| m.clearing_unique_id.clone())
        .collect();
    assert!(ids.contains(&id("a")) && ids.contains(&id("b")), "{ids:?}");
}
