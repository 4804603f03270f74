//! Authentication of card network webhook calls.
//!
//! Two schemes, either is enough:
//! - **mTLS** (Mastercard): API Gateway's custom domain verifies the client
//!   certificate against the truststore and passes its subject DN in the
//!   request context; the function accepts only configured subjects.
//! - **Signature** (other senders): header
//!   `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
//!   at most five minutes old (limits replay).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Env;

pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
pub const MAX_SIGNATURE_AGE_SECONDS: i64 = 300;

#[derive(Clone, Default)]
pub struct WebhookAuth {
    signing_secret: Option<Vec<u8>>,
    allowed_client_subjects: Vec<String>,
}

impl std::fmt::Debug for WebhookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("WebhookAuth")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<set>"),
            )
            .field("allowed_client_subjects", &self.allowed_client_subjects)
            .finish()
    }
}

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
    #[error("client certificate subject is not allowed")]
    UnknownClient,
}

impl WebhookAuth {
    pub fn new(signing_secret: Option<String>, allowed_client_subjects: Vec<String>) -> Self {
        Self {
            // A blank secret is no secret: signatures are then refused, never checked against "".
            signing_secret: signing_secret
                .filter(|s| !s.trim().is_empty())
                .map(String::into_bytes),
            allowed_client_subjects,
        }
    }

    /// From `WEBHOOK_SIGNING_SECRET` and `MTLS_ALLOWED_SUBJECTS` (`;`-separated DNs), both optional.
    pub fn from_config(env: &Env) -> Self {
        Self::new(
            env.optional("WEBHOOK_SIGNING_SECRET"),
            env.optional("MTLS_ALLOWED_SUBJECTS")
                .unwrap_or_default()
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Checks a call: the verified client certificate subject (if API Gateway
    /// passed one), the signature header (if any), the raw body and the time now.
    pub fn verify(
        &self,
        client_subject: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), WebhookAuthError> {
        if let Some(subject) = client_subject {
            if self.allowed_client_subjects.iter().any(|s| s == subject) {
                return Ok(());
            }
            if signature.is_none() {
                return Err(WebhookAuthError::UnknownClient);
            }
        }
        let header = signature.ok_or(WebhookAuthError::Missing)?;
        let secret = self
            .signing_secret
            .as_deref()
            .ok_or(WebhookAuthError::Mismatch)?;
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
        if (now_unix - t).abs() > MAX_SIGNATURE_AGE_SECONDS {
            return Err(WebhookAuthError::Stale);
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).map_err(|_| WebhookAuthError::Mismatch)?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&v1)
            .map_err(|_| WebhookAuthError::Mismatch)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_scheme() {
        let auth = WebhookAuth::new(Some("s3cret".into()), vec!["CN=mastercard".into()]);
        let body = b"{\"clearing\":[]}";
        let header = sign("s3cret", 1_000, body);
        assert_eq!(auth.verify(None, Some(&header), body, 1_100), Ok(()));
        assert_eq!(
            auth.verify(None, Some(&header), b"{}", 1_100),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            auth.verify(None, Some(&header), body, 2_000),
            Err(WebhookAuthError::Stale)
        );
        assert_eq!(
            auth.verify(None, Some(&sign("other", 1_000, body)), body, 1_000),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            auth.verify(None, Some("garbage"), body, 1_000),
            Err(WebhookAuthError::Malformed)
        );
        assert_eq!(
            auth.verify(None, None, body, 1_000),
            Err(WebhookAuthError::Missing)
        );
        assert_eq!(
            auth.verify(Some("CN=mastercard"), None, body, 1_000),
            Ok(())
        );
        assert_eq!(
            auth.verify(Some("CN=evil"), None, body, 1_000),
            Err(WebhookAuthError::UnknownClient)
        );
    }

    #[test]
    fn settings_come_from_the_configuration_and_blank_ones_are_absent() {
        let env = Env::from_pairs([
            ("WEBHOOK_SIGNING_SECRET", "s3cret"),
            ("MTLS_ALLOWED_SUBJECTS", " CN=a ; ;CN=b"),
        ]);
        let auth = WebhookAuth::from_config(&env);
        let body = b"{}";
        assert_eq!(
            auth.verify(None, Some(&sign("s3cret", 1, body)), body, 1),
            Ok(())
        );
        assert_eq!(auth.verify(Some("CN=b"), None, body, 1), Ok(()));
        assert_eq!(
            auth.verify(Some("CN=c"), None, body, 1),
            Err(WebhookAuthError::UnknownClient)
        );

        for secret in ["", "  "] {
            let env = Env::from_pairs([("WEBHOOK_SIGNING_SECRET", secret)]);
            let auth = WebhookAuth::from_config(&env);
            assert!(!format!("{auth:?}").contains("<set>"), "{secret:?}");
            assert_eq!(
                auth.verify(None, Some(&sign(secret, 1, body)), body, 1),
                Err(WebhookAuthError::Mismatch),
                "a signature made with a blank secret is refused"
            );
        }
    }
}
