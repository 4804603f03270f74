//! The clearing webhook through its Lambda handler, against DynamoDB Local and moto.

use std::time::Duration;

use clearing_webhook::handle;
use integration_tests::*;
use shared::clearing::{ClearingField, ClearingStatus, PendingReasonCode};
use shared::ports::ClearingStore;

const CLEARING: &str = "/v1/webhooks/mastercard/clearing";
const AUTHORIZATIONS: &str = "/v1/webhooks/mastercard/authorizations";

async fn post(stack: &TestStack, path: &str, body: &str) -> (u16, serde_json::Value) {
    let resp = handle(&stack.webhook(), signed_webhook(path, body))
        .await
        .unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

/// The first presentment holding authorization `uid`'s claim, as stored.
async fn claimed_by(stack: &TestStack, uid: &str) -> Option<String> {
    let key = shared::authorization::AuthorizationKey::TransUid(uid.to_owned());
    stack
        .store()
        .authorizations(std::slice::from_ref(&key))
        .await
        .unwrap()
        .remove(&key)
        .expect("authorization stored")
        .claimed_by
}

#[tokio::test]
async fn seed_notification_is_stored_pending_on_its_broken_date_and_announced() {
    let stack = TestStack::new().await;
    let (status, ack) = post(&stack, CLEARING, SEED_NOTIFICATION).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["received"], 1);
    assert_eq!(ack["results"][0]["status"], "PENDING");
    assert_eq!(ack["results"][0]["pendingReason"]["code"], "INVALID_FIELD");
    assert_eq!(
        ack["results"][0]["pendingReason"]["fields"][0]["field"],
        "transactionLocalDate"
    );

    let stored = stack
        .store()
        .message("202404261024009777553")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.status, ClearingStatus::Pending);
    assert_eq!(stored.card_network, "MASTERCARD");
    assert_eq!(
        stored.card_hash.as_deref(),
        Some("47r45e73-7dwe-43f9-bk6b-5096F5reb5cd")
    );
    let reason = stored.pending_reason.clone().unwrap();
    assert_eq!(reason.code, PendingReasonCode::InvalidField);
    assert!(
        reason.detail.contains("transactionLocalDate") && reason.detail.contains("month 24"),
        "{}",
        reason.detail
    );
    // Raw payload kept byte for byte; the amount is the exact decimal text.
    let seed: serde_json::Value = serde_json::from_str(SEED_NOTIFICATION).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&stored.raw_payload).unwrap();
    assert_eq!(raw, seed["clearing"][0]);
    assert_eq!(stored.fields[&ClearingField::TransactionAmount], "12.34");
    assert_eq!(stored.history.len(), 2);
    assert_eq!(stored.history[1].actor, "webhook:mastercard");

    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(10))
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "clearing_message.pending");
    assert_eq!(
        events[0]["detail"]["clearing_unique_id"],
        "202404261024009777553"
    );
    assert_eq!(
        events[0]["detail"]["pending_reason"]["code"],
        "INVALID_FIELD"
    );
    assert_eq!(events[0]["detail"]["message"]["transactionAmount"], "12.34");
    let id = events[0]["detail"]["event_id"].as_str().unwrap();
    assert_eq!(
        events[0]["resources"][0],
        format!("urn:clearing-reconciliation:event:{id}")
    );
}

