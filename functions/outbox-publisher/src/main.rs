//! Outbox publisher Lambda: builds its clients once, then consumes batches of
//! the table's stream (DynamoDB Streams event source, partial batch responses).

use lambda_runtime::{run, service_fn, Error};
use outbox_publisher::{handle, PublisherService};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let clients = AwsClients::from_environment().await?;
    let service = PublisherService::from_config(&Env::process(), &clients)?;
    let service = &service;
    run(service_fn(move |event| handle(service, event))).await
}
