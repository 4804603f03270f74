//! Events this product publishes on its EventBridge bus.
//!
//! Every event carries a stable id, the same on every re-publication of the
//! same fact, in the entry's `resources` as `urn:clearing-reconciliation:event:<uuid>`
//! (clearing events also repeat it as `detail.event_id`): subscribers dedupe on it.

use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::authorization::{Authorization, AuthorizationStatus};
use crate::authorization_change::AuthorizationChangeKind;
use crate::clearing::conflict::ClearingConflict;
use crate::clearing::{
    ClearingMessage, ClearingStatus, DisputeStep, FieldValues, LifecycleLink, ManualAction,
    MatchDetails, PendingReason,
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
/// A record refused because different content is stored under its id.
pub const CLEARING_RECORD_CONFLICT: &str = "clearing_record.conflict";
/// A record that is not a purchase: a dispute step linked to its first presentment, or a fee collection.
pub const CLEARING_RECORDED: &str = "clearing_message.recorded";
/// Posted without an authorization by rule (DE25 1400).
pub const CLEARING_FORCE_POSTED: &str = "clearing_message.force_posted";
/// A first presentment moved through the dispute lifecycle (a dispute step recorded on it).
pub const CLEARING_DISPUTED: &str = "clearing_message.disputed";
/// A new version of the matching rules is in force.
pub const RULES_CHANGED: &str = "rules.changed";

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
    /// Once RECORDED: the message type and the first presentment it is linked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<&'a LifecycleLink>,
    /// For a first presentment: the dispute steps recorded against it.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    disputes: &'a [DisputeStep],
    /// The clearing record as it stands (after any adjustment).
    message: &'a FieldValues,
    /// The version of the matching rules this outcome was decided under (a matcher decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    rules_version: Option<u64>,
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
        lifecycle: message.lifecycle.as_ref(),
        disputes: &message.disputes,
        message: &message.fields,
        rules_version: message.history.last().and_then(|t| t.rules_version),
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
        ClearingStatus::Recorded => CLEARING_RECORDED,
        ClearingStatus::ForcePosted => CLEARING_FORCE_POSTED,
        ClearingStatus::Matched if message.last_change_is_dispute() => CLEARING_DISPUTED,
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

#[derive(Serialize)]
struct ConflictEventDetail<'a> {
    event_id: Uuid,
    #[serde(flatten)]
    conflict: &'a ClearingConflict,
}

/// The event announcing a refused conflicting record (the same refused
/// payload is the same event, whichever delivery brings it).
pub fn clearing_conflict_event(conflict: &ClearingConflict) -> OutboundEvent {
    let id = stable_id(&format!(
        "clearing-conflict/{}/{}",
        conflict.clearing_unique_id, conflict.payload_digest
    ));
    let detail = ConflictEventDetail {
        event_id: id,
        conflict,
    };
    OutboundEvent {
        id,
        source: CLEARING_EVENT_SOURCE.into(),
        detail_type: CLEARING_RECORD_CONFLICT.into(),
        // Serializing plain data with string keys cannot fail.
        detail: serde_json::to_string(&detail).unwrap_or_default(),
    }
}

pub const AUTHORIZATION_REVERSED: &str = "authorization.reversed";
pub const AUTHORIZATION_PARTIALLY_REVERSED: &str = "authorization.partially_reversed";
/// An approved authorization not cleared in full within its window.
pub const AUTHORIZATION_EXPIRED: &str = "authorization.expired";
/// A clearing already MATCHED to an authorization that was then reversed (in full or in part).
pub const CLEARING_AUTHORIZATION_REVERSED: &str = "clearing_message.authorization_reversed";

#[derive(Serialize)]
struct AuthorizationEventDetail<'a> {
    event_id: Uuid,
    trans_uid: &'a str,
    card_network: &'a str,
    card_hash: &'a str,
    status: AuthorizationStatus,
    /// The authorization's version this change made.
    version: u64,
    change: AuthorizationChangeKind,
    /// The amount this record reversed (an expiry: what was left uncleared).
    amount: Decimal,
    authorized_amount: Decimal,
    /// Reversed in total after this change.
    reversed_amount: Decimal,
    currency: &'a str,
    /// The first presentment MATCHED to it when it was reversed, if any.
    matched_clearing: Option<&'a str>,
    /// For an expiry: its window and when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    expiry: Option<&'a crate::authorization_expiry::ExpiryTerms>,
    occurred_at: String,
}

