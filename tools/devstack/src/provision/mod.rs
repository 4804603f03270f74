//! Creates the template's tables, queues, buses and rules on the local stack.

mod queues;
mod rules;
mod secrets;
mod tables;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eventbridge::types::{RuleState, Target};
use serde::Serialize;

use crate::template::{BUS, QUEUE, RULE, TABLE};
use crate::{local_settings, DevstackError, LocalClients, Template};
use queues::{create_queue, ensure_queue};
use rules::{create_bus, create_rule, put_targets};
use tables::create_table;

pub use secrets::{is_secret_value, LocalSecret, LOCAL_SECRETS};

/// A provisioned queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueInfo {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// A provisioned rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub name: String,
    /// The bus it is on (physical name).
    pub bus: String,
    pub arn: String,
}

/// What `provision` created, by logical id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    pub prefix: String,
    /// Logical id -> table name.
    pub tables: BTreeMap<String, String>,
    pub queues: BTreeMap<String, QueueInfo>,
    /// Logical id -> bus name.
    pub buses: BTreeMap<String, String>,
    pub rules: BTreeMap<String, RuleInfo>,
    /// The functions' secrets (template.yaml takes their ARNs as parameters):
    /// the setting a function reads the ARN from -> the ARN.
    pub secrets: BTreeMap<String, String>,
    /// What the local stack does not get (functions, policies, APIs, rule targets
    /// that are not queues): logical id (or `Rule/Targets/Id`) -> why.
    pub skipped: BTreeMap<String, String>,
}

impl Provisioned {
    pub fn table(&self, logical: &str) -> Result<&str, DevstackError> {
        self.tables
            .get(logical)
            .map(String::as_str)
            .ok_or_else(|| not_provisioned("table", logical, &self.tables))
    }

    pub fn queue(&self, logical: &str) -> Result<&QueueInfo, DevstackError> {
        self.queues
            .get(logical)
            .ok_or_else(|| not_provisioned("queue", logical, &self.queues))
    }

    pub fn bus(&self, logical: &str) -> Result<&str, DevstackError> {
        self.buses
            .get(logical)
            .map(String::as_str)
            .ok_or_else(|| not_provisioned("bus", logical, &self.buses))
    }

    pub fn rule(&self, logical: &str) -> Result<&RuleInfo, DevstackError> {
        self.rules
            .get(logical)
            .ok_or_else(|| not_provisioned("rule", logical, &self.rules))
    }
}

fn not_provisioned<V>(
    kind: &'static str,
    logical: &str,
    known: &BTreeMap<String, V>,
) -> DevstackError {
    let known = if known.is_empty() {
        "none".to_owned()
    } else {
        known.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    DevstackError::NotProvisioned {
        kind,
        logical: logical.to_owned(),
        known,
    }
}

/// Creates, named `{prefix}{LogicalId}`, every `AWS::DynamoDB::Table`,
/// `AWS::SQS::Queue` (dead-letter queues first), `AWS::Events::EventBus` and
/// `AWS::Events::Rule` (with its queue targets) of the template, and skips
/// the other types; then stores the functions' secrets with the values of
/// `local/local.env` (see [`LOCAL_SECRETS`]). Idempotent: a second call with
/// the same prefix finds what the first created and returns the same `Provisioned`.
pub async fn provision(
    template: &Template,
    prefix: &str,
    clients: &LocalClients,
) -> Result<Provisioned, DevstackError> {
    provision_with(template, prefix, clients, &local_settings()?).await
}

/// [`provision`], the secrets' values taken from `settings` (a test's own).
pub async fn provision_with(
    template: &Template,
    prefix: &str,
    clients: &LocalClients,
    settings: &[(String, String)],
) -> Result<Provisioned, DevstackError> {
    check_prefix(prefix)?;
    // Read the whole template before creating anything: a template error leaves nothing half-made.
    let tables = template.tables()?;
    let queues = template.queues_in_dependency_order()?;
    let buses = template.buses();
    let rules = template.rules()?;

    let mut out = Provisioned {
        prefix: prefix.to_owned(),
        ..Default::default()
    };
    for (logical, kind) in template.resources() {
        if ![TABLE, QUEUE, BUS, RULE].contains(&kind) {
            out.skipped.insert(
                logical.to_owned(),
                format!("{kind}: not provisioned locally"),
            );
        }
    }

    for spec in &tables {
        let name = physical_name(prefix, &spec.logical, "", 255, "table")?;
        create_table(clients, spec, &name).await?;
        out.tables.insert(spec.logical.clone(), name);
    }
    for spec in &queues {
        let info = create_queue(clients, prefix, spec, &out.queues).await?;
        out.queues.insert(spec.logical.clone(), info);
    }
    for logical in &buses {
        let name = physical_name(prefix, logical, "", 256, "event bus")?;
        create_bus(clients, &name).await?;
        out.buses.insert(logical.clone(), name);
    }
    for spec in &rules {
        let info = create_rule(clients, prefix, spec, template, &mut out).await?;
        out.rules.insert(spec.logical.clone(), info);
    }
    out.secrets = secrets::create_secrets(clients, prefix, settings).await?;
    Ok(out)
}

/// A subscriber, as tests use to observe events: a queue `queue_name` and a
/// rule `{queue_name}-rule` on `bus` sending it the events matching `pattern`.
/// Idempotent.
pub async fn add_subscriber(
    clients: &LocalClients,
    bus: &str,
    pattern: &serde_json::Value,
    queue_name: &str,
) -> Result<QueueInfo, DevstackError> {
    if !pattern.is_object() {
        return Err(DevstackError::Template(format!(
            "subscriber {queue_name}: the event pattern must be a JSON object"
        )));
    }
    let queue = ensure_queue(clients, queue_name, HashMap::new()).await?;
    let rule_name = format!("{queue_name}-rule");
    let rule_arn = clients
        .eventbridge
        .put_rule()
        .name(&rule_name)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .state(RuleState::Enabled)
        .send()
        .await
        .map_err(|e| clients.aws_error("eventbridge", "PutRule", &rule_name, e))?
        .rule_arn
        .unwrap_or_default();
    let target = Target::builder()
        .id("subscriber")
        .arn(&queue.arn)
        .build()
        .map_err(|e| DevstackError::build("subscriber target", e))?;
    put_targets(clients, bus, &rule_name, vec![target]).await?;
    tracing::info!(queue = %queue.name, rule = %rule_name, rule_arn = %rule_arn, "subscriber ready");
    Ok(queue)
}

// ------------------------------------------------------------------ names

fn check_prefix(prefix: &str) -> Result<(), DevstackError> {
    if prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(DevstackError::Template(format!(
            "prefix {prefix:?}: only ASCII letters, digits, '-' and '_' are valid in every resource name"
        )))
    }
}

/// `{prefix}{logical}{suffix}`, checked against the service's length limit (as AWS would).
pub(super) fn physical_name(
    prefix: &str,
    logical: &str,
    suffix: &str,
    max: usize,
    what: &str,
) -> Result<String, DevstackError> {
    let name = format!("{prefix}{logical}{suffix}");
    if name.len() > max {
        return Err(DevstackError::Template(format!(
            "{what} name {name} is {} characters, more than AWS allows ({max}); use a shorter prefix",
            name.len()
        )));
    }
    Ok(name)
}
