//! A log of the AWS calls the adapters make: for each call, the IAM action it
//! needs and the resource it names (table and index, queue, bus).
//!
//! Why: nothing local enforces IAM (DynamoDB Local and moto accept any call),
//! so a call the deployed role does not allow would pass every local test.
//! The deployed-shape test (`tests/shape`) records the calls of each
//! function's flows with this log and checks every one against that
//! function's policy in the transformed template.
//!
//! The log is an SDK interceptor, attached only by
//! [`AwsClients::recording_into`](super::AwsClients::recording_into): the
//! functions' own clients never carry it, so it costs them nothing.
//!
//! It reads the request as it goes on the wire (the three services speak AWS
//! JSON protocols): one reader for every operation, including ones no adapter
//! uses yet. A transaction or batch needs the underlying action on each table
//! it touches (IAM has no `TransactWriteItems` action), so it is logged as one
//! entry per item.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

/// What a call acts on, by the names the request carries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallResource {
    /// A DynamoDB table, or one of its indexes (a Query on an index).
    Table { name: String, index: Option<String> },
    /// An SQS queue, by name (the last segment of its URL).
    Queue { name: String },
    /// An EventBridge bus, by name (`default` when the entry names none).
    Bus { name: String },
    /// A call whose resource this log does not know how to read: no policy
    /// statement short of `Resource: "*"` can be shown to allow it.
    Unknown,
}

/// One AWS call as IAM sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AwsCall {
    /// The SDK operation, e.g. `dynamodb:TransactWriteItems`.
    pub operation: String,
    /// The IAM action it needs on `resource`, e.g. `dynamodb:UpdateItem`.
    pub action: String,
    pub resource: CallResource,
}

/// A shared, growing list of calls (clones append to the same list).
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<AwsCall>>>);

