//! Pix financial reconciliation inputs, as EventBridge events delivered to the
//! worker through the Pix input queue (rule `PixInputRule`):
//! source `pix.inputs`, detail-types `pix_transaction`, `provider_settlement_entry`,
//! `provider_report_closed`; `detail` is the input's JSON.
//!
//! Each state change is a version-conditional write of the end_to_end_id's
//! state; the one `financial_reconciliation` event is written with the
//! decision (its outbox, published from the table's stream), so a decided
//! state never leaves the day's open list without its event.

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::value::RawValue;
use tracing::Instrument;

use shared::outbox::OutboxEntry;
use shared::pix::{
    apply, apply_day_closed, decide, parse_pix_transaction, parse_provider_entry,
    parse_provider_report_closed, PixInput, PixReconciliation, ProviderReportClosed,
};
use shared::ports::{DayEntry, StoreError, StoredPixState};

use crate::{JobError, WorkerService};

pub const INPUT_SOURCE: &str = "pix.inputs";

/// The part of an EventBridge event the worker reads; `detail` is kept as its exact text.
#[derive(Deserialize)]
pub struct EventEnvelope {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: Box<RawValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PixOutcome {
    /// The state changed; `published` events went out.
    Applied { published: usize },
    /// Nothing new (a redelivery).
    Unchanged,
}

pub async fn process_pix_event(
    service: &WorkerService,
    envelope: &EventEnvelope,
) -> Result<PixOutcome, JobError> {
    let detail = envelope.detail.get();
    let bad = |e: shared::pix::PixInputError| {
        JobError::Rejected(format!("{}: {e}", envelope.detail_type))
    };
    if envelope.source != INPUT_SOURCE {
        return Err(JobError::Rejected(format!(
            "unexpected event source `{}`",
            envelope.source
        )));
    }
    let (e2e, input) = match envelope.detail_type.as_str() {
        "pix_transaction" => {
            let t = parse_pix_transaction(detail).map_err(bad)?;
            (t.end_to_end_id.clone(), PixInput::Transaction(t))
        }
        "provider_settlement_entry" => {
            let e = parse_provider_entry(detail).map_err(bad)?;
            (e.end_to_end_id.clone(), PixInput::ProviderEntry(e))
        }
        "provider_report_closed" => {
            let closed = parse_provider_report_closed(detail).map_err(bad)?;
            let span = shared::spans::pix_day_close(&closed.business_date.to_string());
            return close_day(service, closed).instrument(span).await;
        }
        other => {
            return Err(JobError::Rejected(format!(
                "unknown Pix input detail-type `{other}`"
            )))
        }
    };
    update(service, &e2e, move |state| {
        apply(state, input.clone()).map_err(|e| JobError::Unreadable(e.to_string()))
    })
    .instrument(shared::spans::pix_input(&e2e))
    .await
}

/// The provider's report for `date` is closed: every undecided state of that day is decided.
/// Closes the day once the applied entries are what the report says it holds;
/// before that, the close fails and its queue redelivers it after the
/// visibility timeout (a close can overtake its day's entries).
async fn close_day(
    service: &WorkerService,
    closed: ProviderReportClosed,
) -> Result<PixOutcome, JobError> {
    let date = closed.business_date;
    let tally = service.pix.day_tally(date).await?;
    if (tally.entry_count, tally.total_amount) != (closed.entry_count, closed.total_amount) {
        return Err(JobError::CloseEarly(format!(
            "the report of {date} holds {} entries totalling {}; {} applied totalling {}",
            closed.entry_count, closed.total_amount, tally.entry_count, tally.total_amount
        )));
    }
    // Flag first, then sweep: an input racing with the close either sees the flag or is swept.
    service.pix.close_pix_day(date).await?;
    let mut published = 0;
    for e2e in service.pix.open_pix_ids(date).await? {
        if let PixOutcome::Applied { published: n } =
            update(service, &e2e, |s| Ok(apply_day_closed(s, date)))
                .instrument(shared::spans::pix_input(&e2e))
                .await?
        {
            published += n;
        }
    }
    Ok(PixOutcome::Applied { published })
}

/// Read, apply, apply known closures, write conditionally, publish once.
async fn update<F>(service: &WorkerService, e2e: &str, change: F) -> Result<PixOutcome, JobError>
where
    F: Fn(PixReconciliation) -> Result<PixReconciliation, JobError>,
{
    for _ in 0..5 {
        let stored = service.pix.pix_state(e2e).await?;
        let StoredPixState {
            state,
            version,
            published,
        } = stored.unwrap_or(StoredPixState {
            state: PixReconciliation::new(e2e),
            version: 0,
            published: false,
        });
        let mut next = change(state.clone())?;
        for date in business_dates(&next) {
            if !next.is_decided()
                && !next.closed_business_dates.contains(&date)
                && service.pix.pix_day_closed(date).await?
            {
                next = apply_day_closed(next, date);
            }
        }
        // Undecided -> decided: the decision's event is written with it (one
        // write: the state leaves the day's open list only with its event out).
        let rewrite = next == state;
        if rewrite && (published || !next.is_decided()) {
            return Ok(PixOutcome::Unchanged);
        }
        // A provider entry applied for the first time counts in its day's tally.
        let counted = match (&state.provider_entry, &next.provider_entry) {
            (None, Some(e)) => Some(DayEntry {
                business_date: e.business_date,
                amount: e.provider_amount,
            }),
            _ => None,
        };
        let announcement = if next.is_decided() && !published {
            decision_event(&next)?
        } else {
            Vec::new()
        };
        let now_published = published || !announcement.is_empty();
        match service
            .pix
            .save_pix_state(&next, version, now_published, &announcement, counted)
            .await
        {
            Ok(()) => {
                if let Some(OutboxEntry::Event { .. }) = announcement.first() {
                    if let Some(outcome) = &next.outcome {
                        shared::metrics::pix_result(outcome.result_description);
                    }
                }
                return Ok(PixOutcome::Applied {
                    published: announcement.len(),
                });
            }
            Err(StoreError::VersionConflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Store(StoreError::Unavailable(format!(
        "Pix state {e2e} kept changing"
    ))))
}

fn business_dates(state: &PixReconciliation) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = state
        .transaction
        .iter()
        .map(|t| t.business_date)
        .chain(state.provider_entry.iter().map(|e| e.business_date))
        .collect();
    dates.dedup();
    dates
}

/// The one `financial_reconciliation` event of a decided state (stable id).
fn decision_event(state: &PixReconciliation) -> Result<Vec<OutboxEntry>, JobError> {
    let Some(detail) = decide(state) else {
        return Ok(Vec::new());
    };
    let event = detail
        .outbound_event()
        .map_err(|e| JobError::Unreadable(e.to_string()))?;
    Ok(vec![event.into()])
}
