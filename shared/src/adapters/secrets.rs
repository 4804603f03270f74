//! Secrets Manager: the functions' secrets, read once at cold start.
//!
//! Why not environment variables (`{{resolve:secretsmanager:...}}` in the
//! template): a value resolved into a function's configuration is readable by
//! anyone allowed `lambda:GetFunctionConfiguration`, and changes only with a
//! redeploy. A function is given the secret's ARN (settings named `*_ARN`) and
//! reads the value during its init, through the same SDK configuration as its
//! other clients (the shared HTTPS client, credentials from the environment).
//! The value then lives in the function's memory for the life of the execution
//! environment: a new value reaches new environments, which is why a rotation
//! keeps the previous webhook secret valid for a while (`webhook_auth`).
//! Locally the same code reads moto's Secrets Manager
//! (`AWS_ENDPOINT_URL_SECRETS_MANAGER`), where `devstack` stores the values of
//! `local/local.env`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::config::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret {id}: {message}")]
    Unreadable { id: String, message: String },
    #[error("secret {id} holds no text (SecretString)")]
    NotText { id: String },
}

/// Reads a secret's text by its id (ARN). The wiring only ever reads.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError>;
}

/// Secrets Manager through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerSecrets {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSecrets {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| SecretError::Unreadable {
                id: id.to_owned(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        out.secret_string
            .ok_or_else(|| SecretError::NotText { id: id.to_owned() })
    }
}

/// Secrets by id, in memory (unit tests of the wiring).
#[async_trait]
impl SecretSource for BTreeMap<String, String> {
    async fn secret_string(&self, id: &str) -> Result<String, SecretError> {
        self.get(id)
            .cloned()
            .ok_or_else(|| SecretError::Unreadable {
                id: id.to_owned(),
                message: "no such secret".into(),
            })
    }
}

/// The secret whose ARN is the setting `name`; `None`, and nothing read, when
/// the setting is absent. Errors name the setting and the ARN, never the value.
pub async fn optional_secret(
    env: &Env,
    name: &str,
    source: &dyn SecretSource,
) -> Result<Option<String>, ConfigError> {
    match env.optional(name) {
        Some(arn) => read(name, &arn, source).await.map(Some),
        None => Ok(None),
    }
}

/// The secret whose ARN is the setting `name`, which must be set.
pub async fn required_secret(
    env: &Env,
    name: &str,
    source: &dyn SecretSource,
) -> Result<String, ConfigError> {
    read(name, &env.required(name)?, source).await
}

async fn read(name: &str, arn: &str, source: &dyn SecretSource) -> Result<String, ConfigError> {
    source
        .secret_string(arn.trim())
        .await
        .map_err(|e| ConfigError(format!("{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::BehaviorVersion;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf";

    fn map() -> BTreeMap<String, String> {
        BTreeMap::from([(ARN.to_owned(), "s3cret".to_owned())])
    }

    #[tokio::test]
    async fn a_secret_is_read_by_the_arn_its_setting_names() {
        let env = Env::from_pairs([
            ("SECRET_ARN", format!(" {ARN} ")),
            ("BLANK_ARN", " ".into()),
        ]);
        let got = optional_secret(&env, "SECRET_ARN", &map()).await.unwrap();
        assert_eq!(got.as_deref(), Some("s3cret"));
        // Absent (unset or blank): nothing is read.
        let empty = BTreeMap::new();
        for name in ["BLANK_ARN", "UNSET_ARN"] {
            assert_eq!(optional_secret(&env, name, &empty).await.unwrap(), None);
            let e = required_secret(&env, name, &empty).await.unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
        let env = Env::from_pairs([("SECRET_ARN", "arn:other")]);
        let e = required_secret(&env, "SECRET_ARN", &map())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("SECRET_ARN: cannot read secret arn:other"),
            "{e}"
        );
    }

    /// Answers one HTTP request with `body` and returns the request (head and body).
    async fn answer_once(listener: tokio::net::TcpListener, status: u16, body: String) -> String {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if rest.len() >= length {
                    break;
                }
            }
            assert!(n > 0, "connection closed before the whole request");
        }
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    }

    async fn secrets_manager(
        status: u16,
        body: String,
    ) -> (SecretsManagerSecrets, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(answer_once(listener, status, body));
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(super::super::aws::https_client().unwrap())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .build();
        let client = aws_sdk_secretsmanager::Client::from_conf(config);
        (SecretsManagerSecrets::new(client), server)
    }

    #[tokio::test]
    async fn secrets_manager_is_asked_for_the_secret_value_by_arn() {
        let body = serde_json::json!({"ARN": ARN, "Name": "webhook", "SecretString": "s3cret"});
        let (source, server) = secrets_manager(200, body.to_string()).await;
        assert_eq!(source.secret_string(ARN).await.unwrap(), "s3cret");
        let request = server.await.unwrap();
        let lower = request.to_ascii_lowercase();
        assert!(
            lower.contains("x-amz-target: secretsmanager.getsecretvalue"),
            "{request}"
        );
        assert!(
            request.contains(&format!(r#""SecretId":"{ARN}""#)),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_refusal_names_the_secret_and_the_reason() {
        let body = serde_json::json!({"__type": "AccessDeniedException", "message": "not allowed"});
        let (source, server) = secrets_manager(400, body.to_string()).await;
        let e = source.secret_string(ARN).await.unwrap_err().to_string();
        server.await.unwrap();
        assert!(e.starts_with(&format!("cannot read secret {ARN}")), "{e}");
        assert!(e.contains("AccessDeniedException"), "{e}");

        let body = serde_json::json!({"ARN": ARN, "SecretBinary": "AAEC"});
        let (source, server) = secrets_manager(200, body.to_string()).await;
        let e = source.secret_string(ARN).await.unwrap_err();
        server.await.unwrap();
        assert_eq!(e, SecretError::NotText { id: ARN.into() });
    }
}
