//! The local AWS stack, provisioned from `template.yaml`: the tables, queues,
//! bus and rules the functions use locally are created from the same
//! definitions that deploy them, not from a second hand-written copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;
use serde_yaml::Value;

#[derive(Debug, thiserror::Error)]
pub enum DevstackError {
    #[error("template: {0}")]
    Template(String),
    #[error("{service}: {message}")]
    Aws { service: &'static str, message: String },
    #[error("not provisioned: {0}")]
    Missing(String),
}

fn aws<E: std::fmt::Debug>(service: &'static str) -> impl Fn(E) -> DevstackError {
    move |e| DevstackError::Aws { service, message: format!("{e:?}").chars().take(500).collect() }
}

/// Endpoints of the local services (`AWS_ENDPOINT_URL_*`, else the defaults of local/stack.sh).
#[derive(Debug, Clone)]
pub struct LocalEndpoints {
    pub dynamodb: String,
    pub sqs: String,
    pub eventbridge: String,
}

impl LocalEndpoints {
    pub fn from_env() -> Self {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        Self {
            dynamodb: var("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
            sqs: var("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5000"),
            eventbridge: var("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:5000"),
        }
    }
}

/// The AWS SDK configured for the local stack, with explicit endpoints, so
/// tests work whether or not the `AWS_ENDPOINT_URL_*` variables are exported.
#[derive(Clone)]
pub struct LocalClients {
    pub sdk: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
}

impl LocalClients {
    pub async fn new() -> Self {
        let endpoints = LocalEndpoints::from_env();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "devstack"))
            .load()
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&endpoints.dynamodb).build(),
        );
        let sqs =
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&sdk).endpoint_url(&endpoints.sqs).build());
        let eventbridge = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&sdk).endpoint_url(&endpoints.eventbridge).build(),
        );
        Self { sdk, dynamodb, sqs, eventbridge }
    }
}

/// `template.yaml`, read as plain YAML (intrinsics are in long form).
pub struct Template {
    resources: BTreeMap<String, Value>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, DevstackError> {
        let text = std::fs::read_to_string(path).map_err(|e| DevstackError::Template(format!("{}: {e}", path.display())))?;
        let doc: Value = serde_yaml::from_str(&text).map_err(|e| DevstackError::Template(e.to_string()))?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| DevstackError::Template("no Resources".into()))?
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
            .collect();
        Ok(Self { resources })
    }

    /// The repository's own template.yaml.
    pub fn repo_default() -> Result<Self, DevstackError> {
        Self::load(&repo_root().join("template.yaml"))
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, v)| v.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(k, v)| (k, v.get("Properties").unwrap_or(&Value::Null)))
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueInfo {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// Physical names of what was provisioned, by logical id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Provisioned {
    pub tables: BTreeMap<String, String>,
    pub queues: BTreeMap<String, QueueInfo>,
    pub buses: BTreeMap<String, String>,
    pub rules: BTreeMap<String, String>,
}

impl Provisioned {
    pub fn table(&self, logical: &str) -> Result<&str, DevstackError> {
        self.tables.get(logical).map(String::as_str).ok_or_else(|| DevstackError::Missing(logical.into()))
    }
    pub fn queue(&self, logical: &str) -> Result<&QueueInfo, DevstackError> {
        self.queues.get(logical).ok_or_else(|| DevstackError::Missing(logical.into()))
    }
    pub fn bus(&self, logical: &str) -> Result<&str, DevstackError> {
        self.buses.get(logical).map(String::as_str).ok_or_else(|| DevstackError::Missing(logical.into()))
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, DevstackError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| DevstackError::Template(format!("missing {key}")))
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, DevstackError> {
    v.as_sequence()
        .ok_or_else(|| DevstackError::Template("KeySchema is not a list".into()))?
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(str_of(k, "AttributeName")?)
                .key_type(KeyType::from(str_of(k, "KeyType")?))
                .build()
                .map_err(aws("dynamodb"))
        })
        .collect()
}

/// `Fn::GetAtt: X.Arn` → the provisioned queue's ARN (the only reference the template's
/// infrastructure needs locally).
fn resolve_queue_arn(v: &Value, queues: &BTreeMap<String, QueueInfo>) -> Result<String, DevstackError> {
    let target = v.get("Fn::GetAtt").and_then(Value::as_str).unwrap_or_default();
    let logical = target.trim_end_matches(".Arn");
    queues.get(logical).map(|q| q.arn.clone()).ok_or_else(|| DevstackError::Missing(format!("queue {logical}")))
}

