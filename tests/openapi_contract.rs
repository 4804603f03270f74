//! docs/openapi.json keeps the seed's path and schemas unchanged, and real
//! responses of the API validate against it.

use integration_tests::*;

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

#[test]
fn the_seed_contract_is_unchanged() {
    let seed_path =
        devstack::repo_root().join("spec/clearing-reconciliation.openapi.json");
    let Ok(seed) = std::fs::read_to_string(&seed_path) else {
        // The kit sits beside the repository in CI and on developer machines; say so if not.
        panic!("kit not found at {}", seed_path.display());
    };
    let seed: serde_json::Value = serde_json::from_str(&seed).unwrap();
    let doc = doc();
    assert_eq!(
        doc["paths"]["/v1/clearing-reconciliation"],
        seed["paths"]["/v1/clearing-reconciliation"]
    );
    for schema in [
        "ReconciliationRequest",
        "ReconciliationResponse",
        "ErrorResponse",
    ] {
        assert_eq!(
            doc["components"]["schemas"][schema], seed["components"]["schemas"][schema],
            "{schema}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"],
        seed["components"]["securitySchemes"]
    );
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
    assert_valid(&doc, "ClearingMessagePage", &body);
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
