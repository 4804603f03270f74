//! Reconciliation API Lambda: builds its clients once, then serves API Gateway events.

use std::sync::Arc;

use lambda_http::{run, service_fn, Error};
use reconciliation_api::{handle, reprocessing_lease_from_env, ApiService};
use shared::adapters::{sdk_config, DynamoDbClearingStore, SqsWorkQueue};
use shared::config::{init_tracing, required};
use shared::operator_auth::TokenVerifier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let sdk = sdk_config().await?;
    let service = ApiService {
        store: Arc::new(DynamoDbClearingStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            required("TABLE_NAME")?,
        )),
        queue: Arc::new(SqsWorkQueue::new(
            aws_sdk_sqs::Client::new(&sdk),
            required("REPROCESSING_QUEUE_URL")?,
        )),
        tokens: TokenVerifier::from_env()?,
        reprocessing_lease: reprocessing_lease_from_env()?,
    };
    let service = &service;
    run(service_fn(move |request| handle(service, request))).await
}
