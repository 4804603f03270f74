//! The operator API's OpenAPI document, generated from its Rust types and
//! operations. `docs/openapi.json` is this document as committed; a test
//! fails when they differ. Regenerate with
//! `cargo run -p reconciliation-api --example openapi > docs/openapi.json`.
//!
//! The clearing message's schemas below describe the domain types' JSON (the
//! domain crate stays free of documentation derives). They refuse unknown
//! properties, so `tests/openapi_contract.rs`, which validates real responses
//! against this document, fails when the domain's JSON and these drift apart.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

use shared::api_error::ErrorBody;

use crate::operations;
use crate::request::ReconciliationRequest;
use crate::response::{ListResponse, ReconciliationResponse, SearchResponse};

/// The command that rewrites the committed document.
pub const REGENERATE: &str =
    "cargo run -p reconciliation-api --example openapi > docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Card issuing - Reconciliation",
        version = "1.0.0",
        description = "Model for the Network transactions backoffice endpoints. Extended by this product with read endpoints for operators. Every error body is ErrorResponse with a code from the catalogue in README.md. POST /v1/clearing-reconciliation needs scope clearing:reconcile; the GET endpoints need clearing:read.",
        contact(name = "API Support", url = "https://developers.pismo.io/support"),
        license(name = "Copyright Pismo"),
    ),
    servers(
        (url = "https://sandbox.pismolabs.io/network-transactions-backoffice-api", description = "Sandbox API server for testing for transactions backoffice"),
        (url = "http://127.0.0.1:3000", description = "local run (./dev.sh up)"),
    ),
    paths(operations::reconcile, operations::message, operations::list, operations::search),
    components(
        schemas(ReconciliationRequest, ReconciliationResponse, ErrorBody, ListResponse, SearchResponse, ClearingMessageSchema, CardNetworkSchema, ClearingStatusSchema),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, InternalServerError, ServiceUnavailable),
    ),
    modifiers(&BearerAuth),
    security(("BearerAuth" = [])),
    tags((name = "Network transactions backoffice", description = "Network transactions backoffice related endpoints")),
)]
pub struct ApiDoc;

impl ApiDoc {
    /// The document as committed: pretty JSON with a final newline.
    pub fn json() -> String {
        let text = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the document serializes");
        format!("{text}\n")
    }
}

/// The seed's security scheme: a bearer JWT.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "Account access token. Tokens can expire quickly, which can result in an \"Unauthorized\" error."
                .into(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("BearerAuth", SecurityScheme::Http(http));
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "ErrorResponse",
        ))))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
        .into()
}

/// The reusable error responses: the seed's five, and the two statuses its
/// operation also answers (409, 503).
macro_rules! error_responses {
    ($($ty:ident => $name:literal, $description:literal;)*) => {$(
        pub struct $ty;
        impl<'r> ToResponse<'r> for $ty {
            fn response() -> (&'r str, RefOr<Response>) {
                ($name, error_response($description))
            }
        }
    )*};
}

error_responses! {
    BadRequest => "400BadRequest", "The request is not acceptable, the syntax is malformed, for example, some type number parameter with a text content.";
    Unauthorized => "401Unauthorized", "Access token is missing or invalid";
    Forbidden => "403Forbidden", "The request has been lost";
    NotFound => "404NotFound", "The specified resource was not found.";
    Conflict => "409Conflict", "No clearing message of that card is pending (BTN0401): it is being reprocessed or is reconciled, or another request took it first.";
    InternalServerError => "500InternalServerError", "Internal Server Error.";
    ServiceUnavailable => "503ServiceUnavailable", "Storage or the reprocessing queue is temporarily unavailable (BTN0503); the messages are left as they were, retry later.";
}

/// The card networks with clearing messages.
#[derive(ToSchema)]
#[schema(as = CardNetwork)]
#[allow(dead_code)]
pub enum CardNetworkSchema {
    #[schema(rename = "MASTERCARD")]
    Mastercard,
}

