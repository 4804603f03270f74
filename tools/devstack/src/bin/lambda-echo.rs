//! A Lambda function that answers every HTTP API request with the event it
//! received, verbatim, as the JSON body of a 200: run under `sam local
//! start-api` it shows the payload SAM's emulator builds (the conformance
//! test in tests/sam_local.rs compares it with the local runner's and with
//! what AWS documents).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": event.payload.to_string(),
        "isBase64Encoded": false,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(echo)).await
}
