//! Reprocessing worker Lambda: builds its clients once, then consumes SQS batches.

use std::sync::Arc;

use lambda_runtime::{run, service_fn, Error};
use reprocessing_worker::{handle, WorkerService};
use shared::adapters::{sdk_config, DynamoDbClearingStore, EventBridgeBus};
use shared::clearing::MatchingRules;
use shared::config::{init_tracing, required};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let sdk = sdk_config().await?;
    let store = Arc::new(DynamoDbClearingStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        required("TABLE_NAME")?,
    ));
    let service = WorkerService {
        store: store.clone(),
        pix: store,
        bus: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            required("EVENT_BUS_NAME")?,
        )),
        rules: MatchingRules::from_env()?,
    };
    let service = &service;
    run(service_fn(move |event| handle(service, event))).await
}
