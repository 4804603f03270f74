//! The AWS SDK configuration every function builds once at cold start.
//!
//! Why not plain `aws_config::defaults(..).load()`: its HTTPS client trusts the
//! platform's root store, which rustls-native-certs reads file by file from
//! `/etc/ssl/certs` before the first request: about 4 ms of a 6 ms cold start
//! (measured with `tools/coldstart`). The functions only ever call AWS service
//! endpoints (DynamoDB, SQS, EventBridge, Secrets Manager), whose certificates chain to Amazon
//! Trust Services, so they trust exactly those roots, compiled in. Local
//! endpoints (`AWS_ENDPOINT_URL_*` = http://127.0.0.1:...) do not use TLS.
//!
//! Each SDK client, as it is constructed, asks its HTTP client to "validate the
//! base config", which in `aws-smithy-http-client` builds a whole connector
//! (trust store, rustls config, hyper client) and drops it: the connector a
//! request uses is built and cached on the first request anyway. With two
//! clients per function that was two TLS set-ups thrown away at every cold
//! start; [`ConnectorBuiltOnFirstRequest`] skips them.
//!
//! [`AwsClients`] is the bundle a function's wiring takes: one SDK
//! configuration, each client built the first time the wiring asks for it
//! (a function never pays for a client it does not use).
//!
//! Credentials and region come from the environment only: Lambda always sets
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` and
//! `AWS_REGION`, so the default chains (profile files, web identity with its
//! STS client, container and instance metadata) are never needed and are not
//! built at cold start.

use std::sync::OnceLock;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

use super::call_log::CallLog;
use super::secrets::SecretsManagerSecrets;
use crate::config::ConfigError;

/// Amazon Root CA 1-4 and Starfield Services Root G2 (the Amazon Trust
/// Services hierarchy, https://www.amazontrust.com/repository/).
pub const AWS_TRUST_ROOTS_PEM: &[u8] = include_bytes!("../../certs/aws-trust-services-roots.pem");

/// SDK configuration from the environment variables (region, credentials,
/// endpoints), with an HTTPS client that trusts the Amazon Trust Services roots only.
pub async fn sdk_config() -> Result<SdkConfig, ConfigError> {
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client()?)
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .load()
        .await)
}

/// The SDK clients of a function, from one SDK configuration. Clones share the
/// underlying clients (an SDK client is a handle).
#[derive(Clone, Debug)]
pub struct AwsClients {
    sdk: SdkConfig,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    sqs: OnceLock<aws_sdk_sqs::Client>,
    eventbridge: OnceLock<aws_sdk_eventbridge::Client>,
    secretsmanager: OnceLock<aws_sdk_secretsmanager::Client>,
}

impl AwsClients {
    /// Clients built from `sdk` when first asked for.
    pub fn new(sdk: SdkConfig) -> Self {
        Self {
            sdk,
            dynamodb: OnceLock::new(),
            sqs: OnceLock::new(),
            eventbridge: OnceLock::new(),
            secretsmanager: OnceLock::new(),
        }
    }

    /// The deployed functions' clients: [`sdk_config`] from the environment.
    pub async fn from_environment() -> Result<Self, ConfigError> {
        Ok(Self::new(sdk_config().await?))
    }

    /// Clients already built (the local runner's, each with its endpoint set).
    pub fn with_clients(
        sdk: SdkConfig,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        eventbridge: aws_sdk_eventbridge::Client,
        secretsmanager: aws_sdk_secretsmanager::Client,
    ) -> Self {
        Self {
            sdk,
            dynamodb: OnceLock::from(dynamodb),
            sqs: OnceLock::from(sqs),
            eventbridge: OnceLock::from(eventbridge),
            secretsmanager: OnceLock::from(secretsmanager),
        }
    }

    /// The same clients, each logging its calls into `log` (the deployed-shape
    /// test's IAM check; see [`super::call_log`]). The functions never call
    /// this, so their clients carry no interceptor.
    pub fn recording_into(self, log: &CallLog) -> Self {
        let dynamodb = self.dynamodb();
        let sqs = self.sqs();
        let eventbridge = self.eventbridge();
        // Secrets are read once at init, before a test installs its log; the
        // IAM check of GetSecretValue is the template's statement on the
        // secret's own ARN (tests/shape).
        let secretsmanager = self
            .secretsmanager
            .get_or_init(|| aws_sdk_secretsmanager::Client::new(&self.sdk))
            .clone();
        Self::with_clients(
            self.sdk,
            aws_sdk_dynamodb::Client::from_conf(
                dynamodb
                    .config()
                    .to_builder()
                    .interceptor(log.interceptor())
                    .build(),
            ),
            aws_sdk_sqs::Client::from_conf(
                sqs.config()
                    .to_builder()
                    .interceptor(log.interceptor())
                    .build(),
            ),
            aws_sdk_eventbridge::Client::from_conf(
                eventbridge
                    .config()
                    .to_builder()
                    .interceptor(log.interceptor())
                    .build(),
            ),
            secretsmanager,
        )
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(&self.sdk))
            .clone()
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        self.sqs
            .get_or_init(|| aws_sdk_sqs::Client::new(&self.sdk))
            .clone()
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        self.eventbridge
            .get_or_init(|| aws_sdk_eventbridge::Client::new(&self.sdk))
            .clone()
    }

    /// The function's secrets (read once, at cold start, by its wiring).
    pub fn secrets(&self) -> SecretsManagerSecrets {
        SecretsManagerSecrets::new(
            self.secretsmanager
                .get_or_init(|| aws_sdk_secretsmanager::Client::new(&self.sdk))
                .clone(),
        )
    }
}

/// The HTTPS client every SDK client of a function shares: Amazon Trust
/// Services roots only, its connector built on the first request.
pub fn https_client() -> Result<ConnectorBuiltOnFirstRequest, ConfigError> {
    let trust = TrustStore::empty().with_pem_certificate(AWS_TRUST_ROOTS_PEM);
    let tls_context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| ConfigError(format!("TLS context: {e}")))?;
    Ok(ConnectorBuiltOnFirstRequest(
        Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls_context)
            .build_https(),
    ))
}

/// The SDK's HTTPS client, without the connector it would build and discard
/// each time an SDK client is constructed (see the module comment). Requests
/// go to the inner client unchanged; it builds and caches its connector on the
/// first one, as it always did.
#[derive(Debug)]
pub struct ConnectorBuiltOnFirstRequest(pub SharedHttpClient);

impl HttpClient for ConnectorBuiltOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_certificates() {
        let text = std::str::from_utf8(AWS_TRUST_ROOTS_PEM).unwrap();
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(text.matches("-----END CERTIFICATE-----").count(), 5);
    }

    /// Answers one HTTP request with `body` and returns the request's head.
    async fn answer_once(listener: tokio::net::TcpListener, body: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the request head");
            request.extend_from_slice(&buf[..n]);
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    }

    #[tokio::test]
    async fn sdk_clients_send_their_requests_through_the_shared_https_client() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(answer_once(listener, r#"{"TableNames":["clearing"]}"#));
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https_client().unwrap())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let tables = client.list_tables().send().await.unwrap();
        assert_eq!(tables.table_names(), ["clearing"]);
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post / http/1.1"), "{request}");
        assert!(
            request.contains("x-amz-target: dynamodb_20120810.listtables"),
            "{request}"
        );
    }
}
