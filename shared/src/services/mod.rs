//! Application services: the use cases, over the ports. The functions' handlers
//! only translate HTTP or SQS into calls to these and their errors into responses.

pub mod authorizations;
pub mod bulk;
pub mod console;
pub mod console_reads;
pub mod disputes;
pub mod expiry;
pub mod ingest;
pub mod reconciliation;
pub mod rules;

pub use bulk::{BulkCommand, BulkSelection, BulkStatus};
pub use console::{ConsoleError, ConsoleService};
pub use console_reads::PixDay;
pub use expiry::{ExpiryService, SweepLimits, SweepReport};
pub use ingest::{
    AuthorizationAck, ClearingAck, IngestError, IngestService, RecordResult, RejectedRecord,
};
pub use reconciliation::{
    Accepted, ReconcileError, ReconciliationCommand, ReconciliationService,
    MAX_MESSAGES_PER_REQUEST,
};
pub use rules::{RulesError, RulesInForce, RulesService, RULES_CACHE_TTL};
