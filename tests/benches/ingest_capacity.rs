//! What ingest costs, on DynamoDB Local (`./dev.sh bench`):
//! 1. DynamoDB capacity per ingested clearing record, as DynamoDB reports it
//!    (ReturnConsumedCapacity=INDEXES), per table and index, for a batch of 100
//!    records whose authorizations are stored (80 matched, 20 pending), the
//!    outbox included; and the sizes of the items that make it up. Targets:
//!    <= 3.0 write units, <= 0.5 read units per record ([0026]).
//! 2. The AWS bill per million such records, from those units and the prices below.
//! 3. The wall time of one 1,000-record notification through the webhook's
//!    handler beside writing the items it wrote with bare BatchWriteItem, on
//!    the same DynamoDB Local in the same run.
//!
//! The store's meter exists only with shared's `capacity-meter` feature, which
//! this crate enables as a dev-dependency.
//!
//! [0026]: ../../docs/decisions/0026-packed-message-item.md

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use clearing_webhook::{ingest_clearing, WebhookService};
use futures::stream::{self, StreamExt};

use integration_tests::*;
use shared::adapters::dynamodb::CapacityMeter;
use shared::adapters::DynamoDbClearingStore;

const BATCH: usize = 100;
const NOTIFICATION: usize = 1_000;
/// In flight at once for the bare writes: the handler's own write concurrency.
const BARE_CONCURRENCY: usize = 16;

/// us-east-1 list prices, USD, as published by AWS and read on 2026-11-23
/// (DynamoDB on-demand since the November 2024 reduction). See [0026].
mod price {
    pub const ON_DEMAND_WRITE_PER_MILLION: f64 = 0.625;
    pub const ON_DEMAND_READ_PER_MILLION: f64 = 0.125;
    pub const PROVISIONED_WCU_HOUR: f64 = 0.00065;
    pub const PROVISIONED_RCU_HOUR: f64 = 0.00013;
    /// Provisioned capacity is paid whether used or not: the share used.
    pub const UTILIZATION: f64 = 0.70;
    pub const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
    pub const LAMBDA_PER_GB_SECOND: f64 = 0.000_016_666_7;
    pub const EVENTBRIDGE_PER_MILLION_EVENTS: f64 = 1.00;
    pub const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
}

#[tokio::main]
async fn main() {
    let stack = TestStack::new().await;
    let (write, read) = capacity(&stack).await;
    bill(write, read);
    drop(stack);
    notification_timing().await;
}

