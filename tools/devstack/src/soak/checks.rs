//! The checks, once the system has settled: the table (read through the
//! product's own store, as the API reads it) and every event the bus
//! delivered, against what the soak sent and what was acknowledged.
//!
//! - lost: a record acknowledged (or never acknowledged despite the
//!   sender's retries) that is not stored with its raw payload; a Pix id
//!   the bus accepted inputs for with no state.
//! - duplicated: a history whose versions are not 1, 2, ... n; one operator
//!   request applied twice (same request id and transition twice, or more
//!   reprocessings than requests sent); a Pix id with two decisions (two
//!   different results, or event ids, or an event other than the stored outcome).
//! - unannounced: a transition to PENDING or MATCHED with no event of its
//!   stable id; a decided Pix id with no event.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

use shared::adapters::DynamoDbClearingStore;
use shared::clearing::{ClearingMessage, ClearingStatus};
use shared::events::stable_id;
use shared::pix::financial_reconciliation_event_id;
use shared::ports::{ClearingStore, PixStore, StoredPixState};

use super::truth::Truth;
use crate::{DevstackError, LocalClients};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub lost: usize,
    pub duplicated: usize,
    pub unannounced: usize,
}

impl Counts {
    pub fn all_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// What the soak found after the run.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every record sent, as stored (None: not stored).
    pub messages: BTreeMap<String, Option<ClearingMessage>>,
    /// Every Pix id sent, as stored.
    pub pix: BTreeMap<String, Option<StoredPixState>>,
    /// Every event the capture queue received, duplicates included.
    pub events: Vec<serde_json::Value>,
}

const READERS: usize = 8;

/// Reads every record and Pix id of `truth` from the table (eight readers at a time).
pub async fn observe(
    clients: &LocalClients,
    table: &str,
    truth: &Truth,
    events: &Mutex<Vec<serde_json::Value>>,
) -> Result<Observed, DevstackError> {
    let store = std::sync::Arc::new(DynamoDbClearingStore::new(clients.dynamodb.clone(), table));
    let ids: Vec<String> = truth.sent.keys().cloned().collect();
    let pix_ids: Vec<String> = truth.pix_sent.iter().cloned().collect();
    let mut tasks = tokio::task::JoinSet::new();
    for reader in 0..READERS {
        let store = store.clone();
        let ids: Vec<String> = ids.iter().skip(reader).step_by(READERS).cloned().collect();
        let pix_ids: Vec<String> = pix_ids
            .iter()
            .skip(reader)
            .step_by(READERS)
            .cloned()
            .collect();
        tasks.spawn(async move {
            let mut out = Observed::default();
            for id in ids {
                let message = store.message(&id).await.map_err(|e| e.to_string())?;
                out.messages.insert(id, message);
            }
            for id in pix_ids {
                let state = store.pix_state(&id).await.map_err(|e| e.to_string())?;
                out.pix.insert(id, state);
            }
            Ok::<_, String>(out)
        });
    }
    let mut observed = Observed {
        events: events.lock().map(|e| e.clone()).unwrap_or_default(),
        ..Default::default()
    };
    while let Some(joined) = tasks.join_next().await {
        let part = joined
            .map_err(|e| DevstackError::Worker(e.to_string()))?
            .map_err(|e| DevstackError::Worker(format!("reading the table: {e}")))?;
        observed.messages.extend(part.messages);
        observed.pix.extend(part.pix);
    }
    Ok(observed)
}

/// The stable event id of each captured event (from `resources`, as subscribers dedupe).
fn event_id(event: &serde_json::Value) -> Option<&str> {
    event["resources"]
        .as_array()?
        .iter()
        .filter_map(|r| r.as_str())
        .find_map(|r| r.strip_prefix("urn:clearing-reconciliation:event:"))
}

/// The counts, and a line for each problem found.
pub fn check(truth: &Truth, observed: &Observed) -> (Counts, Vec<String>) {
    let mut counts = Counts::default();
    let mut problems = Vec::new();
    let announced: HashSet<&str> = observed.events.iter().filter_map(event_id).collect();
    for (id, message) in &observed.messages {
        let Some(message) = message.as_ref().filter(|m| !m.raw_payload.is_empty()) else {
            counts.lost += 1;
            let acknowledged = truth.acknowledged.contains(id);
            problems.push(format!(
                "lost: {id} not stored (acknowledged: {acknowledged})"
            ));
            continue;
        };
        check_history(truth, message, &mut counts, &mut problems);
        for t in &message.history {
            if matches!(t.to, ClearingStatus::Pending | ClearingStatus::Matched) {
                let expected = stable_id(&format!("clearing/{id}/v{}", t.version)).to_string();
                if !announced.contains(expected.as_str()) {
                    counts.unannounced += 1;
                    problems.push(format!("unannounced: {id} v{} {:?}", t.version, t.to));
                }
            }
        }
    }
    let missing = truth
        .sent
        .keys()
        .filter(|id| !observed.messages.contains_key(*id));
    for id in missing {
        counts.lost += 1;
        problems.push(format!("lost: {id} not read back"));
    }
    check_pix(truth, observed, &announced, &mut counts, &mut problems);
    (counts, problems)
}

