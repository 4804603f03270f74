//! The API built from its configuration, in one place: the Lambda `main`, the
//! local runner and the tests all call [`ApiService::from_config`].

use std::sync::Arc;

use shared::adapters::{AwsClients, DynamoDbClearingStore, SqsWorkQueue};
use shared::config::{ConfigError, Env};
use shared::operator_auth::TokenVerifier;

use crate::{ApiService, DEFAULT_REPROCESSING_LEASE_SECONDS};

impl ApiService {
    /// `TABLE_NAME`, `REPROCESSING_QUEUE_URL`, the token settings (see
    /// [`TokenVerifier::from_config`]) and `REPROCESSING_LEASE_SECONDS` (optional).
    pub fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            store: Arc::new(DynamoDbClearingStore::new(
                clients.dynamodb(),
                env.required("TABLE_NAME")?,
            )),
            queue: Arc::new(SqsWorkQueue::new(
                clients.sqs(),
                env.required("REPROCESSING_QUEUE_URL")?,
            )),
            tokens: TokenVerifier::from_config(env)?,
            reprocessing_lease: reprocessing_lease(env)?,
        })
    }
}

/// `REPROCESSING_LEASE_SECONDS` (a positive whole number of seconds), else the default.
fn reprocessing_lease(env: &Env) -> Result<chrono::Duration, ConfigError> {
    let Some(text) = env.optional("REPROCESSING_LEASE_SECONDS") else {
        return Ok(chrono::Duration::seconds(
            DEFAULT_REPROCESSING_LEASE_SECONDS,
        ));
    };
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .map(chrono::Duration::seconds)
        .ok_or_else(|| {
            ConfigError(format!(
                "REPROCESSING_LEASE_SECONDS must be a positive whole number of seconds, not `{text}`"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(value: &str) -> Result<chrono::Duration, ConfigError> {
        reprocessing_lease(&Env::from_pairs([("REPROCESSING_LEASE_SECONDS", value)]))
    }

    #[test]
    fn the_reprocessing_lease_is_positive_seconds_or_the_default() {
        let default = chrono::Duration::seconds(DEFAULT_REPROCESSING_LEASE_SECONDS);
        assert_eq!(
            reprocessing_lease(&Env::from_pairs([("A", "1")])).unwrap(),
            default
        );
        // Empty or blank is unset, like every optional setting.
        assert_eq!(lease("").unwrap(), default);
        assert_eq!(lease("  ").unwrap(), default);
        assert_eq!(lease(" 600 ").unwrap(), chrono::Duration::seconds(600));
        for bad in ["0", "-5", "ten"] {
            assert!(lease(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_api_names_the_setting_it_misses() {
        let clients = AwsClients::from_environment().await.unwrap();
        let settings = [
            ("TABLE_NAME", "t-ClearingTable"),
            (
                "REPROCESSING_QUEUE_URL",
                "http://127.0.0.1:5000/123456789012/t-ReprocessingQueue",
            ),
            ("JWT_ISSUER", "iss"),
            ("JWT_AUDIENCE", "aud"),
            ("JWT_HS256_SECRET", "k"),
        ];
        assert!(ApiService::from_config(&Env::from_pairs(settings), &clients).is_ok());
        for missing in ["TABLE_NAME", "REPROCESSING_QUEUE_URL", "JWT_ISSUER"] {
            let env = Env::from_pairs(settings.iter().filter(|(k, _)| *k != missing).copied());
            let e = ApiService::from_config(&env, &clients).err().unwrap();
            assert!(e.to_string().contains(missing), "{e}");
        }
    }
}
