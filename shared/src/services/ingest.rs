//! The networks' notifications: every clearing record is stored with its raw
//! payload, validated and matched, and its outcome announced (the event is
//! written in the message's item, published from the table's stream);
//! authorizations are stored for the records to come.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::Instrument;

use crate::authorization::{Authorization, RejectedAuthorization};
use crate::clearing::conflict::{same_content, ClearingConflict};
use crate::clearing::fields::transaction_date;
use crate::clearing::{
    clearing_records, ClearingMessage, ClearingStatus, NotificationError, PendingReason,
    PreparedRecord, RulesVersion,
};
use crate::events::{clearing_conflict_event, clearing_event};
use crate::metrics::IngestTally;
use crate::outbox::OutboxEntry;
use crate::ports::{Arrivals, ClearingStore, InsertOutcome, StoreError};
use crate::services::disputes::record_on_original;

/// How many records are written at once.
const WRITE_CONCURRENCY: usize = 16;

/// What the sender gets back for each clearing record stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordResult {
    pub clearing_unique_id: String,
    pub status: ClearingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<PendingReason>,
    /// True when this record was stored by an earlier delivery, or by an
    /// earlier record of this notification with the same id.
    pub duplicate: bool,
    /// True when different content is stored under this id (by an earlier
    /// delivery or an earlier record of this notification): the stored record
    /// stands (`status` is its status); this one is refused, recorded with
    /// its payload and announced as `clearing_record.conflict`.
    pub conflict: bool,
}

/// A record the store refuses as it is (DynamoDB will never take it):
/// answered here, its batch-mates stored as usual. Retrying it cannot help.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedRecord {
    /// Its place in the notification's `clearing` array.
    pub index: usize,
    pub clearing_unique_id: String,
    pub problem: String,
}

#[derive(Debug, Serialize)]
pub struct ClearingAck {
    pub received: usize,
    pub results: Vec<RecordResult>,
    pub rejected: Vec<RejectedRecord>,
}

