//! The console's endpoints through the API's Lambda handler, against DynamoDB
//! Local and moto: manual actions with maker-checker, the queue (list,
//! filters, summary), bulk actions retried with the same key, the CSV export
//! cell by cell against the list, the daily summary and the Pix results.

use std::time::Duration;

use integration_tests::*;
use serde_json::{json, Value};
use shared::clearing::ClearingStatus;
use shared::ports::{ClearingStore, PixStore};

const SEED_ID: &str = "202404261024009777553";
const SEED_UID: &str = "20240426O9EC2A";
const ALL: &str = "clearing:read clearing:reconcile clearing:resolve clearing:approve";

async fn ingest(stack: &TestStack, path: &str, body: &str) {
    let resp = clearing_webhook::handle(&stack.webhook(), signed_webhook(path, body))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn call(
    stack: &TestStack,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let resp =
        reconciliation_api::handle(&stack.api(), api_request(method, path, Some(token), body))
            .await
            .unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

async fn call_text(stack: &TestStack, path: &str, token: &str) -> (u16, String, String) {
    let resp = reconciliation_api::handle(&stack.api(), api_request("GET", path, Some(token), ""))
        .await
        .unwrap();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = String::from_utf8(resp.body().to_vec()).unwrap();
    (resp.status().as_u16(), content_type, body)
}

/// `count` pending records (no authorization) on one card, amounts `base + i`.
async fn ingest_pending(stack: &TestStack, card: &str, count: usize, base: &str) -> Vec<String> {
    let base: rust_decimal::Decimal = base.parse().unwrap();
    let mut ids = Vec::new();
    let records: Vec<String> = (0..count)
        .map(|i| {
            let id = unique("C");
            ids.push(id.clone());
            let amount = base + rust_decimal::Decimal::from(i as u64);
            clearing_record(&id, &unique("U"), card, &amount.to_string(), "5411")
        })
        .collect();
    for chunk in records.chunks(50) {
        let body = format!(r#"{{"clearing": [{}]}}"#, chunk.join(","));
        ingest(stack, "/v1/webhooks/mastercard/clearing", &body).await;
    }
    ids
}

fn last_action(m: &Value) -> (&str, &str, &str) {
    let last = m["history"].as_array().unwrap().last().unwrap();
    (
        last["action"].as_str().unwrap_or_default(),
        last["actor"].as_str().unwrap_or_default(),
        last["reason"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn force_match_and_undo_are_recorded_conditional_and_announced() {
    let stack = TestStack::new().await;
    ingest(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    ingest(
        &stack,
        "/v1/webhooks/mastercard/authorizations",
        &seed_authorization("10.00", "5411"),
    )
    .await;
    let alice = operator_token_for("alice", ALL);
    let path = format!("/v1/clearing-messages/{SEED_ID}");

    // The page explains the mismatch field by field and names the authorization.
    let (s, before) = call(&stack, "GET", &path, &alice, "").await;
    assert_eq!(s, 200, "{before}");
    assert_eq!(before["authorization"]["trans_uid"], SEED_UID);
    let explanation = before["explanation"].as_array().unwrap();
    assert!(
        explanation
            .iter()
            .any(|e| e["field"] == "transactionLocalDate" && e["arrived"] == "2024-24-04"),
        "{before}"
    );
    assert!(
        explanation
            .iter()
            .any(|e| e["field"] == "transactionAmount" && e["expected"] == "10.00"),
        "{before}"
    );

    // A reason is required.
    let (s, e) = call(
        &stack,
        "POST",
        &format!("{path}/force-match"),
        &alice,
        &json!({"authorizationTransUid": SEED_UID, "reason": " "}).to_string(),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0002")), "{e}");
    // Without clearing:resolve: 403.
    let reader = operator_token_for("alice", "clearing:read");
    let body = json!({"authorizationTransUid": SEED_UID, "reason": "confirmed with the acquirer"})
        .to_string();
    let (s, _) = call(
        &stack,
        "POST",
        &format!("{path}/force-match"),
        &reader,
        &body,
    )
    .await;
    assert_eq!(s, 403);
    // An unknown authorization: 404 naming it.
    let (s, e) = call(
        &stack,
        "POST",
        &format!("{path}/force-match"),
        &alice,
        &json!({"authorizationTransUid": "NOPE", "reason": "r"}).to_string(),
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (404, Some("BTN0303")), "{e}");

    let (s, m) = call(
        &stack,
        "POST",
        &format!("{path}/force-match"),
        &alice,
        &body,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["status"], "MATCHED");
    assert_eq!(m["matched"]["tolerance_rule"], "MANUAL");
    assert_eq!(
        last_action(&m),
        (
            "FORCE_MATCH",
            "operator:alice",
            "confirmed with the acquirer"
        )
    );
    // Not pending any more: 409.
    let (s, e) = call(
        &stack,
        "POST",
        &format!("{path}/force-match"),
        &alice,
        &body,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("BTN0401")), "{e}");

    let bob = operator_token_for("bob", ALL);
    let (s, m) = call(
        &stack,
        "POST",
        &format!("{path}/undo-match"),
        &bob,
        r#"{"reason": "wrong authorization"}"#,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["status"], "PENDING");
    assert_eq!(m["pending_reason"]["code"], "INVALID_FIELD");
    assert!(m["matched"].is_null());
    assert_eq!(
        last_action(&m),
        ("UNDO_MATCH", "operator:bob", "wrong authorization")
    );
    // The claim was given back: the authorization can be matched again.
    let stored = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(stored.status, ClearingStatus::Pending);
    let (s, _) = call(
        &stack,
        "POST",
        &format!("{path}/force-match"),
        &alice,
        &body,
    )
    .await;
    assert_eq!(s, 200);

    // Announced: the seed's pending, then force match, undo, force match again.
    let events = stack
        .drain(&stack.all_events, 4, Duration::from_secs(10))
        .await;
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e["detail-type"].as_str())
        .collect();
    for t in [
        "clearing_message.force_match",
        "clearing_message.undo_match",
    ] {
        assert!(types.contains(&t), "{types:?}");
    }
}

#[tokio::test]
async fn a_rule_match_cannot_be_undone() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let (id, uid) = (unique("C"), unique("U"));
    ingest(
        &stack,
        "/v1/webhooks/mastercard/authorizations",
        &authorization(&uid, &card, "10.00", "5411"),
    )
    .await;
    let record = clearing_record(&id, &uid, &card, "10.00", "5411");
    ingest(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        &format!(r#"{{"clearing": [{record}]}}"#),
    )
    .await;
    let token = operator_token_for("alice", ALL);
    let (s, e) = call(
        &stack,
        "POST",
        &format!("/v1/clearing-messages/{id}/undo-match"),
        &token,
        r#"{"reason": "r"}"#,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("BTN0403")), "{e}");
}

#[tokio::test]
async fn a_write_off_needs_a_second_operator() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let ids = ingest_pending(&stack, &card, 2, "25.00").await;
    let alice = operator_token_for("alice", ALL);
    let bob = operator_token_for("bob", ALL);

    let (s, w) = call(
        &stack,
        "POST",
        &format!("/v1/clearing-messages/{}/write-off", ids[0]),
        &alice,
        r#"{"reason": "acquirer confirmed no settlement", "remark": "ticket 42"}"#,
    )
    .await;
    assert_eq!(s, 202, "{w}");
    assert_eq!(w["status"], "AWAITING_APPROVAL");
    let wo = w["writeOffId"].as_str().unwrap().to_owned();

    let (_, m) = call(
        &stack,
        "GET",
        &format!("/v1/clearing-messages/{}", ids[0]),
        &alice,
        "",
    )
    .await;
    assert_eq!(m["status"], "WRITE_OFF_REQUESTED");
    assert_eq!(m["write_off"]["writeOffId"], wo.as_str());
    assert_eq!(m["write_off"]["remark"], "ticket 42");
    assert_eq!(
        last_action(&m),
        (
            "WRITE_OFF_REQUESTED",
            "operator:alice",
            "acquirer confirmed no settlement"
        )
    );
    let (_, open) = call(
        &stack,
        "GET",
        "/v1/write-offs?status=AWAITING_APPROVAL",
        &bob,
        "",
    )
    .await;
    assert!(
        open["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["writeOffId"] == wo.as_str()),
        "{open}"
    );

    // The maker's own approval: 403 naming the maker.
    let (s, e) = call(
        &stack,
        "POST",
        &format!("/v1/write-offs/{wo}/approve"),
        &alice,
        r#"{"reason": "ok"}"#,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("BTN0202")), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("operator:alice"),
        "{e}"
    );
    // A checker without clearing:approve: 403 BTN0201.
    let carol = operator_token_for("carol", "clearing:read clearing:resolve");
    let (s, e) = call(
        &stack,
        "POST",
        &format!("/v1/write-offs/{wo}/approve"),
        &carol,
        r#"{"reason": "ok"}"#,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("BTN0201")), "{e}");

    let (s, m) = call(
        &stack,
        "POST",
        &format!("/v1/write-offs/{wo}/approve"),
        &bob,
        r#"{"reason": "checked the statement"}"#,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["status"], "WRITTEN_OFF");
    assert_eq!(
        last_action(&m),
        (
            "WRITE_OFF_APPROVED",
            "operator:bob",
            "checked the statement"
        )
    );
    let (s, e) = call(
        &stack,
        "POST",
        &format!("/v1/write-offs/{wo}/reject"),
        &bob,
        r#"{"reason": "again"}"#,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("BTN0404")), "{e}");
    let (_, approved) = call(&stack, "GET", "/v1/write-offs?status=APPROVED", &bob, "").await;
    assert_eq!(
        approved["items"][0]["decidedBy"], "operator:bob",
        "{approved}"
    );

    // A rejection puts the message back in the queue with its reason.
    let (_, w) = call(
        &stack,
        "POST",
        &format!("/v1/clearing-messages/{}/write-off", ids[1]),
        &alice,
        r#"{"reason": "r"}"#,
    )
    .await;
    let wo = w["writeOffId"].as_str().unwrap();
    let (s, m) = call(
        &stack,
        "POST",
        &format!("/v1/write-offs/{wo}/reject"),
        &bob,
        r#"{"reason": "still collectable"}"#,
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["status"], "PENDING");
    assert_eq!(m["pending_reason"]["code"], "AUTHORIZATION_NOT_FOUND");
}

#[tokio::test]
async fn the_queue_lists_filters_sorts_and_summarizes() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let other = unique("card-");
    let ids = ingest_pending(&stack, &card, 5, "10.50").await;
    ingest_pending(&stack, &other, 2, "1000.00").await;
    ingest(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    let token = operator_token_for("alice", "clearing:read");

    let (s, summary) = call(
        &stack,
        "GET",
        "/v1/queue/summary?status=PENDING",
        &token,
        "",
    )
    .await;
    assert_eq!(s, 200, "{summary}");
    assert_eq!(summary["total"], 8);
    assert_eq!(summary["reasons"][0]["reason"], "AUTHORIZATION_NOT_FOUND");
    assert_eq!(summary["reasons"][0]["count"], 7);
    assert_eq!(summary["reasons"][0]["aging"]["lt1d"], 7);
    assert_eq!(summary["reasons"][1]["reason"], "INVALID_FIELD");

    // Filters: card, reason, amount; pages of 2 in arrival order.
    let base = format!("/v1/clearing-messages?status=PENDING&card_hash={card}&reason=AUTHORIZATION_NOT_FOUND&min_amount=11.50&limit=2");
    let (s, p1) = call(&stack, "GET", &base, &token, "").await;
    assert_eq!(s, 200, "{p1}");
    let mut got: Vec<&str> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["clearing_unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(got.len(), 2);
    assert!(p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["amount"] != "10.50"));
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = call(
        &stack,
        "GET",
        &format!("{base}&cursor={cursor}"),
        &token,
        "",
    )
    .await;
    got.extend(
        p2["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["clearing_unique_id"].as_str().unwrap()),
    );
    // One notification's records share their arrival stamp: by id within it.
    let mut expected: Vec<&str> = ids[1..].iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(got, expected);
    assert!(
        p2["next_cursor"].is_null() || {
            let c = p2["next_cursor"].as_str().unwrap();
            let (_, p3) = call(&stack, "GET", &format!("{base}&cursor={c}"), &token, "").await;
            p3["items"].as_array().unwrap().is_empty()
        }
    );

    // Sorted by amount, largest first.
    let (_, by_amount) = call(
        &stack,
        "GET",
        "/v1/clearing-messages?status=PENDING&sort=-amount&limit=3",
        &token,
        "",
    )
    .await;
    let amounts: Vec<&str> = by_amount["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["1001.00", "1000.00", "14.50"]);
    let (s, e) = call(
        &stack,
        "GET",
        "/v1/clearing-messages?status=PENDING&sort=size",
        &token,
        "",
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0005")), "{e}");
    let (s, e) = call(
        &stack,
        "GET",
        "/v1/clearing-messages?status=PENDING&min_amount=ten",
        &token,
        "",
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0005")), "{e}");
}

/// Records of one CSV text, RFC 4180.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CRLF line ends");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        row.is_empty() && cell.is_empty(),
        "the last line ends with CRLF"
    );
    rows
}

#[tokio::test]
async fn the_csv_export_is_the_list_cell_by_cell() {
    let stack = TestStack::new().await;
    // An opaque card reference with a comma and a quote: quoted and doubled in the CSV.
    let card = format!(r#"{},x\"y"#, unique("card-"));
    ingest_pending(&stack, &card, 7, "0.10").await;
    ingest(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    let token = operator_token_for("alice", "clearing:read");

    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/clearing-messages?status=PENDING&limit=3&cursor={c}"),
            None => "/v1/clearing-messages?status=PENDING&limit=3".to_owned(),
        };
        let (_, page) = call(&stack, "GET", &path, &token, "").await;
        listed.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed.len(), 8);

    let (s, content_type, text) = call_text(
        &stack,
        "/v1/clearing-messages/export.csv?status=PENDING",
        &token,
    )
    .await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let rows = parse_csv(&text);
    let header = &rows[0];
    assert_eq!(
        header.join(","),
        shared::console::csv::CSV_COLUMNS.join(",")
    );
    assert_eq!(rows.len(), listed.len() + 1);
    for (row, item) in rows[1..].iter().zip(&listed) {
        for (column, cell) in header.iter().zip(row) {
            let expected = match &item[column.as_str()] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let expected = if column.ends_with("_at") || column == "pending_since" {
                // The list's timestamps and the export's are the same instant.
                let a = chrono::DateTime::parse_from_rfc3339(&expected).unwrap();
                let b = chrono::DateTime::parse_from_rfc3339(cell).unwrap();
                assert_eq!(a, b, "{column}");
                continue;
            } else {
                expected
            };
            assert_eq!(
                cell, &expected,
                "{column} of {}",
                item["clearing_unique_id"]
            );
        }
    }
    assert!(
        rows.iter().any(|r| r[9] == "0.10"),
        "exact decimals: 0.10 stays 0.10"
    );
    let quoted = format!("\"{}\"", card.replace('\\', "").replace('"', "\"\""));
    assert!(text.contains(&quoted), "{quoted} in {text}");
}

#[tokio::test]
async fn a_bulk_reprocess_of_100_is_safe_to_retry() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let ids = ingest_pending(&stack, &card, 100, "5.00").await;
    let token = operator_token_for("alice", ALL);
    let key = unique("key-");
    let body = json!({"action": "reprocess", "filter": {"card_hash": card, "reason": "AUTHORIZATION_NOT_FOUND"},
                      "reason": "authorizations arrived late", "idempotencyKey": key})
    .to_string();
    let (s, started) = call(&stack, "POST", "/v1/bulk-actions", &token, &body).await;
    assert_eq!(s, 202, "{started}");
    let bulk_id = started["bulkId"].as_str().unwrap().to_owned();
    // The same key again: the same action, not a second one.
    let (s, again) = call(&stack, "POST", "/v1/bulk-actions", &token, &body).await;
    assert_eq!((s, again["bulkId"].as_str()), (202, Some(bulk_id.as_str())));

    let mut progress = Vec::new();
    let status = loop {
        let (s, status) = call(
            &stack,
            "GET",
            &format!("/v1/bulk-actions/{bulk_id}"),
            &token,
            "",
        )
        .await;
        assert_eq!(s, 200, "{status}");
        progress.push(status["done"].as_u64().unwrap());
        if status["status"] == "DONE" {
            break status;
        }
        assert!(progress.len() < 20, "{progress:?}");
    };
    assert!(
        progress.len() > 1 && progress[0] < 100,
        "progress visible while it runs: {progress:?}"
    );
    assert_eq!(status["total"], 100);
    let items = status["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    assert!(items.iter().all(|i| i["outcome"] == "ACCEPTED"), "{status}");
    let mut done: Vec<&str> = items
        .iter()
        .map(|i| i["clearingUniqueId"].as_str().unwrap())
        .collect();
    done.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(done, expected);
    for id in &ids[..3] {
        let m = stack.store().message(id).await.unwrap().unwrap();
        assert_eq!(m.status, ClearingStatus::Reprocessing);
        assert_eq!(m.reprocessing.unwrap().requested_by, "operator:alice");
    }
    // Retried after it finished: still the one action, each item done once.
    let (_, again) = call(&stack, "POST", "/v1/bulk-actions", &token, &body).await;
    assert_eq!(again["bulkId"].as_str(), Some(bulk_id.as_str()));
    let (_, status) = call(
        &stack,
        "GET",
        &format!("/v1/bulk-actions/{bulk_id}"),
        &token,
        "",
    )
    .await;
    assert_eq!(status["items"].as_array().unwrap().len(), 100);
    // A second action on the same messages skips them: no longer pending.
    let ids_body = json!({"action": "reprocess", "clearingUniqueIds": [ids[0]], "reason": "r", "idempotencyKey": unique("k")}).to_string();
    let (_, other) = call(&stack, "POST", "/v1/bulk-actions", &token, &ids_body).await;
    let (_, status) = call(
        &stack,
        "GET",
        &format!("/v1/bulk-actions/{}", other["bulkId"].as_str().unwrap()),
        &token,
        "",
    )
    .await;
    assert_eq!(status["items"][0]["outcome"], "SKIPPED", "{status}");
    // Write-offs need clearing:resolve.
    let reconciler = operator_token_for("dan", "clearing:read clearing:reconcile");
    let wo = json!({"action": "write-off", "clearingUniqueIds": [ids[0]], "reason": "r", "idempotencyKey": unique("k")}).to_string();
    assert_eq!(
        call(&stack, "POST", "/v1/bulk-actions", &reconciler, &wo)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn the_daily_summary_counts_and_sums_today() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    ingest_pending(&stack, &card, 3, "0.10").await;
    let (id, uid) = (unique("C"), unique("U"));
    ingest(
        &stack,
        "/v1/webhooks/mastercard/authorizations",
        &authorization(&uid, &card, "7.25", "5411"),
    )
    .await;
    let record = clearing_record(&id, &uid, &card, "7.25", "5411");
    ingest(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        &format!(r#"{{"clearing": [{record}]}}"#),
    )
    .await;
    let token = operator_token_for("alice", "clearing:read");
    let (s, report) = call(
        &stack,
        "GET",
        "/v1/reports/daily-summary?days=2",
        &token,
        "",
    )
    .await;
    assert_eq!(s, 200, "{report}");
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    let today = &days[0];
    assert_eq!(today["date"], chrono::Utc::now().date_naive().to_string());
    let tally = |list: &str, key: &str| {
        today[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (
            tally("byStatus", "PENDING")["count"].as_u64(),
            tally("byStatus", "PENDING")["amount"].as_str()
        ),
        (Some(3), Some("3.30")),
        "{today}"
    );
    assert_eq!(tally("byStatus", "MATCHED")["amount"], "7.25");
    assert_eq!(tally("byReason", "AUTHORIZATION_NOT_FOUND")["count"], 3);
    assert_eq!(
        call(
            &stack,
            "GET",
            "/v1/reports/daily-summary?days=91",
            &token,
            ""
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn pix_results_by_day_list_the_divergent_and_not_found() {
    use shared::pix::{
        apply_day_closed, apply_provider_entry, apply_transaction, parse_pix_transaction,
        parse_provider_entry, PixReconciliation,
    };
    let stack = TestStack::new().await;
    let store = stack.store();
    let day = chrono::NaiveDate::from_ymd_opt(2021, 10, 29).unwrap();
    let salt = uuid::Uuid::new_v4().simple().to_string();
    let tx = |e2e: &str, amount: &str| {
        parse_pix_transaction(format!(r#"{{"transaction_id": "tx-{e2e}", "end_to_end_id": "{e2e}", "amount": {amount}, "authorization_id": 1, "authorization_datetime": "2021-10-29T11:00:00.000Z", "business_date": "2021-10-29"}}"#)).unwrap()
    };
    let entry = |e2e: &str, amount: &str| {
        parse_provider_entry(format!(r#"{{"end_to_end_id": "{e2e}", "provider_amount": "{amount}", "provider_authorization_id": "1", "business_date": "2021-10-29"}}"#)).unwrap()
    };
    let e2e = |n: u32| format!("E40867163202206292047{}{n:03}", &salt[..8]);
    let ok = apply_provider_entry(
        apply_transaction(PixReconciliation::new(e2e(1)), tx(&e2e(1), "10.00")).unwrap(),
        entry(&e2e(1), "10.00"),
    )
    .unwrap();
    let divergent = apply_provider_entry(
        apply_transaction(PixReconciliation::new(e2e(2)), tx(&e2e(2), "10.00")).unwrap(),
        entry(&e2e(2), "9.50"),
    )
    .unwrap();
    let missing = apply_day_closed(
        apply_transaction(PixReconciliation::new(e2e(3)), tx(&e2e(3), "3.00")).unwrap(),
        day,
    );
    let open = apply_transaction(PixReconciliation::new(e2e(4)), tx(&e2e(4), "4.00")).unwrap();
    for state in [&ok, &divergent, &missing, &open] {
        store
            .save_pix_state(state, 0, true, &[], None)
            .await
            .unwrap();
    }
    let token = operator_token_for("alice", "clearing:read");
    let (s, view) = call(&stack, "GET", "/v1/pix/results?date=2021-10-29", &token, "").await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(
        view["counts"],
        json!({"OK": 1, "TRANSACTION_AMOUNT_DIVERGENT": 1, "PROVIDER_TRANSACTION_NOT_FOUND": 1, "UNDECIDED": 1})
    );
    let listed: Vec<&str> = view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "PROVIDER_TRANSACTION_NOT_FOUND",
            "TRANSACTION_AMOUNT_DIVERGENT"
        ]
    );
    let divergent_row = &view["items"][1];
    assert_eq!(
        (
            divergent_row["amount"].as_str(),
            divergent_row["providerAmount"].as_str()
        ),
        (Some("10.00"), Some("9.50"))
    );
    let (_, only_ok) = call(
        &stack,
        "GET",
        "/v1/pix/results?date=2021-10-29&outcome=OK",
        &token,
        "",
    )
    .await;
    assert_eq!(only_ok["items"][0]["endToEndId"], e2e(1).as_str());
    assert_eq!(
        call(&stack, "GET", "/v1/pix/results", &token, "").await.0,
        400
    );
    assert_eq!(
        call(
            &stack,
            "GET",
            "/v1/pix/results?date=2021-10-29&outcome=MAYBE",
            &token,
            ""
        )
        .await
        .0,
        400
    );
}

/// A write-off id DynamoDB cannot take as a key (over 2,048 bytes) is the
/// caller's mistake: a 400 naming the refusal, never a retryable 503.
#[tokio::test]
async fn a_write_off_id_that_cannot_be_a_key_is_a_400() {
    let stack = TestStack::new().await;
    let bob = operator_token_for("bob", ALL);
    let long = "W".repeat(3_000);
    let (s, e) = call(
        &stack,
        "POST",
        &format!("/v1/write-offs/{long}/approve"),
        &bob,
        r#"{"reason": "checked the statement"}"#,
    )
    .await;
    assert_eq!((s, e["code"].as_str()), (400, Some("BTN0002")), "{e}");
}
