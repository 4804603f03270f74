//! The console's queue at 10,000 pending messages: what one page view costs.
//! Loads 10,000 PENDING messages (four reasons' worth of amounts and cards,
//! through the webhook's own ingest) into DynamoDB Local, then prints, for the
//! queue summary, the first page and the next page: the API time, the
//! DynamoDB calls and the read units (ReturnConsumedCapacity=INDEXES, the
//! store's `capacity-meter`). Needs the local stack: `./dev.sh bench-console`.

use std::sync::Arc;
use std::time::Instant;

use clearing_webhook::ingest_clearing;
use integration_tests::*;
use reconciliation_api::ApiService;
use shared::adapters::dynamodb::CapacityMeter;
use shared::adapters::DynamoDbClearingStore;

const PENDING: usize = 10_000;
const PER_NOTIFICATION: usize = 500;

async fn load(stack: &TestStack) {
    let webhook = stack.webhook();
    let cards: Vec<String> = (0..20).map(|_| unique("card-")).collect();
    let bodies: Vec<String> = (0..PENDING / PER_NOTIFICATION)
        .map(|n| {
            let records: Vec<String> = (0..PER_NOTIFICATION)
                .map(|i| {
                    let k = n * PER_NOTIFICATION + i;
                    let amount = format!("{}.{:02}", 1 + k % 900, k % 100);
                    let mut r = clearing_record(
                        &format!("q-{k:05}-{}", unique("")),
                        &format!("no-auth-{k}"),
                        &cards[k % cards.len()],
                        &amount,
                        "5411",
                    );
                    // Every fourth record is invalid (the seed's broken date).
                    if k.is_multiple_of(4) {
                        r = r.replace("2024-04-24", "2024-24-04");
                    }
                    r
                })
                .collect();
            format!(r#"{{"clearing": [{}]}}"#, records.join(","))
        })
        .collect();
    for chunk in bodies.chunks(4) {
        let runs = chunk
            .iter()
            .map(|b| ingest_clearing(&webhook, "MASTERCARD", b.as_bytes()));
        for ack in futures::future::join_all(runs).await {
            ack.unwrap();
        }
    }
}

/// One GET through the handler: (status, body, ms, DynamoDB calls, read units).
async fn measure(stack: &TestStack, path: &str) -> (u16, serde_json::Value, f64, u64, f64) {
    let meter = Arc::new(CapacityMeter::default());
    let store = Arc::new(
        DynamoDbClearingStore::new(stack.clients.dynamodb.clone(), stack.table())
            .with_capacity_meter(meter.clone()),
    );
    let api = ApiService {
        store: store.clone(),
        console_store: store,
        ..stack.api()
    };
    let token = operator_token("clearing:read");
    let started = Instant::now();
    let resp = reconciliation_api::handle(&api, api_request("GET", path, Some(&token), ""))
        .await
        .unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (_, read) = meter.totals();
    (
        resp.status().as_u16(),
        response_json(&resp),
        ms,
        meter.calls(),
        read,
    )
}

#[tokio::main]
async fn main() {
    let stack = TestStack::new().await;
    let started = Instant::now();
    load(&stack).await;
    println!(
        "console queue: {PENDING} PENDING messages loaded in {:.1} s (DynamoDB Local)",
        started.elapsed().as_secs_f64()
    );
    println!("  view                               API ms  DynamoDB calls  read units");
    let report =
        |name: &str, (status, _, ms, calls, read): &(u16, serde_json::Value, f64, u64, f64)| {
            assert_eq!(*status, 200, "{name}");
            println!("  {name:<34} {ms:>6.1}  {calls:>14}  {read:>10.1}");
        };
    let summary = measure(&stack, "/v1/queue/summary?status=PENDING").await;
    assert_eq!(summary.1["total"], PENDING as u64);
    report("summary (all 10,000 aged by reason)", &summary);
    let first = measure(&stack, "/v1/clearing-messages?status=PENDING&limit=50").await;
    report("first page (50 rows)", &first);
    let cursor = first.1["next_cursor"].as_str().unwrap().to_owned();
    let next = measure(
        &stack,
        &format!("/v1/clearing-messages?status=PENDING&limit=50&cursor={cursor}"),
    )
    .await;
    report("next page (50 rows)", &next);
    let filtered = measure(
        &stack,
        "/v1/clearing-messages?status=PENDING&reason=INVALID_FIELD&min_amount=500&limit=50",
    )
    .await;
    report("filtered page (reason + amount)", &filtered);
    let by_amount = measure(
        &stack,
        "/v1/clearing-messages?status=PENDING&sort=-amount&limit=50",
    )
    .await;
    report("page sorted by amount", &by_amount);
    let (s, c, m, ca, r) = (
        first.0,
        &first.1,
        first.2 + summary.2,
        first.3 + summary.3,
        first.4 + summary.4,
    );
    report("page view: summary + first page", &(s, c.clone(), m, ca, r));
}
