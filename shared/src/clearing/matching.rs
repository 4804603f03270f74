//! Matching a valid clearing record against its authorization.
//!
//! The rules are data ([`MatchingRules`], loaded from configuration): which
//! merchant categories may clear above the authorized amount, and by how much.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::fields::FieldProblem;
use super::validate::ValidClearing;
use crate::authorization::{Authorization, AuthorizationStatus};
use crate::authorization_expiry::{
    default_expiry_days, late_presentment_flag, late_presentment_note, ExpiryWindow,
    LatePresentmentRule,
};

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
    /// DE25 contradicts the amounts (1401, same amount, with a difference).
    ReasonCodeMismatch,
    /// DE25 1400 (not previously authorized), held by rule.
    NotPreviouslyAuthorized,
    /// A second presentment or chargeback whose first presentment is not found.
    OriginalPresentmentNotFound,
    /// A first presentment whose authorization expired before it arrived, held by rule.
    LatePresentment,
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
            Self::ReasonCodeMismatch => "REASON_CODE_MISMATCH",
            Self::NotPreviouslyAuthorized => "NOT_PREVIOUSLY_AUTHORIZED",
            Self::LatePresentment => "LATE_PRESENTMENT",
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
    /// A foreign-currency purchase: billed (cardholder) amount - authorized,
    /// within the exchange-rate variance allowed. `cleared_amount` is then the billed amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub fx_variance: Option<Decimal>,
    /// Cleared by earlier first presentments of the same authorization
    /// (`difference` is then the cumulative total - authorized).
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub cleared_before: Decimal,
    /// Those earlier first presentments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_presentments: Vec<String>,
    /// Whether the authorization is now cleared in full (else the rest stays open).
    #[serde(default = "fully")]
    pub fully_cleared: bool,
    /// Matched after its authorization expired (rule `MATCH_AND_FLAG`): when
    /// it was authorized, its window and when it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_presentment: Option<String>,
}

fn fully() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    Matched(MatchDetails),
    Pending(PendingReason),
    /// Not a purchase: a dispute step linked to its first presentment, or a fee collection.
    Recorded(super::lifecycle::LifecycleLink),
    /// Posted without an authorization (DE25 1400, by rule), with the reason.
    ForcePosted(String),
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
    /// How far, in percent of the authorized amount, the billed amount of a
    /// foreign-currency purchase may differ from it (either way) and match.
    #[serde(default)]
    pub fx_variance_percent: Decimal,
    /// What becomes of a record the network marks not previously authorized
    /// (DE25 1400) when no authorization is found.
    #[serde(default)]
    pub not_previously_authorized: NotPreviouslyAuthorizedRule,
    /// Whether a first presentment below what is still authorized matches
    /// (a split shipment or partial capture), leaving the rest open.
    #[serde(default = "fully")]
    pub allow_partial_clearing: bool,
    /// Authorization expiry windows by merchant category; any other expires
    /// after `default_expiry_days`.
    #[serde(default)]
    pub expiry_windows: Vec<ExpiryWindow>,
    #[serde(default = "default_expiry_days")]
    pub default_expiry_days: u32,
    /// What becomes of a first presentment whose authorization has expired.
    #[serde(default)]
    pub late_presentment: LatePresentmentRule,
}

/// DE25 1400 with no authorization: post it, or hold it for an operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotPreviouslyAuthorizedRule {
    ForcePost,
    #[default]
    Hold,
}

