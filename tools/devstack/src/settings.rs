//! What the functions are given locally: the provisioned resources under the
//! names template.yaml gives them, plus the local-only settings of
//! `local/local.env` (or a test's own). The functions read both through
//! `shared::config::Env`, exactly as they read their environment when deployed.

use std::path::Path;

use shared::config::Env;

use crate::{DevstackError, Provisioned};

/// The local-only settings, relative to the workspace root.
pub const LOCAL_ENV_FILE: &str = "local/local.env";

/// The `KEY=value` pairs of `local/local.env`.
pub fn local_settings() -> Result<Vec<(String, String)>, DevstackError> {
    let path = crate::repo_root().join(LOCAL_ENV_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| DevstackError::Read {
        path: path.clone(),
        source,
    })?;
    parse_env_file(&text, &path)
}

/// `KEY=value` lines; blank lines and `#` comments are skipped, and a value
/// may be quoted ('...' or "...", as `devstack provision --env-file` writes it).
pub fn parse_env_file(text: &str, path: &Path) -> Result<Vec<(String, String)>, DevstackError> {
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| DevstackError::Settings {
                path: path.to_owned(),
                line: n + 1,
                detail: format!("expected KEY=value, found {line:?}"),
            })?;
        let value = value.trim();
        let unquoted = ['\'', '"']
            .iter()
            .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
            .unwrap_or(value);
        pairs.push((key.trim().to_owned(), unquoted.to_owned()));
    }
    Ok(pairs)
}

/// What template.yaml gives the functions from its resources, by the names
/// they read, and the ARNs of their secrets.
pub fn resource_env(provisioned: &Provisioned) -> Result<Vec<(String, String)>, DevstackError> {
    let jobs = provisioned.queue("ReprocessingQueue")?;
    let pix_inputs = provisioned.queue("PixInputQueue")?;
    let secrets = provisioned
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()));
    Ok([
        ("TABLE_NAME", provisioned.table("ClearingTable")?.to_owned()),
        (
            "EVENT_BUS_NAME",
            provisioned.bus("ReconciliationBus")?.to_owned(),
        ),
        ("REPROCESSING_QUEUE_URL", jobs.url.clone()),
        ("REPROCESSING_QUEUE_ARN", jobs.arn.clone()),
        ("PIX_INPUT_QUEUE_ARN", pix_inputs.arn.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(secrets)
    .collect())
}

/// The secret a sender of `network` signs with locally: the current one in
/// the settings' `WEBHOOK_SECRETS` (what `devstack sign` uses).
pub fn signing_secret(settings: &Env, network: &str) -> Result<String, DevstackError> {
    let secrets = settings.required("WEBHOOK_SECRETS")?;
    Ok(shared::webhook_auth::current_secret(&secrets, network)?)
}

/// The functions' settings: `settings`, then the provisioned resources (which
/// win: a settings file cannot point a function at another table).
pub fn function_env(
    provisioned: &Provisioned,
    settings: &[(String, String)],
) -> Result<Vec<(String, String)>, DevstackError> {
    let mut env = settings.to_vec();
    env.extend(resource_env(provisioned)?);
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_key_value_lines() {
        let text = "# comment\n\nA=1\n B = two words \nC='CN=x'\nD=\"q\"\nE=\n";
        let pairs = parse_env_file(text, Path::new("f.env")).unwrap();
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("A", "1"),
                ("B", "two words"),
                ("C", "CN=x"),
                ("D", "q"),
                ("E", "")
            ]
        );
        let e = parse_env_file("A=1\nnonsense\n", Path::new("f.env")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.env:2: expected KEY=value, found \"nonsense\""
        );
    }

    #[test]
    fn the_checked_in_local_settings_are_complete() {
        let env = Env::from_pairs(local_settings().unwrap());
        for name in [
            "WEBHOOK_SECRETS",
            "MTLS_ALLOWED_SUBJECTS",
            "JWT_HS256_SECRET",
            "JWT_ISSUER",
            "JWT_AUDIENCE",
        ] {
            assert!(env.optional(name).is_some(), "{name}");
        }
        assert!(!signing_secret(&env, "mastercard").unwrap().is_empty());
        // The webhook accepts them, and the sample events' client certificate for mastercard.
        let auth = shared::webhook_auth::WebhookAuth::from_config(
            &env,
            env.optional("WEBHOOK_SECRETS").as_deref(),
        )
        .unwrap();
        let sample = shared::webhook_auth::ClientCertificate {
            subject: "CN=clearing.mastercard.com",
            issuer: Some("CN=Mastercard Test CA"),
        };
        assert_eq!(
            auth.verify("MASTERCARD", Some(sample), None, b"{}", 1),
            Ok(())
        );
    }
}
