//! The reprocessing worker through its Lambda handler, fed from the real
//! (moto) SQS queue, against DynamoDB Local and moto's EventBridge.

use std::time::Duration;

use integration_tests::*;
use reprocessing_worker::{process_job, JobOutcome};
use shared::clearing::{ClearingField, ClearingStatus, PendingReasonCode};
use shared::ports::ClearingStore;

const SEED_ID: &str = "202404261024009777553";

async fn post_webhook(stack: &TestStack, path: &str, body: &str) {
    let resp = clearing_webhook::handle(&stack.webhook(), signed_webhook(path, body))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", response_json(&resp));
}

async fn reconcile(stack: &TestStack, body: &str) -> u16 {
    let req = api_request(
        "POST",
        "/v1/clearing-reconciliation",
        Some(&operator_token("clearing:reconcile")),
        body,
    );
    reconciliation_api::handle(&stack.api(), req)
        .await
        .unwrap()
        .status()
        .as_u16()
}

const FIX_SEED_DATE: &str = r#"{"card_network": "MASTERCARD", "card_hash": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
    "reconciliation_reason": "transactionLocalDate had month and day swapped",
    "adjustments": [{"field": "transactionLocalDate", "new_value": "2024-04-24"}]}"#;

/// The flow the product lives for: seed in, pending, corrected, reconciled, announced once.
#[tokio::test]
async fn seed_record_goes_from_pending_to_reconciled_with_one_event() {
    let stack = TestStack::new().await;
    let reconciled = devstack::add_subscriber(
        &stack.clients,
        &stack.bus_name(),
        &serde_json::json!({"source": ["clearing"], "detail-type": ["clearing_message.reconciled"]}),
        &format!("{}-ledger", stack.table()),
    )
    .await
    .unwrap();
    post_webhook(
        &stack,
        "/v1/webhooks/mastercard/authorizations",
        &seed_authorization("12.34", "4111"),
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
    assert_eq!(
        pending.pending_reason.unwrap().fields[0].field,
        ClearingField::TransactionLocalDate
    );

    assert_eq!(reconcile(&stack, FIX_SEED_DATE).await, 202);
    let queue = stack.reprocessing_queue();
    let batch = stack.receive_batch(&queue, 30).await;
    assert_eq!(batch.len(), 1);
    let response = stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    assert!(response.batch_item_failures.is_empty());

    let m = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(m.status, ClearingStatus::Matched);
    assert_eq!(m.fields[&ClearingField::TransactionLocalDate], "2024-04-24");
    // Its corrected date is one the date search finds it by.
    let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 24).unwrap();
    let by_date = stack
        .store()
        .search(
            &shared::ports::ClearingSearch::DateRange {
                start: day,
                end: day,
            },
            0,
            10,
        )
        .await
        .unwrap();
    let ids: Vec<_> = by_date
        .items
        .iter()
        .map(|m| m.clearing_unique_id.as_str())
        .collect();
    assert_eq!(ids, [SEED_ID]);
    let last = m.history.last().unwrap();
    assert_eq!(last.from, Some(ClearingStatus::Reprocessing));
    assert_eq!(last.changes[0].old_value.as_deref(), Some("2024-24-04"));
    assert_eq!(last.changes[0].new_value, "2024-04-24");
    assert_eq!(
        last.reason.as_deref(),
        Some("transactionLocalDate had month and day swapped")
    );
    assert_eq!(
        m.history.iter().map(|t| t.to.as_str()).collect::<Vec<_>>(),
        ["RECEIVED", "PENDING", "REPROCESSING", "MATCHED"]
    );
    assert_eq!(m.history[2].actor, "operator:ana");
    assert_eq!(m.matched.unwrap().difference.to_string(), "0.00");

    let events = stack.drain(&reconciled, 1, Duration::from_secs(6)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["clearing_unique_id"], SEED_ID);
    assert_eq!(events[0]["detail"]["status"], "MATCHED");
    assert_eq!(
        events[0]["detail"]["message"]["transactionLocalDate"],
        "2024-04-24"
    );
}

