//! The reconciliation state of one end-to-end id and its pure transitions.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event::{FinancialReconciliation, ResultDescription};
use super::input::{PixInput, PixTransaction, ProviderEntry, ProviderReportClosed};

/// The decision, once taken. It is final: no later input changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub result_description: ResultDescription,
}

/// An input for one end-to-end id was applied to another's state: a caller
/// bug, reported instead of merging two Pix transactions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an input for end_to_end_id `{input}` was applied to the reconciliation of `{state}`")]
pub struct EndToEndIdMismatch {
    pub state: String,
    pub input: String,
}

/// Everything known about one end-to-end id, and the outcome once decided.
///
/// # The rules
///
/// Every `apply_*` records its input and then decides if it can (the first
/// decision is stored in [`outcome`](Self::outcome) and is final):
/// - Pismo transaction and provider entry both present: `OK` when the amounts
///   are equal (as values: `125.5` = `125.50`), otherwise
///   `TRANSACTION_AMOUNT_DIVERGENT`. The business dates need not agree.
/// - Pismo transaction only, and the provider report of the transaction's
///   `business_date` closed: `PROVIDER_TRANSACTION_NOT_FOUND`.
/// - Provider entry only, and the provider report of the entry's
///   `business_date` closed: `PISMO_TRANSACTION_NOT_FOUND`. A provider entry
///   alone is not decided before that, since the Pismo side may still arrive.
/// - Anything else (one side with its day still open, only closures): undecided.
///
/// # Idempotence and order
///
/// Applying an input already applied changes nothing (not the outcome, not
/// the state). Before a decision the recorded facts are a function of the
/// *set* of inputs, whatever their order (conflicting inputs are ordered
/// canonically, see below). The outcome itself is taken at the first moment the
/// rules allow it and is never revised, so at most one outcome, hence one
/// event, ever exists per end-to-end id.
///
/// A report closure is a deadline, so the outcome depends on whether a side
/// arrived before or after the close of its day was applied: transaction →
/// close → entry gives `PROVIDER_TRANSACTION_NOT_FOUND` while transaction →
/// entry → close gives `OK`. No pure rule can avoid that while keeping the
/// outcome final; the caller makes it a non-issue by applying a day's closure
/// only after every entry of that day's report has been applied (the report
/// ingester publishes the close last), which leaves only genuinely late
/// inputs in that position.
///
/// # Inputs that arrive after the outcome
///
/// The outcome stands and no second event is produced. The late transaction
/// or provider entry is recorded in [`late_inputs`](Self::late_inputs) (once,
/// however often it is redelivered) for operators, e.g. a provider entry
/// arriving after `PROVIDER_TRANSACTION_NOT_FOUND`, or the Pismo transaction
/// arriving after `PISMO_TRANSACTION_NOT_FOUND`. The `transaction` and
/// `provider_entry` slots keep what the decision was made on, so the
/// `detail` that [`decide`] rebuilds is byte-for-byte the one first emitted.
/// Later closures are added to `closed_business_dates` and change nothing.
///
/// # Conflicting inputs
///
/// A second, *different* transaction (or provider entry) for the same
/// end-to-end id before the outcome is a data problem (e.g. a reversal sent
/// with the transfer's end-to-end id): one event per end-to-end id still
/// holds. The slot keeps the canonically smallest of them (an order over their
/// stored JSON, so the choice does not depend on arrival order) and the others
/// go to [`conflicting_inputs`](Self::conflicting_inputs) for operators.
///
/// # Closures
///
/// Provider reports close per day, not per end-to-end id. The caller applies a
/// closure to the states with a side on that day, and, when a side arrives,
/// applies the closures already known for that side's `business_date`; the
/// state keeps the closed days it was told about (usually one or two).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixReconciliation {
    pub end_to_end_id: String,
    /// The Pismo side.
    pub transaction: Option<PixTransaction>,
    /// The provider side.
    pub provider_entry: Option<ProviderEntry>,
    /// Business days whose provider report is known to be closed.
    #[serde(default)]
    pub closed_business_dates: BTreeSet<NaiveDate>,
    /// The decision, once taken; never changes afterwards.
    pub outcome: Option<Outcome>,
    /// Different same-side inputs received before the decision (sorted canonically).
    #[serde(default)]
    pub conflicting_inputs: Vec<PixInput>,
    /// Transactions and provider entries first received after the decision (sorted canonically).
    #[serde(default)]
    pub late_inputs: Vec<PixInput>,
}

