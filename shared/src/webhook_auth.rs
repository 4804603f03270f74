//! Authentication of card network webhook calls, per network.
//!
//! A credential authorizes only its own network's routes
//! (`/v1/webhooks/{network}/...`): a sender trusted for one network must not
//! write another network's records (a forged authorization would make that
//! network's clearings match). Two schemes, either is enough:
//! - **mTLS** (Mastercard): API Gateway's custom domain verifies the client
//!   certificate against the truststore and passes its subject and issuer DNs
//!   in the request context; the function accepts the certificate only on the
//!   routes of the network its (subject, issuer) pair is listed for.
//! - **Signature** (other senders): header
//!   `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
//!   at most five minutes old (limits replay), made with one of the network's
//!   secrets: the current one or, during a rotation, the previous one.
//!
//! Formats (docs/onboarding-senders.md says how a sender is onboarded):
//! - the webhook secret (Secrets Manager, read at cold start by the wiring):
//!   JSON `{"mastercard": ["<current>", "<previous>"]}`, one or two per network;
//! - `MTLS_ALLOWED_SUBJECTS`: `;`-separated entries
//!   `<network>=<subject DN>|issuer=<issuer DN>`, each DN exactly as API
//!   Gateway reports it (`requestContext.authentication.clientCert`).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{ConfigError, Env};

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const MAX_SIGNATURE_AGE_SECONDS: i64 = 300;
/// The current secret and, during a rotation, the previous one.
pub const MAX_SECRETS_PER_NETWORK: usize = 2;
/// The setting listing the client certificates allowed, per network.
pub const ALLOWED_SUBJECTS_SETTING: &str = "MTLS_ALLOWED_SUBJECTS";
/// The setting holding the webhook secret's ARN (Secrets Manager).
pub const SECRETS_ARN_SETTING: &str = "WEBHOOK_SECRETS_ARN";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    #[error("the call is not authenticated: send a client certificate (mTLS) or the X-Webhook-Signature header")]
    Missing,
    #[error("X-Webhook-Signature is malformed: expected t=<unix seconds>,v1=<hex HMAC-SHA256>")]
    Malformed,
    #[error(
        "X-Webhook-Signature is older than {MAX_SIGNATURE_AGE_SECONDS} seconds or in the future"
    )]
    Stale,
    #[error("X-Webhook-Signature does not match the body")]
    Mismatch,
    // One answer for an unknown certificate and another network's: the caller learns nothing more.
    #[error("client certificate is not allowed on this route")]
    UnknownClient,
}

/// The HMAC secrets of each network (names in lower case).
#[derive(Clone, Default)]
pub struct SigningSecrets {
    by_network: BTreeMap<String, Vec<Vec<u8>>>,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret: only how many each network has.
        f.debug_map()
            .entries(self.by_network.iter().map(|(n, s)| (n, s.len())))
            .finish()
    }
}

impl SigningSecrets {
    /// The webhook secret's text: `{"<network>": ["<current>", "<previous>"?]}`.
    /// Errors never quote the text (it is the secret).
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let shape = || {
            format!(
                r#"the webhook secret must be JSON {{"<network>": ["<current>", "<previous>"]}} with one or {MAX_SECRETS_PER_NETWORK} non-blank secrets per network"#
            )
        };
        let parsed: BTreeMap<String, Vec<String>> = serde_json::from_str(text).map_err(|e| {
            ConfigError(format!(
                "{} (line {}, column {})",
                shape(),
                e.line(),
                e.column()
            ))
        })?;
        let mut by_network = BTreeMap::new();
        for (network, secrets) in parsed {
            let name = network_name(&network)
                .map_err(|detail| ConfigError(format!("webhook secret: {detail}")))?;
            if secrets.is_empty()
                || secrets.len() > MAX_SECRETS_PER_NETWORK
                || secrets.iter().any(|s| s.trim().is_empty())
            {
                return Err(ConfigError(format!("{} (network {name})", shape())));
            }
            let secrets = secrets.into_iter().map(String::into_bytes).collect();
            if by_network.insert(name.clone(), secrets).is_some() {
                return Err(ConfigError(format!(
                    "webhook secret: network {name} is listed twice"
                )));
            }
        }
        Ok(Self { by_network })
    }

    fn of(&self, network: &str) -> &[Vec<u8>] {
        self.by_network
            .get(&network.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }
}

/// A client certificate API Gateway verified against the truststore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCertificate<'a> {
    pub subject: &'a str,
    pub issuer: Option<&'a str>,
}

/// A certificate allowed for a network's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedClient {
    pub network: String,
    pub subject: String,
    pub issuer: String,
}

/// The client certificates allowed, each for one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedClients(Vec<AllowedClient>);

