//! Pix financial reconciliation end to end: inputs published on the bus reach the
//! worker through PixInputRule and the Pix input queue; results come out as
//! `financial_reconciliation` events, one per transaction, whose detail
//! validates against the kit's schema.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::*;

fn schema() -> jsonschema::Validator {
    let path = devstack::repo_root().join("spec/pix-financial-reconciliation.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("kit beside the repository"))
            .unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// A distinct valid end-to-end id per test (BCB format: E + 8 digits + yyyyMMddHHmm + 11 alphanumerics).
fn e2e(n: usize, salt: &str) -> String {
    format!("E40867163202206292047{}{:03}", &salt[..8], n)
}

/// Details are JSON text, so amounts keep their digits (a JSON number, as the platform sends it).
fn tx(e2e: &str, amount: &str) -> String {
    format!(
        r#"{{"transaction_id": "tx-{e2e}", "end_to_end_id": "{e2e}", "amount": {amount}, "authorization_id": 123,
            "authorization_datetime": "2021-10-29T11:00:00.000Z", "business_date": "2021-10-29", "kind": "PIX_OUT_TRANSFER"}}"#
    )
}

fn entry(e2e: &str, amount: &str) -> String {
    format!(
        r#"{{"end_to_end_id": "{e2e}", "provider_amount": "{amount}", "provider_authorization_id": "17579222", "business_date": "2021-10-29"}}"#
    )
}

/// The day's report close: how many entries it holds and their total.
fn closed(entry_count: u64, total: &str) -> String {
    format!(
        r#"{{"business_date": "2021-10-29", "entry_count": {entry_count}, "total_amount": "{total}"}}"#
    )
}

async fn publish(stack: &TestStack, inputs: &[(&str, String)]) {
    for chunk in inputs.chunks(10) {
        let mut req = stack.clients.eventbridge.put_events();
        for (detail_type, detail) in chunk {
            req = req.entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(stack.bus_name())
                    .source("pix.inputs")
                    .detail_type(*detail_type)
                    .detail(detail.as_str())
                    .build(),
            );
        }
        assert_eq!(req.send().await.unwrap().failed_entry_count(), 0);
    }
}

/// Feeds the Pix input queue to the worker as SQS would, failures included: a
/// failed record comes back after its visibility timeout (2 s here), until
/// the queue stays empty for longer than that. The failures reported.
async fn run_worker_with_retries(stack: &TestStack) -> usize {
    let queue = stack.provisioned.queue("PixInputQueue").unwrap().clone();
    let worker = stack.worker();
    let (mut failures, mut empty) = (0, 0);
    while empty < 4 {
        let batch = stack.receive_batch(&queue, 2).await;
        if batch.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        failures += stack
            .run_worker_batch(&worker, &queue, batch)
            .await
            .batch_item_failures
            .len();
    }
    failures
}

