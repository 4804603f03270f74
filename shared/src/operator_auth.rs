//! Operator access tokens (Bearer JWT) for the reconciliation API.
//!
//! Validated by the function itself, deployed and locally alike, so the local
//! run checks tokens exactly as production does: signature (HS256 with a
//! shared key, or RS256 with the identity provider's public key), `exp`,
//! `iss`, `aud`; `alg: none` and any algorithm other than the configured one
//! are refused. Permissions are OAuth scopes in the `scope` claim.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{ConfigError, Env};

pub const SCOPE_RECONCILE: &str = "clearing:reconcile";
pub const SCOPE_READ: &str = "clearing:read";

/// The claims the API reads (the library checks `exp`, `iss` and `aud` itself).
#[derive(Debug, Clone, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub subject: String,
    pub scopes: Vec<String>,
}

impl Operator {
    pub fn can(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
    /// How the operator appears in history.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.subject)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing Authorization header: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("Authorization header must be `Bearer <token>`")]
    Malformed,
    #[error("access token is invalid: {0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        Self::with(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
            issuer,
            audience,
        )
    }

    pub fn rs256(public_key_pem: &[u8], issuer: &str, audience: &str) -> Result<Self, TokenError> {
        let key = DecodingKey::from_rsa_pem(public_key_pem)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok(Self::with(key, Algorithm::RS256, issuer, audience))
    }

    fn with(key: DecodingKey, alg: Algorithm, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Self { key, validation }
    }

    /// From `JWT_ISSUER`, `JWT_AUDIENCE` and the key: `JWT_RS256_PUBLIC_KEY_PEM`
    /// (deployed) if set, else `JWT_HS256_SECRET` (local).
    pub fn from_config(env: &Env) -> Result<Self, ConfigError> {
        let issuer = env.required("JWT_ISSUER")?;
        let audience = env.required("JWT_AUDIENCE")?;
        if let Some(pem) = env.optional("JWT_RS256_PUBLIC_KEY_PEM") {
            return Self::rs256(pem.as_bytes(), &issuer, &audience)
                .map_err(|e| ConfigError(format!("JWT_RS256_PUBLIC_KEY_PEM: {e}")));
        }
        let secret = env.optional("JWT_HS256_SECRET").ok_or_else(|| {
            ConfigError(
                "set JWT_RS256_PUBLIC_KEY_PEM (deployed) or JWT_HS256_SECRET (local run)".into(),
            )
        })?;
        Ok(Self::hs256(secret.as_bytes(), &issuer, &audience))
    }

    /// Checks an `Authorization` header value.
    pub fn verify(&self, header: Option<&str>) -> Result<Operator, TokenError> {
        let header = header.ok_or(TokenError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Malformed)?;
        let data = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok(Operator {
            subject: data.claims.sub,
            scopes: data
                .claims
                .scope
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use jsonwebtoken::{encode, EncodingKey, Header};

    fn claims(scope: &str, exp_in: i64) -> serde_json::Value {
        serde_json::json!({
            "sub": "ana", "iss": "iss", "aud": "aud",
            "exp": chrono::Utc::now().timestamp() + exp_in, "scope": scope,
        })
    }

    /// What the identity provider does (production tokens are never minted here).
    fn mint_hs256(secret: &[u8], claims: &serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn tokens_are_checked() {
        let v = TokenVerifier::hs256(b"k", "iss", "aud");
        let good = mint_hs256(b"k", &claims("clearing:read clearing:reconcile", 600));
        let op = v.verify(Some(&format!("Bearer {good}"))).unwrap();
        assert!(op.can(SCOPE_RECONCILE) && op.can(SCOPE_READ));
        assert_eq!(v.verify(None), Err(TokenError::Missing));
        assert_eq!(v.verify(Some("Basic abc")), Err(TokenError::Malformed));
        let expired = mint_hs256(b"k", &claims("clearing:read", -600));
        assert!(matches!(
            v.verify(Some(&format!("Bearer {expired}"))),
            Err(TokenError::Invalid(_))
        ));
        let forged = mint_hs256(b"other", &claims("clearing:read", 600));
        assert!(matches!(
            v.verify(Some(&format!("Bearer {forged}"))),
            Err(TokenError::Invalid(_))
        ));
        // alg none: header {"alg":"none"} with the same claims and no signature.
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(&serde_json::to_string(&claims("clearing:reconcile", 600)).unwrap())
        );
        assert!(matches!(
            v.verify(Some(&format!("Bearer {none}"))),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn an_empty_public_key_is_absent_and_the_shared_secret_is_used() {
        let env = Env::from_pairs([
            ("JWT_ISSUER", "iss"),
            ("JWT_AUDIENCE", "aud"),
            ("JWT_RS256_PUBLIC_KEY_PEM", " "),
            ("JWT_HS256_SECRET", "k"),
        ]);
        let v = TokenVerifier::from_config(&env).unwrap();
        let token = mint_hs256(b"k", &claims("clearing:read", 600));
        assert!(v.verify(Some(&format!("Bearer {token}"))).is_ok());
    }

    #[test]
    fn token_settings_are_checked_at_start() {
        let base = [("JWT_ISSUER", "iss"), ("JWT_AUDIENCE", "aud")];
        let err = |extra: &[(&'static str, &'static str)]| {
            let env = Env::from_pairs(base.iter().chain(extra).copied());
            TokenVerifier::from_config(&env).err().unwrap().to_string()
        };
        // No key at all (both empty): the error names both ways to give one.
        let none = err(&[("JWT_RS256_PUBLIC_KEY_PEM", ""), ("JWT_HS256_SECRET", "")]);
        assert!(none.contains("JWT_RS256_PUBLIC_KEY_PEM") && none.contains("JWT_HS256_SECRET"));
        // A public key that is set must parse.
        let bad = err(&[
            ("JWT_RS256_PUBLIC_KEY_PEM", "not a key"),
            ("JWT_HS256_SECRET", "k"),
        ]);
        assert!(
            bad.starts_with("configuration: JWT_RS256_PUBLIC_KEY_PEM"),
            "{bad}"
        );
        let env = Env::from_pairs([("JWT_AUDIENCE", "aud"), ("JWT_HS256_SECRET", "k")]);
        let no_issuer = TokenVerifier::from_config(&env).err().unwrap().to_string();
        assert!(no_issuer.contains("JWT_ISSUER"), "{no_issuer}");
    }
}