/// A clearing message's status.
#[derive(ToSchema)]
#[schema(as = ClearingStatus)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub enum ClearingStatusSchema {
    Received,
    Matched,
    Pending,
    Reprocessing,
}

/// Why a clearing message waits for an operator.
#[derive(ToSchema)]
#[schema(as = PendingReasonCode)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub enum PendingReasonCodeSchema {
    InvalidField,
    AuthorizationNotFound,
    AuthorizationNotApproved,
    CardMismatch,
    AmountDivergent,
    CurrencyMismatch,
    DuplicatePresentment,
}

/// A clearing message: fields, raw payload, status, pending reason and full history.
#[derive(ToSchema)]
#[schema(as = ClearingMessage)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClearingMessageSchema {
    clearing_unique_id: String,
    card_network: String,
    /// Null when the record carried no cardReference
    #[schema(required = true)]
    card_hash: Option<String>,
    status: ClearingStatusSchema,
    /// Number of transitions so far
    version: u64,
    /// While PENDING, else null
    #[schema(required = true)]
    pending_reason: Option<PendingReasonSchema>,
    /// The clearing record's fields as exact text
    fields: BTreeMap<String, String>,
    /// The record's JSON exactly as received
    raw_payload: String,
    received_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Once MATCHED, else null
    #[schema(required = true)]
    matched: Option<MatchDetailsSchema>,
    /// The operator request being processed while REPROCESSING, else null
    #[schema(required = true)]
    reprocessing: Option<ReprocessingTicketSchema>,
    history: Vec<TransitionSchema>,
}

/// The reason with what an operator needs to act on it.
#[derive(ToSchema)]
#[schema(as = PendingReason)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PendingReasonSchema {
    code: PendingReasonCodeSchema,
    detail: String,
    /// For INVALID_FIELD: every field at fault and why
    #[serde(default)]
    fields: Vec<FieldProblemSchema>,
}

#[derive(ToSchema)]
#[schema(as = FieldProblem)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FieldProblemSchema {
    field: String,
    problem: String,
}

/// What was matched; amounts are exact decimals as text.
#[derive(ToSchema)]
#[schema(as = MatchDetails)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MatchDetailsSchema {
    authorization_trans_uid: String,
    #[schema(example = "12.34")]
    authorized_amount: String,
    cleared_amount: String,
    /// cleared - authorized; zero for an exact match, positive for a tip
    difference: String,
    currency: String,
    /// The tolerance rule that allowed a difference, if one was needed
    #[serde(default)]
    tolerance_rule: Option<String>,
}

/// The operator request a message is being reprocessed for.
#[derive(ToSchema)]
#[schema(as = ReprocessingTicket)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReprocessingTicketSchema {
    request_id: String,
    requested_by: String,
    requested_at: DateTime<Utc>,
    reconciliation_reason: String,
}

/// One recorded state change: who, when, why and what changed.
#[derive(ToSchema)]
#[schema(as = Transition)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TransitionSchema {
    version: u64,
    /// Null for the first transition
    #[schema(required = true)]
    from: Option<ClearingStatusSchema>,
    to: ClearingStatusSchema,
    at: DateTime<Utc>,
    /// `webhook:<network>`, `operator:<subject>`, `worker` or `system`
    actor: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    pending_reason: Option<PendingReasonSchema>,
    /// Fields an operator's adjustment changed
    #[serde(default)]
    changes: Vec<FieldChangeSchema>,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = FieldChange)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FieldChangeSchema {
    field: String,
    #[schema(required = true)]
    old_value: Option<String>,
    new_value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` is the generated document.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
        assert!(
            parse(&committed).is_some() && parse(&committed) == parse(&ApiDoc::json()),
            "docs/openapi.json is not the document the API's types generate; regenerate it with `{REGENERATE}`"
        );
    }
}
