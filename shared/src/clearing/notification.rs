//! Parsing of a clearing notification body, `{"clearing": [...]}`.
//!
//! The envelope must be well formed (otherwise the whole body is a 400 and
//! nothing is stored), but each record inside it is taken apart on its own:
//! a record with wrong types or a broken date is still a record, kept with its
//! raw JSON, and validation decides later what is wrong with it.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::fields::{ClearingField, FieldProblem, FieldValues};

/// Largest number of records accepted in one notification.
pub const MAX_RECORDS_PER_NOTIFICATION: usize = 1_000;

/// Largest single record. A Mastercard record is under 1 KB; the limit keeps
/// every stored item far below DynamoDB's 400 KB, so no record can make the
/// store refuse its batch (and the network retry it forever).
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// Why a notification body as a whole cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("body must be an object with a `{list}` array of records: {detail}")]
    WrongShape { list: &'static str, detail: String },
    #[error("`{0}` must contain at least one record")]
    Empty(&'static str),
    #[error("`{list}` has {count} records; at most {max} are accepted per call")]
    TooManyRecords {
        list: &'static str,
        count: usize,
        max: usize,
    },
    #[error("`{list}[{index}]` is {size} bytes; a record may be at most {max} bytes")]
    RecordTooLarge {
        list: &'static str,
        index: usize,
        size: usize,
        max: usize,
    },
}

/// One record of a notification, as received.
#[derive(Debug, Clone)]
pub struct ReceivedRecord {
    /// The record's JSON exactly as the network sent it.
    pub raw: String,
    /// Text of every known field present in the record.
    pub fields: FieldValues,
    /// Fields whose JSON type cannot hold their value (an object where a date belongs, ...),
    /// and a record that is not an object at all.
    pub shape_problems: Vec<FieldProblem>,
}

impl ReceivedRecord {
    /// The idempotency key: `clearingUniqueId`, or for a record without a
    /// valid one (absent, blank, too long, control characters: what could not
    /// be a key) a digest of its raw JSON, so that a redelivery of the same
    /// broken record still lands on the same stored item.
    pub fn clearing_unique_id(&self) -> String {
        match self.fields.get(&ClearingField::ClearingUniqueId) {
            // Exactly the ids validation accepts, so a valid record is stored under its own id.
            Some(id) if ClearingField::ClearingUniqueId.kind().check(id).is_ok() => id.clone(),
            _ => {
                let digest = Sha256::digest(self.raw.as_bytes());
                format!("sha256-{}", &hex::encode(digest)[..32])
            }
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    clearing: Vec<&'a RawValue>,
}

/// Splits a clearing notification into its records.
pub fn parse_clearing_notification(body: &[u8]) -> Result<Vec<ReceivedRecord>, NotificationError> {
    Ok(clearing_records(body)?.collect())
}

/// The records of a clearing notification, each taken apart as it is asked
/// for: the envelope is checked whole first (shape, count, sizes), so an error
/// still refuses the body before any record is read. Callers that handle one
/// record at a time use this rather than [`parse_clearing_notification`]: the
/// list of a thousand records read at once is a 72 KB block whose release
/// makes the allocator sweep its free lists on every notification.
pub fn clearing_records(
    body: &[u8],
) -> Result<impl ExactSizeIterator<Item = ReceivedRecord> + '_, NotificationError> {
    let envelope: Envelope<'_> = parse_envelope(body, "clearing")?;
    check_count(envelope.clearing.len(), "clearing")?;
    check_sizes(&envelope.clearing, "clearing")?;
    Ok(envelope.clearing.into_iter().map(parse_record))
}

pub(crate) fn parse_envelope<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    list: &'static str,
) -> Result<T, NotificationError> {
    let envelope = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => NotificationError::WrongShape {
            list,
            detail: e.to_string(),
        },
        _ => NotificationError::MalformedJson(e.to_string()),
    })?;
    // serde reads a struct from a sequence too (`[[record]]`): the contract is an object.
    if !is_json_object(body) {
        return Err(NotificationError::WrongShape {
            list,
            detail: "the body is not a JSON object".into(),
        });
    }
    Ok(envelope)
}

/// Whether JSON text is an object (its first non-whitespace byte is `{`).
pub fn is_json_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

pub(crate) fn check_sizes(
    records: &[&RawValue],
    list: &'static str,
) -> Result<(), NotificationError> {
    match records
        .iter()
        .position(|r| r.get().len() > MAX_RECORD_BYTES)
    {
        Some(index) => Err(NotificationError::RecordTooLarge {
            list,
            index,
            size: records[index].get().len(),
            max: MAX_RECORD_BYTES,
        }),
        None => Ok(()),
    }
}

