//! Matching a valid clearing record against its authorization.
//!
//! The rules are data ([`MatchingRules`], loaded from configuration): which
//! merchant categories may clear above the authorized amount, and by how much.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fields::FieldProblem;
use super::validate::ValidClearing;
use crate::authorization::{Authorization, AuthorizationStatus};

/// Why a clearing message waits for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PendingReasonCode {
    InvalidField,
    AuthorizationNotFound,
    AuthorizationNotApproved,
    CardMismatch,
    AmountDivergent,
    CurrencyMismatch,
    DuplicatePresentment,
    /// A second presentment or chargeback whose first presentment is not found.
    OriginalPresentmentNotFound,
}

impl PendingReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidField => "INVALID_FIELD",
            Self::AuthorizationNotFound => "AUTHORIZATION_NOT_FOUND",
            Self::AuthorizationNotApproved => "AUTHORIZATION_NOT_APPROVED",
            Self::CardMismatch => "CARD_MISMATCH",
            Self::AmountDivergent => "AMOUNT_DIVERGENT",
            Self::CurrencyMismatch => "CURRENCY_MISMATCH",
            Self::DuplicatePresentment => "DUPLICATE_PRESENTMENT",
            Self::OriginalPresentmentNotFound => "ORIGINAL_PRESENTMENT_NOT_FOUND",
        }
    }
}

/// The reason with what an operator needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingReason {
    pub code: PendingReasonCode,
    pub detail: String,
    /// For INVALID_FIELD: every field at fault and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

impl PendingReason {
    pub fn invalid_fields(problems: Vec<FieldProblem>) -> Self {
        let detail = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            code: PendingReasonCode::InvalidField,
            detail,
            fields: problems,
        }
    }

    fn new(code: PendingReasonCode, detail: String) -> Self {
        Self {
            code,
            detail,
            fields: Vec::new(),
        }
    }
}

/// What was matched and by how much the amounts differ; amounts are exact decimals as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MatchDetails {
    pub authorization_trans_uid: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "12.34"))]
    pub authorized_amount: Decimal,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub cleared_amount: Decimal,
    /// cleared - authorized; zero for an exact match, positive for a tip.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub difference: Decimal,
    pub currency: String,
    /// The tolerance rule that allowed a difference, if one was needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_rule: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    Matched(MatchDetails),
    Pending(PendingReason),
    /// Not a purchase: a dispute step linked to its first presentment, or a fee collection.
    Recorded(super::lifecycle::LifecycleLink),
}

/// Clearing above the authorization is allowed up to `max_over_percent`
/// for merchant category codes `mcc_from..=mcc_to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToleranceRule {
    pub name: String,
    pub mcc_from: u16,
    pub mcc_to: u16,
    pub max_over_percent: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchingRules {
    pub tolerances: Vec<ToleranceRule>,
}

/// The rules shipped with the product; deployments override them with the
/// `MATCHING_RULES` environment variable (same JSON).
pub const DEFAULT_MATCHING_RULES: &str = include_str!("../../config/matching-rules.json");

#[derive(Debug, thiserror::Error)]
#[error("matching rules are invalid: {0}")]
pub struct RulesError(String);

impl MatchingRules {
    pub fn from_json(json: &str) -> Result<Self, RulesError> {
        let rules: Self = serde_json::from_str(json).map_err(|e| RulesError(e.to_string()))?;
        for r in &rules.tolerances {
            if r.mcc_from > r.mcc_to || r.mcc_to > 9999 || r.max_over_percent.is_sign_negative() {
                return Err(RulesError(format!(
                    "rule `{}` has an impossible range or percent",
                    r.name
                )));
            }
        }
        Ok(rules)
    }

    /// Rules from `MATCHING_RULES` if set, else the shipped defaults.
    pub fn from_env() -> Result<Self, RulesError> {
        match std::env::var("MATCHING_RULES") {
            Ok(json) if !json.trim().is_empty() => Self::from_json(&json),
            _ => Self::from_json(DEFAULT_MATCHING_RULES),
        }
    }

    fn tolerance_for(&self, mcc: Option<&str>) -> Option<&ToleranceRule> {
        let mcc: u16 = mcc?.parse().ok()?;
        self.tolerances
            .iter()
            .find(|r| (r.mcc_from..=r.mcc_to).contains(&mcc))
    }
}

/// Matches a valid record. `authorization` is what its key found, if anything.
pub fn match_clearing(
    clearing: &ValidClearing,
    authorization: Option<&Authorization>,
    rules: &MatchingRules,
) -> MatchOutcome {
    let Some(auth) = authorization else {
        return MatchOutcome::Pending(PendingReason::new(
            PendingReasonCode::AuthorizationNotFound,
            format!(
                "no authorization found for {}",
                clearing.authorization_key()
            ),
        ));
    };
    match ineligibility(clearing, auth) {
        Some(reason) => MatchOutcome::Pending(reason),
        None => compare_amounts(clearing, auth, rules),
    }
}

