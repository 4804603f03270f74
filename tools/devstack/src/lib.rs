//! The local AWS stack, provisioned from `template.yaml`: the tables, queues,
//! bus and rules the functions use locally are created from the same
//! definitions that deploy them, not from a second hand-written copy.
//!
//! ```no_run
//! # async fn demo() -> Result<(), devstack::DevstackError> {
//! let clients = devstack::LocalClients::new().await; // AWS_ENDPOINT_URL_* or 127.0.0.1:8000 / :5000
//! let template = devstack::Template::repo_default()?;
//! let stack = devstack::provision(&template, "t1-", &clients).await?;
//! let table = stack.table("ClearingTable")?; // "t1-ClearingTable"
//! # Ok(()) }
//! ```

mod clients;
mod error;
mod event_source;
pub mod http_api;
pub mod http_front;
pub mod payload;
mod provision;
pub mod run;
mod sam_env;
pub mod samples;
pub mod schedule;
mod settings;
pub mod soak;
mod stream_source;
mod template;
mod tokens;

use std::path::{Path, PathBuf};

pub use clients::{
    dynamodb_client, eventbridge_client, lambda_env, local_sdk_config, secretsmanager_client,
    sqs_client, LocalClients, LocalEndpoints, DEFAULT_DYNAMODB_ENDPOINT, DEFAULT_MOTO_ENDPOINT,
    DEFAULT_REGION, SECRETS_MANAGER_ENDPOINT_VAR,
};
pub use error::DevstackError;
pub use event_source::{
    delete_batch, drain, receive_batch, retarget_sample_event, run_worker_batch, SAMPLE_PREFIX,
};
pub use http_api::{HttpApi, HttpRoute, RouteMatch};
pub use http_front::{handler, Handler, HttpFront};
pub use payload::{HttpRequest, Invocation};
pub use provision::{
    add_subscriber, is_secret_value, provision, provision_with, LocalSecret, Provisioned,
    QueueInfo, RuleInfo, LOCAL_SECRETS,
};
pub use sam_env::{
    container_env, relay_endpoints, sam_env_vars, sam_functions, sam_local_template, with_host,
    write_sam_local, Relay, SamFunction, SamLocal,
};
pub use settings::{
    function_env, local_settings, parse_env_file, resource_env, signing_secret, LOCAL_ENV_FILE,
};
pub use stream_source::{
    PumpStats, RunningPump, StartingPosition, StreamFunction, StreamPump, StreamSourceSpec,
};
pub use template::Template;
pub use tokens::{dev_token, mint_hs256, operator_token, Claims, ALL_SCOPES};

/// The workspace root (where template.yaml is), from this crate's location.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
