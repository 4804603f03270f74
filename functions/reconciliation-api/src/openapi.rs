//! The operator API's OpenAPI document, generated from its Rust types and
//! operations. `docs/openapi.json` is this document as committed; a test
//! fails when they differ. Regenerate with
//! `cargo run -p reconciliation-api --example openapi > docs/openapi.json`.
//!
//! The clearing message's schemas are derived from the domain types themselves
//! (`shared`'s `openapi` feature), so the document cannot drift from the JSON
//! the API serializes; `tests/openapi_contract.rs` also validates real
//! responses against it.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

use shared::api_error::ErrorBody;
use shared::clearing::{ClearingMessage, ClearingStatus};

use crate::request::ReconciliationRequest;
use crate::response::{ListResponse, ReconciliationResponse, SearchResponse};
use crate::{operations, operations_console, operations_rules};

/// The command that rewrites the committed document.
pub const REGENERATE: &str =
    "cargo run -p reconciliation-api --example openapi > docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Card issuing - Reconciliation",
        version = "1.0.0",
        description = "Model for the Network transactions backoffice endpoints. Extended by this product with read endpoints for operators. Every error body is ErrorResponse with a code from the catalogue in README.md. POST /v1/clearing-reconciliation needs scope clearing:reconcile; the GET endpoints need clearing:read; force match, undo match and write-off requests need clearing:resolve; approving or rejecting a write-off needs clearing:approve (and another operator than its maker); changing the matching rules needs rules:write. The console's endpoints are described in docs/console-api.md.",
        contact(name = "API Support", url = "https://developers.pismo.io/support"),
        license(name = "Copyright Pismo"),
    ),
    servers(
        (url = "https://sandbox.pismolabs.io/network-transactions-backoffice-api", description = "Sandbox API server for testing for transactions backoffice"),
        (url = "http://127.0.0.1:3000", description = "local run (./dev.sh up)"),
    ),
    paths(
        operations::reconcile, operations::message, operations::list, operations::search,
        operations_console::export, operations_console::summary, operations_console::force_match,
        operations_console::undo_match, operations_console::write_off, operations_console::write_offs,
        operations_console::approve, operations_console::reject, operations_console::start_bulk,
        operations_console::bulk, operations_console::daily, operations_console::pix,
        operations_rules::current, operations_rules::versions, operations_rules::change,
    ),
    components(
        schemas(ReconciliationRequest, ReconciliationResponse, ErrorBody, ListResponse, SearchResponse, ClearingMessage, CardNetworkSchema, ClearingStatus, operations_console::QueuePage, operations_rules::RulesView, operations_rules::RulesVersionsPage, operations_rules::RulesChangeBody),
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
    ServiceUnavailable => "503ServiceUnavailable", "Storage is temporarily unavailable (BTN0503); the messages are left as they were, retry later.";
}

/// The card networks with clearing messages.
#[derive(ToSchema)]
#[schema(as = CardNetwork)]
#[allow(dead_code)]
pub enum CardNetworkSchema {
    #[schema(rename = "MASTERCARD")]
    Mastercard,
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
