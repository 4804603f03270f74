//! Shared by the clearing reconciliation functions.
//!
//! - `clearing`, `authorization`, `pix`: the domain, pure functions and types.
//! - `ports`: the capabilities the functions need (clearing store, work queue, event bus).
//! - `adapters`: those capabilities on DynamoDB, SQS and EventBridge.
//! - `services`: the use cases over the ports (application services).
//! - `http` (feature `http`): the HTTP functions' edge: routing, typed requests, responses.
//! - `metrics`, `spans`: what the functions tell an operator: business metrics
//!   (CloudWatch embedded metric format) and the ids on every log line.

pub mod adapters;
pub mod api_error;
pub mod authorization;
pub mod authorization_change;
pub mod authorization_expiry;
pub mod clearing;
pub mod config;
pub mod console;
pub mod events;
#[cfg(feature = "http")]
pub mod http;
pub mod init;
pub mod jobs;
pub mod metrics;
pub mod operator_auth;
pub mod outbox;
pub mod packed;
pub mod parse;
pub mod pix;
pub mod ports;
pub mod services;
pub mod spans;
pub mod webhook_auth;