impl NotPreviouslyAuthorizedRule {
    fn outcome(self, clearing: &ValidClearing) -> MatchOutcome {
        let what = format!(
            "messageReasonCode 1400 (not previously authorized) for {} {}; no authorization for {}",
            clearing.transaction_amount,
            clearing.transaction_currency,
            clearing.authorization_key()
        );
        match self {
            Self::ForcePost => {
                MatchOutcome::ForcePosted(format!("{what}: posted by rule FORCE_POST"))
            }
            Self::Hold => MatchOutcome::Pending(PendingReason::new(
                PendingReasonCode::NotPreviouslyAuthorized,
                format!("{what}: held by rule HOLD"),
            )),
        }
    }
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
        if rules.fx_variance_percent.is_sign_negative() {
            return Err(RulesError("fx_variance_percent is negative".into()));
        }
        rules.check_expiry().map_err(RulesError)?;
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

/// Matches a valid first presentment. `authorization` is what its key found, if anything.
pub fn match_clearing(
    clearing: &ValidClearing,
    authorization: Option<&Authorization>,
    rules: &MatchingRules,
) -> MatchOutcome {
    let Some(auth) = authorization else {
        if clearing.message_reason_code.as_deref() == Some(NOT_PREVIOUSLY_AUTHORIZED) {
            return rules.not_previously_authorized.outcome(clearing);
        }
        return MatchOutcome::Pending(PendingReason::new(
            PendingReasonCode::AuthorizationNotFound,
            format!(
                "expected an authorization for {}; none is stored",
                clearing.authorization_key()
            ),
        ));
    };
    if let Some(reason) = ineligibility(clearing, auth, rules) {
        return MatchOutcome::Pending(reason);
    }
    let Some(billed) = Billed::of(clearing, auth) else {
        return MatchOutcome::Pending(PendingReason::new(
            PendingReasonCode::CurrencyMismatch,
            format!(
                "expected transactionCurrency or cardholderCurrency {} (authorization {}); arrived transactionCurrency {}, cardholderCurrency {}",
                auth.currency,
                auth.trans_uid,
                clearing.transaction_currency,
                clearing.cardholder_currency.as_deref().unwrap_or("(none)")
            ),
        ));
    };
    if let Some(reason) = duplicate_of(clearing, &billed, auth) {
        return MatchOutcome::Pending(reason);
    }
    let outcome = compare_amounts(clearing, &billed, auth, rules);
    check_reason_code(clearing, outcome)
}

/// DE25 1400: the network says the purchase was never authorized.
pub const NOT_PREVIOUSLY_AUTHORIZED: &str = "1400";

/// The amount compared with the authorization: the transaction amount in the
/// authorization's currency, else the cardholder (billing) amount when that is
/// in the authorization's currency (a purchase in a foreign currency).
struct Billed {
    amount: Decimal,
    field: &'static str,
    foreign: bool,
}

impl Billed {
    fn of(clearing: &ValidClearing, auth: &Authorization) -> Option<Self> {
        if clearing.transaction_currency == auth.currency {
            return Some(Self {
                amount: clearing.transaction_amount,
                field: "transactionAmount",
                foreign: false,
            });
        }
        match (&clearing.cardholder_amount, &clearing.cardholder_currency) {
            (Some(amount), Some(currency)) if *currency == auth.currency => Some(Self {
                amount: *amount,
                field: "cardholderAmount",
                foreign: true,
            }),
            _ => None,
        }
    }
}

/// Why this authorization cannot be the record's, whatever the amounts: another
/// card, not approved, or already cleared by another first presentment.
fn ineligibility(
    clearing: &ValidClearing,
    auth: &Authorization,
    rules: &MatchingRules,
) -> Option<PendingReason> {
    use PendingReasonCode::*;
    if auth.card_hash != clearing.card_hash {
        return Some(PendingReason::new(
            CardMismatch,
            format!(
                "expected cardReference {} (authorization {}); arrived {}",
                auth.card_hash, auth.trans_uid, clearing.card_hash
            ),
        ));
    }
    if auth.status == AuthorizationStatus::Expired {
        return match rules.late_presentment {
            LatePresentmentRule::MatchAndFlag => None,
            LatePresentmentRule::Hold => Some(PendingReason::new(
                LatePresentment,
                format!(
                    "expected a presentment within the authorization's window; {}, and this one arrived with transactionLocalDate {}: held by rule HOLD",
                    late_presentment_note(auth),
                    clearing.transaction_local_date
                ),
            )),
        };
    }
    if auth.status != AuthorizationStatus::Approved {
        return Some(PendingReason::new(
            AuthorizationNotApproved,
            format!(
                "expected authorization {} APPROVED; it is {} (authorized {} {}, reversed {})",
                auth.trans_uid,
                format!("{:?}", auth.status).to_uppercase(),
                auth.amount,
                auth.currency,
                auth.reversed_amount
            ),
        ));
    }
    None
}

/// A true duplicate: another first presentment already cleared this
/// authorization with the same amount, reference number and transaction date.
fn duplicate_of(
    clearing: &ValidClearing,
    billed: &Billed,
    auth: &Authorization,
) -> Option<PendingReason> {
    let (id, _) = auth.clearings.iter().find(|(id, c)| {
        id.as_str() != clearing.clearing_unique_id
            && c.amount == billed.amount
            && c.reference_number == clearing.reference_number
            && c.transaction_date == clearing.transaction_local_date
    })?;
    Some(PendingReason::new(
        PendingReasonCode::DuplicatePresentment,
        format!(
            "expected a presentment not seen before; {id} already cleared authorization {} with the same amount {} {}, referenceNumber {} and transactionLocalDate {}",
            auth.trans_uid,
            billed.amount,
            auth.currency,
            clearing.reference_number.as_deref().unwrap_or("(none)"),
            clearing.transaction_local_date
        ),
    ))
}

/// Equal amounts match; a foreign-currency purchase matches within the
/// exchange-rate variance; an amount above the authorization matches within
/// the tolerance of its merchant category; anything else is divergent.
fn compare_amounts(
    clearing: &ValidClearing,
    billed: &Billed,
    auth: &Authorization,
    rules: &MatchingRules,
) -> MatchOutcome {
    let divergent = |detail| {
        MatchOutcome::Pending(PendingReason::new(
            PendingReasonCode::AmountDivergent,
            detail,
        ))
    };
    // What is still authorized: a partial reversal lowers it. Presentments
    // clear it cumulatively: the total so far is compared, this one included.
    let authorized = auth.open_amount();
    let cleared = billed.amount;
    let Some(Cumulative {
        earlier,
        cleared_before,
        difference,
    }) = Cumulative::of(clearing, cleared, authorized, auth)
    else {
        return divergent(format!(
            "{} {cleared} and authorized {authorized} cannot be compared: out of range",
            billed.field
        ));
    };
    let details = |tolerance_rule, fx_variance| MatchDetails {
        authorization_trans_uid: auth.trans_uid.clone(),
        authorized_amount: authorized,
        cleared_amount: cleared,
        difference,
        currency: auth.currency.clone(),
        tolerance_rule,
        fx_variance,
        cleared_before,
        earlier_presentments: earlier.clone(),
        fully_cleared: difference >= Decimal::ZERO,
        late_presentment: late_presentment_flag(auth),
    };
    if difference.is_zero() {
        return MatchOutcome::Matched(details(None, None));
    }
    if difference.is_sign_negative() && rules.allow_partial_clearing {
        // A split shipment or partial capture: the rest stays authorized.
        return MatchOutcome::Matched(details(None, None));
    }
    let totals = totals_note(&earlier, cleared_before, cleared);
    let fx_within =
        percent_of(authorized, rules.fx_variance_percent).is_some_and(|a| difference.abs() <= a);
    if billed.foreign && fx_within {
        let rule = format!(
            "exchange-rate variance within {}%",
            rules.fx_variance_percent
        );
        return MatchOutcome::Matched(details(Some(rule), Some(difference)));
    }
    let mcc = clearing
        .merchant_category_code
        .as_deref()
        .or(auth.merchant_category_code.as_deref());
    let rule = rules
        .tolerance_for(mcc)
        .filter(|_| difference > Decimal::ZERO);
    let fx_note = fx_note(clearing, billed, rules);
    let Some(rule) = rule else {
        return divergent(format!(
            "expected {} {authorized} {} (authorization {}{}); arrived {cleared}{totals} (difference {difference}); no tolerance applies to merchant category {}{fx_note}",
            billed.field,
            auth.currency,
            auth.trans_uid,
            reversed_note(auth),
            mcc.unwrap_or("(none)")
        ));
    };
    // Exact: allowed = authorized * percent / 100, no rounding before comparing.
    match percent_of(authorized, rule.max_over_percent) {
        Some(allowed) if difference <= allowed => {
            MatchOutcome::Matched(details(Some(rule.name.clone()), None))
        }
        allowed => divergent(format!(
            "expected {} at most {authorized} {} plus {}% (`{}`, up to {}); arrived {cleared}{totals}, {difference} above{fx_note}",
            billed.field,
            auth.currency,
            rule.max_over_percent,
            rule.name,
            allowed.map_or("(out of range)".to_owned(), |a| a.to_string())
        )),
    }
}

/// `amount * percent / 100`, exact; checked, so an absurd amount is divergent
/// rather than a panic.
fn percent_of(amount: Decimal, percent: Decimal) -> Option<Decimal> {
    amount
        .checked_mul(percent)
        .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
}

/// For an operator: what was reversed of the authorized amount.
fn reversed_note(auth: &Authorization) -> String {
    if auth.reversed_amount.is_zero() {
        return String::new();
    }
    format!(", {} reversed of {}", auth.reversed_amount, auth.amount)
}

/// This presentment with those that cleared the authorization before it.
struct Cumulative {
    earlier: Vec<String>,
    cleared_before: Decimal,
    /// The total, this one included, less what is still authorized.
    difference: Decimal,
}

impl Cumulative {
    /// None when the sums are out of range.
    fn of(
        clearing: &ValidClearing,
        cleared: Decimal,
        authorized: Decimal,
        auth: &Authorization,
    ) -> Option<Self> {
        let id = clearing.clearing_unique_id.as_str();
        let cleared_before = auth.cleared_except(id)?;
        let difference = cleared_before
            .checked_add(cleared)?
            .checked_sub(authorized)?;
        Some(Self {
            earlier: auth
                .clearings
                .keys()
                .filter(|k| k.as_str() != id)
                .cloned()
                .collect(),
            cleared_before,
            difference,
        })
    }
}

/// For an operator: what was cleared before and the total it makes.
fn totals_note(earlier: &[String], cleared_before: Decimal, cleared: Decimal) -> String {
    if earlier.is_empty() {
        return String::new();
    }
    format!(
        "; {cleared_before} cleared before by {} makes {} in total",
        earlier.join(", "),
        cleared_before.checked_add(cleared).unwrap_or(cleared)
    )
}

/// For an operator: how a foreign purchase was billed and the variance allowed.
fn fx_note(clearing: &ValidClearing, billed: &Billed, rules: &MatchingRules) -> String {
    if !billed.foreign {
        return String::new();
    }
    format!(
        " (a foreign purchase: {} {} billed; exchange-rate variance allowed {}%)",
        clearing.transaction_amount, clearing.transaction_currency, rules.fx_variance_percent
    )
}

/// DE25 1401 says the cleared amount is the authorized one: a match with a
/// difference contradicts it and waits for an operator.
fn check_reason_code(clearing: &ValidClearing, outcome: MatchOutcome) -> MatchOutcome {
    match (&outcome, clearing.message_reason_code.as_deref()) {
        (MatchOutcome::Matched(m), Some("1401"))
            if !m.difference.is_zero() && m.fx_variance.is_none() && m.earlier_presentments.is_empty() =>
        {
            MatchOutcome::Pending(PendingReason::new(
                PendingReasonCode::ReasonCodeMismatch,
                format!(
                    "messageReasonCode 1401 says the amount is the authorized one: expected {} {}, arrived {} (difference {}); 1402 would say it differs",
                    m.authorized_amount, m.currency, m.cleared_amount, m.difference
                ),
            ))
        }
        _ => outcome,
    }
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
