use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

use super::*;

const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/pix-financial-reconciliation.schema.json"
);
const EXAMPLE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../spec/pix-financial-reconciliation.example.json"
);

const E2E: &str = "E4086716320220629204700103800548";
const DAY: &str = "2021-10-29";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn tx_json(amount: &str) -> String {
    format!(
        r#"{{"kind": "PIX_OUT_TRANSFER", "transaction_id": "67c1c555-9f40-4eb1-bc20-621086cc3c98",
            "end_to_end_id": "{E2E}", "amount": {amount}, "authorization_id": 123,
            "authorization_datetime": "2021-10-29T11:00:00.000Z", "business_date": "{DAY}"}}"#
    )
}

fn entry_json(amount: &str) -> String {
    format!(
        r#"{{"end_to_end_id": "{E2E}", "provider_amount": {amount},
            "provider_authorization_id": "17579222", "business_date": "{DAY}"}}"#
    )
}

fn tx(amount: &str) -> PixTransaction {
    parse_pix_transaction(tx_json(amount)).unwrap()
}

fn entry(amount: &str) -> ProviderEntry {
    parse_provider_entry(entry_json(amount)).unwrap()
}

fn closed() -> ProviderReportClosed {
    parse_provider_report_closed(format!(
        r#"{{"business_date": "{DAY}", "entry_count": 1, "total_amount": "1.00"}}"#
    ))
    .unwrap()
}

fn run(inputs: &[PixInput]) -> (PixReconciliation, Vec<Option<FinancialReconciliation>>) {
    let mut state = PixReconciliation::new(E2E);
    let mut seen = Vec::new();
    for input in inputs {
        state = apply(state, input.clone()).unwrap();
        seen.push(decide(&state));
    }
    (state, seen)
}

/// Outcomes observed along a run: once one exists it must never change.
fn single_outcome(seen: &[Option<FinancialReconciliation>]) -> Option<FinancialReconciliation> {
    let first = seen.iter().position(Option::is_some)?;
    for later in &seen[first..] {
        assert_eq!(
            later, &seen[first],
            "the outcome changed after it was decided"
        );
    }
    seen[first].clone()
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA_PATH).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Validates an emitted detail against the seed schema, and checks it has
/// exactly the schema's properties (the schema itself allows extra ones).
fn assert_valid_detail(detail: &FinancialReconciliation) -> Value {
    let text = detail.to_json().unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let validator = validator();
    if let Err(error) = validator.validate(&value) {
        panic!("{text} does not validate: {error}");
    }
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA_PATH).unwrap()).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for key in value.as_object().unwrap().keys() {
        assert!(
            properties.contains_key(key),
            "{key} is not a schema property"
        );
    }
    for required in schema["required"].as_array().unwrap() {
        assert!(
            value.get(required.as_str().unwrap()).is_some(),
            "{required} missing"
        );
    }
    // Round trip through the exact parser.
    assert_eq!(&parse_financial_reconciliation(&text).unwrap(), detail);
    value
}

