//! The work queue and the event bus in memory, for unit tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::events::OutboundEvent;
use crate::jobs::ReprocessingJob;
use crate::ports::{EventBus, EventBusError, QueueError, WorkQueue};

/// [`WorkQueue`] in memory: keeps every job; [`MemoryQueue::fail`] makes it refuse them.
#[derive(Default)]
pub struct MemoryQueue {
    jobs: Mutex<Vec<ReprocessingJob>>,
    failing: AtomicBool,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// While `failing`, every enqueue is refused as an unavailable queue would.
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn jobs(&self) -> Vec<ReprocessingJob> {
        lock(&self.jobs).clone()
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn enqueue(&self, job: &ReprocessingJob) -> Result<(), QueueError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(QueueError("memory queue switched to fail".into()));
        }
        lock(&self.jobs).push(job.clone());
        Ok(())
    }
}

/// [`EventBus`] in memory: keeps every event; [`MemoryBus::fail`] makes it refuse them.
#[derive(Default)]
pub struct MemoryBus {
    events: Mutex<Vec<OutboundEvent>>,
    failing: AtomicBool,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn events(&self) -> Vec<OutboundEvent> {
        lock(&self.events).clone()
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), EventBusError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(EventBusError("memory bus switched to fail".into()));
        }
        lock(&self.events).extend_from_slice(events);
        Ok(())
    }
}
