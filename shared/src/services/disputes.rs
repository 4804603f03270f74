//! A dispute step (second presentment, chargeback, arbitration) recorded on
//! its original first presentment, after the step's own message is stored:
//! ingest and the worker both call it, and every delivery does again (it
//! changes nothing once recorded), so a failure in between is made good by
//! the network's retry. The write carries the first presentment's event.

use crate::clearing::{ClearingMessage, DisputeStep};
use crate::events::clearing_event;
use crate::outbox::OutboxEntry;
use crate::ports::{ClearingStore, StoreError};

const MAX_ATTEMPTS: usize = 8;

/// Records `step` on the first presentment `original` (conditional on its
/// version, read again on a conflict) and returns that message as it now
/// stands, to be announced; None when it is not stored.
pub async fn record_on_original(
    store: &dyn ClearingStore,
    original: &str,
    step: &DisputeStep,
    actor: &str,
) -> Result<Option<ClearingMessage>, StoreError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(current) = store.message(original).await? else {
            // Its claim was taken but the message not stored yet (a failure
            // in between): the network delivers it again.
            tracing::warn!(original, dispute = %step.clearing_unique_id, "original presentment not stored yet");
            return Ok(None);
        };
        let Some(next) = current.record_dispute(step, actor) else {
            return Ok(Some(current));
        };
        // Its event is written with it (published from the table's stream).
        let announcement: Vec<OutboxEntry> = clearing_event(&next)
            .map(OutboxEntry::from)
            .into_iter()
            .collect();
        match store
            .update_messages(
                &[(next.clone(), current.version)],
                None,
                None,
                &announcement,
            )
            .await
        {
            Ok(()) => return Ok(Some(next)),
            Err(StoreError::VersionConflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable(format!(
        "clearing message {original} kept changing; retry later"
    )))
}

#[cfg(test)]
mod tests {
    use crate::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};

    use crate::clearing::{ClearingStatus, MessageType, PendingReasonCode};
    use crate::events::{CLEARING_DISPUTED, CLEARING_RECORDED};
    use crate::outbox::OutboxPublisher;
    use crate::ports::ClearingStore;
    use crate::services::IngestService;

    const AUTH: &str = r#"{"authorizations": [{"transUid": "T1", "cardReference": "C1", "transactionAmount": 100.00,
        "transactionCurrency": "USD", "merchantCategoryCode": "4111", "authorizationDateTime": "2024-04-24T16:00:00Z",
        "status": "APPROVED"}]}"#;

    fn record(id: &str, uid: &str, code: &str, amount: &str) -> String {
        format!(
            r#"{{"cardReference": "C1", "transactionAmount": {amount}, "transactionCurrency": "USD",
                "transactionLocalDate": "2024-04-24", "settlementDate": "2024-04-26", "merchantCategoryCode": "4111",
                "transUid": "{uid}", "financialNetworkCode": "MCF", "referenceNumber": "R{uid}",
                "clearingUniqueId": "{id}", "functionCode": "{code}", "messageReasonCode": "1401"}}"#
        )
    }

    fn body(records: &[String]) -> Vec<u8> {
        format!(r#"{{"clearing": [{}]}}"#, records.join(",")).into_bytes()
    }

    #[tokio::test]
    async fn chargebacks_and_second_presentments_are_linked_never_matched_and_move_the_original() {
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
        service
            .ingest_authorizations("MASTERCARD", AUTH.as_bytes())
            .await
            .unwrap();
        let ack = service
            .ingest_clearing("MASTERCARD", &body(&[record("p-1", "T1", "200", "100.00")]))
            .await
            .unwrap();
        assert_eq!(ack.results[0].status, ClearingStatus::Matched);
        let disputes = body(&[
            record("cb-1", "T1", "450", "100.00"),
            record("sp-1", "T1", "205", "100.00"),
            record("arb-1", "T1", "454", "40.00"),
        ]);
        let ack = service
            .ingest_clearing("MASTERCARD", &disputes)
            .await
            .unwrap();
        for r in &ack.results {
            assert_eq!(r.status, ClearingStatus::Recorded, "{r:?}");
        }
        let cb = store.message("cb-1").await.unwrap().unwrap();
        let link = cb.lifecycle.unwrap();
        assert_eq!(link.message_type, MessageType::Chargeback);
        assert_eq!(link.original_presentment.as_deref(), Some("p-1"));
        assert!(cb.matched.is_none());
        let original = store.message("p-1").await.unwrap().unwrap();
        assert_eq!(original.status, ClearingStatus::Matched);
        let steps: Vec<_> = original.disputes.iter().map(|d| d.message_type).collect();
        assert_eq!(
            steps,
            [
                MessageType::Chargeback,
                MessageType::SecondPresentment,
                MessageType::ArbitrationPartial
            ]
        );
        assert_eq!(
            original.history.len(),
            5,
            "received, matched, three dispute steps"
        );
        assert!(original.history[2]
            .reason
            .as_deref()
            .unwrap()
            .contains("cb-1"));
        store.publish_outbox(&publisher).await.unwrap();
        let types: Vec<_> = bus.events().into_iter().map(|e| e.detail_type).collect();
        assert_eq!(types.iter().filter(|t| *t == CLEARING_RECORDED).count(), 3);
        assert_eq!(types.iter().filter(|t| *t == CLEARING_DISPUTED).count(), 3);

        // Redelivered: nothing is recorded twice.
        let again = service
            .ingest_clearing("MASTERCARD", &disputes)
            .await
            .unwrap();
        assert!(again.results.iter().all(|r| r.duplicate));
        assert_eq!(store.message("p-1").await.unwrap().unwrap().version, 5);
    }

    #[tokio::test]
    async fn fees_are_recorded_orphan_disputes_wait_and_unknown_codes_are_named() {
        let store = MemoryStore::new();
        let rules = crate::clearing::RulesVersion::shipped();
        let service = IngestService {
            store: &store,
            rules: &rules,
        };
        service
            .ingest_authorizations("MASTERCARD", AUTH.as_bytes())
            .await
            .unwrap();
        let ack = service
            .ingest_clearing(
                "MASTERCARD",
                &body(&[
                    record("fee-1", "T9", "783", "2.50"),
                    record("cb-9", "T9", "450", "10.00"),
                    record("cb-1", "T1", "453", "10.00"),
                    record("odd-1", "T1", "999", "10.00"),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(ack.results[0].status, ClearingStatus::Recorded);
        let fee = store.message("fee-1").await.unwrap().unwrap();
        assert_eq!(
            fee.lifecycle.unwrap().message_type,
            MessageType::FeeCollection
        );
        let reason = |i: usize| ack.results[i].pending_reason.clone().unwrap();
        assert_eq!(
            reason(1).code,
            PendingReasonCode::OriginalPresentmentNotFound
        );
        assert!(
            reason(1).detail.contains("found no authorization"),
            "{}",
            reason(1).detail
        );
        // The authorization exists but no first presentment cleared it.
        assert_eq!(
            reason(2).code,
            PendingReasonCode::OriginalPresentmentNotFound
        );
        assert!(
            reason(2).detail.contains("it has none"),
            "{}",
            reason(2).detail
        );
        assert_eq!(reason(3).code, PendingReasonCode::InvalidField);
        assert!(reason(3).detail.contains("functionCode") && reason(3).detail.contains("999"));
        // A chargeback never claims the authorization: a first presentment still matches it.
        let ack = service
            .ingest_clearing("MASTERCARD", &body(&[record("p-1", "T1", "200", "100.00")]))
            .await
            .unwrap();
        assert_eq!(ack.results[0].status, ClearingStatus::Matched);
    }
}