/// Feeds the Pix input queue to the worker, in SQS batches, until it is empty.
async fn run_worker(stack: &TestStack) {
    let queue = stack.provisioned.queue("PixInputQueue").unwrap().clone();
    let worker = stack.worker();
    for _ in 0..20 {
        let batch = stack.receive_batch(&queue, 30).await;
        if batch.is_empty() {
            return;
        }
        let response = stack.run_worker_batch(&worker, &queue, batch).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
}

fn by_e2e(events: &[serde_json::Value]) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["source"] == "pix") {
        out.entry(e["detail"]["end_to_end_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(e.clone());
    }
    out
}

#[tokio::test]
async fn every_outcome_once_with_a_schema_valid_detail_and_the_sample_rule_selects_divergences() {
    let stack = TestStack::new().await;
    let salt = &uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase();
    let (ok, divergent, no_provider, no_pismo) =
        (e2e(1, salt), e2e(2, salt), e2e(3, salt), e2e(4, salt));
    publish(
        &stack,
        &[
            ("pix_transaction", tx(&ok, "125.5")),
            ("provider_settlement_entry", entry(&ok, "125.50")),
            ("pix_transaction", tx(&divergent, "10.00")),
            ("provider_settlement_entry", entry(&divergent, "9.99")),
            ("pix_transaction", tx(&no_provider, "7.77")),
            ("provider_settlement_entry", entry(&no_pismo, "3.30")),
        ],
    )
    .await;
    run_worker(&stack).await;
    publish(&stack, &[("provider_report_closed", closed(3, "138.79"))]).await;
    run_worker(&stack).await;

    let events = by_e2e(
        &stack
            .drain(&stack.all_events, 4, Duration::from_secs(8))
            .await,
    );
    let validator = schema();
    let mut results = BTreeMap::new();
    for (id, evs) in &events {
        assert_eq!(evs.len(), 1, "{id}: {evs:?}");
        let detail = &evs[0]["detail"];
        let errors: Vec<String> = validator
            .iter_errors(detail)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?} {detail}");
        assert_eq!(evs[0]["detail-type"], "financial_reconciliation");
        assert_eq!(
            evs[0]["resources"][0],
            format!(
                "urn:clearing-reconciliation:event:{}",
                shared::pix::financial_reconciliation_event_id(id)
            )
        );
        results.insert(
            id.clone(),
            (
                detail["result"].clone(),
                detail["result_description"].as_str().unwrap().to_owned(),
            ),
        );
    }
    assert_eq!(results[&ok], (serde_json::json!(true), "OK".to_owned()));
    assert_eq!(
        results[&divergent],
        (
            serde_json::json!(false),
            "TRANSACTION_AMOUNT_DIVERGENT".to_owned()
        )
    );
    assert_eq!(
        results[&no_provider],
        (
            serde_json::json!(false),
            "PROVIDER_TRANSACTION_NOT_FOUND".to_owned()
        )
    );
    assert_eq!(
        results[&no_pismo],
        (
            serde_json::json!(false),
            "PISMO_TRANSACTION_NOT_FOUND".to_owned()
        )
    );
    assert_eq!(events[&ok][0]["detail"]["amount"], serde_json::json!(125.5));
    assert_eq!(
        events[&divergent][0]["detail"]["provider_amount"].to_string(),
        "9.99"
    );

    // The sample rule (template.yaml PixDivergentResultsRule) delivered only the three divergent ones.
    let alerts = stack
        .provisioned
        .queue("PixDivergenceAlertQueue")
        .unwrap()
        .clone();
    let alerted = by_e2e(&stack.drain(&alerts, 3, Duration::from_secs(6)).await);
    assert_eq!(alerted.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![divergent.clone(), no_provider.clone(), no_pismo.clone()];
        v.sort();
        v
    });
}

