//! Adapters: the ports on AWS services, through the AWS SDK. Endpoints come
//! from the SDK's own configuration (`AWS_ENDPOINT_URL_<SERVICE>` locally).

pub mod aws;
pub mod call_log;
pub mod dynamodb;
pub mod eventbridge;
pub mod memory;
pub mod sqs;

pub use aws::{sdk_config, AwsClients};
pub use dynamodb::DynamoDbClearingStore;
pub use eventbridge::EventBridgeBus;
pub use sqs::SqsWorkQueue;
