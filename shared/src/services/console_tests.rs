//! The console use cases on the in-memory ports.

use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::adapters::memory::MemoryStore;
use crate::clearing::{parse_clearing_notification, PreparedRecord};
use crate::console::{BulkKind, BulkOutcome, QueueFilter};
use crate::ports::ClearingStore;
use crate::services::{BulkCommand, BulkSelection};

struct Fixture {
    store: Arc<MemoryStore>,
    service: ConsoleService,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let service = ConsoleService {
        store: store.clone(),
        reconciliation: ReconciliationService {
            store: store.clone(),
            lease: chrono::Duration::seconds(1800),
        },
    };
    Fixture { store, service }
}

/// `n` PENDING messages (no authorization), ids `M0`, `M1`, ...
fn ingest(f: &Fixture, n: usize) -> Vec<String> {
    let rules = crate::clearing::RulesVersion::shipped();
    let records: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"cardReference": "c", "transactionAmount": 1.00, "transactionCurrency": "USD",
                    "transactionLocalDate": "2024-04-24", "transactionLocalTime": "16:01:00",
                    "settlementDate": "2024-04-26", "merchantCategoryCode": "4111", "transUid": "U{i}",
                    "clearingUniqueId": "M{i}", "functionCode": "200"}}"#
            )
        })
        .collect();
    let body = format!(r#"{{"clearing": [{}]}}"#, records.join(","));
    for record in parse_clearing_notification(body.as_bytes()).unwrap() {
        let d = ClearingMessage::ingest(
            PreparedRecord::new(record),
            "MASTERCARD",
            None,
            &rules,
            "webhook",
            Utc::now(),
        );
        f.store.put_message(d.message);
    }
    (0..n).map(|i| format!("M{i}")).collect()
}

#[tokio::test]
async fn the_maker_cannot_decide_their_own_write_off() {
    let f = fixture();
    ingest(&f, 1);
    let w = f
        .service
        .request_write_off("operator:alice", "M0", "lost", Some("ticket"))
        .await
        .unwrap();
    let e = f
        .service
        .decide_write_off("operator:alice", &w.write_off_id, true, "ok")
        .await
        .unwrap_err();
    assert!(matches!(e, ConsoleError::MakerCannotDecide { .. }), "{e}");
    assert!(e.to_string().contains("operator:alice"));
    let m = f
        .service
        .decide_write_off("operator:bob", &w.write_off_id, true, "ok")
        .await
        .unwrap();
    assert_eq!(m.status, ClearingStatus::WrittenOff);
    assert!(matches!(
        f.service
            .decide_write_off("operator:bob", &w.write_off_id, false, "no")
            .await,
        Err(ConsoleError::AlreadyDecided(_))
    ));
    // Announced with each write (the outbox).
    let types: Vec<String> = f
        .store
        .drain_outbox()
        .iter()
        .filter_map(|e| e.as_event().map(|e| e.detail_type))
        .collect();
    assert_eq!(
        types,
        [
            "clearing_message.write_off_requested",
            "clearing_message.write_off_approved"
        ]
    );
}

#[tokio::test]
async fn a_change_computed_from_a_stale_version_is_refused() {
    let f = fixture();
    ingest(&f, 1);
    let stale = f.store.message("M0").await.unwrap().unwrap();
    f.service
        .request_write_off("operator:alice", "M0", "lost", None)
        .await
        .unwrap();
    // A second request computed from the version read before the first: refused.
    let next = stale
        .request_write_off("WO-x", "operator:carol", "r", Utc::now())
        .unwrap();
    let w = crate::console::WriteOff {
        write_off_id: "WO-x".into(),
        clearing_unique_id: "M0".into(),
        status: crate::console::WriteOffStatus::AwaitingApproval,
        reason: "r".into(),
        remark: None,
        requested_by: "operator:carol".into(),
        requested_at: Utc::now(),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        amount: None,
        currency: None,
    };
    assert!(matches!(
        f.store.save_write_off(&next, stale.version, &w, &[]).await,
        Err(StoreError::VersionConflict(_))
    ));
}

#[tokio::test]
async fn a_bulk_action_runs_in_chunks_and_its_key_names_it_once() {
    let f = fixture();
    let ids = ingest(&f, 60);
    let command = || BulkCommand {
        action: BulkKind::WriteOff,
        selection: BulkSelection::Filter(QueueFilter::default()),
        reason: "old".into(),
        remark: None,
        idempotency_key: "k1".into(),
    };
    let id = f
        .service
        .start_bulk("operator:alice", command())
        .await
        .unwrap();
    let (bulk, items) = f.store.bulk(&id).await.unwrap().unwrap();
    assert_eq!((bulk.clearing_unique_ids.len(), items.len()), (60, 25));
    // Retried with the same key: the same action, one more chunk done.
    assert_eq!(
        f.service
            .start_bulk("operator:alice", command())
            .await
            .unwrap(),
        id
    );
    let status = f.service.bulk_status(&id).await.unwrap();
    assert_eq!((status.done, status.status), (60, "DONE"));
    assert!(status
        .items
        .iter()
        .all(|i| i.outcome == BulkOutcome::Accepted));
    let mut done: Vec<&str> = status
        .items
        .iter()
        .map(|i| i.clearing_unique_id.as_str())
        .collect();
    done.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(done, expected);
    // Another operator's same key is another action; nothing is pending any more.
    let other = f
        .service
        .start_bulk("operator:bob", command())
        .await
        .unwrap();
    assert_ne!(other, id);
    assert_eq!(f.service.bulk_status(&other).await.unwrap().total, 0);
}
