//! Reconciliation API: operators find clearing messages and ask for pending
//! ones to be reprocessed. Bearer JWT on every route.
//!
//! - `POST /v1/clearing-reconciliation`            (scope `clearing:reconcile`), exactly the seed OpenAPI
//! - `GET  /v1/clearing-messages/{clearingUniqueId}` (scope `clearing:read`)
//! - `GET  /v1/clearing-messages?status=&card_network=&card_hash=&limit=&cursor=`
//! - `GET  /v1/clearing-search?transUid=|transactionStartDate=&transactionEndDate=|afterTransactionDate=|cursor=&offset=&limit=`
//! - `GET  /console`, `/console/`, `/console/{proxy+}`: the operators' console (static files, no token: `console`)
//! - `GET /v1/operations/rules`, `GET /v1/operations/rules/versions` (scope `clearing:read`),
//!   `PUT /v1/operations/rules` (scope `rules:write`): the versioned matching rules (`operations_rules`)
//! - the console's endpoints (`operations_console`, docs/console-api.md): queue
//!   summary, manual actions, write-offs, bulk actions, CSV export, reports, Pix results
//!
//! This crate only translates HTTP: the request is read into its types
//! (`request`), the reconciliation use case is `shared::services`, the read
//! endpoints are thin calls to the store, and `openapi` documents it all.

pub mod console;
mod wiring;

use std::sync::{Arc, LazyLock};

use lambda_http::{Body, Request, Response};

use shared::api_error::ApiError;
use shared::http::{respond, Reply, Router};
use shared::operator_auth::{Operator, TokenError, TokenVerifier};
use shared::ports::{ClearingStore, ConsoleStore};
use shared::services::{ConsoleService, ReconciliationService, RulesService};

pub mod openapi;
mod operations;
mod operations_console;
pub mod operations_rules;
pub mod request;
pub mod request_console;
pub mod response;

pub use request::MAX_SEARCH_OFFSET;
pub use response::{MessageView, ACCEPTED_MESSAGE};
pub use shared::services::MAX_MESSAGES_PER_REQUEST;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Cheap to clone: the ports are shared handles.
#[derive(Clone)]
pub struct ApiService {
    pub store: Arc<dyn ClearingStore>,
    pub tokens: TokenVerifier,
    /// How long a request may keep its messages REPROCESSING. Past it (its job
    /// ended in the dead-letter queue), a new request for the card takes them
    /// over; the old job, if it ever runs, finds another request and changes nothing.
    pub reprocessing_lease: chrono::Duration,
    /// How the console signs operators in.
    pub console: console::ConsoleSignIn,
    /// The same store as `store`, with the console's reads and writes.
    pub console_store: Arc<dyn ConsoleStore>,
    /// The versioned matching rules (on the same table).
    pub rules: RulesService,
}

impl ApiService {
    /// The reconciliation use case over this service's ports (two `Arc` clones).
    pub fn reconciliation(&self) -> ReconciliationService {
        ReconciliationService {
            store: self.store.clone(),
            lease: self.reprocessing_lease,
        }
    }

    /// The console's use cases over this service's ports.
    pub fn console_service(&self) -> ConsoleService {
        ConsoleService {
            store: self.console_store.clone(),
            reconciliation: self.reconciliation(),
        }
    }
}

/// Well past the queue's retries (visibility 180 s x 5 receives = 15 min).
pub const DEFAULT_REPROCESSING_LEASE_SECONDS: i64 = 1800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Reconcile,
    Message,
    List,
    Search,
    Rules,
    ChangeRules,
    RulesVersions,
    Console(operations_console::ConsoleRoute),
}

static ROUTES: LazyLock<Router<Route>> = LazyLock::new(|| {
    let router = Router::new()
        .route("POST", "/v1/clearing-reconciliation", Route::Reconcile)
        // Before `{clearingUniqueId}`: a literal segment wins, as in API Gateway.
        .route(
            "GET",
            "/v1/clearing-messages/export.csv",
            Route::Console(operations_console::ConsoleRoute::Export),
        )
        .route(
            "GET",
            "/v1/clearing-messages/{clearingUniqueId}",
            Route::Message,
        )
        .route("GET", "/v1/clearing-messages", Route::List)
        .route("GET", "/v1/clearing-search", Route::Search)
        .route("GET", "/v1/operations/rules", Route::Rules)
        .route("PUT", "/v1/operations/rules", Route::ChangeRules)
        .route("GET", "/v1/operations/rules/versions", Route::RulesVersions);
    operations_console::routes(router, Route::Console)
});

/// The Lambda handler: never fails; every outcome is an HTTP response.
pub async fn handle(
    service: &ApiService,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    if let Some(path) = console::console_path(&request) {
        return Ok(console::serve(&service.console, &request, path));
    }
    let span = shared::spans::http_request(&request);
    let outcome = tracing::Instrument::instrument(route(service, &request), span).await;
    Ok(respond(&request, outcome))
}

async fn route(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    let matched = ROUTES.resolve_request(request)?;
    match matched.route {
        Route::Reconcile => operations::reconcile(service, request).await,
        Route::Message => {
            let id = matched.params.get("clearingUniqueId").unwrap_or_default();
            operations::message(service, request, id).await
        }
        Route::List => operations::list(service, request).await,
        Route::Search => operations::search(service, request).await,
        Route::Rules => operations_rules::current(service, request).await,
        Route::ChangeRules => operations_rules::change(service, request).await,
        Route::RulesVersions => operations_rules::versions(service, request).await,
        Route::Console(route) => {
            operations_console::handle(service, request, route, &matched.params).await
        }
    }
}

/// The operator behind the bearer token, if it grants `scope`.
fn authorize(service: &ApiService, request: &Request, scope: &str) -> Result<Operator, ApiError> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let operator = service.tokens.verify(header).map_err(|e| match e {
        TokenError::Missing => ApiError::MissingCredentials(e.to_string()),
        _ => ApiError::InvalidCredentials(e.to_string()),
    })?;
    if !operator.can(scope) {
        return Err(ApiError::Forbidden(format!(
            "the token does not grant `{scope}`"
        )));
    }
    Ok(operator)
}
