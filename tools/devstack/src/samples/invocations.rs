//! The samples of the two functions no API or queue invokes: the outbox
//! publisher (a DynamoDB Streams event as Lambda delivers it for the table's
//! stream) and the authorization expiry sweep (the payload EventBridge
//! Scheduler makes of the template's `Input`).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use shared::adapters::dynamodb::new_message_item;
use shared::clearing::{
    parse_clearing_notification, ClearingMessage, PreparedRecord, RulesVersion,
};
use shared::outbox::OutboxEntry;

use super::{Sample, SEED_NOTIFICATION};
use crate::payload::LOCAL_ACCOUNT_ID;
use crate::schedule::ScheduleSpec;
use crate::{DevstackError, Template, DEFAULT_REGION, SAMPLE_PREFIX};

pub const STREAM_SAMPLE: &str = "outbox-publisher/stream-seed-pending.json";
pub const SCHEDULE_SAMPLE: &str = "authorization-expiry/scheduler-run.json";
const TABLE: &str = "ClearingTable";

/// The instant the samples were made at (the HTTP samples' request time).
fn sample_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_341_600, 0).unwrap_or_default()
}

pub(super) fn invocation_samples(template: &Template) -> Result<Vec<Sample>, DevstackError> {
    Ok(vec![
        Sample {
            file: STREAM_SAMPLE,
            event: stream_sample(template)?,
        },
        Sample {
            file: SCHEDULE_SAMPLE,
            event: ScheduleSpec::of_function(template, "AuthorizationExpiryFunction")?
                .payload(sample_time()),
        },
    ])
}

/// The seed notification stored as the webhook stores it (no authorization
/// yet, so PENDING), announced in the same write: the item's INSERT record.
fn seed_write() -> Result<(ClearingMessage, Vec<OutboxEntry>), DevstackError> {
    let sample = |e: String| DevstackError::Sample(format!("{STREAM_SAMPLE}: {e}"));
    let record = parse_clearing_notification(SEED_NOTIFICATION.as_bytes())
        .map_err(|e| sample(e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| sample("the seed holds no record".into()))?;
    let message = ClearingMessage::ingest(
        PreparedRecord::new(record),
        "MASTERCARD",
        None,
        &RulesVersion::shipped(),
        "webhook",
        sample_time(),
    )
    .message;
    let outbox = shared::events::clearing_event(&message)
        .map(OutboxEntry::from)
        .into_iter()
        .collect();
    Ok((message, outbox))
}

fn stream_sample(template: &Template) -> Result<Value, DevstackError> {
    let sample = |e: String| DevstackError::Sample(format!("{STREAM_SAMPLE}: {e}"));
    let table = template
        .tables()?
        .into_iter()
        .find(|t| t.logical == TABLE)
        .ok_or_else(|| sample(format!("no table {TABLE} in the template")))?;
    let view = table
        .stream_view_type
        .ok_or_else(|| sample(format!("{TABLE} has no stream")))?;
    let (message, outbox) = seed_write()?;
    let item = new_message_item(&message, &outbox).map_err(|e| sample(e.to_string()))?;
    let new_image = image(&item);
    let keys: Map<String, Value> = table
        .key_schema
        .iter()
        .filter_map(|(name, _)| Some((name.clone(), new_image.get(name)?.clone())))
        .collect();
    let mut change = json!({
        "ApproximateCreationDateTime": sample_time().timestamp(),
        "Keys": keys,
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": item_size(&item),
        "StreamViewType": view,
    });
    // An INSERT has no OLD image; the view decides which images a record carries.
    if view.contains("NEW") {
        change["NewImage"] = Value::Object(new_image);
    }
    let stream = format!(
        "arn:aws:dynamodb:{DEFAULT_REGION}:{LOCAL_ACCOUNT_ID}:table/{SAMPLE_PREFIX}{TABLE}/stream/2026-11-22T10:00:00.000"
    );
    Ok(json!({"Records": [{
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": DEFAULT_REGION,
        "dynamodb": change,
        "eventSourceARN": stream,
    }]}))
}

type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// An item in DynamoDB JSON, as a stream record's image carries it.
fn image(item: &Item) -> Map<String, Value> {
    item.iter()
        .map(|(name, value)| (name.clone(), attribute(value)))
        .collect()
}

fn attribute(value: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    match value {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::B(b) => json!({ "B": b64(b.as_ref()) }),
        A::Bool(b) => json!({ "BOOL": b }),
        A::Null(n) => json!({ "NULL": n }),
        A::Ss(ss) => json!({ "SS": ss }),
        A::Ns(ns) => json!({ "NS": ns }),
        A::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        A::M(m) => json!({ "M": image(m) }),
        _ => Value::Null,
    }
}

/// The item's size as DynamoDB counts it (names and values in bytes), the
/// record's `SizeBytes` up to the keys it repeats.
fn item_size(item: &Item) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    A::S(s) | A::N(s) => s.len(),
                    A::B(b) => b.as_ref().len(),
                    _ => 1,
                }
        })
        .sum()
}