impl AllowedClients {
    /// `<network>=<subject DN>|issuer=<issuer DN>` entries separated by `;`
    /// (blank entries skipped). The issuer is required: the truststore may
    /// hold several CAs, and a subject means something only with its issuer.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let entries = text.split(';').map(str::trim).filter(|e| !e.is_empty());
        let mut allowed = Vec::new();
        for (i, entry) in entries.enumerate() {
            let invalid = |detail: &str| {
                ConfigError(format!(
                    "{ALLOWED_SUBJECTS_SETTING} entry {} `{entry}`: {detail}",
                    i + 1
                ))
            };
            let (network, rest) = entry
                .split_once('=')
                .ok_or_else(|| invalid("expected <network>=<subject DN>|issuer=<issuer DN>"))?;
            let network = network_name(network.trim()).map_err(|d| invalid(&d))?;
            let (subject, issuer) = rest
                .rsplit_once("|issuer=")
                .map(|(s, i)| (s.trim(), i.trim()))
                .filter(|(s, i)| !s.is_empty() && !i.is_empty())
                .ok_or_else(|| {
                    invalid("expected <subject DN>|issuer=<issuer DN>, both non-empty")
                })?;
            allowed.push(AllowedClient {
                network,
                subject: subject.to_owned(),
                issuer: issuer.to_owned(),
            });
        }
        Ok(Self(allowed))
    }

    /// The allowed certificates, in the order configured.
    pub fn iter(&self) -> impl Iterator<Item = &AllowedClient> {
        self.0.iter()
    }

    fn allow(&self, network: &str, certificate: ClientCertificate<'_>) -> bool {
        self.0.iter().any(|c| {
            c.network.eq_ignore_ascii_case(network)
                && c.subject == certificate.subject
                && Some(c.issuer.as_str()) == certificate.issuer
        })
    }
}

/// A network's name as configured: ASCII letters, digits, `-` or `_`, compared in lower case.
fn network_name(name: &str) -> Result<String, String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "network name `{name}`: expected ASCII letters, digits, '-' or '_'"
        ))
    }
}

#[derive(Debug, Clone, Default)]
pub struct WebhookAuth {
    secrets: SigningSecrets,
    clients: AllowedClients,
}

impl WebhookAuth {
    pub fn new(secrets: SigningSecrets, clients: AllowedClients) -> Self {
        Self { secrets, clients }
    }

    /// `MTLS_ALLOWED_SUBJECTS` from `env` and the text of the webhook secret
    /// (the wiring reads it from Secrets Manager), both optional: without
    /// them no certificate, respectively no signature, is accepted.
    pub fn from_config(env: &Env, secret: Option<&str>) -> Result<Self, ConfigError> {
        let clients =
            AllowedClients::parse(&env.optional(ALLOWED_SUBJECTS_SETTING).unwrap_or_default())?;
        let secrets = match secret.filter(|s| !s.trim().is_empty()) {
            Some(text) => SigningSecrets::from_json(text)?,
            None => SigningSecrets::default(),
        };
        Ok(Self::new(secrets, clients))
    }

    /// Checks a call to `network`'s routes: the verified client certificate
    /// (if API Gateway passed one), the signature header (if any), the raw
    /// body and the time now.
    pub fn verify(
        &self,
        network: &str,
        certificate: Option<ClientCertificate<'_>>,
        signature: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), WebhookAuthError> {
        if let Some(certificate) = certificate {
            if self.clients.allow(network, certificate) {
                return Ok(());
            }
            // Not secret, and what onboarding needs: the DNs exactly as API Gateway passed them.
            tracing::warn!(
                network,
                subject = certificate.subject,
                issuer = certificate.issuer,
                "client certificate not allowed on this network's routes"
            );
            if signature.is_none() {
                return Err(WebhookAuthError::UnknownClient);
            }
        }
        let header = signature.ok_or(WebhookAuthError::Missing)?;
        verify_signature(self.secrets.of(network), header, body, now_unix)
    }
}

/// The header is well formed, fresh, and made with one of `secrets` (none: it cannot match).
fn verify_signature(
    secrets: &[Vec<u8>],
    header: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<(), WebhookAuthError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(WebhookAuthError::Malformed);
    };
    // abs_diff: `t` is the sender's, and a subtraction could overflow on extreme values.
    if now_unix.abs_diff(t) > MAX_SIGNATURE_AGE_SECONDS.unsigned_abs() {
        return Err(WebhookAuthError::Stale);
    }
    let matches = |secret: &Vec<u8>| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&v1).is_ok()
    };
    if secrets.iter().any(matches) {
        Ok(())
    } else {
        Err(WebhookAuthError::Mismatch)
    }
}

/// The header value for `body` signed at `t` (senders, tests and the sample events).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The current (first) secret of `network` in the webhook secret's text: what
/// a sender signs with (the local tools sign with the local secret).
pub fn current_secret(secret: &str, network: &str) -> Result<String, ConfigError> {
    let secrets = SigningSecrets::from_json(secret)?;
    secrets
        .of(network)
        .first()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .ok_or_else(|| ConfigError(format!("the webhook secret has no secret for {network}")))
}

#[cfg(test)]
#[path = "webhook_auth_tests.rs"]
mod tests;
