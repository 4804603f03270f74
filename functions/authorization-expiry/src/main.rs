//! Authorization expiry Lambda: builds its clients once, then runs one sweep
//! per schedule invocation (EventBridge Scheduler).

use authorization_expiry::{handle, ExpiryFunction};
use lambda_runtime::{run, service_fn, Error};
use shared::adapters::AwsClients;
use shared::config::{init_tracing, Env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_tracing();
    let clients = AwsClients::from_environment().await?;
    let function = ExpiryFunction::from_config(&Env::process(), &clients)?;
    let function = &function;
    run(service_fn(move |event| handle(function, event))).await
}
