//! The embedded metric format documents one ingest writes. A test binary of
//! its own: the recorder is process-wide, and no other test may count into it.

use serde_json::Value;
use shared::adapters::memory::MemoryStore;
use shared::config::Env;
use shared::services::IngestService;

const SEED: &str = include_str!("../../spec/mastercard-clearing-notification.example.json");

#[tokio::test]
async fn one_ingest_writes_its_counts_as_emf() {
    shared::metrics::install(
        "clearing-webhook",
        &Env::from_pairs([("METRICS_NAMESPACE", "ClearingReconciliation/test")]),
    );
    let store = MemoryStore::new();
    let rules = shared::clearing::RulesVersion::shipped();
    let service = IngestService {
        store: &store,
        rules: &rules,
    };
    // The seed record: stored PENDING, INVALID_FIELD (transactionLocalDate, month 24).
    service
        .ingest_clearing("MASTERCARD", SEED.as_bytes())
        .await
        .unwrap();

    let mut out = Vec::new();
    shared::metrics::flush_to(&mut out).unwrap();
    let documents: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect();
    // One document per dimension set: [Service] and [Service, Reason].
    assert_eq!(documents.len(), 2, "{documents:#?}");
    let totals = &documents[0];
    let directive = &totals["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "ClearingReconciliation/test");
    assert_eq!(directive["Dimensions"], serde_json::json!([["Service"]]));
    let mut names: Vec<&str> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Ingested", "Pending"], "no match, no duplicate");
    assert_eq!(totals["Service"], "clearing-webhook");
    assert_eq!(totals["Ingested"], 1);
    assert_eq!(totals["Pending"], 1);
    assert!(totals["_aws"]["Timestamp"].as_u64().is_some());

    let by_reason = &documents[1];
    assert_eq!(
        by_reason["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Service", "Reason"]])
    );
    assert_eq!(by_reason["Reason"], "INVALID_FIELD");
    assert_eq!(by_reason["PendingByReason"], 1);

    // Counts start again after a flush; a redelivery is a duplicate, not a second ingest.
    service
        .ingest_clearing("MASTERCARD", SEED.as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    shared::metrics::flush_to(&mut out).unwrap();
    let again: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(again["Duplicates"], 1);
    assert!(again.get("Ingested").is_none(), "{again}");
}
