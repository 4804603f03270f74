//! Clearing records: parsing, validation, matching and the message state machine.

pub mod currency;
pub mod fields;
pub mod matching;
pub mod message;
pub mod notification;
pub mod validate;

pub use fields::{ClearingField, FieldProblem, FieldValues};
pub use matching::{MatchDetails, MatchOutcome, MatchingRules, PendingReason, PendingReasonCode};
pub use message::{
    check_adjustments, Adjustment, AdjustmentError, AuthorizationClaim, ClearingMessage,
    ClearingStatus, Decision, FieldChange, PreparedRecord, ReprocessingTicket, Transition,
    TransitionError,
};
pub use notification::{parse_clearing_notification, NotificationError, ReceivedRecord};
pub use validate::{validate, ValidClearing};

/// Validates and matches a prepared record, returning whether it matched
/// (benchmarks only: the functions go through [`ClearingMessage::ingest`]).
#[doc(hidden)]
pub fn match_outcome_for_bench(
    prepared: &PreparedRecord,
    authorization: Option<&crate::authorization::Authorization>,
    rules: &MatchingRules,
) -> bool {
    match &prepared.validation {
        Ok(valid) => matches!(
            matching::match_clearing(valid, authorization, rules),
            MatchOutcome::Matched(_)
        ),
        Err(_) => false,
    }
}
