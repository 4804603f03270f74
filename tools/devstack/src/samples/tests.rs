//! The committed samples are the builder's, and API Gateway's named-stage shape.

use super::*;
use crate::local_settings;

fn built() -> Vec<Sample> {
    let settings = Env::from_pairs(local_settings().unwrap());
    sample_events(&HttpApi::repo_default().unwrap(), &settings).unwrap()
}

#[test]
fn the_committed_samples_are_what_the_builder_makes() {
    let samples = built();
    let stale = stale_samples(&crate::repo_root().join("events"), &samples);
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what `devstack sample-events` makes: run it and commit the result"
    );
}

#[test]
fn api_gateway_samples_are_named_stage_payloads_of_template_routes() {
    let api = HttpApi::repo_default().unwrap();
    let http: Vec<Sample> = built()
        .into_iter()
        .filter(|s| s.event.get("version").is_some())
        .collect();
    assert_eq!(http.len(), 8);
    for Sample { file, event } in &http {
        let context = &event["requestContext"];
        assert_eq!(context["stage"], "v1", "{file}");
        let raw_path = event["rawPath"].as_str().unwrap();
        assert!(raw_path.starts_with("/v1/v1/"), "{file}: {raw_path}");
        assert_eq!(context["http"]["path"], raw_path, "{file}");
        let key = event["routeKey"].as_str().unwrap();
        assert!(
            api.routes().iter().any(|r| r.key() == key),
            "{file}: {key} is a route of the template"
        );
        assert_eq!(context["routeKey"], key, "{file}");
        assert_eq!(
            event.get("pathParameters").is_some(),
            key.contains('{'),
            "{file}"
        );
    }
    let webhook = &http[0].event;
    assert_eq!(webhook["pathParameters"]["network"], "mastercard");
    assert_eq!(
        webhook["requestContext"]["authentication"]["clientCert"]["subjectDN"],
        "CN=clearing.mastercard.com"
    );
}

fn committed(file: &str) -> Value {
    let path = crate::repo_root().join("events").join(file);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn the_stream_sample_is_the_seeds_write_and_the_publisher_announces_it() {
    use aws_lambda_events::event::dynamodb::Event;
    use shared::adapters::memory::{MemoryBus, MemoryQueue};
    use std::sync::Arc;
    let sample = committed(invocations::STREAM_SAMPLE);
    let tables = crate::Template::repo_default().unwrap().tables().unwrap();
    let table = tables
        .iter()
        .find(|t| t.logical == "ClearingTable")
        .unwrap();
    let view = table.stream_view_type.clone();
    let record = &sample["Records"][0];
    assert_eq!(
        record["dynamodb"]["StreamViewType"].as_str(),
        view.as_deref()
    );
    assert!(record["eventSourceARN"]
        .as_str()
        .unwrap()
        .contains(":table/local-ClearingTable/stream/"));
    // Read as the function reads it, published by its own batch code.
    let event: Event = serde_json::from_value(sample).unwrap();
    let bus = Arc::new(MemoryBus::new());
    let service = outbox_publisher::PublisherService {
        bus: bus.clone(),
        queue: Arc::new(MemoryQueue::new()),
    };
    let answer = outbox_publisher::publish_batch(&service, &event.records).await;
    assert!(answer.batch_item_failures.is_empty());
    let published = bus.events();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].detail_type, "clearing_message.pending");
    let detail: Value = serde_json::from_str(&published[0].detail).unwrap();
    assert_eq!(detail["clearing_unique_id"], SEED_ID);
    assert_eq!(detail["pending_reason"]["code"], "INVALID_FIELD");
    // Delivered again (the stream retries), it publishes the same event id.
    let again = outbox_publisher::entries_added(&event.records[0]).unwrap();
    assert_eq!(again[0].id(), published[0].id.to_string());
}

#[test]
fn the_scheduler_sample_is_the_templates_input_with_its_context_filled_in() {
    use authorization_expiry::ScheduleInvocation;
    let sample = committed(invocations::SCHEDULE_SAMPLE);
    assert!(!sample.to_string().contains("<aws."), "{sample}");
    let invocation = ScheduleInvocation::read(&sample);
    let clock = chrono::Utc::now();
    assert_eq!(
        invocation.now(clock).to_rfc3339(),
        "2026-11-22T10:00:00+00:00",
        "the sweep decides at the scheduled time, not the clock"
    );
    assert_eq!(invocation.attempt.as_deref(), Some("1"));
    assert!(invocation.execution_id.is_some());
    assert!(invocation
        .schedule_arn
        .as_deref()
        .is_some_and(|a| a.starts_with("arn:aws:scheduler:")));
}

#[test]
fn every_sample_is_listed_in_both_readmes() {
    let root = crate::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let events_readme = std::fs::read_to_string(root.join("events/README.md")).unwrap();
    let samples = built();
    // And every file of events/ is one the builder makes.
    for folder in std::fs::read_dir(root.join("events")).unwrap() {
        let folder = folder.unwrap().path();
        for file in std::fs::read_dir(&folder).into_iter().flatten() {
            let file = file.unwrap().path();
            let name = file.strip_prefix(root.join("events")).unwrap();
            let name = name.to_str().unwrap();
            assert!(
                samples.iter().any(|s| s.file == name),
                "{name} is not made by `devstack sample-events`"
            );
        }
    }
    for sample in samples {
        let (folder, name) = sample.file.split_once('/').unwrap();
        assert!(
            events_readme.contains(sample.file),
            "events/README.md lacks {}",
            sample.file
        );
        // The README's table names a folder's first file in full, the others by name.
        assert!(
            readme.contains(&format!("`{folder}/")) && readme.contains(name),
            "README.md lacks {}",
            sample.file
        );
    }
}
