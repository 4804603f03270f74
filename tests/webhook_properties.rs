//! The webhook's HTTP edge under arbitrary signed bodies (in-memory ports, no
//! network): every answer is 200 with an ack, or a 4xx `{code, message}`.

use std::sync::Arc;

use clearing_webhook::{handle, WebhookService};
use integration_tests::*;
use proptest::prelude::*;
use shared::adapters::memory::MemoryStore;
use shared::clearing::RulesVersion;
use shared::services::RulesInForce;
use shared::webhook_auth::{AllowedClients, SigningSecrets, WebhookAuth};

fn service() -> WebhookService {
    let secrets =
        SigningSecrets::from_json(&format!(r#"{{"mastercard": ["{WEBHOOK_SECRET}"]}}"#)).unwrap();
    WebhookService {
        store: Arc::new(MemoryStore::new()),
        rules: Arc::new(RulesInForce::fixed(RulesVersion::shipped())),
        auth: WebhookAuth::new(secrets, AllowedClients::default()),
    }
}

/// Mostly envelopes of records made of the seed's fields with arbitrary values.
fn body(list: &'static str) -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,24}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ];
    let record = prop::collection::btree_map(
        prop::sample::select(
            shared::clearing::ClearingField::ALL
                .iter()
                .map(|f| f.name())
                .chain(["status", "authorizationDateTime"])
                .collect::<Vec<_>>(),
        ),
        value,
        0..12,
    )
    .prop_map(|m| serde_json::to_value(m).unwrap());
    prop_oneof![
        ".{0,64}",
        prop::collection::vec(record.clone(), 0..4)
            .prop_map(move |r| serde_json::json!({ list: r }).to_string()),
        prop::collection::vec(record, 0..3).prop_map(|r| serde_json::json!([r]).to_string()),
    ]
}

fn answer(path: &str, body: &str) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resp = rt
        .block_on(handle(&service(), signed_webhook(path, body)))
        .unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

fn is_ack_or_client_error(status: u16, json: &serde_json::Value, body: &str) -> bool {
    match status {
        // Only an object is an envelope (serde alone would read one from `[[...]]`).
        200 => json["received"].is_u64() && body.trim_start().starts_with('{'),
        400..=499 => json["code"].is_string() && json["message"].is_string(),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_signed_clearing_body_is_an_ack_or_a_4xx(body in body("clearing")) {
        let (status, json) = answer("/v1/webhooks/mastercard/clearing", &body);
        prop_assert!(is_ack_or_client_error(status, &json, &body), "{status} {json} for {body}");
    }

    #[test]
    fn any_signed_authorization_body_is_an_ack_or_a_4xx(body in body("authorizations")) {
        let (status, json) = answer("/v1/webhooks/mastercard/authorizations", &body);
        prop_assert!(is_ack_or_client_error(status, &json, &body), "{status} {json} for {body}");
    }
}