/// The events announcing the change an authorization's `version` recorded: a
/// reversal (full or partial) or an expiry, and, when a clearing was already MATCHED to it,
/// that clearing's. Approvals and declines announce nothing. The same change
/// gives the same events (ids included) however often it is announced.
pub fn authorization_events(auth: &Authorization, version: u64) -> Vec<OutboundEvent> {
    let Some(change) = auth.history.iter().find(|c| c.version == version) else {
        return Vec::new();
    };
    let detail_type = match change.kind {
        AuthorizationChangeKind::Reversed => AUTHORIZATION_REVERSED,
        AuthorizationChangeKind::PartiallyReversed => AUTHORIZATION_PARTIALLY_REVERSED,
        AuthorizationChangeKind::Expired => AUTHORIZATION_EXPIRED,
        AuthorizationChangeKind::Approved | AuthorizationChangeKind::Declined => return Vec::new(),
    };
    let name = format!("authorization/{}/v{version}", auth.trans_uid);
    let detail = |event_id| AuthorizationEventDetail {
        event_id,
        trans_uid: &auth.trans_uid,
        card_network: &auth.card_network,
        card_hash: &auth.card_hash,
        status: change.status,
        version,
        change: change.kind,
        amount: change.amount,
        authorized_amount: auth.amount,
        reversed_amount: change.reversed_amount,
        currency: &auth.currency,
        matched_clearing: change.matched_clearing.as_deref(),
        expiry: auth
            .expiry
            .as_ref()
            .filter(|_| change.kind == AuthorizationChangeKind::Expired),
        occurred_at: change
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let event = |name: String, detail_type: &str| {
        let id = stable_id(&name);
        OutboundEvent {
            id,
            source: CLEARING_EVENT_SOURCE.into(),
            detail_type: detail_type.into(),
            // Serializing plain data with string keys cannot fail.
            detail: serde_json::to_string(&detail(id)).unwrap_or_default(),
        }
    };
    let mut events = vec![event(name.clone(), detail_type)];
    if let Some(clearing) = &change.matched_clearing {
        events.push(event(
            format!("clearing/{clearing}/{name}"),
            CLEARING_AUTHORIZATION_REVERSED,
        ));
    }
    events
}

/// The event announcing a new version of the matching rules; its detail is
/// the version as stored (number, author, time, reason and the rules).
pub fn rules_changed_event(version: &crate::clearing::RulesVersion) -> OutboundEvent {
    let id = stable_id(&format!("rules/v{}", version.version));
    let detail = serde_json::json!({
        "event_id": id,
        "version": version.version,
        "author": version.author,
        "changed_at": version.changed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "reason": version.reason,
        "rules": version.rules,
    });
    OutboundEvent {
        id,
        source: CLEARING_EVENT_SOURCE.into(),
        detail_type: RULES_CHANGED.into(),
        detail: detail.to_string(),
    }
}

/// How much of an unreadable input's body its event carries (the stored record keeps all of it).
pub const REJECTED_BODY_IN_EVENT: usize = 4096;

/// An input the reprocessing worker can never read, as it announces it: from
/// the Pix input queue (`pix` / `pix_input.rejected`) or the job queue
/// (`clearing` / `reprocessing_job.rejected`). The same body on the same
/// queue is the same event, whichever delivery brings it.
pub fn rejected_input_event(
    from_pix_queue: bool,
    queue: &str,
    sqs_message_id: Option<&str>,
    reason: &str,
    body: &str,
) -> OutboundEvent {
    use crate::event_catalogue::{JOB_REJECTED, PIX_INPUT_REJECTED};
    let id = stable_id(&format!("rejected/{queue}/{body}"));
    let (source, detail_type) = if from_pix_queue {
        (crate::pix::event::EVENT_SOURCE, PIX_INPUT_REJECTED)
    } else {
        (CLEARING_EVENT_SOURCE, JOB_REJECTED)
    };
    let detail = serde_json::json!({
        "event_id": id,
        "queue": queue,
        "sqs_message_id": sqs_message_id,
        "reason": reason,
        "body": body.chars().take(REJECTED_BODY_IN_EVENT).collect::<String>(),
    });
    OutboundEvent {
        id,
        source: source.into(),
        detail_type: detail_type.into(),
        detail: detail.to_string(),
    }
}
