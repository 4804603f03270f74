use std::collections::HashMap;

use shared::adapters::memory::{MemoryBus, MemoryQueue};
use shared::events::stable_id;
use shared::outbox::encode;

use super::*;

fn event(name: &str) -> OutboxEntry {
    OutboxEntry::Event {
        id: stable_id(name),
        source: "clearing".into(),
        detail_type: "clearing_message.pending".into(),
        detail: "{}".into(),
    }
}

fn image(outbox: &[OutboxEntry]) -> serde_dynamo::Item {
    let mut item = HashMap::new();
    item.insert(
        "pk".to_owned(),
        serde_dynamo::AttributeValue::S("CLR#1".into()),
    );
    if !outbox.is_empty() {
        item.insert(
            OUTBOX_ATTRIBUTE.to_owned(),
            serde_dynamo::AttributeValue::S(encode(outbox)),
        );
    }
    serde_dynamo::Item::from(item)
}

fn record(sequence: &str, old: &[OutboxEntry], new: &[OutboxEntry]) -> EventRecord {
    let mut r = EventRecord::default();
    r.change.sequence_number = Some(sequence.into());
    r.change.old_image = image(old);
    r.change.new_image = image(new);
    r
}

struct Fixture {
    bus: Arc<MemoryBus>,
    service: PublisherService,
}

fn fixture() -> Fixture {
    let bus = Arc::new(MemoryBus::new());
    let service = PublisherService {
        bus: bus.clone(),
        queue: Arc::new(MemoryQueue::new()),
    };
    Fixture { bus, service }
}

#[tokio::test]
async fn only_what_a_write_added_is_published() {
    let f = fixture();
    let records = [
        record("1", &[], &[event("a")]),
        // Rewritten with the same outbox (e.g. a claim release): nothing new.
        record("2", &[event("a")], &[event("a")]),
        record("3", &[event("a")], &[event("b")]),
        record("4", &[event("b")], &[]),
    ];
    let response = publish_batch(&f.service, &records).await;
    assert!(response.batch_item_failures.is_empty());
    let ids: Vec<_> = f.bus.events().iter().map(|e| e.id).collect();
    assert_eq!(ids, [stable_id("a"), stable_id("b")]);
}

#[tokio::test]
async fn the_first_failure_is_reported_and_nothing_after_it_is_published() {
    let f = fixture();
    let mut unreadable = record("2", &[], &[]);
    unreadable.change.new_image.insert(
        OUTBOX_ATTRIBUTE.to_owned(),
        serde_dynamo::AttributeValue::S("{".into()),
    );
    let records = [
        record("1", &[], &[event("a")]),
        unreadable,
        record("3", &[], &[event("c")]),
    ];
    let response = publish_batch(&f.service, &records).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [Some("2".to_owned())]);
    assert_eq!(f.bus.events().len(), 1);

    f.bus.fail(true);
    let response = publish_batch(&f.service, &records[2..]).await;
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("3")
    );
}

/// A message item's image: its outbox packed with the message.
fn packed_image(outbox: &[OutboxEntry]) -> serde_dynamo::Item {
    let packed = shared::packed::pack(&serde_json::json!({
        "message": {"clearing_unique_id": "1", "raw_payload": "{}"},
        "outbox": outbox,
    }))
    .unwrap();
    let mut item = HashMap::new();
    item.insert(
        "pk".to_owned(),
        serde_dynamo::AttributeValue::S("CLR#1".into()),
    );
    item.insert(
        PACKED_ATTRIBUTE.to_owned(),
        serde_dynamo::AttributeValue::B(packed),
    );
    serde_dynamo::Item::from(item)
}

#[tokio::test]
async fn entries_packed_in_a_message_item_are_published_once() {
    let f = fixture();
    let packed = |sequence: &str, old: &[OutboxEntry], new: &[OutboxEntry]| {
        let mut r = record(sequence, &[], &[]);
        r.change.old_image = packed_image(old);
        r.change.new_image = packed_image(new);
        r
    };
    let mut first = packed("1", &[], &[event("a")]);
    // The item's first write: no old image at all.
    first.change.old_image =
        serde_dynamo::Item::from(HashMap::<String, serde_dynamo::AttributeValue>::new());
    let records = [
        first,
        packed("2", &[event("a")], &[event("a")]),
        packed("3", &[event("a")], &[event("b")]),
        packed("4", &[event("b")], &[]),
    ];
    let response = publish_batch(&f.service, &records).await;
    assert!(response.batch_item_failures.is_empty());
    let ids: Vec<_> = f.bus.events().iter().map(|e| e.id).collect();
    assert_eq!(ids, [stable_id("a"), stable_id("b")]);
}
