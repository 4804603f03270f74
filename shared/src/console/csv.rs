//! CSV export of a list view: RFC 4180 (CRLF line ends, every field that
//! holds a comma, quote, CR or LF quoted, quotes doubled), header row first.

use super::QueueRow;

pub const CSV_COLUMNS: [&str; 11] = [
    "clearing_unique_id",
    "card_network",
    "card_hash",
    "status",
    "version",
    "pending_reason",
    "pending_detail",
    "received_at",
    "pending_since",
    "amount",
    "currency",
];

/// One field, quoted when it must be.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    // As the JSON views write it, so a cell equals the list's field.
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The cells of one row, in [`CSV_COLUMNS`] order.
pub fn cells(row: &QueueRow) -> [String; 11] {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        row.clearing_unique_id.clone(),
        row.card_network.clone(),
        opt(&row.card_hash),
        row.status.as_str().to_owned(),
        row.version.to_string(),
        opt(&row.pending_reason),
        opt(&row.pending_detail),
        stamp(row.received_at),
        stamp(row.pending_since),
        opt(&row.amount),
        opt(&row.currency),
    ]
}

pub fn export(rows: &[QueueRow]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for row in rows {
        let line: Vec<String> = cells(row).iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(field(""), "");
    }
}
