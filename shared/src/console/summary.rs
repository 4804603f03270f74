//! Summaries the console shows: the queue by reason with aging, and the
//! daily counts and amounts per status and reason. Amounts are summed
//! exactly, per currency; a row without a readable amount counts, adds nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::QueueRow;

/// How long messages have waited: under 1 day, 1-3, 3-7, over 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Aging {
    pub lt1d: u64,
    pub d1to3: u64,
    pub d3to7: u64,
    pub gt7d: u64,
}

impl Aging {
    fn add(&mut self, age: chrono::Duration) {
        let hours = age.num_hours();
        match hours {
            h if h < 24 => self.lt1d += 1,
            h if h < 72 => self.d1to3 += 1,
            h if h < 168 => self.d3to7 += 1,
            _ => self.gt7d += 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReasonSummary {
    pub reason: String,
    pub count: u64,
    pub oldest: DateTime<Utc>,
    pub aging: Aging,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueSummary {
    pub status: crate::clearing::ClearingStatus,
    pub total: u64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub oldest_received_at: Option<DateTime<Utc>>,
    /// Largest count first.
    pub reasons: Vec<ReasonSummary>,
}

/// The reason a row is grouped under (a message without one: `NONE`).
fn reason_of(row: &QueueRow) -> String {
    row.pending_reason.clone().unwrap_or_else(|| "NONE".into())
}

pub fn queue_summary(
    status: crate::clearing::ClearingStatus,
    rows: &[QueueRow],
    now: DateTime<Utc>,
) -> QueueSummary {
    let mut by_reason: BTreeMap<String, ReasonSummary> = BTreeMap::new();
    for row in rows {
        let entry = by_reason
            .entry(reason_of(row))
            .or_insert_with(|| ReasonSummary {
                reason: reason_of(row),
                count: 0,
                oldest: row.received_at,
                aging: Aging::default(),
            });
        entry.count += 1;
        entry.oldest = entry.oldest.min(row.received_at);
        entry.aging.add(now - row.received_at);
    }
    let mut reasons: Vec<ReasonSummary> = by_reason.into_values().collect();
    reasons.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    QueueSummary {
        status,
        total: rows.len() as u64,
        oldest_received_at: rows.iter().map(|r| r.received_at).min(),
        reasons,
    }
}

/// A count and exact amount in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tally {
    /// A status or a reason code.
    pub key: String,
    pub currency: String,
    pub count: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DaySummary {
    pub date: NaiveDate,
    pub by_status: Vec<Tally>,
    /// The messages of the day that are PENDING now.
    pub by_reason: Vec<Tally>,
}

type Tallies = BTreeMap<(String, String), (u64, Decimal)>;

fn add(tallies: &mut Tallies, key: &str, row: &QueueRow) {
    let currency = row.currency.clone().unwrap_or_default();
    let entry = tallies
        .entry((key.to_owned(), currency))
        .or_insert((0, Decimal::ZERO));
    entry.0 += 1;
    // Checked: a sum that would overflow keeps its last exact value.
    if let Some(sum) = row.amount_value().and_then(|a| entry.1.checked_add(a)) {
        entry.1 = sum;
    }
}

fn tallies(t: Tallies) -> Vec<Tally> {
    t.into_iter()
        .map(|((key, currency), (count, amount))| Tally {
            key,
            currency,
            count,
            amount,
        })
        .collect()
}

/// One day's counts and amounts per status, and per reason of the pending.
pub fn day_summary(date: NaiveDate, rows: &[QueueRow]) -> DaySummary {
    let (mut by_status, mut by_reason) = (Tallies::new(), Tallies::new());
    for row in rows {
        add(&mut by_status, row.status.as_str(), row);
        if row.status == crate::clearing::ClearingStatus::Pending {
            add(&mut by_reason, &reason_of(row), row);
        }
    }
    DaySummary {
        date,
        by_status: tallies(by_status),
        by_reason: tallies(by_reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clearing::ClearingStatus;

    fn row(
        id: &str,
        status: ClearingStatus,
        reason: Option<&str>,
        age_h: i64,
        amount: &str,
    ) -> QueueRow {
        let at = Utc::now() - chrono::Duration::hours(age_h);
        QueueRow {
            clearing_unique_id: id.into(),
            card_network: "MASTERCARD".into(),
            card_hash: Some("c".into()),
            status,
            version: 2,
            pending_reason: reason.map(str::to_owned),
            pending_detail: None,
            received_at: at,
            pending_since: at,
            amount: Some(amount.into()),
            currency: Some("986".into()),
        }
    }

    #[test]
    fn queue_summary_groups_by_reason_with_aging_buckets() {
        let p = ClearingStatus::Pending;
        let rows = [
            row("a", p, Some("INVALID_FIELD"), 1, "1"),
            row("b", p, Some("INVALID_FIELD"), 30, "1"),
            row("c", p, Some("INVALID_FIELD"), 100, "1"),
            row("d", p, Some("INVALID_FIELD"), 200, "1"),
            row("e", p, Some("AMOUNT_DIVERGENT"), 2, "1"),
        ];
        let s = queue_summary(p, &rows, Utc::now());
        assert_eq!(s.total, 5);
        assert_eq!(s.reasons[0].reason, "INVALID_FIELD");
        assert_eq!(
            s.reasons[0].aging,
            Aging {
                lt1d: 1,
                d1to3: 1,
                d3to7: 1,
                gt7d: 1
            }
        );
        assert_eq!(s.reasons[0].oldest, rows[3].received_at);
        assert_eq!(s.oldest_received_at, Some(rows[3].received_at));
        assert_eq!(s.reasons[1].count, 1);
    }

    #[test]
    fn day_summary_sums_exactly_per_currency() {
        let rows = [
            row("a", ClearingStatus::Matched, None, 1, "0.10"),
            row("b", ClearingStatus::Matched, None, 1, "0.20"),
            row(
                "c",
                ClearingStatus::Pending,
                Some("INVALID_FIELD"),
                1,
                "120.50",
            ),
        ];
        let d = day_summary(Utc::now().date_naive(), &rows);
        let matched = d.by_status.iter().find(|t| t.key == "MATCHED").unwrap();
        assert_eq!(
            (matched.count, matched.amount.to_string()),
            (2, "0.30".into())
        );
        assert_eq!(d.by_reason.len(), 1);
        assert_eq!(d.by_reason[0].amount.to_string(), "120.50");
    }
}
