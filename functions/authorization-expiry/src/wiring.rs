//! The sweep built from its configuration, in one place: the Lambda `main`,
//! the local runner and the tests all call [`ExpiryFunction::from_config`].

use std::sync::Arc;

use shared::adapters::{AwsClients, DynamoDbClearingStore};
use shared::config::{ConfigError, Env};
use shared::services::SweepLimits;

use crate::ExpiryFunction;

/// A positive whole number setting, or its default when absent.
fn count(env: &Env, name: &str, default: usize) -> Result<usize, ConfigError> {
    match env.optional(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError(format!("{name}: '{v}' is not a positive whole number"))),
    }
}

impl ExpiryFunction {
    /// `TABLE_NAME`; optional `EXPIRY_MAX_PER_RUN`, `EXPIRY_LOOKBACK_DAYS`.
    pub fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        let defaults = SweepLimits::default();
        let lookback = count(env, "EXPIRY_LOOKBACK_DAYS", defaults.lookback_days as usize)?;
        Ok(Self {
            store: Arc::new(DynamoDbClearingStore::new(
                clients.dynamodb(),
                env.required("TABLE_NAME")?,
            )),
            limits: SweepLimits {
                max_per_run: count(env, "EXPIRY_MAX_PER_RUN", defaults.max_per_run)?,
                lookback_days: u32::try_from(lookback).map_err(|_| {
                    ConfigError(format!("EXPIRY_LOOKBACK_DAYS: {lookback} is too large"))
                })?,
                ..defaults
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sweep_names_a_missing_or_bad_setting() {
        let clients = AwsClients::from_environment().await.unwrap();
        let ok =
            ExpiryFunction::from_config(&Env::from_pairs([("TABLE_NAME", "t")]), &clients).unwrap();
        assert_eq!(ok.limits, SweepLimits::default());
        let e = ExpiryFunction::from_config(&Env::from_pairs([("X", "y")]), &clients)
            .err()
            .unwrap();
        assert!(e.to_string().contains("TABLE_NAME"), "{e}");
        let bad = [("TABLE_NAME", "t"), ("EXPIRY_MAX_PER_RUN", "0")];
        let e = ExpiryFunction::from_config(&Env::from_pairs(bad), &clients)
            .err()
            .unwrap();
        assert!(e.to_string().contains("EXPIRY_MAX_PER_RUN"), "{e}");
    }
}
