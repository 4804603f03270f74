//! Clearing webhook Lambda: builds its clients once, then serves API Gateway events.

use clearing_webhook::{handle, WebhookService};
use lambda_http::{run, service_fn, Error};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    shared::metrics::install("clearing-webhook", &Env::process());
    let clients = AwsClients::from_environment().await?;
    let service = WebhookService::from_config(&Env::process(), &clients)?;
    let service = &service;
    run(service_fn(move |request| handle(service, request))).await
}