impl CallLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call logged so far, in order.
    pub fn calls(&self) -> Vec<AwsCall> {
        self.lock().clone()
    }

    /// The SDK interceptor that appends to this log.
    pub fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(RecordCalls(self.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AwsCall>> {
        // A test that panicked while holding it leaves a usable list.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug)]
struct RecordCalls(CallLog);

impl Intercept for RecordCalls {
    fn name(&self) -> &'static str {
        "RecordCalls"
    }

    // After serialization: once per call, not once per retry attempt.
    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let body = context.request().body().bytes().unwrap_or_default();
        let calls = calls_of(metadata.service(), metadata.name(), body);
        self.0.lock().extend(calls);
        Ok(())
    }
}

/// The IAM service prefix of an SDK service name.
fn iam_prefix(service: &str) -> String {
    match service {
        "EventBridge" => "events".to_owned(),
        other => other.replace(' ', "").to_ascii_lowercase(),
    }
}

/// The calls one request stands for: `service` and `operation` as the SDK
/// names them (`DynamoDB`, `Query`), `body` the JSON it sends.
pub fn calls_of(service: &str, operation: &str, body: &[u8]) -> Vec<AwsCall> {
    let prefix = iam_prefix(service);
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let call = |action: &str, resource: CallResource| AwsCall {
        operation: format!("{prefix}:{operation}"),
        action: format!("{prefix}:{action}"),
        resource,
    };
    let targets = match prefix.as_str() {
        "dynamodb" => dynamodb_targets(operation, &body),
        "sqs" => vec![(operation.to_owned(), queue(&body["QueueUrl"]))],
        "events" => bus_targets(operation, &body),
        _ => vec![],
    };
    if targets.is_empty() {
        return vec![call(operation, CallResource::Unknown)];
    }
    targets.iter().map(|(a, r)| call(a, r.clone())).collect()
}

fn dynamodb_targets(operation: &str, body: &Value) -> Vec<(String, CallResource)> {
    let table = |name: &Value, index: &Value| match name.as_str() {
        Some(name) => CallResource::Table {
            name: name.to_owned(),
            index: index.as_str().map(str::to_owned),
        },
        None => CallResource::Unknown,
    };
    match operation {
        // Per table in the request, under the batch's own action.
        "BatchGetItem" | "BatchWriteItem" => keys(&body["RequestItems"])
            .map(|name| {
                let resource = table(&Value::String(name.to_owned()), &Value::Null);
                (operation.to_owned(), resource)
            })
            .collect(),
        // Per item, under the underlying action.
        "TransactWriteItems" | "TransactGetItems" => items(&body["TransactItems"])
            .flat_map(|item| keys(item).map(move |kind| (kind, &item[kind])))
            .map(|(kind, op)| {
                let action = match kind {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "Get" => "GetItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    other => other,
                };
                (action.to_owned(), table(&op["TableName"], &Value::Null))
            })
            .collect(),
        _ => vec![(
            operation.to_owned(),
            table(&body["TableName"], &body["IndexName"]),
        )],
    }
}

fn bus_targets(operation: &str, body: &Value) -> Vec<(String, CallResource)> {
    let bus = |name: &Value| CallResource::Bus {
        // An entry may name its bus by ARN; the policy check wants the name.
        name: match name.as_str() {
            Some(n) => n.rsplit('/').next().unwrap_or(n).to_owned(),
            None => "default".to_owned(),
        },
    };
    match operation {
        "PutEvents" => {
            let mut buses: Vec<CallResource> = items(&body["Entries"])
                .map(|e| bus(&e["EventBusName"]))
                .collect();
            buses.sort();
            buses.dedup();
            buses
                .into_iter()
                .map(|b| (operation.to_owned(), b))
                .collect()
        }
        _ => vec![],
    }
}

fn queue(url: &Value) -> CallResource {
    match url
        .as_str()
        .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
    {
        Some(name) if !name.is_empty() => CallResource::Queue {
            name: name.to_owned(),
        },
        _ => CallResource::Unknown,
    }
}

fn keys(object: &Value) -> impl Iterator<Item = &str> {
    object
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .map(String::as_str)
}

fn items(array: &Value) -> impl Iterator<Item = &Value> {
    array.as_array().into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, index: Option<&str>) -> CallResource {
        CallResource::Table {
            name: name.into(),
            index: index.map(Into::into),
        }
    }

    fn pairs(calls: &[AwsCall]) -> Vec<(&str, &str, &CallResource)> {
        calls
            .iter()
            .map(|c| (c.operation.as_str(), c.action.as_str(), &c.resource))
            .collect()
    }

    #[test]
    fn a_query_names_its_table_and_index() {
        let on_index = calls_of(
            "DynamoDB",
            "Query",
            br#"{"TableName":"t","IndexName":"ByCard"}"#,
        );
        let on_table = calls_of("DynamoDB", "Query", br#"{"TableName":"t"}"#);
        assert_eq!(
            pairs(&on_index),
            [(
                "dynamodb:Query",
                "dynamodb:Query",
                &table("t", Some("ByCard"))
            )]
        );
        assert_eq!(on_table[0].resource, table("t", None));
    }

    #[test]
    fn a_transaction_needs_each_underlying_action() {
        let body = br#"{"TransactItems":[{"Update":{"TableName":"t"}},{"Put":{"TableName":"t"}},
            {"ConditionCheck":{"TableName":"u"}},{"Delete":{"TableName":"t"}}]}"#;
        let calls = calls_of("DynamoDB", "TransactWriteItems", body);
        let actions: Vec<_> = calls
            .iter()
            .map(|c| (c.action.as_str(), &c.resource))
            .collect();
        assert_eq!(
            actions,
            [
                ("dynamodb:UpdateItem", &table("t", None)),
                ("dynamodb:PutItem", &table("t", None)),
                ("dynamodb:ConditionCheckItem", &table("u", None)),
                ("dynamodb:DeleteItem", &table("t", None)),
            ]
        );
        assert!(calls
            .iter()
            .all(|c| c.operation == "dynamodb:TransactWriteItems"));
    }

    #[test]
    fn a_batch_needs_its_own_action_on_each_table() {
        let calls = calls_of(
            "DynamoDB",
            "BatchGetItem",
            br#"{"RequestItems":{"a":{},"b":{}}}"#,
        );
        assert_eq!(
            pairs(&calls),
            [
                (
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchGetItem",
                    &table("a", None)
                ),
                (
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchGetItem",
                    &table("b", None)
                ),
            ]
        );
    }

    #[test]
    fn queues_by_name_and_buses_by_name_or_default() {
        let sent = calls_of(
            "SQS",
            "SendMessage",
            br#"{"QueueUrl":"http://127.0.0.1:5000/123456789012/jobs","MessageBody":"{}"}"#,
        );
        assert_eq!(sent[0].action, "sqs:SendMessage");
        assert_eq!(
            sent[0].resource,
            CallResource::Queue {
                name: "jobs".into()
            }
        );
        let put = calls_of(
            "EventBridge",
            "PutEvents",
            br#"{"Entries":[{"EventBusName":"bus"},{"EventBusName":"arn:aws:events:us-east-1:1:event-bus/bus"},{}]}"#,
        );
        let buses: Vec<_> = put
            .iter()
            .map(|c| (c.action.as_str(), &c.resource))
            .collect();
        assert_eq!(
            buses,
            [
                (
                    "events:PutEvents",
                    &CallResource::Bus { name: "bus".into() }
                ),
                (
                    "events:PutEvents",
                    &CallResource::Bus {
                        name: "default".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn an_unreadable_call_is_kept_with_an_unknown_resource() {
        let calls = calls_of("Secrets Manager", "GetSecretValue", b"{}");
        assert_eq!(
            pairs(&calls),
            [(
                "secretsmanager:GetSecretValue",
                "secretsmanager:GetSecretValue",
                &CallResource::Unknown
            )]
        );
        assert_eq!(
            calls_of("DynamoDB", "GetItem", b"")[0].resource,
            CallResource::Unknown
        );
    }
}
