//! DynamoDB capacity consumed per ingested clearing record, as DynamoDB Local
//! reports it (ReturnConsumedCapacity=INDEXES), for a batch of 100 records whose
//! authorizations are stored. Targets: <= 1.5 write units, <= 0.5 read units per record.
//! The store's meter exists only with shared's `capacity-meter` feature, which
//! this crate enables as a dev-dependency. Needs the local stack: `./dev.sh bench`.

use std::sync::Arc;

use clearing_webhook::{ingest_clearing, WebhookService};
use integration_tests::*;
use shared::adapters::dynamodb::CapacityMeter;
use shared::adapters::DynamoDbClearingStore;

const BATCH: usize = 100;

#[tokio::main]
async fn main() {
    let stack = TestStack::new().await;
    let seeding = stack.webhook();
    let card = unique("card-");
    let mut records = Vec::new();
    for i in 0..BATCH {
        let uid = format!("cap-uid-{i}");
        let auth = authorization(&uid, &card, "42.00", "4111");
        clearing_webhook::ingest_authorizations(&seeding, "MASTERCARD", auth.as_bytes())
            .await
            .unwrap();
        // Every fifth record is invalid (the seed's broken date), the rest match.
        let mut r = clearing_record(&format!("cap-{i}"), &uid, &card, "42.00", "4111");
        if i % 5 == 0 {
            r = r.replace("2024-04-24", "2024-24-04");
        }
        records.push(r);
    }
    let body = format!(r#"{{"clearing": [{}]}}"#, records.join(","));

    let meter = Arc::new(CapacityMeter::default());
    let service = WebhookService {
        store: Arc::new(
            DynamoDbClearingStore::new(stack.clients.dynamodb.clone(), stack.table())
                .with_capacity_meter(meter.clone()),
        ),
        ..stack.webhook()
    };
    let ack = ingest_clearing(&service, "MASTERCARD", body.as_bytes())
        .await
        .unwrap();
    let (write, read) = meter.totals();
    println!(
        "ingest capacity: batch of {} records ({} matched, {} pending), DynamoDB Local 3.3.0",
        ack.received,
        ack.results
            .iter()
            .filter(|r| r.status == shared::clearing::ClearingStatus::Matched)
            .count(),
        ack.results
            .iter()
            .filter(|r| r.status == shared::clearing::ClearingStatus::Pending)
            .count()
    );
    println!(
        "  write units per record: {:.3} (target <= 1.5)",
        write / BATCH as f64
    );
    println!(
        "  read units per record : {:.3} (target <= 0.5)",
        read / BATCH as f64
    );
    println!("  where the write units go, per record:");
    for (target, (w, _)) in meter.breakdown() {
        if w > 0.0 {
            println!("    {target:<18} {:.3}", w / BATCH as f64);
        }
    }

    // A redelivery of the same batch: conditional writes fail, nothing changes.
    let meter2 = Arc::new(CapacityMeter::default());
    let service = WebhookService {
        store: Arc::new(
            DynamoDbClearingStore::new(stack.clients.dynamodb.clone(), stack.table())
                .with_capacity_meter(meter2.clone()),
        ),
        ..stack.webhook()
    };
    ingest_clearing(&service, "MASTERCARD", body.as_bytes())
        .await
        .unwrap();
    let (w2, r2) = meter2.totals();
    println!(
        "  redelivery of the batch: {:.3} write, {:.3} read units per record",
        w2 / BATCH as f64,
        r2 / BATCH as f64
    );
}
