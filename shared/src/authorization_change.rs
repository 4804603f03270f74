//! Authorizations change over time: an approval may be reversed, in full or
//! in part, after it was stored (and after a clearing matched it).
//!
//! Each authorization record received is one change, identified by a digest
//! of its bytes: a redelivery finds its change in the history and changes
//! nothing. A reversal (status `REVERSED`, optional `reversalAmount`, else the
//! whole amount) adds to the reversed total; once nothing is left open the
//! authorization is REVERSED. An approval or decline for an authorization
//! already stored is a repeat of what is known and changes nothing.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::authorization::{Authorization, AuthorizationStatus};

/// What one authorization record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorizationChangeKind {
    Approved,
    Declined,
    Reversed,
    PartiallyReversed,
    /// Not cleared in full within its window (the sweep); `amount` is what was left uncleared.
    Expired,
}

/// One recorded change of an authorization: what arrived, when, and the state after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationChange {
    pub version: u64,
    pub kind: AuthorizationChangeKind,
    /// The amount approved or reversed by this record.
    pub amount: Decimal,
    /// The status after the change.
    pub status: AuthorizationStatus,
    /// The reversed total after the change.
    pub reversed_amount: Decimal,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// Digest of the record as received: the same record again is the same change.
    pub change_id: String,
    /// The first presentment already MATCHED to the authorization when it was
    /// reversed, if any: that clearing is announced with the reversal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_clearing: Option<String>,
    /// The record as received.
    pub raw_payload: String,
}

/// The identity of a change: a digest of the record's bytes.
pub fn change_id(raw_payload: &str) -> String {
    hex::encode(&Sha256::digest(raw_payload.as_bytes())[..16])
}

/// What applying a received record to the stored authorization gives.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizationUpdate {
    /// The stored authorization after the change, one version later.
    Changed(Box<Authorization>),
    /// This very record was applied before, at that version (a redelivery).
    AlreadyApplied(u64),
    /// Nothing new: an approval or decline of what is stored, or a reversal of
    /// an authorization with nothing left open.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationChangeError {
    #[error("the reversal is in {reversal} but authorization {trans_uid} is in {authorized}")]
    CurrencyMismatch {
        trans_uid: String,
        reversal: String,
        authorized: String,
    },
    #[error(
        "the reversal names card {reversal} but authorization {trans_uid} belongs to another card"
    )]
    CardMismatch { trans_uid: String, reversal: String },
}

impl Authorization {
    /// What is still authorized: the amount less what was reversed.
    pub fn open_amount(&self) -> Decimal {
        self.amount
            .checked_sub(self.reversed_amount)
            .filter(|d| !d.is_sign_negative())
            .unwrap_or(Decimal::ZERO)
    }

    /// The change this record made when it was first stored (a new
    /// authorization's only history entry).
    pub fn received_change(&self) -> Option<&AuthorizationChange> {
        self.history.first()
    }

