//! The webhook built from its configuration, in one place: the Lambda `main`,
//! the local runner and the tests all call [`WebhookService::from_config`].

use std::sync::Arc;

use shared::adapters::secrets::optional_secret;
use shared::adapters::{AwsClients, DynamoDbClearingStore, SecretSource};
use shared::config::{rules_in_force, ConfigError, Env};
use shared::webhook_auth::{WebhookAuth, SECRETS_ARN_SETTING};

use crate::WebhookService;

impl WebhookService {
    /// `TABLE_NAME`, `MATCHING_RULES` and `RULES_CACHE_SECONDS` (optional; see
    /// [`rules_in_force`]) and the
    /// webhook authentication settings (see [`WebhookAuth::from_config`]):
    /// `MTLS_ALLOWED_SUBJECTS` and the webhook secret, read from Secrets
    /// Manager here, once, by the ARN in `WEBHOOK_SECRETS_ARN` (both optional).
    pub async fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        Self::from_config_with(env, clients, &clients.secrets()).await
    }

    /// [`Self::from_config`], the secret read from `secrets`.
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
        let rules = rules_in_force(env, store.clone())?;
        let secret = optional_secret(env, SECRETS_ARN_SETTING, secrets).await?;
        Ok(Self {
            store,
            rules: Arc::new(rules),
            auth: WebhookAuth::from_config(env, secret.as_deref())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::webhook_auth::sign;

    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf";

    #[tokio::test]
    async fn the_webhook_reads_its_secret_by_arn_and_names_what_it_misses() {
        let clients = AwsClients::from_environment().await.unwrap();
        let secrets = BTreeMap::from([(ARN.to_owned(), r#"{"mastercard": ["s"]}"#.to_owned())]);
        let settings = [
            ("TABLE_NAME", "t-ClearingTable"),
            (SECRETS_ARN_SETTING, ARN),
        ];
        let env = Env::from_pairs(settings);
        let service = WebhookService::from_config_with(&env, &clients, &secrets)
            .await
            .unwrap();
        let body = b"{}";
        let signature = sign("s", 1, body);
        assert_eq!(
            service
                .auth
                .verify("MASTERCARD", None, Some(&signature), body, 1),
            Ok(())
        );

        for missing in ["TABLE_NAME"] {
            let env = Env::from_pairs(settings.iter().filter(|(k, _)| *k != missing).copied());
            let e = WebhookService::from_config_with(&env, &clients, &secrets)
                .await
                .err()
                .unwrap();
            assert!(e.to_string().contains(missing), "{e}");
        }
        // No secret configured: the webhook starts, and accepts no signature.
        let env = Env::from_pairs(
            settings
                .iter()
                .filter(|(k, _)| *k != SECRETS_ARN_SETTING)
                .copied(),
        );
        let service = WebhookService::from_config_with(&env, &clients, &BTreeMap::new())
            .await
            .unwrap();
        assert!(service
            .auth
            .verify("MASTERCARD", None, Some(&signature), body, 1)
            .is_err());
        // A secret that cannot be read stops the start, naming the setting.
        let e = WebhookService::from_config_with(
            &Env::from_pairs(settings),
            &clients,
            &BTreeMap::new(),
        )
        .await
        .err()
        .unwrap();
        assert!(e.to_string().contains(SECRETS_ARN_SETTING), "{e}");
    }
}
