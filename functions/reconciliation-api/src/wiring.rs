//! The API built from its configuration, in one place: the Lambda `main`, the
//! local runner and the tests all call [`ApiService::from_config`].

use std::sync::Arc;

use shared::adapters::secrets::required_secret;
use shared::adapters::{AwsClients, DynamoDbClearingStore, SecretSource};
use shared::clearing::RulesVersion;
use shared::config::{matching_rules, ConfigError, Env};
use shared::operator_auth::{TokenVerifier, SIGNING_KEY_ARN_SETTING};
use shared::services::RulesService;

use crate::{ApiService, DEFAULT_REPROCESSING_LEASE_SECONDS};

impl ApiService {
    /// `TABLE_NAME`, the token settings (see
    /// [`TokenVerifier::from_config`]: its key is read from Secrets Manager
    /// here, once, by the ARN in `JWT_SIGNING_KEY_SECRET_ARN`) and
    /// `REPROCESSING_LEASE_SECONDS` and `MATCHING_RULES` (version 1 of the
    /// rules; optional), the console's sign-in
    /// (`CONSOLE_AUTH_DOMAIN`, `CONSOLE_CLIENT_ID`, `CONSOLE_SCOPES`, optional).
    pub async fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        Self::from_config_with(env, clients, &clients.secrets()).await
    }

    /// [`Self::from_config`], the key read from `secrets`.
    pub(crate) async fn from_config_with(
        env: &Env,
        clients: &AwsClients,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConfigError> {
        // Plain settings first: a missing one is named before any secret is read.
        let store = Arc::new(DynamoDbClearingStore::new(
            clients.dynamodb(),
            env.required("TABLE_NAME")?,
        ));
        let reprocessing_lease = reprocessing_lease(env)?;
        for name in ["JWT_ISSUER", "JWT_AUDIENCE"] {
            env.required(name)?;
        }
        let key = required_secret(env, SIGNING_KEY_ARN_SETTING, secrets).await?;
        let first = RulesVersion::first(matching_rules(env)?);
        Ok(Self {
            rules: RulesService {
                store: store.clone(),
                first,
            },
            store: store.clone(),
            console_store: store,
            tokens: TokenVerifier::from_config(env, &key)?,
            reprocessing_lease,
            console: crate::console::ConsoleSignIn::from_config(env),
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
        const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf";
        let clients = AwsClients::from_environment().await.unwrap();
        let secrets = std::collections::BTreeMap::from([(ARN.to_owned(), "k".to_owned())]);
        let settings = [
            ("TABLE_NAME", "t-ClearingTable"),
            ("JWT_ISSUER", "iss"),
            ("JWT_AUDIENCE", "aud"),
            (SIGNING_KEY_ARN_SETTING, ARN),
        ];
        let env = Env::from_pairs(settings);
        assert!(ApiService::from_config_with(&env, &clients, &secrets)
            .await
            .is_ok());
        for missing in ["TABLE_NAME", "JWT_ISSUER", SIGNING_KEY_ARN_SETTING] {
            let env = Env::from_pairs(settings.iter().filter(|(k, _)| *k != missing).copied());
            let e = ApiService::from_config_with(&env, &clients, &secrets)
                .await
                .err()
                .unwrap();
            assert!(e.to_string().contains(missing), "{e}");
        }
        // The key's secret cannot be read: the start fails, naming the setting.
        let empty = std::collections::BTreeMap::new();
        let e = ApiService::from_config_with(&Env::from_pairs(settings), &clients, &empty)
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains(SIGNING_KEY_ARN_SETTING), "{e}");
    }
}
