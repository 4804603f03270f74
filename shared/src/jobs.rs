//! Messages on the reprocessing work queue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clearing::Adjustment;

/// Reprocess one clearing message for an operator's request. The worker
/// applies it only while the message is REPROCESSING for this same request,
/// so a duplicate or stale delivery has no effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReprocessingJob {
    pub request_id: String,
    pub clearing_unique_id: String,
    pub card_network: String,
    pub card_hash: String,
    pub adjustments: Vec<Adjustment>,
    pub reconciliation_reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// The message's version once it became REPROCESSING for this request.
    pub expected_version: u64,
}
