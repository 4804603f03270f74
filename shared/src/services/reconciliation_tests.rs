//! The reconciliation use case on the in-memory ports: the same cases the
//! integration tests run against DynamoDB Local and moto.

use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};
use crate::api_error::ApiError;
use crate::clearing::{parse_clearing_notification, PreparedRecord};
use crate::jobs::ReprocessingJob;
use crate::outbox::OutboxPublisher;

const SEED_CARD: &str = "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd";
const SEED_ID: &str = "202404261024009777553";
const OPERATOR: &str = "operator:ana";

struct Fixture {
    store: Arc<MemoryStore>,
    /// Where the outbox publisher queues the jobs the requests wrote.
    queue: Arc<MemoryQueue>,
    bus: MemoryBus,
}

impl Fixture {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new()),
            bus: MemoryBus::new(),
        }
    }

    /// Every job queued so far, after publishing the store's outbox (what the
    /// table's stream and the publisher do).
    async fn jobs(&self) -> Vec<ReprocessingJob> {
        let publisher = OutboxPublisher {
            bus: &self.bus,
            queue: self.queue.as_ref(),
        };
        self.store.publish_outbox(&publisher).await.unwrap();
        self.queue.jobs()
    }

    fn service(&self, lease_seconds: i64) -> ReconciliationService {
        ReconciliationService {
            store: self.store.clone(),
            lease: chrono::Duration::seconds(lease_seconds),
        }
    }

    /// Ingests a notification (no authorization stored, so every record ends PENDING).
    fn ingest(&self, notification: &str) {
        let rules = crate::clearing::RulesVersion::shipped();
        for record in parse_clearing_notification(notification.as_bytes()).unwrap() {
            let decision = ClearingMessage::ingest(
                PreparedRecord::new(record),
                "MASTERCARD",
                None,
                &rules,
                "webhook:mastercard",
                Utc::now(),
            );
            self.store.put_message(decision.message);
        }
    }

    async fn status(&self, id: &str) -> ClearingStatus {
        self.store.message(id).await.unwrap().unwrap().status
    }
}

fn seed() -> String {
    include_str!("../../../spec/mastercard-clearing-notification.example.json").to_owned()
}

/// A notification of valid records of one card, one per id.
fn records(card: &str, ids: &[&str]) -> String {
    let records: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"cardReference": "{card}", "transactionAmount": 1.00, "transactionCurrency": "USD",
                    "transactionLocalDate": "2024-04-24", "transactionLocalTime": "16:01:00",
                    "settlementDate": "2024-04-26", "merchantCategoryCode": "4111", "transUid": "U{id}",
                    "clearingUniqueId": "{id}", "functionCode": "200"}}"#
            )
        })
        .collect();
    format!(r#"{{"clearing": [{}]}}"#, records.join(","))
}

fn fix_date(card: &str) -> ReconciliationCommand {
    ReconciliationCommand {
        card_network: "MASTERCARD".into(),
        card_hash: card.into(),
        reconciliation_reason: "local date had month and day swapped".into(),
        adjustments: vec![("transactionLocalDate".into(), "2024-04-24".into())],
    }
}

fn without_adjustments(card: &str) -> ReconciliationCommand {
    ReconciliationCommand {
        card_network: "mastercard".into(),
        adjustments: Vec::new(),
        ..fix_date(card)
    }
}

fn status_of(e: ReconcileError) -> (u16, &'static str) {
    let e = ApiError::from(e);
    (e.status(), e.code())
}

#[tokio::test]
async fn a_pending_message_is_moved_to_reprocessing_recorded_and_queued() {
    let f = Fixture::new();
    f.ingest(&seed());
    let accepted = f
        .service(1800)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await
        .unwrap();
    assert_eq!(accepted.clearing_unique_ids, [SEED_ID]);

    let m = f.store.message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(m.status, ClearingStatus::Reprocessing);
    let ticket = m.reprocessing.clone().unwrap();
    assert_eq!(ticket.request_id, accepted.request_id);
    assert_eq!(ticket.requested_by, OPERATOR);
    assert_eq!(
        m.history.last().unwrap().reason.as_deref(),
        Some("local date had month and day swapped")
    );
    let requests = f.store.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].card_network, "MASTERCARD");
    assert_eq!(requests[0].clearing_unique_ids, [SEED_ID]);

    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].request_id, accepted.request_id);
    assert_eq!(jobs[0].expected_version, 3);
    assert_eq!(jobs[0].adjustments[0].new_value, "2024-04-24");

    // The same request again: nothing is pending any more (409).
    let again = f
        .service(1800)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await;
    assert_eq!(status_of(again.unwrap_err()), (409, "BTN0401"));
}

#[tokio::test]
async fn an_unknown_card_is_404_and_a_card_with_nothing_pending_409() {
    let f = Fixture::new();
    let e = f
        .service(1800)
        .reconcile(OPERATOR, fix_date("unknown-card"))
        .await
        .unwrap_err();
    assert!(matches!(e, ReconcileError::NoMessages { .. }), "{e}");
    assert_eq!(status_of(e), (404, "BTN0301"));

    f.ingest(&seed());
    let mut matched = f.store.message(SEED_ID).await.unwrap().unwrap();
    matched.status = ClearingStatus::Matched;
    f.store.put_message(matched);
    let e = f
        .service(1800)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("statuses: MATCHED"), "{e}");
    assert_eq!(status_of(e), (409, "BTN0401"));
}

#[tokio::test]
async fn adjustments_are_checked_before_anything_is_read() {
    let f = Fixture::new();
    f.ingest(&seed());
    let mut command = fix_date(SEED_CARD);
    command.adjustments = vec![("clearingUniqueId".into(), "x".into())];
    let e = f
        .service(1800)
        .reconcile(OPERATOR, command)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("identifies the record"), "{e}");
    assert_eq!(status_of(e), (400, "BTN0003"));
    assert_eq!(f.status(SEED_ID).await, ClearingStatus::Pending);
}

