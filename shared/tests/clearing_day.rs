//! A small clearing day in a documented mix, with the outcome each record
//! must reach known in advance, through the ingest core on the in-memory
//! store: it fails when a rule breaks (0 misplaced).
//!
//! The mix, one case per record group (`i % 10`), amounts in USD unless said:
//! 0 exact purchase (100.00 of 100.00, DE25 1401) → MATCHED;
//! 1 restaurant tip within tolerance (115.00 of 100.00, MCC 5812, 1402) → MATCHED;
//! 2 split shipment (60.00 + 40.00 of 100.00, 1402) → MATCHED twice;
//! 3 partial capture (70.00 of 100.00, 1402) → MATCHED;
//! 4 second presentment (205) after its purchase → MATCHED, then RECORDED;
//! 5 chargeback (450) after its purchase → MATCHED, then RECORDED;
//! 6 fee collection (783) → RECORDED;
//! 7 not previously authorized (1400, no authorization) → FORCE_POSTED;
//! 8 foreign purchase (100.00 USD billed 505.00 BRL of 500.00 BRL) → MATCHED;
//! 9 true duplicate (the same purchase again under another id) → MATCHED, then
//!   PENDING DUPLICATE_PRESENTMENT.

use std::collections::BTreeMap;

use shared::adapters::memory::MemoryStore;
use shared::clearing::ClearingStatus;
use shared::services::IngestService;

struct Day {
    authorizations: Vec<String>,
    /// Presentments first, then what refers to them.
    waves: [Vec<String>; 2],
    /// Clearing id -> (case, expected outcome).
    truth: BTreeMap<String, (&'static str, &'static str)>,
}

fn auth(uid: &str, amount: &str, currency: &str, mcc: &str) -> String {
    format!(
        r#"{{"transUid": "{uid}", "cardReference": "C{uid}", "transactionAmount": {amount}, "transactionCurrency": "{currency}",
            "merchantCategoryCode": "{mcc}", "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"}}"#
    )
}

struct Rec {
    id: String,
    uid: String,
    amount: &'static str,
    code: &'static str,
    reason: &'static str,
    mcc: &'static str,
    reference: String,
    billed: Option<(&'static str, &'static str)>,
}

fn record(r: &Rec) -> String {
    let (billed, billed_currency) = r.billed.unwrap_or((r.amount, "USD"));
    format!(
        r#"{{"cardReference": "C{uid}", "transactionAmount": {amount}, "transactionCurrency": "USD",
            "cardholderAmount": {billed}, "cardholderCurrency": "{billed_currency}",
            "transactionLocalDate": "2024-04-24", "settlementDate": "2024-04-26", "merchantCategoryCode": "{mcc}",
            "transUid": "{uid}", "financialNetworkCode": "MCF", "referenceNumber": "{reference}",
            "clearingUniqueId": "{id}", "functionCode": "{code}", "messageReasonCode": "{reason}"}}"#,
        uid = r.uid,
        amount = r.amount,
        mcc = r.mcc,
        reference = r.reference,
        id = r.id,
        code = r.code,
        reason = r.reason,
    )
}