#[tokio::test]
async fn three_deliveries_of_one_batch_leave_the_state_of_one() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let uid = unique("uid-");
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "50.00", "4111"),
    )
    .await;
    let body = format!(
        r#"{{"clearing": [{}, {}]}}"#,
        clearing_record("dup-a", &uid, &card, "50.00", "4111"),
        clearing_record("dup-b", &unique("nouid-"), &card, "10.00", "4111")
    );
    let (s1, first) = post(&stack, CLEARING, &body).await;
    let before_a = stack.store().message("dup-a").await.unwrap().unwrap();
    let before_b = stack.store().message("dup-b").await.unwrap().unwrap();
    let (s2, second) = post(&stack, CLEARING, &body).await;
    let (s3, third) = post(&stack, CLEARING, &body).await;
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(first["results"][0]["duplicate"], false);
    assert_eq!(second["results"][0]["duplicate"], true);
    assert_eq!(third["results"][1]["duplicate"], true);
    assert_eq!(third["results"][0]["status"], "MATCHED");
    assert_eq!(
        stack.store().message("dup-a").await.unwrap().unwrap(),
        before_a
    );
    assert_eq!(
        stack.store().message("dup-b").await.unwrap().unwrap(),
        before_b
    );
    assert_eq!(before_a.version, 2);
    // Announced by the writes that stored them (the outbox), once each:
    // redeliveries write nothing, so announce nothing.
    let events = stack
        .drain(&stack.all_events, 2, Duration::from_secs(10))
        .await;
    let ids: std::collections::BTreeSet<_> = events
        .iter()
        .map(|e| e["detail"]["event_id"].to_string())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn one_bad_record_never_spoils_its_batch() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let uid = unique("uid-");
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "20.00", "4111"),
    )
    .await;
    let broken = r#"{"clearingUniqueId": "bad-1", "cardReference": "c", "transactionAmount": "twelve", "transactionLocalDate": {"day": 1}}"#;
    let body = format!(
        r#"{{"clearing": [{}, {broken}, "not even an object"]}}"#,
        clearing_record("good-1", &uid, &card, "20.00", "4111")
    );
    let (status, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["results"][0]["status"], "MATCHED");
    assert_eq!(ack["results"][1]["status"], "PENDING");
    assert_eq!(ack["results"][2]["status"], "PENDING");
    let bad = stack.store().message("bad-1").await.unwrap().unwrap();
    let fields: Vec<_> = bad
        .pending_reason
        .unwrap()
        .fields
        .iter()
        .map(|p| p.field.name())
        .collect();
    assert!(
        fields.contains(&"transactionAmount") && fields.contains(&"transactionLocalDate"),
        "{fields:?}"
    );
    let not_object_id = ack["results"][2]["clearingUniqueId"].as_str().unwrap();
    let not_object = stack.store().message(not_object_id).await.unwrap().unwrap();
    assert_eq!(not_object.raw_payload, "\"not even an object\"");
}

#[tokio::test]
async fn authorization_then_equal_clearing_matches_and_claims_it() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let uid = unique("uid-");
    let (s, ack) = post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "12.34", "4111"),
    )
    .await;
    assert_eq!((s, ack["stored"].as_u64()), (200, Some(1)));
    let body = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record("m-1", &uid, &card, "12.34", "4111")
    );
    let (_, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(ack["results"][0]["status"], "MATCHED");
    let m = stack.store().message("m-1").await.unwrap().unwrap();
    let matched = m.matched.unwrap();
    assert_eq!(matched.difference.to_string(), "0.00");
    assert_eq!(matched.authorized_amount.to_string(), "12.34");

    // A second first presentment for the same authorization is a duplicate presentment.
    let body = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record("m-2", &uid, &card, "12.34", "4111")
    );
    let (_, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(
        ack["results"][0]["pendingReason"]["code"],
        "DUPLICATE_PRESENTMENT"
    );
    assert_eq!(claimed_by(&stack, &uid).await.as_deref(), Some("m-1"));

    // The transUid search finds both: the claimer through its claim, the duplicate through the index.
    let found = stack
        .store()
        .search(&shared::ports::ClearingSearch::TransUid(uid.clone()), 0, 10)
        .await
        .unwrap();
    let ids: Vec<_> = found
        .items
        .iter()
        .map(|m| m.clearing_unique_id.as_str())
        .collect();
    assert_eq!(ids, ["m-1", "m-2"]);
    let second_page = stack
        .store()
        .search(&shared::ports::ClearingSearch::TransUid(uid.clone()), 1, 10)
        .await
        .unwrap();
    assert_eq!(second_page.items.len(), 1);
    assert_eq!(second_page.items[0].clearing_unique_id, "m-2");
}

#[tokio::test]
async fn restaurant_tip_within_tolerance_matches_and_beyond_it_is_divergent() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let (tip_uid, over_uid) = (unique("uid-"), unique("uid-"));
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&tip_uid, &card, "100.00", "5812"),
    )
    .await;
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&over_uid, &card, "100.00", "5812"),
    )
    .await;
    // DE25 1402: the cleared amount differs from the authorized one.
    let differs = |r: String| {
        r.replace(
            r#""messageReasonCode": "1401""#,
            r#""messageReasonCode": "1402""#,
        )
    };
    let body = format!(
        r#"{{"clearing": [{}, {}]}}"#,
        differs(clearing_record("tip-1", &tip_uid, &card, "118.50", "5812")),
        differs(clearing_record(
            "over-1", &over_uid, &card, "120.01", "5812"
        ))
    );
    let (_, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(ack["results"][0]["status"], "MATCHED");
    assert_eq!(ack["results"][1]["status"], "PENDING");
    assert_eq!(
        ack["results"][1]["pendingReason"]["code"],
        "AMOUNT_DIVERGENT"
    );
    let tip = stack
        .store()
        .message("tip-1")
        .await
        .unwrap()
        .unwrap()
        .matched
        .unwrap();
    assert_eq!(tip.difference.to_string(), "18.50");
    assert!(tip.tolerance_rule.unwrap().contains("restaurants"));
}

