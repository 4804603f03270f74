//! Authorization expiry against DynamoDB Local and moto: the sweep (the
//! function's own `sweep`, on its `ByExpiry` index) and late presentments
//! through the webhook handler, with the events the outbox publishes.

use std::time::Duration;

use authorization_expiry::{sweep, ExpiryFunction, ScheduleInvocation};
use chrono::Utc;
use clearing_webhook::{handle, WebhookService};
use integration_tests::*;
use shared::authorization::AuthorizationStatus;
use shared::config::Env;
use shared::ports::ClearingStore;

const CLEARING: &str = "/v1/webhooks/mastercard/clearing";
const AUTHORIZATIONS: &str = "/v1/webhooks/mastercard/authorizations";

async fn post(webhook: &WebhookService, path: &str, body: &str) -> serde_json::Value {
    let resp = handle(webhook, signed_webhook(path, body)).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", response_json(&resp));
    response_json(&resp)
}

/// An approved 100.00 USD authorization made `days_ago` days ago.
fn authorized(uid: &str, card: &str, mcc: &str, days_ago: i64) -> String {
    let when = (Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339();
    authorization(uid, card, "100.00", mcc).replace("2024-04-24T16:00:00Z", &when)
}

fn clearing(id: &str, uid: &str, card: &str, amount: &str) -> String {
    format!(
        r#"{{"clearing": [{}]}}"#,
        clearing_record(id, uid, card, amount, "5411").replace("1401", "1402")
    )
}

fn sweeper(stack: &TestStack) -> ExpiryFunction {
    ExpiryFunction::from_config(&stack.env(), &stack.clients.aws()).unwrap()
}

async fn status(stack: &TestStack, uid: &str) -> AuthorizationStatus {
    stack
        .store()
        .authorization(uid)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// The `authorization.expired` events among the next ones published, by transUid.
async fn expired_events(stack: &TestStack, wait: Duration) -> Vec<serde_json::Value> {
    stack
        .drain(&stack.all_events, usize::MAX, wait)
        .await
        .into_iter()
        .filter(|e| e["detail-type"] == "authorization.expired")
        .collect()
}

#[tokio::test]
async fn the_sweep_expires_only_what_is_due_once_however_often_it_runs() {
    let stack = TestStack::new().await;
    let webhook = stack.webhook();
    let card = unique("card-");
    let id = |name: &str| format!("{name}-{card}");
    let records = [
        authorized(&id("due"), &card, "5411", 10),
        authorized(&id("recent"), &card, "5411", 3),
        authorized(&id("hotel"), &card, "7011", 10),
        authorized(&id("paid"), &card, "5411", 10),
        authorized(&id("part"), &card, "5411", 10),
    ];
    for r in &records {
        post(&webhook, AUTHORIZATIONS, r).await;
    }
    let paid = post(
        &webhook,
        CLEARING,
        &clearing(&id("c-paid"), &id("paid"), &card, "100.00"),
    )
    .await;
    assert_eq!(paid["results"][0]["status"], "MATCHED", "{paid}");
    let part = post(
        &webhook,
        CLEARING,
        &clearing(&id("c-part"), &id("part"), &card, "40.00"),
    )
    .await;
    assert_eq!(part["results"][0]["status"], "MATCHED", "{part}");

    // Two runs at once (a redelivered schedule, an overlap), then a third.
    let (a, b) = (sweeper(&stack), sweeper(&stack));
    let invocation = ScheduleInvocation::default();
    let (ra, rb) = tokio::join!(
        sweep(&a, &invocation, Utc::now()),
        sweep(&b, &invocation, Utc::now())
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(
        ra.failed.is_empty() && rb.failed.is_empty(),
        "{ra:?} {rb:?}"
    );
    assert_eq!(ra.expired + rb.expired, 2, "{ra:?} {rb:?}");
    for (name, expected) in [
        ("due", AuthorizationStatus::Expired),
        ("part", AuthorizationStatus::Expired),
        ("recent", AuthorizationStatus::Approved),
        ("hotel", AuthorizationStatus::Approved),
        ("paid", AuthorizationStatus::Approved),
    ] {
        assert_eq!(status(&stack, &id(name)).await, expected, "{name}");
    }
    let again = sweep(&a, &invocation, Utc::now()).await.unwrap();
    assert_eq!((again.examined, again.expired), (0, 0), "{again:?}");

    let events = expired_events(&stack, Duration::from_secs(6)).await;
    let mut uids: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["trans_uid"].as_str().unwrap())
        .collect();
    uids.sort();
    assert_eq!(uids, [id("due"), id("part")], "announced once each");
    let part_event = events
        .iter()
        .find(|e| e["detail"]["trans_uid"] == id("part"))
        .unwrap();
    assert_eq!(
        part_event["detail"]["amount"], "60.00",
        "what was left uncleared"
    );
    assert_eq!(part_event["detail"]["expiry"]["window_days"], 7);
    let stored = stack
        .store()
        .authorization(&id("due"))
        .await
        .unwrap()
        .unwrap();
    let change = stored.history.last().unwrap();
    assert_eq!(change.actor, "scheduler:authorization-expiry");

    // A month on, the hotel's 30 days are over too (its entry is on its own sweep day).
    let later = sweep(&a, &invocation, Utc::now() + chrono::Duration::days(21))
        .await
        .unwrap();
    assert_eq!(later.expired, 1, "{later:?}");
    assert_eq!(
        status(&stack, &id("hotel")).await,
        AuthorizationStatus::Expired
    );
}

#[tokio::test]
async fn a_late_presentment_is_matched_and_flagged_or_held_by_rule() {
    let stack = TestStack::new().await;
    let card = unique("card-");
    let (flagged, held) = (unique("uid-"), unique("uid-"));
    let webhook = stack.webhook();
    for uid in [&flagged, &held] {
        post(&webhook, AUTHORIZATIONS, &authorized(uid, &card, "5411", 9)).await;
    }
    let report = sweep(&sweeper(&stack), &ScheduleInvocation::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(report.expired, 2, "{report:?}");

    // The shipped rule: MATCH_AND_FLAG.
    let ack = post(
        &webhook,
        CLEARING,
        &clearing(&unique("late-"), &flagged, &card, "100.00"),
    )
    .await;
    let result = &ack["results"][0];
    assert_eq!(result["status"], "MATCHED", "{ack}");
    let id = result["clearingUniqueId"].as_str().unwrap();
    let message = stack.store().message(id).await.unwrap().unwrap();
    let flag = message.matched.unwrap().late_presentment.unwrap();
    let authorized_on = (Utc::now() - chrono::Duration::days(9))
        .date_naive()
        .to_string();
    for part in [authorized_on.as_str(), "7-day window", "MATCH_AND_FLAG"] {
        assert!(flag.contains(part), "{part}: {flag}");
    }

    // HOLD: the webhook built with that rule in force.
    let rules = shared::clearing::matching::DEFAULT_MATCHING_RULES.replace(
        r#""late_presentment": "MATCH_AND_FLAG""#,
        r#""late_presentment": "HOLD""#,
    );
    let mut settings = devstack::function_env(&stack.provisioned, &test_settings()).unwrap();
    settings.push(("MATCHING_RULES".into(), rules));
    let holding = WebhookService::from_config(&Env::from_pairs(settings), &stack.clients.aws())
        .await
        .unwrap();
    let ack = post(
        &holding,
        CLEARING,
        &clearing(&unique("late-"), &held, &card, "100.00"),
    )
    .await;
    let result = &ack["results"][0];
    assert_eq!(result["status"], "PENDING", "{ack}");
    assert_eq!(result["pendingReason"]["code"], "LATE_PRESENTMENT", "{ack}");
    let detail = result["pendingReason"]["detail"].as_str().unwrap();
    for part in [authorized_on.as_str(), "7-day window", "expired on", "HOLD"] {
        assert!(detail.contains(part), "{part}: {detail}");
    }
    let pending: Vec<serde_json::Value> = stack
        .drain(&stack.all_events, usize::MAX, Duration::from_secs(6))
        .await
        .into_iter()
        .filter(|e| e["detail-type"] == "clearing_message.pending")
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0]["detail"]["pending_reason"]["code"],
        "LATE_PRESENTMENT"
    );
}

/// `events/authorization-expiry/`'s sample (Scheduler's payload) through the
/// handler: the sweep runs at its scheduled time and expires what is due then.
#[tokio::test]
async fn the_scheduler_sample_runs_the_sweep_at_its_scheduled_time() {
    let stack = TestStack::new().await;
    let uid = unique("uid-");
    let body = authorization(&uid, &unique("card-"), "100.00", "5411")
        .replace("2024-04-24T16:00:00Z", "2026-11-10T16:00:00Z");
    let mut auth =
        shared::authorization::parse_authorization_notification(body.as_bytes(), "MASTERCARD")
            .unwrap()
            .remove(0)
            .unwrap();
    // Stored when it was authorized: its 7-day window ends on 2026-11-17.
    auth.expiry = shared::clearing::RulesVersion::shipped()
        .rules
        .expiry_terms(&auth, auth.authorized_at);
    stack.store().save_authorization(&auth, &[]).await.unwrap();
    let path = devstack::repo_root().join("events/authorization-expiry/scheduler-run.json");
    let payload: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let report = authorization_expiry::handle(
        &sweeper(&stack),
        lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!((report.examined, report.expired), (1, 1), "{report:?}");
    assert_eq!(status(&stack, &uid).await, AuthorizationStatus::Expired);
    let events = expired_events(&stack, Duration::from_secs(10)).await;
    assert!(
        events
            .iter()
            .any(|e| e["detail"]["trans_uid"] == uid.as_str()
                && e["detail"]["occurred_at"] == "2026-11-22T10:00:00.000Z"),
        "{events:?}"
    );
}
