//! The clearing message: a stored clearing record with its state and history.
//!
//! State machine (every arrow is one recorded [`Transition`]):
//!
//! ```text
//!            ingest                     operator asks                worker
//! (none) -> RECEIVED -> MATCHED        PENDING -> REPROCESSING -> MATCHED
//!                    -> PENDING                               -> PENDING (new reason)
//!                    -> RECORDED                              -> RECORDED
//!                    -> FORCE_POSTED                          -> FORCE_POSTED
//!                                      REPROCESSING -> PENDING (request released: queue failure,
//!                                                               or its lease expired)
//! ```
//! RECORDED: a record that is not a purchase (a dispute step linked to its
//! first presentment, a fee collection). A MATCHED first presentment records
//! each dispute step on it as a MATCHED -> MATCHED transition (see `lifecycle`).
//! `version` counts transitions; stores write a new state only if the stored
//! version is still the one the change was computed from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::adjustment::{check_adjustments, Adjustment, AdjustmentError};
use super::fields::{ClearingField, FieldValues};
use super::lifecycle::{lifecycle_outcome, DisputeStep, LifecycleLink};
use super::matching::{match_clearing, MatchDetails, MatchOutcome, MatchingRules, PendingReason};
use super::notification::ReceivedRecord;
use super::rules::RulesVersion;
use super::validate::{key_value, validate, ValidClearing};
use crate::authorization::{Authorization, AuthorizationKey, ClearedPresentment};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClearingStatus {
    Received,
    Matched,
    Pending,
    Reprocessing,
    Recorded,
    ForcePosted,
    /// An operator asked to write the message off; a second operator decides.
    WriteOffRequested,
    /// Written off with a second operator's approval (terminal).
    WrittenOff,
}

impl ClearingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "RECEIVED",
            Self::Matched => "MATCHED",
            Self::Pending => "PENDING",
            Self::Reprocessing => "REPROCESSING",
            Self::Recorded => "RECORDED",
            Self::ForcePosted => "FORCE_POSTED",
            Self::WriteOffRequested => "WRITE_OFF_REQUESTED",
            Self::WrittenOff => "WRITTEN_OFF",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Matched,
            Self::Pending,
            Self::Reprocessing,
            Self::Recorded,
            Self::ForcePosted,
            Self::WriteOffRequested,
            Self::WrittenOff,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// The transitions the state machine allows.
    pub fn can_become(self, to: ClearingStatus) -> bool {
        use ClearingStatus::*;
        matches!(
            (self, to),
            (Received, Matched)
                | (Received, Pending)
                | (Pending, Reprocessing)
                | (Reprocessing, Matched)
                | (Reprocessing, Pending)
                | (Received, Recorded)
                | (Reprocessing, Recorded)
                | (Received, ForcePosted)
                | (Reprocessing, ForcePosted)
        )
    }

    /// Open messages wait on an operator or on the worker.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Reprocessing)
    }
}

/// One field changed by an operator's adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub field: ClearingField,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub old_value: Option<String>,
    pub new_value: String,
}

/// One recorded state change: who, when, why and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transition {
    pub version: u64,
    /// Null for the first transition.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub from: Option<ClearingStatus>,
    pub to: ClearingStatus,
    pub at: DateTime<Utc>,
    /// `webhook:<network>`, `operator:<subject>`, `worker:reprocessing` or `system`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<PendingReason>,
    /// Fields an operator's adjustment changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The console action that made this change, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<super::manual::ManualAction>,
    /// The version of the matching rules a matcher decision used (see `rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<u64>,
}

/// The operator request a message is being reprocessed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReprocessingTicket {
    pub request_id: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub reconciliation_reason: String,
}

