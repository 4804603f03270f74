//! EventBridge Scheduler, locally: a function's `ScheduleV2` event of
//! template.yaml (its `rate(...)` and `Input`) invokes it on that rate with
//! the payload Scheduler delivers to a Lambda target: the `Input` as given,
//! with its context attributes (`<aws.scheduler.scheduled-time>`,
//! `<aws.scheduler.execution-id>`, `<aws.scheduler.attempt-number>`,
//! `<aws.scheduler.schedule-arn>`) replaced; with no `Input`, `{}`.
//! The first run comes one period after the start, as a new rate schedule's does.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::{DevstackError, Template};

const FUNCTION: &str = "AWS::Serverless::Function";

/// A function's schedule, as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    pub function: String,
    /// The event's logical id (SAM names the schedule `<function><event>`).
    pub event: String,
    pub rate: Duration,
    pub input: Option<String>,
}

impl ScheduleSpec {
    /// The `ScheduleV2` event of `function`.
    pub fn of_function(template: &Template, function: &str) -> Result<Self, DevstackError> {
        let err = |m: String| DevstackError::Template(format!("{function}: {m}"));
        let (_, props) = template
            .of_kind(FUNCTION)
            .find(|(logical, _)| *logical == function)
            .ok_or_else(|| err("no such function".into()))?;
        let events = props["Events"]
            .as_mapping()
            .ok_or_else(|| err("no Events".into()))?;
        let (event, properties) = events
            .iter()
            .find(|(_, e)| e["Type"].as_str() == Some("ScheduleV2"))
            .map(|(name, e)| {
                (
                    name.as_str().unwrap_or_default().to_owned(),
                    &e["Properties"],
                )
            })
            .ok_or_else(|| err("no ScheduleV2 event".into()))?;
        let expression = properties["ScheduleExpression"]
            .as_str()
            .ok_or_else(|| err("ScheduleExpression is not a string".into()))?;
        Ok(Self {
            function: function.to_owned(),
            event,
            rate: rate(expression).ok_or_else(|| {
                err(format!(
                    "`{expression}`: only rate(N minute[s]|hour[s]|day[s]) runs locally"
                ))
            })?,
            input: properties["Input"].as_str().map(str::to_owned),
        })
    }

    /// The payload of the invocation scheduled at `at` (first attempt).
    pub fn payload(&self, at: DateTime<Utc>) -> serde_json::Value {
        let Some(input) = &self.input else {
            return serde_json::json!({});
        };
        let arn = format!(
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/{}{}",
            self.function, self.event
        );
        let filled = input
            .replace(
                "<aws.scheduler.scheduled-time>",
                &at.to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .replace("<aws.scheduler.execution-id>", &execution_id(at))
            .replace("<aws.scheduler.attempt-number>", "1")
            .replace("<aws.scheduler.schedule-arn>", &arn);
        serde_json::from_str(&filled).unwrap_or(serde_json::Value::String(filled))
    }
}

fn execution_id(at: DateTime<Utc>) -> String {
    format!("local{:x}", at.timestamp())
}

/// `rate(value unit)`, as EventBridge Scheduler reads it.
fn rate(expression: &str) -> Option<Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.parse().ok().filter(|v| *v > 0)?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(value.checked_mul(seconds)?))
}

/// Invokes `invoke` with each scheduled payload, one period apart, forever.
pub async fn run_schedule<F, Fut>(spec: ScheduleSpec, mut invoke: F)
where
    F: FnMut(serde_json::Value) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval_at(start + spec.rate, spec.rate);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Utc::now();
    loop {
        let tick = ticks.tick().await;
        let elapsed = chrono::Duration::from_std(tick - start).unwrap_or_default();
        invoke(spec.payload(started + elapsed)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn sweep_spec() -> ScheduleSpec {
        let template = Template::repo_default().unwrap();
        ScheduleSpec::of_function(&template, "AuthorizationExpiryFunction").unwrap()
    }

    #[test]
    fn the_sweeps_rate_and_input_come_from_the_template() {
        let spec = sweep_spec();
        assert_eq!(spec.rate, Duration::from_secs(3600));
        let at = "2026-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let payload = spec.payload(at);
        assert!(!payload.to_string().contains("<aws."), "{payload}");
        assert_eq!(payload["scheduled_time"], "2026-03-01T10:00:00Z");
        assert_eq!(payload["attempt"], "1");
        // What the sweep reads from it: the scheduled time is its "now".
        let invocation = authorization_expiry::ScheduleInvocation::read(&payload);
        assert_eq!(invocation.now(Utc::now()), at);
        let bare = ScheduleSpec {
            input: None,
            ..spec
        };
        assert_eq!(bare.payload(at), serde_json::json!({}));
    }

    #[test]
    fn rates_read_as_scheduler_reads_them() {
        assert_eq!(rate("rate(5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(rate("rate(1 day)"), Some(Duration::from_secs(86_400)));
        assert_eq!(rate("rate(0 hours)"), None);
        assert_eq!(rate("cron(0 * * * ? *)"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_runner_invokes_the_sweep_once_a_period_with_its_scheduled_time() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let runner = tokio::spawn(run_schedule(sweep_spec(), move |payload| {
            record.lock().unwrap().push(payload);
            async {}
        }));
        tokio::time::sleep(Duration::from_secs(3600 - 1)).await;
        assert!(seen.lock().unwrap().is_empty(), "not before one period");
        tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
        runner.abort();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let times: Vec<DateTime<Utc>> = seen
            .iter()
            .map(|p| p["scheduled_time"].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!((times[1] - times[0]).num_seconds(), 3600);
    }
}
