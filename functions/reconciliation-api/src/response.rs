//! The operator API's response bodies. A clearing message is the domain's
//! own serialization, documented by the schema derived from it.

use serde::Serialize;
use utoipa::ToSchema;

use shared::clearing::ClearingMessage;

pub const ACCEPTED_MESSAGE: &str = "The message has been received and is being processed.";

/// Reconciliation response
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationResponse {
    /// Success message
    #[schema(example = "The message has been received and is being processed.")]
    pub message: &'static str,
}

impl ReconciliationResponse {
    pub fn accepted() -> Self {
        Self {
            message: ACCEPTED_MESSAGE,
        }
    }
}

/// A clearing message as operators see it.
#[derive(Serialize)]
pub struct MessageView<'a> {
    #[serde(flatten)]
    pub message: &'a ClearingMessage,
}

impl<'a> From<&'a ClearingMessage> for MessageView<'a> {
    fn from(message: &'a ClearingMessage) -> Self {
        Self { message }
    }
}

/// One page of a list of clearing messages.
#[derive(Serialize, ToSchema)]
#[schema(as = ClearingMessagePage)]
pub struct ListResponse<'a> {
    #[schema(value_type = Vec<ClearingMessage>)]
    pub items: Vec<MessageView<'a>>,
    /// Pass as cursor for the next page; null on the last page
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// One page of a clearing search.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ClearingSearchResponse)]
pub struct SearchResponse<'a> {
    #[schema(value_type = Vec<ClearingMessage>)]
    pub clearing: Vec<MessageView<'a>>,
    /// The cursor form only: pass as cursor to read on
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_clearing_cursor: Option<String>,
}
