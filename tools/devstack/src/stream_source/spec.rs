//! A function's DynamoDB stream event source, as template.yaml writes it
//! (`Events: X: Type: DynamoDB`), with the defaults AWS documents for what it
//! leaves out (AWS::Lambda::EventSourceMapping).

use serde::Deserialize;
use serde_yaml::Value;

use crate::template::{reference, scalar_text, Reference, Template, FUNCTION, QUEUE, TABLE};
use crate::DevstackError;

/// Where a new mapping starts reading a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSourceSpec {
    /// The function's logical id.
    pub function: String,
    /// The table whose stream it reads (`Fn::GetAtt: Table.StreamArn`).
    pub table: String,
    pub starting_position: StartingPosition,
    /// Records per invocation (DynamoDB streams: 1-10,000, default 100).
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
    pub bisect_on_error: bool,
    /// Retries of a failing batch before it goes to the on-failure
    /// destination; `None`: retried until its records expire (-1, the default).
    pub maximum_retry_attempts: Option<u32>,
    /// The logical id of the SQS queue of `DestinationConfig.OnFailure`.
    pub on_failure_queue: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Props {
    stream: Value,
    starting_position: String,
    batch_size: Option<Value>,
    #[serde(default)]
    function_response_types: Vec<String>,
    bisect_batch_on_function_error: Option<Value>,
    maximum_retry_attempts: Option<Value>,
    destination_config: Option<Value>,
}

impl StreamSourceSpec {
    /// The DynamoDB event sources of every function of the template.
    pub fn from_template(template: &Template) -> Result<Vec<Self>, DevstackError> {
        let mut out = Vec::new();
        for (function, props) in template.of_kind(FUNCTION) {
            let Some(events) = props.get("Events").and_then(Value::as_mapping) else {
                continue;
            };
            for (name, event) in events {
                if event.get("Type").and_then(Value::as_str) != Some("DynamoDB") {
                    continue;
                }
                let name = name.as_str().unwrap_or("?");
                let owner = format!("{function} event {name}");
                let p: Props = Template::props(&owner, "DynamoDB", &event["Properties"])?;
                out.push(Self::read(template, function, &owner, p)?);
            }
        }
        Ok(out)
    }

    fn read(
        template: &Template,
        function: &str,
        owner: &str,
        p: Props,
    ) -> Result<Self, DevstackError> {
        let err = |what: String| DevstackError::Template(format!("{owner}: {what}"));
        let table = match reference(&p.stream) {
            Some(Reference::Logical(t)) if template.kind_of(&t) == Some(TABLE) => t,
            _ => {
                return Err(err(
                    "Stream must be Fn::GetAtt of a table's StreamArn".into()
                ))
            }
        };
        let starting_position = match p.starting_position.as_str() {
            "TRIM_HORIZON" => StartingPosition::TrimHorizon,
            "LATEST" => StartingPosition::Latest,
            other => return Err(err(format!("StartingPosition {other}"))),
        };
        let number = |v: &Option<Value>, name: &str| -> Result<Option<i64>, DevstackError> {
            v.as_ref()
                .map(|v| {
                    scalar_text(v)
                        .and_then(|t| t.parse::<i64>().ok())
                        .ok_or_else(|| err(format!("{name} is not a whole number")))
                })
                .transpose()
        };
        let batch_size = number(&p.batch_size, "BatchSize")?.unwrap_or(100);
        let retries = number(&p.maximum_retry_attempts, "MaximumRetryAttempts")?.unwrap_or(-1);
        let on_failure_queue = match p
            .destination_config
            .as_ref()
            .and_then(|d| d.get("OnFailure"))
            .and_then(|o| o.get("Destination"))
            .map(reference)
        {
            None => None,
            Some(Some(Reference::Logical(q))) if template.kind_of(&q) == Some(QUEUE) => Some(q),
            Some(_) => {
                return Err(err(
                    "OnFailure.Destination must be a queue of the template".into()
                ))
            }
        };
        Ok(Self {
            function: function.to_owned(),
            table,
            starting_position,
            batch_size: i32::try_from(batch_size)
                .ok()
                .filter(|b| (1..=10_000).contains(b))
                .ok_or_else(|| err(format!("BatchSize {batch_size} (1-10000)")))?,
            report_batch_item_failures: p
                .function_response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
            bisect_on_error: p
                .bisect_batch_on_function_error
                .as_ref()
                .and_then(scalar_text)
                .is_some_and(|t| t.eq_ignore_ascii_case("true")),
            maximum_retry_attempts: match retries {
                -1 => None,
                n => Some(
                    u32::try_from(n)
                        .map_err(|_| err(format!("MaximumRetryAttempts {n} (-1 or 0-10000)")))?,
                ),
            },
            on_failure_queue,
        })
    }

    /// The source feeding `function`.
    pub fn of_function(template: &Template, function: &str) -> Result<Self, DevstackError> {
        Self::from_template(template)?
            .into_iter()
            .find(|s| s.function == function)
            .ok_or_else(|| {
                DevstackError::Template(format!("{function} has no DynamoDB event source"))
            })
    }
}
