use std::path::PathBuf;

use aws_sdk_dynamodb::error::SdkError;

/// Everything `devstack` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DevstackError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A line of a settings file (`local/local.env`) that is not `KEY=value`.
    #[error("{}:{line}: {detail}", path.display())]
    Settings {
        path: PathBuf,
        line: usize,
        detail: String,
    },

    /// The functions could not be built from the settings (one is missing or invalid).
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),

    /// The worker's handler failed a whole batch.
    #[error("worker: {0}")]
    Worker(String),

    /// A sample event does not fit the local stack.
    #[error("sample event: {0}")]
    Sample(String),

    #[error("{} is not valid YAML: {source}", path.display())]
    Yaml {
        path: PathBuf,
        source: serde_yaml::Error,
    },

    /// The template does not say what provisioning needs (missing or mistyped property,
    /// reference to a resource that is not there, dependency cycle).
    #[error("template: {0}")]
    Template(String),

    /// A call to the local stack failed (`message` names the operation and the resource).
    #[error("{service}: {message}")]
    Aws {
        service: &'static str,
        message: String,
    },

    /// A resource exists with the same physical name but a different definition.
    #[error(
        "{resource} already exists with a different definition ({detail}); delete it or provision with another prefix"
    )]
    Conflict { resource: String, detail: String },

    #[error("{resource} did not become ready: {detail}")]
    NotReady { resource: String, detail: String },

    /// `Provisioned::table/queue/bus/rule` with a logical id that was not provisioned.
    #[error(
        "no {kind} with logical id {logical:?} was provisioned (provisioned {kind}s: {known})"
    )]
    NotProvisioned {
        kind: &'static str,
        logical: String,
        known: String,
    },
}

impl DevstackError {
    /// Wraps an SDK error with where it happened; a connection failure names
    /// the endpoint and says how to start the local stack.
    pub(crate) fn aws<E, R>(
        service: &'static str,
        endpoint: &str,
        operation: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let unreachable = matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
        );
        // The causes, outermost first ("service error: ResourceNotFoundException: ...").
        let mut parts: Vec<String> = Vec::new();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && parts.last() != Some(&text) {
                parts.push(text);
            }
            cause = c.source();
        }
        let mut message = format!("{operation} {}: {}", resource.into(), parts.join(": "));
        if unreachable {
            message.push_str(&format!(
                " -- nothing answered at {endpoint}: is the local stack up? (`./dev.sh stack start`, or `local/stack.sh start`; ports in AWS_ENDPOINT_URL_*)"
            ));
        }
        Self::Aws { service, message }
    }

    /// An SDK builder rejected a value (a required field is missing).
    pub(crate) fn build(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Template(format!("{what}: {err}"))
    }
}
