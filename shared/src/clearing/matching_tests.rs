//! Matching: unit tests.
use super::*;
use crate::clearing::fields::ClearingField;
use chrono::Utc;
use std::str::FromStr;

fn clearing(amount: &str, mcc: &str) -> ValidClearing {
    let mut fields = crate::clearing::validate::tests_support::seed_fields();
    fields.insert(ClearingField::TransactionLocalDate, "2024-04-24".into());
    fields.insert(ClearingField::TransactionAmount, amount.into());
    fields.insert(ClearingField::MerchantCategoryCode, mcc.into());
    // DE25 1402: the amount may differ from the authorization's.
    fields.insert(ClearingField::MessageReasonCode, "1402".into());
    crate::clearing::validate::validate(&fields).unwrap()
}

fn with(mut c: ValidClearing, f: impl FnOnce(&mut ValidClearing)) -> ValidClearing {
    f(&mut c);
    c
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
        clearings: Default::default(),
        expiry: None,
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
fn other_categories_are_divergent_and_lower_amounts_clear_part_by_rule() {
    assert_eq!(
        reason(match_clearing(
            &clearing("12.35", "4111"),
            Some(&auth("12.34")),
            &rules()
        )),
        PendingReasonCode::AmountDivergent
    );
    let MatchOutcome::Matched(m) =
        match_clearing(&clearing("90.00", "5812"), Some(&auth("100.00")), &rules())
    else {
        panic!("a partial capture did not match")
    };
    assert!(!m.fully_cleared);
    assert_eq!(m.difference.to_string(), "-10.00");
    let mut strict = rules();
    strict.allow_partial_clearing = false;
    assert_eq!(
        reason(match_clearing(
            &clearing("90.00", "5812"),
            Some(&auth("100.00")),
            &strict
        )),
        PendingReasonCode::AmountDivergent
    );
}

fn cleared(amount: &str, reference: &str) -> crate::authorization::ClearedPresentment {
    crate::authorization::ClearedPresentment {
        amount: Decimal::from_str(amount).unwrap(),
        reference_number: Some(reference.into()),
        transaction_date: chrono::NaiveDate::from_ymd_opt(2024, 4, 24).unwrap(),
    }
}

#[test]
fn split_shipments_clear_cumulatively_within_the_tolerance_on_the_total() {
    let mut split = auth("100.00");
    split
        .clearings
        .insert("first-60".into(), cleared("60.00", "OTHERREF"));
    let MatchOutcome::Matched(m) =
        match_clearing(&clearing("40.00", "4111"), Some(&split), &rules())
    else {
        panic!("the second shipment did not match")
    };
    assert!(m.fully_cleared);
    assert_eq!(m.cleared_before.to_string(), "60.00");
    assert_eq!(m.earlier_presentments, ["first-60"]);
    assert!(m.difference.is_zero());
    // Past the total: pending, with the totals in the reason.
    let MatchOutcome::Pending(r) =
        match_clearing(&clearing("40.01", "4111"), Some(&split), &rules())
    else {
        panic!("past the authorization matched")
    };
    assert_eq!(r.code, PendingReasonCode::AmountDivergent);
    assert!(
        r.detail
            .contains("60.00 cleared before by first-60 makes 100.01 in total"),
        "{}",
        r.detail
    );
    // A restaurant's tolerance applies to the total.
    let mut tab = auth("100.00");
    tab.clearings
        .insert("first".into(), cleared("60.00", "OTHERREF"));
    assert!(matches!(
        match_clearing(&clearing("60.00", "5812"), Some(&tab), &rules()),
        MatchOutcome::Matched(_)
    ));
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
    // A true duplicate: same amount, reference and date as a presentment that cleared it.
    let seed_reference = clearing("12.34", "4111").reference_number.unwrap();
    let mut claimed = auth("12.34");
    claimed
        .clearings
        .insert("another-clearing".into(), cleared("12.34", &seed_reference));
    let MatchOutcome::Pending(r) =
        match_clearing(&clearing("12.34", "4111"), Some(&claimed), &rules())
    else {
        panic!("a true duplicate matched")
    };
    assert_eq!(r.code, PendingReasonCode::DuplicatePresentment);
    assert!(r.detail.contains("another-clearing"), "{}", r.detail);
    // Its own entry (a redelivery) is not a duplicate.
    let mut own = auth("12.34");
    own.clearings.insert(
        "202404261024009777553".into(),
        cleared("12.34", &seed_reference),
    );
    assert!(matches!(
        match_clearing(&clearing("12.34", "4111"), Some(&own), &rules()),
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

#[test]
fn reason_code_1401_with_a_different_amount_waits_and_says_both_amounts() {
    let tip = with(clearing("110.00", "5812"), |c| {
        c.message_reason_code = Some("1401".into())
    });
    let MatchOutcome::Pending(r) = match_clearing(&tip, Some(&auth("100.00")), &rules()) else {
        panic!("1401 with a tip matched")
    };
    assert_eq!(r.code, PendingReasonCode::ReasonCodeMismatch);
    assert!(
        r.detail.contains("expected 100.00 USD, arrived 110.00"),
        "{}",
        r.detail
    );
    let same = with(clearing("100.00", "5812"), |c| {
        c.message_reason_code = Some("1401".into())
    });
    assert!(matches!(
        match_clearing(&same, Some(&auth("100.00")), &rules()),
        MatchOutcome::Matched(_)
    ));
}

#[test]
fn reason_code_1400_without_authorization_follows_the_rule() {
    let unauthorized = with(clearing("25.00", "4111"), |c| {
        c.message_reason_code = Some("1400".into())
    });
    let mut rules = rules();
    rules.not_previously_authorized = NotPreviouslyAuthorizedRule::ForcePost;
    let MatchOutcome::ForcePosted(why) = match_clearing(&unauthorized, None, &rules) else {
        panic!("not force-posted")
    };
    assert!(why.contains("1400") && why.contains("FORCE_POST"), "{why}");
    rules.not_previously_authorized = NotPreviouslyAuthorizedRule::Hold;
    assert_eq!(
        reason(match_clearing(&unauthorized, None, &rules)),
        PendingReasonCode::NotPreviouslyAuthorized
    );
    // Without 1400 a missing authorization is missing.
    assert_eq!(
        reason(match_clearing(&clearing("25.00", "4111"), None, &rules)),
        PendingReasonCode::AuthorizationNotFound
    );
}

#[test]
fn a_foreign_purchase_compares_the_billed_amount_within_the_exchange_rate_variance() {
    let mut brl = auth("500.00");
    brl.currency = "BRL".into();
    let usd = |billed: &str| {
        with(clearing("100.00", "4111"), |c| {
            c.cardholder_amount = Some(Decimal::from_str(billed).unwrap());
            c.cardholder_currency = Some("BRL".into());
        })
    };
    let rules = rules();
    assert_eq!(rules.fx_variance_percent.to_string(), "3");
    let MatchOutcome::Matched(m) = match_clearing(&usd("510.00"), Some(&brl), &rules) else {
        panic!("not matched")
    };
    assert_eq!(m.fx_variance.unwrap().to_string(), "10.00");
    assert_eq!(m.cleared_amount.to_string(), "510.00");
    assert_eq!(m.currency, "BRL");
    assert!(matches!(
        match_clearing(&usd("486.00"), Some(&brl), &rules),
        MatchOutcome::Matched(_)
    ));
    let MatchOutcome::Pending(r) = match_clearing(&usd("520.00"), Some(&brl), &rules) else {
        panic!("over the variance matched")
    };
    assert_eq!(r.code, PendingReasonCode::AmountDivergent);
    assert!(
        r.detail.contains("cardholderAmount") && r.detail.contains("100.00 USD"),
        "{}",
        r.detail
    );
    // Billed in a third currency: nothing to compare.
    let eur = with(usd("500.00"), |c| {
        c.cardholder_currency = Some("EUR".into())
    });
    let MatchOutcome::Pending(r) = match_clearing(&eur, Some(&brl), &rules) else {
        panic!("matched")
    };
    assert_eq!(r.code, PendingReasonCode::CurrencyMismatch);
    assert!(
        r.detail
            .contains("expected transactionCurrency or cardholderCurrency BRL"),
        "{}",
        r.detail
    );
}
