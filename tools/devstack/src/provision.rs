//! Creates the template's tables, queues, buses and rules on the local stack.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus,
};
use aws_sdk_eventbridge::types::{RuleState, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;

use crate::template::{
    IndexSpec, QueueSpec, Reference, RuleSpec, TableSpec, BUS, QUEUE, RULE, TABLE,
};
use crate::{DevstackError, LocalClients, Template};

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
/// the other types. Idempotent: a second call with the same prefix finds what
/// the first created and returns the same `Provisioned`.
pub async fn provision(
    template: &Template,
    prefix: &str,
    clients: &LocalClients,
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
        .map_err(|e| clients.eventbridge_error("PutRule", &rule_name, e))?
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
fn physical_name(
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

// ------------------------------------------------------------------ DynamoDB

fn key_schema(
    owner: &str,
    keys: &[(String, String)],
) -> Result<Vec<KeySchemaElement>, DevstackError> {
    keys.iter()
        .map(|(attribute, key_type)| {
            let key_type = match key_type.as_str() {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                other => {
                    return Err(DevstackError::Template(format!(
                        "{owner}: KeyType {other} (HASH or RANGE)"
                    )))
                }
            };
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(key_type)
                .build()
                .map_err(|e| DevstackError::build(owner, e))
        })
        .collect()
}

fn projection(owner: &str, index: &IndexSpec) -> Result<Projection, DevstackError> {
    let projection_type = match index.projection_type.as_str() {
        "ALL" => ProjectionType::All,
        "KEYS_ONLY" => ProjectionType::KeysOnly,
        "INCLUDE" => ProjectionType::Include,
        other => {
            return Err(DevstackError::Template(format!(
                "{owner} index {}: ProjectionType {other} (ALL, KEYS_ONLY or INCLUDE)",
                index.name
            )))
        }
    };
    let non_key = (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone());
    Ok(Projection::builder()
        .projection_type(projection_type)
        .set_non_key_attributes(non_key)
        .build())
}

async fn create_table(
    clients: &LocalClients,
    spec: &TableSpec,
    name: &str,
) -> Result<(), DevstackError> {
    let owner = spec.logical.as_str();
    let attributes = spec
        .attribute_definitions
        .iter()
        .map(|(attribute, kind)| {
            let kind = match kind.as_str() {
                "S" => ScalarAttributeType::S,
                "N" => ScalarAttributeType::N,
                "B" => ScalarAttributeType::B,
                other => {
                    return Err(DevstackError::Template(format!(
                        "{owner}: AttributeType {other} (S, N or B)"
                    )))
                }
            };
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(kind)
                .build()
                .map_err(|e| DevstackError::build(owner, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(owner, &spec.key_schema)?));
    for index in &spec.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(owner, &index.key_schema)?))
                .projection(projection(owner, index)?)
                .build()
                .map_err(|e| DevstackError::build(owner, e))?,
        );
    }
    for index in &spec.local_secondary_indexes {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(owner, &index.key_schema)?))
                .projection(projection(owner, index)?)
                .build()
                .map_err(|e| DevstackError::build(owner, e))?,
        );
    }
    if let Some(view) = &spec.stream_view_type {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()
                .map_err(|e| DevstackError::build(owner, e))?,
        );
    }
    match request.send().await {
        Ok(created) => {
            tracing::info!(table = name, "created table");
            let active = created.table_description().and_then(|d| d.table_status())
                == Some(&TableStatus::Active);
            if !active {
                wait_table_active(clients, name).await?;
            }
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            check_existing_table(clients, spec, name).await?;
            tracing::info!(table = name, "table exists");
            wait_table_active(clients, name).await
        }
        Err(e) => Err(clients.dynamodb_error("CreateTable", name, e)),
    }
}

