//! Reconciliation API Lambda: builds its clients once, then serves API Gateway events.

use lambda_http::{run, service_fn, Error};
use reconciliation_api::{handle, ApiService};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let clients = AwsClients::from_environment().await?;
    let service = ApiService::from_config(&Env::process(), &clients)?;
    let service = &service;
    run(service_fn(move |request| handle(service, request))).await
}
