//! Answering: a JSON body with its status, or an [`ApiError`] as `{code, message}`.

use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::api_error::ApiError;

/// A successful answer: status and JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: &'static str,
}

impl Reply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_string(value)
            .map_err(|e| ApiError::Internal(format!("response not serializable: {e}")))?;
        Ok(Self {
            status,
            body,
            content_type: "application/json",
        })
    }

    /// A text body of another media type (the CSV export).
    pub fn text(status: u16, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            body,
            content_type,
        }
    }
}

/// The response for a handled request. Errors become `{code, message}` with
/// their status; 5xx are logged as faults, 4xx as refusals.
pub fn respond(request: &Request, outcome: Result<Reply, ApiError>) -> Response<Body> {
    let (status, body, content_type) = match outcome {
        Ok(reply) => (reply.status, reply.body, reply.content_type),
        Err(e) => {
            let (method, path) = (request.method().as_str(), request.raw_http_path());
            if e.status() >= 500 {
                tracing::error!(code = e.code(), error = %e, method, path, "request failed");
            } else {
                tracing::warn!(code = e.code(), error = %e, method, path, "request refused");
            }
            (e.status(), e.body(), "application/json")
        }
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
