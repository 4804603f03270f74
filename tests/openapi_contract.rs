//! docs/openapi.json (generated from the API's Rust types) says everything the
//! seed says about its operation and schemas, and real responses of the API
//! validate against it.

use std::collections::BTreeSet;

use integration_tests::*;
use serde_json::{json, Value};

fn doc() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(devstack::repo_root().join("docs/openapi.json")).unwrap(),
    )
    .unwrap()
}

fn validator(doc: &serde_json::Value, schema: &str) -> jsonschema::Validator {
    let root = serde_json::json!({"$ref": format!("#/components/schemas/{schema}"), "components": doc["components"]});
    jsonschema::validator_for(&root).unwrap()
}

fn assert_valid(doc: &serde_json::Value, schema: &str, body: &serde_json::Value) {
    let v = validator(doc, schema);
    let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{schema}: {errors:?}\n{body}");
}

/// Where `doc` does not say everything `seed` says, recursively: every key of
/// an object with a contained value, a `required` list as the same set, other
/// arrays item by item (an empty one may be left out), anything else equal.
/// What the document adds (descriptions, limits, statuses) is allowed.
fn uncontained(seed: &Value, doc: &Value, at: &str, problems: &mut Vec<String>) {
    match (seed, doc) {
        (Value::Object(seed), Value::Object(doc)) => {
            for (key, s) in seed {
                let here = format!("{at}/{key}");
                match doc.get(key) {
                    None if s.as_array().is_some_and(Vec::is_empty) => {}
                    None => problems.push(format!("{here}: missing")),
                    Some(d) if key == "required" => {
                        let set = |v: &Value| -> BTreeSet<String> {
                            v.as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|n| n.as_str().map(str::to_owned))
                                .collect()
                        };
                        if set(s) != set(d) {
                            problems.push(format!("{here}: {s} is not {d}"));
                        }
                    }
                    Some(d) => uncontained(s, d, &here, problems),
                }
            }
        }
        (Value::Array(seed), Value::Array(doc)) if seed.len() == doc.len() => {
            for (i, (s, d)) in seed.iter().zip(doc).enumerate() {
                uncontained(s, d, &format!("{at}/{i}"), problems);
            }
        }
        (s, d) if s == d => {}
        (s, d) => problems.push(format!("{at}: {s} is not {d}")),
    }
}

/// The seed as it means it: its `required: [field, new_value]` sits inside
/// `new_value` (where it says nothing); the intent, both keys required in
/// each adjustment, is on the adjustment item. This is the only correction.
fn seed_as_intended() -> Value {
    let path = devstack::repo_root().join("spec/clearing-reconciliation.openapi.json");
    let mut seed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let item = &mut seed["components"]["schemas"]["ReconciliationRequest"]["properties"]
        ["adjustments"]["items"];
    let required = item["properties"]["new_value"]
        .as_object_mut()
        .unwrap()
        .remove("required");
    assert_eq!(required, Some(json!(["field", "new_value"])));
    item["required"] = required.unwrap();
    seed
}