    /// Applies a received record (parsed as a new authorization) to this stored one.
    pub fn apply(
        &self,
        incoming: &Authorization,
    ) -> Result<AuthorizationUpdate, AuthorizationChangeError> {
        let Some(change) = incoming.received_change() else {
            return Ok(AuthorizationUpdate::Unchanged);
        };
        if let Some(done) = self
            .history
            .iter()
            .find(|c| c.change_id == change.change_id)
        {
            return Ok(AuthorizationUpdate::AlreadyApplied(done.version));
        }
        let reversal = matches!(
            change.kind,
            AuthorizationChangeKind::Reversed | AuthorizationChangeKind::PartiallyReversed
        );
        if !reversal || self.status == AuthorizationStatus::Reversed {
            return Ok(AuthorizationUpdate::Unchanged);
        }
        if incoming.currency != self.currency {
            return Err(AuthorizationChangeError::CurrencyMismatch {
                trans_uid: self.trans_uid.clone(),
                reversal: incoming.currency.clone(),
                authorized: self.currency.clone(),
            });
        }
        if incoming.card_hash != self.card_hash {
            return Err(AuthorizationChangeError::CardMismatch {
                trans_uid: self.trans_uid.clone(),
                reversal: incoming.card_hash.clone(),
            });
        }
        let mut next = self.clone();
        // Never more than the amount: what is open cannot go below zero.
        let reversed = self
            .reversed_amount
            .checked_add(change.amount)
            .filter(|r| *r < self.amount)
            .unwrap_or(self.amount);
        let (kind, status) = if reversed == self.amount {
            (
                AuthorizationChangeKind::Reversed,
                AuthorizationStatus::Reversed,
            )
        } else {
            (AuthorizationChangeKind::PartiallyReversed, self.status)
        };
        next.reversed_amount = reversed;
        next.status = status;
        next.version = self.version + 1;
        next.history.push(AuthorizationChange {
            version: next.version,
            kind,
            amount: change.amount,
            status,
            reversed_amount: reversed,
            at: change.at,
            actor: change.actor.clone(),
            change_id: change.change_id.clone(),
            matched_clearing: self.claimed_by.clone(),
            raw_payload: change.raw_payload.clone(),
        });
        Ok(AuthorizationUpdate::Changed(Box::new(next)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::parse_authorization_notification;

    fn record(status: &str, extra: &str) -> Authorization {
        let body = format!(
            r#"{{"authorizations": [{{"transUid": "T1", "cardReference": "C1", "transactionAmount": 100.00,
                "transactionCurrency": "USD", "authorizationDateTime": "2024-04-24T16:00:00Z",
                "status": "{status}"{extra}}}]}}"#
        );
        parse_authorization_notification(body.as_bytes(), "MASTERCARD").unwrap()[0]
            .clone()
            .unwrap()
    }

    fn changed(u: AuthorizationUpdate) -> Authorization {
        match u {
            AuthorizationUpdate::Changed(a) => *a,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn a_full_reversal_reverses_the_whole_open_amount_and_is_recorded() {
        let approved = record("APPROVED", "");
        assert_eq!(approved.version, 1);
        assert_eq!(approved.history.len(), 1);
        let reversed = changed(approved.apply(&record("REVERSED", "")).unwrap());
        assert_eq!(reversed.status, AuthorizationStatus::Reversed);
        assert_eq!(reversed.version, 2);
        assert_eq!(reversed.open_amount(), Decimal::ZERO);
        let last = reversed.history.last().unwrap();
        assert_eq!(last.kind, AuthorizationChangeKind::Reversed);
        assert_eq!(last.version, 2);
    }

    #[test]
    fn partial_reversals_add_up_until_nothing_is_open() {
        let approved = record("APPROVED", "");
        let partial = changed(
            approved
                .apply(&record("REVERSED", r#", "reversalAmount": 30.00"#))
                .unwrap(),
        );
        assert_eq!(partial.status, AuthorizationStatus::Approved);
        assert_eq!(partial.open_amount().to_string(), "70.00");
        assert_eq!(
            partial.history.last().unwrap().kind,
            AuthorizationChangeKind::PartiallyReversed
        );
        let rest = changed(
            partial
                .apply(&record("REVERSED", r#", "reversalAmount": 70.00"#))
                .unwrap(),
        );
        assert_eq!(rest.status, AuthorizationStatus::Reversed);
        assert_eq!(rest.version, 3);
    }

    #[test]
    fn a_redelivered_reversal_is_already_applied_and_an_approval_again_changes_nothing() {
        let approved = record("APPROVED", "");
        let reversal = record("REVERSED", r#", "reversalAmount": 30.00"#);
        let once = changed(approved.apply(&reversal).unwrap());
        assert_eq!(
            once.apply(&reversal).unwrap(),
            AuthorizationUpdate::AlreadyApplied(2)
        );
        assert_eq!(
            approved.apply(&record("APPROVED", "")).unwrap(),
            AuthorizationUpdate::AlreadyApplied(1)
        );
        let mut other_approval = record("APPROVED", r#", "merchantCategoryCode": "5812""#);
        other_approval.trans_uid = "T1".into();
        assert_eq!(
            once.apply(&other_approval).unwrap(),
            AuthorizationUpdate::Unchanged
        );
    }

    #[test]
    fn a_reversal_before_its_approval_is_stored_reversed_and_the_approval_changes_nothing() {
        let reversal_first = record("REVERSED", "");
        assert_eq!(reversal_first.status, AuthorizationStatus::Reversed);
        assert_eq!(reversal_first.open_amount(), Decimal::ZERO);
        assert_eq!(
            reversal_first.apply(&record("APPROVED", "")).unwrap(),
            AuthorizationUpdate::Unchanged
        );
        let partial_first = record("REVERSED", r#", "reversalAmount": 25.00"#);
        assert_eq!(partial_first.status, AuthorizationStatus::Approved);
        assert_eq!(partial_first.open_amount().to_string(), "75.00");
    }

    #[test]
    fn a_reversal_of_a_matched_authorization_names_the_clearing() {
        let mut approved = record("APPROVED", "");
        approved.claimed_by = Some("clr-1".into());
        let reversed = changed(approved.apply(&record("REVERSED", "")).unwrap());
        assert_eq!(
            reversed.history.last().unwrap().matched_clearing.as_deref(),
            Some("clr-1")
        );
    }

    #[test]
    fn a_reversal_in_another_currency_is_refused() {
        let approved = record("APPROVED", "");
        let mut eur = record("REVERSED", "");
        eur.currency = "EUR".into();
        assert!(matches!(
            approved.apply(&eur),
            Err(AuthorizationChangeError::CurrencyMismatch { .. })
        ));
    }
}
