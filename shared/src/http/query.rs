//! Typed query strings whose errors name the parameter at fault.

use std::collections::BTreeMap;

use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::api_error::ApiError;

/// Reads the request's query string parameters into `T`; a parameter that
/// does not parse is BTN0005 naming it (`limit: ...`). Unknown parameters are
/// ignored; a repeated one counts with its last value.
pub fn query<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let pairs = request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    query_from_pairs(pairs)
}

/// [`query`] from decoded (name, value) pairs.
pub fn query_from_pairs<T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ApiError> {
    let last_wins: BTreeMap<String, String> = pairs.into_iter().collect();
    // Encoded again so the form deserializer reads numbers and the like from text.
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&last_wins)
        .finish();
    let reader = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(reader).map_err(|e| {
        ApiError::InvalidQuery(match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            path => format!("{path}: {}", e.inner()),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Q {
        limit: Option<u32>,
        cursor: Option<String>,
    }

    fn q(pairs: &[(&str, &str)]) -> Result<Q, ApiError> {
        query_from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn parameters_are_typed_and_problems_named() {
        let ok = q(&[("limit", "5"), ("cursor", "a b&c"), ("other", "x")]).unwrap();
        assert_eq!((ok.limit, ok.cursor.as_deref()), (Some(5), Some("a b&c")));
        let none = q(&[]).unwrap();
        assert_eq!((none.limit, none.cursor), (None, None));
        let e = q(&[("limit", "ten")]).unwrap_err();
        assert_eq!(e.code(), "BTN0005");
        assert!(e.to_string().starts_with("limit: "), "{e}");
        assert_eq!(q(&[("limit", "1"), ("limit", "7")]).unwrap().limit, Some(7));
    }
}
