//! The error catalogue of the HTTP functions: every 4xx/5xx body is
//! `{"code", "message"}` with a stable code (documented in README.md).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("{0}")]
    InvalidAdjustment(String),
    #[error("{0}")]
    AmbiguousReconciliation(String),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("{0}")]
    BodyTooLarge(String),
    #[error("{0}")]
    MissingCredentials(String),
    #[error("{0}")]
    InvalidCredentials(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    RouteNotFound(String),
    #[error("{0}")]
    NotPending(String),
    #[error("{0}")]
    MakerCannotApprove(String),
    #[error("{0}")]
    AuthorizationNotFound(String),
    #[error("{0}")]
    WriteOffNotFound(String),
    #[error("{0}")]
    BulkActionNotFound(String),
    #[error("{0}")]
    AuthorizationClaimed(String),
    #[error("{0}")]
    NotManualMatch(String),
    #[error("{0}")]
    AlreadyDecided(String),
    #[error("{0}")]
    ChangedMeanwhile(String),
    /// Matching rules that do not read, or a change without a reason.
    #[error("{0}")]
    InvalidRules(String),
    /// A change of the rules made from a version that is no longer current.
    #[error("{0}")]
    RulesVersionConflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

/// Every error body: a stable code and a message naming the problem.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ErrorResponse))]
pub struct ErrorBody<'a> {
    /// Error code
    #[cfg_attr(feature = "openapi", schema(example = "BTN0000"))]
    pub code: &'a str,
    /// Error message
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Validation error: Test message")
    )]
    pub message: &'a str,
}

impl ApiError {
    /// The stable code and HTTP status.
    pub fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            Self::MalformedJson(_) => ("BTN0001", 400),
            Self::InvalidBody(_) => ("BTN0002", 400),
            Self::InvalidAdjustment(_) => ("BTN0003", 400),
            Self::AmbiguousReconciliation(_) => ("BTN0004", 400),
            Self::InvalidQuery(_) => ("BTN0005", 400),
            Self::BodyTooLarge(_) => ("BTN0006", 400),
            Self::MissingCredentials(_) => ("BTN0101", 401),
            Self::InvalidCredentials(_) => ("BTN0102", 401),
            Self::Forbidden(_) => ("BTN0201", 403),
            Self::NotFound(_) => ("BTN0301", 404),
            Self::RouteNotFound(_) => ("BTN0302", 404),
            Self::NotPending(_) => ("BTN0401", 409),
            Self::MakerCannotApprove(_) => ("BTN0202", 403),
            Self::AuthorizationNotFound(_) => ("BTN0303", 404),
            Self::WriteOffNotFound(_) => ("BTN0304", 404),
            Self::BulkActionNotFound(_) => ("BTN0305", 404),
            Self::AuthorizationClaimed(_) => ("BTN0402", 409),
            Self::NotManualMatch(_) => ("BTN0403", 409),
            Self::AlreadyDecided(_) => ("BTN0404", 409),
            Self::ChangedMeanwhile(_) => ("BTN0405", 409),
            Self::InvalidRules(_) => ("BTN0007", 400),
            Self::RulesVersionConflict(_) => ("BTN0406", 409),
            Self::Internal(_) => ("BTN0500", 500),
            Self::Unavailable(_) => ("BTN0503", 503),
        }
    }

    pub fn status(&self) -> u16 {
        self.code_and_status().1
    }

    pub fn code(&self) -> &'static str {
        self.code_and_status().0
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let message = self.to_string();
        serde_json::to_string(&ErrorBody {
            code: self.code(),
            message: &message,
        })
        .unwrap_or_default()
    }
}

impl From<crate::clearing::NotificationError> for ApiError {
    fn from(e: crate::clearing::NotificationError) -> Self {
        use crate::clearing::NotificationError::*;
        match e {
            MalformedJson(_) => Self::MalformedJson(e.to_string()),
            WrongShape { .. } | Empty(_) | TooManyRecords { .. } | RecordTooLarge { .. } => {
                Self::InvalidBody(e.to_string())
            }
        }
    }
}

/// No credential at all is BTN0101; one that does not hold is BTN0102.
impl From<crate::webhook_auth::WebhookAuthError> for ApiError {
    fn from(e: crate::webhook_auth::WebhookAuthError) -> Self {
        match e {
            crate::webhook_auth::WebhookAuthError::Missing => {
                Self::MissingCredentials(e.to_string())
            }
            _ => Self::InvalidCredentials(e.to_string()),
        }
    }
}

