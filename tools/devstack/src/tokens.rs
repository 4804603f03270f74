//! Operator tokens minted as the identity provider would, for the local run
//! (`devstack token`) and the tests. The functions only ever verify tokens
//! (`shared::operator_auth`); nothing deployed mints one.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;
use shared::config::Env;

use crate::DevstackError;

/// The claims the API checks.
#[derive(Debug, Clone, Serialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub scope: String,
}

/// An HS256 token for `claims`.
pub fn mint_hs256(secret: &[u8], claims: &Claims) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signs any claims that serialize")
}

/// Every operator scope: read, reconcile, resolve (force match, undo,
/// request a write-off), approve (a write-off another operator requested)
/// and change the matching rules.
pub const ALL_SCOPES: &str =
    "clearing:read clearing:reconcile clearing:resolve clearing:approve rules:write";

/// A dev operator token (every scope, 12 hours) for the local settings'
/// `JWT_HS256_SECRET`, `JWT_ISSUER` and `JWT_AUDIENCE`.
pub fn dev_token(settings: &Env) -> Result<String, DevstackError> {
    operator_token(settings, "dev-operator", ALL_SCOPES)
}

/// A token for operator `subject` with `scope` (12 hours), as the identity
/// provider would issue it for the local settings.
pub fn operator_token(settings: &Env, subject: &str, scope: &str) -> Result<String, DevstackError> {
    let claims = Claims {
        sub: subject.into(),
        iss: settings.required("JWT_ISSUER")?,
        aud: settings.required("JWT_AUDIENCE")?,
        exp: chrono::Utc::now().timestamp() + 12 * 3600,
        scope: scope.into(),
    };
    Ok(mint_hs256(
        settings.required("JWT_HS256_SECRET")?.as_bytes(),
        &claims,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::operator_auth::{TokenVerifier, SCOPE_READ, SCOPE_RECONCILE};

    #[test]
    fn the_dev_token_passes_the_api_verifier_built_from_the_same_settings() {
        let settings = Env::from_pairs(crate::local_settings().unwrap());
        let token = dev_token(&settings).unwrap();
        let key = settings.required("JWT_HS256_SECRET").unwrap();
        let operator = TokenVerifier::from_config(&settings, &key)
            .unwrap()
            .verify(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(operator.subject, "dev-operator");
        assert!(operator.can(SCOPE_READ) && operator.can(SCOPE_RECONCILE));
    }
}