pub(crate) fn check_count(count: usize, list: &'static str) -> Result<(), NotificationError> {
    if count == 0 {
        return Err(NotificationError::Empty(list));
    }
    if count > MAX_RECORDS_PER_NOTIFICATION {
        return Err(NotificationError::TooManyRecords {
            list,
            count,
            max: MAX_RECORDS_PER_NOTIFICATION,
        });
    }
    Ok(())
}

/// Takes one record apart. Never fails: what cannot be read becomes a problem.
pub fn parse_record(raw: &RawValue) -> ReceivedRecord {
    let text = raw.get();
    let mut record = ReceivedRecord {
        raw: text.to_owned(),
        fields: FieldValues::new(),
        shape_problems: Vec::new(),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_map(RecordVisitor {
        record: &mut record,
    }) {
        Ok(()) => {}
        Err(_) => record.shape_problems.push(FieldProblem {
            field: ClearingField::ClearingUniqueId,
            problem: "record is not a JSON object".into(),
        }),
    }
    record
}

struct RecordVisitor<'r> {
    record: &'r mut ReceivedRecord,
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a clearing record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(FieldName(field)) = map.next_key()? {
            let value: &'de RawValue = map.next_value()?;
            let Some(field) = field else {
                continue; // unknown fields stay in the raw payload only
            };
            match scalar_text(value.get()) {
                Ok(Some(text)) => {
                    self.record.fields.insert(field, text);
                }
                Ok(None) => {} // null: treated as absent
                Err(problem) => self
                    .record
                    .shape_problems
                    .push(FieldProblem { field, problem }),
            }
        }
        Ok(())
    }
}

/// A record's key read as the field it names, without copying the key.
struct FieldName(Option<ClearingField>);

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FieldNameVisitor)
    }
}

struct FieldNameVisitor;

impl Visitor<'_> for FieldNameVisitor {
    type Value = FieldName;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<FieldName, E> {
        Ok(FieldName(ClearingField::from_name(name)))
    }
}

/// The text of a JSON scalar: a string's content, a number's digits as sent.
fn scalar_text(raw: &str) -> Result<Option<String>, String> {
    match raw.as_bytes().first() {
        // Valid JSON (the record parsed) with no escape: the content is the text between the quotes.
        Some(b'"') if !raw.contains('\\') => Ok(Some(raw[1..raw.len() - 1].to_owned())),
        Some(b'"') => serde_json::from_str::<String>(raw)
            .map(Some)
            .map_err(|e| format!("unreadable string: {e}")),
        Some(b'-' | b'0'..=b'9') => Ok(Some(raw.to_owned())),
        Some(b'n') => Ok(None),
        Some(b't' | b'f') => Err("must be a string or a number, not a boolean".into()),
        Some(b'{') => Err("must be a string or a number, not an object".into()),
        Some(b'[') => Err("must be a string or a number, not an array".into()),
        _ => Err("unreadable value".into()),
    }
}

