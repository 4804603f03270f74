//! The ingest use case over the in-memory ports.

use super::*;
use crate::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};
use crate::outbox::OutboxPublisher;

const SEED: &str = include_str!("../../../spec/mastercard-clearing-notification.example.json");

fn seed_authorization(amount: &str) -> String {
    format!(
        r#"{{"authorizations": [{{"transUid": "20240426O9EC2A", "cardReference": "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd",
            "transactionAmount": {amount}, "transactionCurrency": "USD", "merchantCategoryCode": "4111",
            "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"}}, {{"transUid": 5}}]}}"#
    )
}

#[tokio::test]
async fn records_are_stored_and_announced_once_and_authorizations_kept() {
    let (store, bus, queue) = (MemoryStore::new(), MemoryBus::new(), MemoryQueue::new());
    let publisher = OutboxPublisher {
        bus: &bus,
        queue: &queue,
    };
    let rules = crate::clearing::RulesVersion::shipped();
    let service = IngestService {
        store: &store,
        rules: &rules,
    };
    let ack = service
        .ingest_authorizations("MASTERCARD", seed_authorization("12.34").as_bytes())
        .await
        .unwrap();
    assert_eq!((ack.received, ack.stored, ack.rejected.len()), (2, 1, 1));
    assert_eq!(store.rejected_authorizations().len(), 1);

    let first = service
        .ingest_clearing("MASTERCARD", SEED.as_bytes())
        .await
        .unwrap();
    assert_eq!(first.received, 1);
    assert_eq!(first.results[0].status, ClearingStatus::Pending);
    assert!(!first.results[0].duplicate);
    let again = service
        .ingest_clearing("MASTERCARD", SEED.as_bytes())
        .await
        .unwrap();
    assert!(again.results[0].duplicate);
    assert_eq!(store.publish_outbox(&publisher).await.unwrap(), 1);
    assert_eq!(
        bus.events().len(),
        1,
        "announced by the write that stored it"
    );
    assert_eq!(bus.events()[0].detail_type, "clearing_message.pending");
    assert_eq!(store.arrivals().len(), 2);
}

#[tokio::test]
async fn a_bus_failure_after_the_write_loses_no_event() {
    let (store, bus, queue) = (MemoryStore::new(), MemoryBus::new(), MemoryQueue::new());
    let publisher = OutboxPublisher {
        bus: &bus,
        queue: &queue,
    };
    let rules = crate::clearing::RulesVersion::shipped();
    let service = IngestService {
        store: &store,
        rules: &rules,
    };
    bus.fail(true);
    // Stored and acknowledged: the bus is not on the webhook's path.
    let ack = service
        .ingest_clearing("MASTERCARD", SEED.as_bytes())
        .await
        .unwrap();
    assert_eq!(ack.results.len(), 1);
    assert!(store.publish_outbox(&publisher).await.is_err());
    assert!(bus.events().is_empty());
    bus.fail(false);
    assert_eq!(store.publish_outbox(&publisher).await.unwrap(), 1);
    assert_eq!(bus.events().len(), 1);
    let e = service
        .ingest_clearing("MASTERCARD", b"{")
        .await
        .unwrap_err();
    assert!(matches!(e, IngestError::Notification(_)), "{e}");
}

/// The seed record with `id` and `amount`, as JSON text.
fn record(id: &str, amount: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(SEED).unwrap();
    let mut r = v["clearing"][0].take();
    r["clearingUniqueId"] = id.into();
    r["transactionAmount"] = amount.into();
    r.to_string()
}

fn notification(records: &[String]) -> String {
    format!(r#"{{"clearing": [{}]}}"#, records.join(","))
}

fn service<'a>(
    store: &'a MemoryStore,
    rules: &'a crate::clearing::RulesVersion,
) -> IngestService<'a> {
    IngestService { store, rules }
}

/// Publishes what the writes so far put in the outbox, as the stream would.
async fn publish(store: &MemoryStore, bus: &MemoryBus) {
    let queue = MemoryQueue::new();
    let publisher = OutboxPublisher { bus, queue: &queue };
    store.publish_outbox(&publisher).await.unwrap();
}

