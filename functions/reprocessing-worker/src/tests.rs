//! The worker reads each record as what its queue carries.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::NaiveDate;

use shared::authorization::{Authorization, AuthorizationKey, RejectedAuthorization};
use shared::clearing::{AuthorizationClaim, ClearingMessage, ClearingStatus, RulesVersion};
use shared::pix::PixReconciliation;
use shared::ports::*;
use shared::services::RulesInForce;

use super::*;

const JOBS: &str = "arn:aws:sqs:us-east-1:123456789012:t-ReprocessingQueue";
const PIX: &str = "arn:aws:sqs:us-east-1:123456789012:t-PixInputQueue";

const JOB: &str = r#"{"request_id": "r", "clearing_unique_id": "nowhere", "card_network": "MASTERCARD",
    "card_hash": "c", "adjustments": [], "reconciliation_reason": "why", "requested_by": "operator:ana",
    "requested_at": "2026-11-22T10:00:00Z", "expected_version": 3}"#;

const PIX_EVENT: &str = r#"{"version": "0", "id": "1", "detail-type": "pix_transaction", "source": "pix.inputs",
    "account": "123456789012", "time": "2021-10-29T11:00:00Z", "region": "us-east-1", "resources": [],
    "detail": {"transaction_id": "t", "end_to_end_id": "E4086716320220629204700103800548", "amount": "1.00",
               "business_date": "2021-10-29"}}"#;

/// A store with nothing in it that accepts every write.
struct Empty;

