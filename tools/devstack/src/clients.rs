//! SDK configuration and clients for the local stack.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use shared::adapters::AwsClients;

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_DYNAMODB_ENDPOINT: &str = "http://127.0.0.1:8000";
pub const DEFAULT_MOTO_ENDPOINT: &str = "http://127.0.0.1:5000";

/// Endpoints of the local services: the `AWS_ENDPOINT_URL_*` variables that
/// `local/stack.sh env` prints, else the defaults of `local/stack.sh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEndpoints {
    pub dynamodb: String,
    pub sqs: String,
    pub eventbridge: String,
    pub secretsmanager: String,
}

impl LocalEndpoints {
    pub fn from_env() -> Self {
        let sqs = env_or("AWS_ENDPOINT_URL_SQS", DEFAULT_MOTO_ENDPOINT);
        Self {
            dynamodb: env_or("AWS_ENDPOINT_URL_DYNAMODB", DEFAULT_DYNAMODB_ENDPOINT),
            eventbridge: env_or("AWS_ENDPOINT_URL_EVENTBRIDGE", DEFAULT_MOTO_ENDPOINT),
            // moto serves Secrets Manager beside SQS: same endpoint unless told otherwise.
            secretsmanager: env_or(SECRETS_MANAGER_ENDPOINT_VAR, &sqs),
            sqs,
        }
    }
}

impl Default for LocalEndpoints {
    fn default() -> Self {
        Self {
            dynamodb: DEFAULT_DYNAMODB_ENDPOINT.to_owned(),
            sqs: DEFAULT_MOTO_ENDPOINT.to_owned(),
            eventbridge: DEFAULT_MOTO_ENDPOINT.to_owned(),
            secretsmanager: DEFAULT_MOTO_ENDPOINT.to_owned(),
        }
    }
}

/// The SDK's endpoint variable for Secrets Manager (from its service id, "Secrets Manager").
pub const SECRETS_MANAGER_ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";

fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

fn env_or(key: &str, default: &str) -> String {
    env_nonempty(key).unwrap_or_else(|| default.to_owned())
}

/// SDK configuration for the local stack: the region of `AWS_REGION` (else
/// us-east-1) and the static credentials of `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` (else `local`/`local`). Never looks up profiles,
/// SSO or instance metadata for credentials.
///
/// DynamoDB Local keeps one database per access key id and region, so the
/// functions and the tests see the same tables only with the same values.
pub async fn local_sdk_config() -> SdkConfig {
    let region = env_nonempty("AWS_REGION")
        .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let credentials = match (
        env_nonempty("AWS_ACCESS_KEY_ID"),
        env_nonempty("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(key), Some(secret)) => Credentials::new(
            key,
            secret,
            env_nonempty("AWS_SESSION_TOKEN"),
            None,
            "environment",
        ),
        _ => Credentials::new("local", "local", None, None, "devstack"),
    };
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .load()
        .await
}

/// A DynamoDB client on `endpoints.dynamodb` (set explicitly: works without exported variables).
pub fn dynamodb_client(sdk: &SdkConfig, endpoints: &LocalEndpoints) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(&endpoints.dynamodb)
            .build(),
    )
}

/// An SQS client on `endpoints.sqs`.
pub fn sqs_client(sdk: &SdkConfig, endpoints: &LocalEndpoints) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(sdk)
            .endpoint_url(&endpoints.sqs)
            .build(),
    )
}

/// An EventBridge client on `endpoints.eventbridge`.
pub fn eventbridge_client(
    sdk: &SdkConfig,
    endpoints: &LocalEndpoints,
) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(sdk)
            .endpoint_url(&endpoints.eventbridge)
            .build(),
    )
}

/// A Secrets Manager client on `endpoints.secretsmanager`.
pub fn secretsmanager_client(
    sdk: &SdkConfig,
    endpoints: &LocalEndpoints,
) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(sdk)
            .endpoint_url(&endpoints.secretsmanager)
            .build(),
    )
}

/// The clients on the local stack, as `provision` and `add_subscriber` take them.
#[derive(Clone, Debug)]
pub struct LocalClients {
    pub sdk: SdkConfig,
    pub endpoints: LocalEndpoints,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
}

impl LocalClients {
    /// `local_sdk_config()` and `LocalEndpoints::from_env()`.
    pub async fn new() -> Self {
        Self::with(local_sdk_config().await, LocalEndpoints::from_env())
    }

    pub fn with(sdk: SdkConfig, endpoints: LocalEndpoints) -> Self {
        Self {
            dynamodb: dynamodb_client(&sdk, &endpoints),
            sqs: sqs_client(&sdk, &endpoints),
            eventbridge: eventbridge_client(&sdk, &endpoints),
            secretsmanager: secretsmanager_client(&sdk, &endpoints),
            sdk,
            endpoints,
        }
    }

    /// The same clients as the bundle the functions' wiring takes.
    pub fn aws(&self) -> AwsClients {
        AwsClients::with_clients(
            self.sdk.clone(),
            self.dynamodb.clone(),
            self.sqs.clone(),
            self.eventbridge.clone(),
            self.secretsmanager.clone(),
        )
    }
}

impl LocalClients {
    /// A failed call to a local service, naming the service, its endpoint,
    /// the operation and the resource.
    pub(crate) fn aws_error<E, R>(
        &self,
        service: &'static str,
        operation: &'static str,
        resource: &str,
        err: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> crate::DevstackError
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let endpoint = match service {
            "dynamodb" => &self.endpoints.dynamodb,
            "sqs" => &self.endpoints.sqs,
            "eventbridge" => &self.endpoints.eventbridge,
            _ => &self.endpoints.secretsmanager,
        };
        crate::DevstackError::aws(service, endpoint, operation, resource, err)
    }
}

/// The environment a function's real `main` needs to run on the local stack
/// (`cargo lambda watch --env-file`, the runtime-API test): its settings (see
/// [`crate::function_env`]: the provisioned resources, the ARNs of the secrets
/// provisioning stored, and `settings`, e.g. `local/local.env`, without the
/// secrets' values: as deployed, a function reads them from Secrets Manager),
/// and the SDK's region, credentials and endpoints for the local services.
pub fn lambda_env(
    provisioned: &crate::Provisioned,
    settings: &[(String, String)],
    endpoints: &LocalEndpoints,
) -> Result<Vec<(String, String)>, crate::DevstackError> {
    let mut env = crate::function_env(provisioned, settings)?;
    env.retain(|(name, _)| !crate::is_secret_value(name));
    // Same region and credentials as the tests and the runner: DynamoDB Local
    // keeps one database per access key and region.
    let sdk = [
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoints.dynamodb.clone()),
        ("AWS_ENDPOINT_URL_SQS", endpoints.sqs.clone()),
        (
            "AWS_ENDPOINT_URL_EVENTBRIDGE",
            endpoints.eventbridge.clone(),
        ),
        (
            SECRETS_MANAGER_ENDPOINT_VAR,
            endpoints.secretsmanager.clone(),
        ),
        (
            "AWS_REGION",
            env_nonempty("AWS_REGION").unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        ),
        (
            "AWS_ACCESS_KEY_ID",
            env_nonempty("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "local".to_owned()),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            env_nonempty("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "local".to_owned()),
        ),
    ];
    env.extend(sdk.into_iter().map(|(k, v)| (k.to_owned(), v)));
    Ok(env)
}
