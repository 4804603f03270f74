//! The event bus on EventBridge. PutEvents takes 10 entries a call and can
//! fail per entry: failed entries are resent with backoff, never dropped
//! silently; if they still fail, the caller gets an error and retries the
//! whole unit of work (events carry stable ids, so subscribers dedupe).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::events::OutboundEvent;
use crate::ports::{EventBus, EventBusError};

const MAX_ATTEMPTS: u32 = 5;

#[derive(Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    fn entry(&self, e: &OutboundEvent) -> PutEventsRequestEntry {
        put_events_entry(&self.bus_name, e)
    }
}

/// The PutEvents entry of `e` on the bus `bus_name`: what the bus receives
/// (`docs/events.md` shows its examples through this too).
pub fn put_events_entry(bus_name: &str, e: &OutboundEvent) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(&e.source)
        .detail_type(&e.detail_type)
        .detail(&e.detail)
        .resources(e.resource())
        .build()
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<(), EventBusError> {
        for chunk in events.chunks(10) {
            let mut pending: Vec<&OutboundEvent> = chunk.iter().collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                attempt += 1;
                let result = self
                    .client
                    .put_events()
                    .set_entries(Some(pending.iter().map(|e| self.entry(e)).collect()))
                    .send()
                    .await;
                let retry: Vec<&OutboundEvent> = match result {
                    Ok(out) if out.failed_entry_count() == 0 => Vec::new(),
                    // Entries answer in request order; resend only those with an error.
                    Ok(out) => pending
                        .iter()
                        .zip(out.entries())
                        .filter(|(_, r)| r.error_code().is_some())
                        .map(|(e, _)| *e)
                        .collect(),
                    Err(e) if attempt >= MAX_ATTEMPTS => {
                        return Err(EventBusError(format!("{e:?}").chars().take(400).collect()))
                    }
                    Err(_) => pending.clone(),
                };
                if !retry.is_empty() && attempt >= MAX_ATTEMPTS {
                    return Err(EventBusError(format!(
                        "{} events still failing after {attempt} attempts",
                        retry.len()
                    )));
                }
                if !retry.is_empty() {
                    tracing::warn!(
                        failed = retry.len(),
                        attempt,
                        "resending failed PutEvents entries"
                    );
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                pending = retry;
            }
        }
        Ok(())
    }
}
