//! Authorization notifications: every readable record is stored or applied
//! to the authorization it changes (a reversal), concurrently across
//! authorizations and in order within one; what changed is announced.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::ingest::{AuthorizationAck, IngestError, IngestService};
use crate::authorization::{
    parse_authorization_notification, Authorization, RejectedAuthorization,
};
use crate::authorization_change::AuthorizationUpdate;
use crate::events::authorization_events;
use crate::outbox::OutboxEntry;
use crate::ports::{AuthorizationSaved, StoreError};

/// How many authorizations are written at once.
const WRITE_CONCURRENCY: usize = 16;

/// How often a change is computed again when the authorization changed under it.
const MAX_ATTEMPTS: usize = 8;

/// What one record did.
enum Applied {
    /// Stored as a new authorization.
    Inserted,
    /// Applied to the stored authorization, now or by an earlier delivery
    /// (whose write announced it).
    Changed,
    /// A repeat of what is stored.
    Unchanged,
    Refused(RejectedAuthorization),
}

/// The records of one transUid, in the notification's order, or one unreadable record.
enum Unit {
    Same(Vec<(usize, Authorization)>),
    Unreadable(RejectedAuthorization),
}

impl IngestService<'_> {
    /// Stores or applies every readable authorization; unreadable ones are kept
    /// aside with the reason. Reversals are announced (written with the
    /// change), with any clearing already MATCHED to the authorization they reverse.
    pub async fn ingest_authorizations(
        &self,
        network: &str,
        body: &[u8],
    ) -> Result<AuthorizationAck, IngestError> {
        let parsed = parse_authorization_notification(body, network)?;
        let received = parsed.len();
        let mut groups: BTreeMap<String, Vec<(usize, Authorization)>> = BTreeMap::new();
        let mut units = Vec::new();
        for (index, record) in parsed.into_iter().enumerate() {
            match record {
                Ok(auth) => groups
                    .entry(auth.trans_uid.clone())
                    .or_default()
                    .push((index, auth)),
                Err(rejected) => units.push(Unit::Unreadable(rejected)),
            }
        }
        units.extend(groups.into_values().map(Unit::Same));
        let applied: Vec<Vec<Applied>> = stream::iter(units)
            .map(|unit| self.apply_unit(unit))
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;

        let mut ack = AuthorizationAck {
            received,
            stored: 0,
            updated: 0,
            duplicates: 0,
            rejected: Vec::new(),
        };
        for a in applied.into_iter().flatten() {
            match a {
                Applied::Inserted => ack.stored += 1,
                Applied::Changed => ack.updated += 1,
                Applied::Unchanged => ack.duplicates += 1,
                Applied::Refused(r) => ack.rejected.push(r),
            }
        }
        ack.rejected.sort_by_key(|r| r.index);
        Ok(ack)
    }

    async fn apply_unit(&self, unit: Unit) -> Result<Vec<Applied>, StoreError> {
        match unit {
            Unit::Unreadable(rejected) => {
                self.store.save_rejected_authorization(&rejected).await?;
                Ok(vec![Applied::Refused(rejected)])
            }
            Unit::Same(records) => {
                let mut out = Vec::with_capacity(records.len());
                for (index, auth) in records {
                    out.push(self.apply_one(index, auth).await?);
                }
                Ok(out)
            }
        }
    }

    /// Inserts a new authorization, or applies the record to the stored one,
    /// computing the change again if it changed meanwhile.
    async fn apply_one(
        &self,
        index: usize,
        mut incoming: Authorization,
    ) -> Result<Applied, StoreError> {
        // Its window is fixed now, with the rules in force (a stored one keeps its own).
        incoming.expiry = self.rules.expiry_terms(&incoming, chrono::Utc::now());
        // Each write carries the events of its change (a reversal received
        // before its approval is one), published from the table's stream.
        let announce = |a: &Authorization| -> Vec<OutboxEntry> {
            authorization_events(a, a.version)
                .into_iter()
                .map(OutboxEntry::from)
                .collect()
        };
        let saved = match self
            .store
            .save_authorization(&incoming, &announce(&incoming))
            .await
        {
            // One the store refuses as it is (a ValidationException) is rejected, not the batch.
            Err(StoreError::Refused(why)) => {
                let rejected = RejectedAuthorization {
                    index,
                    trans_uid: Some(incoming.trans_uid.clone()),
                    problem: format!("the store refuses this record as it is ({why})"),
                    raw_payload: incoming.raw_payload.clone(),
                };
                self.store.save_rejected_authorization(&rejected).await?;
                return Ok(Applied::Refused(rejected));
            }
            saved => saved?,
        };
        if saved == AuthorizationSaved::Inserted {
            return Ok(Applied::Inserted);
        }
        for _ in 0..MAX_ATTEMPTS {
            let current = self
                .store
                .authorization(&incoming.trans_uid)
                .await?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "authorization {} reported as stored but not found",
                        incoming.trans_uid
                    ))
                })?;
            let next = match current.apply(&incoming) {
                Ok(AuthorizationUpdate::Changed(next)) => next,
                Ok(AuthorizationUpdate::AlreadyApplied(_)) => return Ok(Applied::Changed),
                Ok(AuthorizationUpdate::Unchanged) => return Ok(Applied::Unchanged),
                Err(problem) => {
                    let rejected = RejectedAuthorization {
                        index,
                        trans_uid: Some(incoming.trans_uid.clone()),
                        problem: problem.to_string(),
                        raw_payload: incoming.raw_payload.clone(),
                    };
                    self.store.save_rejected_authorization(&rejected).await?;
                    return Ok(Applied::Refused(rejected));
                }
            };
            match self
                .store
                .update_authorization(&next, current.version, &announce(&next))
                .await
            {
                Ok(()) => return Ok(Applied::Changed),
                Err(StoreError::VersionConflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "authorization {} kept changing; retry later",
            incoming.trans_uid
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryBus, MemoryQueue, MemoryStore};
    use crate::authorization::AuthorizationStatus;

    use crate::clearing::{ClearingStatus, PendingReasonCode};
    use crate::events::{
        AUTHORIZATION_PARTIALLY_REVERSED, AUTHORIZATION_REVERSED, CLEARING_AUTHORIZATION_REVERSED,
    };
    use crate::outbox::OutboxPublisher;
    use crate::ports::ClearingStore;

    fn auth(uid: &str, status: &str, extra: &str) -> String {
        format!(
            r#"{{"transUid": "{uid}", "cardReference": "C1", "transactionAmount": 100.00, "transactionCurrency": "USD",
                "merchantCategoryCode": "4111", "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "{status}"{extra}}}"#
        )
    }

    fn notification(records: &[String]) -> Vec<u8> {
        format!(r#"{{"authorizations": [{}]}}"#, records.join(",")).into_bytes()
    }

    fn clearing(id: &str, uid: &str, amount: &str) -> Vec<u8> {
        format!(
            r#"{{"clearing": [{{"cardReference": "C1", "transactionAmount": {amount}, "transactionCurrency": "USD",
                "transactionLocalDate": "2024-04-24", "settlementDate": "2024-04-26", "merchantCategoryCode": "4111",
                "transUid": "{uid}", "financialNetworkCode": "MCF", "referenceNumber": "R{uid}",
                "clearingUniqueId": "{id}", "functionCode": "200", "messageReasonCode": "1401"}}]}}"#
        )
        .into_bytes()
    }

    fn types(bus: &MemoryBus) -> Vec<String> {
        bus.events().into_iter().map(|e| e.detail_type).collect()
    }

    #[tokio::test]
    async fn a_reversal_after_a_match_is_applied_recorded_and_announced_with_the_clearing() {
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
            .ingest_authorizations("MASTERCARD", &notification(&[auth("T1", "APPROVED", "")]))
            .await
            .unwrap();
        let ack = service
            .ingest_clearing("MASTERCARD", &clearing("c-1", "T1", "100.00"))
            .await
            .unwrap();
        assert_eq!(ack.results[0].status, ClearingStatus::Matched);
        let reversal = notification(&[auth("T1", "REVERSED", "")]);
        let ack = service
            .ingest_authorizations("MASTERCARD", &reversal)
            .await
            .unwrap();
        assert_eq!((ack.stored, ack.updated, ack.duplicates), (0, 1, 0));
        let stored = store.authorization("T1").await.unwrap().unwrap();
        assert_eq!(stored.status, AuthorizationStatus::Reversed);
        // Version 1, then the claim of c-1, then the reversal.
        assert_eq!((stored.version, stored.history.len()), (3, 2));
        assert_eq!(
            stored.claimed_by.as_deref(),
            Some("c-1"),
            "the claim is kept"
        );
        store.publish_outbox(&publisher).await.unwrap();
        let after_first: Vec<_> = bus.events();
        let n = after_first.len();
        assert_eq!(
            types(&bus)[n - 2..],
            [AUTHORIZATION_REVERSED, CLEARING_AUTHORIZATION_REVERSED]
        );
        assert!(after_first[n - 1]
            .detail
            .contains(r#""matched_clearing":"c-1""#));

        // A redelivery changes nothing, so writes and announces nothing: the first write did.
        let again = service
            .ingest_authorizations("MASTERCARD", &reversal)
            .await
            .unwrap();
        assert_eq!(again.updated, 1);
        assert_eq!(store.authorization("T1").await.unwrap().unwrap().version, 3);
        store.publish_outbox(&publisher).await.unwrap();
        assert_eq!(bus.events(), after_first);

        // A clearing arriving later sees the reversal.
        let late = service
            .ingest_clearing("MASTERCARD", &clearing("c-2", "T2", "100.00"))
            .await
            .unwrap();
        assert_eq!(late.results[0].status, ClearingStatus::Pending);
        service
            .ingest_authorizations(
                "MASTERCARD",
                &notification(&[auth("T3", "APPROVED", ""), auth("T3", "REVERSED", "")]),
            )
            .await
            .unwrap();
        let late = service
            .ingest_clearing("MASTERCARD", &clearing("c-3", "T3", "100.00"))
            .await
            .unwrap();
        assert_eq!(
            late.results[0].pending_reason.as_ref().unwrap().code,
            PendingReasonCode::AuthorizationNotApproved
        );
    }

    #[tokio::test]
    async fn approval_and_partial_reversals_in_one_notification_apply_in_order() {
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
        let mut records: Vec<String> = (0..40)
            .map(|i| auth(&format!("U{i}"), "APPROVED", ""))
            .collect();
        records.push(auth("U7", "REVERSED", r#", "reversalAmount": 30.00"#));
        records.push(auth("U7", "REVERSED", r#", "reversalAmount": 20.00"#));
        records.push(r#"{"transUid": 5}"#.to_owned());
        let ack = service
            .ingest_authorizations("MASTERCARD", &notification(&records))
            .await
            .unwrap();
        assert_eq!((ack.stored, ack.updated, ack.rejected.len()), (40, 2, 1));
        assert_eq!(ack.rejected[0].index, 42);
        let u7 = store.authorization("U7").await.unwrap().unwrap();
        assert_eq!(u7.open_amount().to_string(), "50.00");
        assert_eq!(u7.status, AuthorizationStatus::Approved);
        assert_eq!(u7.version, 3);
        store.publish_outbox(&publisher).await.unwrap();
        assert_eq!(
            types(&bus),
            [
                AUTHORIZATION_PARTIALLY_REVERSED,
                AUTHORIZATION_PARTIALLY_REVERSED
            ]
        );
        // What is left clears; the reversed part does not.
        let ack = service
            .ingest_clearing("MASTERCARD", &clearing("c-7", "U7", "50.00"))
            .await
            .unwrap();
        assert_eq!(ack.results[0].status, ClearingStatus::Matched);
    }

    #[tokio::test]
    async fn a_match_decided_before_a_reversal_cannot_take_the_claim_after_it() {
        let store = MemoryStore::new();
        let rules = crate::clearing::RulesVersion::shipped();
        let service = IngestService {
            store: &store,
            rules: &rules,
        };
        service
            .ingest_authorizations("MASTERCARD", &notification(&[auth("T1", "APPROVED", "")]))
            .await
            .unwrap();
        let before = store.authorization("T1").await.unwrap().unwrap();
        service
            .ingest_authorizations("MASTERCARD", &notification(&[auth("T1", "REVERSED", "")]))
            .await
            .unwrap();
        let claim = crate::clearing::AuthorizationClaim {
            trans_uid: "T1".into(),
            clearing_unique_id: "c-1".into(),
            already_held: false,
            authorization_version: before.version,
            presentment: crate::authorization::ClearedPresentment {
                amount: "1.00".parse().unwrap(),
                reference_number: None,
                transaction_date: chrono::NaiveDate::from_ymd_opt(2024, 4, 24).unwrap(),
            },
        };
        assert!(matches!(
            store.update_messages(&[], Some(&claim), None, &[]).await,
            Err(StoreError::ClaimLost(_))
        ));
    }
}
