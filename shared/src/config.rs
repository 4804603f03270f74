//! Configuration read once at cold start, and logging set-up.
//!
//! Every function reads its settings through [`Env`]: the process environment
//! when deployed, a map of the provisioned resources and local settings in the
//! local runner and the tests. One reader means one rule everywhere: a setting
//! that is empty or only whitespace is absent (a template that resolves a
//! secret to "" must not turn into a key that fails to parse).

use std::collections::BTreeMap;

use crate::clearing::matching::DEFAULT_MATCHING_RULES;
use crate::clearing::MatchingRules;

#[derive(Debug, Clone, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Settings by name.
#[derive(Debug, Clone)]
pub struct Env {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Process,
    Map(BTreeMap<String, String>),
}

impl Env {
    /// The process environment (the Lambda function's configuration).
    pub fn process() -> Self {
        Self {
            source: Source::Process,
        }
    }

    /// Name/value pairs (the local runner, the tests); a later pair wins.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            source: Source::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The value of `name`, unless it is unset, empty or whitespace.
    pub fn optional(&self, name: &str) -> Option<String> {
        let value = match &self.source {
            Source::Process => std::env::var(name).ok(),
            Source::Map(map) => map.get(name).cloned(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The value of `name`; unset, empty or whitespace is an error naming it.
    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
    }
}

/// The matching rules of `MATCHING_RULES` if set, else the shipped defaults.
pub fn matching_rules(env: &Env) -> Result<MatchingRules, ConfigError> {
    let json = env.optional("MATCHING_RULES");
    MatchingRules::from_json(json.as_deref().unwrap_or(DEFAULT_MATCHING_RULES))
        .map_err(|e| ConfigError(format!("MATCHING_RULES: {e}")))
}

/// The rules a matcher function decides with: the stored current version of
/// the rules document, version 1 being `MATCHING_RULES` (else the shipped
/// file) until the first change; read at the first decision and kept
/// `RULES_CACHE_SECONDS` (default 30): the most a change waits to apply.
pub fn rules_in_force(
    env: &Env,
    store: std::sync::Arc<dyn crate::ports::RulesStore>,
) -> Result<crate::services::RulesInForce, ConfigError> {
    use crate::services::{RulesInForce, RulesService, RULES_CACHE_TTL};
    let first = crate::clearing::RulesVersion::first(matching_rules(env)?);
    let ttl = match env.optional("RULES_CACHE_SECONDS") {
        None => RULES_CACHE_TTL,
        Some(text) => text
            .trim()
            .parse()
            .map(std::time::Duration::from_secs)
            .map_err(|_| {
                ConfigError(format!(
                    "RULES_CACHE_SECONDS: expected whole seconds, got {text:?}"
                ))
            })?,
    };
    Ok(RulesInForce::stored(RulesService { store, first }, ttl))
}

/// JSON logs for CloudWatch, at the level [`log_filter`] chooses. Every line
/// carries the fields of the spans it is in (the Lambda request id, the API
/// Gateway request id or SQS message id, the clearing id, ...), so one id
/// finds every line of a request.
pub fn init_tracing() {
    let env = Env::process();
    let filter = log_filter(
        env.optional("RUST_LOG").as_deref(),
        env.optional("AWS_LAMBDA_LOG_LEVEL").as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_target(false)
        .try_init();
}

/// The log filter: `RUST_LOG` when set (a developer's finer directives win),
/// else the level of the function's logging configuration, which Lambda passes
/// as `AWS_LAMBDA_LOG_LEVEL` with the JSON log format (Lambda would drop the
/// lines below it anyway; not producing them saves the work), else info.
pub fn log_filter(rust_log: Option<&str>, lambda_log_level: Option<&str>) -> String {
    if let Some(directives) = rust_log.map(str::trim).filter(|d| !d.is_empty()) {
        return directives.to_owned();
    }
    let level = match lambda_log_level
        .map(|l| l.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("TRACE") => "trace",
        Some("DEBUG") => "debug",
        Some("WARN") => "warn",
        // tracing has no level above error.
        Some("ERROR") | Some("FATAL") => "error",
        _ => "info",
    };
    level.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_blank_settings_are_absent() {
        let env = Env::from_pairs([("A", "x"), ("EMPTY", ""), ("BLANK", " \n\t")]);
        assert_eq!(env.optional("A").as_deref(), Some("x"));
        assert_eq!(env.optional("EMPTY"), None);
        assert_eq!(env.optional("BLANK"), None);
        assert_eq!(env.optional("UNSET"), None);
        assert_eq!(env.required("A").unwrap(), "x");
        for name in ["EMPTY", "BLANK", "UNSET"] {
            let e = env.required(name).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn log_level_from_rust_log_else_lambda_else_info() {
        assert_eq!(
            log_filter(Some("debug,aws=warn"), Some("ERROR")),
            "debug,aws=warn"
        );
        assert_eq!(log_filter(Some(" "), Some("WARN")), "warn");
        for (lambda, level) in [
            ("TRACE", "trace"),
            ("DEBUG", "debug"),
            ("INFO", "info"),
            ("WARN", "warn"),
            ("ERROR", "error"),
            ("FATAL", "error"),
            ("debug", "debug"),
            ("LOUD", "info"),
        ] {
            assert_eq!(log_filter(None, Some(lambda)), level, "{lambda}");
        }
        assert_eq!(log_filter(None, None), "info");
    }

    #[test]
    fn a_later_pair_wins() {
        let env = Env::from_pairs([("A", "1"), ("A", "2")]);
        assert_eq!(env.required("A").unwrap(), "2");
    }

    #[test]
    fn matching_rules_default_unless_set() {
        let shipped = MatchingRules::from_json(DEFAULT_MATCHING_RULES).unwrap();
        let none = Env::from_pairs([("MATCHING_RULES", " ")]);
        assert_eq!(matching_rules(&none).unwrap(), shipped);
        let custom = Env::from_pairs([("MATCHING_RULES", r#"{"tolerances": []}"#)]);
        assert!(matching_rules(&custom).unwrap().tolerances.is_empty());
        let bad = Env::from_pairs([("MATCHING_RULES", "{")]);
        assert!(matching_rules(&bad)
            .unwrap_err()
            .to_string()
            .contains("MATCHING_RULES"));
    }
}
