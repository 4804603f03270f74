//! Operator access tokens (Bearer JWT) for the reconciliation API.
//!
//! Validated by the function itself, deployed and locally alike, so the local
//! run checks tokens exactly as production does: signature (HS256 with a
//! shared key, or RS256 with the identity provider's public key), `exp`,
//! `nbf` (30 s leeway each), `iss`, `aud` (a string or a list naming this API,
//! RFC 7519 section 4.1.3); `alg: none` and any algorithm other than the configured one
//! are refused. Permissions are OAuth scopes in the `scope` claim.
//!
//! A Cognito access token names no `aud`: it carries `token_use: access` and
//! the app client in `client_id`, which must then be the configured audience,
//! and its custom scopes as `<resource server>/<scope>` (the issuer pins the
//! user pool, so the resource server part is dropped).

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{ConfigError, Env};

pub const SCOPE_RECONCILE: &str = "clearing:reconcile";
pub const SCOPE_READ: &str = "clearing:read";
/// Force match, undo a manual match, request a write-off (the maker).
pub const SCOPE_RESOLVE: &str = "clearing:resolve";
/// Approve or reject a write-off (the checker; never the write-off's maker).
pub const SCOPE_APPROVE: &str = "clearing:approve";
/// Change the matching rules (a new version of the rules document).
pub const SCOPE_RULES_WRITE: &str = "rules:write";
/// The setting holding the token signing key secret's ARN (Secrets Manager).
pub const SIGNING_KEY_ARN_SETTING: &str = "JWT_SIGNING_KEY_SECRET_ARN";

/// The claims the API reads (the library checks `exp`, `nbf` and `iss` itself).
#[derive(Debug, Clone, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
}

