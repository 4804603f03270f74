//! The expiry sweep over the in-memory store.
use super::*;
use crate::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};
use crate::clearing::ClearingStatus;
use crate::events::AUTHORIZATION_EXPIRED;
use crate::outbox::OutboxPublisher;
use crate::ports::ClearingStore;
use crate::services::IngestService;

/// Approved 100.00 USD authorizations authorized `days_ago` before `now`,
/// stored now, with the merchant category `mcc`.
async fn authorize(store: &MemoryStore, records: &[(&str, &str, i64)], now: DateTime<Utc>) {
    let rules = crate::clearing::RulesVersion::shipped();
    let body: Vec<String> = records
        .iter()
        .map(|(uid, mcc, days_ago)| {
            let when = (now - chrono::Duration::days(*days_ago)).to_rfc3339();
            format!(
                r#"{{"transUid": "{uid}", "cardReference": "C1", "transactionAmount": 100.00, "transactionCurrency": "USD",
                    "merchantCategoryCode": "{mcc}", "authorizationDateTime": "{when}", "status": "APPROVED"}}"#
            )
        })
        .collect();
    let service = IngestService {
        store,
        rules: &rules,
    };
    service
        .ingest_authorizations(
            "MASTERCARD",
            format!(r#"{{"authorizations": [{}]}}"#, body.join(",")).as_bytes(),
        )
        .await
        .unwrap();
}

async fn status(store: &MemoryStore, uid: &str) -> AuthorizationStatus {
    store.authorization(uid).await.unwrap().unwrap().status
}

#[tokio::test]
async fn the_sweep_expires_what_is_due_once_and_announces_it_once() {
    let store = MemoryStore::new();
    let now = Utc::now();
    // Grocery 8 days ago (7-day window): due; grocery 6 days ago: not yet;
    // a hotel 8 days ago (30 days): not yet.
    authorize(
        &store,
        &[("G8", "5411", 8), ("G6", "5411", 6), ("H8", "7011", 8)],
        now,
    )
    .await;
    let service = ExpiryService {
        store: &store,
        limits: SweepLimits::default(),
    };
    let report = service.sweep(now).await.unwrap();
    assert_eq!((report.examined, report.expired), (1, 1), "{report:?}");
    assert_eq!(status(&store, "G8").await, AuthorizationStatus::Expired);
    assert_eq!(status(&store, "G6").await, AuthorizationStatus::Approved);
    assert_eq!(status(&store, "H8").await, AuthorizationStatus::Approved);

    let again = service.sweep(now).await.unwrap();
    assert_eq!(again, SweepReport::default(), "a second run finds nothing");
    let (bus, queue) = (MemoryBus::new(), MemoryQueue::new());
    store
        .publish_outbox(&OutboxPublisher {
            bus: &bus,
            queue: &queue,
        })
        .await
        .unwrap();
    let events = bus.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail_type, AUTHORIZATION_EXPIRED);
    assert!(events[0].detail.contains(r#""trans_uid":"G8""#));

    // Later, the other grocery's window is over, then the hotel's.
    let report = service
        .sweep(now + chrono::Duration::days(2))
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(status(&store, "G6").await, AuthorizationStatus::Expired);
    let report = service
        .sweep(now + chrono::Duration::days(23))
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(status(&store, "H8").await, AuthorizationStatus::Expired);
}

#[tokio::test]
async fn a_run_does_at_most_its_limit_and_the_next_run_goes_on() {
    let store = MemoryStore::new();
    let now = Utc::now();
    let records: Vec<(String, &str, i64)> =
        (0..25).map(|i| (format!("A{i:02}"), "5411", 9)).collect();
    let refs: Vec<(&str, &str, i64)> = records
        .iter()
        .map(|(u, m, d)| (u.as_str(), *m, *d))
        .collect();
    authorize(&store, &refs, now).await;
    let service = ExpiryService {
        store: &store,
        limits: SweepLimits {
            max_per_run: 10,
            page_size: 4,
            ..SweepLimits::default()
        },
    };
    assert_eq!(service.sweep(now).await.unwrap().expired, 10);
    assert_eq!(service.sweep(now).await.unwrap().expired, 10);
    assert_eq!(service.sweep(now).await.unwrap().expired, 5);
    assert_eq!(service.sweep(now).await.unwrap().examined, 0);
}

#[tokio::test]
async fn a_cleared_authorization_never_expires_and_a_late_clearing_is_flagged() {
    let store = MemoryStore::new();
    let now = Utc::now();
    authorize(&store, &[("PAID", "5411", 10), ("LATE", "5411", 10)], now).await;
    let rules = crate::clearing::RulesVersion::shipped();
    let ingest = IngestService {
        store: &store,
        rules: &rules,
    };
    let clearing = |id: &str, uid: &str| {
        format!(
            r#"{{"clearing": [{{"cardReference": "C1", "transactionAmount": 100.00, "transactionCurrency": "USD",
                "transactionLocalDate": "{}", "settlementDate": "{}", "merchantCategoryCode": "5411",
                "transUid": "{uid}", "financialNetworkCode": "MCF", "referenceNumber": "R{uid}",
                "clearingUniqueId": "{id}", "functionCode": "200", "messageReasonCode": "1401"}}]}}"#,
            now.date_naive(),
            now.date_naive()
        )
    };
    let paid = ingest
        .ingest_clearing("MASTERCARD", clearing("c-paid", "PAID").as_bytes())
        .await
        .unwrap();
    assert_eq!(paid.results[0].status, ClearingStatus::Matched);
    let service = ExpiryService {
        store: &store,
        limits: SweepLimits::default(),
    };
    let report = service.sweep(now).await.unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(status(&store, "PAID").await, AuthorizationStatus::Approved);
    let late = ingest
        .ingest_clearing("MASTERCARD", clearing("c-late", "LATE").as_bytes())
        .await
        .unwrap();
    assert_eq!(late.results[0].status, ClearingStatus::Matched);
    let message = store.message("c-late").await.unwrap().unwrap();
    let flag = message.matched.unwrap().late_presentment.unwrap();
    assert!(flag.contains("7-day window"), "{flag}");
}