/// A clearing message: fields, raw payload, status, pending reason and full history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClearingMessage {
    pub clearing_unique_id: String,
    pub card_network: String,
    /// Null when the record carried no cardReference.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub card_hash: Option<String>,
    pub status: ClearingStatus,
    /// Number of transitions so far.
    pub version: u64,
    /// While PENDING, else null.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub pending_reason: Option<PendingReason>,
    /// The clearing record's fields as exact text.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub fields: FieldValues,
    /// The record's JSON exactly as received.
    pub raw_payload: String,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Once MATCHED, else null.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub matched: Option<MatchDetails>,
    /// The operator request being processed while REPROCESSING, else null.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reprocessing: Option<ReprocessingTicket>,
    pub history: Vec<Transition>,
    /// Once RECORDED (not a purchase): what it is and what it is linked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleLink>,
    /// For a first presentment: the dispute steps (second presentments,
    /// chargebacks, arbitration) recorded against it, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disputes: Vec<DisputeStep>,
}

/// What a change needs the store to do besides writing the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationClaim {
    /// The authorization a first presentment takes for itself.
    pub trans_uid: String,
    pub clearing_unique_id: String,
    /// The authorization as read already names this message (a redelivery
    /// after the claim was taken): a store may skip writing it again where
    /// that is safe, and must still give it back if the message is stored unmatched.
    pub already_held: bool,
    /// The authorization's version the match was decided on: the claim is
    /// taken only if it is still that version (a reversal or another
    /// presentment's claim meanwhile changes it), and moves it on.
    pub authorization_version: u64,
    /// What this presentment adds to the authorization's cleared total.
    pub presentment: ClearedPresentment,
}

/// A record read and validated, waiting for its authorization lookup.
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    pub record: ReceivedRecord,
    pub clearing_unique_id: String,
    pub validation: Result<ValidClearing, PendingReason>,
}

impl PreparedRecord {
    pub fn new(record: ReceivedRecord) -> Self {
        let clearing_unique_id = record.clearing_unique_id();
        let validation = if record.shape_problems.is_empty() {
            validate(&record.fields).map_err(PendingReason::invalid_fields)
        } else {
            let mut problems = record.shape_problems.clone();
            if let Err(more) = validate(&record.fields) {
                problems.extend(more);
            }
            problems.sort_by_key(|p| p.field);
            Err(PendingReason::invalid_fields(problems))
        };
        Self {
            record,
            clearing_unique_id,
            validation,
        }
    }

    pub fn authorization_key(&self) -> Option<AuthorizationKey> {
        self.validation
            .as_ref()
            .ok()
            .map(ValidClearing::authorization_key)
    }
}

/// The result of deciding one message's next state.
#[derive(Debug, Clone)]
pub struct Decision {
    pub message: ClearingMessage,
    pub claim: Option<AuthorizationClaim>,
    /// A dispute step to record on its original first presentment (by id).
    pub dispute: Option<(String, DisputeStep)>,
}

fn outcome_of(
    validation: &Result<ValidClearing, PendingReason>,
    authorization: Option<&Authorization>,
    rules: &MatchingRules,
) -> (MatchOutcome, Option<AuthorizationClaim>) {
    match validation {
        Err(reason) => (MatchOutcome::Pending(reason.clone()), None),
        Ok(valid) => {
            if let Some(outcome) = lifecycle_outcome(valid, authorization) {
                return (outcome, None);
            }
            let outcome = match_clearing(valid, authorization, rules);
            let claim = match (&outcome, authorization) {
                (MatchOutcome::Matched(m), Some(auth)) if valid.is_first_presentment() => {
                    Some(AuthorizationClaim {
                        trans_uid: auth.trans_uid.clone(),
                        clearing_unique_id: valid.clearing_unique_id.clone(),
                        already_held: auth.clearings.contains_key(&valid.clearing_unique_id),
                        authorization_version: auth.version,
                        presentment: ClearedPresentment {
                            amount: m.cleared_amount,
                            reference_number: valid.reference_number.clone(),
                            transaction_date: valid.transaction_local_date,
                        },
                    })
                }
                _ => None,
            };
            (outcome, claim)
        }
    }
}

