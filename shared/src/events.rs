//! Events this product publishes on its EventBridge bus.
//!
//! Every event carries a stable id, the same on every re-publication of the
//! same fact, in the entry's `resources` as `urn:clearing-reconciliation:event:<uuid>`
//! (clearing events also repeat it as `detail.event_id`): subscribers dedupe on it.

use serde::Serialize;
use uuid::Uuid;

use crate::clearing::{
    ClearingMessage, ClearingStatus, FieldValues, ManualAction, MatchDetails, PendingReason,
};

/// Namespace of the v5 ids of every event this product emits.
pub const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_93a2_4c1b_4e0a_9a51_0c3e_55b1_7f20);

pub const CLEARING_EVENT_SOURCE: &str = "clearing";
pub const CLEARING_MATCHED: &str = "clearing_message.matched";
pub const CLEARING_PENDING: &str = "clearing_message.pending";
pub const CLEARING_RECONCILED: &str = "clearing_message.reconciled";
pub const CLEARING_FORCE_MATCH: &str = "clearing_message.force_match";
pub const CLEARING_UNDO_MATCH: &str = "clearing_message.undo_match";
pub const CLEARING_WRITE_OFF_REQUESTED: &str = "clearing_message.write_off_requested";
pub const CLEARING_WRITE_OFF_APPROVED: &str = "clearing_message.write_off_approved";
pub const CLEARING_WRITE_OFF_REJECTED: &str = "clearing_message.write_off_rejected";

/// One event ready for the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEvent {
    pub id: Uuid,
    pub source: String,
    pub detail_type: String,
    /// The `detail`, as JSON text.
    pub detail: String,
}

impl OutboundEvent {
    pub fn resource(&self) -> String {
        format!("urn:clearing-reconciliation:event:{}", self.id)
    }
}

pub fn stable_id(name: &str) -> Uuid {
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}

#[derive(Serialize)]
struct ClearingEventDetail<'a> {
    event_id: Uuid,
    clearing_unique_id: &'a str,
    card_network: &'a str,
    card_hash: Option<&'a str>,
    status: ClearingStatus,
    version: u64,
    pending_reason: Option<&'a PendingReason>,
    matched: Option<&'a MatchDetails>,
    /// The clearing record as it stands (after any adjustment).
    message: &'a FieldValues,
    occurred_at: String,
}

/// The event announcing a message's current outcome: matched on arrival,
/// pending with its reason, reconciled after reprocessing, or the console
/// action that changed it.
pub fn clearing_event(message: &ClearingMessage) -> Option<OutboundEvent> {
    let action = message.history.last().and_then(|t| t.action);
    let detail_type = match action {
        Some(action) => manual_event_type(action),
        None => automatic_event_type(message)?,
    };
    let id = stable_id(&format!(
        "clearing/{}/v{}",
        message.clearing_unique_id, message.version
    ));
    let detail = ClearingEventDetail {
        event_id: id,
        clearing_unique_id: &message.clearing_unique_id,
        card_network: &message.card_network,
        card_hash: message.card_hash.as_deref(),
        status: message.status,
        version: message.version,
        pending_reason: message.pending_reason.as_ref(),
        matched: message.matched.as_ref(),
        message: &message.fields,
        occurred_at: message
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    Some(OutboundEvent {
        id,
        source: CLEARING_EVENT_SOURCE.into(),
        detail_type: detail_type.into(),
        // Serializing plain data with string keys cannot fail.
        detail: serde_json::to_string(&detail).unwrap_or_default(),
    })
}

fn automatic_event_type(message: &ClearingMessage) -> Option<&'static str> {
    Some(match message.status {
        ClearingStatus::Pending => CLEARING_PENDING,
        ClearingStatus::Matched
            if message
                .history
                .iter()
                .any(|t| t.to == ClearingStatus::Reprocessing) =>
        {
            CLEARING_RECONCILED
        }
        ClearingStatus::Matched => CLEARING_MATCHED,
        ClearingStatus::Received
        | ClearingStatus::Reprocessing
        | ClearingStatus::WriteOffRequested
        | ClearingStatus::WrittenOff => return None,
    })
}

/// `clearing_message.force_match`, `.undo_match`, `.write_off_requested`,
/// `.write_off_approved`, `.write_off_rejected`.
pub fn manual_event_type(action: ManualAction) -> &'static str {
    match action {
        ManualAction::ForceMatch => CLEARING_FORCE_MATCH,
        ManualAction::UndoMatch => CLEARING_UNDO_MATCH,
        ManualAction::WriteOffRequested => CLEARING_WRITE_OFF_REQUESTED,
        ManualAction::WriteOffApproved => CLEARING_WRITE_OFF_APPROVED,
        ManualAction::WriteOffRejected => CLEARING_WRITE_OFF_REJECTED,
    }
}