#[tokio::test]
async fn any_order_and_repetition_of_inputs_gives_one_event_per_transaction() {
    let stack = TestStack::new().await;
    let salt = &uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase();
    // Both sides present before the close, in either order and duplicated: OK, once.
    let (a, b) = (e2e(11, salt), e2e(12, salt));
    publish(
        &stack,
        &[
            ("provider_settlement_entry", entry(&a, "50.00")),
            ("pix_transaction", tx(&a, "50.00")),
            ("provider_settlement_entry", entry(&a, "50.00")),
            ("pix_transaction", tx(&b, "50.00")),
            ("pix_transaction", tx(&b, "50.00")),
            ("provider_settlement_entry", entry(&b, "50.00")),
        ],
    )
    .await;
    run_worker(&stack).await;
    publish(
        &stack,
        &[
            ("pix_transaction", tx(&a, "50.00")),
            ("provider_settlement_entry", entry(&b, "50.00")),
        ],
    )
    .await;
    run_worker(&stack).await;
    // The close (twice) overtakes the day's last provider entry: it waits, is
    // retried as SQS redelivers it, and applies once the entry is in.
    let c = e2e(13, salt);
    publish(&stack, &[("pix_transaction", tx(&c, "1.00"))]).await;
    run_worker(&stack).await;
    publish(
        &stack,
        &[
            ("provider_report_closed", closed(3, "101.00")),
            ("provider_report_closed", closed(3, "101.00")),
        ],
    )
    .await;
    let queue = stack.provisioned.queue("PixInputQueue").unwrap().clone();
    let mut early = Vec::new();
    for _ in 0..5 {
        early.extend(stack.receive_batch(&queue, 2).await);
        if early.len() == 2 {
            break;
        }
    }
    let response = stack.run_worker_batch(&stack.worker(), &queue, early).await;
    assert_eq!(response.batch_item_failures.len(), 2, "the closes wait");
    publish(
        &stack,
        &[
            ("provider_settlement_entry", entry(&c, "1.00")),
            ("pix_transaction", tx(&c, "1.00")),
        ],
    )
    .await;
    run_worker_with_retries(&stack).await;
    assert!(
        shared::ports::PixStore::pix_day_closed(&stack.store(), "2021-10-29".parse().unwrap())
            .await
            .unwrap(),
        "the close applied once its entries were in"
    );

    let events = by_e2e(
        &stack
            .drain(&stack.all_events, 3, Duration::from_secs(8))
            .await,
    );
    assert_eq!(events[&a].len(), 1, "{:?}", events[&a]);
    assert_eq!(events[&b].len(), 1);
    assert_eq!(events[&c].len(), 1);
    assert_eq!(events[&a][0]["detail"]["result_description"], "OK");
    assert_eq!(events[&b][0]["detail"]["result_description"], "OK");
    // Not a false PROVIDER_TRANSACTION_NOT_FOUND: the close waited for c's entry.
    assert_eq!(events[&c][0]["detail"]["result_description"], "OK");
}

#[tokio::test]
async fn an_invalid_pix_input_is_rejected_alone_and_announced() {
    let stack = TestStack::new().await;
    let salt = &uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase();
    let good = e2e(21, salt);
    publish(&stack, &[
        ("pix_transaction", format!(r#"{{"transaction_id": "t", "end_to_end_id": "{good}", "amount": 1.001, "business_date": "2021-10-29"}}"#)),
        ("pix_transaction", tx(&good, "1.00")),
    ]).await;
    let queue = stack.provisioned.queue("PixInputQueue").unwrap().clone();
    let mut batch = Vec::new();
    for _ in 0..5 {
        batch.extend(stack.receive_batch(&queue, 30).await);
        if batch.len() == 2 {
            break;
        }
    }
    let response = stack.run_worker_batch(&stack.worker(), &queue, batch).await;
    // Never readable: recorded with its reason and announced, not retried to the dead-letter queue.
    assert!(response.batch_item_failures.is_empty());
    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(8))
        .await;
    let rejected: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "pix_input.rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{events:?}");
    assert!(
        rejected[0]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("amount"),
        "{}",
        rejected[0]
    );
    let stored = shared::ports::PixStore::pix_state(&stack.store(), &good)
        .await
        .unwrap()
        .unwrap();
    // Numerically exact. (moto's EventBridge re-serializes JSON numbers, 1.00 -> 1.0; senders that
    // need the scale kept send amounts as strings, which the parser accepts.)
    assert_eq!(
        stored.state.transaction.unwrap().amount,
        "1.00".parse::<rust_decimal::Decimal>().unwrap()
    );
}

/// events/reprocessing-worker/sqs-pix-*.json drive the worker handler to the seed example's OK event.
#[tokio::test]
async fn sample_pix_events_reconcile_the_seed_example() {
    let stack = TestStack::new().await;
    for file in [
        "sqs-pix-provider-entry.json",
        "sqs-pix-transaction.json",
        "sqs-pix-report-closed.json",
    ] {
        let event = stack.sample_sqs_event(file);
        let response = reprocessing_worker::handle(
            &stack.worker(),
            lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
        )
        .await
        .unwrap();
        assert!(response.batch_item_failures.is_empty(), "{file}");
    }
    let events = stack
        .drain(&stack.all_events, 1, Duration::from_secs(6))
        .await;
    assert_eq!(events.len(), 1);
    let seed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            devstack::repo_root().join("spec/pix-financial-reconciliation.example.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(events[0]["detail"], seed);
}
