//! Clearing webhook: card networks POST clearing and authorization
//! notifications here. Every clearing record is stored with its raw payload,
//! validated and matched; the call gets 200 only once every record is stored.
//!
//! Routes (API Gateway HTTP API):
//! - `POST /v1/webhooks/{network}/clearing`        body `{"clearing": [...]}`
//! - `POST /v1/webhooks/{network}/authorizations`  body `{"authorizations": [...]}`
//!
//! This crate only translates HTTP: the sender is authenticated here, and the
//! use case is `shared::services::IngestService`.

mod wiring;

use std::sync::{Arc, LazyLock};

use chrono::Utc;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use shared::api_error::ApiError;
use shared::http::{respond, Reply, Router};
use shared::ports::ClearingStore;
use shared::services::{IngestService, RulesInForce};
use shared::webhook_auth::{ClientCertificate, WebhookAuth, SIGNATURE_HEADER};

pub use shared::services::{AuthorizationAck, ClearingAck, RecordResult};

/// Largest body accepted (a thousand records fit comfortably).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Storing authorizations decides no clearing: no rules are read for it.
static NO_DECISION: LazyLock<shared::clearing::RulesVersion> =
    LazyLock::new(shared::clearing::RulesVersion::shipped);

/// Networks with a webhook route.
pub const CARD_NETWORKS: [&str; 1] = ["MASTERCARD"];

/// Cheap to clone: the ports are shared handles.
#[derive(Clone)]
pub struct WebhookService {
    pub store: Arc<dyn ClearingStore>,
    /// The matching rules in force (read at the first clearing, then kept briefly).
    pub rules: Arc<RulesInForce>,
    pub auth: WebhookAuth,
}

impl WebhookService {
    /// The ingest use case over this service's ports, deciding under `rules`.
    pub fn ingest<'a>(&'a self, rules: &'a shared::clearing::RulesVersion) -> IngestService<'a> {
        IngestService {
            store: self.store.as_ref(),
            rules,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Clearing,
    Authorizations,
}

static ROUTES: LazyLock<Router<Route>> = LazyLock::new(|| {
    Router::new()
        .route("POST", "/v1/webhooks/{network}/clearing", Route::Clearing)
        .route(
            "POST",
            "/v1/webhooks/{network}/authorizations",
            Route::Authorizations,
        )
});

/// The Lambda handler: never fails; every outcome is an HTTP response. Its log
/// lines carry the API Gateway request id; its metrics are flushed before it returns.
pub async fn handle(
    service: &WebhookService,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let span = shared::spans::http_request(&request);
    let outcome = route(service, &request).instrument(span).await;
    shared::metrics::flush();
    Ok(respond(&request, outcome))
}

async fn route(service: &WebhookService, request: &Request) -> Result<Reply, ApiError> {
    let matched = ROUTES.resolve_request(request)?;
    let network = matched.params.get("network").unwrap_or_default();
    let network = CARD_NETWORKS
        .iter()
        .find(|n| n.eq_ignore_ascii_case(network))
        .ok_or_else(|| {
            ApiError::RouteNotFound(format!("card network `{network}` has no webhook"))
        })?;
    let body: &[u8] = request.body().as_ref();
    authenticate(service, request, network, body)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge(format!(
            "body is {} bytes; at most {MAX_BODY_BYTES} are accepted per call",
            body.len()
        )));
    }
    match matched.route {
        Route::Clearing => Reply::json(200, &ingest_clearing(service, network, body).await?),
        Route::Authorizations => {
            Reply::json(200, &ingest_authorizations(service, network, body).await?)
        }
    }
}

/// Before the body is read: nothing from an unknown sender is stored. Mutual
/// TLS (the client certificate API Gateway passes on), else the signature;
/// either is valid only for `network`'s routes.
fn authenticate(
    service: &WebhookService,
    request: &Request,
    network: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let certificate = client_certificate(request);
    let certificate = certificate
        .as_ref()
        .map(|(subject, issuer)| ClientCertificate {
            subject,
            issuer: issuer.as_deref(),
        });
    service
        .auth
        .verify(
            network,
            certificate,
            signature,
            body,
            Utc::now().timestamp(),
        )
        .map_err(ApiError::from)
}

/// The verified client certificate's subject and issuer DNs.
fn client_certificate(request: &Request) -> Option<(String, Option<String>)> {
    use lambda_http::request::RequestContext;
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let cert = ctx.authentication.as_ref()?.client_cert.as_ref()?;
            Some((cert.subject_dn.clone()?, cert.issuer_dn.clone()))
        }
        _ => None,
    }
}

/// Stores, validates and matches every record of a clearing notification.
pub async fn ingest_clearing(
    service: &WebhookService,
    network: &str,
    body: &[u8],
) -> Result<ClearingAck, ApiError> {
    let rules = service.rules.current().await?;
    Ok(service
        .ingest(&rules)
        .ingest_clearing(network, body)
        .await?)
}

/// Stores every readable authorization; unreadable ones are kept aside with the reason.
pub async fn ingest_authorizations(
    service: &WebhookService,
    network: &str,
    body: &[u8],
) -> Result<AuthorizationAck, ApiError> {
    Ok(service
        .ingest(&NO_DECISION)
        .ingest_authorizations(network, body)
        .await?)
}
