//! The networks' notifications: every clearing record is stored with its raw
//! payload, validated and matched, and its outcome announced (the event is
//! written in the message's item, published from the table's stream);
//! authorizations are stored for the records to come.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::Instrument;

use crate::authorization::{
    parse_authorization_notification, Authorization, RejectedAuthorization,
};
use crate::clearing::fields::transaction_date;
use crate::clearing::{
    parse_clearing_notification, ClearingMessage, ClearingStatus, MatchingRules, NotificationError,
    PendingReason, PreparedRecord,
};
use crate::events::clearing_event;
use crate::metrics::IngestTally;
use crate::outbox::OutboxEntry;
use crate::ports::{Arrivals, AuthorizationSaved, ClearingStore, InsertOutcome, StoreError};

/// How many records are written at once.
const WRITE_CONCURRENCY: usize = 16;

/// What the sender gets back for each clearing record.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordResult {
    pub clearing_unique_id: String,
    pub status: ClearingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<PendingReason>,
    /// True when this record was stored by an earlier delivery.
    pub duplicate: bool,
}

#[derive(Debug, Serialize)]
pub struct ClearingAck {
    pub received: usize,
    pub results: Vec<RecordResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationAck {
    pub received: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub rejected: Vec<RejectedAuthorization>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ingest use case over the function's ports (borrowed for one call).
pub struct IngestService<'a> {
    pub store: &'a dyn ClearingStore,
    pub rules: &'a MatchingRules,
}

impl IngestService<'_> {
    /// Stores, validates and matches every record of a clearing notification.
    pub async fn ingest_clearing(
        &self,
        network: &str,
        body: &[u8],
    ) -> Result<ClearingAck, IngestError> {
        let records = parse_clearing_notification(body)?;
        let received = records.len();
        let prepared: Vec<PreparedRecord> = records.into_iter().map(PreparedRecord::new).collect();
        let keys: Vec<_> = prepared
            .iter()
            .filter_map(PreparedRecord::authorization_key)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let authorizations = self.store.authorizations(&keys).await?;
        let now = Utc::now();
        let mut arrivals = Arrivals::new(now);
        for p in &prepared {
            arrivals.add(&p.clearing_unique_id, transaction_date(&p.record.fields));
        }
        self.store.note_arrivals(&arrivals).await?;
        let actor = format!("webhook:{}", network.to_ascii_lowercase());

        let stored: Vec<(ClearingMessage, bool)> = stream::iter(prepared)
            .map(|p| {
                let auth = p
                    .authorization_key()
                    .and_then(|k| authorizations.get(&k).cloned());
                let actor = actor.as_str();
                let span = crate::spans::clearing_record(&p.clearing_unique_id);
                async move { self.store_one(network, p, auth, actor, now).await }.instrument(span)
            })
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        let mut tally = IngestTally::default();
        for (m, duplicate) in &stored {
            tally.add(
                m.status,
                m.pending_reason.as_ref().map(|r| r.code),
                *duplicate,
            );
        }
        tally.record();

        let results = stored
            .into_iter()
            .map(|(m, duplicate)| RecordResult {
                clearing_unique_id: m.clearing_unique_id,
                status: m.status,
                pending_reason: m.pending_reason,
                duplicate,
            })
            .collect();
        Ok(ClearingAck { received, results })
    }

    /// Stores one record at its outcome, or finds it stored by an earlier delivery.
    async fn store_one(
        &self,
        network: &str,
        prepared: PreparedRecord,
        authorization: Option<Authorization>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(ClearingMessage, bool), StoreError> {
        let key = prepared.authorization_key();
        let decision = ClearingMessage::ingest(
            prepared.clone(),
            network,
            authorization.as_ref(),
            self.rules,
            actor,
            now,
        );
        match self
            .store
            .insert_message(
                &decision.message,
                decision.claim.as_ref(),
                &announcement(&decision.message),
            )
            .await
        {
            Ok(outcome) => Ok(stored(decision.message, outcome)),
            Err(StoreError::ClaimLost(_)) => {
                // Another first presentment took the authorization meanwhile: decide
                // again with the authorization as it is now (a duplicate presentment).
                let fresh = match key {
                    Some(k) => self
                        .store
                        .authorizations(std::slice::from_ref(&k))
                        .await?
                        .remove(&k),
                    None => None,
                };
                let decision = ClearingMessage::ingest(
                    prepared,
                    network,
                    fresh.as_ref(),
                    self.rules,
                    actor,
                    now,
                );
                let outcome = self
                    .store
                    .insert_message(
                        &decision.message,
                        decision.claim.as_ref(),
                        &announcement(&decision.message),
                    )
                    .await?;
                Ok(stored(decision.message, outcome))
            }
            Err(e) => Err(e),
        }
    }

    /// Stores every readable authorization; unreadable ones are kept aside with the reason.
    pub async fn ingest_authorizations(
        &self,
        network: &str,
        body: &[u8],
    ) -> Result<AuthorizationAck, IngestError> {
        let parsed = parse_authorization_notification(body, network)?;
        let mut ack = AuthorizationAck {
            received: parsed.len(),
            stored: 0,
            duplicates: 0,
            rejected: Vec::new(),
        };
        for record in parsed {
            match record {
                Ok(auth) => match self.store.save_authorization(&auth).await? {
                    AuthorizationSaved::Inserted => ack.stored += 1,
                    AuthorizationSaved::AlreadyStored => ack.duplicates += 1,
                },
                Err(rejected) => {
                    self.store.save_rejected_authorization(&rejected).await?;
                    ack.rejected.push(rejected);
                }
            }
        }
        Ok(ack)
    }
}

/// The event of a message's outcome, written with it. A redelivery writes
/// nothing, so announces nothing again: the first write's stream record did.
fn announcement(message: &ClearingMessage) -> Vec<OutboxEntry> {
    clearing_event(message)
        .map(OutboxEntry::from)
        .into_iter()
        .collect()
}

/// The message as it now stands, and whether an earlier delivery stored it.
fn stored(offered: ClearingMessage, outcome: InsertOutcome) -> (ClearingMessage, bool) {
    match outcome {
        InsertOutcome::Inserted => (offered, false),
        InsertOutcome::AlreadyStored(existing) => (*existing, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};
    use crate::clearing::matching::DEFAULT_MATCHING_RULES;
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
        let rules = MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap();
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
        let rules = MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap();
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
}
