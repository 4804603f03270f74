//! Throughput of the pure Pix reconciliation core: parse + apply + decide +
//! serialize the event detail, over synthetic inputs held in memory.
//!
//! `cargo bench -p shared --bench pix_core` (optionally `-- <transactions>`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use shared::pix::{
    apply_day_closed, apply_provider_entry, apply_transaction, decide, parse_pix_transaction,
    parse_provider_entry, parse_provider_report_closed, PixReconciliation, ResultDescription,
};

const DEFAULT_TRANSACTIONS: usize = 200_000;
const REPETITIONS: usize = 5;
const BUSINESS_DAYS: usize = 10;

/// One end-to-end id's inputs, as the JSON bodies the handlers would receive.
struct Case {
    end_to_end_id: String,
    transaction: Option<String>,
    provider_entry: Option<String>,
    day: usize,
    /// Apply the provider entry before the transaction.
    entry_first: bool,
}

fn business_date(day: usize) -> String {
    format!("2024-05-{:02}", day + 1)
}

fn amount(cents: u64, as_string: bool) -> String {
    let text = format!("{}.{:02}", cents / 100, cents % 100);
    if as_string {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// 70% equal amounts, 10% divergent, 10% Pismo side only, 10% provider side only.
fn generate(n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let end_to_end_id = format!("E12345678202405{:02}1030{:011}", i % 28 + 1, i);
            let day = i % BUSINESS_DAYS;
            let date = business_date(day);
            let cents = (i as u64).wrapping_mul(7919) % 10_000_000 + 1;
            let kind = ["PIX_OUT_TRANSFER", "PIX_REVERSAL", "REFUND_CLOSE"][i % 3];
            let transaction = format!(
                r#"{{"kind":"{kind}","transaction_id":"{:08x}-9f40-4eb1-bc20-{:012x}","end_to_end_id":"{end_to_end_id}","amount":{},"authorization_id":{},"authorization_datetime":"2024-05-{:02}T11:00:00.000Z","business_date":"{date}"}}"#,
                i,
                i * 31,
                amount(cents, i % 4 == 0),
                100_000 + i,
                day + 1,
            );
            let provider_cents = if i % 10 == 7 { cents + 1 } else { cents };
            let provider_entry = format!(
                r#"{{"end_to_end_id":"{end_to_end_id}","provider_amount":{},"provider_authorization_id":"{}","business_date":"{date}"}}"#,
                amount(provider_cents, i % 5 == 0),
                17_579_222 + i,
            );
            let (transaction, provider_entry) = match i % 10 {
                8 => (Some(transaction), None),
                9 => (None, Some(provider_entry)),
                _ => (Some(transaction), Some(provider_entry)),
            };
            Case { end_to_end_id, transaction, provider_entry, day, entry_first: i % 2 == 1 }
        })
        .collect()
}

/// Reconciles every case; returns the count per outcome and the detail bytes.
fn run(cases: &[Case], closures: &[String]) -> ([usize; 4], usize) {
    let closed: Vec<_> = closures
        .iter()
        .map(|body| {
            parse_provider_report_closed(body)
                .expect("valid closure")
                .business_date
        })
        .collect();
    let mut counts = [0usize; 4];
    let mut bytes = 0;
    for case in cases {
        let mut state = PixReconciliation::new(case.end_to_end_id.as_str());
        let tx = case
            .transaction
            .as_deref()
            .map(|body| parse_pix_transaction(black_box(body)).expect("valid tx"));
        let entry = case
            .provider_entry
            .as_deref()
            .map(|body| parse_provider_entry(black_box(body)).expect("valid entry"));
        if case.entry_first {
            if let Some(entry) = entry {
                state = apply_provider_entry(state, entry).expect("same id");
            }
            if let Some(tx) = tx {
                state = apply_transaction(state, tx).expect("same id");
            }
        } else {
            if let Some(tx) = tx {
                state = apply_transaction(state, tx).expect("same id");
            }
            if let Some(entry) = entry {
                state = apply_provider_entry(state, entry).expect("same id");
            }
        }
        state = apply_day_closed(state, closed[case.day]);
        let detail = decide(&state).expect("every case is decided once its day closed");
        let json = detail.to_json().expect("serializable");
        bytes += black_box(json).len();
        counts[ResultDescription::ALL
            .iter()
            .position(|d| *d == detail.result_description)
            .unwrap_or(0)] += 1;
    }
    (counts, bytes)
}

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<usize>().ok())
        .unwrap_or(DEFAULT_TRANSACTIONS);
    let cases = generate(n);
    let closures: Vec<String> = (0..BUSINESS_DAYS)
        .map(|day| format!(r#"{{"business_date":"{}"}}"#, business_date(day)))
        .collect();

    let (counts, bytes) = run(&cases, &closures); // warm-up, and a sanity check
    assert_eq!(counts.iter().sum::<usize>(), n);
    println!(
        "pix core: outcomes {} (detail bytes {bytes})",
        ResultDescription::ALL
            .iter()
            .zip(counts)
            .map(|(d, c)| format!("{d}={c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut times: Vec<Duration> = (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            black_box(run(black_box(&cases), &closures));
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[REPETITIONS / 2];
    println!(
        "pix core: {:.0} transactions reconciled/s ({n} transactions, {:.1} ms; median of {REPETITIONS}, min {:.1} ms, max {:.1} ms)",
        n as f64 / median.as_secs_f64(),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[REPETITIONS - 1].as_secs_f64() * 1e3,
    );
}