/// A clearing notification of `n` records whose authorizations are stored
/// first: every fifth record is invalid (the seed's broken date), the rest match.
async fn seeded_notification(stack: &TestStack, n: usize) -> String {
    let card = unique("card-");
    let run = unique("");
    let mut authorizations = Vec::new();
    let mut records = Vec::new();
    for i in 0..n {
        let uid = format!("cap-uid-{run}-{i}");
        let auth: serde_json::Value =
            serde_json::from_str(&authorization(&uid, &card, "42.00", "4111")).unwrap();
        authorizations.push(auth["authorizations"][0].clone());
        let mut r = clearing_record(&format!("cap-{run}-{i}"), &uid, &card, "42.00", "4111");
        if i % 5 == 0 {
            r = r.replace("2024-04-24", "2024-24-04");
        }
        records.push(r);
    }
    for chunk in authorizations.chunks(500) {
        let body = serde_json::json!({ "authorizations": chunk }).to_string();
        clearing_webhook::ingest_authorizations(&stack.webhook(), "MASTERCARD", body.as_bytes())
            .await
            .unwrap();
    }
    format!(r#"{{"clearing": [{}]}}"#, records.join(","))
}

fn metered(stack: &TestStack, meter: &Arc<CapacityMeter>) -> WebhookService {
    WebhookService {
        store: Arc::new(
            DynamoDbClearingStore::new(stack.clients.dynamodb.clone(), stack.table())
                .with_capacity_meter(meter.clone()),
        ),
        ..stack.webhook()
    }
}

/// Units per record of a first delivery and of a redelivery; returns the first's.
async fn capacity(stack: &TestStack) -> (f64, f64) {
    let body = seeded_notification(stack, BATCH).await;
    let meter = Arc::new(CapacityMeter::default());
    let ack = ingest_clearing(&metered(stack, &meter), "MASTERCARD", body.as_bytes())
        .await
        .unwrap();
    let count = |s| ack.results.iter().filter(|r| r.status == s).count();
    use shared::clearing::ClearingStatus::{Matched, Pending};
    let (write, read) = meter.totals();
    let (write, read) = (write / BATCH as f64, read / BATCH as f64);
    println!(
        "ingest capacity: batch of {} records ({} matched, {} pending), outbox included, DynamoDB Local",
        ack.received,
        count(Matched),
        count(Pending)
    );
    println!("  write units per record: {write:.3} (target <= 3.0)");
    println!("  read units per record : {read:.3} (target <= 0.5)");
    println!("  where the units go, per record (write / read):");
    for (target, (w, r)) in meter.breakdown() {
        println!(
            "    {target:<14} {:.3} / {:.3}",
            w / BATCH as f64,
            r / BATCH as f64
        );
    }
    item_sizes(stack, &ack).await;

    // A redelivery of the same batch: conditional writes fail, nothing changes.
    let again = Arc::new(CapacityMeter::default());
    ingest_clearing(&metered(stack, &again), "MASTERCARD", body.as_bytes())
        .await
        .unwrap();
    let (w2, r2) = again.totals();
    println!(
        "  redelivery of the batch: {:.3} write, {:.3} read units per record",
        w2 / BATCH as f64,
        r2 / BATCH as f64
    );
    (write, read)
}

/// The stored size of one matched and one pending message item and of a
/// claimed authorization: a write costs a unit per started KB of the larger
/// of the item before and after.
async fn item_sizes(stack: &TestStack, ack: &clearing_webhook::ClearingAck) {
    use shared::clearing::ClearingStatus;
    let first = |status: ClearingStatus| {
        ack.results
            .iter()
            .find(|r| r.status == status)
            .map(|r| r.clearing_unique_id.clone())
            .unwrap()
    };
    let matched = first(ClearingStatus::Matched);
    let uid = matched.replace("cap-", "cap-uid-");
    for (what, pk, sk) in [
        ("matched message", format!("CLR#{matched}"), "MESSAGE"),
        (
            "pending message",
            format!("CLR#{}", first(ClearingStatus::Pending)),
            "MESSAGE",
        ),
        ("its authorization", format!("AUTH#{uid}"), "AUTHORIZATION"),
    ] {
        let item = stack
            .clients
            .dynamodb
            .get_item()
            .table_name(stack.table())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_default();
        let packed = item
            .get(shared::packed::PACKED_ATTRIBUTE)
            .map_or(0, value_size);
        println!(
            "  {what:<18} {:>5} bytes ({packed} of them the packed attribute)",
            item_size(&item)
        );
    }
}

/// An item's size as DynamoDB counts it: names and values in bytes.
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.trim_start_matches('-').replace('.', "").len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// The bill per million records ingested at this mix, one notification of
/// 1,000 records a call.
fn bill(write: f64, read: f64) {
    use price::*;
    let on_demand = write * ON_DEMAND_WRITE_PER_MILLION + read * ON_DEMAND_READ_PER_MILLION;
    // A million records spread evenly over an hour need write/3600 units a
    // second per record-per-hour; provisioned at UTILIZATION of what is paid.
    let unit_hours = |units: f64| units * 1e6 / 3600.0 / UTILIZATION;
    let provisioned =
        unit_hours(write) * PROVISIONED_WCU_HOUR + unit_hours(read) * PROVISIONED_RCU_HOUR;
    // The webhook: one invocation per 1,000 records, 256 MB, ~1 s on AWS (see
    // the timing below); the publisher: one invocation per 100 stream records,
    // 256 MB, ~0.2 s; one EventBridge event per record; no SQS message at
    // ingest (jobs are the operators' requests); Lambda's stream reads are free.
    let lambda = (1_000.0 + 10_000.0) / 1e6 * LAMBDA_PER_MILLION_REQUESTS
        + (1_000.0 * 1.0 + 10_000.0 * 0.2) * 0.25 * LAMBDA_PER_GB_SECOND;
    let eventbridge = EVENTBRIDGE_PER_MILLION_EVENTS;
    println!("AWS bill per million ingested records (us-east-1 list prices, 2026-11-23):");
    println!(
        "  DynamoDB on-demand    ${on_demand:.2} (${ON_DEMAND_WRITE_PER_MILLION}/M writes, ${ON_DEMAND_READ_PER_MILLION}/M reads)"
    );
    println!(
        "  DynamoDB provisioned  ${provisioned:.2} (${PROVISIONED_WCU_HOUR}/WCU-h, ${PROVISIONED_RCU_HOUR}/RCU-h, {:.0}% used)",
        UTILIZATION * 100.0
    );
    println!("  DynamoDB Streams      $0.00 (read by Lambda: free)");
    println!("  Lambda                ${lambda:.3} (webhook 1,000 and publisher 10,000 invocations, 256 MB)");
    println!("  EventBridge           ${eventbridge:.2} (one event per record)");
    println!("  SQS                   $0.00 at ingest (${SQS_PER_MILLION_REQUESTS}/M requests for reprocessing jobs)");
    println!(
        "  total                 ${:.2} on-demand, ${:.2} provisioned",
        on_demand + lambda + eventbridge,
        provisioned + lambda + eventbridge
    );
}

/// One 1,000-record notification through the handler, then the items it
/// wrote written again into a fresh table of the same shape with BatchWriteItem.
async fn notification_timing() {
    let stack = TestStack::without_publisher().await;
    let body = seeded_notification(&stack, NOTIFICATION).await;
    // Metered only to count the DynamoDB calls the handler makes.
    let meter = Arc::new(CapacityMeter::default());
    let service = metered(&stack, &meter);
    let started = Instant::now();
    let response = clearing_webhook::handle(
        &service,
        signed_webhook("/v1/webhooks/mastercard/clearing", &body),
    )
    .await
    .unwrap();
    let handler = started.elapsed();
    let calls = meter.calls();
    assert_eq!(response.status(), 200, "{}", response_json(&response));

    let items = written_by_ingest(&stack).await;
    let bare_stack = TestStack::without_publisher().await;
    let bare = bare_batch_writes(&bare_stack, &items).await;
    println!(
        "notification of {NOTIFICATION} records through the webhook handler (same DynamoDB Local, same run):"
    );
    let per_call = |d: Duration, n: usize| d.as_secs_f64() * 1000.0 / n as f64;
    println!(
        "  handler                       {:>7.2} s ({calls} DynamoDB calls, {:.1} ms of wall time each)",
        handler.as_secs_f64(),
        per_call(handler, calls as usize)
    );
    let bare_calls = items.len().div_ceil(25);
    println!(
        "  bare BatchWriteItem           {:>7.2} s ({} items it wrote, 25 a call: {bare_calls} calls, {:.1} ms each; {BARE_CONCURRENCY} in flight)",
        bare.as_secs_f64(),
        items.len(),
        per_call(bare, bare_calls)
    );
    println!(
        "  ratio                         {:>7.2}x",
        handler.as_secs_f64() / bare.as_secs_f64()
    );
    // DynamoDB Local applies one call at a time; AWS serves each in single-digit
    // milliseconds, in parallel: the handler's 16 in flight at ~8 ms a call.
    println!(
        "  on AWS (estimate: 16 calls in flight, ~8 ms each): ~{:.1} s against the 10 s timeout",
        calls as f64 / 16.0 * 0.008
    );
}

/// The items the notification wrote or changed: its messages, the claimed
/// authorizations and its manifests (the authorizations' own aliases excluded).
async fn written_by_ingest(stack: &TestStack) -> Vec<HashMap<String, AttributeValue>> {
    let items: Vec<HashMap<String, AttributeValue>> = stack
        .clients
        .dynamodb
        .scan()
        .table_name(stack.table())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    items
        .into_iter()
        .filter(|i| match i.get("pk") {
            Some(AttributeValue::S(pk)) => {
                ["CLR#", "ARRIVED#", "TXNDATE#", "META"]
                    .iter()
                    .any(|p| pk.starts_with(p))
                    || (pk.starts_with("AUTH#") && i.contains_key("claimed_by"))
            }
            _ => false,
        })
        .collect()
}

async fn bare_batch_writes(
    stack: &TestStack,
    items: &[HashMap<String, AttributeValue>],
) -> Duration {
    let client = &stack.clients.dynamodb;
    let table = stack.table();
    let started = Instant::now();
    stream::iter(items.chunks(25))
        .map(|chunk| {
            let requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect();
            let table = table.clone();
            async move {
                let mut pending = HashMap::from([(table, requests)]);
                while !pending.is_empty() {
                    let out = client
                        .batch_write_item()
                        .set_request_items(Some(pending))
                        .send()
                        .await
                        .unwrap();
                    pending = out.unprocessed_items.unwrap_or_default();
                    pending.retain(|_, v| !v.is_empty());
                }
            }
        })
        .buffer_unordered(BARE_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}
