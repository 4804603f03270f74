//! `template.yaml` read as plain YAML (intrinsics in long form: `Ref`, `Fn::GetAtt`,
//! `Fn::Sub`; the short `!Ref` / `!GetAtt` tags are understood too), and the
//! specifications of the resources `provision` creates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

use crate::DevstackError;

pub const TABLE: &str = "AWS::DynamoDB::Table";
pub const QUEUE: &str = "AWS::SQS::Queue";
pub const BUS: &str = "AWS::Events::EventBus";
pub const RULE: &str = "AWS::Events::Rule";
pub const FUNCTION: &str = "AWS::Serverless::Function";
pub const HTTP_API: &str = "AWS::Serverless::HttpApi";

/// The resources of a SAM/CloudFormation template.
#[derive(Debug, Clone)]
pub struct Template {
    path: PathBuf,
    parameters: BTreeMap<String, Value>,
    resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Clone, Deserialize)]
struct Document {
    #[serde(rename = "Parameters", default)]
    parameters: BTreeMap<String, Value>,
    #[serde(rename = "Resources")]
    resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Clone, Deserialize)]
struct Resource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: Value,
}

impl Template {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DevstackError> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|source| DevstackError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The repository's own `template.yaml` (at the workspace root).
    pub fn repo_default() -> Result<Self, DevstackError> {
        Self::load(crate::repo_root().join("template.yaml"))
    }

    /// Parses template text; `path` is only used in messages.
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Result<Self, DevstackError> {
        let path = path.into();
        let doc: Document = serde_yaml::from_str(text).map_err(|source| DevstackError::Yaml {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            path,
            parameters: doc.parameters,
            resources: doc.resources,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every resource as (logical id, type).
    pub fn resources(&self) -> impl Iterator<Item = (&str, &str)> {
        self.resources
            .iter()
            .map(|(k, r)| (k.as_str(), r.kind.as_str()))
    }

    /// The type of a logical id, if the template has it.
    pub fn kind_of(&self, logical: &str) -> Option<&str> {
        self.resources.get(logical).map(|r| r.kind.as_str())
    }

    /// A parameter's `Default`, as text (what a deploy without overrides uses).
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        self.parameters
            .get(name)?
            .get("Default")
            .and_then(scalar_text)
    }

    pub(crate) fn of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| r.kind == kind)
            .map(|(k, r)| (k.as_str(), &r.properties))
    }

    pub(crate) fn props<T: for<'de> Deserialize<'de>>(
        logical: &str,
        kind: &str,
        props: &Value,
    ) -> Result<T, DevstackError> {
        let props = if props.is_null() {
            Value::Mapping(Default::default())
        } else {
            props.clone()
        };
        serde_yaml::from_value(props)
            .map_err(|e| DevstackError::Template(format!("{logical} ({kind}): {e}")))
    }

    pub(crate) fn tables(&self) -> Result<Vec<TableSpec>, DevstackError> {
        self.of_kind(TABLE)
            .map(|(logical, props)| {
                let p: TableProps = Self::props(logical, TABLE, props)?;
                if p.key_schema.is_empty() {
                    return Err(DevstackError::Template(format!(
                        "{logical} ({TABLE}): KeySchema is empty"
                    )));
                }
                Ok(TableSpec {
                    logical: logical.to_owned(),
                    attribute_definitions: p
                        .attribute_definitions
                        .into_iter()
                        .map(|a| (a.attribute_name, a.attribute_type))
                        .collect(),
                    key_schema: p.key_schema.into_iter().map(KeyElement::pair).collect(),
                    global_secondary_indexes: p
                        .global_secondary_indexes
                        .into_iter()
                        .map(IndexProps::spec)
                        .collect(),
                    local_secondary_indexes: p
                        .local_secondary_indexes
                        .into_iter()
                        .map(IndexProps::spec)
                        .collect(),
                    stream_view_type: p.stream_specification.and_then(|s| s.stream_view_type),
                })
            })
            .collect()
    }

