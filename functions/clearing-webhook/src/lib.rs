//! Clearing webhook: card networks POST clearing and authorization
//! notifications here. Every clearing record is stored with its raw payload,
//! validated and matched; the call gets 200 only once every record is stored.
//!
//! Routes (API Gateway HTTP API):
//! - `POST /v1/webhooks/{network}/clearing`        body `{"clearing": [...]}`
//! - `POST /v1/webhooks/{network}/authorizations`  body `{"authorizations": [...]}`

mod wiring;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use futures::stream::{self, StreamExt, TryStreamExt};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use shared::api_error::ApiError;
use shared::authorization::parse_authorization_notification;
use shared::clearing::fields::transaction_date;
use shared::clearing::{
    parse_clearing_notification, ClearingMessage, ClearingStatus, MatchingRules, PendingReason,
    PreparedRecord,
};
use shared::events::clearing_event;
use shared::ports::{
    Arrivals, AuthorizationSaved, ClearingStore, EventBus, InsertOutcome, StoreError,
};
use shared::webhook_auth::{WebhookAuth, SIGNATURE_HEADER};

/// Largest body accepted (a thousand records fit comfortably).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Networks with a webhook route.
pub const CARD_NETWORKS: [&str; 1] = ["MASTERCARD"];

/// How many records are written at once.
const WRITE_CONCURRENCY: usize = 16;

pub struct WebhookService {
    pub store: Arc<dyn ClearingStore>,
    pub bus: Arc<dyn EventBus>,
    pub rules: MatchingRules,
    pub auth: WebhookAuth,
}

/// What the sender gets back for each clearing record.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordResult {
    pub clearing_unique_id: String,
    pub status: ClearingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<PendingReason>,
    /// True when this record was stored by an earlier delivery.
    pub duplicate: bool,
}

#[derive(Debug, Serialize)]
pub struct ClearingAck {
    pub received: usize,
    pub results: Vec<RecordResult>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationAck {
    pub received: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub rejected: Vec<shared::authorization::RejectedAuthorization>,
}

/// The Lambda handler: never fails; every outcome is an HTTP response.
pub async fn handle(
    service: &WebhookService,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let response = match route(service, &request).await {
        Ok(body) => json(200, body),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(code = e.code(), error = %e, "webhook call failed");
            } else {
                tracing::warn!(code = e.code(), error = %e, "webhook call refused");
            }
            json(e.status(), e.body())
        }
    };
    Ok(response)
}

fn json(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

enum Route {
    Clearing(&'static str),
    Authorizations(&'static str),
}

fn parse_route(method: &str, path: &str) -> Result<Route, ApiError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (network, kind) = match parts.as_slice() {
        ["v1", "webhooks", network, kind] => (*network, *kind),
        _ => {
            return Err(ApiError::RouteNotFound(format!(
                "no route for {method} {path}"
            )))
        }
    };
    let network = CARD_NETWORKS
        .iter()
        .find(|n| n.eq_ignore_ascii_case(network))
        .ok_or_else(|| {
            ApiError::RouteNotFound(format!("card network `{network}` has no webhook"))
        })?;
    if method != "POST" {
        return Err(ApiError::RouteNotFound(format!("{path} only accepts POST")));
    }
    match kind {
        "clearing" => Ok(Route::Clearing(network)),
        "authorizations" => Ok(Route::Authorizations(network)),
        _ => Err(ApiError::RouteNotFound(format!(
            "no route for {method} {path}"
        ))),
    }
}

fn client_certificate_subject(request: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx
            .authentication
            .as_ref()
            .and_then(|a| a.client_cert.as_ref())
            .and_then(|c| c.subject_dn.clone()),
        _ => None,
    }
}

async fn route(service: &WebhookService, request: &Request) -> Result<String, ApiError> {
    let path = request.raw_http_path();
    let route = parse_route(request.method().as_str(), path)?;
    let body: &[u8] = request.body().as_ref();
    // Authenticate before reading the body: nothing from an unknown sender is stored.
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    service
        .auth
        .verify(
            client_certificate_subject(request).as_deref(),
            signature,
            body,
            Utc::now().timestamp(),
        )
        .map_err(|e| ApiError::InvalidCredentials(e.to_string()))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge(format!(
            "body is {} bytes; at most {MAX_BODY_BYTES} are accepted per call",
            body.len()
        )));
    }
    match route {
        Route::Clearing(network) => {
            let ack = ingest_clearing(service, network, body).await?;
            Ok(serde_json::to_string(&ack).unwrap_or_default())
        }
        Route::Authorizations(network) => {
            let ack = ingest_authorizations(service, network, body).await?;
            Ok(serde_json::to_string(&ack).unwrap_or_default())
        }
    }
}

