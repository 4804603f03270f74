//! The AWS SDK configuration every function builds once at cold start.
//!
//! Why not plain `aws_config::defaults(..).load()`: its HTTPS client trusts the
//! platform's root store, which rustls-native-certs reads file by file from
//! `/etc/ssl/certs` before the first request: about 4 ms of a 6 ms cold start
//! (measured with `tools/coldstart`). The functions only ever call AWS service
//! endpoints (DynamoDB, SQS, EventBridge), whose certificates chain to Amazon
//! Trust Services, so they trust exactly those roots, compiled in. Local
//! endpoints (`AWS_ENDPOINT_URL_*` = http://127.0.0.1:...) do not use TLS.
//!
//! Credentials and region come from the environment only: Lambda always sets
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` and
//! `AWS_REGION`, so the default chains (profile files, web identity with its
//! STS client, container and instance metadata) are never needed and are not
//! built at cold start.

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

use crate::config::ConfigError;

/// Amazon Root CA 1-4 and Starfield Services Root G2 (the Amazon Trust
/// Services hierarchy, https://www.amazontrust.com/repository/).
pub const AWS_TRUST_ROOTS_PEM: &[u8] = include_bytes!("../../certs/aws-trust-services-roots.pem");

/// SDK configuration from the environment variables (region, credentials,
/// endpoints), with an HTTPS client that trusts the Amazon Trust Services roots only.
pub async fn sdk_config() -> Result<SdkConfig, ConfigError> {
    let trust = TrustStore::empty().with_pem_certificate(AWS_TRUST_ROOTS_PEM);
    let tls_context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| ConfigError(format!("TLS context: {e}")))?;
    let http_client = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context)
        .build_https();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .load()
        .await)
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
}