#[tokio::test]
async fn a_record_the_store_refuses_is_rejected_alone() {
    let (store, bus) = (MemoryStore::new(), MemoryBus::new());
    let rules = crate::clearing::RulesVersion::shipped();
    store.refuse("R-2");
    let body = notification(&[
        record("R-1", "1.00"),
        record("R-2", "2.00"),
        record("R-3", "3.00"),
    ]);
    let ack = service(&store, &rules)
        .ingest_clearing("MASTERCARD", body.as_bytes())
        .await
        .unwrap();
    assert_eq!(ack.received, 3);
    let ids: Vec<_> = ack
        .results
        .iter()
        .map(|r| r.clearing_unique_id.as_str())
        .collect();
    assert_eq!(ids, ["R-1", "R-3"]);
    assert_eq!(
        (
            ack.rejected[0].index,
            ack.rejected[0].clearing_unique_id.as_str()
        ),
        (1, "R-2")
    );
    assert!(
        ack.rejected[0].problem.contains("cannot help"),
        "{}",
        ack.rejected[0].problem
    );
    publish(&store, &bus).await;
    assert_eq!(bus.events().len(), 2, "the stored ones are announced");
    assert!(store.message("R-3").await.unwrap().is_some());
}

#[tokio::test]
async fn within_a_notification_the_first_record_of_an_id_wins_and_a_different_one_conflicts() {
    let (store, bus) = (MemoryStore::new(), MemoryBus::new());
    let rules = crate::clearing::RulesVersion::shipped();
    let body = notification(&[
        record("C-1", "1.00"),
        record("C-1", "1.00"),
        record("C-1", "9.99"),
        record("C-2", "2.00"),
    ]);
    let ack = service(&store, &rules)
        .ingest_clearing("MASTERCARD", body.as_bytes())
        .await
        .unwrap();
    let flags: Vec<_> = ack
        .results
        .iter()
        .map(|r| (r.duplicate, r.conflict))
        .collect();
    assert_eq!(
        flags,
        [(false, false), (true, false), (true, true), (false, false)]
    );
    let stored = store.message("C-1").await.unwrap().unwrap();
    assert_eq!(
        stored.fields[&crate::clearing::ClearingField::TransactionAmount],
        "1.00"
    );
    let conflicts = store.conflicts();
    assert_eq!(conflicts.len(), 1);
    assert!(conflicts[0].refused_payload.contains("9.99"));
    publish(&store, &bus).await;
    let types: Vec<_> = bus.events().iter().map(|e| e.detail_type.clone()).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == crate::events::CLEARING_RECORD_CONFLICT)
            .count(),
        1,
        "{types:?}"
    );
    assert_eq!(types.len(), 3, "C-1 once, its conflict, C-2: {types:?}");
}

#[tokio::test]
async fn a_later_delivery_of_different_content_is_a_conflict_and_the_same_content_a_duplicate() {
    let (store, bus) = (MemoryStore::new(), MemoryBus::new());
    let rules = crate::clearing::RulesVersion::shipped();
    let service = service(&store, &rules);
    let first = notification(&[record("L-1", "1.00")]);
    service
        .ingest_clearing("MASTERCARD", first.as_bytes())
        .await
        .unwrap();
    // The same record spelled differently is the same content.
    let respaced =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&first).unwrap())
            .unwrap();
    let again = service
        .ingest_clearing("MASTERCARD", respaced.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (again.results[0].duplicate, again.results[0].conflict),
        (true, false)
    );
    assert!(store.conflicts().is_empty());
    let changed = notification(&[record("L-1", "1.10")]);
    for _ in 0..2 {
        let ack = service
            .ingest_clearing("MASTERCARD", changed.as_bytes())
            .await
            .unwrap();
        assert_eq!(
            (ack.results[0].duplicate, ack.results[0].conflict),
            (true, true)
        );
    }
    assert_eq!(
        store.conflicts().len(),
        1,
        "a redelivered conflict is the same conflict"
    );
    publish(&store, &bus).await;
    let conflict_ids: BTreeSet<_> = bus
        .events()
        .iter()
        .filter(|e| e.detail_type == crate::events::CLEARING_RECORD_CONFLICT)
        .map(|e| e.id)
        .collect();
    assert_eq!(conflict_ids.len(), 1, "announced under one stable id");
    let stored = store.message("L-1").await.unwrap().unwrap();
    assert_eq!(
        stored.fields[&crate::clearing::ClearingField::TransactionAmount],
        "1.00"
    );
}