impl PixReconciliation {
    /// The empty state of one end-to-end id.
    pub fn new(end_to_end_id: impl Into<String>) -> Self {
        Self {
            end_to_end_id: end_to_end_id.into(),
            transaction: None,
            provider_entry: None,
            closed_business_dates: BTreeSet::new(),
            outcome: None,
            conflicting_inputs: Vec::new(),
            late_inputs: Vec::new(),
        }
    }

    pub fn is_decided(&self) -> bool {
        self.outcome.is_some()
    }

    /// The business day whose report closure matters: the Pismo side's, else
    /// the provider side's, else none yet.
    pub fn relevant_business_date(&self) -> Option<NaiveDate> {
        self.transaction
            .as_ref()
            .map(|tx| tx.business_date)
            .or_else(|| {
                self.provider_entry
                    .as_ref()
                    .map(|entry| entry.business_date)
            })
    }

    /// Whether the provider report of [`relevant_business_date`](Self::relevant_business_date) is closed.
    pub fn provider_report_closed(&self) -> bool {
        self.relevant_business_date()
            .is_some_and(|date| self.closed_business_dates.contains(&date))
    }

    fn check(&self, input: &str) -> Result<(), EndToEndIdMismatch> {
        if input == self.end_to_end_id {
            Ok(())
        } else {
            Err(EndToEndIdMismatch {
                state: self.end_to_end_id.clone(),
                input: input.to_owned(),
            })
        }
    }

    /// Whether this exact input is already recorded anywhere on the state.
    fn knows(&self, input: &PixInput) -> bool {
        let in_slot = match input {
            PixInput::Transaction(tx) => self.transaction.as_ref() == Some(tx),
            PixInput::ProviderEntry(entry) => self.provider_entry.as_ref() == Some(entry),
            PixInput::ProviderReportClosed(closed) => {
                self.closed_business_dates.contains(&closed.business_date)
            }
        };
        in_slot || self.conflicting_inputs.contains(input) || self.late_inputs.contains(input)
    }
}

fn insert_sorted(list: &mut Vec<PixInput>, input: PixInput) {
    if !list.contains(&input) {
        let at = list.partition_point(|known| known.canonical_cmp(&input).is_lt());
        list.insert(at, input);
    }
}

/// Keeps the canonically smallest of the slot's value and `incoming` in the
/// slot, the other in `conflicts` (only when they differ; clones only then).
fn record_side<T: Clone + PartialEq>(
    slot: &mut Option<T>,
    incoming: T,
    conflicts: &mut Vec<PixInput>,
    wrap: fn(T) -> PixInput,
) {
    match slot {
        None => *slot = Some(incoming),
        Some(existing) if *existing == incoming => {}
        Some(existing) => {
            let incoming_first = wrap(incoming.clone())
                .canonical_cmp(&wrap(existing.clone()))
                .is_lt();
            let other = if incoming_first {
                std::mem::replace(existing, incoming)
            } else {
                incoming
            };
            insert_sorted(conflicts, wrap(other));
        }
    }
}

/// Takes the decision if the rules allow one and none was taken.
fn settle(mut state: PixReconciliation) -> PixReconciliation {
    if state.outcome.is_none() {
        state.outcome = evaluate(&state).map(|result_description| Outcome { result_description });
    }
    state
}

/// The rules, on the recorded sides (see [`PixReconciliation`]).
fn evaluate(state: &PixReconciliation) -> Option<ResultDescription> {
    match (&state.transaction, &state.provider_entry) {
        (Some(tx), Some(entry)) if tx.amount == entry.provider_amount => {
            Some(ResultDescription::Ok)
        }
        (Some(_), Some(_)) => Some(ResultDescription::TransactionAmountDivergent),
        (Some(tx), None) if state.closed_business_dates.contains(&tx.business_date) => {
            Some(ResultDescription::ProviderTransactionNotFound)
        }
        (None, Some(entry)) if state.closed_business_dates.contains(&entry.business_date) => {
            Some(ResultDescription::PismoTransactionNotFound)
        }
        _ => None,
    }
}

