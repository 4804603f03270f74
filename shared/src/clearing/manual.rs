//! Operators' manual actions on a clearing message: force match, undo a
//! manual match, and write-off with a second operator's decision
//! (maker-checker). Each is one recorded transition with its action, actor
//! and reason.
//!
//! ```text
//! PENDING -> MATCHED              force match
//! MATCHED -> PENDING              undo (only a forced match), the reason it had before
//! PENDING -> WRITE_OFF_REQUESTED  the maker asks
//! WRITE_OFF_REQUESTED -> WRITTEN_OFF | PENDING   the checker approves or rejects
//! ```

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fields::ClearingField;
use super::matching::{MatchDetails, PendingReason};
use super::message::{AuthorizationClaim, ClearingMessage, ClearingStatus, Transition};
use crate::authorization::Authorization;

/// The tolerance rule a forced match names: an operator's decision, not a rule's.
pub const MANUAL_MATCH_RULE: &str = "MANUAL";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ManualAction {
    ForceMatch,
    UndoMatch,
    WriteOffRequested,
    WriteOffApproved,
    WriteOffRejected,
}

impl ManualAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ForceMatch => "FORCE_MATCH",
            Self::UndoMatch => "UNDO_MATCH",
            Self::WriteOffRequested => "WRITE_OFF_REQUESTED",
            Self::WriteOffApproved => "WRITE_OFF_APPROVED",
            Self::WriteOffRejected => "WRITE_OFF_REJECTED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualActionError {
    #[error("clearing message {id} is {} and must be {} for this action", status.as_str(), needed.as_str())]
    WrongStatus {
        id: String,
        status: ClearingStatus,
        needed: ClearingStatus,
    },
    #[error("clearing message {0} was not matched by an operator's force match; only such a match can be undone")]
    NotManualMatch(String),
    #[error("clearing message {0} has no readable transactionAmount; correct it by reprocessing with an adjustment first")]
    UnreadableAmount(String),
}

impl ClearingMessage {
    fn require(&self, needed: ClearingStatus) -> Result<(), ManualActionError> {
        if self.status == needed {
            return Ok(());
        }
        Err(ManualActionError::WrongStatus {
            id: self.clearing_unique_id.clone(),
            status: self.status,
            needed,
        })
    }

