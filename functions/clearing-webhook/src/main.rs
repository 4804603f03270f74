//! Clearing webhook Lambda: builds its clients once, then serves API Gateway events.

use std::sync::Arc;

use clearing_webhook::{handle, WebhookService};
use lambda_http::{run, service_fn, Error};
use shared::adapters::{sdk_config, DynamoDbClearingStore, EventBridgeBus};
use shared::clearing::MatchingRules;
use shared::config::{init_tracing, required};
use shared::webhook_auth::WebhookAuth;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let sdk = sdk_config().await?;
    let service = WebhookService {
        store: Arc::new(DynamoDbClearingStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            required("TABLE_NAME")?,
        )),
        bus: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            required("EVENT_BUS_NAME")?,
        )),
        rules: MatchingRules::from_env()?,
        auth: WebhookAuth::from_env(),
    };
    let service = &service;
    run(service_fn(move |request| handle(service, request))).await
}
