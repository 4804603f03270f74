//! DynamoDB Streams records as the `Records` of the event Lambda sends a
//! function (DynamoDB JSON images, `eventSourceARN` the stream's ARN):
//! https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html (example event).

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record};
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::DevstackError;

fn attribute(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Ns(ns) => json!({ "NS": ns }),
        AttributeValue::Bs(bs) => json!({ "BS": bs.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": image(m) }),
        _ => Value::Null,
    }
}

fn image(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<_, _>>(),
    )
}

/// One stream record as Lambda's event record, in JSON.
pub(super) fn record_json(record: &Record, stream_arn: &str, region: &str) -> Value {
    let mut change = Map::new();
    if let Some(s) = record.dynamodb() {
        if let Some(t) = s.approximate_creation_date_time() {
            change.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
        }
        for (name, item) in [
            ("Keys", s.keys()),
            ("NewImage", s.new_image()),
            ("OldImage", s.old_image()),
        ] {
            if let Some(item) = item {
                change.insert(name.into(), image(item));
            }
        }
        change.insert("SequenceNumber".into(), json!(s.sequence_number()));
        change.insert("SizeBytes".into(), json!(s.size_bytes().unwrap_or(0)));
        if let Some(v) = s.stream_view_type() {
            change.insert("StreamViewType".into(), json!(v.as_str()));
        }
    }
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str()),
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or(region),
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    })
}

/// The event of one invocation, read back through the runtime's own types
/// (what the function's handler receives).
pub(super) fn event(records: &[Value]) -> Result<Event, DevstackError> {
    serde_json::from_value(json!({ "Records": records }))
        .map_err(|e| DevstackError::Worker(format!("stream event not readable as Lambda's: {e}")))
}

/// The sequence number of a record of the event.
pub(super) fn sequence_number(record: &EventRecord) -> Option<&str> {
    record.change.sequence_number.as_deref()
}
