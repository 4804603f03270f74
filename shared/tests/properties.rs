//! Property tests: the parsers and the matcher under arbitrary input never
//! panic, and every answer is an acknowledgement or a 4xx `{code, message}`.
//! Case counts are kept modest so `cargo test` stays quick.

use chrono::{NaiveDate, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use shared::adapters::memory::MemoryStore;
use shared::api_error::ApiError;
use shared::authorization::{parse_authorization_notification, Authorization, AuthorizationStatus};
use shared::clearing::matching::match_clearing;
use shared::clearing::message::check_adjustments;
use shared::clearing::{
    parse_clearing_notification, ClearingField, MatchOutcome, MatchingRules, ValidClearing,
};
use shared::parse::{parse_decimal, Notation};
use shared::services::IngestService;

const CASES: u32 = 256;

/// Arbitrary JSON, nested a few levels, with the record's field names likely.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let names: Vec<&'static str> = ClearingField::ALL.iter().map(|f| f.name()).collect();
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        "-?[0-9]{1,30}(\\.[0-9]{0,30})?(e-?[0-9]{1,4})?".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        let key = prop_oneof![
            prop::sample::select(names.clone()).prop_map(str::to_owned),
            ".{0,12}"
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body that is mostly an envelope of arbitrary records, sometimes anything at all.
fn body(list: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(json(), 0..6).prop_map(move |records| {
            serde_json::json!({ list: records })
                .to_string()
                .into_bytes()
        }),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn is_client_error(e: &ApiError) -> bool {
    (400..500).contains(&e.status()) && !e.body().is_empty()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_clearing_body_is_an_ack_or_a_4xx(body in body("clearing")) {
        let store = MemoryStore::new();
        let rules = shared::clearing::RulesVersion::shipped();
        let service = IngestService { store: &store, rules: &rules };
        match runtime().block_on(service.ingest_clearing("MASTERCARD", &body)) {
            Ok(ack) => {
                prop_assert_eq!(ack.results.len() + ack.rejected.len(), ack.received);
                let parsed = parse_clearing_notification(&body).unwrap();
                prop_assert_eq!(parsed.len(), ack.received);
            }
            Err(e) => {
                let e = ApiError::from(e);
                prop_assert!(is_client_error(&e), "{} {}", e.status(), e);
            }
        }
    }

    #[test]
    fn any_authorization_body_is_an_ack_or_a_4xx(body in body("authorizations")) {
        let store = MemoryStore::new();
        let rules = shared::clearing::RulesVersion::shipped();
        let service = IngestService { store: &store, rules: &rules };
        match runtime().block_on(service.ingest_authorizations("MASTERCARD", &body)) {
            Ok(ack) => prop_assert_eq!(ack.stored + ack.duplicates + ack.rejected.len(), ack.received),
            Err(e) => {
                let e = ApiError::from(e);
                prop_assert!(is_client_error(&e), "{} {}", e.status(), e);
            }
        }
        // The parser alone, on the same bytes, agrees and never panics.
        let _ = parse_authorization_notification(&body, "MASTERCARD");
    }

    #[test]
    fn any_adjustments_are_accepted_only_when_each_value_parses_for_its_field(
        raw in prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(ClearingField::ALL.to_vec()).prop_map(|f| f.name().to_owned()),
                    ".{0,16}",
                ],
                prop_oneof![".{0,40}", "-?[0-9]{1,20}(\\.[0-9]{0,12})?", "[0-9]{4}-[0-9]{2}-[0-9]{2}"],
            ),
            0..6,
        )
    ) {
        if let Ok(adjustments) = check_adjustments(&raw) {
            prop_assert_eq!(adjustments.len(), raw.len());
            for a in &adjustments {
                prop_assert!(!a.field.is_identity());
                prop_assert!(a.field.kind().check(&a.new_value).is_ok());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES * 4))]

    /// Any text is a decimal or a reason, never a panic; plain decimal text
    /// reads back exactly as written (scale kept: `12.30` stays `12.30`).
    #[test]
    fn decimal_text_is_read_exactly_or_refused(
        any_text in ".{0,48}",
        exponent_text in "-?[0-9]{1,30}(\\.[0-9]{0,30})?[eE][-+]?[0-9]{1,25}",
        plain in "-?(0|[1-9][0-9]{0,13})(\\.[0-9]{1,14})?",
    ) {
        for notation in [Notation::Plain, Notation::JsonNumber] {
            let _ = parse_decimal(&any_text, notation);
            let _ = parse_decimal(&exponent_text, notation);
        }
        let read = parse_decimal(&plain, Notation::Plain).unwrap();
        let expected = if read.is_zero() && plain.starts_with('-') { &plain[1..] } else { plain.as_str() };
        prop_assert_eq!(read.to_string(), expected);
    }
}

