//! The HTTP functions' edge, shared by the webhook and the operator API:
//! a route table with path parameters, typed request bodies and query strings
//! whose errors name the field at fault, and one way to answer (JSON, errors
//! as `{code, message}` with their status, faults logged).

mod body;
mod query;
mod reply;
mod router;

pub use body::json_body;
pub use query::{query, query_from_pairs};
pub use reply::{respond, Reply};
pub use router::{stage_relative_path, Matched, PathParams, Router};
