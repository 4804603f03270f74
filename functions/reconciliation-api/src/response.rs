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

/// Records linked to this one: the first presentment a dispute step belongs
/// to and the other presentments clearing the same authorization; the dispute
/// steps (second presentments, chargebacks, arbitration) recorded on it.
#[derive(Serialize, Default, Debug, PartialEq)]
pub struct Links {
    pub presentments: Vec<String>,
    pub chargebacks: Vec<String>,
}

impl Links {
    pub fn of(
        message: &ClearingMessage,
        authorization: Option<&shared::authorization::Authorization>,
    ) -> Self {
        let own = message.clearing_unique_id.as_str();
        let original = message
            .lifecycle
            .as_ref()
            .and_then(|l| l.original_presentment.clone());
        let cleared_with = authorization
            .into_iter()
            .flat_map(|a| a.clearings.keys())
            .filter(|id| id.as_str() != own)
            .cloned();
        let mut presentments: Vec<String> = original.into_iter().chain(cleared_with).collect();
        presentments.dedup();
        Self {
            presentments,
            chargebacks: message
                .disputes
                .iter()
                .map(|d| d.clearing_unique_id.clone())
                .collect(),
        }
    }
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
            links: Links::of(&message, authorization.as_ref()),
            authorization,
            write_off,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::clearing::{
        parse_clearing_notification, DisputeStep, LifecycleLink, MessageType, PreparedRecord,
    };

    fn seed_message() -> ClearingMessage {
        let seed = include_str!("../../../spec/mastercard-clearing-notification.example.json");
        let record = parse_clearing_notification(seed.as_bytes())
            .unwrap()
            .remove(0);
        let rules = shared::clearing::RulesVersion::shipped();
        let now = chrono::Utc::now();
        ClearingMessage::ingest(
            PreparedRecord::new(record),
            "MASTERCARD",
            None,
            &rules,
            "t",
            now,
        )
        .message
    }

    #[test]
    fn links_name_the_original_the_other_presentments_and_the_disputes() {
        let mut first = seed_message();
        first.disputes.push(DisputeStep {
            message_type: MessageType::Chargeback,
            clearing_unique_id: "CB-1".into(),
            function_code: "450".into(),
            amount: "10.00".parse().unwrap(),
            currency: "USD".into(),
            at: chrono::Utc::now(),
        });
        assert_eq!(
            Links::of(&first, None),
            Links {
                presentments: vec![],
                chargebacks: vec!["CB-1".into()]
            }
        );
        let mut step = seed_message();
        step.clearing_unique_id = "CB-1".into();
        step.lifecycle = Some(LifecycleLink {
            message_type: MessageType::Chargeback,
            original_presentment: Some(first.clearing_unique_id.clone()),
            authorization_trans_uid: None,
        });
        assert_eq!(
            Links::of(&step, None).presentments,
            [first.clearing_unique_id.clone()]
        );
    }
}