#[async_trait]
impl ClearingStore for Empty {
    async fn authorizations(
        &self,
        _: &[AuthorizationKey],
    ) -> Result<HashMap<AuthorizationKey, Authorization>, StoreError> {
        Ok(HashMap::new())
    }
    async fn save_authorization(
        &self,
        _: &Authorization,
        _: &[shared::outbox::OutboxEntry],
    ) -> Result<AuthorizationSaved, StoreError> {
        unreachable!("the worker never stores authorizations")
    }
    async fn save_rejected_authorization(
        &self,
        _: &RejectedAuthorization,
    ) -> Result<(), StoreError> {
        unreachable!("the worker never stores authorizations")
    }
    async fn authorization(&self, _: &str) -> Result<Option<Authorization>, StoreError> {
        unreachable!("the worker never changes authorizations")
    }
    async fn update_authorization(
        &self,
        _: &Authorization,
        _: u64,
        _: &[shared::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        unreachable!("the worker never changes authorizations")
    }
    async fn insert_message(
        &self,
        _: &ClearingMessage,
        _: Option<&AuthorizationClaim>,
        _: &[shared::outbox::OutboxEntry],
    ) -> Result<InsertOutcome, StoreError> {
        unreachable!("the worker never inserts messages")
    }
    async fn save_conflict(
        &self,
        _: &shared::clearing::conflict::ClearingConflict,
        _: &[shared::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        unreachable!("the worker never ingests records")
    }
    async fn update_messages(
        &self,
        _: &[(ClearingMessage, u64)],
        _: Option<&AuthorizationClaim>,
        _: Option<&ReconciliationRequest>,
        _: &[shared::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn note_arrivals(&self, _: &Arrivals) -> Result<(), StoreError> {
        unreachable!("the worker never notes arrivals")
    }
    async fn message(&self, _: &str) -> Result<Option<ClearingMessage>, StoreError> {
        Ok(None)
    }
    async fn messages_for_card(
        &self,
        _: &str,
        _: &str,
        _: Option<ClearingStatus>,
        _: usize,
        _: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        unreachable!("the worker never lists")
    }
    async fn open_messages(
        &self,
        _: ClearingStatus,
        _: usize,
        _: Option<&str>,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        unreachable!("the worker never lists")
    }
    async fn search(
        &self,
        _: &ClearingSearch,
        _: usize,
        _: usize,
    ) -> Result<Page<ClearingMessage>, StoreError> {
        unreachable!("the worker never searches")
    }
}

#[async_trait]
impl PixStore for Empty {
    async fn pix_state(&self, _: &str) -> Result<Option<StoredPixState>, StoreError> {
        Ok(None)
    }
    async fn save_pix_state(
        &self,
        _: &PixReconciliation,
        _: u64,
        _: bool,
        _: &[shared::outbox::OutboxEntry],
        _: Option<DayEntry>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn close_pix_day(&self, _: NaiveDate) -> Result<(), StoreError> {
        Ok(())
    }
    async fn pix_day_closed(&self, _: NaiveDate) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn open_pix_ids(&self, _: NaiveDate) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    async fn save_rejected_input(
        &self,
        _: &RejectedInput,
        _: &[shared::outbox::OutboxEntry],
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn day_tally(&self, _: NaiveDate) -> Result<DayTally, StoreError> {
        Ok(DayTally::default())
    }
}

fn worker() -> WorkerService {
    let empty = Arc::new(Empty);
    WorkerService {
        store: empty.clone(),
        pix: empty,
        rules: Arc::new(RulesInForce::fixed(RulesVersion::shipped())),
        queues: SourceQueues {
            jobs: JOBS.into(),
            pix_inputs: PIX.into(),
        },
    }
}

fn record(id: &str, queue: Option<&str>, body: &str) -> SqsMessage {
    let mut r = SqsMessage::default();
    r.message_id = Some(id.into());
    r.event_source_arn = queue.map(str::to_owned);
    r.body = Some(body.into());
    r
}

fn failed(records: &[SqsMessage]) -> Vec<String> {
    let response = futures::executor::block_on(process_batch(&worker(), records));
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

#[test]
fn each_queue_carries_its_own_kind_of_message() {
    assert_eq!(
        failed(&[
            record("job", Some(JOBS), JOB),
            record("pix", Some(PIX), PIX_EVENT)
        ]),
        Vec::<String>::new()
    );
}

#[test]
fn a_job_on_the_pix_queue_and_a_pix_event_on_the_job_queue_are_rejected() {
    // Recorded as rejected (never readable), not failed: no retry to the dead-letter queue.
    assert_eq!(
        failed(&[record("job", Some(PIX), JOB)]),
        Vec::<String>::new()
    );
    assert_eq!(
        failed(&[record("pix", Some(JOBS), PIX_EVENT)]),
        Vec::<String>::new()
    );
    let queues = worker().queues;
    assert!(matches!(
        read_record(&queues, &record("job", Some(PIX), JOB)),
        Err(JobError::Rejected(e)) if e.starts_with("not an EventBridge event")
    ));
    assert!(matches!(
        read_record(&queues, &record("pix", Some(JOBS), PIX_EVENT)),
        Err(JobError::Rejected(e)) if e.starts_with("not a reprocessing job")
    ));
}

#[test]
fn a_record_from_another_queue_fails_alone() {
    let other = "arn:aws:sqs:us-east-1:123456789012:SomeoneElsesQueue";
    let batch = [
        record("job", Some(JOBS), JOB),
        record("stranger", Some(other), JOB),
        record("nameless", None, PIX_EVENT),
        record("pix", Some(PIX), PIX_EVENT),
    ];
    assert_eq!(failed(&batch), ["stranger", "nameless"]);
    assert!(matches!(
        read_record(&worker().queues, &batch[1]),
        Err(JobError::UnknownQueue(arn)) if arn == other
    ));
}

#[test]
fn an_unreadable_body_on_the_right_queue_is_rejected_not_retried() {
    assert_eq!(
        failed(&[
            record("job", Some(JOBS), r#"{"not": "a job"}"#),
            record("pix", Some(PIX), "garbage"),
        ]),
        Vec::<String>::new()
    );
}

/// Rejections are recorded once and announced in the same write.
#[tokio::test]
async fn a_rejected_input_is_recorded_and_announced_once() {
    use shared::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};
    let store = Arc::new(MemoryStore::new());
    let mut service = worker();
    service.pix = store.clone();
    let garbage = record("pix", Some(PIX), "garbage");
    for _ in 0..2 {
        assert!(process_batch(&service, std::slice::from_ref(&garbage))
            .await
            .batch_item_failures
            .is_empty());
    }
    let (bus, queue) = (MemoryBus::new(), MemoryQueue::new());
    let publisher = shared::outbox::OutboxPublisher {
        bus: &bus,
        queue: &queue,
    };
    assert_eq!(store.publish_outbox(&publisher).await.unwrap(), 1);
    let event = &bus.events()[0];
    assert_eq!(
        (event.source.as_str(), event.detail_type.as_str()),
        ("pix", crate::rejected::PIX_INPUT_REJECTED)
    );
    let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(detail["body"], "garbage");
    assert!(detail["reason"]
        .as_str()
        .unwrap()
        .contains("not an EventBridge event"));
}

mod dispute_after_a_crash {
    use shared::adapters::memory::MemoryStore;
    use shared::clearing::{ClearingStatus, ReprocessingTicket};
    use shared::jobs::ReprocessingJob;
    use shared::services::IngestService;

    use super::*;

    const AUTH: &str = r#"{"authorizations": [{"transUid": "T1", "cardReference": "C1", "transactionAmount": 100.00,
        "transactionCurrency": "USD", "merchantCategoryCode": "4111", "authorizationDateTime": "2024-04-24T16:00:00Z",
        "status": "APPROVED"}]}"#;

    fn clearing(id: &str, code: &str) -> String {
        format!(
            r#"{{"clearing": [{{"cardReference": "C1", "transactionAmount": 100.00, "transactionCurrency": "USD",
                "transactionLocalDate": "2024-04-24", "settlementDate": "2024-04-26", "transUid": "T1",
                "financialNetworkCode": "MCF", "referenceNumber": "R{id}", "clearingUniqueId": "{id}",
                "functionCode": "{code}", "messageReasonCode": "1401"}}]}}"#
        )
    }

    /// A chargeback that came before its purchase (PENDING), the purchase, then
    /// the chargeback REPROCESSING for request `req-1`: its job.
    async fn chargeback_waiting_for_its_job(store: &MemoryStore) -> ReprocessingJob {
        let rules = RulesVersion::shipped();
        let ingest = IngestService {
            store,
            rules: &rules,
        };
        ingest
            .ingest_authorizations("MASTERCARD", AUTH.as_bytes())
            .await
            .unwrap();
        for (id, code) in [("cb-1", "450"), ("p-1", "200")] {
            ingest
                .ingest_clearing("MASTERCARD", clearing(id, code).as_bytes())
                .await
                .unwrap();
        }
        let pending = store.message("cb-1").await.unwrap().unwrap();
        assert_eq!(pending.status, ClearingStatus::Pending);
        let now = chrono::Utc::now();
        let ticket = ReprocessingTicket {
            request_id: "req-1".into(),
            requested_by: "operator:ana".into(),
            requested_at: now,
            reconciliation_reason: "its purchase has arrived".into(),
        };
        let next = pending.begin_reprocessing(ticket, now).unwrap();
        store
            .update_messages(&[(next.clone(), pending.version)], None, None, &[])
            .await
            .unwrap();
        ReprocessingJob {
            request_id: "req-1".into(),
            clearing_unique_id: "cb-1".into(),
            card_network: "MASTERCARD".into(),
            card_hash: "C1".into(),
            adjustments: Vec::new(),
            reconciliation_reason: "its purchase has arrived".into(),
            requested_by: "operator:ana".into(),
            requested_at: now,
            expected_version: next.version,
        }
    }

    #[tokio::test]
    async fn a_redelivered_job_records_its_dispute_step_on_the_original_after_a_crash() {
        let store = Arc::new(MemoryStore::new());
        let job = chargeback_waiting_for_its_job(&store).await;
        let service = WorkerService {
            store: store.clone(),
            pix: store.clone(),
            ..worker()
        };
        // The job's write lands; the process dies before the original's.
        store.fail_updates(Some("p-1"));
        assert!(process_job(&service, &job).await.is_err());
        let cb = store.message("cb-1").await.unwrap().unwrap();
        assert_eq!(cb.status, ClearingStatus::Recorded);
        assert!(store
            .message("p-1")
            .await
            .unwrap()
            .unwrap()
            .disputes
            .is_empty());

        // SQS delivers the job again: the step is recorded on its original, once.
        store.fail_updates(None);
        for _ in 0..2 {
            let outcome = process_job(&service, &job).await.unwrap();
            assert!(matches!(outcome, JobOutcome::AlreadyApplied), "{outcome:?}");
            let original = store.message("p-1").await.unwrap().unwrap();
            let steps: Vec<_> = original
                .disputes
                .iter()
                .map(|d| d.clearing_unique_id.as_str())
                .collect();
            assert_eq!(steps, ["cb-1"]);
            assert_eq!(original.status, ClearingStatus::Matched);
        }
    }
}