/// Creates every table, queue, bus and rule of the template, named `{prefix}{LogicalId}`.
/// Idempotent for the same prefix.
pub async fn provision(template: &Template, prefix: &str, clients: &LocalClients) -> Result<Provisioned, DevstackError> {
    let mut out = Provisioned::default();

    for (logical, props) in template.of_type("AWS::DynamoDB::Table") {
        let name = format!("{prefix}{logical}");
        let attrs = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| DevstackError::Template(format!("{logical}: AttributeDefinitions")))?
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(str_of(a, "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(str_of(a, "AttributeType")?))
                    .build()
                    .map_err(aws("dynamodb"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut req = clients
            .dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attrs))
            .set_key_schema(Some(key_schema(props.get("KeySchema").unwrap_or(&Value::Null))?));
        for gsi in props.get("GlobalSecondaryIndexes").and_then(Value::as_sequence).into_iter().flatten() {
            let projection = gsi.get("Projection").unwrap_or(&Value::Null);
            let mut p = Projection::builder().projection_type(ProjectionType::from(
                projection.get("ProjectionType").and_then(Value::as_str).unwrap_or("ALL"),
            ));
            for a in projection.get("NonKeyAttributes").and_then(Value::as_sequence).into_iter().flatten() {
                if let Some(a) = a.as_str() {
                    p = p.non_key_attributes(a);
                }
            }
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(str_of(gsi, "IndexName")?)
                    .set_key_schema(Some(key_schema(gsi.get("KeySchema").unwrap_or(&Value::Null))?))
                    .projection(p.build())
                    .build()
                    .map_err(aws("dynamodb"))?,
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if format!("{e:?}").contains("ResourceInUseException") => {}
            Err(e) => return Err(aws("dynamodb")(e)),
        }
        out.tables.insert(logical.clone(), name);
    }

    // Queues without a redrive policy first: they are the dead-letter queues others point to.
    let mut queues: Vec<(&String, &Value)> = template.of_type("AWS::SQS::Queue").collect();
    queues.sort_by_key(|(_, p)| p.get("RedrivePolicy").is_some());
    for (logical, props) in queues {
        let name = format!("{prefix}{logical}");
        let mut req = clients.sqs.create_queue().queue_name(&name);
        for (attr, key) in [
            (QueueAttributeName::VisibilityTimeout, "VisibilityTimeout"),
            (QueueAttributeName::MessageRetentionPeriod, "MessageRetentionPeriod"),
        ] {
            if let Some(v) = props.get(key) {
                let text = v.as_u64().map(|n| n.to_string()).or_else(|| v.as_str().map(str::to_owned));
                if let Some(text) = text {
                    req = req.attributes(attr, text);
                }
            }
        }
        if let Some(redrive) = props.get("RedrivePolicy") {
            let dlq_arn = resolve_queue_arn(redrive.get("deadLetterTargetArn").unwrap_or(&Value::Null), &out.queues)?;
            let max = redrive.get("maxReceiveCount").and_then(Value::as_u64).unwrap_or(5);
            req = req.attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max}).to_string(),
            );
        }
        let url = req.send().await.map_err(aws("sqs"))?.queue_url().unwrap_or_default().to_owned();
        let arn = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(aws("sqs"))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default();
        out.queues.insert(logical.clone(), QueueInfo { name, url, arn });
    }

    for (logical, _) in template.of_type("AWS::Events::EventBus") {
        let name = format!("{prefix}{logical}");
        match clients.eventbridge.create_event_bus().name(&name).send().await {
            Ok(_) => {}
            Err(e) if format!("{e:?}").contains("ResourceAlreadyExists") => {}
            Err(e) => return Err(aws("eventbridge")(e)),
        }
        out.buses.insert(logical.clone(), name);
    }

    for (logical, props) in template.of_type("AWS::Events::Rule") {
        let bus_logical = props.get("EventBusName").and_then(|b| b.get("Ref")).and_then(Value::as_str).unwrap_or_default();
        let bus = out.bus(bus_logical)?.to_owned();
        let pattern: serde_json::Value = serde_json::to_value(props.get("EventPattern").unwrap_or(&Value::Null))
            .map_err(|e| DevstackError::Template(e.to_string()))?;
        let name = format!("{prefix}{logical}");
        let mut targets = Vec::new();
        for t in props.get("Targets").and_then(Value::as_sequence).into_iter().flatten() {
            targets.push((str_of(t, "Id")?.to_owned(), resolve_queue_arn(t.get("Arn").unwrap_or(&Value::Null), &out.queues)?));
        }
        put_rule(clients, &bus, &name, &pattern.to_string(), &targets).await?;
        out.rules.insert(logical.clone(), name);
    }
    Ok(out)
}

async fn put_rule(
    clients: &LocalClients,
    bus: &str,
    name: &str,
    pattern: &str,
    targets: &[(String, String)],
) -> Result<(), DevstackError> {
    clients
        .eventbridge
        .put_rule()
        .name(name)
        .event_bus_name(bus)
        .event_pattern(pattern)
        .send()
        .await
        .map_err(aws("eventbridge"))?;
    let mut req = clients.eventbridge.put_targets().rule(name).event_bus_name(bus);
    for (id, arn) in targets {
        req = req.targets(aws_sdk_eventbridge::types::Target::builder().id(id).arn(arn).build().map_err(aws("eventbridge"))?);
    }
    req.send().await.map_err(aws("eventbridge"))?;
    Ok(())
}

/// A subscriber: a new queue receiving the bus's events that match `pattern`.
pub async fn add_subscriber(
    clients: &LocalClients,
    bus: &str,
    pattern: &serde_json::Value,
    queue_name: &str,
) -> Result<QueueInfo, DevstackError> {
    let url = clients.sqs.create_queue().queue_name(queue_name).send().await.map_err(aws("sqs"))?.queue_url().unwrap_or_default().to_owned();
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws("sqs"))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    put_rule(clients, bus, &format!("{queue_name}-rule"), &pattern.to_string(), &[("subscriber".into(), arn.clone())]).await?;
    Ok(QueueInfo { name: queue_name.to_owned(), url, arn })
}
pub mod run;