fn amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0u64..100_000_000, 0u32..=2).prop_map(|(m, s)| Decimal::new(m as i64, s)),
        (any::<u64>(), 0u32..=2).prop_map(|(m, s)| Decimal::from_i128_with_scale(i128::from(m), s)),
        Just(Decimal::MAX),
        Just(Decimal::ZERO),
    ]
}

/// `authorized` plus a tip of 0% to 40% (to the cent): near the tolerance's edge.
fn tipped(authorized: Decimal) -> impl Strategy<Value = Decimal> {
    (0u32..=4_000).prop_map(move |basis_points| {
        authorized
            .checked_mul(Decimal::new(i64::from(basis_points), 4))
            .and_then(|tip| authorized.checked_add(tip.round_dp(2)))
            .unwrap_or(authorized)
    })
}

fn percent() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0u32..10_000, 0u32..=4).prop_map(|(m, s)| Decimal::new(i64::from(m), s)),
        (any::<u64>(), 0u32..=28)
            .prop_map(|(m, s)| Decimal::from_i128_with_scale(i128::from(m), s)),
        Just(Decimal::MAX),
    ]
}

fn clearing(amount: Decimal, mcc: &str) -> ValidClearing {
    ValidClearing {
        clearing_unique_id: "C".into(),
        card_hash: "card".into(),
        trans_uid: Some("U".into()),
        reference_number: None,
        financial_network_code: None,
        settlement_date: NaiveDate::from_ymd_opt(2024, 4, 26).unwrap(),
        transaction_amount: amount,
        transaction_currency: "USD".into(),
        cardholder_amount: None,
        cardholder_currency: None,
        transaction_local_date: NaiveDate::from_ymd_opt(2024, 4, 24).unwrap(),
        transaction_local_time: None,
        function_code: "200".into(),
        message_reason_code: None,
        merchant_category_code: Some(mcc.into()),
    }
}

fn authorization(amount: Decimal) -> Authorization {
    Authorization {
        trans_uid: "U".into(),
        card_network: "MASTERCARD".into(),
        card_hash: "card".into(),
        financial_network_code: None,
        reference_number: None,
        settlement_date: None,
        amount,
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES * 4))]

    /// Matched means at most the authorization (equal, or a partial capture),
    /// or above it by at most the rule's percent, checked exactly without
    /// division: difference x 100 <= authorized x percent.
    #[test]
    fn a_match_is_always_within_its_tolerance_exactly(
        (authorized, cleared) in amount().prop_flat_map(|a| (Just(a), prop_oneof![amount(), tipped(a)])),
        percent in prop_oneof![percent(), Just(Decimal::from(20))],
        mcc in prop::sample::select(vec!["5812", "7011", "4111", "0000"]),
    ) {
        let rules = MatchingRules::from_json(&serde_json::json!({"tolerances": [
            {"name": "r", "mcc_from": 5812, "mcc_to": 5814, "max_over_percent": percent.to_string()},
            {"name": "h", "mcc_from": 7011, "mcc_to": 7011, "max_over_percent": "15"},
        ]}).to_string()).unwrap();
        let outcome = match_clearing(&clearing(cleared, mcc), Some(&authorization(authorized)), &rules);
        if let MatchOutcome::Matched(details) = outcome {
            prop_assert_eq!(details.difference, cleared - authorized);
            match details.tolerance_rule.as_deref() {
                None => prop_assert!(details.difference <= Decimal::ZERO),
                Some(rule) => {
                    let allowed_percent = if rule == "r" { percent } else { Decimal::from(15) };
                    prop_assert!(details.difference > Decimal::ZERO);
                    let lhs = details.difference.checked_mul(Decimal::ONE_HUNDRED);
                    let rhs = authorized.checked_mul(allowed_percent);
                    if let (Some(lhs), Some(rhs)) = (lhs, rhs) {
                        prop_assert!(lhs <= rhs, "{} x 100 > {} x {}", details.difference, authorized, allowed_percent);
                    }
                }
            }
        }
    }
}
