//! Shared by the clearing reconciliation functions.
//!
//! - `clearing`, `authorization`, `pix`: the domain, pure functions and types.
//! - `ports`: the capabilities the functions need (clearing store, work queue, event bus).
//! - `adapters`: those capabilities on DynamoDB, SQS and EventBridge.

pub mod adapters;
pub mod api_error;
pub mod authorization;
pub mod clearing;
pub mod config;
pub mod events;
pub mod jobs;
pub mod operator_auth;
pub mod parse;
pub mod pix;
pub mod ports;
pub mod webhook_auth;