/// A day of `groups` x 10 cases.
fn day(groups: usize) -> Day {
    let mut d = Day {
        authorizations: Vec::new(),
        waves: [Vec::new(), Vec::new()],
        truth: BTreeMap::new(),
    };
    for g in 0..groups {
        for case in 0..10 {
            let uid = format!("U{g}-{case}");
            let id = |s: &str| format!("{uid}-{s}");
            let mut add = |wave: usize, r: Rec, name: &'static str, expected: &'static str| {
                d.truth.insert(r.id.clone(), (name, expected));
                d.waves[wave].push(record(&r));
            };
            let purchase = |cid: String,
                            amount: &'static str,
                            reason: &'static str,
                            mcc: &'static str,
                            reference: String| Rec {
                id: cid,
                uid: uid.clone(),
                amount,
                code: "200",
                reason,
                mcc,
                reference,
                billed: None,
            };
            let with_code = |mut r: Rec, code: &'static str| {
                r.code = code;
                r
            };
            match case {
                0 => {
                    d.authorizations.push(auth(&uid, "100.00", "USD", "4111"));
                    add(
                        0,
                        purchase(id("p"), "100.00", "1401", "4111", id("r")),
                        "exact purchase",
                        "MATCHED",
                    );
                }
                1 => {
                    d.authorizations.push(auth(&uid, "100.00", "USD", "5812"));
                    add(
                        0,
                        purchase(id("p"), "115.00", "1402", "5812", id("r")),
                        "tip within tolerance",
                        "MATCHED",
                    );
                }
                2 => {
                    d.authorizations.push(auth(&uid, "100.00", "USD", "4111"));
                    add(
                        0,
                        purchase(id("a"), "60.00", "1402", "4111", id("ra")),
                        "split shipment",
                        "MATCHED",
                    );
                    add(
                        0,
                        purchase(id("b"), "40.00", "1402", "4111", id("rb")),
                        "split shipment",
                        "MATCHED",
                    );
                }
                3 => {
                    d.authorizations.push(auth(&uid, "100.00", "USD", "4111"));
                    add(
                        0,
                        purchase(id("p"), "70.00", "1402", "4111", id("r")),
                        "partial capture",
                        "MATCHED",
                    );
                }
                4 | 5 => {
                    d.authorizations.push(auth(&uid, "100.00", "USD", "4111"));
                    add(
                        0,
                        purchase(id("p"), "100.00", "1401", "4111", id("r")),
                        "purchase later disputed",
                        "MATCHED",
                    );
                    let (code, name) = if case == 4 {
                        ("205", "second presentment")
                    } else {
                        ("450", "chargeback")
                    };
                    add(
                        1,
                        with_code(purchase(id("d"), "100.00", "1401", "4111", id("rd")), code),
                        name,
                        "RECORDED",
                    );
                }
                6 => add(
                    0,
                    with_code(purchase(id("f"), "2.50", "1401", "4111", id("r")), "783"),
                    "fee collection",
                    "RECORDED",
                ),
                7 => add(
                    0,
                    purchase(id("p"), "25.00", "1400", "4111", id("r")),
                    "not previously authorized",
                    "FORCE_POSTED",
                ),
                8 => {
                    d.authorizations.push(auth(&uid, "500.00", "BRL", "4111"));
                    let mut r = purchase(id("p"), "100.00", "1402", "4111", id("r"));
                    r.billed = Some(("505.00", "BRL"));
                    add(0, r, "foreign currency", "MATCHED");
                }
                _ => {
                    d.authorizations.push(auth(&uid, "100.00", "USD", "4111"));
                    add(
                        0,
                        purchase(id("p"), "100.00", "1401", "4111", id("r")),
                        "purchase later duplicated",
                        "MATCHED",
                    );
                    add(
                        1,
                        purchase(id("dup"), "100.00", "1401", "4111", id("r")),
                        "true duplicate",
                        "DUPLICATE_PRESENTMENT",
                    );
                }
            }
        }
    }
    d
}

#[tokio::test]
async fn a_small_day_lands_every_record_where_its_rule_says() {
    let d = day(200);
    let store = MemoryStore::new();
    let rules = shared::clearing::RulesVersion::shipped();
    let service = IngestService {
        store: &store,
        rules: &rules,
    };
    for chunk in d.authorizations.chunks(1000) {
        let body = format!(r#"{{"authorizations": [{}]}}"#, chunk.join(","));
        service
            .ingest_authorizations("MASTERCARD", body.as_bytes())
            .await
            .unwrap();
    }
    let mut got = BTreeMap::new();
    for wave in &d.waves {
        for chunk in wave.chunks(1000) {
            let body = format!(r#"{{"clearing": [{}]}}"#, chunk.join(","));
            let ack = service
                .ingest_clearing("MASTERCARD", body.as_bytes())
                .await
                .unwrap();
            for r in ack.results {
                let outcome = match (r.status, r.pending_reason) {
                    (ClearingStatus::Pending, Some(reason)) => reason.code.as_str().to_owned(),
                    (status, _) => status.as_str().to_owned(),
                };
                got.insert(r.clearing_unique_id, outcome);
            }
        }
    }
    assert!(d.truth.len() >= 2000, "{} records", d.truth.len());
    let mut by_case: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misplaced = Vec::new();
    for (id, (case, expected)) in &d.truth {
        let entry = by_case.entry(case).or_default();
        entry.0 += 1;
        match got.get(id) {
            Some(outcome) if outcome == expected => entry.1 += 1,
            other => misplaced.push(format!("{id} ({case}): expected {expected}, got {other:?}")),
        }
    }
    for (case, (n, right)) in &by_case {
        println!("{case:<28} {n:>6} records, {right:>6} where expected");
    }
    assert!(
        misplaced.is_empty(),
        "{} misplaced: {:?}",
        misplaced.len(),
        &misplaced[..misplaced.len().min(10)]
    );
}