/// Records a Pismo transaction, then decides if possible.
pub fn apply_transaction(
    mut state: PixReconciliation,
    tx: PixTransaction,
) -> Result<PixReconciliation, EndToEndIdMismatch> {
    state.check(&tx.end_to_end_id)?;
    if state.is_decided() {
        return Ok(record_late(state, PixInput::Transaction(tx)));
    }
    record_side(
        &mut state.transaction,
        tx,
        &mut state.conflicting_inputs,
        PixInput::Transaction,
    );
    Ok(settle(state))
}

/// Records a provider entry, then decides if possible.
pub fn apply_provider_entry(
    mut state: PixReconciliation,
    entry: ProviderEntry,
) -> Result<PixReconciliation, EndToEndIdMismatch> {
    state.check(&entry.end_to_end_id)?;
    if state.is_decided() {
        return Ok(record_late(state, PixInput::ProviderEntry(entry)));
    }
    record_side(
        &mut state.provider_entry,
        entry,
        &mut state.conflicting_inputs,
        PixInput::ProviderEntry,
    );
    Ok(settle(state))
}

/// Records that the provider report of `business_date` is closed, then decides if possible.
pub fn apply_day_closed(
    mut state: PixReconciliation,
    business_date: NaiveDate,
) -> PixReconciliation {
    state.closed_business_dates.insert(business_date);
    settle(state)
}

/// Any input: [`apply_transaction`], [`apply_provider_entry`] or [`apply_day_closed`].
pub fn apply(
    state: PixReconciliation,
    input: PixInput,
) -> Result<PixReconciliation, EndToEndIdMismatch> {
    match input {
        PixInput::Transaction(tx) => apply_transaction(state, tx),
        PixInput::ProviderEntry(entry) => apply_provider_entry(state, entry),
        PixInput::ProviderReportClosed(ProviderReportClosed { business_date, .. }) => {
            Ok(apply_day_closed(state, business_date))
        }
    }
}

fn record_late(mut state: PixReconciliation, input: PixInput) -> PixReconciliation {
    if !state.knows(&input) {
        insert_sorted(&mut state.late_inputs, input);
    }
    state
}

/// The event `detail` of the decided outcome, or `None` while undecided.
///
/// Pure and repeatable: once decided, every call returns the same detail
/// (same content, same [`event_id`](FinancialReconciliation::event_id)),
/// whatever was applied since, so a handler may re-publish it after a failed
/// or uncertain publication and subscribers dedupe on the id. Returns `None`
/// also for a state whose outcome contradicts its recorded sides, which only
/// hand-built (or tampered) state can have.
pub fn decide(state: &PixReconciliation) -> Option<FinancialReconciliation> {
    let description = state.outcome?.result_description;
    let tx = state.transaction.as_ref();
    let entry = state.provider_entry.as_ref();
    match (description, tx, entry) {
        (
            ResultDescription::Ok | ResultDescription::TransactionAmountDivergent,
            Some(tx),
            Some(entry),
        ) => Some(FinancialReconciliation {
            amount: tx.amount,
            end_to_end_id: state.end_to_end_id.clone(),
            result: description.result(),
            result_description: description,
            transaction_id: tx.transaction_id.clone(),
            authorization_datetime: tx.authorization_datetime.clone(),
            authorization_id: tx.authorization_id,
            provider_amount: Some(entry.provider_amount),
            provider_authorization_id: Some(entry.provider_authorization_id.clone()),
        }),
        (ResultDescription::ProviderTransactionNotFound, Some(tx), None) => {
            Some(FinancialReconciliation {
                amount: tx.amount,
                end_to_end_id: state.end_to_end_id.clone(),
                result: false,
                result_description: description,
                transaction_id: tx.transaction_id.clone(),
                authorization_datetime: tx.authorization_datetime.clone(),
                authorization_id: tx.authorization_id,
                provider_amount: None,
                provider_authorization_id: None,
            })
        }
        // See `FinancialReconciliation`: transaction_id = end_to_end_id, amount = provider_amount.
        (ResultDescription::PismoTransactionNotFound, None, Some(entry)) => {
            Some(FinancialReconciliation {
                amount: entry.provider_amount,
                end_to_end_id: state.end_to_end_id.clone(),
                result: false,
                result_description: description,
                transaction_id: state.end_to_end_id.clone(),
                authorization_datetime: None,
                authorization_id: None,
                provider_amount: Some(entry.provider_amount),
                provider_authorization_id: Some(entry.provider_authorization_id.clone()),
            })
        }
        _ => None,
    }
}
