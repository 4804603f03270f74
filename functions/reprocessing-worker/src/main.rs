//! Reprocessing worker Lambda: builds its clients once, then consumes SQS batches.

use lambda_runtime::{run, service_fn, Error};
use reprocessing_worker::{handle, WorkerService};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    shared::metrics::install("reprocessing-worker", &Env::process());
    let clients = AwsClients::from_environment().await?;
    let service = WorkerService::from_config(&Env::process(), &clients)?;
    let service = &service;
    run(service_fn(move |event| handle(service, event))).await
}
