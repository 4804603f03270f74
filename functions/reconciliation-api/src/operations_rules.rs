//! The matching rules document: read the version in force and the history
//! (scope `clearing:read`), and make a new version (scope `rules:write`).
//! Each version keeps who made it, when and why; none is ever changed.

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use shared::api_error::ApiError;
use shared::clearing::RulesVersion;
use shared::http::{json_body, query, Reply};
use shared::operator_auth::{SCOPE_READ, SCOPE_RULES_WRITE};
use shared::services::rules::MAX_RULES_PAGE;

use crate::{authorize, ApiService, MAX_BODY_BYTES};

/// One version of the matching rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RulesView {
    /// 1 for the deployment's rules, then +1 per change.
    pub version: u64,
    /// `system` for version 1, else `operator:<subject>`.
    pub author: String,
    /// When this version was stored (the epoch for version 1 until the first change).
    pub changed_at: chrono::DateTime<chrono::Utc>,
    pub reason: String,
    /// The rules: `tolerances` (name, mcc_from, mcc_to, max_over_percent),
    /// `fx_variance_percent`, `not_previously_authorized` (FORCE_POST or HOLD),
    /// `allow_partial_clearing`, as in `config/matching-rules.json`.
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
}

impl From<&RulesVersion> for RulesView {
    fn from(v: &RulesVersion) -> Self {
        Self {
            version: v.version,
            author: v.author.clone(),
            changed_at: v.changed_at,
            reason: v.reason.clone(),
            // Plain data with string keys: serializing cannot fail.
            rules: serde_json::to_value(&v.rules).unwrap_or_default(),
        }
    }
}

/// Versions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RulesVersionsPage {
    pub items: Vec<RulesView>,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RulesVersionsQuery {
    /// Versions older than this one (from `next_before`).
    pub before: Option<u64>,
    /// At most this many (1-100, default 20).
    pub limit: Option<usize>,
}

/// A new version of the rules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesChangeBody {
    /// The version this change was made from: if another change was made
    /// meanwhile, the change is refused (409 BTN0406).
    pub expected_version: u64,
    /// Why the rules change (required).
    pub reason: String,
    /// The whole rules document, as `GET /v1/operations/rules` returns it.
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
}

/// The matching rules in force
///
/// The version every decision from now on uses (scope clearing:read). The
/// functions read it again at most 30 seconds after a change.
#[utoipa::path(
    get,
    path = "/v1/operations/rules",
    operation_id = "getRules",
    security(("BearerAuth" = [])),
    responses(
        (status = 200, description = "The version in force", body = RulesView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn current(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let current = service.rules.current().await?;
    Reply::json(200, &RulesView::from(&current))
}

/// The versions of the matching rules
///
/// Newest first, each with its author, time and reason (scope clearing:read).
#[utoipa::path(
    get,
    path = "/v1/operations/rules/versions",
    operation_id = "listRulesVersions",
    security(("BearerAuth" = [])),
    params(RulesVersionsQuery),
    responses(
        (status = 200, description = "One page of versions", body = RulesVersionsPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn versions(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let q: RulesVersionsQuery = query(request)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=MAX_RULES_PAGE).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!(
            "limit must be 1 to {MAX_RULES_PAGE}, not {limit}"
        )));
    }
    let items = service.rules.versions(q.before, limit).await?;
    let next_before = match items.last() {
        Some(last) if items.len() == limit && last.version > 1 => Some(last.version),
        _ => None,
    };
    Reply::json(
        200,
        &RulesVersionsPage {
            items: items.iter().map(RulesView::from).collect(),
            next_before,
        },
    )
}

/// Change the matching rules
///
/// Stores the next version (scope rules:write), announced as `rules.changed`.
/// Past decisions keep the version they were taken under; reprocesses use
/// the new one. Rules that do not read are refused naming the problem (400
/// BTN0007); a change made from an older version is refused (409 BTN0406).
#[utoipa::path(
    put,
    path = "/v1/operations/rules",
    operation_id = "changeRules",
    security(("BearerAuth" = [])),
    request_body(content = RulesChangeBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version, now in force", body = RulesView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn change(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    let operator = authorize(service, request, SCOPE_RULES_WRITE)?;
    let body: RulesChangeBody = json_body(request.body().as_ref(), MAX_BODY_BYTES)?;
    let next = service
        .rules
        .change(
            body.expected_version,
            &body.rules.to_string(),
            &operator.actor(),
            &body.reason,
            chrono::Utc::now(),
        )
        .await?;
    Reply::json(200, &RulesView::from(&next))
}