/// RFC 7519 4.1.3: one audience or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, audience: &str) -> bool {
        match self {
            Self::One(a) => a == audience,
            Self::Many(list) => list.iter().any(|a| a == audience),
        }
    }
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
    audience: String,
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
        // `aud` is checked in `verify`: a Cognito access token has `client_id` instead.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 30;
        // RFC 7519 4.1.5: not accepted before `nbf` (the library checks it only when asked).
        validation.validate_nbf = true;
        Self {
            key,
            validation,
            audience: audience.to_owned(),
        }
    }

    /// From `JWT_ISSUER`, `JWT_AUDIENCE` and `key`, the text of the signing key
    /// secret (the wiring reads it from Secrets Manager at cold start): the
    /// identity provider's RSA public key in PEM (deployed: RS256), else a
    /// shared HS256 key (local run). The key's form decides, never a setting:
    /// a public key can then never be used as an HMAC key (algorithm confusion).
    pub fn from_config(env: &Env, key: &str) -> Result<Self, ConfigError> {
        let issuer = env.required("JWT_ISSUER")?;
        let audience = env.required("JWT_AUDIENCE")?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError("the token signing key secret is empty".into()));
        }
        if key.starts_with("-----BEGIN") {
            return Self::rs256(key.as_bytes(), &issuer, &audience).map_err(|e| {
                ConfigError(format!(
                    "the token signing key secret (RS256 public key): {e}"
                ))
            });
        }
        Ok(Self::hs256(key.as_bytes(), &issuer, &audience))
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
        let claims = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        let cognito_access = match &claims.aud {
            Some(aud) if aud.names(&self.audience) => false,
            Some(_) => return Err(TokenError::Invalid("InvalidAudience".into())),
            None if claims.token_use.as_deref() == Some("access")
                && claims.client_id.as_deref() == Some(self.audience.as_str()) =>
            {
                true
            }
            None => return Err(TokenError::Invalid("the token names no audience".into())),
        };
        let scopes = claims
            .scope
            .split_whitespace()
            .map(|s| match s.rsplit_once('/') {
                Some((_, scope)) if cognito_access => scope.to_owned(),
                _ => s.to_owned(),
            })
            .collect();
        Ok(Operator {
            subject: claims.sub,
            scopes,
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

    /// An RSA public key (test only; its private half was thrown away).
    const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmPBb8jIeOH7EfEUvvNlu
qtMKEdMT7BMTHZykUwnEumKjhb/vGX9ZydcVqc39R3SwN/UazwhHhTpceDzGuFIH
8+eYX9dZkQ8DCxYuFucLM7FJVz3FDmfbzyV99Ot2m/ZziZQreDAeyYFJiBG9obgm
XF6d0H2qToom6tKyRG/W1uBrO0aBTqFpb37x234JlOGuigw6e9GmfrgWKu40pbDi
C3mHq2aYwYTdnqYwZa+LtXoL+zPRtK0m3F4I37WDqfYtOnY/LDqsnx/W4zErhg5k
dmJ8wdktiLwvwq8hqYgoPi+Ui0Qom8s5QblSYIwjcrkycHMZo38O4Ha/nbKaKGOw
7QIDAQAB
-----END PUBLIC KEY-----
";

    #[test]
    fn a_shared_key_means_hs256_and_a_pem_key_rs256() {
        let env = Env::from_pairs([("JWT_ISSUER", "iss"), ("JWT_AUDIENCE", "aud")]);
        let v = TokenVerifier::from_config(&env, " k\n").unwrap();
        let token = mint_hs256(b"k", &claims("clearing:read", 600));
        assert!(v.verify(Some(&format!("Bearer {token}"))).is_ok());

        // The public key is public: an HS256 token keyed with its text is refused.
        let v = TokenVerifier::from_config(&env, PUBLIC_KEY_PEM).unwrap();
        let forged = mint_hs256(PUBLIC_KEY_PEM.as_bytes(), &claims("clearing:read", 600));
        assert!(matches!(
            v.verify(Some(&format!("Bearer {forged}"))),
            Err(TokenError::Invalid(_))
        ));
        let pem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----";
        let e = TokenVerifier::from_config(&env, pem)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("RS256 public key"), "{e}");
    }

    /// RFC 7519 4.1.3 and 4.1.5: `aud` is a string or an array of strings;
    /// a token is not accepted before its `nbf` (with the same leeway as `exp`).
    #[test]
    fn audience_lists_and_not_before_follow_rfc_7519() {
        let v = TokenVerifier::hs256(b"k", "iss", "aud");
        let verify =
            |c: &serde_json::Value| v.verify(Some(&format!("Bearer {}", mint_hs256(b"k", c))));
        let mut c = claims("clearing:read", 600);
        c["aud"] = serde_json::json!(["other", "aud"]);
        assert!(verify(&c).is_ok(), "an aud list naming us is accepted");
        c["aud"] = serde_json::json!(["other", "else"]);
        assert!(matches!(verify(&c), Err(TokenError::Invalid(_))));
        c["aud"] = serde_json::json!([]);
        assert!(matches!(verify(&c), Err(TokenError::Invalid(_))));
        c["aud"] = serde_json::json!("aud");
        let now = chrono::Utc::now().timestamp();
        c["nbf"] = serde_json::json!(now + 600);
        assert!(
            matches!(verify(&c), Err(TokenError::Invalid(_))),
            "not valid before nbf"
        );
        c["nbf"] = serde_json::json!(now + 10);
        assert!(verify(&c).is_ok(), "within the leeway");
        c["nbf"] = serde_json::json!(now - 60);
        assert!(verify(&c).is_ok());
        c["nbf"] = serde_json::json!("soon");
        assert!(matches!(verify(&c), Err(TokenError::Invalid(_))));
    }

    /// A Cognito access token: no `aud`, the app client in `client_id`,
    /// custom scopes under the resource server's identifier.
    #[test]
    fn cognito_access_tokens_name_the_client_in_client_id() {
        let v = TokenVerifier::hs256(b"k", "iss", "aud");
        let verify =
            |c: &serde_json::Value| v.verify(Some(&format!("Bearer {}", mint_hs256(b"k", c))));
        let mut c = claims(
            "clearing-recon/clearing:read clearing-recon/clearing:approve",
            600,
        );
        c.as_object_mut().unwrap().remove("aud");
        c["token_use"] = "access".into();
        c["client_id"] = "aud".into();
        let op = verify(&c).unwrap();
        assert_eq!(op.scopes, ["clearing:read", "clearing:approve"]);
        c["client_id"] = "another-app".into();
        assert!(matches!(verify(&c), Err(TokenError::Invalid(_))));
        c["client_id"] = "aud".into();
        c["token_use"] = "id".into();
        assert!(matches!(verify(&c), Err(TokenError::Invalid(_))));
        c.as_object_mut().unwrap().remove("token_use");
        c.as_object_mut().unwrap().remove("client_id");
        assert!(
            matches!(verify(&c), Err(TokenError::Invalid(_))),
            "no audience at all"
        );
        // With an `aud`, scopes are taken as they are.
        c["aud"] = "aud".into();
        assert!(!verify(&c).unwrap().can(SCOPE_READ));
    }

    #[test]
    fn token_settings_are_checked_at_start() {
        let env = Env::from_pairs([("JWT_ISSUER", "iss"), ("JWT_AUDIENCE", "aud")]);
        for blank in ["", "  \n"] {
            let e = TokenVerifier::from_config(&env, blank).err().unwrap();
            assert!(e.to_string().contains("empty"), "{e}");
        }
        let env = Env::from_pairs([("JWT_AUDIENCE", "aud")]);
        let no_issuer = TokenVerifier::from_config(&env, "k")
            .err()
            .unwrap()
            .to_string();
        assert!(no_issuer.contains("JWT_ISSUER"), "{no_issuer}");
    }
}