#[tokio::test]
async fn a_job_delivered_twice_applies_once() {
    let stack = TestStack::new().await;
    post_webhook(
        &stack,
        "/v1/webhooks/mastercard/authorizations",
        &seed_authorization("12.34", "4111"),
    )
    .await;
    post_webhook(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    assert_eq!(reconcile(&stack, FIX_SEED_DATE).await, 202);
    let queue = stack.reprocessing_queue();
    let batch = stack.receive_batch(&queue, 30).await;
    let job: shared::jobs::ReprocessingJob =
        serde_json::from_str(batch[0].body.as_deref().unwrap()).unwrap();
    let worker = stack.worker();
    // Two deliveries racing, then a third late one.
    let (a, b) = tokio::join!(process_job(&worker, &job), process_job(&worker, &job));
    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        vec![
            JobOutcome::AlreadyApplied,
            JobOutcome::Settled(ClearingStatus::Matched)
        ]
    );
    let after = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(
        process_job(&worker, &job).await.unwrap(),
        JobOutcome::AlreadyApplied
    );
    assert_eq!(
        stack.store().message(SEED_ID).await.unwrap().unwrap(),
        after
    );
    assert_eq!(after.version, 4);

    // A job whose message has moved on (another request) is acknowledged without effect.
    let mut stale = job.clone();
    stale.request_id = "some-other-request".into();
    assert_eq!(
        process_job(&worker, &stale).await.unwrap(),
        JobOutcome::Stale
    );
}

#[tokio::test]
async fn a_still_divergent_record_stays_pending_with_the_new_reason() {
    let stack = TestStack::new().await;
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
    assert_eq!(reconcile(&stack, FIX_SEED_DATE).await, 202);
    let queue = stack.reprocessing_queue();
    let batch = stack.receive_batch(&queue, 30).await;
    stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    let m = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(m.status, ClearingStatus::Pending);
    assert_eq!(
        m.pending_reason.unwrap().code,
        PendingReasonCode::AmountDivergent
    );
    // And it can be reprocessed again: correct the amount this time.
    let fix_amount = FIX_SEED_DATE
        .replace("transactionLocalDate", "transactionAmount")
        .replace("2024-04-24", "10.00");
    assert_eq!(reconcile(&stack, &fix_amount).await, 202);
    let batch = stack.receive_batch(&queue, 30).await;
    stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    let m = stack.store().message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(m.status, ClearingStatus::Matched);
    assert_eq!(m.version, 6);
}

#[tokio::test]
async fn a_poison_job_fails_alone_and_reaches_the_dead_letter_queue() {
    let stack = TestStack::new().await;
    post_webhook(
        &stack,
        "/v1/webhooks/mastercard/clearing",
        SEED_NOTIFICATION,
    )
    .await;
    assert_eq!(reconcile(&stack, FIX_SEED_DATE).await, 202);
    let queue = stack.reprocessing_queue();
    stack
        .clients
        .sqs
        .send_message()
        .queue_url(&queue.url)
        .message_body("{\"not\": \"a job\"}")
        .send()
        .await
        .unwrap();

    // Mixed batch: the good job settles, only the poison one is reported failed.
    let mut batch = Vec::new();
    for _ in 0..5 {
        batch.extend(stack.receive_batch(&queue, 1).await);
        if batch.len() == 2 {
            break;
        }
    }
    assert_eq!(batch.len(), 2);
    let response = stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        stack
            .store()
            .message(SEED_ID)
            .await
            .unwrap()
            .unwrap()
            .status,
        ClearingStatus::Pending,
        "no authorization: reprocessed to PENDING (AUTHORIZATION_NOT_FOUND)"
    );

    // The poison job is received again until maxReceiveCount (5), then moves to the DLQ.
    let dlq = stack
        .provisioned
        .queue("ReprocessingDeadLetterQueue")
        .unwrap()
        .clone();
    let mut receives = 1;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let batch = stack.receive_batch(&queue, 1).await;
        if batch.is_empty() {
            break;
        }
        receives += batch.len();
        stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    }
    assert_eq!(receives, 5);
    let dead = stack.drain(&dlq, 1, Duration::from_secs(5)).await;
    assert_eq!(dead, vec![serde_json::json!({"not": "a job"})]);
}

/// events/reprocessing-worker/sqs-reprocessing-job.json is an SQS event the handler reads
/// (from this stack's job queue: the sample names the local run's).
#[tokio::test]
async fn sample_sqs_event_is_read_by_the_handler() {
    let stack = TestStack::new().await;
    let event = stack.sample_sqs_event("sqs-reprocessing-job.json");
    let job: shared::jobs::ReprocessingJob =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        job.adjustments[0].field,
        ClearingField::TransactionLocalDate
    );
    // No such message in this fresh table: acknowledged without effect, not failed.
    let response = reprocessing_worker::handle(
        &stack.worker(),
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
}
