//! The webhook built from its configuration, in one place: the Lambda `main`,
//! the local runner and the tests all call [`WebhookService::from_config`].

use std::sync::Arc;

use shared::adapters::{AwsClients, DynamoDbClearingStore, EventBridgeBus};
use shared::config::{matching_rules, ConfigError, Env};
use shared::webhook_auth::WebhookAuth;

use crate::WebhookService;

impl WebhookService {
    /// `TABLE_NAME`, `EVENT_BUS_NAME`, `MATCHING_RULES` (optional) and the
    /// webhook authentication settings (see [`WebhookAuth::from_config`]).
    pub fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            store: Arc::new(DynamoDbClearingStore::new(
                clients.dynamodb(),
                env.required("TABLE_NAME")?,
            )),
            bus: Arc::new(EventBridgeBus::new(
                clients.eventbridge(),
                env.required("EVENT_BUS_NAME")?,
            )),
            rules: matching_rules(env)?,
            auth: WebhookAuth::from_config(env),
        })
    }
}