fn check_history(
    truth: &Truth,
    message: &ClearingMessage,
    counts: &mut Counts,
    problems: &mut Vec<String>,
) {
    let id = &message.clearing_unique_id;
    let versions: Vec<u64> = message.history.iter().map(|t| t.version).collect();
    let expected: Vec<u64> = (1..=message.history.len() as u64).collect();
    let mut applied = BTreeSet::new();
    let twice = message.history.iter().any(|t| {
        t.request_id.is_some()
            && !applied.insert((
                t.request_id.clone(),
                t.from.map(|s| s.as_str()),
                t.to.as_str(),
            ))
    });
    let reprocessings = message
        .history
        .iter()
        .filter(|t| t.to == ClearingStatus::Reprocessing)
        .count();
    let card = message.card_hash.as_deref().unwrap_or_default();
    let requests = truth.reconcile_attempts.get(card).copied().unwrap_or(0);
    if versions != expected
        || message.version != versions.len() as u64
        || twice
        || reprocessings > requests
    {
        counts.duplicated += 1;
        problems.push(format!(
            "duplicated: {id} history versions {versions:?} (version {}), {reprocessings} reprocessings for {requests} requests",
            message.version
        ));
    }
}

fn check_pix(
    truth: &Truth,
    observed: &Observed,
    announced: &HashSet<&str>,
    counts: &mut Counts,
    problems: &mut Vec<String>,
) {
    let mut decisions: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
    for event in observed.events.iter().filter(|e| e["source"] == "pix") {
        let detail = &event["detail"];
        if let Some(e2e) = detail["end_to_end_id"].as_str() {
            let result = detail["result_description"].as_str().unwrap_or_default();
            let id = event_id(event).unwrap_or_default();
            decisions
                .entry(e2e)
                .or_default()
                .insert((id.to_owned(), result.to_owned()));
        }
    }
    for e2e in &truth.pix_sent {
        let Some(Some(stored)) = observed.pix.get(e2e) else {
            counts.lost += 1;
            problems.push(format!("lost: Pix {e2e} has no state"));
            continue;
        };
        let seen = decisions.get(e2e.as_str());
        if let Some(outcome) = &stored.state.outcome {
            let expected_id = financial_reconciliation_event_id(e2e).to_string();
            if !announced.contains(expected_id.as_str()) {
                counts.unannounced += 1;
                problems.push(format!("unannounced: Pix {e2e} decided, no event"));
            }
            let stored_result =
                serde_json::to_value(outcome.result_description).unwrap_or_default();
            let other = seen.into_iter().flatten().any(|(id, result)| {
                *id != expected_id || stored_result.as_str() != Some(result.as_str())
            });
            if other {
                counts.duplicated += 1;
                problems.push(format!(
                    "duplicated: Pix {e2e} decided as {seen:?}, stored {stored_result}"
                ));
            }
        } else if seen.is_some() {
            counts.duplicated += 1;
            problems.push(format!(
                "duplicated: Pix {e2e} announced {seen:?} but stored undecided"
            ));
        }
    }
}

impl Observed {
    /// Lines that are not counts but say how the run went.
    pub fn notes(&self, truth: &Truth) -> Vec<String> {
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for message in self.messages.values().flatten() {
            *by_status.entry(message.status.as_str()).or_default() += 1;
        }
        let decided = self
            .pix
            .values()
            .flatten()
            .filter(|s| s.state.outcome.is_some())
            .count();
        vec![
            format!("records by status: {by_status:?}"),
            format!(
                "acknowledged {} of {} records; {} requests given up; other answers {:?}",
                truth.acknowledged.len(),
                truth.sent.len(),
                truth.gave_up,
                truth.other_answers
            ),
            format!(
                "reconciliation requests: {} accepted; Pix: {} ids, {} decided; {} events captured",
                truth.reconcile_accepted.values().sum::<usize>(),
                self.pix.len(),
                decided,
                self.events.len()
            ),
        ]
    }
}