impl ClearingMessage {
    /// A newly received record, taken straight through RECEIVED to its first outcome.
    pub fn ingest(
        prepared: PreparedRecord,
        card_network: &str,
        authorization: Option<&Authorization>,
        rules: &RulesVersion,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Decision {
        let (outcome, claim) = outcome_of(&prepared.validation, authorization, rules);
        let mut message = ClearingMessage {
            clearing_unique_id: prepared.clearing_unique_id,
            card_network: card_network.to_owned(),
            // Only a value that can be an index key (validation names any other).
            card_hash: key_value(&prepared.record.fields, ClearingField::CardReference)
                .map(str::to_owned),
            status: ClearingStatus::Received,
            version: 1,
            pending_reason: None,
            fields: prepared.record.fields,
            raw_payload: prepared.record.raw,
            received_at: now,
            updated_at: now,
            matched: None,
            reprocessing: None,
            lifecycle: None,
            disputes: Vec::new(),
            // Room for the outcome pushed next (one allocation, not two).
            history: Vec::with_capacity(2),
        };
        message.history.push(Transition {
            version: 1,
            from: None,
            to: ClearingStatus::Received,
            at: now,
            actor: actor.to_owned(),
            reason: Some("clearing notification received".into()),
            pending_reason: None,
            changes: Vec::new(),
            request_id: None,
            action: None,
            rules_version: None,
        });
        message.settle(outcome, actor, None, Vec::new(), None, now);
        message.decided_under(rules);
        let dispute = message.dispute_step();
        Decision {
            message,
            claim,
            dispute,
        }
    }

    /// PENDING -> REPROCESSING for an operator's request.
    pub fn begin_reprocessing(
        &self,
        ticket: ReprocessingTicket,
        now: DateTime<Utc>,
    ) -> Result<Self, TransitionError> {
        self.check(ClearingStatus::Reprocessing)?;
        let mut next = self.clone();
        next.push(Transition {
            version: 0,
            from: Some(self.status),
            to: ClearingStatus::Reprocessing,
            at: now,
            actor: ticket.requested_by.clone(),
            reason: Some(ticket.reconciliation_reason.clone()),
            pending_reason: None,
            changes: Vec::new(),
            request_id: Some(ticket.request_id.clone()),
            action: None,
            rules_version: None,
        });
        next.reprocessing = Some(ticket);
        Ok(next)
    }

    /// REPROCESSING -> PENDING with the same reason, when the request could not be
    /// queued or outlived its lease (its job never finished).
    pub fn release_reprocessing(
        &self,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, TransitionError> {
        self.check(ClearingStatus::Pending)?;
        let mut next = self.clone();
        let request_id = next.reprocessing.take().map(|t| t.request_id);
        next.push(Transition {
            version: 0,
            from: Some(self.status),
            to: ClearingStatus::Pending,
            at: now,
            actor: "system".into(),
            reason: Some(why.to_owned()),
            pending_reason: self.pending_reason.clone(),
            changes: Vec::new(),
            request_id,
            action: None,
            rules_version: None,
        });
        Ok(next)
    }

    /// Applies the operator's adjustments (already checked to parse for their
    /// fields) and validates and matches again, exactly as ingest does.
    /// `authorization` must be looked up with [`Self::authorization_key_after`].
    pub fn finish_reprocessing(
        &self,
        adjustments: &[Adjustment],
        authorization: Option<&Authorization>,
        rules: &RulesVersion,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Decision, TransitionError> {
        if self.status != ClearingStatus::Reprocessing {
            return Err(TransitionError {
                from: self.status,
                to: ClearingStatus::Matched,
            });
        }
        let mut next = self.clone();
        let changes = next.apply_adjustments(adjustments);
        let validation = validate(&next.fields).map_err(PendingReason::invalid_fields);
        let (outcome, claim) = outcome_of(&validation, authorization, rules);
        let ticket = next.reprocessing.take();
        next.settle(
            outcome,
            actor,
            ticket.as_ref().map(|t| t.reconciliation_reason.clone()),
            changes,
            ticket.map(|t| t.request_id),
            now,
        );
        next.decided_under(rules);
        let dispute = next.dispute_step();
        Ok(Decision {
            message: next,
            claim,
            dispute,
        })
    }

    /// The authorization key the record will have once `adjustments` apply,
    /// if it is valid then.
    pub fn authorization_key_after(&self, adjustments: &[Adjustment]) -> Option<AuthorizationKey> {
        let mut fields = self.fields.clone();
        for a in adjustments {
            fields.insert(a.field, a.new_value.clone());
        }
        validate(&fields).ok().map(|v| v.authorization_key())
    }

    fn apply_adjustments(&mut self, adjustments: &[Adjustment]) -> Vec<FieldChange> {
        adjustments
            .iter()
            .map(|a| FieldChange {
                field: a.field,
                old_value: self.fields.insert(a.field, a.new_value.clone()),
                new_value: a.new_value.clone(),
            })
            .collect()
    }

    fn settle(
        &mut self,
        outcome: MatchOutcome,
        actor: &str,
        mut reason: Option<String>,
        changes: Vec<FieldChange>,
        request_id: Option<String>,
        now: DateTime<Utc>,
    ) {
        let mut lifecycle = None;
        let (to, pending_reason, matched) = match outcome {
            MatchOutcome::Matched(details) => (ClearingStatus::Matched, None, Some(details)),
            MatchOutcome::Pending(reason) => (ClearingStatus::Pending, Some(reason), None),
            MatchOutcome::Recorded(link) => {
                lifecycle = Some(link);
                (ClearingStatus::Recorded, None, None)
            }
            MatchOutcome::ForcePosted(why) => {
                // The rule's reason is the transition's own; an operator's stays with it.
                reason = Some(match reason {
                    Some(r) => format!("{r}; {why}"),
                    None => why,
                });
                (ClearingStatus::ForcePosted, None, None)
            }
        };
        self.push(Transition {
            version: 0,
            from: Some(self.status),
            to,
            at: now,
            actor: actor.to_owned(),
            reason,
            pending_reason: pending_reason.clone(),
            changes,
            request_id,
            action: None,
            rules_version: None,
        });
        self.pending_reason = pending_reason;
        self.matched = matched;
        self.lifecycle = lifecycle;
    }

    /// Records on the decision just taken the version of the rules it used.
    fn decided_under(&mut self, rules: &RulesVersion) {
        if let Some(last) = self.history.last_mut() {
            last.rules_version = Some(rules.version);
        }
    }

    /// The authorization whose claim this message holds: a MATCHED first
    /// presentment holds its authorization's (taken with it, never given back).
    pub fn claimed_authorization(&self) -> Option<&str> {
        if self.status != ClearingStatus::Matched {
            return None;
        }
        // A MATCHED message validated, so its function code is the field's text
        // as is: no need to validate it all again on every store write.
        let first_presentment = self
            .fields
            .get(&ClearingField::FunctionCode)
            .is_some_and(|c| super::validate::is_first_presentment_code(c));
        // The first to clear it holds `claimed_by`; later ones of a split do not.
        first_presentment
            .then_some(self.matched.as_ref())
            .flatten()
            .filter(|m| m.earlier_presentments.is_empty())
            .map(|m| m.authorization_trans_uid.as_str())
    }

    /// The fields as they are now, from what is kept anyway: the raw record as
    /// received, read again exactly as ingest read it, with every adjustment the
    /// history records applied in order. Stores keep these two instead of a
    /// second copy of the fields (it would double the item's size).
    pub fn fields_from_record(
        raw_payload: &str,
        history: &[Transition],
    ) -> Result<FieldValues, serde_json::Error> {
        let raw: &serde_json::value::RawValue = serde_json::from_str(raw_payload)?;
        let mut fields = super::notification::parse_record(raw).fields;
        for change in history.iter().flat_map(|t| &t.changes) {
            fields.insert(change.field, change.new_value.clone());
        }
        Ok(fields)
    }

    pub(super) fn push(&mut self, mut transition: Transition) {
        self.version += 1;
        transition.version = self.version;
        self.status = transition.to;
        self.updated_at = transition.at;
        self.history.push(transition);
    }

    fn check(&self, to: ClearingStatus) -> Result<(), TransitionError> {
        if self.status.can_become(to) {
            Ok(())
        } else {
            Err(TransitionError {
                from: self.status,
                to,
            })
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from:?} clearing message cannot become {to:?}")]
pub struct TransitionError {
    pub from: ClearingStatus,
    pub to: ClearingStatus,
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
