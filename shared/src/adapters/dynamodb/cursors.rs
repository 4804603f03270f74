//! The opaque cursors handed to callers: a list's is the last key DynamoDB
//! returned; the arrival search's is a position in its manifests.

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::items::s;
use super::Item;
use crate::clearing::fields::parse_date;
use crate::ports::StoreError;

fn not_ours() -> StoreError {
    StoreError::InvalidCursor("cursor is not one this API returned".into())
}

/// Where a search stopped: a manifest (its sort key) and an index in its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) sk: String,
    pub(super) index: usize,
}

/// `"0"` starts at the oldest record; other cursors are opaque positions this
/// API returned: a day, a manifest of that day and an index in it.
pub(super) fn parse_clearing_cursor(
    cursor: &str,
) -> Result<Option<(String, Position)>, StoreError> {
    if cursor == "0" {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| not_ours())?;
    let text = String::from_utf8(bytes).map_err(|_| not_ours())?;
    let mut parts = text.splitn(3, '|');
    let (Some(day), Some(sk), Some(index)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(not_ours());
    };
    parse_date(day).map_err(|_| not_ours())?;
    let index = index.parse().map_err(|_| not_ours())?;
    Ok(Some((
        day.to_owned(),
        Position {
            sk: sk.to_owned(),
            index,
        },
    )))
}

pub(super) fn format_clearing_cursor(day: &str, p: &Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{day}|{}|{}", p.sk, p.index))
}

/// A list's cursor: the last key's attributes as JSON (all strings in these keys).
pub(super) fn encode_key(k: &Item) -> String {
    let map: BTreeMap<&str, &str> = k
        .iter()
        .filter_map(|(name, v)| v.as_s().ok().map(|s| (name.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).unwrap_or_default())
}

pub(super) fn decode_key(cursor: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| not_ours())?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let p = Position {
            sk: "2024-04-26T10:00:00.000000Z#ab12cd34".into(),
            index: 7,
        };
        let c = format_clearing_cursor("2024-04-26", &p);
        assert_eq!(
            parse_clearing_cursor(&c).unwrap(),
            Some(("2024-04-26".into(), p))
        );
        assert_eq!(parse_clearing_cursor("0").unwrap(), None);
        assert!(parse_clearing_cursor("not-a-cursor!").is_err());
        let old_form = URL_SAFE_NO_PAD.encode("2024-04-26|2024-04-26T10:00:00.000000Z#X");
        assert!(parse_clearing_cursor(&old_form).is_err());
        // A forged index is a position past every manifest, not an overflow.
        let far = URL_SAFE_NO_PAD.encode(format!("2024-04-26|x|{}", usize::MAX));
        assert_eq!(
            parse_clearing_cursor(&far).unwrap().unwrap().1.index,
            usize::MAX
        );
        let k: Item = HashMap::from([("pk".to_string(), s("CLR#1"))]);
        assert_eq!(decode_key(&encode_key(&k)).unwrap(), k);
        assert!(decode_key("%%%").is_err());
    }
}
