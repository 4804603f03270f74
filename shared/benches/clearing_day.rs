//! A realistic clearing day (`tests/day/mod.rs`: at least 100,000 records in
//! a documented mix, seeded, the truth of each record known) through the
//! ingest core (parse, validate, match with the authorizations and their
//! cumulative clearing state, in memory, no I/O), beside
//! `serde_json::from_slice::<serde_json::Value>` over the same bytes.
//! Prints the outcome per case (expected and got) and the speed; exits 1 if
//! any record is misplaced. Targets: 0 misplaced, at most 2x the plain parse.
//! Run: `cargo bench -p shared --bench clearing_day` (`CLEARING_DAY_RECORDS`,
//! `CLEARING_DAY_SEED` change the day).

#[path = "../tests/day/mod.rs"]
mod day;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use day::{outcome_name, Day, IngestCore, Tally};
use shared::clearing::RulesVersion;

const ROUNDS: usize = 7;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let records = setting("CLEARING_DAY_RECORDS", 100_000) as usize;
    let seed = setting("CLEARING_DAY_SEED", 16);
    let day = Day::generate(records, seed);
    let rules = RulesVersion::shipped();
    let base = IngestCore::new(&rules, &day);
    let bytes: usize = day.notifications.iter().map(Vec::len).sum();

    // Where each record lands (one pass, then timed passes of the same work).
    let mut got = HashMap::new();
    let mut core = base.clone();
    for body in &day.notifications {
        core.ingest(body, |id, status, reason| {
            got.insert(id.to_owned(), outcome_name(status, reason).to_owned());
        });
    }
    let tally = Tally::of(&day, &got);

    let mut plain = Vec::new();
    let mut timed = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for body in &day.notifications {
            let v: serde_json::Value = serde_json::from_slice(black_box(body)).unwrap();
            black_box(v);
        }
        plain.push(t.elapsed());

        let mut core = base.clone();
        let mut matched = 0usize;
        let t = Instant::now();
        for body in &day.notifications {
            core.ingest(black_box(body), |_, status, _| {
                matched += usize::from(status == shared::clearing::ClearingStatus::Matched);
            });
        }
        timed.push(t.elapsed());
        black_box(matched);
    }
    let (plain, timed) = (median(plain), median(timed));
    let n = day.truth.len();
    println!(
        "clearing day: {n} records (seed {seed}), {} notifications, {:.1} MB, {} authorizations",
        day.notifications.len(),
        bytes as f64 / 1e6,
        base.authorization_count()
    );
    // The sweep between the authorizations and the records (IngestCore::new).
    let expired = base.expired();
    println!(
        "expiry sweep at {}: {} authorizations expired (expected {})",
        day::SWEEP_AT,
        expired.len(),
        day.expiring.len()
    );
    print!("{}", tally.table());
    println!("median of {ROUNDS} rounds over the whole day:");
    println!(
        "  serde_json::Value parse : {:>9.1} ms  ({:.0} records/s)",
        plain.as_secs_f64() * 1e3,
        n as f64 / plain.as_secs_f64()
    );
    println!(
        "  ingest core             : {:>9.1} ms  ({:.0} records/s)",
        timed.as_secs_f64() * 1e3,
        n as f64 / timed.as_secs_f64()
    );
    println!(
        "  ratio to Value parse    : {:.2}x (target <= 2.00x); misplaced {} (target 0)",
        timed.as_secs_f64() / plain.as_secs_f64(),
        tally.misplaced.len()
    );
    if expired != day.expiring {
        eprintln!("the sweep expired other authorizations than the day's truth");
        std::process::exit(1);
    }
    if !tally.misplaced.is_empty() {
        for m in tally.misplaced.iter().take(20) {
            eprintln!("misplaced: {m}");
        }
        std::process::exit(1);
    }
}
