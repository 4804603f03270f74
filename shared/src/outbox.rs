//! The transactional outbox: what a state change announces (EventBridge
//! events) or queues (reprocessing jobs) is written in the same item, or the
//! same transaction, as the state itself, in the item's `outbox` attribute.
//! The table's stream carries every write to the `outbox-publisher`, which
//! publishes the entries that are new in the item's NEW image (not already in
//! its OLD image). A crash after the write loses nothing; the stream retries
//! until the publisher succeeds ([0012](../../docs/decisions/0012-outbox-on-the-table-stream.md)).

use serde::{Deserialize, Serialize};

use crate::events::OutboundEvent;
use crate::jobs::ReprocessingJob;
use crate::ports::{EventBus, EventBusError, QueueError, WorkQueue};

/// The item attribute holding the entries of the change that wrote the item.
pub const OUTBOX_ATTRIBUTE: &str = "outbox";

/// One thing to announce or queue, with a stable id: the same fact written
/// again has the same id, so the publisher sends it once per write that adds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxEntry {
    Event {
        id: uuid::Uuid,
        source: String,
        detail_type: String,
        detail: String,
    },
    ReprocessingJob(ReprocessingJob),
}

impl OutboxEntry {
    pub fn id(&self) -> String {
        match self {
            Self::Event { id, .. } => id.to_string(),
            Self::ReprocessingJob(job) => {
                format!("job/{}/{}", job.request_id, job.clearing_unique_id)
            }
        }
    }

    pub fn as_event(&self) -> Option<OutboundEvent> {
        match self {
            Self::Event {
                id,
                source,
                detail_type,
                detail,
            } => Some(OutboundEvent {
                id: *id,
                source: source.clone(),
                detail_type: detail_type.clone(),
                detail: detail.clone(),
            }),
            Self::ReprocessingJob(_) => None,
        }
    }
}

impl From<OutboundEvent> for OutboxEntry {
    fn from(e: OutboundEvent) -> Self {
        Self::Event {
            id: e.id,
            source: e.source,
            detail_type: e.detail_type,
            detail: e.detail,
        }
    }
}

impl From<ReprocessingJob> for OutboxEntry {
    fn from(job: ReprocessingJob) -> Self {
        Self::ReprocessingJob(job)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Written by this product, so never expected: the stream record goes to
    /// the on-failure destination after its retries.
    #[error("outbox attribute is unreadable: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Bus(#[from] EventBusError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// The attribute's text: the entries as JSON.
pub fn encode(entries: &[OutboxEntry]) -> String {
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_string(entries).unwrap_or_default()
}

pub fn decode(text: &str) -> Result<Vec<OutboxEntry>, OutboxError> {
    serde_json::from_str(text).map_err(|e| OutboxError::Unreadable(e.to_string()))
}

/// The entries packed in an item's packed attribute (`crate::packed`), whose
/// `outbox` key holds them (a message item's; none if it has no such key).
pub fn decode_packed(bytes: &[u8]) -> Result<Vec<OutboxEntry>, OutboxError> {
    #[derive(Deserialize)]
    struct Packed {
        #[serde(default)]
        outbox: Vec<OutboxEntry>,
    }
    crate::packed::unpack::<Packed>(bytes)
        .map(|p| p.outbox)
        .map_err(|e| OutboxError::Unreadable(e.to_string()))
}

/// The entries of `new` whose ids `old` does not hold: what this write added.
pub fn added(old: &[OutboxEntry], new: Vec<OutboxEntry>) -> Vec<OutboxEntry> {
    let before: std::collections::HashSet<String> = old.iter().map(OutboxEntry::id).collect();
    new.into_iter()
        .filter(|e| !before.contains(&e.id()))
        .collect()
}

/// Publishes outbox entries: events on the bus (batched), jobs on the queue.
/// At least once: an error means some entries may have gone out already, and
/// the caller publishes them all again (subscribers and the worker dedupe).
pub struct OutboxPublisher<'a> {
    pub bus: &'a dyn EventBus,
    pub queue: &'a dyn WorkQueue,
}

impl OutboxPublisher<'_> {
    pub async fn publish(&self, entries: &[OutboxEntry]) -> Result<(), OutboxError> {
        let events: Vec<OutboundEvent> = entries.iter().filter_map(OutboxEntry::as_event).collect();
        if !events.is_empty() {
            self.bus.publish(&events).await?;
        }
        for entry in entries {
            if let OutboxEntry::ReprocessingJob(job) = entry {
                self.queue.enqueue(job).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::stable_id;

    fn event(name: &str) -> OutboxEntry {
        OutboxEntry::Event {
            id: stable_id(name),
            source: "clearing".into(),
            detail_type: "clearing_message.pending".into(),
            detail: "{}".into(),
        }
    }

    #[test]
    fn only_entries_a_write_added_are_published() {
        let old = vec![event("a")];
        let new = vec![event("a"), event("b")];
        assert_eq!(added(&old, new), vec![event("b")]);
        assert_eq!(added(&[], vec![event("a")]), vec![event("a")]);
    }

    #[test]
    fn entries_survive_the_attribute() {
        let entries = vec![event("a")];
        assert_eq!(decode(&encode(&entries)).unwrap(), entries);
        assert!(matches!(decode("{"), Err(OutboxError::Unreadable(_))));
    }
}
