//! The functions' secrets on the local stack: moto's Secrets Manager holds the
//! values of the local settings (`local/local.env`, or a test's own), and the
//! functions are given the secrets' ARNs, as template.yaml gives them deployed.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use shared::operator_auth::SIGNING_KEY_ARN_SETTING;
use shared::webhook_auth::SECRETS_ARN_SETTING;

use super::physical_name;
use crate::{DevstackError, LocalClients};

/// A secret the functions read: the local setting holding its value, the
/// secret's name (after the prefix), and the setting its ARN is given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSecret {
    pub value_setting: &'static str,
    pub name: &'static str,
    pub arn_setting: &'static str,
}

pub const LOCAL_SECRETS: [LocalSecret; 2] = [
    // JSON, per network: {"mastercard": ["<current>", "<previous>"]}.
    LocalSecret {
        value_setting: "WEBHOOK_SECRETS",
        name: "WebhookSecrets",
        arn_setting: SECRETS_ARN_SETTING,
    },
    // Locally an HS256 key; deployed the identity provider's RS256 public key.
    LocalSecret {
        value_setting: "JWT_HS256_SECRET",
        name: "JwtSigningKey",
        arn_setting: SIGNING_KEY_ARN_SETTING,
    },
];

/// Whether the setting `name` holds a secret's value (which a function is never given).
pub fn is_secret_value(name: &str) -> bool {
    LOCAL_SECRETS.iter().any(|s| s.value_setting == name)
}

/// Stores each secret whose value `settings` has (the last one, if repeated;
/// an empty value is absent) as `{prefix}{name}`, creating or updating it.
/// Returns the ARN of each, by the setting the functions read it from.
pub(super) async fn create_secrets(
    clients: &LocalClients,
    prefix: &str,
    settings: &[(String, String)],
) -> Result<BTreeMap<String, String>, DevstackError> {
    let mut arns = BTreeMap::new();
    for secret in LOCAL_SECRETS {
        let value = settings
            .iter()
            .rev()
            .find(|(k, _)| k == secret.value_setting)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty());
        let Some(value) = value else { continue };
        let name = physical_name(prefix, secret.name, "", 512, "secret")?;
        let arn = put_secret(clients, &name, value).await?;
        arns.insert(secret.arn_setting.to_owned(), arn);
    }
    Ok(arns)
}

/// Creates the secret, or gives an existing one this value; returns its ARN.
async fn put_secret(
    clients: &LocalClients,
    name: &str,
    value: &str,
) -> Result<String, DevstackError> {
    let created = clients
        .secretsmanager
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await;
    let arn = match created {
        Ok(out) => out.arn,
        Err(e) if e.code() == Some("ResourceExistsException") => {
            clients
                .secretsmanager
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| clients.aws_error("secretsmanager", "PutSecretValue", name, e))?
                .arn
        }
        Err(e) => return Err(clients.aws_error("secretsmanager", "CreateSecret", name, e)),
    };
    arn.ok_or_else(|| DevstackError::Aws {
        service: "secretsmanager",
        message: format!("secret {name}: no ARN in the answer"),
    })
}
