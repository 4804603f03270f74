//! The reconciliation API through its Lambda handler, against DynamoDB Local and moto.

use std::time::Duration;

use integration_tests::*;
use reconciliation_api::{handle, ACCEPTED_MESSAGE};
use shared::clearing::ClearingStatus;
use shared::ports::ClearingStore;

const RECONCILE: &str = "/v1/clearing-reconciliation";
const SEED_CARD: &str = "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd";
const SEED_ID: &str = "202404261024009777553";

async fn ingest(stack: &TestStack, body: &str) {
    let resp = clearing_webhook::handle(
        &stack.webhook(),
        signed_webhook("/v1/webhooks/mastercard/clearing", body),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn call(
    stack: &TestStack,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let resp = handle(&stack.api(), api_request(method, path, token, body))
        .await
        .unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

/// The operator's request that fixes the seed's swapped local date.
async fn request_seed_fix(stack: &TestStack, token: &str) -> (u16, serde_json::Value) {
    call(
        stack,
        "POST",
        RECONCILE,
        Some(token),
        &fix_date_body(SEED_CARD),
    )
    .await
}

fn fix_date_body(card: &str) -> String {
    format!(
        r#"{{"card_network": "MASTERCARD", "card_hash": "{card}", "reconciliation_reason": "local date had month and day swapped",
            "adjustments": [{{"field": "transactionLocalDate", "new_value": "2024-04-24"}}]}}"#
    )
}

#[tokio::test]
async fn pending_seed_is_accepted_for_reprocessing_and_the_job_is_queued() {
    let stack = TestStack::new().await;
    ingest(&stack, SEED_NOTIFICATION).await;
    let token = operator_token("clearing:reconcile clearing:read");
    let (status, body) = request_seed_fix(&stack, &token).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body, serde_json::json!({"message": ACCEPTED_MESSAGE}));

    let m = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(m.status, ClearingStatus::Reprocessing);
    let ticket = m.reprocessing.clone().unwrap();
    assert_eq!(ticket.requested_by, "operator:ana");
    let last = m.history.last().unwrap();
    assert_eq!(
        last.reason.as_deref(),
        Some("local date had month and day swapped")
    );

    let jobs = stack
        .drain(&stack.reprocessing_queue(), 1, Duration::from_secs(5))
        .await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["clearing_unique_id"], SEED_ID);
    assert_eq!(jobs[0]["request_id"], ticket.request_id.as_str());
    assert_eq!(jobs[0]["expected_version"], 3);
    assert_eq!(jobs[0]["adjustments"][0]["field"], "transactionLocalDate");
    assert_eq!(jobs[0]["adjustments"][0]["new_value"], "2024-04-24");

    // The same request again: the message is no longer pending.
    let (status, body) = request_seed_fix(&stack, &token).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("BTN0401")),
        "{body}"
    );
}

/// A request whose job never finished (dead-lettered) holds its messages only
/// for the lease; then a new request takes them over, and the old job, if it
/// ever runs, changes nothing.
#[tokio::test]
async fn a_request_whose_job_never_finished_is_taken_over_after_its_lease() {
    let stack = TestStack::new().await;
    ingest(&stack, SEED_NOTIFICATION).await;
    let token = operator_token("clearing:reconcile");
    let (status, _) = request_seed_fix(&stack, &token).await;
    assert_eq!(status, 202);
    let first = stack.store().message(SEED_ID).await.unwrap().unwrap();
    let first_request = first.reprocessing.unwrap().request_id;

    // Within the lease: nothing is pending.
    let (status, _) = request_seed_fix(&stack, &token).await;
    assert_eq!(status, 409);

    // Past it (zero here): taken over, and the release is on record.
    let mut api = stack.api();
    api.reprocessing_lease = chrono::Duration::zero();
    let resp = handle(
        &api,
        api_request("POST", RECONCILE, Some(&token), &fix_date_body(SEED_CARD)),
    )
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "{}", response_json(&resp));
    let m = stack.store().message(SEED_ID).await.unwrap().unwrap();
    let second_request = m.reprocessing.clone().unwrap().request_id;
    assert_ne!(second_request, first_request);
    let released = &m.history[m.history.len() - 2];
    assert_eq!(released.from, Some(ClearingStatus::Reprocessing));
    assert_eq!(released.to, ClearingStatus::Pending);
    assert_eq!(released.actor, "system");
    assert!(released
        .reason
        .as_deref()
        .unwrap()
        .contains("reprocessing lease expired"));
    assert_eq!(released.request_id.as_deref(), Some(first_request.as_str()));

    // Both jobs run: the first finds another request and changes nothing.
    let queue = stack.reprocessing_queue();
    let mut batch = stack.receive_batch(&queue, 30).await;
    if batch.len() < 2 {
        batch.extend(stack.receive_batch(&queue, 30).await);
    }
    assert_eq!(batch.len(), 2);
    let response = stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let done = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(done.version, m.version + 1);
    let last = done.history.last().unwrap();
    assert_eq!(last.from, Some(ClearingStatus::Reprocessing));
    assert_eq!(last.request_id.as_deref(), Some(second_request.as_str()));
}