    /// The queues, each after the queues its RedrivePolicy points at.
    pub(crate) fn queues_in_dependency_order(&self) -> Result<Vec<QueueSpec>, DevstackError> {
        let mut pending: BTreeMap<String, QueueSpec> = BTreeMap::new();
        for (logical, props) in self.of_kind(QUEUE) {
            let p: QueueProps = Self::props(logical, QUEUE, props)?;
            let mut attributes = BTreeMap::new();
            for (name, value) in [
                ("VisibilityTimeout", &p.visibility_timeout),
                ("MessageRetentionPeriod", &p.message_retention_period),
                ("DelaySeconds", &p.delay_seconds),
                ("MaximumMessageSize", &p.maximum_message_size),
                (
                    "ReceiveMessageWaitTimeSeconds",
                    &p.receive_message_wait_time_seconds,
                ),
                ("ContentBasedDeduplication", &p.content_based_deduplication),
            ] {
                if let Some(v) = value {
                    let text = scalar_text(v).ok_or_else(|| {
                        DevstackError::Template(format!(
                            "{logical} ({QUEUE}): {name} is not a number or string"
                        ))
                    })?;
                    attributes.insert(name.to_owned(), text);
                }
            }
            let fifo = match &p.fifo_queue {
                None => false,
                Some(v) => scalar_text(v).is_some_and(|t| t.eq_ignore_ascii_case("true")),
            };
            let redrive = p
                .redrive_policy
                .as_ref()
                .map(|r| redrive_spec(logical, r))
                .transpose()?;
            if let Some(r) = &redrive {
                if let Reference::Logical(target) = &r.dead_letter_target {
                    if self.kind_of(target) != Some(QUEUE) {
                        return Err(DevstackError::Template(format!(
                            "{logical}: RedrivePolicy.deadLetterTargetArn refers to {target}, which is not an {QUEUE} of the template"
                        )));
                    }
                }
            }
            pending.insert(
                logical.to_owned(),
                QueueSpec {
                    logical: logical.to_owned(),
                    fifo,
                    attributes,
                    redrive,
                },
            );
        }

        let mut ordered = Vec::with_capacity(pending.len());
        let mut done: BTreeSet<String> = BTreeSet::new();
        while !pending.is_empty() {
            let ready: Vec<String> = pending
                .values()
                .filter(
                    |q| match q.redrive.as_ref().map(|r| &r.dead_letter_target) {
                        Some(Reference::Logical(dlq)) => done.contains(dlq),
                        _ => true,
                    },
                )
                .map(|q| q.logical.clone())
                .collect();
            if ready.is_empty() {
                let stuck: Vec<&str> = pending.keys().map(String::as_str).collect();
                return Err(DevstackError::Template(format!(
                    "dead-letter queues form a cycle among {}",
                    stuck.join(", ")
                )));
            }
            for logical in ready {
                if let Some(q) = pending.remove(&logical) {
                    done.insert(logical);
                    ordered.push(q);
                }
            }
        }
        Ok(ordered)
    }

    pub(crate) fn buses(&self) -> Vec<String> {
        self.of_kind(BUS)
            .map(|(logical, _)| logical.to_owned())
            .collect()
    }

    pub(crate) fn rules(&self) -> Result<Vec<RuleSpec>, DevstackError> {
        self.of_kind(RULE)
            .map(|(logical, props)| {
                let p: RuleProps = Self::props(logical, RULE, props)?;
                let bus = match &p.event_bus_name {
                    None => Reference::Literal("default".to_owned()),
                    Some(v) => reference(v).ok_or_else(|| {
                        DevstackError::Template(format!(
                            "{logical}: EventBusName must be a name, a Ref or a Fn::GetAtt"
                        ))
                    })?,
                };
                if let Reference::Logical(b) = &bus {
                    if self.kind_of(b) != Some(BUS) {
                        return Err(DevstackError::Template(format!(
                            "{logical}: EventBusName refers to {b}, which is not an {BUS} of the template"
                        )));
                    }
                }
                let event_pattern = match &p.event_pattern {
                    None => None,
                    // CloudFormation takes the pattern as an object or as JSON text.
                    Some(Value::String(text)) => {
                        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                            DevstackError::Template(format!("{logical}: EventPattern is not valid JSON: {e}"))
                        })?;
                        Some(json.to_string())
                    }
                    Some(v) => Some(
                        serde_json::to_string(v)
                            .map_err(|e| DevstackError::Template(format!("{logical}: EventPattern: {e}")))?,
                    ),
                };
                if event_pattern.is_none() && p.schedule_expression.is_none() {
                    return Err(DevstackError::Template(format!(
                        "{logical}: a rule needs an EventPattern or a ScheduleExpression"
                    )));
                }
                let targets = p
                    .targets
                    .iter()
                    .map(|t| {
                        let arn = reference(&t.arn).ok_or_else(|| {
                            DevstackError::Template(format!(
                                "{logical}: target {}: Arn must be an ARN or a Fn::GetAtt",
                                t.id
                            ))
                        })?;
                        if let Reference::Logical(target) = &arn {
                            if self.kind_of(target).is_none() {
                                return Err(DevstackError::Template(format!(
                                    "{logical}: target {} refers to {target}, which is not in the template",
                                    t.id
                                )));
                            }
                        }
                        Ok(TargetSpec {
                            id: t.id.clone(),
                            arn,
                            input: t.input.clone(),
                            input_path: t.input_path.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>, DevstackError>>()?;
                Ok(RuleSpec {
                    logical: logical.to_owned(),
                    bus,
                    event_pattern,
                    schedule_expression: p.schedule_expression,
                    state: p.state,
                    description: p.description,
                    targets,
                })
            })
            .collect()
    }
}

/// A value that names another resource (`Ref: X`, `Fn::GetAtt: X.Arn`) or a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    Logical(String),
    Literal(String),
}

/// `Ref: X`, `Fn::GetAtt: X.Attr` / `[X, Attr]`, `!Ref X`, `!GetAtt X.Attr`, or a plain string.
pub(crate) fn reference(v: &Value) -> Option<Reference> {
    fn get_att(v: &Value) -> Option<Reference> {
        match v {
            Value::String(s) => Some(Reference::Logical(
                s.split('.').next().unwrap_or(s).to_owned(),
            )),
            Value::Sequence(parts) => parts
                .first()
                .and_then(Value::as_str)
                .map(|s| Reference::Logical(s.to_owned())),
            _ => None,
        }
    }
    match v {
        Value::String(s) => Some(Reference::Literal(s.clone())),
        Value::Mapping(m) if m.len() == 1 => {
            if let Some(r) = m.get("Ref").and_then(Value::as_str) {
                Some(Reference::Logical(r.to_owned()))
            } else {
                m.get("Fn::GetAtt").and_then(get_att)
            }
        }
        Value::Tagged(t) if t.tag == "Ref" => {
            t.value.as_str().map(|r| Reference::Logical(r.to_owned()))
        }
        Value::Tagged(t) if t.tag == "GetAtt" => get_att(&t.value),
        _ => None,
    }
}

pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn redrive_spec(logical: &str, v: &Value) -> Result<RedriveSpec, DevstackError> {
    let err = |what: &str| DevstackError::Template(format!("{logical}: RedrivePolicy {what}"));
    // An object, or (as CloudFormation also accepts) its JSON text.
    let parsed;
    let v = match v {
        Value::String(text) => {
            parsed = serde_yaml::from_str::<Value>(text)
                .map_err(|e| err(&format!("is not valid JSON: {e}")))?;
            &parsed
        }
        v => v,
    };
    let target = v
        .get("deadLetterTargetArn")
        .ok_or_else(|| err("has no deadLetterTargetArn"))?;
    let dead_letter_target = reference(target)
        .ok_or_else(|| err("deadLetterTargetArn must be an ARN or a Fn::GetAtt"))?;
    let max = v
        .get("maxReceiveCount")
        .ok_or_else(|| err("has no maxReceiveCount"))?;
    let max_receive_count = scalar_text(max)
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| err("maxReceiveCount is not a whole number"))?;
    Ok(RedriveSpec {
        dead_letter_target,
        max_receive_count,
    })
}