/// Stores, validates and matches every record of a clearing notification.
pub async fn ingest_clearing(
    service: &WebhookService,
    network: &str,
    body: &[u8],
) -> Result<ClearingAck, ApiError> {
    let records = parse_clearing_notification(body)?;
    let received = records.len();
    let prepared: Vec<PreparedRecord> = records.into_iter().map(PreparedRecord::new).collect();
    let keys: Vec<_> = prepared
        .iter()
        .filter_map(PreparedRecord::authorization_key)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let authorizations = service.store.authorizations(&keys).await?;
    let now = Utc::now();
    let mut arrivals = Arrivals::new(now);
    for p in &prepared {
        arrivals.add(&p.clearing_unique_id, transaction_date(&p.record.fields));
    }
    service.store.note_arrivals(&arrivals).await?;
    let actor = format!("webhook:{}", network.to_ascii_lowercase());

    let stored: Vec<(ClearingMessage, bool)> = stream::iter(prepared)
        .map(|p| {
            let auth = p
                .authorization_key()
                .and_then(|k| authorizations.get(&k).cloned());
            let actor = actor.as_str();
            async move { store_one(service, network, p, auth, actor, now).await }
        })
        .buffered(WRITE_CONCURRENCY)
        .try_collect()
        .await?;

    // Announce every outcome, re-announcing on redelivery (ids are stable), so
    // an event lost to a failure after storing is sent when the network retries.
    let events: Vec<_> = stored
        .iter()
        .filter_map(|(m, _)| clearing_event(m))
        .collect();
    service.bus.publish(&events).await.map_err(|e| {
        tracing::error!(error = %e, "events not published; the sender will retry the notification");
        ApiError::Unavailable("event bus is temporarily unavailable; retry later".into())
    })?;

    let results = stored
        .into_iter()
        .map(|(m, duplicate)| RecordResult {
            clearing_unique_id: m.clearing_unique_id,
            status: m.status,
            pending_reason: m.pending_reason,
            duplicate,
        })
        .collect();
    Ok(ClearingAck { received, results })
}

async fn store_one(
    service: &WebhookService,
    network: &str,
    prepared: PreparedRecord,
    authorization: Option<shared::authorization::Authorization>,
    actor: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(ClearingMessage, bool), ApiError> {
    let key = prepared.authorization_key();
    let decision = ClearingMessage::ingest(
        prepared.clone(),
        network,
        authorization.as_ref(),
        &service.rules,
        actor,
        now,
    );
    match service
        .store
        .insert_message(&decision.message, decision.claim.as_ref())
        .await
    {
        Ok(InsertOutcome::Inserted) => Ok((decision.message, false)),
        Ok(InsertOutcome::AlreadyStored(existing)) => Ok((*existing, true)),
        Err(StoreError::ClaimLost(_)) => {
            // Another first presentment took the authorization meanwhile: decide
            // again with the authorization as it is now (a duplicate presentment).
            let fresh = match key {
                Some(k) => service
                    .store
                    .authorizations(std::slice::from_ref(&k))
                    .await?
                    .remove(&k),
                None => None,
            };
            let decision = ClearingMessage::ingest(
                prepared,
                network,
                fresh.as_ref(),
                &service.rules,
                actor,
                now,
            );
            match service
                .store
                .insert_message(&decision.message, decision.claim.as_ref())
                .await?
            {
                InsertOutcome::Inserted => Ok((decision.message, false)),
                InsertOutcome::AlreadyStored(existing) => Ok((*existing, true)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Stores every readable authorization; unreadable ones are kept aside with the reason.
pub async fn ingest_authorizations(
    service: &WebhookService,
    network: &str,
    body: &[u8],
) -> Result<AuthorizationAck, ApiError> {
    let parsed = parse_authorization_notification(body, network)?;
    let received = parsed.len();
    let mut ack = AuthorizationAck {
        received,
        stored: 0,
        duplicates: 0,
        rejected: Vec::new(),
    };
    for record in parsed {
        match record {
            Ok(auth) => match service.store.save_authorization(&auth).await? {
                AuthorizationSaved::Inserted => ack.stored += 1,
                AuthorizationSaved::AlreadyStored => ack.duplicates += 1,
            },
            Err(rejected) => {
                service.store.save_rejected_authorization(&rejected).await?;
                ack.rejected.push(rejected);
            }
        }
    }
    Ok(ack)
}
