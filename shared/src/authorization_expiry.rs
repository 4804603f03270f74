//! Authorization expiry: an approved authorization not cleared in full within
//! its window (by merchant category) expires; a clearing arriving after that
//! is a late presentment.
//!
//! The window is fixed when the authorization is stored, with the rules in
//! force then ([`ExpiryTerms`]); changing the rules later never moves the
//! expiry of what is stored. The sweep ([`Authorization::expire`]) is a
//! versioned change like a reversal: recorded in the history, announced as
//! `authorization.expired`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::authorization::{Authorization, AuthorizationStatus};
use crate::authorization_change::{AuthorizationChange, AuthorizationChangeKind};
use crate::clearing::MatchingRules;

/// Authorizations of merchant categories `mcc_from..=mcc_to` expire `days`
/// after they were authorized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryWindow {
    pub name: String,
    pub mcc_from: u16,
    pub mcc_to: u16,
    pub days: u32,
}

/// What becomes of a first presentment whose authorization has expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LatePresentmentRule {
    /// Matched as usual, with the lateness recorded (`matched.late_presentment`).
    MatchAndFlag,
    /// Held PENDING `LATE_PRESENTMENT` for an operator.
    #[default]
    Hold,
}

/// The window of any merchant category no rule names.
pub fn default_expiry_days() -> u32 {
    7
}

/// Most days a window may last: what the sweep's look-back must cover is bounded.
pub const MAX_EXPIRY_DAYS: u32 = 366;

/// When an authorization expires, fixed when it was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiryTerms {
    pub window_days: u32,
    /// The rule that gave the window (`default` when none named the category).
    pub window_rule: String,
    pub expires_at: DateTime<Utc>,
    /// The day the sweep looks for it: the expiry date, or the day it was
    /// stored when that is later (an authorization stored already past its window).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub sweep_on: NaiveDate,
}

impl MatchingRules {
    /// The window for an authorization's merchant category.
    pub fn expiry_window(&self, mcc: Option<&str>) -> (u32, String) {
        let mcc: Option<u16> = mcc.and_then(|m| m.parse().ok());
        mcc.and_then(|mcc| {
            self.expiry_windows
                .iter()
                .find(|w| (w.mcc_from..=w.mcc_to).contains(&mcc))
        })
        .map_or((self.default_expiry_days, "default".to_owned()), |w| {
            (w.days, w.name.clone())
        })
    }

    /// The expiry of an authorization stored at `stored_at`: only an approved
    /// one can expire.
    pub fn expiry_terms(
        &self,
        auth: &Authorization,
        stored_at: DateTime<Utc>,
    ) -> Option<ExpiryTerms> {
        if auth.status != AuthorizationStatus::Approved {
            return None;
        }
        let (days, rule) = self.expiry_window(auth.merchant_category_code.as_deref());
        let expires_at = auth
            .authorized_at
            .checked_add_signed(Duration::days(i64::from(days)))?;
        Some(ExpiryTerms {
            window_days: days,
            window_rule: rule,
            expires_at,
            sweep_on: expires_at.date_naive().max(stored_at.date_naive()),
        })
    }

    pub(crate) fn check_expiry(&self) -> Result<(), String> {
        let days = std::iter::once(self.default_expiry_days)
            .chain(self.expiry_windows.iter().map(|w| w.days));
        if days.clone().any(|d| d == 0 || d > MAX_EXPIRY_DAYS) {
            return Err(format!(
                "every expiry window must be 1 to {MAX_EXPIRY_DAYS} days"
            ));
        }
        match self
            .expiry_windows
            .iter()
            .find(|w| w.mcc_from > w.mcc_to || w.mcc_to > 9999)
        {
            Some(w) => Err(format!(
                "expiry window `{}` has an impossible range",
                w.name
            )),
            None => Ok(()),
        }
    }
}

/// What the sweep does with one authorization.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpiryDecision {
    /// Expired now: the authorization one version later.
    Expire(Box<Authorization>),
    /// Its window is still open.
    NotDue(DateTime<Utc>),
    /// Nothing left to expire (cleared in full, reversed, declined, expired
    /// already, or stored without a window): it leaves the sweep's index.
    Closed,
}

impl Authorization {
    /// What the first presentments cleared so far (None if out of range).
    pub fn cleared_amount(&self) -> Option<Decimal> {
        self.cleared_except("")
    }

    /// Whether the first presentments cleared all that is still authorized.
    pub fn fully_cleared(&self) -> bool {
        self.cleared_amount()
            .is_some_and(|cleared| cleared >= self.open_amount())
    }

    /// Whether the sweep must still look at it: approved, with a window, not cleared in full.
    pub fn awaits_expiry(&self) -> bool {
        self.status == AuthorizationStatus::Approved
            && self.expiry.is_some()
            && !self.fully_cleared()
    }

    /// The sweep's decision at `now`.
    pub fn expire(&self, now: DateTime<Utc>) -> ExpiryDecision {
        let Some(terms) = self.expiry.as_ref().filter(|_| self.awaits_expiry()) else {
            return ExpiryDecision::Closed;
        };
        if now < terms.expires_at {
            return ExpiryDecision::NotDue(terms.expires_at);
        }
        let uncleared = self
            .cleared_amount()
            .and_then(|c| self.open_amount().checked_sub(c))
            .unwrap_or_else(|| self.open_amount());
        let mut next = self.clone();
        next.status = AuthorizationStatus::Expired;
        next.version = self.version + 1;
        next.history.push(AuthorizationChange {
            version: next.version,
            kind: AuthorizationChangeKind::Expired,
            amount: uncleared,
            status: AuthorizationStatus::Expired,
            reversed_amount: self.reversed_amount,
            at: now,
            actor: "scheduler:authorization-expiry".into(),
            // One expiry per authorization: a second sweep finds it done.
            change_id: format!("expiry:{}", self.trans_uid),
            matched_clearing: None,
            raw_payload: expiry_note(self, terms),
        });
        ExpiryDecision::Expire(Box::new(next))
    }
}

/// What the history records as the expiry's cause.
fn expiry_note(auth: &Authorization, terms: &ExpiryTerms) -> String {
    serde_json::json!({
        "authorized_at": auth.authorized_at,
        "window_days": terms.window_days,
        "window_rule": terms.window_rule,
        "expires_at": terms.expires_at,
        "cleared_amount": auth.cleared_amount().map(|d| d.to_string()),
    })
    .to_string()
}

/// For an operator: when the authorization was made, its window and when it expired.
pub fn late_presentment_note(auth: &Authorization) -> String {
    match &auth.expiry {
        Some(t) => format!(
            "authorization {} of {} expired on {} after its {}-day window (`{}`)",
            auth.trans_uid,
            auth.authorized_at.date_naive(),
            t.expires_at.date_naive(),
            t.window_days,
            t.window_rule
        ),
        None => format!(
            "authorization {} of {} has expired",
            auth.trans_uid,
            auth.authorized_at.date_naive()
        ),
    }
}

/// What a match on an expired authorization records (rule `MATCH_AND_FLAG`); none otherwise.
pub fn late_presentment_flag(auth: &Authorization) -> Option<String> {
    (auth.status == AuthorizationStatus::Expired).then(|| {
        format!(
            "{}: matched by rule MATCH_AND_FLAG",
            late_presentment_note(auth)
        )
    })
}

#[cfg(test)]
#[path = "authorization_expiry_tests.rs"]
mod tests;
