//! The packed attribute: the bulky part of an item (a message's raw payload,
//! history and outbox; an authorization's raw payload and history) as one
//! JSON object, compressed into one binary attribute. DynamoDB bills a write
//! per started KB of the item (the larger of before and after), so the text
//! every record repeats (field names, event envelopes, transition reasons)
//! is what the preset dictionary holds, and a typical item fits in 1 KB
//! ([0026](../../docs/decisions/0026-packed-message-item.md)).
//!
//! Format: one tag byte, then the data. Tag 1: raw deflate of the JSON with
//! `packed_dictionary_v1.txt` as preset dictionary. A tag, once written, is
//! read for ever: a better dictionary is a new tag beside the old one.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The item attribute holding the packed object.
pub const PACKED_ATTRIBUTE: &str = "packed";

const DEFLATE_V1: u8 = 1;
static DICTIONARY_V1: &[u8] = include_bytes!("packed_dictionary_v1.txt");

/// An item is at most 400 KB: nothing packed into one unpacks to more than this.
const MAX_UNPACKED: usize = 4 * 400 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("packed attribute is empty")]
    Empty,
    #[error("packed attribute has unknown format {0}")]
    UnknownFormat(u8),
    #[error("packed attribute does not inflate: {0}")]
    Inflate(String),
    #[error("packed attribute unpacks to more than {MAX_UNPACKED} bytes")]
    TooLarge,
    #[error("packed attribute is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `value` as JSON, deflated with the current dictionary, behind its tag.
pub fn pack<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PackError> {
    let json = serde_json::to_vec(value)?;
    let mut deflate = Compress::new(Compression::best(), false);
    deflate
        .set_dictionary(DICTIONARY_V1)
        .map_err(|e| PackError::Inflate(e.to_string()))?;
    let mut out = Vec::with_capacity(json.len() / 2 + 64);
    out.push(DEFLATE_V1);
    loop {
        let consumed = deflate.total_in() as usize;
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let status = deflate
            .compress_vec(&json[consumed..], &mut out, FlushCompress::Finish)
            .map_err(|e| PackError::Inflate(e.to_string()))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
    }
}

/// The value packed in `bytes`.
pub fn unpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PackError> {
    let (&tag, data) = bytes.split_first().ok_or(PackError::Empty)?;
    if tag != DEFLATE_V1 {
        return Err(PackError::UnknownFormat(tag));
    }
    let mut inflate = Decompress::new(false);
    inflate
        .set_dictionary(DICTIONARY_V1)
        .map_err(|e| PackError::Inflate(e.to_string()))?;
    let mut json = Vec::with_capacity(data.len() * 4 + 256);
    loop {
        let consumed = inflate.total_in() as usize;
        if json.len() == json.capacity() {
            if json.len() >= MAX_UNPACKED {
                return Err(PackError::TooLarge);
            }
            json.reserve(json.capacity());
        }
        let before = (inflate.total_in(), inflate.total_out());
        let status = inflate
            .decompress_vec(&data[consumed..], &mut json, FlushDecompress::Finish)
            .map_err(|e| PackError::Inflate(e.to_string()))?;
        match status {
            Status::StreamEnd => break,
            // No progress with room left: the data ended before the stream did.
            _ if (inflate.total_in(), inflate.total_out()) == before
                && json.len() < json.capacity() =>
            {
                return Err(PackError::Inflate("truncated".into()));
            }
            _ => {}
        }
    }
    Ok(serde_json::from_slice(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typical() -> serde_json::Value {
        let body = include_str!("../../spec/mastercard-clearing-notification.example.json");
        let record: serde_json::Value = serde_json::from_str(body).unwrap();
        json!({
            "message": {"raw_payload": record["clearing"][0].to_string(), "status": "MATCHED"},
            "outbox": [{"kind": "event", "detail": record["clearing"][0].to_string()}],
        })
    }

    #[test]
    fn what_is_packed_unpacks_the_same() {
        let value = typical();
        let back: serde_json::Value = unpack(&pack(&value).unwrap()).unwrap();
        assert_eq!(back, value);
        let big = json!({"text": "x".repeat(300_000)});
        let back: serde_json::Value = unpack(&pack(&big).unwrap()).unwrap();
        assert_eq!(back, big);
    }

    #[test]
    fn the_dictionary_makes_a_typical_record_small() {
        let value = typical();
        let plain = serde_json::to_vec(&value).unwrap().len();
        let packed = pack(&value).unwrap().len();
        let mut without = Compress::new(Compression::best(), false);
        let mut out = Vec::with_capacity(plain + 64);
        let json = serde_json::to_vec(&value).unwrap();
        without
            .compress_vec(&json, &mut out, FlushCompress::Finish)
            .unwrap();
        assert!(
            packed * 2 < out.len(),
            "{plain} bytes: {packed} packed, {} deflated without the dictionary",
            out.len()
        );
    }

    #[test]
    fn damaged_or_unknown_data_is_an_error_not_a_panic() {
        let packed = pack(&typical()).unwrap();
        assert!(matches!(
            unpack::<serde_json::Value>(&[]),
            Err(PackError::Empty)
        ));
        assert!(matches!(
            unpack::<serde_json::Value>(&[9, 1, 2]),
            Err(PackError::UnknownFormat(9))
        ));
        assert!(unpack::<serde_json::Value>(&packed[..packed.len() / 2]).is_err());
        let mut flipped = packed.clone();
        for b in flipped.iter_mut().skip(3).step_by(7) {
            *b ^= 0x5a;
        }
        assert!(unpack::<serde_json::Value>(&flipped).is_err());
    }
}
