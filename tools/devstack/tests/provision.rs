//! `provision` against the real local stack (DynamoDB Local and moto):
//! `./dev.sh test` starts it, or `local/stack.sh start` with the variables of
//! `local/stack.sh env` exported (the defaults are 127.0.0.1:8000 / :5000).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::QueueAttributeName;
use devstack::{
    add_subscriber, drain, provision, DevstackError, LocalClients, QueueInfo, Template,
};

const STACK_DOWN: &str =
    "local stack reachable (start it with `./dev.sh stack start`, or run `./dev.sh test`)";

fn random_prefix(tag: &str) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("{tag}{:010x}-", h.finish() & 0xff_ffff_ffff)
}

/// template.yaml's view of the table's global secondary indexes, read
/// independently of devstack: name -> ([(attribute, key type)], projection type).
fn template_gsis() -> BTreeMap<String, (Vec<(String, String)>, String)> {
    let text = std::fs::read_to_string(devstack::repo_root().join("template.yaml"))
        .expect("template.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
    let gsis = doc["Resources"]["ClearingTable"]["Properties"]["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("ClearingTable has GlobalSecondaryIndexes");
    gsis.iter()
        .map(|g| {
            let keys = g["KeySchema"]
                .as_sequence()
                .expect("KeySchema")
                .iter()
                .map(|k| {
                    (
                        k["AttributeName"].as_str().unwrap_or("").to_owned(),
                        k["KeyType"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            let projection = g["Projection"]["ProjectionType"]
                .as_str()
                .unwrap_or("ALL")
                .to_owned();
            (
                g["IndexName"].as_str().unwrap_or("").to_owned(),
                (keys, projection),
            )
        })
        .collect()
}

async fn queue_attributes(clients: &LocalClients, queue: &QueueInfo) -> BTreeMap<String, String> {
    clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect()
}

#[tokio::test]
async fn provisions_template_resources_idempotently_and_routes_divergent_pix_results() {
    let clients = LocalClients::new().await;
    let template = Template::repo_default().expect("template.yaml");
    let prefix = random_prefix("pv");

    let first = provision(&template, &prefix, &clients)
        .await
        .expect(STACK_DOWN);
    let second = provision(&template, &prefix, &clients)
        .await
        .expect("provisioning again with the same prefix succeeds");
    assert_eq!(
        first, second,
        "the second call finds what the first created"
    );

    // The table, with the five global secondary indexes of template.yaml.
    let table = first.table("ClearingTable").expect("table");
    assert_eq!(table, format!("{prefix}ClearingTable"));
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable");
    let described = described.table().expect("table description");
    let keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        ks.iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        keys(described.key_schema()),
        [
            ("pk".to_owned(), "HASH".to_owned()),
            ("sk".to_owned(), "RANGE".to_owned())
        ]
    );
    let gsis: BTreeMap<String, (Vec<(String, String)>, String)> = described
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let projection = g
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            (
                g.index_name().unwrap_or_default().to_owned(),
                (keys(g.key_schema()), projection),
            )
        })
        .collect();
    let names: BTreeSet<&str> = gsis.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "ByCard",
            "ByExpiry",
            "ByOpenStatus",
            "ByQueue",
            "ByTransUid"
        ])
    );
    assert_eq!(
        gsis,
        template_gsis(),
        "keys and projections as in template.yaml"
    );

    // Work queues redrive to their provisioned dead-letter queues after 5 receives.
    for (queue, dead_letter) in [
        ("ReprocessingQueue", "ReprocessingDeadLetterQueue"),
        ("PixInputQueue", "PixInputDeadLetterQueue"),
    ] {
        let q = first.queue(queue).expect("queue");
        let dlq = first.queue(dead_letter).expect("dead-letter queue");
        assert_eq!(q.name, format!("{prefix}{queue}"));
        let attributes = queue_attributes(&clients, q).await;
        let redrive: serde_json::Value =
            serde_json::from_str(attributes.get("RedrivePolicy").expect("RedrivePolicy"))
                .expect("RedrivePolicy JSON");
        assert_eq!(redrive["deadLetterTargetArn"], dlq.arn.as_str(), "{queue}");
        let max_receive = match &redrive["maxReceiveCount"] {
            serde_json::Value::String(s) => s.parse::<u64>().ok(),
            v => v.as_u64(),
        };
        assert_eq!(max_receive, Some(5), "{queue}");
        assert_eq!(
            attributes.get("VisibilityTimeout").map(String::as_str),
            Some("180"),
            "{queue}"
        );
        assert_eq!(
            attributes.get("MessageRetentionPeriod").map(String::as_str),
            Some("1209600"),
            "{queue}"
        );
    }

    // A queue changed since (another template version): provisioning brings it back.
    let reprocessing = first.queue("ReprocessingQueue").expect("queue");
    clients
        .sqs
        .set_queue_attributes()
        .queue_url(&reprocessing.url)
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .expect("SetQueueAttributes");
    let third = provision(&template, &prefix, &clients)
        .await
        .expect("provision over a changed queue");
    assert_eq!(third, first);
    let attributes = queue_attributes(&clients, reprocessing).await;
    assert_eq!(
        attributes.get("VisibilityTimeout").map(String::as_str),
        Some("180")
    );

    // The rule: divergent Pix results reach the alert queue, OK ones do not.
    let bus = first.bus("ReconciliationBus").expect("bus");
    assert_eq!(bus, format!("{prefix}ReconciliationBus"));
    let rule = first.rule("PixDivergentResultsRule").expect("rule");
    assert_eq!(rule.bus, bus);
    let observer = add_subscriber(
        &clients,
        bus,
        &serde_json::json!({"source": ["pix"]}),
        &format!("{prefix}observer"),
    )
    .await
    .expect("subscriber");
    let event = |result: &str| {
        PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source("pix")
            .detail_type("financial_reconciliation")
            .detail(
                serde_json::json!({"result_description": result, "end_to_end_id": format!("E2E-{result}")}).to_string(),
            )
            .build()
    };
    let put = clients
        .eventbridge
        .put_events()
        .entries(event("OK"))
        .entries(event("TRANSACTION_AMOUNT_DIVERGENT"))
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(put.failed_entry_count(), 0, "{:?}", put.entries());

    let alert = first.queue("PixDivergenceAlertQueue").expect("alert queue");
    let alerts = drain(&clients, alert, 1, Duration::from_secs(10))
        .await
        .expect("drain");
    let results: Vec<&str> = alerts
        .iter()
        .map(|e| e["detail"]["result_description"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        results,
        ["TRANSACTION_AMOUNT_DIVERGENT"],
        "only the divergent result reaches the alert queue"
    );
    assert_eq!(alerts[0]["source"], "pix");
    assert_eq!(alerts[0]["detail-type"], "financial_reconciliation");

    // Both events were on the bus (the OK one was filtered by the rule, not lost).
    let seen = drain(&clients, &observer, 2, Duration::from_secs(10))
        .await
        .expect("drain");
    let mut seen: Vec<&str> = seen
        .iter()
        .map(|e| e["detail"]["result_description"].as_str().unwrap_or("?"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, ["OK", "TRANSACTION_AMOUNT_DIVERGENT"]);

    // And nothing matched the Pix input rule.
    let inputs = first.queue("PixInputQueue").expect("queue");
    assert!(drain(&clients, inputs, 0, Duration::from_secs(2))
        .await
        .expect("drain")
        .is_empty());
}

#[tokio::test]
async fn an_existing_table_with_other_indexes_is_reported_not_reused() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let clients = LocalClients::new().await;
    let template = Template::repo_default().expect("template.yaml");
    let prefix = random_prefix("px");
    clients
        .dynamodb
        .create_table()
        .table_name(format!("{prefix}ClearingTable"))
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("valid"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("valid"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("valid"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .expect("valid"),
        )
        .send()
        .await
        .expect(STACK_DOWN);
    match provision(&template, &prefix, &clients).await {
        Err(DevstackError::Conflict { resource, detail }) => {
            assert!(
                resource.contains(&format!("{prefix}ClearingTable")),
                "{resource}"
            );
            assert!(detail.contains("ByCard"), "{detail}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_stack_is_a_clear_error() {
    let endpoints = devstack::LocalEndpoints {
        dynamodb: "http://127.0.0.1:9".into(),
        sqs: "http://127.0.0.1:9".into(),
        eventbridge: "http://127.0.0.1:9".into(),
        secretsmanager: "http://127.0.0.1:9".into(),
    };
    let clients = LocalClients::with(devstack::local_sdk_config().await, endpoints);
    let template = Template::repo_default().expect("template.yaml");
    let err = provision(&template, "down-", &clients)
        .await
        .expect_err("nothing listens on port 9");
    let text = err.to_string();
    assert!(text.contains("CreateTable down-ClearingTable"), "{text}");
    assert!(
        text.contains("http://127.0.0.1:9") && text.contains("local/stack.sh start"),
        "{text}"
    );
}