/// An existing table must have the template's keys and indexes (say so rather
/// than let the tests fail on a missing index).
async fn check_existing_table(
    clients: &LocalClients,
    spec: &TableSpec,
    name: &str,
) -> Result<(), DevstackError> {
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| clients.dynamodb_error("DescribeTable", name, e))?;
    let table = described.table().ok_or_else(|| DevstackError::NotReady {
        resource: format!("table {name}"),
        detail: "DescribeTable returned no description".into(),
    })?;
    let keys = |ks: &[KeySchemaElement]| -> Vec<(String, String)> {
        ks.iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let conflict = |detail: String| DevstackError::Conflict {
        resource: format!("table {name}"),
        detail,
    };
    if keys(table.key_schema()) != spec.key_schema {
        return Err(conflict(format!(
            "key schema {:?}, template {:?}",
            keys(table.key_schema()),
            spec.key_schema
        )));
    }
    let existing: BTreeMap<String, Vec<(String, String)>> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            (
                i.index_name().unwrap_or_default().to_owned(),
                keys(i.key_schema()),
            )
        })
        .collect();
    let wanted: BTreeMap<String, Vec<(String, String)>> = spec
        .global_secondary_indexes
        .iter()
        .map(|i| (i.name.clone(), i.key_schema.clone()))
        .collect();
    if existing != wanted {
        return Err(conflict(format!(
            "global secondary indexes {:?}, template {:?}",
            existing.keys().collect::<Vec<_>>(),
            wanted.keys().collect::<Vec<_>>()
        )));
    }
    Ok(())
}

async fn wait_table_active(clients: &LocalClients, name: &str) -> Result<(), DevstackError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| clients.dynamodb_error("DescribeTable", name, e))?;
        let table = described.table();
        let status = table.and_then(|t| t.table_status()).cloned();
        let indexes_active = table.is_some_and(|t| {
            t.global_secondary_indexes().iter().all(|i| {
                i.index_status()
                    .is_none_or(|s| *s == aws_sdk_dynamodb::types::IndexStatus::Active)
            })
        });
        if status == Some(TableStatus::Active) && indexes_active {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DevstackError::NotReady {
                resource: format!("table {name}"),
                detail: format!("status {status:?} after 30 s"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ------------------------------------------------------------------ SQS

async fn create_queue(
    clients: &LocalClients,
    prefix: &str,
    spec: &QueueSpec,
    provisioned: &BTreeMap<String, QueueInfo>,
) -> Result<QueueInfo, DevstackError> {
    let name = physical_name(
        prefix,
        &spec.logical,
        if spec.fifo { ".fifo" } else { "" },
        80,
        "queue",
    )?;
    let mut attributes: HashMap<QueueAttributeName, String> = spec
        .attributes
        .iter()
        .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
        .collect();
    if spec.fifo {
        attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
    }
    if let Some(redrive) = &spec.redrive {
        let dead_letter_arn = match &redrive.dead_letter_target {
            Reference::Literal(arn) => arn.clone(),
            Reference::Logical(dlq) => provisioned
                .get(dlq)
                .map(|q| q.arn.clone())
                // Cannot happen: queues come in dependency order, checked against the template.
                .ok_or_else(|| {
                    DevstackError::Template(format!(
                        "{}: dead-letter queue {dlq} not provisioned first",
                        spec.logical
                    ))
                })?,
        };
        attributes.insert(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": redrive.max_receive_count})
                .to_string(),
        );
    }
    ensure_queue(clients, &name, attributes).await
}

/// Creates the queue, or brings an existing one to `attributes`; returns its URL and ARN.
async fn ensure_queue(
    clients: &LocalClients,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<QueueInfo, DevstackError> {
    let created = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.clone()))
        .send()
        .await;
    let url = match created {
        Ok(out) => {
            tracing::info!(queue = name, "created queue");
            out.queue_url
        }
        // Same name, other attributes (an earlier template): align the attributes.
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_queue_name_exists()
                    || matches!(s.code(), Some("QueueAlreadyExists" | "QueueNameExists"))
            }) =>
        {
            let url = clients
                .sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| clients.sqs_error("GetQueueUrl", name, e))?
                .queue_url;
            if let Some(url) = &url {
                let settable: HashMap<_, _> = attributes
                    .into_iter()
                    .filter(|(k, _)| *k != QueueAttributeName::FifoQueue)
                    .collect();
                if !settable.is_empty() {
                    clients
                        .sqs
                        .set_queue_attributes()
                        .queue_url(url)
                        .set_attributes(Some(settable))
                        .send()
                        .await
                        .map_err(|e| clients.sqs_error("SetQueueAttributes", name, e))?;
                }
            }
            tracing::info!(queue = name, "queue exists; attributes aligned");
            url
        }
        Err(e) => return Err(clients.sqs_error("CreateQueue", name, e)),
    };
    let url = url.ok_or_else(|| DevstackError::NotReady {
        resource: format!("queue {name}"),
        detail: "no queue URL returned".into(),
    })?;
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| clients.sqs_error("GetQueueAttributes", name, e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| DevstackError::NotReady {
            resource: format!("queue {name}"),
            detail: "no QueueArn attribute".into(),
        })?;
    Ok(QueueInfo {
        name: name.to_owned(),
        url,
        arn,
    })
}

