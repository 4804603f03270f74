//! A record refused because another record with different content is stored
//! under its `clearingUniqueId`: the first stored stands, the refused one is
//! kept with its payload and announced, never silently dropped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::notification::parse_record;

/// A refused record, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearingConflict {
    pub clearing_unique_id: String,
    pub card_network: String,
    /// Identifies the refused content: the same payload delivered again is the same conflict.
    pub payload_digest: String,
    /// The refused record's JSON exactly as received.
    pub refused_payload: String,
    /// The version of the stored message when the record was refused.
    pub stored_version: u64,
    pub received_at: DateTime<Utc>,
}

impl ClearingConflict {
    pub fn new(
        clearing_unique_id: &str,
        card_network: &str,
        refused_payload: &str,
        stored_version: u64,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            clearing_unique_id: clearing_unique_id.to_owned(),
            card_network: card_network.to_owned(),
            payload_digest: hex::encode(Sha256::digest(refused_payload.as_bytes())),
            refused_payload: refused_payload.to_owned(),
            stored_version,
            received_at,
        }
    }
}

/// Whether two records' JSON say the same thing: the same JSON value (key
/// order and spacing aside) with every known field's text exactly equal
/// (`12.30` and `12.3` are different records: amounts are compared as sent).
pub fn same_content(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let value = |raw: &str| serde_json::from_str::<serde_json::Value>(raw).ok();
    let fields = |raw: &str| {
        serde_json::from_str::<&RawValue>(raw)
            .ok()
            .map(|r| parse_record(r).fields)
    };
    match (value(a), value(b)) {
        (Some(va), Some(vb)) => va == vb && fields(a) == fields(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_compared_as_sent_not_as_spelled() {
        let a = r#"{"clearingUniqueId": "A", "transactionAmount": 12.30, "x": [1, 2]}"#;
        let b = r#"{"x":[1,2],"transactionAmount":12.30,"clearingUniqueId":"A"}"#;
        assert!(same_content(a, b));
        let c = r#"{"clearingUniqueId": "A", "transactionAmount": 12.3, "x": [1, 2]}"#;
        assert!(!same_content(a, c), "12.30 and 12.3 are different records");
        let d = r#"{"clearingUniqueId": "A", "transactionAmount": 12.30, "x": [2, 1]}"#;
        assert!(!same_content(a, d), "unknown fields count too");
        assert!(!same_content(a, "42"));
    }

    #[test]
    fn the_same_refused_payload_is_the_same_conflict() {
        let now = Utc::now();
        let a = ClearingConflict::new("A", "MASTERCARD", "{\"a\":1}", 1, now);
        let b = ClearingConflict::new("A", "MASTERCARD", "{\"a\":1}", 1, now);
        let c = ClearingConflict::new("A", "MASTERCARD", "{\"a\":2}", 1, now);
        assert_eq!(a.payload_digest, b.payload_digest);
        assert_ne!(a.payload_digest, c.payload_digest);
    }
}
