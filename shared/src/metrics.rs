//! Business metrics, written to the function's log in CloudWatch embedded
//! metric format (EMF): CloudWatch Logs turns each such line into metric data
//! points, so there is no PutMetricData call, no client and nothing at
//! cold start beyond building the recorder.
//!
//! The code records through the `metrics` facade (counters); the recorder is
//! `metrics_cloudwatch_embedded`, chosen because it is the maintained EMF
//! backend for that facade (releases through 2026, current `metrics` 0.24),
//! small, and lets the functions flush where they choose: built without its
//! Lambda layer, the handlers flush after each event themselves, so the local
//! runner and the tests, which call the same handlers without installing a
//! recorder, print nothing. (awslabs' `metrique` was the other candidate: a
//! unit-of-work model with derive macros, more than a handful of counters needs.)
//!
//! Namespace `METRICS_NAMESPACE` (the template sets
//! `ClearingReconciliation/<stack name>`), default [`DEFAULT_NAMESPACE`].
//! Every metric has the dimension `Service` (the function: `clearing-webhook`,
//! `reprocessing-worker`); some add one more. All are counts, summed per period:
//!
//! | metric | extra dimension | what |
//! | --- | --- | --- |
//! | `Ingested` | | clearing records stored for the first time (redeliveries excluded) |
//! | `Matched` | | of those, stored MATCHED |
//! | `Pending` | | of those, stored PENDING |
//! | `PendingByReason` | `Reason` (`INVALID_FIELD`, `AUTHORIZATION_NOT_FOUND`, ...) | the same, by pending reason |
//! | `Duplicates` | | redelivered records (already stored, state unchanged) |
//! | `Reprocessed` | `Outcome` (`MATCHED`, `PENDING`, `ALREADY_APPLIED`, `STALE`) | reprocessing jobs done |
//! | `PixResults` | `Outcome` (`OK`, `TRANSACTION_AMOUNT_DIVERGENT`, `PISMO_TRANSACTION_NOT_FOUND`, `PROVIDER_TRANSACTION_NOT_FOUND`) | `financial_reconciliation` events published |
//! | `FailedMessages` | | SQS messages the worker reported as failed (retried, then dead-lettered) |
//!
//! Metric lines carry no `level`, so Lambda's log-level filter treats them as
//! INFO: the template allows no application log level above INFO.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::OnceLock;

use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::clearing::{ClearingStatus, PendingReasonCode};
use crate::config::Env;
use crate::pix::ResultDescription;

pub const DEFAULT_NAMESPACE: &str = "ClearingReconciliation";
pub const SERVICE_DIMENSION: &str = "Service";