// ------------------------------------------------------------------ EventBridge

async fn create_bus(clients: &LocalClients, name: &str) -> Result<(), DevstackError> {
    match clients
        .eventbridge
        .create_event_bus()
        .name(name)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(bus = name, "created event bus");
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            tracing::info!(bus = name, "event bus exists");
            Ok(())
        }
        Err(e) => Err(clients.eventbridge_error("CreateEventBus", name, e)),
    }
}

async fn create_rule(
    clients: &LocalClients,
    prefix: &str,
    spec: &RuleSpec,
    template: &Template,
    out: &mut Provisioned,
) -> Result<RuleInfo, DevstackError> {
    let name = physical_name(prefix, &spec.logical, "", 64, "rule")?;
    let bus = match &spec.bus {
        Reference::Literal(bus) => bus.clone(),
        Reference::Logical(bus) => out.bus(bus)?.to_owned(),
    };
    let state = match spec.state.as_deref() {
        None | Some("ENABLED") => RuleState::Enabled,
        Some("DISABLED") => RuleState::Disabled,
        Some(other) => RuleState::from(other),
    };
    let arn = clients
        .eventbridge
        .put_rule()
        .name(&name)
        .event_bus_name(&bus)
        .set_event_pattern(spec.event_pattern.clone())
        .set_schedule_expression(spec.schedule_expression.clone())
        .set_description(spec.description.clone())
        .state(state)
        .send()
        .await
        .map_err(|e| clients.eventbridge_error("PutRule", &name, e))?
        .rule_arn
        .ok_or_else(|| DevstackError::NotReady {
            resource: format!("rule {name}"),
            detail: "PutRule returned no RuleArn".into(),
        })?;

    let mut targets = Vec::new();
    for target in &spec.targets {
        let target_arn = match &target.arn {
            Reference::Literal(arn) => arn.clone(),
            Reference::Logical(logical) => match out.queues.get(logical) {
                Some(queue) => queue.arn.clone(),
                None => {
                    let kind = template.kind_of(logical).unwrap_or("unknown type");
                    out.skipped.insert(
                        format!("{}/Targets/{}", spec.logical, target.id),
                        format!("targets {logical} ({kind}), which is not provisioned locally"),
                    );
                    continue;
                }
            },
        };
        targets.push(
            Target::builder()
                .id(&target.id)
                .arn(target_arn)
                .set_input(target.input.clone())
                .set_input_path(target.input_path.clone())
                .build()
                .map_err(|e| DevstackError::build(&spec.logical, e))?,
        );
    }
    if !targets.is_empty() {
        put_targets(clients, &bus, &name, targets).await?;
    }
    tracing::info!(rule = %name, bus = %bus, "rule ready");
    Ok(RuleInfo { name, bus, arn })
}

async fn put_targets(
    clients: &LocalClients,
    bus: &str,
    rule: &str,
    targets: Vec<Target>,
) -> Result<(), DevstackError> {
    let out = clients
        .eventbridge
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .set_targets(Some(targets))
        .send()
        .await
        .map_err(|e| clients.eventbridge_error("PutTargets", rule, e))?;
    if out.failed_entry_count() > 0 {
        let failures: Vec<String> = out
            .failed_entries()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.target_id().unwrap_or("?"),
                    f.error_message().unwrap_or("failed")
                )
            })
            .collect();
        return Err(DevstackError::Aws {
            service: "eventbridge",
            message: format!("PutTargets {rule}: {}", failures.join("; ")),
        });
    }
    Ok(())
}
