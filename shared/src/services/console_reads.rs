//! The console's read views: the queue page and summary, the CSV export,
//! the daily summary and the Pix results of a day.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::console::{ConsoleError, ConsoleService};
use crate::clearing::ClearingStatus;
use crate::console::summary::{day_summary, queue_summary, DaySummary, QueueSummary};
use crate::console::{PixResultRow, QueueFilter, QueueRow, QueueSort, PIX_UNDECIDED};
use crate::ports::Page;

/// Most rows an export, or a list sorted by amount, reads.
pub const MAX_LIST_ROWS: usize = 10_000;
/// Most rows the queue summary reads.
pub const MAX_SUMMARY_ROWS: usize = 50_000;
/// Most Pix results a day's view reads.
pub const MAX_PIX_ROWS: usize = 50_000;
/// Most items the Pix view lists.
pub const MAX_PIX_ITEMS: usize = 1_000;

/// A Pix business day: counts per outcome and the listed results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PixDay {
    pub date: NaiveDate,
    pub counts: BTreeMap<String, u64>,
    pub items: Vec<PixResultRow>,
}

fn sort_rows(rows: &mut [QueueRow], sort: QueueSort) {
    match sort {
        QueueSort::ReceivedAsc => {}
        QueueSort::ReceivedDesc => rows.reverse(),
        // Unreadable amounts last either way; ties by arrival.
        QueueSort::AmountAsc => {
            rows.sort_by_key(|r| (r.amount_value().is_none(), r.amount_value()))
        }
        QueueSort::AmountDesc => rows.sort_by_key(|r| {
            (
                r.amount_value().is_none(),
                std::cmp::Reverse(r.amount_value()),
            )
        }),
    }
}

impl ConsoleService {
    async fn all_rows(
        &self,
        filter: &QueueFilter,
        max: usize,
    ) -> Result<Vec<QueueRow>, ConsoleError> {
        let rows = self.store.queue_rows(filter, max).await?;
        if rows.len() > max {
            return Err(ConsoleError::TooMany {
                count: rows.len(),
                max,
            });
        }
        Ok(rows)
    }

    /// One page of the queue. By received time it is one index walk from the
    /// cursor; by amount the filter's rows are read and sorted (cursor: offset).
    pub async fn queue_page(
        &self,
        filter: &QueueFilter,
        sort: QueueSort,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<QueueRow>, ConsoleError> {
        if !sort.by_amount() {
            let descending = sort == QueueSort::ReceivedDesc;
            return Ok(self
                .store
                .queue_page(filter, descending, limit, cursor)
                .await?);
        }
        let offset = match cursor {
            None => 0,
            Some(c) => c
                .strip_prefix("offset:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| ConsoleError::Invalid("cursor: not a cursor of this list".into()))?,
        };
        let mut rows = self.all_rows(filter, MAX_LIST_ROWS).await?;
        sort_rows(&mut rows, sort);
        let end = (offset + limit).min(rows.len());
        let items = rows.get(offset..end).map(<[_]>::to_vec).unwrap_or_default();
        let next_cursor = (end < rows.len()).then(|| format!("offset:{end}"));
        Ok(Page { items, next_cursor })
    }

    pub async fn queue_summary(
        &self,
        status: ClearingStatus,
    ) -> Result<QueueSummary, ConsoleError> {
        let filter = QueueFilter {
            status: Some(status),
            ..Default::default()
        };
        let rows = self.all_rows(&filter, MAX_SUMMARY_ROWS).await?;
        Ok(queue_summary(status, &rows, Utc::now()))
    }

    /// Every row of the list view, sorted as shown, as RFC 4180 CSV.
    pub async fn export_csv(
        &self,
        filter: &QueueFilter,
        sort: QueueSort,
    ) -> Result<String, ConsoleError> {
        let mut rows = self.all_rows(filter, MAX_LIST_ROWS).await?;
        sort_rows(&mut rows, sort);
        Ok(crate::console::csv::export(&rows))
    }

    /// The last `days` days by received date, newest first.
    pub async fn daily_summary(&self, days: u32) -> Result<Vec<DaySummary>, ConsoleError> {
        let today = Utc::now().date_naive();
        let dates: Vec<NaiveDate> = (0..days)
            .filter_map(|back| today.checked_sub_days(chrono::Days::new(back.into())))
            .collect();
        let reads = dates.iter().map(|d| self.store.received_on(*d));
        let per_day = futures::future::try_join_all(reads).await?;
        Ok(dates
            .iter()
            .zip(per_day)
            .map(|(d, rows)| day_summary(*d, &rows))
            .collect())
    }

    /// A business day's Pix results: counts per outcome, and the not-OK
    /// ones listed (or those of `outcome`).
    pub async fn pix_day(
        &self,
        date: NaiveDate,
        outcome: Option<&str>,
    ) -> Result<PixDay, ConsoleError> {
        let rows = self.store.pix_results(date, MAX_PIX_ROWS).await?;
        if rows.len() > MAX_PIX_ROWS {
            return Err(ConsoleError::TooMany {
                count: rows.len(),
                max: MAX_PIX_ROWS,
            });
        }
        let mut counts = BTreeMap::new();
        for r in &rows {
            *counts.entry(r.outcome.clone()).or_insert(0) += 1;
        }
        let listed = |r: &PixResultRow| match outcome {
            Some(o) => r.outcome == o,
            None => r.outcome != "OK" && r.outcome != PIX_UNDECIDED,
        };
        let items = rows
            .into_iter()
            .filter(listed)
            .take(MAX_PIX_ITEMS)
            .collect();
        Ok(PixDay {
            date,
            counts,
            items,
        })
    }
}
