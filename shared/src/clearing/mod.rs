//! Clearing records: parsing, validation, matching and the message state machine.

pub mod adjustment;
pub mod conflict;
pub mod currency;
pub mod fields;
pub mod lifecycle;
pub mod manual;
pub mod matching;
pub mod message;
pub mod notification;
pub mod rules;
pub mod validate;

pub use fields::{ClearingField, FieldProblem, FieldValues};
pub use lifecycle::{DisputeStep, LifecycleLink, MessageType};
pub use manual::{ManualAction, ManualActionError, MANUAL_MATCH_RULE};
pub use matching::{MatchDetails, MatchOutcome, MatchingRules, PendingReason, PendingReasonCode};
pub use message::{
    check_adjustments, Adjustment, AdjustmentError, AuthorizationClaim, ClearingMessage,
    ClearingStatus, Decision, FieldChange, PreparedRecord, ReprocessingTicket, Transition,
    TransitionError,
};
pub use notification::{
    clearing_records, parse_clearing_notification, NotificationError, ReceivedRecord,
};
pub use rules::{RulesChangeError, RulesVersion};
pub use validate::{validate, ValidClearing};