impl<'de> de::Deserialize<'de> for ReceivedRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(d)?;
        Ok(parse_record(&raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../../spec/mastercard-clearing-notification.example.json");

    #[test]
    fn seed_example_parses_with_exact_amount_text() {
        let records = parse_clearing_notification(SEED.as_bytes()).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.fields[&ClearingField::TransactionAmount], "12.34");
        assert_eq!(r.fields[&ClearingField::TransactionLocalDate], "2024-24-04");
        assert_eq!(r.clearing_unique_id(), "202404261024009777553");
        assert!(r.shape_problems.is_empty());
        assert!(r.raw.contains("\"banknetDate\": \"0424\"") && r.raw.starts_with('{'));
    }

    #[test]
    fn envelope_errors_are_told_apart() {
        assert!(matches!(
            parse_clearing_notification(b"{\"clearing\": [").unwrap_err(),
            NotificationError::MalformedJson(_)
        ));
        assert!(matches!(
            parse_clearing_notification(b"{\"records\": []}").unwrap_err(),
            NotificationError::WrongShape { .. }
        ));
        assert!(matches!(
            parse_clearing_notification(b"{\"clearing\": {}}").unwrap_err(),
            NotificationError::WrongShape { .. }
        ));
        assert_eq!(
            parse_clearing_notification(b"{\"clearing\": []}").unwrap_err(),
            NotificationError::Empty("clearing")
        );
    }

    #[test]
    fn a_bare_array_is_not_an_envelope() {
        for body in [
            &br#"[[{"clearingUniqueId": "A1"}]]"#[..],
            b" \n[[42]]",
            b"[[]]",
        ] {
            let err = parse_clearing_notification(body).unwrap_err();
            assert!(
                matches!(err, NotificationError::WrongShape { .. }),
                "{}: {err}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse_clearing_notification(b" \n{\"clearing\": [{}]}").is_ok());
    }

    #[test]
    fn a_bad_record_does_not_spoil_its_neighbours() {
        let body = br#"{"clearing": [42, {"clearingUniqueId": "A1", "transactionAmount": {"x": 1}}, {"clearingUniqueId": "B2", "transactionAmount": "7.10", "merchantCategoryCode": 5812}]}"#;
        let records = parse_clearing_notification(body).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0].shape_problems[0].problem,
            "record is not a JSON object"
        );
        assert!(records[0].clearing_unique_id().starts_with("sha256-"));
        assert_eq!(
            records[1].shape_problems[0].field,
            ClearingField::TransactionAmount
        );
        assert_eq!(records[2].fields[&ClearingField::TransactionAmount], "7.10");
        assert_eq!(
            records[2].fields[&ClearingField::MerchantCategoryCode],
            "5812"
        );
    }

    #[test]
    fn an_oversized_record_is_refused_naming_it() {
        let big = format!(
            r#"{{"clearing": [{{"clearingUniqueId": "a"}}, {{"merchantName": "{}"}}]}}"#,
            "x".repeat(MAX_RECORD_BYTES)
        );
        let err = parse_clearing_notification(big.as_bytes()).unwrap_err();
        assert!(
            matches!(err, NotificationError::RecordTooLarge { index: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`clearing[1]`"));
    }

    #[test]
    fn strings_and_keys_are_read_with_or_without_escapes() {
        let body = br#"{"clearing": [{"clearingUniqueId": "A\u00e91", "merchant\u004eame": "CAF\u00c9 \"X\"", "cardAcceptorCity": "S\u00c3O PAULO", "cardAcceptorState": "SP", "merchantCountryCode": "", "acquirerId": "\\1"}]}"#;
        let fields = &parse_clearing_notification(body).unwrap()[0].fields;
        let text = |f| fields.get(&f).map(String::as_str);
        assert_eq!(text(ClearingField::ClearingUniqueId), Some("A\u{e9}1"));
        assert_eq!(text(ClearingField::MerchantName), Some("CAF\u{c9} \"X\""));
        assert_eq!(
            text(ClearingField::CardAcceptorCity),
            Some("S\u{c3}O PAULO")
        );
        assert_eq!(text(ClearingField::CardAcceptorState), Some("SP"));
        assert_eq!(text(ClearingField::MerchantCountryCode), Some(""));
        assert_eq!(text(ClearingField::AcquirerId), Some("\\1"));
        for raw in [
            r#""plain""#,
            r#""""#,
            r#""tab\there""#,
            r#""\u00e9""#,
            r#""é""#,
        ] {
            let expected: String = serde_json::from_str(raw).unwrap();
            assert_eq!(scalar_text(raw), Ok(Some(expected)), "{raw}");
        }
    }

    #[test]
    fn records_one_at_a_time_are_the_records_at_once() {
        let body = br#"{"clearing": [42, {"clearingUniqueId": "A1"}, {"clearingUniqueId": "B2", "transactionAmount": 7.10}]}"#;
        let each: Vec<_> = clearing_records(body).unwrap().collect();
        let all = parse_clearing_notification(body).unwrap();
        assert_eq!(each.len(), 3);
        for (a, b) in each.iter().zip(&all) {
            assert_eq!(
                (&a.raw, &a.fields, &a.shape_problems),
                (&b.raw, &b.fields, &b.shape_problems)
            );
        }
        // The envelope is refused whole, before any record is read.
        assert!(matches!(
            clearing_records(b"{\"clearing\": []}").err(),
            Some(NotificationError::Empty("clearing"))
        ));
    }

    #[test]
    fn id_digest_is_stable_for_the_same_bytes() {
        let body = br#"{"clearing": [{"transactionAmount": 1}]}"#;
        let a = parse_clearing_notification(body).unwrap();
        let b = parse_clearing_notification(body).unwrap();
        assert_eq!(a[0].clearing_unique_id(), b[0].clearing_unique_id());
    }
}