impl From<crate::ports::StoreError> for ApiError {
    fn from(e: crate::ports::StoreError) -> Self {
        use crate::ports::StoreError::*;
        match e {
            InvalidCursor(m) => Self::InvalidQuery(m),
            // Never a 503: the same request would be refused again, forever (decision 0015).
            Refused(why) => Self::InvalidBody(format!(
                "a value in the request cannot be stored or looked up ({why}); retrying will not help"
            )),
            Unavailable(_) | VersionConflict(_) | ClaimLost(_) => {
                tracing::error!(error = %e, "storage fault");
                Self::Unavailable("storage is temporarily unavailable; retry later".into())
            }
            Corrupt(_) => {
                tracing::error!(error = %e, "corrupt stored item");
                Self::Internal("internal error".into())
            }
        }
    }
}

impl From<crate::services::ReconcileError> for ApiError {
    fn from(e: crate::services::ReconcileError) -> Self {
        use crate::services::ReconcileError::*;
        let message = e.to_string();
        match e {
            InvalidAdjustment(_) => Self::InvalidAdjustment(message),
            NoMessages { .. } => Self::NotFound(message),
            NothingPending { .. } | NotReprocessable(_) | LostRace(_) => Self::NotPending(message),
            Ambiguous { .. } => Self::AmbiguousReconciliation(message),
            TooManyPending { .. } => Self::InvalidBody(message),
            Store(store) => store.into(),
        }
    }
}

impl From<crate::services::IngestError> for ApiError {
    fn from(e: crate::services::IngestError) -> Self {
        use crate::services::IngestError::*;
        match e {
            Notification(n) => n.into(),
            Store(store) => store.into(),
        }
    }
}

impl From<crate::services::RulesError> for ApiError {
    fn from(e: crate::services::RulesError) -> Self {
        use crate::clearing::RulesChangeError::*;
        use crate::services::RulesError::*;
        let message = e.to_string();
        match e {
            Change(Invalid(_)) => Self::InvalidRules(message),
            Change(Stale { .. }) => Self::RulesVersionConflict(message),
            Store(store) => store.into(),
        }
    }
}

impl From<crate::services::ConsoleError> for ApiError {
    fn from(e: crate::services::ConsoleError) -> Self {
        use crate::clearing::ManualActionError;
        use crate::services::ConsoleError::*;
        let message = e.to_string();
        match e {
            MessageNotFound(_) => Self::NotFound(message),
            AuthorizationNotFound(_) => Self::AuthorizationNotFound(message),
            WriteOffNotFound(_) => Self::WriteOffNotFound(message),
            BulkNotFound(_) => Self::BulkActionNotFound(message),
            Manual(ManualActionError::NotManualMatch(_)) => Self::NotManualMatch(message),
            Manual(ManualActionError::UnreadableAmount(_)) => Self::InvalidBody(message),
            Manual(ManualActionError::WrongStatus { .. }) => Self::NotPending(message),
            MakerCannotDecide { .. } => Self::MakerCannotApprove(message),
            AlreadyDecided(_) => Self::AlreadyDecided(message),
            Changed(_) => Self::ChangedMeanwhile(message),
            AuthorizationClaimed(_) => Self::AuthorizationClaimed(message),
            TooMany { .. } => Self::InvalidQuery(message),
            Invalid(_) => Self::InvalidBody(message),
            Store(store) => store.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook_auth::WebhookAuthError;

    #[test]
    fn a_refused_store_request_is_a_400_never_a_retryable_503() {
        let e = ApiError::from(crate::ports::StoreError::Refused("key too long".into()));
        assert_eq!(e.code_and_status(), ("BTN0002", 400));
        assert!(e.to_string().contains("key too long"), "{e}");
    }

    #[test]
    fn a_missing_webhook_credential_is_btn0101_and_a_bad_one_btn0102() {
        assert_eq!(ApiError::from(WebhookAuthError::Missing).code(), "BTN0101");
        for e in [
            WebhookAuthError::Malformed,
            WebhookAuthError::Stale,
            WebhookAuthError::Mismatch,
            WebhookAuthError::UnknownClient,
        ] {
            assert_eq!(ApiError::from(e).code_and_status(), ("BTN0102", 401));
        }
    }
}