#[tokio::test]
async fn clearing_without_authorization_is_pending_not_found() {
    let stack = TestStack::new().await;
    let body = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record("orphan-1", &unique("uid-"), &unique("c-"), "9.99", "4111")
    );
    let (_, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(
        ack["results"][0]["pendingReason"]["code"],
        "AUTHORIZATION_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_redelivery_after_its_authorization_arrived_stays_pending_and_claims_nothing() {
    let stack = TestStack::new().await;
    let (card, uid) = (unique("card-"), unique("uid-"));
    let early = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record("early-1", &uid, &card, "25.00", "4111")
    );
    let (_, ack) = post(&stack, CLEARING, &early).await;
    assert_eq!(
        ack["results"][0]["pendingReason"]["code"],
        "AUTHORIZATION_NOT_FOUND"
    );
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "25.00", "4111"),
    )
    .await;

    // The network sends the batch again: the stored record does not move, and
    // the claim its second reading took on the way is given back.
    let (s, ack) = post(&stack, CLEARING, &early).await;
    assert_eq!(s, 200);
    assert_eq!(ack["results"][0]["status"], "PENDING");
    assert_eq!(ack["results"][0]["duplicate"], true);
    assert_eq!(claimed_by(&stack, &uid).await, None);

    // So the authorization is still there for a presentment to match.
    let other = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record("later-1", &uid, &card, "25.00", "4111")
    );
    let (_, ack) = post(&stack, CLEARING, &other).await;
    assert_eq!(ack["results"][0]["status"], "MATCHED");
}