/// What storing one record came to.
#[derive(Debug)]
enum Outcome {
    Stored {
        message: Box<ClearingMessage>,
        duplicate: bool,
        conflict: Option<ClearingConflict>,
    },
    Refused {
        clearing_unique_id: String,
        problem: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationAck {
    pub received: usize,
    /// New authorizations stored.
    pub stored: usize,
    /// Stored authorizations changed by a record (a reversal), now or by an earlier delivery.
    pub updated: usize,
    /// Records that repeat what is stored.
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
    /// The rules in force for this call; every decision records their version.
    pub rules: &'a RulesVersion,
}

impl IngestService<'_> {
    /// Stores, validates and matches every record of a clearing notification.
    pub async fn ingest_clearing(
        &self,
        network: &str,
        body: &[u8],
    ) -> Result<ClearingAck, IngestError> {
        let records = clearing_records(body)?;
        let received = records.len();
        let prepared: Vec<PreparedRecord> = records.map(PreparedRecord::new).collect();
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

        // The first record of each id is the one stored; a later one with the
        // same id is its duplicate, or a conflict when its content differs.
        let (firsts, repeats) = first_of_each_id(prepared);
        let mut outcomes: BTreeMap<usize, Outcome> = stream::iter(firsts)
            .map(|(index, p)| {
                let auth = p
                    .authorization_key()
                    .and_then(|k| authorizations.get(&k).cloned());
                let actor = actor.as_str();
                let span = crate::spans::clearing_record(&p.clearing_unique_id);
                async move {
                    let outcome = self.store_one(network, p, auth, actor, now).await?;
                    Ok::<_, StoreError>((index, outcome))
                }
                .instrument(span)
            })
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        for (index, p) in repeats {
            let outcome = repeat_outcome(&outcomes, &p, network, now);
            outcomes.insert(index, outcome);
        }
        self.record_outcomes(&outcomes, &actor).await?;
        Ok(acknowledge(received, outcomes))
    }

    /// Records the conflicts (each with its event in its item's outbox) and
    /// counts the outcomes. A stored message's event went out with its first
    /// write, so a redelivery announces nothing again.
    async fn record_outcomes(
        &self,
        outcomes: &BTreeMap<usize, Outcome>,
        actor: &str,
    ) -> Result<(), IngestError> {
        let mut tally = IngestTally::default();
        for outcome in outcomes.values() {
            let Outcome::Stored {
                message,
                duplicate,
                conflict,
            } = outcome
            else {
                continue;
            };
            tally.add(
                message.status,
                message.pending_reason.as_ref().map(|r| r.code),
                *duplicate,
            );
            if let Some(conflict) = conflict {
                let event = OutboxEntry::from(clearing_conflict_event(conflict));
                self.store.save_conflict(conflict, &[event]).await?;
            }
        }
        tally.record();

        // Dispute steps move their first presentments on (each write carries
        // the first presentment's event); one at a time, as several may share
        // one. A redelivery repeats it, so a crash before it is made good.
        let mut moved = BTreeSet::new();
        for outcome in outcomes.values() {
            let Outcome::Stored { message, .. } = outcome else {
                continue;
            };
            if !moved.insert(message.clearing_unique_id.as_str()) {
                continue;
            }
            if let Some((original, step)) = message.dispute_step() {
                record_on_original(self.store, &original, &step, actor).await?;
            }
        }
        Ok(())
    }

    /// Stores one record at its outcome, or finds it stored by an earlier delivery.
    async fn store_one(
        &self,
        network: &str,
        prepared: PreparedRecord,
        authorization: Option<Authorization>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let key = prepared.authorization_key();
        let decision = ClearingMessage::ingest(
            prepared.clone(),
            network,
            authorization.as_ref(),
            self.rules,
            actor,
            now,
        );
        let offered = prepared.record.raw.clone();
        let result = self
            .store
            .insert_message(
                &decision.message,
                decision.claim.as_ref(),
                &announcement(&decision.message),
            )
            .await;
        let result = match result {
            Ok(outcome) => Ok(stored(decision.message, outcome)),
            Err(StoreError::ClaimLost(_)) => {
                // Another first presentment took the authorization meanwhile: decide
                // again with the authorization as it is now (a duplicate presentment).
                let fresh = match &key {
                    Some(k) => self
                        .store
                        .authorizations(std::slice::from_ref(k))
                        .await?
                        .remove(k),
                    None => None,
                };
                let decision = ClearingMessage::ingest(
                    prepared.clone(),
                    network,
                    fresh.as_ref(),
                    self.rules,
                    actor,
                    now,
                );
                self.store
                    .insert_message(
                        &decision.message,
                        decision.claim.as_ref(),
                        &announcement(&decision.message),
                    )
                    .await
                    .map(|outcome| stored(decision.message, outcome))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((message, duplicate)) => {
                let conflict =
                    (duplicate && !same_content(&offered, &message.raw_payload)).then(|| {
                        ClearingConflict::new(
                            &message.clearing_unique_id,
                            network,
                            &offered,
                            message.version,
                            now,
                        )
                    });
                Ok(Outcome::Stored {
                    message: Box::new(message),
                    duplicate,
                    conflict,
                })
            }
            Err(StoreError::Refused(why)) => Ok(Outcome::Refused {
                clearing_unique_id: prepared.clearing_unique_id,
                problem: format!(
                    "the store refuses this record as it is ({why}); resending it cannot help"
                ),
            }),
            Err(e) => Err(e),
        }
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

/// The first record of each id, and the later ones, each with its place.
type Indexed = Vec<(usize, PreparedRecord)>;
fn first_of_each_id(prepared: Vec<PreparedRecord>) -> (Indexed, Indexed) {
    let mut seen = BTreeSet::new();
    prepared
        .into_iter()
        .enumerate()
        .partition(|(_, p)| seen.insert(p.clearing_unique_id.clone()))
}

/// A later record with the id of an earlier one of the same notification:
/// the earlier one's outcome, as a duplicate or a conflict.
fn repeat_outcome(
    outcomes: &BTreeMap<usize, Outcome>,
    repeat: &PreparedRecord,
    network: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let first = outcomes.values().find(|o| match o {
        Outcome::Stored { message, .. } => message.clearing_unique_id == repeat.clearing_unique_id,
        Outcome::Refused {
            clearing_unique_id, ..
        } => *clearing_unique_id == repeat.clearing_unique_id,
    });
    match first {
        Some(Outcome::Stored { message, .. }) => Outcome::Stored {
            conflict: (!same_content(&repeat.record.raw, &message.raw_payload)).then(|| {
                ClearingConflict::new(
                    &message.clearing_unique_id,
                    network,
                    &repeat.record.raw,
                    message.version,
                    now,
                )
            }),
            message: message.clone(),
            duplicate: true,
        },
        Some(Outcome::Refused { problem, .. }) => Outcome::Refused {
            clearing_unique_id: repeat.clearing_unique_id.clone(),
            problem: problem.clone(),
        },
        // Every repeat follows its first (partitioned so): not reached.
        None => Outcome::Refused {
            clearing_unique_id: repeat.clearing_unique_id.clone(),
            problem: "internal error: the first record of this id was not stored".into(),
        },
    }
}

/// The ack, in the notification's order.
fn acknowledge(received: usize, outcomes: BTreeMap<usize, Outcome>) -> ClearingAck {
    let mut ack = ClearingAck {
        received,
        results: Vec::new(),
        rejected: Vec::new(),
    };
    for (index, outcome) in outcomes {
        match outcome {
            Outcome::Stored {
                message,
                duplicate,
                conflict,
            } => ack.results.push(RecordResult {
                clearing_unique_id: message.clearing_unique_id,
                status: message.status,
                pending_reason: message.pending_reason,
                duplicate,
                conflict: conflict.is_some(),
            }),
            Outcome::Refused {
                clearing_unique_id,
                problem,
            } => ack.rejected.push(RejectedRecord {
                index,
                clearing_unique_id,
                problem,
            }),
        }
    }
    ack
}

/// The message as it now stands, and whether an earlier delivery stored it.
fn stored(offered: ClearingMessage, outcome: InsertOutcome) -> (ClearingMessage, bool) {
    match outcome {
        InsertOutcome::Inserted => (offered, false),
        InsertOutcome::AlreadyStored(existing) => (*existing, true),
    }
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
