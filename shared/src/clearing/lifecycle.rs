//! What a clearing record is, by its IPM function code (DE24), and what
//! happens to the records that are not purchases.
//!
//! First presentments (200) are matched against their authorization.
//! Second presentments (205 full, 282 partial), chargebacks (450 full, 453
//! partial) and arbitration chargebacks (451 full, 454 partial) belong to an
//! earlier first presentment: they are linked to it (through the authorization
//! it cleared, found by `transUid`, else network reference and settlement
//! date) and RECORDED, and the original moves through the dispute lifecycle.
//! Fee collections (MTI 1740: 700, 780-783, 790) are RECORDED, not matched.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fields::{parse_amount, ClearingField};
use super::matching::{MatchOutcome, PendingReason, PendingReasonCode};
use super::message::{ClearingMessage, ClearingStatus, Transition};
use super::validate::ValidClearing;
use crate::authorization::Authorization;

/// The kind of clearing message, from its function code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageType {
    FirstPresentment,
    SecondPresentment,
    SecondPresentmentPartial,
    Chargeback,
    ChargebackPartial,
    Arbitration,
    ArbitrationPartial,
    FeeCollection,
}

/// Every function code the product handles (anything else is an invalid field).
pub const FUNCTION_CODES: [&str; 13] = [
    "200", "205", "282", "450", "451", "453", "454", "700", "780", "781", "782", "783", "790",
];

impl MessageType {
    /// The type a function code names, if the product handles it.
    pub fn of(function_code: &str) -> Option<Self> {
        Some(match function_code {
            "200" => Self::FirstPresentment,
            "205" => Self::SecondPresentment,
            "282" => Self::SecondPresentmentPartial,
            "450" => Self::Chargeback,
            "453" => Self::ChargebackPartial,
            "451" => Self::Arbitration,
            "454" => Self::ArbitrationPartial,
            "700" | "780" | "781" | "782" | "783" | "790" => Self::FeeCollection,
            _ => return None,
        })
    }

    /// Second presentments, chargebacks and arbitration: steps of a dispute.
    pub fn is_dispute(self) -> bool {
        !matches!(self, Self::FirstPresentment | Self::FeeCollection)
    }
}

/// How a message that is not a purchase was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LifecycleLink {
    pub message_type: MessageType,
    /// For a dispute step: the first presentment it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_presentment: Option<String>,
    /// For a dispute step: the authorization that first presentment cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_trans_uid: Option<String>,
}

/// One dispute step recorded on the original first presentment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeStep {
    pub message_type: MessageType,
    /// The dispute message (its own clearing id).
    pub clearing_unique_id: String,
    pub function_code: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "12.34"))]
    pub amount: Decimal,
    pub currency: String,
    pub at: DateTime<Utc>,
}

/// The outcome of a record that is not a first presentment, or None for one
/// that is (it is matched). `authorization` is what the record's key found.
pub fn lifecycle_outcome(
    clearing: &ValidClearing,
    authorization: Option<&Authorization>,
) -> Option<MatchOutcome> {
    let message_type = MessageType::of(&clearing.function_code)?;
    if message_type == MessageType::FirstPresentment {
        return None;
    }
    if !message_type.is_dispute() {
        return Some(MatchOutcome::Recorded(LifecycleLink {
            message_type,
            original_presentment: None,
            authorization_trans_uid: None,
        }));
    }
    let not_found = |detail: String| {
        Some(MatchOutcome::Pending(PendingReason {
            code: PendingReasonCode::OriginalPresentmentNotFound,
            detail,
            fields: Vec::new(),
        }))
    };
    let Some(auth) = authorization else {
        return not_found(format!(
            "functionCode {} ({message_type:?}) needs its original first presentment: expected the authorization for {} with a matched first presentment, found no authorization",
            clearing.function_code,
            clearing.authorization_key()
        ));
    };
    let Some(original) = auth.claimed_by.clone() else {
        return not_found(format!(
            "functionCode {} ({message_type:?}) needs its original first presentment: expected authorization {} to be cleared by a matched first presentment, it has none",
            clearing.function_code, auth.trans_uid
        ));
    };
    Some(MatchOutcome::Recorded(LifecycleLink {
        message_type,
        original_presentment: Some(original),
        authorization_trans_uid: Some(auth.trans_uid.clone()),
    }))
}

impl ClearingMessage {
    /// For a RECORDED dispute step: the original first presentment and the step to record on it.
    pub fn dispute_step(&self) -> Option<(String, DisputeStep)> {
        let link = self.lifecycle.as_ref()?;
        let original = link.original_presentment.clone()?;
        let text = |f: ClearingField| self.fields.get(&f).cloned().unwrap_or_default();
        let step = DisputeStep {
            message_type: link.message_type,
            clearing_unique_id: self.clearing_unique_id.clone(),
            function_code: text(ClearingField::FunctionCode),
            // A RECORDED message validated, so its amount parses.
            amount: parse_amount(&text(ClearingField::TransactionAmount)).unwrap_or_default(),
            currency: text(ClearingField::TransactionCurrency),
            at: self.updated_at,
        };
        Some((original, step))
    }

    /// The original first presentment with a dispute step recorded (a
    /// transition to its own status, in its history, and in `disputes`), or
    /// None when that step is recorded already.
    pub fn record_dispute(&self, step: &DisputeStep, actor: &str) -> Option<Self> {
        if self
            .disputes
            .iter()
            .any(|d| d.clearing_unique_id == step.clearing_unique_id)
        {
            return None;
        }
        let mut next = self.clone();
        next.disputes.push(step.clone());
        next.push(Transition {
            version: 0,
            from: Some(self.status),
            to: self.status,
            at: step.at,
            actor: actor.to_owned(),
            reason: Some(format!(
                "{:?} (functionCode {}) {} for {} {} received",
                step.message_type,
                step.function_code,
                step.clearing_unique_id,
                step.amount,
                step.currency
            )),
            pending_reason: None,
            action: None,
            rules_version: None,
            changes: Vec::new(),
            request_id: None,
        });
        Some(next)
    }

    /// Whether the latest transition recorded a dispute step.
    pub fn last_change_is_dispute(&self) -> bool {
        self.history
            .last()
            .is_some_and(|t| t.from == Some(t.to) && t.to == ClearingStatus::Matched)
            && !self.disputes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handled_code_has_a_type_and_others_none() {
        for code in FUNCTION_CODES {
            assert!(MessageType::of(code).is_some(), "{code}");
        }
        assert_eq!(MessageType::of("999"), None);
        assert!(MessageType::of("450").unwrap().is_dispute());
        assert!(MessageType::of("282").unwrap().is_dispute());
        assert!(!MessageType::of("783").unwrap().is_dispute());
        assert!(!MessageType::of("200").unwrap().is_dispute());
    }
}
