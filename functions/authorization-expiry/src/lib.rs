//! The authorization expiry sweep, invoked by an EventBridge Scheduler
//! schedule (`AuthorizationExpirySchedule` in template.yaml).
//!
//! The schedule's `Input` is a JSON object whose values EventBridge Scheduler
//! fills from its context attributes (`<aws.scheduler.scheduled-time>`, ...)
//! before each invocation ([`ScheduleInvocation`]). The scheduled time is the
//! sweep's `now`: a retry of one scheduled run decides as that run did. With
//! no `Input` Scheduler sends its default notification; anything but the
//! object above is read as "now".

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

use shared::ports::ExpiryStore;
use shared::services::{ExpiryService, SweepLimits, SweepReport};

mod wiring;

pub struct ExpiryFunction {
    pub store: Arc<dyn ExpiryStore>,
    pub limits: SweepLimits,
}

/// The schedule's `Input`, context attributes filled in by Scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScheduleInvocation {
    /// `<aws.scheduler.scheduled-time>`: the time the run was due (RFC 3339).
    #[serde(default)]
    pub scheduled_time: Option<String>,
    /// `<aws.scheduler.execution-id>`: one per attempted invocation.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// `<aws.scheduler.attempt-number>`.
    #[serde(default)]
    pub attempt: Option<String>,
    /// `<aws.scheduler.schedule-arn>`.
    #[serde(default)]
    pub schedule_arn: Option<String>,
}

impl ScheduleInvocation {
    /// What an invocation payload says; anything unreadable is an invocation without details.
    pub fn read(payload: &serde_json::Value) -> Self {
        serde_json::from_value(payload.clone()).unwrap_or_default()
    }

    /// The instant the sweep decides at: the scheduled time, else `clock`.
    pub fn now(&self, clock: DateTime<Utc>) -> DateTime<Utc> {
        self.scheduled_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(clock, |t| t.with_timezone(&Utc))
    }
}

/// The Lambda handler: one sweep. It fails (so Scheduler's retry policy, then
/// its dead-letter queue, take over) only when the index cannot be read; one
/// authorization that fails is logged and left for the next run.
pub async fn handle(
    function: &ExpiryFunction,
    event: LambdaEvent<serde_json::Value>,
) -> Result<SweepReport, lambda_runtime::Error> {
    let invocation = ScheduleInvocation::read(&event.payload);
    let span = tracing::info_span!(
        "expiry_sweep",
        execution_id = invocation.execution_id.as_deref().unwrap_or(""),
        attempt = invocation.attempt.as_deref().unwrap_or("")
    );
    let _entered = span.enter();
    let report = sweep(function, &invocation, Utc::now()).await?;
    Ok(report)
}

/// One sweep for an invocation, at its scheduled time.
pub async fn sweep(
    function: &ExpiryFunction,
    invocation: &ScheduleInvocation,
    clock: DateTime<Utc>,
) -> Result<SweepReport, shared::ports::StoreError> {
    let now = invocation.now(clock);
    let service = ExpiryService {
        store: function.store.as_ref(),
        limits: function.limits,
    };
    let report = service.sweep(now).await?;
    tracing::info!(
        now = %now,
        examined = report.examined,
        expired = report.expired,
        closed = report.closed,
        unchanged = report.unchanged,
        not_due = report.not_due,
        failed = report.failed.len(),
        "authorization expiry sweep"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduled_time_is_the_sweeps_now_and_anything_else_is_the_clock() {
        let clock = Utc::now();
        let filled = serde_json::json!({"scheduled_time": "2026-03-01T10:00:00Z",
            "execution_id": "d32c5kddcf5bb8c3", "attempt": "1",
            "schedule_arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/x"});
        let invocation = ScheduleInvocation::read(&filled);
        assert_eq!(
            invocation.now(clock).to_rfc3339(),
            "2026-03-01T10:00:00+00:00"
        );
        assert_eq!(invocation.attempt.as_deref(), Some("1"));
        for other in [
            serde_json::json!({}),
            serde_json::json!("x"),
            serde_json::json!({"scheduled_time": 5}),
        ] {
            assert_eq!(
                ScheduleInvocation::read(&other).now(clock),
                clock,
                "{other}"
            );
        }
    }
}