#[tokio::test]
async fn tokens_are_required_valid_and_permitted() {
    let stack = TestStack::new().await;
    ingest(&stack, SEED_NOTIFICATION).await;
    let body = fix_date_body(SEED_CARD);
    let (s, e) = call(&stack, "POST", RECONCILE, None, &body).await;
    assert_eq!((s, e["code"].as_str()), (401, Some("BTN0101")));
    let resp = handle(
        &stack.api(),
        http_request("POST", RECONCILE, &[("authorization", "Token abc")], &body),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    let expired = mint_hs256(
        JWT_SECRET.as_bytes(),
        &Claims {
            sub: "ana".into(),
            iss: JWT_ISSUER.into(),
            aud: JWT_AUDIENCE.into(),
            exp: 1_000,
            scope: "clearing:reconcile".into(),
        },
    );
    assert_eq!(
        call(&stack, "POST", RECONCILE, Some(&expired), &body)
            .await
            .0,
        401
    );
    let forged = mint_hs256(
        b"not-the-secret",
        &Claims {
            sub: "ana".into(),
            iss: JWT_ISSUER.into(),
            aud: JWT_AUDIENCE.into(),
            exp: chrono::Utc::now().timestamp() + 600,
            scope: "clearing:reconcile".into(),
        },
    );
    assert_eq!(
        call(&stack, "POST", RECONCILE, Some(&forged), &body)
            .await
            .0,
        401
    );
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(
            r#"{{"sub":"ana","iss":"{JWT_ISSUER}","aud":"{JWT_AUDIENCE}","exp":{},"scope":"clearing:reconcile"}}"#,
            chrono::Utc::now().timestamp() + 600
        ))
    );
    assert_eq!(
        call(&stack, "POST", RECONCILE, Some(&alg_none), &body)
            .await
            .0,
        401
    );
    let (s, e) = call(
        &stack,
        "POST",
        RECONCILE,
        Some(&operator_token("clearing:read")),
        &body,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("BTN0201")));
    // Nothing changed.
    assert_eq!(
        stack
            .store()
            .message(SEED_ID)
            .await
            .unwrap()
            .unwrap()
            .status,
        ClearingStatus::Pending
    );
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_problem() {
    let stack = TestStack::new().await;
    ingest(&stack, SEED_NOTIFICATION).await;
    let token = operator_token("clearing:reconcile");
    let base = |adj: &str| {
        format!(
            r#"{{"card_network":"MASTERCARD","card_hash":"{SEED_CARD}","reconciliation_reason":"r","adjustments":{adj}}}"#
        )
    };
    let cases = [
        ("{not json".to_string(), "BTN0001", "not valid JSON"),
        (
            r#"{"card_hash":"c","reconciliation_reason":"r"}"#.to_string(),
            "BTN0002",
            "card_network",
        ),
        (
            r#"{"card_network":"MASTERCARD","card_hash":"","reconciliation_reason":"r"}"#
                .to_string(),
            "BTN0002",
            "card_hash",
        ),
        (
            r#"{"card_network":"MASTERCARD","card_hash":5,"reconciliation_reason":"r"}"#
                .to_string(),
            "BTN0002",
            "card_hash",
        ),
        (
            base(r#"[{"field":"transactionLocalDate"}]"#),
            "BTN0002",
            "new_value",
        ),
        (
            base(r#"[{"field":"clearingUniqueId","new_value":"x"}]"#),
            "BTN0003",
            "identifies the record",
        ),
        (
            base(r#"[{"field":"cardNumber","new_value":"x"}]"#),
            "BTN0003",
            "not a clearing record field",
        ),
        (
            base(r#"[{"field":"transactionLocalDate","new_value":"2024-13-01"}]"#),
            "BTN0003",
            "transactionLocalDate",
        ),
        (
            base(r#"[{"field":"transactionAmount","new_value":"12,34"}]"#),
            "BTN0003",
            "transactionAmount",
        ),
    ];
    for (body, code, words) in cases {
        let (s, e) = call(&stack, "POST", RECONCILE, Some(&token), &body).await;
        assert_eq!(s, 400, "{body} -> {e}");
        assert_eq!(e["code"], code, "{body} -> {e}");
        assert!(e["message"].as_str().unwrap().contains(words), "{e}");
    }
    let (s, e) = call(
        &stack,
        "POST",
        RECONCILE,
        Some(&token),
        &fix_date_body("unknown-card"),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("BTN0301")));
}

#[tokio::test]
async fn adjustments_to_one_of_several_pending_messages_are_ambiguous() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let body = format!(
        r#"{{"clearing": [{}, {}]}}"#,
        clearing_record("amb-1", &unique("u-"), &card, "1.00", "4111"),
        clearing_record("amb-2", &unique("u-"), &card, "2.00", "4111")
    );
    ingest(&stack, &body).await;
    let token = operator_token("clearing:reconcile");
    let (s, e) = call(
        &stack,
        "POST",
        RECONCILE,
        Some(&token),
        &fix_date_body(&card),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0004")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("amb-1"));
    // Without adjustments both are reprocessed.
    let plain = format!(
        r#"{{"card_network":"mastercard","card_hash":"{card}","reconciliation_reason":"authorizations arrived"}}"#
    );
    assert_eq!(
        call(&stack, "POST", RECONCILE, Some(&token), &plain)
            .await
            .0,
        202
    );
    assert_eq!(
        stack
            .drain(&stack.reprocessing_queue(), 2, Duration::from_secs(5))
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn fifty_identical_requests_at_once_yield_one_202_and_one_job() {
    let stack = TestStack::new().await;
    ingest(&stack, SEED_NOTIFICATION).await;
    let api = std::sync::Arc::new(stack.api());
    let token = operator_token("clearing:reconcile");
    let body = fix_date_body(SEED_CARD);
    let calls = (0..50).map(|_| {
        let api = api.clone();
        let req = api_request("POST", RECONCILE, Some(&token), &body);
        tokio::spawn(async move { handle(&api, req).await.unwrap().status().as_u16() })
    });
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    let jobs = stack
        .drain(&stack.reprocessing_queue(), 2, Duration::from_secs(4))
        .await;
    assert_eq!(jobs.len(), 1);
}

#[tokio::test]
async fn operators_read_one_message_lists_and_the_four_search_forms() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let uid = unique("uid-");
    let records: Vec<String> = (0..5)
        .map(|i| {
            let r = clearing_record(
                &format!("read-{i}"),
                &if i == 0 { uid.clone() } else { unique("u-") },
                &card,
                "3.00",
                "4111",
            );
            if i >= 3 {
                r.replace("2024-04-24", "2024-05-02")
            } else {
                r
            }
        })
        .collect();
    // Delivered twice: the searches list each record once.
    for _ in 0..2 {
        ingest(
            &stack,
            &format!(r#"{{"clearing": [{}]}}"#, records.join(",")),
        )
        .await;
    }
    ingest(&stack, SEED_NOTIFICATION).await;
    let token = operator_token("clearing:read");

    let (s, m) = call(
        &stack,
        "GET",
        "/v1/clearing-messages/read-0",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(m["status"], "PENDING");
    assert_eq!(m["history"].as_array().unwrap().len(), 2);
    assert!(m["raw_payload"].as_str().unwrap().contains("read-0"));
    assert_eq!(
        call(
            &stack,
            "GET",
            "/v1/clearing-messages/nope",
            Some(&token),
            ""
        )
        .await
        .0,
        404
    );

    let path = format!(
        "/v1/clearing-messages?card_network=MASTERCARD&card_hash={card}&status=PENDING&limit=3"
    );
    let (s, page1) = call(&stack, "GET", &path, Some(&token), "").await;
    assert_eq!(s, 200, "{page1}");
    assert_eq!(page1["items"].as_array().unwrap().len(), 3);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = call(
        &stack,
        "GET",
        &format!("{path}&cursor={cursor}"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    // A card-list cursor on the pending list is refused as a bad query, not a fault.
    let (s, e) = call(
        &stack,
        "GET",
        &format!("/v1/clearing-messages?status=PENDING&cursor={cursor}"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0005")), "{e}");
    let (_, open) = call(
        &stack,
        "GET",
        "/v1/clearing-messages?status=PENDING&limit=100",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 6);
    assert_eq!(
        call(&stack, "GET", "/v1/clearing-messages", Some(&token), "")
            .await
            .0,
        400
    );

    let (_, by_uid) = call(
        &stack,
        "GET",
        &format!("/v1/clearing-search?transUid={uid}"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(by_uid["clearing"].as_array().unwrap().len(), 1);
    assert_eq!(by_uid["clearing"][0]["clearing_unique_id"], "read-0");
    let (_, range) = call(
        &stack,
        "GET",
        "/v1/clearing-search?transactionStartDate=2024-04-20&transactionEndDate=2024-04-30",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(
        range["clearing"].as_array().unwrap().len(),
        3,
        "the seed's date is invalid, so it is not in any date"
    );
    let (_, after) = call(
        &stack,
        "GET",
        "/v1/clearing-search?afterTransactionDate=2024-04-30",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(after["clearing"].as_array().unwrap().len(), 2);
    // The days after a date are walked for at most 366 days, whatever the
    // date: from year 1 the walk would otherwise query some 740,000 days.
    let far_back = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        call(
            &stack,
            "GET",
            "/v1/clearing-search?afterTransactionDate=0001-01-01",
            Some(&token),
            "",
        ),
    )
    .await
    .expect("a search after year 1 ends");
    assert_eq!(far_back.0, 200, "{}", far_back.1);
    assert_eq!(far_back.1["clearing"], serde_json::json!([]));
    let (_, first) = call(
        &stack,
        "GET",
        "/v1/clearing-search?cursor=0&limit=4",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(first["clearing"].as_array().unwrap().len(), 4);
    let next = first["nextClearingCursor"].as_str().unwrap();
    let (_, rest) = call(
        &stack,
        "GET",
        &format!("/v1/clearing-search?cursor={next}&limit=4"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(rest["clearing"].as_array().unwrap().len(), 2);
    let (_, offset) = call(
        &stack,
        "GET",
        "/v1/clearing-search?cursor=0&offset=5&limit=10",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(offset["clearing"].as_array().unwrap().len(), 1);
    let (s, e) = call(
        &stack,
        "GET",
        "/v1/clearing-search?cursor=garbage",
        Some(&token),
        "",
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0005")));
    let (s, _) = call(
        &stack,
        "GET",
        "/v1/clearing-search?transUid=x&cursor=0",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(s, 400);
}

/// The sample events in events/reconciliation-api are API Gateway events the handler
/// accepts, with a token signed by the local development secret.
#[tokio::test]
async fn sample_events_are_accepted_by_the_handler() {
    let stack = TestStack::new().await;
    ingest(&stack, SEED_NOTIFICATION).await;
    let mut api = stack.api();
    api.tokens = shared::operator_auth::TokenVerifier::hs256(
        b"local-dev-only-jwt-secret",
        JWT_ISSUER,
        JWT_AUDIENCE,
    );
    let root = devstack::repo_root().join("events/reconciliation-api");
    for (file, expected) in [
        ("get-message.json", 200),
        ("list-pending.json", 200),
        ("list-card.json", 200),
        ("search-cursor.json", 200),
        ("search-trans-uid.json", 200),
        ("reconcile-seed.json", 202),
    ] {
        let event = std::fs::read_to_string(root.join(file)).unwrap();
        let resp = handle(&api, lambda_http::request::from_str(&event).unwrap())
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            expected,
            "{file}: {}",
            response_json(&resp)
        );
    }
}