pub const INGESTED: &str = "Ingested";
pub const MATCHED: &str = "Matched";
pub const PENDING: &str = "Pending";
pub const PENDING_BY_REASON: &str = "PendingByReason";
pub const DUPLICATES: &str = "Duplicates";
pub const REPROCESSED: &str = "Reprocessed";
pub const PIX_RESULTS: &str = "PixResults";
pub const FAILED_MESSAGES: &str = "FailedMessages";

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the EMF recorder for `service` (once per process; a second call is
/// ignored). Until it is installed, recording is a no-op and [`flush`] writes nothing.
pub fn install(service: &'static str, env: &Env) {
    if COLLECTOR.get().is_some() {
        return;
    }
    let namespace = env
        .optional("METRICS_NAMESPACE")
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    match Builder::new()
        .cloudwatch_namespace(namespace)
        .with_dimension(SERVICE_DIMENSION, service)
        .init()
    {
        Ok(collector) => {
            let _ = COLLECTOR.set(collector);
        }
        // Another recorder is installed: the metrics go there (never fatal).
        Err(e) => tracing::warn!(error = %e, "metrics recorder not installed"),
    }
}

/// Writes what was recorded since the last flush to stdout (the function's
/// log) and starts counting again. Called by the handlers after each event.
pub fn flush() {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Err(e) = flush_to(&mut out).and_then(|()| out.flush()) {
        tracing::warn!(error = %e, "metrics not written");
    }
}

/// [`flush`] into any writer: one EMF document (a JSON line) per dimension set.
pub fn flush_to(writer: impl Write) -> std::io::Result<()> {
    match COLLECTOR.get() {
        Some(collector) => collector.flush(writer),
        None => Ok(()),
    }
}

/// The outcomes of one clearing notification, counted before they are
/// recorded (one counter update per metric, not per record).
#[derive(Debug, Default)]
pub struct IngestTally {
    ingested: u64,
    matched: u64,
    pending: u64,
    duplicates: u64,
    by_reason: BTreeMap<&'static str, u64>,
}

impl IngestTally {
    /// One record as it now stands; `duplicate` when an earlier delivery stored it.
    pub fn add(
        &mut self,
        status: ClearingStatus,
        reason: Option<PendingReasonCode>,
        duplicate: bool,
    ) {
        if duplicate {
            self.duplicates += 1;
            return;
        }
        self.ingested += 1;
        match status {
            ClearingStatus::Matched => self.matched += 1,
            ClearingStatus::Pending => {
                self.pending += 1;
                let reason = reason.map_or("UNKNOWN", PendingReasonCode::as_str);
                *self.by_reason.entry(reason).or_default() += 1;
            }
            _ => {}
        }
    }

    pub fn record(self) {
        for (name, n) in [
            (INGESTED, self.ingested),
            (MATCHED, self.matched),
            (PENDING, self.pending),
            (DUPLICATES, self.duplicates),
        ] {
            if n > 0 {
                metrics::counter!(name).increment(n);
            }
        }
        for (reason, n) in self.by_reason {
            metrics::counter!(PENDING_BY_REASON, "Reason" => reason).increment(n);
        }
    }
}

/// A reprocessing job done: `MATCHED`, `PENDING`, `ALREADY_APPLIED` or `STALE`.
pub fn reprocessed(outcome: &'static str) {
    metrics::counter!(REPROCESSED, "Outcome" => outcome).increment(1);
}

/// A `financial_reconciliation` event published.
pub fn pix_result(outcome: ResultDescription) {
    metrics::counter!(PIX_RESULTS, "Outcome" => outcome.as_str()).increment(1);
}

/// An SQS message reported back as failed.
pub fn failed_message() {
    metrics::counter!(FAILED_MESSAGES).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../template.yaml");

    /// The dashboard names the metrics and dimension values by hand: they
    /// must be the ones recorded here.
    #[test]
    fn the_dashboard_shows_what_is_recorded() {
        for name in [
            INGESTED,
            MATCHED,
            PENDING,
            PENDING_BY_REASON,
            DUPLICATES,
            REPROCESSED,
            PIX_RESULTS,
            FAILED_MESSAGES,
        ] {
            assert!(
                TEMPLATE.contains(&format!("\"{name}\",\"Service\"")),
                "{name}"
            );
        }
        use PendingReasonCode as P;
        for reason in [
            P::InvalidField,
            P::AuthorizationNotFound,
            P::AuthorizationNotApproved,
            P::CardMismatch,
            P::AmountDivergent,
            P::CurrencyMismatch,
            P::DuplicatePresentment,
        ] {
            let cell = format!("\"Reason\",\"{}\"", reason.as_str());
            assert!(TEMPLATE.contains(&cell), "{cell}");
        }
        for outcome in ResultDescription::ALL
            .map(ResultDescription::as_str)
            .into_iter()
            .chain(["MATCHED", "PENDING", "ALREADY_APPLIED", "STALE"])
        {
            let cell = format!("\"Outcome\",\"{outcome}\"");
            assert!(TEMPLATE.contains(&cell), "{cell}");
        }
        assert!(TEMPLATE.contains("ClearingReconciliation/${AWS::StackName}"));
    }

    #[test]
    fn a_tally_counts_first_stores_by_outcome_and_redeliveries_apart() {
        let mut tally = IngestTally::default();
        tally.add(ClearingStatus::Matched, None, false);
        tally.add(
            ClearingStatus::Pending,
            Some(PendingReasonCode::AmountDivergent),
            false,
        );
        tally.add(
            ClearingStatus::Pending,
            Some(PendingReasonCode::AmountDivergent),
            true,
        );
        assert_eq!(
            (
                tally.ingested,
                tally.matched,
                tally.pending,
                tally.duplicates
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(tally.by_reason.get("AMOUNT_DIVERGENT"), Some(&1));
    }
}