#[tokio::test]
async fn a_claim_left_by_an_interrupted_redelivery_is_given_back_by_the_next() {
    let stack = TestStack::new().await;
    let (card, uid) = (unique("card-"), unique("uid-"));
    let early = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record("early-2", &uid, &card, "25.00", "4111")
    );
    post(&stack, CLEARING, &early).await;
    post(
        &stack,
        AUTHORIZATIONS,
        &authorization(&uid, &card, "25.00", "4111"),
    )
    .await;
    // A redelivery took the claim for the stored, unmatched record and stopped
    // there (the function died before giving it back).
    let claim = shared::clearing::AuthorizationClaim {
        trans_uid: uid.clone(),
        clearing_unique_id: "early-2".into(),
        already_held: false,
        authorization_version: 1,
        presentment: shared::authorization::ClearedPresentment {
            amount: "1.00".parse().unwrap(),
            reference_number: None,
            transaction_date: chrono::NaiveDate::from_ymd_opt(2024, 4, 24).unwrap(),
        },
    };
    stack
        .store()
        .update_messages(&[], Some(&claim), None, &[])
        .await
        .unwrap();
    assert_eq!(claimed_by(&stack, &uid).await.as_deref(), Some("early-2"));

    // The network's next delivery finds it held, stores nothing and gives it back.
    let (_, ack) = post(&stack, CLEARING, &early).await;
    assert_eq!(ack["results"][0]["status"], "PENDING");
    assert_eq!(claimed_by(&stack, &uid).await, None);
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_problem_and_store_nothing() {
    let stack = TestStack::new().await;
    let too_big = format!(
        r#"{{"clearing": ["{}"]}}"#,
        "x".repeat(clearing_webhook::MAX_BODY_BYTES)
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (
            r#"{"clearing": [ {"clearingUniqueId": "never-1""#.into(),
            "BTN0001",
            "not valid JSON",
        ),
        (
            r#"{"records": [{"clearingUniqueId": "never-2"}]}"#.into(),
            "BTN0002",
            "clearing",
        ),
        (
            r#"{"clearing": {"clearingUniqueId": "never-3"}}"#.into(),
            "BTN0002",
            "clearing",
        ),
        (
            r#"{"clearing": []}"#.into(),
            "BTN0002",
            "at least one record",
        ),
        (too_big, "BTN0006", "bytes"),
        (
            format!(
                r#"{{"clearing": [{{"clearingUniqueId": "never-4", "merchantName": "{}"}}]}}"#,
                "x".repeat(20_000)
            ),
            "BTN0002",
            "clearing[0]",
        ),
    ];
    for (body, code, words) in cases {
        let (status, err) = post(&stack, CLEARING, &body).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["code"], code, "{err}");
        assert!(err["message"].as_str().unwrap().contains(words), "{err}");
    }
    for id in ["never-1", "never-2", "never-3", "never-4"] {
        assert!(stack.store().message(id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn unauthenticated_senders_get_401_and_nothing_is_stored() {
    let stack = TestStack::new().await;
    let unsigned = http_request("POST", CLEARING, &[], SEED_NOTIFICATION);
    let resp = handle(&stack.webhook(), unsigned).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        response_json(&resp)["code"],
        "BTN0101",
        "no credential at all"
    );
    let forged = http_request(
        "POST",
        CLEARING,
        &[(
            "x-webhook-signature",
            &shared::webhook_auth::sign(
                "wrong-secret",
                chrono::Utc::now().timestamp(),
                SEED_NOTIFICATION.as_bytes(),
            ),
        )],
        SEED_NOTIFICATION,
    );
    assert_eq!(
        handle(&stack.webhook(), forged).await.unwrap().status(),
        401
    );
    assert!(stack
        .store()
        .message("202404261024009777553")
        .await
        .unwrap()
        .is_none());

    let unknown_route = handle(
        &stack.webhook(),
        signed_webhook("/v1/webhooks/visa/clearing", SEED_NOTIFICATION),
    )
    .await
    .unwrap();
    assert_eq!(unknown_route.status(), 404);
}

#[tokio::test]
async fn a_storage_failure_is_a_5xx_so_the_network_retries() {
    let stack = TestStack::new().await;
    let mut service = stack.webhook();
    service.store = std::sync::Arc::new(shared::adapters::DynamoDbClearingStore::new(
        stack.clients.dynamodb.clone(),
        "no-such-table",
    ));
    let resp = handle(&service, signed_webhook(CLEARING, SEED_NOTIFICATION))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(response_json(&resp)["code"], "BTN0503");
}

/// The sample events in events/ are real API Gateway events this handler accepts
/// (they authenticate by the mTLS client certificate subject the template allows).
#[tokio::test]
async fn sample_events_are_accepted_by_the_handler() {
    let stack = TestStack::new().await;
    let mut service = stack.webhook();
    let local = shared::config::Env::from_pairs(devstack::local_settings().unwrap());
    service.auth = shared::webhook_auth::WebhookAuth::from_config(&local, None).unwrap();
    let root = devstack::repo_root().join("events/clearing-webhook");
    let auth_event = std::fs::read_to_string(root.join("authorization-seed.json")).unwrap();
    let resp = handle(
        &service,
        lambda_http::request::from_str(&auth_event).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200, "{}", response_json(&resp));
    assert_eq!(response_json(&resp)["stored"], 1);
    let clearing_event = std::fs::read_to_string(root.join("clearing-seed.json")).unwrap();
    let resp = handle(
        &service,
        lambda_http::request::from_str(&clearing_event).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        response_json(&resp)["results"][0]["pendingReason"]["fields"][0]["field"],
        "transactionLocalDate"
    );
}

/// DynamoDB refuses a partition key over 2,048 bytes (an index's too): such a
/// value makes its own record PENDING INVALID_FIELD, never the notification a 503.
#[tokio::test]
async fn values_that_cannot_be_keys_spoil_only_their_own_record() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let long = "k".repeat(3_000);
    let (long_card, long_uid, good) = (unique("kc-"), unique("ku-"), unique("kg-"));
    let body = format!(
        r#"{{"clearing": [{}, {}, {}]}}"#,
        clearing_record(&long_card, &unique("uid-"), &long, "1.00", "4111"),
        clearing_record(&long_uid, &long, &card, "2.00", "4111"),
        clearing_record(&good, &unique("uid-"), &card, "3.00", "4111"),
    );
    let (status, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["rejected"], serde_json::json!([]), "{ack}");
    for (i, field) in [(0, "cardReference"), (1, "transUid")] {
        let result = &ack["results"][i];
        assert_eq!(result["status"], "PENDING", "{ack}");
        assert_eq!(result["pendingReason"]["code"], "INVALID_FIELD", "{ack}");
        let named: Vec<_> = result["pendingReason"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(named.contains(&field), "{field}: {result}");
    }
    let stored = stack.store().message(&long_card).await.unwrap().unwrap();
    assert!(
        stored.raw_payload.contains(&long),
        "the raw payload keeps the value"
    );
    assert_eq!(
        stored.card_hash, None,
        "not findable by a card it cannot be keyed by"
    );
    assert!(stack.store().message(&long_uid).await.unwrap().is_some());
    let page = stack
        .store()
        .messages_for_card("MASTERCARD", &card, None, 10, None)
        .await
        .unwrap();
    let ids: Vec<_> = page
        .items
        .iter()
        .map(|m| m.clearing_unique_id.as_str())
        .collect();
    assert!(
        ids.contains(&good.as_str()) && ids.contains(&long_uid.as_str()),
        "{ids:?}"
    );
}

/// The store's own safety net: an item DynamoDB refuses is a refusal (the
/// edge answers 400 or rejects that record), never a retryable unavailability.
#[tokio::test]
async fn an_item_dynamodb_refuses_is_refused_not_unavailable() {
    let stack = TestStack::new().await;
    let body = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record(
            &unique("ref-"),
            &unique("uid-"),
            &unique("card-"),
            "1.00",
            "4111"
        )
    );
    let record = shared::clearing::parse_clearing_notification(body.as_bytes()).unwrap();
    let prepared = shared::clearing::PreparedRecord::new(record[0].clone());
    let rules = shared::clearing::RulesVersion::shipped();
    let mut decision = shared::clearing::ClearingMessage::ingest(
        prepared,
        "MASTERCARD",
        None,
        &rules,
        "test",
        chrono::Utc::now(),
    );
    // Past the domain's checks, as a future bug might be.
    decision.message.card_hash = Some("k".repeat(3_000));
    let e = stack
        .store()
        .insert_message(&decision.message, None, &[])
        .await
        .unwrap_err();
    assert!(matches!(e, shared::ports::StoreError::Refused(_)), "{e}");
    let api: shared::api_error::ApiError = e.into();
    assert_eq!(api.status(), 400);
}

/// Two records with one id in a notification: the first is stored, the
/// second, different, is a conflict; a later delivery of other content under
/// that id is a conflict too, kept in the table and announced, the stored one unchanged.
#[tokio::test]
async fn the_first_record_of_an_id_wins_and_different_content_is_a_recorded_conflict() {
    let stack = TestStack::new().await;
    let (id, uid, card) = (unique("cf-"), unique("uid-"), unique("card-"));
    let body = format!(
        r#"{{"clearing": [{}, {}]}}"#,
        clearing_record(&id, &uid, &card, "1.00", "4111"),
        clearing_record(&id, &uid, &card, "9.99", "4111"),
    );
    let (status, ack) = post(&stack, CLEARING, &body).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["results"][0]["conflict"], false, "{ack}");
    assert_eq!(ack["results"][1]["conflict"], true, "{ack}");
    let stored = stack.store().message(&id).await.unwrap().unwrap();
    assert_eq!(stored.fields[&ClearingField::TransactionAmount], "1.00");

    let later = format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record(&id, &uid, &card, "5.55", "4111")
    );
    let (status, ack) = post(&stack, CLEARING, &later).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        (
            &ack["results"][0]["duplicate"],
            &ack["results"][0]["conflict"]
        ),
        (&serde_json::json!(true), &serde_json::json!(true)),
        "{ack}"
    );
    assert_eq!(stack.store().message(&id).await.unwrap().unwrap(), stored);

    let conflicts = stack
        .clients
        .dynamodb
        .query()
        .table_name(stack.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("CONFLICT#{id}")),
        )
        .send()
        .await
        .unwrap();
    let refused: Vec<_> = conflicts
        .items()
        .iter()
        .filter_map(|i| i.get("refused_payload")?.as_s().ok().cloned())
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().any(|p| p.contains("9.99")) && refused.iter().any(|p| p.contains("5.55"))
    );

    let events = stack
        .drain(&stack.all_events, 4, Duration::from_secs(10))
        .await;
    let conflicts: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "clearing_record.conflict")
        .collect();
    assert_eq!(conflicts.len(), 2, "{events:?}");
    assert!(conflicts
        .iter()
        .all(|e| e["detail"]["clearing_unique_id"] == id.as_str()));
}
