//! Clearing webhook Lambda: builds its clients and reads its secrets once, then serves API Gateway events.

use clearing_webhook::{handle, WebhookService};
use lambda_http::{run, service_fn, Error};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    shared::metrics::install("clearing-webhook", &Env::process());
    let clients = AwsClients::from_environment().await?;
    // Secrets are read now, during init, not on the first request: an
    // environment Lambda initializes ahead of traffic pays for it off the
    // request path, and a secret that cannot be read fails the init, not a call.
    let service = WebhookService::from_config(&Env::process(), &clients).await?;
    let service = &service;
    run(service_fn(move |request| handle(service, request))).await
}
