//! Consumed capacity, for the capacity benchmark only. Without the
//! `capacity-meter` feature the store never asks DynamoDB for it, so the
//! functions' requests carry no `ReturnConsumedCapacity`.

use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
#[cfg(feature = "capacity-meter")]
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

#[cfg(feature = "capacity-meter")]
use super::DynamoDbClearingStore;

/// Where the store reports consumed capacity: to a meter once one is given;
/// nowhere without the feature.
#[derive(Clone, Default)]
pub(super) struct Metering {
    #[cfg(feature = "capacity-meter")]
    meter: Option<Arc<CapacityMeter>>,
}

impl Metering {
    /// The breakdown by table and index, asked for only while a meter listens.
    #[cfg(feature = "capacity-meter")]
    pub(super) fn request(&self) -> Option<ReturnConsumedCapacity> {
        self.meter.as_ref().map(|_| ReturnConsumedCapacity::Indexes)
    }

    #[cfg(not(feature = "capacity-meter"))]
    pub(super) fn request(&self) -> Option<ReturnConsumedCapacity> {
        None
    }

    pub(super) fn write(&self, consumed: Option<&ConsumedCapacity>) {
        if let Some(c) = consumed {
            self.writes(std::slice::from_ref(c));
        }
    }

    pub(super) fn read(&self, consumed: Option<&ConsumedCapacity>) {
        if let Some(c) = consumed {
            self.reads(std::slice::from_ref(c));
        }
    }

    pub(super) fn writes(&self, consumed: &[ConsumedCapacity]) {
        self.add(consumed, true);
    }

    pub(super) fn reads(&self, consumed: &[ConsumedCapacity]) {
        self.add(consumed, false);
    }

    #[cfg(feature = "capacity-meter")]
    fn add(&self, consumed: &[ConsumedCapacity], is_write: bool) {
        if let Some(m) = &self.meter {
            m.add_all(consumed, is_write);
        }
    }

    #[cfg(not(feature = "capacity-meter"))]
    fn add(&self, _: &[ConsumedCapacity], _: bool) {}
}

#[cfg(feature = "capacity-meter")]
impl DynamoDbClearingStore {
    /// Reports consumed capacity into `meter` (benchmarks).
    pub fn with_capacity_meter(mut self, meter: Arc<CapacityMeter>) -> Self {
        self.metering = Metering { meter: Some(meter) };
        self
    }
}

/// Adds up the capacity units DynamoDB reports, for the capacity benchmark:
/// in all, and per target (the table, each index) so the figure says where it goes.
#[cfg(feature = "capacity-meter")]
#[derive(Default, Debug)]
pub struct CapacityMeter {
    /// target -> (write units, read units); "table" is the base table.
    by_target: Mutex<BTreeMap<String, (f64, f64)>>,
    /// DynamoDB calls that reported capacity.
    calls: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "capacity-meter")]
impl CapacityMeter {
    fn record(&self, target: &str, write: f64, read: f64) {
        if let Ok(mut map) = self.by_target.lock() {
            let entry = map.entry(target.to_owned()).or_default();
            entry.0 += write;
            entry.1 += read;
        }
    }

    /// `is_write`: how to count a figure DynamoDB gives only as CapacityUnits.
    fn add_all(&self, consumed: &[ConsumedCapacity], is_write: bool) {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let units = |w: Option<f64>, r: Option<f64>, total: Option<f64>| {
            let (w, r) = (w.unwrap_or(0.0), r.unwrap_or(0.0));
            match (w == 0.0 && r == 0.0, is_write) {
                (true, true) => (total.unwrap_or(0.0), 0.0),
                (true, false) => (0.0, total.unwrap_or(0.0)),
                _ => (w, r),
            }
        };
        for c in consumed {
            let indexes = c.global_secondary_indexes().filter(|i| !i.is_empty());
            let (w, r) = match (c.table(), indexes) {
                // No breakdown in the response: all of it on the table.
                (None, None) => units(
                    c.write_capacity_units(),
                    c.read_capacity_units(),
                    c.capacity_units(),
                ),
                (table, _) => table.map_or((0.0, 0.0), |t| {
                    units(
                        t.write_capacity_units(),
                        t.read_capacity_units(),
                        t.capacity_units(),
                    )
                }),
            };
            self.record("table", w, r);
            for (name, cap) in indexes.into_iter().flatten() {
                let (w, r) = units(
                    cap.write_capacity_units(),
                    cap.read_capacity_units(),
                    cap.capacity_units(),
                );
                self.record(name, w, r);
            }
        }
    }

    /// DynamoDB calls metered so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// (write units, read units) consumed so far.
    pub fn totals(&self) -> (f64, f64) {
        self.breakdown()
            .iter()
            .fold((0.0, 0.0), |(w, r), (_, (bw, br))| (w + bw, r + br))
    }

    /// (target, write units, read units) per target: "table", then each index by name.
    pub fn breakdown(&self) -> Vec<(String, (f64, f64))> {
        self.by_target
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}
