//! The short fault soak CI runs (`./dev.sh test`): the whole system on the
//! soak's own DynamoDB Local and moto (ports 8107 / 5107, front 3107) while
//! they fail, then nothing lost, duplicated or unannounced. Then the checks
//! are shown able to fail: the run's own observations, corrupted one way at a
//! time, move the count they should.
//!
//! `SOAK_RECORDS` (default 300) and `SOAK_SEED` choose the run.

use aws_sdk_sqs::types::QueueAttributeName;
use devstack::soak::{check, summary_line, SoakConfig, System};
use devstack::LocalClients;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A message the worker fails during a fault comes back after its queue's
/// visibility timeout. The runner provisions the template's queues itself
/// (180 s), so the soak shortens them only once the runner is up: shortened
/// before, the failed Pix inputs stayed invisible longer than the soak waits
/// for the system to settle, and their ids were reported lost.
/// On the shared local stack, front on 3101.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soak_system_keeps_its_work_queues_visibility_short_once_the_runner_has_provisioned_them(
) {
    let clients = LocalClients::new().await;
    let prefix = format!("soakvis{}-", std::process::id());
    let system = System::start(&clients, &prefix, 3101)
        .await
        .expect("the system starts");
    for queue in system.queues.iter().chain([&system.capture]) {
        let attributes = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .expect("moto answers")
            .attributes
            .unwrap_or_default();
        assert_eq!(
            attributes
                .get(&QueueAttributeName::VisibilityTimeout)
                .map(String::as_str),
            Some("10"),
            "{}",
            queue.name
        );
    }
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_short_soak_loses_duplicates_and_leaves_unannounced_nothing_and_its_checks_can_fail() {
    let config = SoakConfig {
        records: env_number("SOAK_RECORDS", 300) as usize,
        seed: env_number("SOAK_SEED", 20_261_123),
        fault_every_seconds: 4,
        ..SoakConfig::default()
    };
    let report = devstack::soak::run(config.clone())
        .await
        .expect("the soak runs");
    println!("{}", report.summary());
    assert!(report.faults > 0, "faults were injected");
    assert_eq!(report.records, config.records);
    assert_eq!(
        report.summary(),
        format!(
            "soak: {} records, {} faults, lost 0, duplicated 0, unannounced 0",
            config.records, report.faults
        )
    );
    let (counts, _) = check(&report.truth, &report.observed);
    assert!(counts.all_zero());

    // A stored record gone: lost.
    let mut observed = report.observed.clone();
    let (id, _) = observed
        .messages
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    observed.messages.insert(id.clone(), None);
    let (counts, problems) = check(&report.truth, &observed);
    assert_eq!(counts.lost, 1, "{problems:?}");

    // A transition applied twice: duplicated.
    let mut observed = report.observed.clone();
    let message = observed.messages.get_mut(&id).unwrap().as_mut().unwrap();
    let last = message.history.last().unwrap().clone();
    message.history.push(last);
    let (counts, problems) = check(&report.truth, &observed);
    assert_eq!(counts.duplicated, 1, "{problems:?}");

    // Every event of that record missing: unannounced.
    let mut observed = report.observed.clone();
    observed
        .events
        .retain(|e| e["detail"]["clearing_unique_id"].as_str() != Some(id.as_str()));
    let (counts, problems) = check(&report.truth, &observed);
    assert!(counts.unannounced >= 1, "{problems:?}");
    assert_eq!(counts.lost + counts.duplicated, 0, "{problems:?}");

    // A Pix id decided a second time, differently: duplicated.
    let mut observed = report.observed.clone();
    let mut second = observed
        .events
        .iter()
        .find(|e| e["source"] == "pix")
        .cloned()
        .expect("a Pix decision was captured");
    let other = if second["detail"]["result_description"] == "OK" {
        "TRANSACTION_AMOUNT_DIVERGENT"
    } else {
        "OK"
    };
    second["detail"]["result_description"] = other.into();
    observed.events.push(second);
    let (counts, problems) = check(&report.truth, &observed);
    assert_eq!(counts.duplicated, 1, "{problems:?}");
    assert_eq!(
        summary_line(report.records, report.faults, &counts),
        format!(
            "soak: {} records, {} faults, lost 0, duplicated 1, unannounced 0",
            config.records, report.faults
        )
    );
}