// ------------------------------------------------------------------ specs

#[derive(Debug, Clone)]
pub(crate) struct TableSpec {
    pub logical: String,
    pub attribute_definitions: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub global_secondary_indexes: Vec<IndexSpec>,
    pub local_secondary_indexes: Vec<IndexSpec>,
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct IndexSpec {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct QueueSpec {
    pub logical: String,
    pub fifo: bool,
    /// SQS attribute name -> value, as the template gives them (without RedrivePolicy).
    pub attributes: BTreeMap<String, String>,
    pub redrive: Option<RedriveSpec>,
}

#[derive(Debug, Clone)]
pub(crate) struct RedriveSpec {
    pub dead_letter_target: Reference,
    pub max_receive_count: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleSpec {
    pub logical: String,
    pub bus: Reference,
    /// JSON text.
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Clone)]
pub(crate) struct TargetSpec {
    pub id: String,
    pub arn: Reference,
    pub input: Option<String>,
    pub input_path: Option<String>,
}

// ------------------------------------------------------------------ CloudFormation properties
// Properties DynamoDB Local and moto do not take (SSE, point-in-time recovery,
// tags, ...) are not listed, so serde ignores them.

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableProps {
    attribute_definitions: Vec<AttributeDefinition>,
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexProps>,
    #[serde(default)]
    local_secondary_indexes: Vec<IndexProps>,
    stream_specification: Option<StreamSpecification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeDefinition {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyElement {
    attribute_name: String,
    key_type: String,
}

impl KeyElement {
    fn pair(self) -> (String, String) {
        (self.attribute_name, self.key_type)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexProps {
    index_name: String,
    key_schema: Vec<KeyElement>,
    projection: Option<ProjectionProps>,
}

impl IndexProps {
    fn spec(self) -> IndexSpec {
        let projection = self.projection.unwrap_or(ProjectionProps {
            projection_type: None,
            non_key_attributes: vec![],
        });
        IndexSpec {
            name: self.index_name,
            key_schema: self.key_schema.into_iter().map(KeyElement::pair).collect(),
            projection_type: projection
                .projection_type
                .unwrap_or_else(|| "ALL".to_owned()),
            non_key_attributes: projection.non_key_attributes,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionProps {
    projection_type: Option<String>,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamSpecification {
    stream_view_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueProps {
    visibility_timeout: Option<Value>,
    message_retention_period: Option<Value>,
    delay_seconds: Option<Value>,
    maximum_message_size: Option<Value>,
    receive_message_wait_time_seconds: Option<Value>,
    fifo_queue: Option<Value>,
    content_based_deduplication: Option<Value>,
    redrive_policy: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleProps {
    event_bus_name: Option<Value>,
    event_pattern: Option<Value>,
    schedule_expression: Option<String>,
    state: Option<String>,
    description: Option<String>,
    #[serde(default)]
    targets: Vec<TargetProps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetProps {
    id: String,
    arn: Value,
    input: Option<String>,
    input_path: Option<String>,
}

#[cfg(test)]
mod tests;
