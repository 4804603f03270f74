//! A clearing day in the documented mix (`day/mod.rs`), the outcome each
//! record must reach known in advance, through `IngestService` on the
//! in-memory store and through the benchmark's ingest core: both must land
//! every record where its rule says (0 misplaced).

mod day;

use std::collections::HashMap;

use day::{outcome_name, sweep_at, Day, IngestCore, Tally};
use shared::adapters::memory::MemoryStore;
use shared::authorization::AuthorizationStatus;
use shared::authorization_expiry::ExpiryDecision;
use shared::clearing::RulesVersion;
use shared::ports::ClearingStore;
use shared::services::IngestService;

const RECORDS: usize = 2_600;
const SEED: u64 = 16;

fn check(what: &str, day: &Day, got: &HashMap<String, String>) {
    let tally = Tally::of(day, got);
    println!("{what}:\n{}", tally.table());
    assert!(
        tally.misplaced.is_empty(),
        "{what}: {} misplaced: {:?}",
        tally.misplaced.len(),
        &tally.misplaced[..tally.misplaced.len().min(10)]
    );
}

#[tokio::test]
async fn a_small_day_lands_every_record_where_its_rule_says() {
    let day = Day::generate(RECORDS, SEED);
    assert!(day.truth.len() >= RECORDS, "{} records", day.truth.len());
    let store = MemoryStore::new();
    let rules = RulesVersion::shipped();
    let service = IngestService {
        store: &store,
        rules: &rules,
    };
    for body in &day.authorizations {
        service
            .ingest_authorizations("MASTERCARD", body)
            .await
            .unwrap();
    }
    // The sweep at the day's time, on what the store holds (each authorization
    // stored with its window): only the expiring ones expire.
    let mut expired = Vec::new();
    for uid in &day.authorization_uids {
        let auth = store.authorization(uid).await.unwrap().unwrap();
        if let ExpiryDecision::Expire(next) = auth.expire(sweep_at()) {
            store
                .update_authorization(&next, auth.version, &[])
                .await
                .unwrap();
            expired.push(uid.clone());
        }
    }
    assert_eq!(
        expired, day.expiring,
        "the authorizations the sweep expires"
    );
    assert!(!day.expiring.is_empty());
    let mut got = HashMap::new();
    for body in &day.notifications {
        let ack = service.ingest_clearing("MASTERCARD", body).await.unwrap();
        assert!(ack.rejected.is_empty(), "{:?}", ack.rejected);
        for r in ack.results {
            let outcome = outcome_name(r.status, r.pending_reason.map(|p| p.code));
            got.insert(r.clearing_unique_id, outcome.to_owned());
        }
    }
    check("ingest service", &day, &got);
    // A late presentment is matched with its flag.
    let late: Vec<&String> = day
        .truth
        .iter()
        .filter(|(_, t)| t.case.starts_with("late presentment"))
        .map(|(id, _)| id)
        .collect();
    assert!(!late.is_empty());
    for id in late {
        let m = store.message(id).await.unwrap().unwrap();
        assert!(m.matched.unwrap().late_presentment.is_some(), "{id}");
    }
    for uid in &day.expiring {
        let auth = store.authorization(uid).await.unwrap().unwrap();
        assert_eq!(auth.status, AuthorizationStatus::Expired, "{uid}");
    }
}

#[test]
fn the_benchmarks_ingest_core_agrees_with_the_truth() {
    let day = Day::generate(RECORDS, SEED);
    let rules = RulesVersion::shipped();
    let mut core = IngestCore::new(&rules, &day);
    let sent: usize = day
        .authorizations
        .iter()
        .map(|b| String::from_utf8_lossy(b).matches("\"transUid\"").count())
        .sum();
    assert_eq!(core.authorization_count(), sent, "every authorization read");
    assert_eq!(
        core.expired(),
        day.expiring,
        "the authorizations the sweep expires"
    );
    let mut got = HashMap::new();
    for body in &day.notifications {
        core.ingest(body, |id, status, reason| {
            got.insert(id.to_owned(), outcome_name(status, reason).to_owned());
        });
    }
    check("ingest core", &day, &got);
}

#[test]
fn the_day_is_the_same_for_the_same_seed_and_covers_every_case() {
    let (a, b) = (Day::generate(500, 7), Day::generate(500, 7));
    assert_eq!(a.notifications, b.notifications);
    assert_eq!(a.authorizations, b.authorizations);
    assert_ne!(a.notifications, Day::generate(500, 8).notifications);
    let cases: std::collections::BTreeSet<_> = Day::generate(RECORDS, SEED)
        .truth
        .iter()
        .map(|(_, t)| t.case)
        .collect();
    // Each scenario's records, purchases under dispute and duplicated
    // included; an expired authorization has none.
    assert_eq!(cases.len(), day::MIX.len() + 3 - 1, "{cases:?}");
}
