//! Ingest core figure: parse, validate and match one clearing batch (no I/O),
//! beside `serde_json::from_slice::<serde_json::Value>` over the same bytes.
//! Target: at most 2x the plain JSON parse. Run: `cargo bench -p shared --bench ingest_core`.

use std::collections::HashMap;
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use shared::authorization::{Authorization, AuthorizationStatus};
use shared::clearing::matching::{match_clearing, DEFAULT_MATCHING_RULES};
use shared::clearing::{parse_clearing_notification, MatchOutcome, MatchingRules, PreparedRecord};

const RECORDS: usize = 1_000;

fn record(i: usize) -> String {
    // One in ten has the seed's broken local date; amounts vary, a third are tips.
    let date = if i.is_multiple_of(10) {
        "2024-24-04"
    } else {
        "2024-04-24"
    };
    let (amount, mcc) = match i % 3 {
        0 => (format!("{}.{:02}", 10 + i % 90, i % 100), "4111"),
        1 => (format!("{}.00", 100 + i % 20), "5812"),
        _ => (format!("{}.50", 20 + i % 50), "5411"),
    };
    format!(
        r#"{{"cardReference":"card-{c}","referenceNumber":"REF{i}","transactionAmount":{amount},"transactionCurrency":"USD","transactionLocalDate":"{date}","transactionLocalTime":"16:01:00","settlementDate":"2024-04-26","transactionType":"05","merchantName":"CENTRA","cardAcceptorCity":"NEW YORK","cardAcceptorState":"NY","merchantCountryCode":"USA","merchantCategoryCode":"{mcc}","acquirerId":"123456","transUid":"UID{i}","cardholderAmount":{amount},"cardholderCurrency":"USD","financialNetworkCode":"MCF","processDate":"2024-04-25","clearingUniqueId":"CLR{i:012}","functionCode":"200","messageReasonCode":"1401","banknetDate":"0424"}}"#,
        c = i % 97
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let body = format!(
        r#"{{"clearing":[{}]}}"#,
        (0..RECORDS).map(record).collect::<Vec<_>>().join(",")
    );
    let bytes = body.as_bytes();
    let rules = MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap();
    let auths: HashMap<String, Authorization> = (0..RECORDS)
        .map(|i| {
            let amount = match i % 3 {
                0 => format!("{}.{:02}", 10 + i % 90, i % 100),
                _ => "100.00".to_string(),
            };
            (
                format!("UID{i}"),
                Authorization {
                    trans_uid: format!("UID{i}"),
                    card_network: "MASTERCARD".into(),
                    card_hash: format!("card-{}", i % 97),
                    financial_network_code: Some("MCF".into()),
                    reference_number: Some(format!("REF{i}")),
                    settlement_date: None,
                    amount: Decimal::from_str(&amount).unwrap(),
                    currency: "USD".into(),
                    merchant_category_code: None,
                    authorized_at: Utc::now(),
                    status: AuthorizationStatus::Approved,
                    claimed_by: None,
                    raw_payload: String::new(),
                    reversed_amount: Decimal::ZERO,
                    version: 1,
                    history: Vec::new(),
                    clearings: Default::default(),
                    expiry: None,
                },
            )
        })
        .collect();

    let rounds = 30;
    let mut plain = Vec::new();
    let mut core = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let v: serde_json::Value = serde_json::from_slice(black_box(bytes)).unwrap();
        black_box(v);
        plain.push(t.elapsed());

        let t = Instant::now();
        let records = parse_clearing_notification(black_box(bytes)).unwrap();
        let mut matched = 0usize;
        for r in records {
            let p = PreparedRecord::new(r);
            let auth = match p.authorization_key() {
                Some(shared::authorization::AuthorizationKey::TransUid(uid)) => auths.get(&uid),
                _ => None,
            };
            // What ingest does once the authorization is loaded (no store here).
            if let Ok(valid) = &p.validation {
                if let MatchOutcome::Matched(_) = match_clearing(valid, auth, &rules) {
                    matched += 1;
                }
            }
        }
        black_box(matched);
        core.push(t.elapsed());
    }
    let (plain, core) = (median(plain), median(core));
    let per_sec = RECORDS as f64 / core.as_secs_f64();
    println!(
        "ingest core: {RECORDS} records, {} bytes per batch, median of {rounds} rounds",
        bytes.len()
    );
    println!(
        "  serde_json::Value parse : {:>8.3} ms",
        plain.as_secs_f64() * 1e3
    );
    println!(
        "  parse+validate+match    : {:>8.3} ms  ({per_sec:.0} records/s)",
        core.as_secs_f64() * 1e3
    );
    println!(
        "  ratio to Value parse    : {:.2}x (target <= 2.00x)",
        core.as_secs_f64() / plain.as_secs_f64()
    );
}
