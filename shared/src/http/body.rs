//! Typed JSON request bodies whose errors name the field at fault.

use serde::de::{DeserializeOwned, IgnoredAny};

use crate::api_error::ApiError;

/// Reads a JSON body into `T`: too large is BTN0006, not JSON BTN0001, the
/// wrong shape BTN0002 with the path of the field at fault (`adjustments[0].new_value: ...`).
pub fn json_body<T: DeserializeOwned>(body: &[u8], max_bytes: usize) -> Result<T, ApiError> {
    if body.len() > max_bytes {
        return Err(ApiError::BodyTooLarge(format!(
            "body is {} bytes; at most {max_bytes} are accepted",
            body.len()
        )));
    }
    // Syntax first, so a body that is not JSON at all is never reported as
    // having the wrong shape (typed reading stops at the first misfit field).
    serde_json::from_slice::<IgnoredAny>(body)
        .map_err(|e| ApiError::MalformedJson(format!("body is not valid JSON: {e}")))?;
    // serde reads a struct from a sequence too: every request body is an object.
    if !crate::clearing::notification::is_json_object(body) {
        return Err(ApiError::InvalidBody("body must be a JSON object".into()));
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut reader)
        .map_err(|e| ApiError::InvalidBody(describe(e.path(), e.inner())))
}

/// `path: problem`, without serde_json's position (the path says where).
fn describe(path: &serde_path_to_error::Path, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let problem = text.strip_suffix(&position).unwrap_or(&text);
    match path.to_string().as_str() {
        "." => problem.to_owned(),
        path => format!("{path}: {problem}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        field: String,
        new_value: String,
    }

    fn err(body: &str) -> ApiError {
        json_body::<Body>(body.as_bytes(), 64).unwrap_err()
    }

    #[test]
    fn problems_are_classified_and_name_their_path() {
        assert!(matches!(err("{"), ApiError::MalformedJson(_)));
        assert!(matches!(err(""), ApiError::MalformedJson(_)));
        // Not JSON although its first field is mistyped: still BTN0001.
        assert!(matches!(err(r#"{"name": 1, "#), ApiError::MalformedJson(_)));
        assert_eq!(err("{}").to_string(), "missing field `name`");
        assert_eq!(
            err(r#"{"name": 1}"#).to_string(),
            "name: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            err(r#"{"name": "n", "items": [{"field": "f"}]}"#).to_string(),
            "items[0]: missing field `new_value`"
        );
        assert_eq!(
            err(r#"{"name": "n", "items": [{"field": "f", "new_value": 2}]}"#).to_string(),
            "items[0].new_value: invalid type: integer `2`, expected a string"
        );
        assert!(matches!(err(&" ".repeat(65)), ApiError::BodyTooLarge(_)));
        // serde would read `Body` from a sequence: the contract is an object.
        assert_eq!(
            err(r#" ["n", []]"#).to_string(),
            "body must be a JSON object"
        );
        assert_eq!(
            json_body::<Body>(br#"{"name": "n"}"#, 64).unwrap().name,
            "n"
        );
    }
}
