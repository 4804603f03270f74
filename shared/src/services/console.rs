//! The operators' console actions: force match, undo a manual match, and
//! write-off with maker-checker. Each reads the message, computes the one
//! transition (`clearing::manual`), writes it conditional on the version read
//! (with the authorization claim or the write-off in the same write), and
//! announces it from one place, [`ConsoleService::announce`].

use std::sync::Arc;

use chrono::Utc;

use crate::authorization::AuthorizationKey;
use crate::clearing::{ClearingMessage, ClearingStatus, ManualActionError};
use crate::console::{WriteOff, WriteOffStatus};
use crate::events::clearing_event;
use crate::ports::{ConsoleStore, EventBus, StoreError};
use crate::services::ReconciliationService;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("no clearing message `{0}`")]
    MessageNotFound(String),
    #[error("no authorization with transUid `{0}`")]
    AuthorizationNotFound(String),
    #[error("no write-off `{0}`")]
    WriteOffNotFound(String),
    #[error("no bulk action `{0}`")]
    BulkNotFound(String),
    #[error(transparent)]
    Manual(#[from] ManualActionError),
    #[error("{maker} requested write-off {write_off_id} and cannot decide it; another operator with clearing:approve must")]
    MakerCannotDecide { maker: String, write_off_id: String },
    #[error("write-off {0} is already decided")]
    AlreadyDecided(String),
    #[error("clearing message {0} changed meanwhile; read it again")]
    Changed(String),
    #[error("authorization {0} is already cleared by another clearing message")]
    AuthorizationClaimed(String),
    #[error("{count} messages match; at most {max} per request: narrow the filter")]
    TooMany { count: usize, max: usize },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict(id) => Self::Changed(id),
            StoreError::ClaimLost(uid) => Self::AuthorizationClaimed(uid),
            other => Self::Store(other),
        }
    }
}

/// The console's use cases over the console store and the event bus.
#[derive(Clone)]
pub struct ConsoleService {
    pub store: Arc<dyn ConsoleStore>,
    pub bus: Arc<dyn EventBus>,
    pub reconciliation: ReconciliationService,
}

impl ConsoleService {
    pub(crate) async fn existing(&self, id: &str) -> Result<ClearingMessage, ConsoleError> {
        self.store
            .message(id)
            .await?
            .ok_or_else(|| ConsoleError::MessageNotFound(id.to_owned()))
    }

    /// The one place the console announces a change. The change is stored
    /// already: a bus fault is logged, not undone (the outbox makes this exact).
    async fn announce(&self, message: &ClearingMessage) {
        let Some(event) = clearing_event(message) else {
            return;
        };
        if let Err(e) = self.bus.publish(&[event]).await {
            tracing::error!(error = %e, id = %message.clearing_unique_id, "console event not published");
        }
    }

    pub async fn force_match(
        &self,
        actor: &str,
        id: &str,
        trans_uid: &str,
        reason: &str,
    ) -> Result<ClearingMessage, ConsoleError> {
        let message = self.existing(id).await?;
        let key = AuthorizationKey::TransUid(trans_uid.to_owned());
        let authorization = self
            .store
            .authorizations(std::slice::from_ref(&key))
            .await?
            .remove(&key)
            .ok_or_else(|| ConsoleError::AuthorizationNotFound(trans_uid.to_owned()))?;
        if authorization
            .claimed_by
            .as_deref()
            .is_some_and(|c| c != message.clearing_unique_id)
        {
            return Err(ConsoleError::AuthorizationClaimed(trans_uid.to_owned()));
        }
        let (next, claim) = message.force_match(&authorization, actor, reason, Utc::now())?;
        self.store
            .update_messages(&[(next.clone(), message.version)], claim.as_ref(), None)
            .await?;
        self.announce(&next).await;
        Ok(next)
    }

    pub async fn undo_match(
        &self,
        actor: &str,
        id: &str,
        reason: &str,
    ) -> Result<ClearingMessage, ConsoleError> {
        let message = self.existing(id).await?;
        let (next, release) = message.undo_match(actor, reason, Utc::now())?;
        self.store
            .undo_match(&next, message.version, release.as_ref())
            .await?;
        self.announce(&next).await;
        Ok(next)
    }

    /// The maker's request: the message waits for a checker.
    pub async fn request_write_off(
        &self,
        actor: &str,
        id: &str,
        reason: &str,
        remark: Option<&str>,
    ) -> Result<WriteOff, ConsoleError> {
        let message = self.existing(id).await?;
        let now = Utc::now();
        let write_off_id = format!("WO-{}", uuid::Uuid::new_v4().simple());
        let next = message.request_write_off(&write_off_id, actor, reason, now)?;
        let field = |f| message.fields.get(&f).cloned();
        let write_off = WriteOff {
            write_off_id,
            clearing_unique_id: message.clearing_unique_id.clone(),
            status: WriteOffStatus::AwaitingApproval,
            reason: reason.to_owned(),
            remark: remark.map(str::to_owned),
            requested_by: actor.to_owned(),
            requested_at: now,
            decided_by: None,
            decided_at: None,
            decision_reason: None,
            amount: field(crate::clearing::ClearingField::TransactionAmount),
            currency: field(crate::clearing::ClearingField::TransactionCurrency),
        };
        self.store
            .save_write_off(&next, message.version, &write_off)
            .await?;
        self.announce(&next).await;
        Ok(write_off)
    }

    /// The checker's decision; the maker may not take it.
    pub async fn decide_write_off(
        &self,
        actor: &str,
        write_off_id: &str,
        approved: bool,
        reason: &str,
    ) -> Result<ClearingMessage, ConsoleError> {
        let request = self
            .store
            .write_off(write_off_id)
            .await?
            .ok_or_else(|| ConsoleError::WriteOffNotFound(write_off_id.to_owned()))?;
        if request.requested_by == actor {
            return Err(ConsoleError::MakerCannotDecide {
                maker: actor.to_owned(),
                write_off_id: write_off_id.to_owned(),
            });
        }
        if request.status != WriteOffStatus::AwaitingApproval {
            return Err(ConsoleError::AlreadyDecided(write_off_id.to_owned()));
        }
        let message = self.existing(&request.clearing_unique_id).await?;
        if message.status != ClearingStatus::WriteOffRequested {
            return Err(ConsoleError::AlreadyDecided(write_off_id.to_owned()));
        }
        let now = Utc::now();
        let next = message.decide_write_off(write_off_id, approved, actor, reason, now)?;
        let decided = WriteOff {
            status: if approved {
                WriteOffStatus::Approved
            } else {
                WriteOffStatus::Rejected
            },
            decided_by: Some(actor.to_owned()),
            decided_at: Some(now),
            decision_reason: Some(reason.to_owned()),
            ..request
        };
        self.store
            .save_write_off(&next, message.version, &decided)
            .await?;
        self.announce(&next).await;
        Ok(next)
    }
}