#[tokio::test]
async fn adjustments_for_one_of_several_pending_messages_are_ambiguous() {
    let f = Fixture::new();
    f.ingest(&records("card-a", &["amb-1", "amb-2"]));
    let e = f
        .service(1800)
        .reconcile(OPERATOR, fix_date("card-a"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("amb-1"), "{e}");
    assert_eq!(status_of(e), (400, "BTN0004"));
    // Without adjustments both are reprocessed.
    let accepted = f
        .service(1800)
        .reconcile(OPERATOR, without_adjustments("card-a"))
        .await
        .unwrap();
    assert_eq!(accepted.clearing_unique_ids.len(), 2);
    assert_eq!(f.jobs().await.len(), 2);
}

#[tokio::test]
async fn more_pending_messages_than_one_request_takes_are_refused() {
    let f = Fixture::new();
    let ids: Vec<String> = (0..=MAX_MESSAGES_PER_REQUEST)
        .map(|i| format!("many-{i}"))
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    f.ingest(&records("card-many", &ids));
    let e = f
        .service(1800)
        .reconcile(OPERATOR, without_adjustments("card-many"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ReconcileError::TooManyPending { count: 51 }),
        "{e}"
    );
    assert_eq!(status_of(e), (400, "BTN0002"));
    assert!(f.jobs().await.is_empty());
}

/// A request whose job never finished holds its messages only for the lease;
/// then a new request takes them over and the release is on record.
#[tokio::test]
async fn a_request_whose_job_never_finished_is_taken_over_after_its_lease() {
    let f = Fixture::new();
    f.ingest(&seed());
    let first = f
        .service(1800)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await
        .unwrap();
    // Within the lease: nothing is pending.
    let within = f
        .service(1800)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await;
    assert_eq!(status_of(within.unwrap_err()).0, 409);

    let second = f
        .service(0)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await
        .unwrap();
    assert_ne!(second.request_id, first.request_id);
    let m = f.store.message(SEED_ID).await.unwrap().unwrap();
    assert_eq!(
        m.reprocessing.as_ref().unwrap().request_id,
        second.request_id
    );
    let released = &m.history[m.history.len() - 2];
    assert_eq!(released.from, Some(ClearingStatus::Reprocessing));
    assert_eq!(released.to, ClearingStatus::Pending);
    assert_eq!(released.actor, "system");
    assert!(released
        .reason
        .as_deref()
        .unwrap()
        .contains("reprocessing lease expired"));
    assert_eq!(
        released.request_id.as_deref(),
        Some(first.request_id.as_str())
    );
    // Both jobs are queued; the second expects the version after the takeover.
    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].expected_version, m.version);
}

#[tokio::test]
async fn a_queue_failure_after_the_request_loses_no_job() {
    let f = Fixture::new();
    f.ingest(&seed());
    f.queue.fail(true);
    // The job is written with the transition: the request is accepted whatever the queue does.
    let accepted = f
        .service(1800)
        .reconcile(OPERATOR, fix_date(SEED_CARD))
        .await
        .unwrap();
    let publisher = OutboxPublisher {
        bus: &f.bus,
        queue: f.queue.as_ref(),
    };
    assert!(f.store.publish_outbox(&publisher).await.is_err());
    assert_eq!(f.status(SEED_ID).await, ClearingStatus::Reprocessing);
    f.queue.fail(false);
    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 1, "the retry queues it");
    assert_eq!(jobs[0].request_id, accepted.request_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_identical_requests_at_once_yield_one_acceptance_and_one_job() {
    let f = Fixture::new();
    f.ingest(&seed());
    let service = f.service(1800);
    let calls = (0..50).map(|_| {
        let service = service.clone();
        tokio::spawn(async move { service.reconcile(OPERATOR, fix_date(SEED_CARD)).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    for e in outcomes.into_iter().filter_map(Result::err) {
        assert_eq!(status_of(e), (409, "BTN0401"));
    }
    assert_eq!(f.jobs().await.len(), 1);
    assert_eq!(f.store.requests().len(), 1);
}

#[tokio::test]
async fn a_lost_race_is_a_conflict_and_writes_nothing() {
    let f = Fixture::new();
    f.ingest(&seed());
    let stale = f.store.message(SEED_ID).await.unwrap().unwrap();
    // Someone else moves the message after this request read it.
    let moved = stale
        .begin_reprocessing(
            crate::clearing::ReprocessingTicket {
                request_id: "other".into(),
                requested_by: "operator:bo".into(),
                requested_at: Utc::now(),
                reconciliation_reason: "r".into(),
            },
            Utc::now(),
        )
        .unwrap();
    f.store
        .update_messages(&[(moved, stale.version)], None, None, &[])
        .await
        .unwrap();
    let service = f.service(1800);
    let request = ReconciliationRequest {
        request_id: "mine".into(),
        card_network: "MASTERCARD".into(),
        card_hash: SEED_CARD.into(),
        reconciliation_reason: "r".into(),
        adjustments: Vec::new(),
        requested_by: OPERATOR.into(),
        requested_at: Utc::now(),
        clearing_unique_ids: vec![SEED_ID.into()],
    };
    let e = service
        .begin(&[(stale.clone(), stale.version)], &request)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ReconcileError::LostRace(ref id) if id == SEED_ID),
        "{e}"
    );
    assert_eq!(status_of(e), (409, "BTN0401"));
    assert!(f.store.requests().is_empty());
    assert!(f.jobs().await.is_empty());
}