    fn manual(
        &self,
        to: ClearingStatus,
        action: ManualAction,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Self {
        let mut next = self.clone();
        next.push(Transition {
            version: 0,
            from: Some(self.status),
            to,
            at: now,
            actor: actor.to_owned(),
            reason: Some(reason.to_owned()),
            pending_reason: None,
            changes: Vec::new(),
            request_id: None,
            action: Some(action),
            rules_version: None,
        });
        next
    }

    /// PENDING -> MATCHED to the authorization the operator names, with the
    /// difference recorded; a first presentment takes the authorization's claim.
    pub fn force_match(
        &self,
        authorization: &Authorization,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(Self, Option<AuthorizationClaim>), ManualActionError> {
        self.require(ClearingStatus::Pending)?;
        let cleared = self
            .fields
            .get(&ClearingField::TransactionAmount)
            .and_then(|a| a.trim().parse::<Decimal>().ok())
            .ok_or_else(|| ManualActionError::UnreadableAmount(self.clearing_unique_id.clone()))?;
        let difference = cleared
            .checked_sub(authorization.amount)
            .ok_or_else(|| ManualActionError::UnreadableAmount(self.clearing_unique_id.clone()))?;
        let mut next = self.manual(
            ClearingStatus::Matched,
            ManualAction::ForceMatch,
            actor,
            reason,
            now,
        );
        next.pending_reason = None;
        next.matched = Some(MatchDetails {
            authorization_trans_uid: authorization.trans_uid.clone(),
            authorized_amount: authorization.amount,
            cleared_amount: cleared,
            difference,
            currency: authorization.currency.clone(),
            tolerance_rule: Some(MANUAL_MATCH_RULE.into()),
            fx_variance: None,
            cleared_before: Decimal::ZERO,
            earlier_presentments: Vec::new(),
            fully_cleared: true,
            late_presentment: None,
        });
        // What it adds to the authorization's cleared total; a record pending
        // for its date counts on the day the operator matched it.
        let presentment = crate::authorization::ClearedPresentment {
            amount: cleared,
            reference_number: self.fields.get(&ClearingField::ReferenceNumber).cloned(),
            transaction_date: super::fields::transaction_date(&self.fields)
                .unwrap_or_else(|| now.date_naive()),
        };
        let claim = next.claimed_authorization().map(|uid| AuthorizationClaim {
            trans_uid: uid.to_owned(),
            clearing_unique_id: self.clearing_unique_id.clone(),
            already_held: authorization
                .clearings
                .contains_key(&self.clearing_unique_id),
            authorization_version: authorization.version,
            presentment,
        });
        Ok((next, claim))
    }

    /// MATCHED (by a force match) -> PENDING with the reason it had before;
    /// returns the claim to give back, if the match held one.
    pub fn undo_match(
        &self,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(Self, Option<AuthorizationClaim>), ManualActionError> {
        self.require(ClearingStatus::Matched)?;
        let forced = self
            .history
            .last()
            .is_some_and(|t| t.action == Some(ManualAction::ForceMatch));
        if !forced {
            return Err(ManualActionError::NotManualMatch(
                self.clearing_unique_id.clone(),
            ));
        }
        let released = self
            .matched
            .as_ref()
            .filter(|_| self.claimed_authorization().is_some())
            .map(|m| AuthorizationClaim {
                trans_uid: m.authorization_trans_uid.clone(),
                clearing_unique_id: self.clearing_unique_id.clone(),
                already_held: true,
                authorization_version: 0,
                presentment: crate::authorization::ClearedPresentment {
                    amount: m.cleared_amount,
                    reference_number: None,
                    transaction_date: now.date_naive(),
                },
            });
        let before = self.reason_before_match();
        let mut next = self.manual(
            ClearingStatus::Pending,
            ManualAction::UndoMatch,
            actor,
            reason,
            now,
        );
        next.matched = None;
        next.pending_reason = before.clone();
        if let Some(last) = next.history.last_mut() {
            last.pending_reason = before;
        }
        Ok((next, released))
    }

    /// The pending reason of the last transition into PENDING.
    fn reason_before_match(&self) -> Option<PendingReason> {
        self.history
            .iter()
            .rev()
            .find(|t| t.to == ClearingStatus::Pending)
            .and_then(|t| t.pending_reason.clone())
    }

    /// PENDING -> WRITE_OFF_REQUESTED: the maker's request, named by its id.
    pub fn request_write_off(
        &self,
        write_off_id: &str,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, ManualActionError> {
        self.require(ClearingStatus::Pending)?;
        let mut next = self.manual(
            ClearingStatus::WriteOffRequested,
            ManualAction::WriteOffRequested,
            actor,
            reason,
            now,
        );
        if let Some(last) = next.history.last_mut() {
            last.request_id = Some(write_off_id.to_owned());
            last.pending_reason = self.pending_reason.clone();
        }
        Ok(next)
    }

    /// WRITE_OFF_REQUESTED -> WRITTEN_OFF (approved) or back to PENDING with
    /// the reason it had (rejected). Who may decide is the use case's check.
    pub fn decide_write_off(
        &self,
        write_off_id: &str,
        approved: bool,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, ManualActionError> {
        self.require(ClearingStatus::WriteOffRequested)?;
        let (to, action) = if approved {
            (ClearingStatus::WrittenOff, ManualAction::WriteOffApproved)
        } else {
            (ClearingStatus::Pending, ManualAction::WriteOffRejected)
        };
        let mut next = self.manual(to, action, actor, reason, now);
        if let Some(last) = next.history.last_mut() {
            last.request_id = Some(write_off_id.to_owned());
            last.pending_reason = (!approved).then(|| self.pending_reason.clone()).flatten();
        }
        if approved {
            next.pending_reason = None;
        }
        Ok(next)
    }
}

#[cfg(test)]
#[path = "manual_tests.rs"]
mod tests;
