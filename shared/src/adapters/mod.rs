//! Adapters: the ports on AWS services, through the AWS SDK (and the
//! functions' secrets, read from Secrets Manager at cold start). Endpoints come
//! from the SDK's own configuration (`AWS_ENDPOINT_URL_<SERVICE>` locally).

pub mod aws;
pub mod call_log;
pub mod dynamodb;
pub mod eventbridge;
pub mod memory;
pub mod secrets;
pub mod sqs;

pub use aws::{sdk_config, AwsClients};
pub use dynamodb::DynamoDbClearingStore;
pub use eventbridge::EventBridgeBus;
pub use secrets::{SecretSource, SecretsManagerSecrets};
pub use sqs::SqsWorkQueue;
