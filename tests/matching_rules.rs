//! The matching rules as versioned data, against DynamoDB Local and moto:
//! changes through the operator API (403, 400, 409 cases), a reprocess under
//! the new version, and past decisions that keep the version they used.

use std::time::Duration;

use integration_tests::*;
use shared::clearing::{ClearingStatus, PendingReasonCode};
use shared::ports::ClearingStore;

const SEED_ID: &str = "202404261024009777553";

const TIPS_4111: &str = r#"{"tolerances": [{"name": "4111 tips", "mcc_from": 4111, "mcc_to": 4111, "max_over_percent": "30"}],
    "fx_variance_percent": "3", "not_previously_authorized": "FORCE_POST"}"#;

async fn call(
    stack: &TestStack,
    method: &str,
    path: &str,
    scope: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let req = api_request(method, path, Some(&operator_token(scope)), body);
    let resp = reconciliation_api::handle(&stack.api(), req).await.unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

fn change(expected: u64, reason: &str, rules: &str) -> String {
    format!(r#"{{"expected_version": {expected}, "reason": "{reason}", "rules": {rules}}}"#)
}

async fn post_webhook(stack: &TestStack, path: &str, body: &str) {
    let resp = clearing_webhook::handle(&stack.webhook(), signed_webhook(path, body))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", response_json(&resp));
}

#[tokio::test]
async fn rules_change_through_the_api_one_version_at_a_time() {
    let stack = TestStack::new().await;
    let (status, v1) = call(&stack, "GET", "/v1/operations/rules", "clearing:read", "").await;
    assert_eq!(status, 200, "{v1}");
    assert_eq!(
        (v1["version"].as_u64(), v1["author"].as_str()),
        (Some(1), Some("system"))
    );
    assert_eq!(v1["rules"]["fx_variance_percent"], "3");

    // Reading is not enough to change them.
    let body = change(1, "4111 may tip", TIPS_4111);
    let (status, e) = call(
        &stack,
        "PUT",
        "/v1/operations/rules",
        "clearing:read",
        &body,
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (403, Some("BTN0201")), "{e}");

    // Rules that do not read, or no reason: 400 naming the problem; nothing changes.
    let negative = change(1, "r", r#"{"tolerances": [], "fx_variance_percent": "-1"}"#);
    let (status, e) = call(
        &stack,
        "PUT",
        "/v1/operations/rules",
        "rules:write",
        &negative,
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (400, Some("BTN0007")), "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("fx_variance_percent"),
        "{e}"
    );
    let no_reason = change(1, " ", TIPS_4111);
    let (status, e) = call(
        &stack,
        "PUT",
        "/v1/operations/rules",
        "rules:write",
        &no_reason,
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (400, Some("BTN0007")), "{e}");

    // Two editors of version 1 at once: one makes version 2, the other is told to read again.
    let other = change(1, "no tolerances", r#"{"tolerances": []}"#);
    let (a, b) = tokio::join!(
        call(&stack, "PUT", "/v1/operations/rules", "rules:write", &body),
        call(&stack, "PUT", "/v1/operations/rules", "rules:write", &other),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (won, lost) = if a.0 == 200 { (a.1, b.1) } else { (b.1, a.1) };
    assert_eq!(won["version"], 2);
    assert_eq!(won["author"], "operator:ana");
    assert_eq!(lost["code"], "BTN0406", "{lost}");

    let (status, current) = call(&stack, "GET", "/v1/operations/rules", "clearing:read", "").await;
    assert_eq!((status, &current), (200, &won));

    let (status, page) = call(
        &stack,
        "GET",
        "/v1/operations/rules/versions?limit=1",
        "clearing:read",
        "",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["version"], 2);
    assert_eq!(page["next_before"], 2);
    let (_, rest) = call(
        &stack,
        "GET",
        "/v1/operations/rules/versions?before=2",
        "clearing:read",
        "",
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1, "{rest}");
    assert_eq!(rest["items"][0]["version"], 1);
    assert_eq!(rest["items"][0]["rules"], v1["rules"]);
    assert_eq!(rest["next_before"], serde_json::Value::Null);
    let (status, e) = call(
        &stack,
        "GET",
        "/v1/operations/rules/versions?limit=0",
        "clearing:read",
        "",
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (400, Some("BTN0005")), "{e}");
}

/// Ingested under version 1, reprocessed under version 2: the reprocess uses
/// the new tolerance, the earlier decision keeps version 1.
#[tokio::test]
async fn a_reprocess_uses_the_rules_in_force_and_past_decisions_keep_theirs() {
    let stack = TestStack::new().await;
    let changes = devstack::add_subscriber(
        &stack.clients,
        &stack.bus_name(),
        &serde_json::json!({"source": ["clearing"], "detail-type": ["rules.changed"]}),
        &format!("{}-rules", stack.table()),
    )
    .await
    .unwrap();
    post_webhook(
        &stack,
        "/v1/webhooks/mastercard/authorizations",
        &seed_authorization("10.00", "4111"),
    )
    .await;
    post_webhook(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    let pending = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(pending.status, ClearingStatus::Pending);
    assert_eq!(pending.history[1].rules_version, Some(1));

    let body = change(1, "4111 may tip up to 30%", TIPS_4111);
    let (status, v2) = call(&stack, "PUT", "/v1/operations/rules", "rules:write", &body).await;
    assert_eq!(status, 200, "{v2}");

    let fix = r#"{"card_network": "MASTERCARD", "card_hash": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
        "reconciliation_reason": "date swapped; the amount includes a tip",
        "adjustments": [{"field": "transactionLocalDate", "new_value": "2024-04-24"},
                        {"field": "messageReasonCode", "new_value": "1402"}]}"#;
    let (status, r) = call(
        &stack,
        "POST",
        "/v1/clearing-reconciliation",
        "clearing:reconcile",
        fix,
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let queue = stack.reprocessing_queue();
    let batch = stack.next_batch(&queue, 30).await;
    assert_eq!(batch.len(), 1);
    let response = stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    assert!(response.batch_item_failures.is_empty());

    let m = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(m.status, ClearingStatus::Matched, "{:?}", m.pending_reason);
    assert_eq!(
        m.matched.as_ref().unwrap().tolerance_rule.as_deref(),
        Some("4111 tips")
    );
    assert_eq!(
        m.history[1], pending.history[1],
        "the past decision is unchanged"
    );
    assert_eq!(
        m.history[1].pending_reason.as_ref().map(|r| r.code),
        Some(PendingReasonCode::InvalidField)
    );
    assert_eq!(m.history[3].rules_version, Some(2));

    let events = stack.drain(&changes, 1, Duration::from_secs(6)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["version"], 2);
    assert_eq!(events[0]["detail"]["reason"], "4111 may tip up to 30%");
    assert_eq!(events[0]["detail"]["author"], "operator:ana");
}
