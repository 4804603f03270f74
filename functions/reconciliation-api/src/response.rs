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

/// `GET /v1/clearing-messages/{id}`: the message and what the console shows beside it.
#[derive(Serialize)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: ClearingMessage,
    /// The authorization it was matched with, or else the one its transUid names.
    pub authorization: Option<shared::authorization::Authorization>,
    /// Field by field: what was expected, what arrived.
    pub explanation: Vec<shared::console::explain::Explanation>,
    pub links: Links,
    /// The open write-off request, if any.
    pub write_off: Option<shared::console::WriteOff>,
}

/// Records linked to this one (presentments and chargebacks, once recorded).
#[derive(Serialize, Default)]
pub struct Links {
    pub presentments: Vec<String>,
    pub chargebacks: Vec<String>,
}

impl MessageDetail {
    pub async fn read(
        service: &crate::ApiService,
        id: &str,
    ) -> Result<Self, shared::api_error::ApiError> {
        use shared::api_error::ApiError;
        use shared::clearing::{ClearingStatus, ManualAction};
        let message = service
            .store
            .message(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no clearing message `{id}`")))?;
        let authorization = match shared::console::explain::authorization_key_of(&message) {
            Some(key) => service
                .store
                .authorizations(std::slice::from_ref(&key))
                .await?
                .remove(&key),
            None => None,
        };
        let write_off_id = (message.status == ClearingStatus::WriteOffRequested)
            .then(|| {
                message
                    .history
                    .iter()
                    .rev()
                    .find(|t| t.action == Some(ManualAction::WriteOffRequested))
                    .and_then(|t| t.request_id.clone())
            })
            .flatten();
        let write_off = match write_off_id {
            Some(w) => service.console_store.write_off(&w).await?,
            None => None,
        };
        Ok(Self {
            explanation: shared::console::explain::explain(&message, authorization.as_ref()),
            authorization,
            links: Links::default(),
            write_off,
            message,
        })
    }
}
