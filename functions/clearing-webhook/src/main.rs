//! Clearing webhook Lambda: builds its clients once, reads its secrets beside the first poll, then serves API Gateway events.

use clearing_webhook::{handle, WebhookService};
use lambda_http::{run, service_fn, Error};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};
use shared::init::Deferred;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    shared::metrics::install("clearing-webhook", &Env::process());
    let clients = AwsClients::from_environment().await?;
    // The service (its secrets read from Secrets Manager) is built beside the
    // runtime's first poll, which waits for an event anyway; the first
    // invocation awaits it, later ones find it built (shared::init).
    let env = Env::process();
    let service = Deferred::spawn(async move { WebhookService::from_config(&env, &clients).await });
    let service = &service;
    run(service_fn(move |request| async move {
        handle(service.get().await?, request).await
    }))
    .await
}
