//! The matching rules as versioned data: each version of the rules document
//! says who made it, when and why. Versions are only ever added (a change is
//! version N+1, written only if N+1 does not exist yet); each matcher decision
//! records the version it used, so a change never rewrites a past decision
//! ([0028](../../../docs/decisions/0028-rules-are-versioned-data.md)).

use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::matching::{MatchingRules, DEFAULT_MATCHING_RULES};

/// The author of the first version: the rules the deployment ships with.
pub const SYSTEM_AUTHOR: &str = "system";

/// Longest reason accepted for a change.
pub const MAX_REASON_CHARS: usize = 1000;

/// One version of the rules document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesVersion {
    /// 1 for the shipped rules, then +1 per change.
    pub version: u64,
    /// `system` for version 1, else the operator's subject.
    pub author: String,
    pub changed_at: DateTime<Utc>,
    pub reason: String,
    pub rules: MatchingRules,
}

/// The matcher reads the rules straight through the version that wraps them.
impl Deref for RulesVersion {
    type Target = MatchingRules;
    fn deref(&self) -> &MatchingRules {
        &self.rules
    }
}

/// Why a change of the rules is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesChangeError {
    /// The new rules or the reason are not acceptable (the message names why).
    #[error("{0}")]
    Invalid(String),
    /// The change was computed from a version that is no longer the current one.
    #[error("the rules are at version {current}; this change was made from version {expected}: read them again")]
    Stale { expected: u64, current: u64 },
}

impl RulesVersion {
    /// Version 1: the deployment's rules (`MATCHING_RULES`, else the shipped
    /// file), in force until the first change. `changed_at` is the epoch
    /// until that version is stored (with the first change).
    pub fn first(rules: MatchingRules) -> Self {
        Self {
            version: 1,
            author: SYSTEM_AUTHOR.into(),
            changed_at: DateTime::<Utc>::UNIX_EPOCH,
            reason: "the rules the deployment ships with".into(),
            rules,
        }
    }

    /// Version 1 of the shipped file's rules (tests, benchmarks).
    pub fn shipped() -> Self {
        // The shipped file is checked by a test; it cannot fail to read.
        let rules = MatchingRules::from_json(DEFAULT_MATCHING_RULES)
            .unwrap_or_else(|e| unreachable!("shipped matching rules: {e}"));
        Self::first(rules)
    }

    /// The version after this one: `rules` (JSON, checked as the deployment's
    /// are), by `author`, for `reason`, if this is still `expected_version`.
    pub fn next(
        &self,
        expected_version: u64,
        rules_json: &str,
        author: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, RulesChangeError> {
        if expected_version != self.version {
            return Err(RulesChangeError::Stale {
                expected: expected_version,
                current: self.version,
            });
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(RulesChangeError::Invalid(
                "reason is required: say why the rules change".into(),
            ));
        }
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(RulesChangeError::Invalid(format!(
                "reason is longer than {MAX_REASON_CHARS} characters"
            )));
        }
        let rules = MatchingRules::from_json(rules_json)
            .map_err(|e| RulesChangeError::Invalid(e.to_string()))?;
        Ok(Self {
            version: self.version + 1,
            author: author.to_owned(),
            changed_at: now,
            reason: reason.to_owned(),
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_shipped_rules_are_version_one_by_system() {
        let v1 = RulesVersion::shipped();
        assert_eq!((v1.version, v1.author.as_str()), (1, "system"));
        assert_eq!(
            v1.rules,
            MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap()
        );
        // The matcher reads through the version.
        assert_eq!(v1.fx_variance_percent, v1.rules.fx_variance_percent);
    }

    #[test]
    fn a_change_is_the_next_version_with_its_author_time_and_reason() {
        let v1 = RulesVersion::shipped();
        let v2 = v1
            .next(1, r#"{"tolerances": []}"#, "op-1", "  no tips  ", now())
            .unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.author, "op-1");
        assert_eq!(v2.changed_at, now());
        assert_eq!(v2.reason, "no tips");
        assert!(v2.rules.tolerances.is_empty());
        // The version it came from is untouched.
        assert_eq!(v1, RulesVersion::shipped());
    }

    #[test]
    fn a_change_from_an_older_version_is_stale() {
        let v1 = RulesVersion::shipped();
        let e = v1.next(0, r#"{"tolerances": []}"#, "op", "r", now());
        assert_eq!(
            e,
            Err(RulesChangeError::Stale {
                expected: 0,
                current: 1
            })
        );
    }

    #[test]
    fn bad_rules_or_no_reason_are_refused_naming_the_problem() {
        let v1 = RulesVersion::shipped();
        let negative = r#"{"tolerances": [], "fx_variance_percent": "-1"}"#;
        let e = v1.next(1, negative, "op", "r", now()).unwrap_err();
        assert!(e.to_string().contains("fx_variance_percent"), "{e}");
        let range = r#"{"tolerances": [{"name": "x", "mcc_from": 9, "mcc_to": 1, "max_over_percent": "1"}]}"#;
        let e = v1.next(1, range, "op", "r", now()).unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
        let e = v1.next(1, "{", "op", "r", now()).unwrap_err();
        assert!(matches!(e, RulesChangeError::Invalid(_)), "{e}");
        let e = v1
            .next(1, r#"{"tolerances": []}"#, "op", " ", now())
            .unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        let e = v1
            .next(1, r#"{"tolerances": []}"#, "op", &long, now())
            .unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
    }
}