/// Why this authorization cannot be the record's, whatever the amounts: another
/// card, not approved, another currency, or already cleared by another first presentment.
fn ineligibility(clearing: &ValidClearing, auth: &Authorization) -> Option<PendingReason> {
    use PendingReasonCode::*;
    if auth.card_hash != clearing.card_hash {
        return Some(PendingReason::new(
            CardMismatch,
            format!("authorization {} belongs to another card", auth.trans_uid),
        ));
    }
    if auth.status != AuthorizationStatus::Approved {
        return Some(PendingReason::new(
            AuthorizationNotApproved,
            format!("authorization {} is {:?}", auth.trans_uid, auth.status).to_uppercase(),
        ));
    }
    if auth.currency != clearing.transaction_currency {
        return Some(PendingReason::new(
            CurrencyMismatch,
            format!(
                "cleared in {} but authorized in {}",
                clearing.transaction_currency, auth.currency
            ),
        ));
    }
    let other = auth
        .claimed_by
        .as_deref()
        .filter(|id| *id != clearing.clearing_unique_id)?;
    clearing.is_first_presentment().then(|| {
        PendingReason::new(
            DuplicatePresentment,
            format!(
                "authorization {} was already cleared by {other}",
                auth.trans_uid
            ),
        )
    })
}

/// Equal amounts match; an amount above the authorization matches within the
/// tolerance of its merchant category; anything else is divergent.
fn compare_amounts(
    clearing: &ValidClearing,
    auth: &Authorization,
    rules: &MatchingRules,
) -> MatchOutcome {
    let divergent = |detail| {
        MatchOutcome::Pending(PendingReason::new(
            PendingReasonCode::AmountDivergent,
            detail,
        ))
    };
    // What is still authorized: a partial reversal lowers it.
    let authorized = auth.open_amount();
    let Some(difference) = clearing.transaction_amount.checked_sub(authorized) else {
        return divergent(format!(
            "cleared {} and authorized {} cannot be compared: out of range",
            clearing.transaction_amount, authorized
        ));
    };
    let details = |tolerance_rule| MatchDetails {
        authorization_trans_uid: auth.trans_uid.clone(),
        authorized_amount: authorized,
        cleared_amount: clearing.transaction_amount,
        difference,
        currency: auth.currency.clone(),
        tolerance_rule,
    };
    if difference.is_zero() {
        return MatchOutcome::Matched(details(None));
    }
    let mcc = clearing
        .merchant_category_code
        .as_deref()
        .or(auth.merchant_category_code.as_deref());
    let rule = rules
        .tolerance_for(mcc)
        .filter(|_| difference > Decimal::ZERO);
    let Some(rule) = rule else {
        return divergent(format!(
            "cleared {} {} but authorized {} (difference {difference}); no tolerance applies to merchant category {}",
            clearing.transaction_amount,
            auth.currency,
            authorized,
            mcc.unwrap_or("(none)")
        ));
    };
    // Exact: allowed = authorized * percent / 100, no rounding before comparing;
    // checked, so an absurd amount is divergent rather than a panic.
    let allowed = auth
        .amount
        .checked_mul(rule.max_over_percent)
        .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED));
    match allowed {
        Some(allowed) if difference <= allowed => MatchOutcome::Matched(details(Some(rule.name.clone()))),
        _ => divergent(format!(
            "cleared {} {} is {difference} above the authorized {}, more than the {}% allowed by `{}`",
            clearing.transaction_amount, auth.currency, authorized, rule.max_over_percent, rule.name
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clearing::fields::ClearingField;
    use chrono::Utc;
    use std::str::FromStr;

    fn clearing(amount: &str, mcc: &str) -> ValidClearing {
        let mut fields = crate::clearing::validate::tests_support::seed_fields();
        fields.insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
        fields.insert(ClearingField::TransactionAmount, amount.into());
        fields.insert(ClearingField::MerchantCategoryCode, mcc.into());
        crate::clearing::validate::validate(&fields).unwrap()
    }

    fn auth(amount: &str) -> Authorization {
        Authorization {
            trans_uid: "20240426O9EC2A".into(),
            card_network: "MASTERCARD".into(),
            card_hash: "47r45e73-7dwe-43f9-bk6b-5096F5reb5cd".into(),
            financial_network_code: Some("MCF".into()),
            reference_number: Some("MCFO9EC2A".into()),
            settlement_date: None,
            amount: Decimal::from_str(amount).unwrap(),
            currency: "USD".into(),
            merchant_category_code: None,
            authorized_at: Utc::now(),
            status: AuthorizationStatus::Approved,
            claimed_by: None,
            raw_payload: "{}".into(),
            reversed_amount: Decimal::ZERO,
            version: 1,
            history: Vec::new(),
        }
    }

    fn rules() -> MatchingRules {
        MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap()
    }

    fn reason(outcome: MatchOutcome) -> PendingReasonCode {
        match outcome {
            MatchOutcome::Pending(r) => r.code,
            other => panic!("expected pending, got {other:?}"),
        }
    }

    #[test]
    fn a_tolerance_on_an_amount_near_the_decimal_limit_is_divergent_not_a_panic() {
        // 20% of 28 nines overflows a Decimal: checked, so the record waits for an operator.
        let outcome = match_clearing(
            &clearing("9999999999999999999999999999", "5812"),
            Some(&auth("9999999999999999999999999998")),
            &rules(),
        );
        assert_eq!(reason(outcome), PendingReasonCode::AmountDivergent);
    }

    #[test]
    fn equal_amount_matches_with_zero_difference() {
        let MatchOutcome::Matched(m) =
            match_clearing(&clearing("12.34", "4111"), Some(&auth("12.34")), &rules())
        else {
            panic!("not matched")
        };
        assert!(m.difference.is_zero());
        assert_eq!(m.tolerance_rule, None);
    }

    #[test]
    fn restaurant_tip_within_twenty_percent_matches_and_records_the_difference() {
        let MatchOutcome::Matched(m) =
            match_clearing(&clearing("120.00", "5812"), Some(&auth("100.00")), &rules())
        else {
            panic!("not matched")
        };
        assert_eq!(m.difference.to_string(), "20.00");
        assert!(m.tolerance_rule.is_some());
        // One cent over the limit is divergent.
        assert_eq!(
            reason(match_clearing(
                &clearing("120.01", "5812"),
                Some(&auth("100.00")),
                &rules()
            )),
            PendingReasonCode::AmountDivergent
        );
    }

    #[test]
    fn lodging_allows_fifteen_percent() {
        assert!(matches!(
            match_clearing(&clearing("115.00", "7011"), Some(&auth("100.00")), &rules()),
            MatchOutcome::Matched(_)
        ));
        assert_eq!(
            reason(match_clearing(
                &clearing("115.01", "7011"),
                Some(&auth("100.00")),
                &rules()
            )),
            PendingReasonCode::AmountDivergent
        );
    }

    #[test]
    fn other_categories_and_lower_amounts_are_divergent() {
        assert_eq!(
            reason(match_clearing(
                &clearing("12.35", "4111"),
                Some(&auth("12.34")),
                &rules()
            )),
            PendingReasonCode::AmountDivergent
        );
        assert_eq!(
            reason(match_clearing(
                &clearing("90.00", "5812"),
                Some(&auth("100.00")),
                &rules()
            )),
            PendingReasonCode::AmountDivergent
        );
    }

    #[test]
    fn missing_mismatched_and_claimed_authorizations_are_pending() {
        assert_eq!(
            reason(match_clearing(&clearing("12.34", "4111"), None, &rules())),
            PendingReasonCode::AuthorizationNotFound
        );
        let mut eur = auth("12.34");
        eur.currency = "EUR".into();
        assert_eq!(
            reason(match_clearing(
                &clearing("12.34", "4111"),
                Some(&eur),
                &rules()
            )),
            PendingReasonCode::CurrencyMismatch
        );
        let mut claimed = auth("12.34");
        claimed.claimed_by = Some("another-clearing".into());
        assert_eq!(
            reason(match_clearing(
                &clearing("12.34", "4111"),
                Some(&claimed),
                &rules()
            )),
            PendingReasonCode::DuplicatePresentment
        );
        claimed.claimed_by = Some("202404261024009777553".into());
        assert!(matches!(
            match_clearing(&clearing("12.34", "4111"), Some(&claimed), &rules()),
            MatchOutcome::Matched(_)
        ));
        let mut declined = auth("12.34");
        declined.status = AuthorizationStatus::Declined;
        assert_eq!(
            reason(match_clearing(
                &clearing("12.34", "4111"),
                Some(&declined),
                &rules()
            )),
            PendingReasonCode::AuthorizationNotApproved
        );
    }

    #[test]
    fn a_partially_reversed_authorization_clears_only_what_is_left() {
        let mut partly = auth("100.00");
        partly.reversed_amount = Decimal::from_str("30.00").unwrap();
        let MatchOutcome::Matched(m) =
            match_clearing(&clearing("70.00", "4111"), Some(&partly), &rules())
        else {
            panic!("not matched")
        };
        assert_eq!(m.authorized_amount.to_string(), "70.00");
        assert_eq!(
            reason(match_clearing(
                &clearing("100.00", "4111"),
                Some(&partly),
                &rules()
            )),
            PendingReasonCode::AmountDivergent
        );
        let mut reversed = auth("100.00");
        reversed.status = AuthorizationStatus::Reversed;
        assert_eq!(
            reason(match_clearing(
                &clearing("100.00", "4111"),
                Some(&reversed),
                &rules()
            )),
            PendingReasonCode::AuthorizationNotApproved
        );
    }

    #[test]
    fn rules_reject_impossible_ranges() {
        assert!(MatchingRules::from_json(
            r#"{"tolerances":[{"name":"x","mcc_from":10,"mcc_to":5,"max_over_percent":"1"}]}"#
        )
        .is_err());
        assert!(MatchingRules::from_json("not json").is_err());
    }
}
