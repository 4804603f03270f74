//! Pix financial reconciliation: the pure core (no I/O, no AWS).
//!
//! Pix is Brazil's instant payment system. Each Pismo-side Pix transaction
//! (a Pix-out transfer, a Pix reversal or a refund close) is compared, by its
//! central-bank `end_to_end_id`, with what the payment provider reports it
//! settled, and exactly one `financial_reconciliation` event is emitted per
//! end-to-end id.
//!
//! - [`input`]: the three inputs ([`PixTransaction`], [`ProviderEntry`],
//!   [`ProviderReportClosed`]) and their validating JSON parsers, with
//!   [`PixInputError`] naming the field at fault. Amounts are exact decimals
//!   read from the JSON text, never through `f64`.
//! - [`reconcile`]: the state of one end-to-end id ([`PixReconciliation`]) and
//!   the pure transitions [`apply_transaction`], [`apply_provider_entry`],
//!   [`apply_day_closed`] (or [`apply`]) and [`decide`]. The rules, the
//!   finality of the outcome, late and conflicting inputs are documented on
//!   [`PixReconciliation`].
//! - [`event`]: the event `detail` ([`FinancialReconciliation`], exactly the
//!   seed schema `spec/pix-financial-reconciliation.schema.json`), the result
//!   codes ([`ResultDescription`]) and the stable event id
//!   ([`FinancialReconciliation::event_id`]) subscribers dedupe on.
//!
//! A handler's loop, for one input:
//!
//! ```
//! use shared::pix::*;
//!
//! let tx = parse_pix_transaction(r#"{"transaction_id": "67c1c555-9f40-4eb1-bc20-621086cc3c98",
//!     "end_to_end_id": "E4086716320220629204700103800548", "amount": 125.5,
//!     "authorization_id": 123, "authorization_datetime": "2021-10-29T11:00:00.000Z",
//!     "business_date": "2021-10-29"}"#).unwrap();
//! let entry = parse_provider_entry(r#"{"end_to_end_id": "E4086716320220629204700103800548",
//!     "provider_amount": "125.50", "provider_authorization_id": "17579222",
//!     "business_date": "2021-10-29"}"#).unwrap();
//!
//! let state = PixReconciliation::new(&tx.end_to_end_id);
//! let state = apply_transaction(state, tx).unwrap();
//! assert!(decide(&state).is_none()); // the provider side may still arrive
//! let state = apply_provider_entry(state, entry).unwrap();
//! let detail = decide(&state).unwrap();
//! assert_eq!(detail.result_description, ResultDescription::Ok);
//! // Persist `state` (conditionally), then publish `detail.to_json()` with
//! // source EVENT_SOURCE, detail-type EVENT_DETAIL_TYPE and id detail.event_id().
//! assert!(detail.to_json().unwrap().starts_with(r#"{"amount":125.5,"#));
//! ```

pub mod event;
pub mod input;
pub mod reconcile;

pub use event::{
    financial_reconciliation_event_id, parse_financial_reconciliation, FinancialReconciliation,
    ResultDescription, EVENT_DETAIL_TYPE, EVENT_ID_NAMESPACE, EVENT_SOURCE, EVENT_VERSION,
};
pub use input::{
    parse_pix_transaction, parse_provider_entry, parse_provider_report_closed,
    validate_end_to_end_id, AuthorizationDateTime, PixInput, PixInputError, PixTransaction,
    PixTransactionKind, ProviderEntry, ProviderReportClosed,
};
pub use reconcile::{
    apply, apply_day_closed, apply_provider_entry, apply_transaction, decide, EndToEndIdMismatch,
    Outcome, PixReconciliation,
};

#[cfg(test)]
mod tests;