#[test]
fn the_seed_contract_is_contained() {
    let seed = seed_as_intended();
    let doc = doc();
    let mut problems = Vec::new();
    for pointer in [
        "/paths/~1v1~1clearing-reconciliation",
        "/components/schemas/ReconciliationRequest",
        "/components/schemas/ReconciliationResponse",
        "/components/schemas/ErrorResponse",
        "/components/securitySchemes",
        "/components/responses",
        "/security",
    ] {
        uncontained(
            &seed.pointer(pointer).unwrap().clone(),
            doc.pointer(pointer).unwrap_or(&Value::Null),
            pointer,
            &mut problems,
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The statuses the operation answers beyond the seed's.
    let responses = &doc["paths"]["/v1/clearing-reconciliation"]["post"]["responses"];
    for status in ["202", "400", "401", "403", "404", "409", "500", "503"] {
        assert!(responses.get(status).is_some(), "{status}");
    }
}

#[test]
fn the_containment_check_sees_a_changed_seed() {
    let seed = seed_as_intended();
    let mut doc = doc();
    doc["components"]["schemas"]["ReconciliationRequest"]["required"] = json!(["card_hash"]);
    doc["components"]["schemas"]["ErrorResponse"]["properties"]["code"]["type"] = json!("integer");
    let mut problems = Vec::new();
    uncontained(&seed["components"], &doc["components"], "", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

#[tokio::test]
async fn real_responses_match_the_document() {
    let stack = TestStack::new().await;
    let doc = doc();
    let resp = clearing_webhook::handle(
        &stack.webhook(),
        signed_webhook("/v1/webhooks/mastercard/clearing", SEED_NOTIFICATION),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let api = stack.api();
    let read = operator_token("clearing:read");
    let call = |method: &'static str, path: String, token: Option<String>, body: &'static str| {
        let req = api_request(method, &path, token.as_deref(), body);
        let api = &api;
        async move {
            let resp = reconciliation_api::handle(api, req).await.unwrap();
            (resp.status().as_u16(), response_json(&resp))
        }
    };
    let (s, body) = call(
        "GET",
        "/v1/clearing-messages/202404261024009777553".into(),
        Some(read.clone()),
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_valid(&doc, "ClearingMessage", &body);
    let (_, body) = call(
        "GET",
        "/v1/clearing-messages?status=PENDING".into(),
        Some(read.clone()),
        "",
    )
    .await;
    assert_valid(&doc, "QueuePage", &body);
    let (_, body) = call(
        "GET",
        "/v1/clearing-search?cursor=0".into(),
        Some(read.clone()),
        "",
    )
    .await;
    assert_valid(&doc, "ClearingSearchResponse", &body);
    for (status, body) in [
        call(
            "GET",
            "/v1/clearing-messages/none".into(),
            Some(read.clone()),
            "",
        )
        .await,
        call("POST", "/v1/clearing-reconciliation".into(), None, "{}").await,
        call(
            "POST",
            "/v1/clearing-reconciliation".into(),
            Some(read.clone()),
            "{}",
        )
        .await,
        call(
            "POST",
            "/v1/clearing-reconciliation".into(),
            Some(operator_token("clearing:reconcile")),
            "{",
        )
        .await,
    ] {
        assert!(status >= 400);
        assert_valid(&doc, "ErrorResponse", &body);
    }
    let reconcile = r#"{"card_network":"MASTERCARD","card_hash":"47r45e73-7dwe-43f9-bk6b-5096F5reb5cd","reconciliation_reason":"fix date","adjustments":[{"field":"transactionLocalDate","new_value":"2024-04-24"}]}"#;
    let (s, body) = call(
        "POST",
        "/v1/clearing-reconciliation".into(),
        Some(operator_token("clearing:reconcile")),
        reconcile,
    )
    .await;
    assert_eq!(s, 202);
    assert_valid(&doc, "ReconciliationResponse", &body);
    // The request schema accepts what the API accepted.
    assert_valid(
        &doc,
        "ReconciliationRequest",
        &serde_json::from_str(reconcile).unwrap(),
    );
}

/// Every value of the document's status, pending reason and message type
/// enums (generated from the Rust types) is named in the README.
#[test]
fn the_readme_names_every_status_reason_and_message_type() {
    let doc = doc();
    let readme = std::fs::read_to_string(devstack::repo_root().join("README.md")).unwrap();
    let mut missing = Vec::new();
    for schema in ["ClearingStatus", "PendingReasonCode", "MessageType"] {
        let values = doc["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap();
        assert!(!values.is_empty(), "{schema}");
        for v in values {
            let v = v.as_str().unwrap();
            if !readme.contains(v) {
                missing.push(format!("{schema}::{v}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in README.md: {missing:?}");
}