/// Removes the whitespace outside strings (keeps key order, unlike `Value`).
fn minify(json: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Outcomes

#[test]
fn equal_amounts_are_ok() {
    let (state, seen) = run(&[
        PixInput::Transaction(tx("125.5")),
        PixInput::ProviderEntry(entry("\"125.50\"")),
    ]);
    assert_eq!(seen[0], None);
    let detail = seen[1].clone().unwrap();
    assert_eq!(detail.result_description, ResultDescription::Ok);
    assert!(detail.result);
    assert_eq!(
        state.outcome,
        Some(Outcome {
            result_description: ResultDescription::Ok
        })
    );
    let value = assert_valid_detail(&detail);
    assert_eq!(value["provider_authorization_id"], "17579222");
    assert_eq!(value["authorization_id"], 123);
}

#[test]
fn different_amounts_are_divergent() {
    let (_, seen) = run(&[
        PixInput::ProviderEntry(entry("125.49")),
        PixInput::Transaction(tx("125.5")),
    ]);
    let detail = seen[1].clone().unwrap();
    assert_eq!(
        detail.result_description,
        ResultDescription::TransactionAmountDivergent
    );
    assert!(!detail.result);
    assert_eq!(detail.amount, dec("125.5"));
    assert_eq!(detail.provider_amount, Some(dec("125.49")));
    let text = detail.to_json().unwrap();
    assert!(
        text.contains(r#""amount":125.5,"#) && text.contains(r#""provider_amount":125.49,"#),
        "{text}"
    );
    assert_valid_detail(&detail);
}

#[test]
fn transaction_alone_after_its_day_closed_is_provider_transaction_not_found() {
    let (_, seen) = run(&[
        PixInput::Transaction(tx("10.00")),
        PixInput::ProviderReportClosed(closed()),
    ]);
    assert_eq!(seen[0], None);
    let detail = seen[1].clone().unwrap();
    assert_eq!(
        detail.result_description,
        ResultDescription::ProviderTransactionNotFound
    );
    assert!(!detail.result);
    let value = assert_valid_detail(&detail);
    assert_eq!(value["provider_amount"], Value::Null);
    assert!(
        value.get("provider_authorization_id").is_none(),
        "the key is omitted, not null"
    );
    assert_eq!(
        value["transaction_id"],
        "67c1c555-9f40-4eb1-bc20-621086cc3c98"
    );
    assert!(detail.to_json().unwrap().contains(r#""amount":10.00,"#));
}

#[test]
fn provider_entry_alone_after_its_day_closed_is_pismo_transaction_not_found() {
    let (_, seen) = run(&[
        PixInput::ProviderEntry(entry("99.9")),
        PixInput::ProviderReportClosed(closed()),
    ]);
    assert_eq!(
        seen[0], None,
        "a provider entry alone waits for its day to close"
    );
    let detail = seen[1].clone().unwrap();
    assert_eq!(
        detail.result_description,
        ResultDescription::PismoTransactionNotFound
    );
    assert!(!detail.result);
    // The documented choice: transaction_id = end_to_end_id, amount = provider_amount.
    assert_eq!(detail.transaction_id, E2E);
    assert_eq!(detail.amount, dec("99.9"));
    assert_eq!(detail.provider_amount, Some(dec("99.9")));
    let value = assert_valid_detail(&detail);
    assert_eq!(value["authorization_id"], Value::Null);
    assert_eq!(value["authorization_datetime"], Value::Null);
    assert_eq!(value["provider_authorization_id"], "17579222");
}

#[test]
fn nothing_else_decides() {
    let other_day = ProviderReportClosed {
        business_date: day("2021-10-30"),
        ..closed()
    };
    for inputs in [
        vec![PixInput::Transaction(tx("1"))],
        vec![PixInput::ProviderEntry(entry("1"))],
        vec![PixInput::ProviderReportClosed(closed())],
        vec![
            PixInput::Transaction(tx("1")),
            PixInput::ProviderReportClosed(other_day),
        ],
        vec![
            PixInput::ProviderEntry(entry("1")),
            PixInput::ProviderReportClosed(other_day),
        ],
    ] {
        let (state, seen) = run(&inputs);
        assert!(seen.iter().all(Option::is_none), "{inputs:?}");
        assert!(!state.is_decided());
    }
    let state = apply_transaction(PixReconciliation::new(E2E), tx("1")).unwrap();
    assert_eq!(state.relevant_business_date(), Some(day(DAY)));
    assert!(!state.provider_report_closed());
}

#[test]
fn result_is_true_only_for_ok() {
    for description in ResultDescription::ALL {
        assert_eq!(description.result(), description == ResultDescription::Ok);
        assert_eq!(
            serde_json::to_string(&description).unwrap(),
            format!("\"{}\"", description.as_str())
        );
    }
}

// ---------------------------------------------------------------------------
// Order and duplicates

fn permutations(items: &[PixInput]) -> Vec<Vec<PixInput>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

/// Each order, then the same order with every input duplicated (adjacent, and
/// the whole sequence replayed in reverse afterwards).
fn with_duplicates(order: &[PixInput]) -> Vec<Vec<PixInput>> {
    let doubled: Vec<PixInput> = order.iter().flat_map(|i| [i.clone(), i.clone()]).collect();
    let replayed: Vec<PixInput> = order.iter().chain(order.iter().rev()).cloned().collect();
    vec![order.to_vec(), doubled, replayed]
}

fn facts(state: &PixReconciliation) -> Vec<PixInput> {
    let mut all: Vec<PixInput> = state
        .transaction
        .clone()
        .map(PixInput::Transaction)
        .into_iter()
        .chain(state.provider_entry.clone().map(PixInput::ProviderEntry))
        .chain(state.late_inputs.iter().cloned())
        .chain(state.conflicting_inputs.iter().cloned())
        .collect();
    all.sort_by_key(|i| serde_json::to_string(i).unwrap());
    all
}

#[test]
fn all_six_orders_with_duplicates_give_exactly_one_final_outcome() {
    for (tx_amount, entry_amount, both_sides) in [
        ("125.5", "125.50", ResultDescription::Ok),
        (
            "125.5",
            "125.51",
            ResultDescription::TransactionAmountDivergent,
        ),
    ] {
        let t = PixInput::Transaction(tx(tx_amount));
        let e = PixInput::ProviderEntry(entry(entry_amount));
        let c = PixInput::ProviderReportClosed(closed());
        let mut all_facts = Vec::new();
        for order in permutations(&[t.clone(), e.clone(), c.clone()]) {
            // The close is a deadline: a side applied after it is late. Which
            // outcome a given order yields is fixed; it is the same with any
            // duplication, and only ever one.
            let first_side_is_tx =
                order.iter().position(|i| i == &t) < order.iter().position(|i| i == &e);
            let expected = if order[2] == c {
                both_sides
            } else if first_side_is_tx {
                ResultDescription::ProviderTransactionNotFound
            } else {
                ResultDescription::PismoTransactionNotFound
            };
            let mut details = Vec::new();
            for sequence in with_duplicates(&order) {
                let (state, seen) = run(&sequence);
                let detail = single_outcome(&seen).expect("decided");
                assert_eq!(detail.result_description, expected, "{sequence:?}");
                assert_valid_detail(&detail);
                // A late side is recorded, exactly once, however often it came.
                assert_eq!(
                    state.late_inputs.len(),
                    usize::from(order[2] != c),
                    "{sequence:?}"
                );
                all_facts.push(facts(&state));
                details.push(detail);
            }
            assert!(details.windows(2).all(|w| w[0] == w[1]));
        }
        // Whatever the order, the state ends up knowing the same two sides.
        assert!(all_facts.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(all_facts[0], vec![e.clone(), t.clone()].tap_sort());
    }
}

#[test]
fn both_sides_before_the_close_agree_in_every_order_with_duplicates() {
    // The caller applies a day's closure after that day's entries: then every
    // interleaving of (transaction, entry) and duplicates gives the same outcome.
    let t = PixInput::Transaction(tx("300"));
    let e = PixInput::ProviderEntry(entry("300.00"));
    let c = PixInput::ProviderReportClosed(closed());
    let mut states = Vec::new();
    for order in permutations(&[t.clone(), e.clone(), t.clone(), e.clone()]) {
        for tail in [
            vec![c.clone()],
            vec![c.clone(), t.clone(), c.clone(), e.clone()],
        ] {
            let sequence: Vec<PixInput> = order.iter().cloned().chain(tail).collect();
            let (state, seen) = run(&sequence);
            assert_eq!(
                single_outcome(&seen).unwrap().result_description,
                ResultDescription::Ok
            );
            states.push(state);
        }
    }
    assert!(
        states.windows(2).all(|w| w[0] == w[1]),
        "the states are identical"
    );
}

#[test]
fn reapplying_an_input_changes_nothing() {
    let t = tx("1.00");
    let once = apply_transaction(PixReconciliation::new(E2E), t.clone()).unwrap();
    let twice = apply_transaction(once.clone(), t.clone()).unwrap();
    assert_eq!(once, twice);
    let decided = apply_day_closed(once, day(DAY));
    let again = apply_day_closed(decided.clone(), day(DAY));
    let again = apply_transaction(again, t).unwrap();
    assert_eq!(decided, again);
    assert_eq!(
        decide(&decided).unwrap().event_id(),
        decide(&again).unwrap().event_id()
    );
}

trait TapSort {
    fn tap_sort(self) -> Self;
}
impl TapSort for Vec<PixInput> {
    fn tap_sort(mut self) -> Self {
        self.sort_by_key(|i| serde_json::to_string(i).unwrap());
        self
    }
}

// ---------------------------------------------------------------------------
// Late and conflicting inputs

#[test]
fn provider_entry_after_provider_transaction_not_found_is_recorded_and_changes_nothing() {
    let state = apply_transaction(PixReconciliation::new(E2E), tx("50")).unwrap();
    let state = apply_day_closed(state, day(DAY));
    let first = decide(&state).unwrap();
    assert_eq!(
        first.result_description,
        ResultDescription::ProviderTransactionNotFound
    );
    let first_json = first.to_json().unwrap();

    let late = entry("50");
    let state = apply_provider_entry(state, late.clone()).unwrap();
    let state = apply_provider_entry(state, late.clone()).unwrap();
    assert_eq!(
        state.outcome.unwrap().result_description,
        ResultDescription::ProviderTransactionNotFound
    );
    assert_eq!(
        state.provider_entry, None,
        "the decided-on sides are kept as they were"
    );
    assert_eq!(
        state.late_inputs,
        vec![PixInput::ProviderEntry(late)],
        "recorded once"
    );
    let again = decide(&state).unwrap();
    assert_eq!(
        again.to_json().unwrap(),
        first_json,
        "byte-identical re-emission"
    );
    assert_eq!(again.event_id(), first.event_id());
}

#[test]
fn transaction_after_pismo_transaction_not_found_is_recorded_and_changes_nothing() {
    let state = apply_provider_entry(PixReconciliation::new(E2E), entry("7.5")).unwrap();
    let state = apply_day_closed(state, day(DAY));
    let first = decide(&state).unwrap();
    assert_eq!(
        first.result_description,
        ResultDescription::PismoTransactionNotFound
    );
    let state = apply_transaction(state, tx("7.5")).unwrap();
    let state = apply_day_closed(state, day("2021-10-30"));
    assert_eq!(decide(&state), Some(first));
    assert_eq!(state.transaction, None);
    assert_eq!(state.late_inputs.len(), 1);
}

#[test]
fn a_different_transaction_for_the_same_end_to_end_id_is_a_conflict_kept_canonically() {
    let a = tx("10");
    let mut b = tx("10");
    b.transaction_id = "another-pismo-id".into();
    b.kind = Some(PixTransactionKind::PixReversal);
    let one = apply_transaction(
        apply_transaction(PixReconciliation::new(E2E), a.clone()).unwrap(),
        b.clone(),
    )
    .unwrap();
    let other = apply_transaction(
        apply_transaction(PixReconciliation::new(E2E), b.clone()).unwrap(),
        a.clone(),
    )
    .unwrap();
    assert_eq!(one, other, "the same state whatever the arrival order");
    assert_eq!(one.conflicting_inputs.len(), 1);
    let decided = apply_provider_entry(one, entry("10")).unwrap();
    assert_eq!(
        decide(&decided).unwrap().result_description,
        ResultDescription::Ok
    );
    let after = apply_transaction(decided.clone(), a).unwrap();
    let after = apply_transaction(after, b).unwrap();
    assert_eq!(after, decided, "known inputs are not late inputs");
}

#[test]
fn an_input_for_another_end_to_end_id_is_refused() {
    let mut other = tx("1");
    other.end_to_end_id = "E0000000120240101000000000000001".into();
    let error = apply_transaction(PixReconciliation::new(E2E), other).unwrap_err();
    assert_eq!(error.state, E2E);
    let mut other_entry = entry("1");
    other_entry.end_to_end_id = "E0000000120240101000000000000001".into();
    assert!(apply_provider_entry(PixReconciliation::new(E2E), other_entry).is_err());
}

#[test]
fn the_state_round_trips_through_storage_json() {
    let state = apply_transaction(PixReconciliation::new(E2E), tx("125.5")).unwrap();
    let state = apply_day_closed(state, day(DAY));
    let state = apply_provider_entry(state, entry("125.5")).unwrap();
    let stored = serde_json::to_string(&state).unwrap();
    let loaded: PixReconciliation = serde_json::from_str(&stored).unwrap();
    assert_eq!(loaded, state);
    assert_eq!(decide(&loaded), decide(&state));
    // A stored transaction is itself acceptable input.
    let stored_tx = serde_json::to_string(state.transaction.as_ref().unwrap()).unwrap();
    assert_eq!(
        &parse_pix_transaction(stored_tx).unwrap(),
        state.transaction.as_ref().unwrap()
    );
}

// ---------------------------------------------------------------------------
// The event

#[test]
fn event_id_is_stable_v5_over_the_documented_name() {
    let state = apply_transaction(PixReconciliation::new(E2E), tx("1")).unwrap();
    let detail = decide(&apply_day_closed(state, day(DAY))).unwrap();
    let expected = uuid::Uuid::new_v5(
        &crate::events::EVENT_ID_NAMESPACE,
        format!("pix/financial_reconciliation/1/{E2E}").as_bytes(),
    );
    assert_eq!(detail.event_id(), expected);
    assert_eq!(detail.event_id().get_version_num(), 5);
    assert_eq!(financial_reconciliation_event_id(E2E), expected);
    assert_ne!(
        financial_reconciliation_event_id("E4086716320220629204700103800549"),
        expected
    );
    assert_eq!(
        (EVENT_SOURCE, EVENT_DETAIL_TYPE, EVENT_VERSION),
        ("pix", "financial_reconciliation", 1)
    );
}

#[test]
fn the_schema_files_resolve_beside_the_repository() {
    assert!(std::path::Path::new(SCHEMA_PATH).is_file(), "{SCHEMA_PATH}");
    assert!(
        std::path::Path::new(EXAMPLE_PATH).is_file(),
        "{EXAMPLE_PATH}"
    );
    // The seed example itself validates, so the validator is really checking.
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(EXAMPLE_PATH).unwrap()).unwrap();
    assert!(validator().is_valid(&example));
    let mut bad = example.clone();
    bad["amount"] = Value::String("125.5".into());
    assert!(
        !validator().is_valid(&bad),
        "a string amount must fail the schema"
    );
}

#[test]
fn the_seed_example_round_trips_byte_for_byte() {
    let seed = std::fs::read_to_string(EXAMPLE_PATH).unwrap();
    let parsed = parse_financial_reconciliation(&seed).unwrap();
    assert_eq!(parsed.amount.to_string(), "125.5");
    assert_eq!(parsed.to_json().unwrap(), minify(&seed));

    // And the same detail is what the core emits from the matching inputs.
    let (_, seen) = run(&[
        PixInput::Transaction(tx("125.5")),
        PixInput::ProviderEntry(entry("125.5")),
    ]);
    let emitted = single_outcome(&seen).unwrap();
    assert_eq!(emitted, parsed);
    assert_eq!(emitted.to_json().unwrap(), minify(&seed));
}

#[test]
fn amounts_serialize_with_their_exact_digits() {
    for (input, printed) in [
        ("0.10", "0.10"),
        ("\"0.1\"", "0.1"),
        ("125.5", "125.5"),
        ("\"12.30\"", "12.30"),
        ("12.300", "12.30"),
        ("1.255e2", "125.5"),
        ("1E3", "1000"),
        ("\"98765432109876543.21\"", "98765432109876543.21"), // beyond f64's 15-17 digits
    ] {
        let (_, seen) = run(&[
            PixInput::Transaction(tx(input)),
            PixInput::ProviderReportClosed(closed()),
        ]);
        let detail = single_outcome(&seen).unwrap();
        let text = detail.to_json().unwrap();
        assert!(
            text.starts_with(&format!(r#"{{"amount":{printed},"#)),
            "{input} -> {text}"
        );
        assert_valid_detail(&detail);
    }
}

#[test]
fn every_outcome_with_and_without_optional_fields_validates() {
    let bare_tx = parse_pix_transaction(format!(
        r#"{{"transaction_id": "t-1", "end_to_end_id": "{E2E}", "amount": 1, "business_date": "{DAY}"}}"#
    ))
    .unwrap();
    assert_eq!(
        (
            bare_tx.authorization_id,
            &bare_tx.authorization_datetime,
            bare_tx.kind
        ),
        (None, &None, None)
    );
    let offset_tx = parse_pix_transaction(format!(
        r#"{{"transaction_id": "t-1", "end_to_end_id": "{E2E}", "amount": 1, "authorization_id": null,
            "authorization_datetime": "2021-10-29t08:00:00.123456-03:00", "business_date": "{DAY}"}}"#
    ))
    .unwrap();
    let kept = offset_tx.authorization_datetime.clone().unwrap();
    assert_eq!(kept.as_str(), "2021-10-29T08:00:00.123456-03:00");
    assert_eq!(
        kept.instant().to_rfc3339(),
        "2021-10-29T08:00:00.123456-03:00"
    );
    let mut count = 0;
    for t in [bare_tx, offset_tx, tx("5")] {
        for inputs in [
            vec![
                PixInput::Transaction(t.clone()),
                PixInput::ProviderEntry(entry("5")),
            ],
            vec![
                PixInput::Transaction(t.clone()),
                PixInput::ProviderEntry(entry("6")),
            ],
            vec![
                PixInput::Transaction(t.clone()),
                PixInput::ProviderReportClosed(closed()),
            ],
            vec![
                PixInput::ProviderEntry(entry("5")),
                PixInput::ProviderReportClosed(closed()),
            ],
        ] {
            let (_, seen) = run(&inputs);
            assert_valid_detail(&single_outcome(&seen).unwrap());
            count += 1;
        }
    }
    assert_eq!(count, 12);
}

// ---------------------------------------------------------------------------
// Bad input

fn tx_error(body: &str) -> PixInputError {
    parse_pix_transaction(body).unwrap_err()
}

fn tx_with(field: &str, value: &str) -> String {
    let mut object: serde_json::Map<String, Value> = serde_json::from_str(&tx_json("1")).unwrap();
    object.remove(field);
    let mut text = serde_json::to_string(&object).unwrap();
    text.pop();
    format!(r#"{text},"{field}":{value}}}"#)
}

fn assert_invalid(error: PixInputError, field: &str, reason_contains: &str) {
    match &error {
        PixInputError::InvalidField { field: f, reason } => {
            assert_eq!(*f, field, "{error}");
            assert!(reason.contains(reason_contains), "{error}");
            assert!(error.to_string().contains(field));
        }
        other => panic!("expected an invalid `{field}`, got {other:?}"),
    }
}

#[test]
fn amount_as_a_string_is_accepted_exactly() {
    let t = parse_pix_transaction(tx_with("amount", "\"12.30\"")).unwrap();
    assert_eq!(t.amount, dec("12.30"));
    assert_eq!(t.amount.to_string(), "12.30");
    assert_eq!(t.amount.scale(), 2);
    let e = parse_provider_entry(entry_json("\"12.3\"")).unwrap();
    assert_eq!(e.provider_amount, t.amount, "equal as values");
}

#[test]
fn bad_amounts_are_rejected_naming_the_field() {
    assert_invalid(
        tx_error(&tx_with("amount", "-5.00")),
        "amount",
        "greater than zero",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\"-5.00\"")),
        "amount",
        "greater than zero",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "0")),
        "amount",
        "greater than zero",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "-0.0")),
        "amount",
        "greater than zero",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "12.345")),
        "amount",
        "more than 2 decimal places",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\"12.345\"")),
        "amount",
        "more than 2 decimal places",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "1.00000000000000000000000000000000001")),
        "amount",
        "decimal places",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "1e-3")),
        "amount",
        "decimal places",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\" 12.30\"")),
        "amount",
        "not a decimal number",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\"1_000\"")),
        "amount",
        "not a decimal number",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\"012.30\"")),
        "amount",
        "not a decimal number",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\"12.\"")),
        "amount",
        "not a decimal number",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "\"\"")),
        "amount",
        "not a decimal number",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "true")),
        "amount",
        "got a boolean",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "null")),
        "amount",
        "must not be null",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "1e400")),
        "amount",
        "out of range",
    );
    assert_invalid(
        tx_error(&tx_with("amount", "123456789012345678901234567890")),
        "amount",
        "out of range",
    );
    let error = parse_provider_entry(entry_json("-1")).unwrap_err();
    assert_invalid(error, "provider_amount", "greater than zero");
}

