//! Webhook credentials are tied to what they may write: a sender's HMAC secret
//! or client certificate opens its own network's routes only, the previous
//! secret keeps working during a rotation, and a refused call stores nothing.
//! The webhook is built by its own `from_config`, which reads the test's
//! secrets from moto's Secrets Manager by ARN (see `support/mod.rs`).

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContextAuthentication,
    ApiGatewayV2httpRequestContextAuthenticationClientCert,
};
use clearing_webhook::handle;
use integration_tests::*;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use shared::authorization::AuthorizationKey;
use shared::ports::ClearingStore;
use shared::webhook_auth::sign;

const CLEARING: &str = "/v1/webhooks/mastercard/clearing";
const AUTHORIZATIONS: &str = "/v1/webhooks/mastercard/authorizations";
const SEED_ID: &str = "202404261024009777553";
const SEED_TRANS_UID: &str = "20240426O9EC2A";

fn signed_with(secret: &str, path: &str, body: &str) -> lambda_http::Request {
    let signature = sign(secret, chrono::Utc::now().timestamp(), body.as_bytes());
    http_request("POST", path, &[("x-webhook-signature", &signature)], body)
}

/// A call over mutual TLS: API Gateway passes the verified certificate's DNs on.
fn with_certificate(path: &str, body: &str, subject: &str, issuer: &str) -> lambda_http::Request {
    let request = http_request("POST", path, &[], body);
    let RequestContext::ApiGatewayV2(mut context) = request.request_context() else {
        panic!("an HTTP API payload 2.0 request");
    };
    let mut certificate = ApiGatewayV2httpRequestContextAuthenticationClientCert::default();
    certificate.subject_dn = Some(subject.to_owned());
    certificate.issuer_dn = Some(issuer.to_owned());
    let mut authentication = ApiGatewayV2httpRequestContextAuthentication::default();
    authentication.client_cert = Some(certificate);
    context.authentication = Some(authentication);
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

async fn status_of(stack: &TestStack, request: lambda_http::Request) -> (u16, serde_json::Value) {
    let resp = handle(&stack.webhook(), request).await.unwrap();
    (resp.status().as_u16(), response_json(&resp))
}

async fn seed_authorization_stored(stack: &TestStack) -> bool {
    let key = AuthorizationKey::TransUid(SEED_TRANS_UID.to_owned());
    let found = stack
        .store()
        .authorizations(std::slice::from_ref(&key))
        .await;
    found.unwrap().contains_key(&key)
}

async fn seed_stored(stack: &TestStack) -> bool {
    stack.store().message(SEED_ID).await.unwrap().is_some()
}

#[tokio::test]
async fn another_networks_secret_opens_no_mastercard_route_and_stores_nothing() {
    let stack = TestStack::new().await;
    let authorization = seed_authorization("12.34", "4111");
    for (path, body) in [
        (AUTHORIZATIONS, authorization.as_str()),
        (CLEARING, SEED_NOTIFICATION),
    ] {
        let (status, err) = status_of(&stack, signed_with(VISA_WEBHOOK_SECRET, path, body)).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (401, Some("BTN0102")),
            "{path}: {err}"
        );
    }
    // The forged authorization would have made the seed MATCH: neither is stored.
    assert!(!seed_authorization_stored(&stack).await);
    assert!(!seed_stored(&stack).await);
}

#[tokio::test]
async fn the_previous_secret_still_works_during_a_rotation() {
    let stack = TestStack::new().await;
    let authorization = seed_authorization("12.34", "4111");
    let by_previous = signed_with(PREVIOUS_WEBHOOK_SECRET, AUTHORIZATIONS, &authorization);
    let (status, ack) = status_of(&stack, by_previous).await;
    assert_eq!(status, 200, "{ack}");
    assert!(seed_authorization_stored(&stack).await);
    let by_current = signed_with(WEBHOOK_SECRET, CLEARING, SEED_NOTIFICATION);
    let (status, ack) = status_of(&stack, by_current).await;
    assert_eq!(status, 200, "{ack}");
    assert!(seed_stored(&stack).await);
}

#[tokio::test]
async fn a_certificate_opens_only_its_own_networks_routes() {
    let stack = TestStack::new().await;
    let authorization = seed_authorization("12.34", "4111");
    let refused = [
        ("an unknown subject", "CN=clearing.evil.test", MTLS_ISSUER),
        (
            "another network's certificate",
            VISA_MTLS_SUBJECT,
            VISA_MTLS_ISSUER,
        ),
        (
            "mastercard's subject from another issuer",
            MTLS_SUBJECT,
            VISA_MTLS_ISSUER,
        ),
    ];
    for (what, subject, issuer) in refused {
        for (path, body) in [
            (AUTHORIZATIONS, authorization.as_str()),
            (CLEARING, SEED_NOTIFICATION),
        ] {
            let request = with_certificate(path, body, subject, issuer);
            let (status, err) = status_of(&stack, request).await;
            assert_eq!(
                (status, err["code"].as_str()),
                (401, Some("BTN0102")),
                "{what} on {path}: {err}"
            );
        }
    }
    assert!(!seed_authorization_stored(&stack).await);
    assert!(!seed_stored(&stack).await);

    let request = with_certificate(CLEARING, SEED_NOTIFICATION, MTLS_SUBJECT, MTLS_ISSUER);
    let (status, ack) = status_of(&stack, request).await;
    assert_eq!(status, 200, "{ack}");
    assert!(seed_stored(&stack).await);
}

#[tokio::test]
async fn the_functions_are_given_secret_arns_never_values() {
    let stack = TestStack::new().await;
    let env = devstack::lambda_env(
        &stack.provisioned,
        &test_settings(),
        &stack.clients.endpoints,
    )
    .unwrap();
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for arn in ["WEBHOOK_SECRETS_ARN", "JWT_SIGNING_KEY_SECRET_ARN"] {
        let value = &env.iter().find(|(k, _)| k == arn).expect(arn).1;
        assert!(
            value.starts_with("arn:aws:secretsmanager:"),
            "{arn}={value}"
        );
    }
    for secret in [
        WEBHOOK_SECRET,
        PREVIOUS_WEBHOOK_SECRET,
        VISA_WEBHOOK_SECRET,
        JWT_SECRET,
    ] {
        assert!(
            env.iter().all(|(_, v)| !v.contains(secret)),
            "{names:?} carry a secret"
        );
    }
}