#[test]
fn bad_dates_and_date_times_are_rejected_naming_the_field() {
    for bad in [
        "\"2024-13-01\"",
        "\"2024-02-30\"",
        "\"24-01-01\"",
        "\"2024-1-01\"",
        "\"2024/01/01\"",
        "20240101",
    ] {
        assert_invalid(
            tx_error(&tx_with("business_date", bad)),
            "business_date",
            "",
        );
    }
    assert_invalid(
        tx_error(&tx_with("business_date", "\"2024-24-04\"")),
        "business_date",
        "YYYY-MM-DD",
    );
    for bad in [
        "\"2021-10-29 11:00:00Z\"",
        "\"2021-10-29T25:00:00Z\"",
        "\"2021-10-29T11:00:00\"",
        "\"2021-10-29\"",
        "\"yesterday\"",
        "1635505200",
    ] {
        assert_invalid(
            tx_error(&tx_with("authorization_datetime", bad)),
            "authorization_datetime",
            "",
        );
    }
    let error = parse_provider_report_closed(r#"{"business_date": "2024-02-30"}"#).unwrap_err();
    assert_invalid(error, "business_date", "calendar date");
}

#[test]
fn a_report_close_says_what_the_day_holds() {
    let close = |counts: &str| {
        parse_provider_report_closed(format!(r#"{{"business_date": "{DAY}"{counts}}}"#))
    };
    let c = close(r#", "entry_count": 2, "total_amount": 10.5"#).unwrap();
    assert_eq!(
        (c.entry_count, c.total_amount.to_string()),
        (2, "10.5".into())
    );
    let empty = close(r#", "entry_count": 0"#).unwrap();
    assert_eq!((empty.entry_count, empty.total_amount), (0, Decimal::ZERO));
    assert_eq!(close("").unwrap_err().field(), Some("entry_count"));
    assert_eq!(
        close(r#", "entry_count": -1"#).unwrap_err().field(),
        Some("entry_count")
    );
    assert_eq!(
        close(r#", "entry_count": 1"#).unwrap_err().field(),
        Some("total_amount")
    );
}

#[test]
fn missing_fields_are_named() {
    for field in ["transaction_id", "end_to_end_id", "amount", "business_date"] {
        let mut object: serde_json::Map<String, Value> =
            serde_json::from_str(&tx_json("1")).unwrap();
        object.remove(field);
        let error = tx_error(&serde_json::to_string(&object).unwrap());
        assert_eq!(error, PixInputError::MissingField { field: leak(field) });
        assert_eq!(error.field(), Some(field));
        assert_eq!(error.to_string(), format!("`{field}` is required"));
    }
    for field in [
        "end_to_end_id",
        "provider_amount",
        "provider_authorization_id",
        "business_date",
    ] {
        let mut object: serde_json::Map<String, Value> =
            serde_json::from_str(&entry_json("1")).unwrap();
        object.remove(field);
        let error = parse_provider_entry(serde_json::to_string(&object).unwrap()).unwrap_err();
        assert_eq!(error.field(), Some(field));
    }
    assert_eq!(
        parse_provider_report_closed("{}").unwrap_err().field(),
        Some("business_date")
    );
    // Optional ones may be absent or null.
    for field in ["authorization_id", "authorization_datetime", "kind"] {
        let mut object: serde_json::Map<String, Value> =
            serde_json::from_str(&tx_json("1")).unwrap();
        object.remove(field);
        assert!(parse_pix_transaction(serde_json::to_string(&object).unwrap()).is_ok());
        assert!(parse_pix_transaction(tx_with(field, "null")).is_ok());
    }
}

fn leak(field: &str) -> &'static str {
    Box::leak(field.to_owned().into_boxed_str())
}

#[test]
fn other_bad_fields_are_named() {
    assert_invalid(
        tx_error(&tx_with("transaction_id", "\"  \"")),
        "transaction_id",
        "empty",
    );
    assert_invalid(
        tx_error(&tx_with("transaction_id", "42")),
        "transaction_id",
        "must be a string",
    );
    assert_invalid(
        tx_error(&tx_with(
            "transaction_id",
            &format!("\"{}\"", "x".repeat(129)),
        )),
        "transaction_id",
        "128",
    );
    assert_invalid(
        tx_error(&tx_with("authorization_id", "1.5")),
        "authorization_id",
        "integer",
    );
    assert_invalid(
        tx_error(&tx_with("authorization_id", "\"123\"")),
        "authorization_id",
        "integer",
    );
    assert_invalid(
        tx_error(&tx_with("kind", "\"PIX_IN\"")),
        "kind",
        "PIX_OUT_TRANSFER",
    );
    for (bad, why) in [
        ("E408671632022062920470010380054", "32 characters"),
        ("D4086716320220629204700103800548", "start with 'E'"),
        ("E40867163X0220629204700103800548", "digits"),
        ("E4086716320221329204700103800548", "yyyyMMddHHmm"),
        ("E4086716320220629246000103800548", "yyyyMMddHHmm"),
        ("E408671632022062920470010380054-", "letters or digits"),
        ("E4086716320220629204700103800548é", "32 characters"),
    ] {
        assert!(validate_end_to_end_id(bad).is_err(), "{bad}");
        assert_invalid(
            tx_error(&tx_with("end_to_end_id", &format!("\"{bad}\""))),
            "end_to_end_id",
            why,
        );
    }
    assert!(validate_end_to_end_id("E12345678202401311259abcDEF12345").is_ok());
    let error = parse_provider_entry(
        r#"{"end_to_end_id": "E4086716320220629204700103800548", "provider_amount": 1,
            "provider_authorization_id": 17579222, "business_date": "2021-10-29"}"#,
    )
    .unwrap_err();
    assert_invalid(error, "provider_authorization_id", "must be a string");
}

#[test]
fn bodies_that_are_not_json_objects_are_malformed() {
    for body in [
        "",
        "  ",
        "not json",
        "[]",
        "42",
        "null",
        r#"["t", "E", 1]"#,
        r#"{"amount": 1, "amount": 2}"#,
        "{\"amount\": 1",
    ] {
        let error = tx_error(body);
        assert!(
            matches!(error, PixInputError::Malformed { .. }),
            "{body}: {error:?}"
        );
        assert_eq!(error.field(), None);
    }
    assert!(
        tx_error("[]")
            .to_string()
            .contains("expected a JSON object, got an array"),
        "{}",
        tx_error("[]")
    );
    assert!(
        parse_pix_transaction(tx_json("1").as_bytes()).is_ok(),
        "bytes work as well as text"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let body = tx_with("pismo_extra", r#"{"nested": [1, 2.5]}"#);
    assert_eq!(parse_pix_transaction(body).unwrap(), tx("1"));
}
