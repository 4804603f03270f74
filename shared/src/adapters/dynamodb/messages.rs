//! Message writes: the conditional insert at ingest, the versioned updates
//! of the worker (with the claim and the operator's request, in one
//! transaction), and authorization claims taken and given back.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use super::items::{
    authorization_key, message_from_item, message_item, message_key, s, with_outbox,
};
use super::manifests::adjusted_date_manifest;
use super::{
    cancellation_reasons, corrupt, failed_condition, is_conditional_failure, sdk_error,
    unavailable, DynamoDbClearingStore, Item,
};
use crate::clearing::{AuthorizationClaim, ClearingField, ClearingMessage, ClearingStatus};
use crate::outbox::OutboxEntry;
use crate::ports::{InsertOutcome, ReconciliationRequest, StoreError};

/// A presentment's claim is taken only on the authorization as it was when
/// matched (a reversal or another presentment's claim meanwhile moves its
/// version on), or again by the presentment it already lists. Items stored
/// before authorizations had versions are at version 1.
fn claim_condition(version: u64) -> &'static str {
    if version == 1 {
        "attribute_exists(pk) AND (attribute_exists(#entry) OR attribute_not_exists(version) OR version = :version)"
    } else {
        "attribute_exists(pk) AND (attribute_exists(#entry) OR version = :version)"
    }
}

/// The attribute of the authorization item listing one presentment that
/// cleared it (top level, so no parent map must exist first).
pub(super) const CLEARED_PREFIX: &str = "cleared#";

impl DynamoDbClearingStore {
    /// A matched first presentment takes its authorization's claim first and
    /// is stored second: two single-item conditional writes rather than one
    /// transaction, which DynamoDB charges twice (on AWS and DynamoDB Local
    /// alike). The order is what keeps it safe: a claim is never missing under
    /// a stored MATCHED message. A claim whose message is not stored (a failure
    /// in between) belongs to a record that was not acknowledged, so the
    /// network sends it again and the same id takes the same claim; a
    /// presentment of the same authorization meanwhile is its duplicate.
    pub(super) async fn insert_message(
        &self,
        message: &ClearingMessage,
        claim: Option<&AuthorizationClaim>,
        outbox: &[OutboxEntry],
    ) -> Result<InsertOutcome, StoreError> {
        let Some(claim) = claim else {
            return self.put_new_message(message, outbox).await;
        };
        // Held already (a redelivery): writing it again would be a write for
        // nothing. Safe at ingest, not in the worker's transaction: a claim is
        // given back only while its message is stored unmatched, and then this
        // put finds that message and stores nothing.
        if !claim.already_held {
            self.take_claim(claim).await?;
        }
        let outcome = self.put_new_message(message, outbox).await?;
        if let InsertOutcome::AlreadyStored(existing) = &outcome {
            // Stored by an earlier delivery, before its authorization arrived:
            // it did not match then and is not moved now, so it holds no claim.
            if existing.status != ClearingStatus::Matched {
                self.release_claim(claim).await?;
            }
        }
        Ok(outcome)
    }

    /// Stores a message that is new, or returns the one stored under its id.
    async fn put_new_message(
        &self,
        message: &ClearingMessage,
        outbox: &[OutboxEntry],
    ) -> Result<InsertOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(message_item(message, outbox)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                self.metering.write(out.consumed_capacity());
                return Ok(InsertOutcome::Inserted);
            }
            Err(e) => e,
        };
        let old = match err.as_service_error() {
            Some(se) if is_conditional_failure(se) => match se {
                PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                _ => None,
            },
            _ => return Err(sdk_error(err)),
        };
        let existing = match old {
            Some(item) => message_from_item(item)?,
            None => self.existing(&message.clearing_unique_id).await?,
        };
        Ok(InsertOutcome::AlreadyStored(Box::new(existing)))
    }

    /// The one definition of the claim write, used alone (ingest) and in a
    /// transaction (the worker).
    fn claim_write(&self, claim: &AuthorizationClaim) -> Result<Update, StoreError> {
        let entry = serde_dynamo::to_attribute_value(&claim.presentment).map_err(corrupt)?;
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(authorization_key(&claim.trans_uid)))
            .update_expression(
                "SET #entry = :entry, claimed_by = if_not_exists(claimed_by, :id), version = if_not_exists(version, :one) + :one",
            )
            .condition_expression(claim_condition(claim.authorization_version))
            .expression_attribute_names(
                "#entry",
                format!("{CLEARED_PREFIX}{}", claim.clearing_unique_id),
            )
            .expression_attribute_values(":id", s(claim.clearing_unique_id.clone()))
            .expression_attribute_values(":entry", entry)
            .expression_attribute_values(
                ":version",
                AttributeValue::N(claim.authorization_version.to_string()),
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(unavailable)
    }

    /// Takes the authorization for `claim`'s message (again, if it holds it already).
    async fn take_claim(&self, claim: &AuthorizationClaim) -> Result<(), StoreError> {
        let write = self.claim_write(claim)?;
        let result = self
            .client
            .update_item()
            .table_name(write.table_name())
            .set_key(Some(write.key().clone()))
            .update_expression(write.update_expression())
            .set_condition_expression(write.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(write.expression_attribute_names().cloned())
            .set_expression_attribute_values(write.expression_attribute_values().cloned())
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.metering.write(out.consumed_capacity());
                Ok(())
            }
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => {
                Err(StoreError::ClaimLost(claim.trans_uid.clone()))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Gives back a claim taken for a message that turned out to be stored
    /// already and unmatched, unless that message has been matched meanwhile
    /// (the worker, reprocessing it, takes the same claim).
    async fn release_claim(&self, claim: &AuthorizationClaim) -> Result<(), StoreError> {
        let still_unmatched = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(message_key(&claim.clearing_unique_id)))
            .condition_expression("attribute_exists(pk) AND #status <> :matched")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":matched", s(ClearingStatus::Matched.as_str()))
            .build()
            .map_err(unavailable)?;
        // The holder of `claimed_by` gives both back; a later presentment of a
        // split, only its own entry.
        let entry = format!("{CLEARED_PREFIX}{}", claim.clearing_unique_id);
        let release = |holder: bool| {
            let (expression, condition) = if holder {
                (
                    "REMOVE #entry, claimed_by SET version = if_not_exists(version, :one) + :one",
                    "claimed_by = :id",
                )
            } else {
                (
                    "REMOVE #entry SET version = if_not_exists(version, :one) + :one",
                    "attribute_exists(#entry)",
                )
            };
            let mut u = Update::builder()
                .table_name(&self.table)
                .set_key(Some(authorization_key(&claim.trans_uid)))
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_names("#entry", entry.clone())
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
            if holder {
                u = u.expression_attribute_values(":id", s(claim.clearing_unique_id.clone()));
            }
            u.build().map_err(unavailable)
        };
        if self
            .release_with(still_unmatched.clone(), release(true)?)
            .await?
        {
            return Ok(());
        }
        self.release_with(still_unmatched, release(false)?)
            .await
            .map(|_| ())
    }

    /// One attempt at giving a claim back: false when its condition did not hold.
    async fn release_with(
        &self,
        still_unmatched: ConditionCheck,
        release: Update,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(still_unmatched)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(release).build())
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.metering.writes(out.consumed_capacity());
                Ok(true)
            }
            // Matched meanwhile, or the claim is not this message's: nothing to give back.
            Err(e)
                if cancellation_reasons(&e)
                    .is_some_and(|r| failed_condition(&r, 0) || failed_condition(&r, 1)) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    pub(super) async fn update_messages(
        &self,
        updates: &[(ClearingMessage, u64)],
        claim: Option<&AuthorizationClaim>,
        request: Option<&ReconciliationRequest>,
        outbox: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(updates.len() + 2);
        // The outbox rides on the request's item, else on the first message's.
        let mut message_outbox = if request.is_some() { &[][..] } else { outbox };
        for (m, expected) in updates {
            items.push(self.versioned_put(m, *expected, message_outbox)?);
            message_outbox = &[];
        }
        if let Some(c) = claim {
            items.push(
                TransactWriteItem::builder()
                    .update(self.claim_write(c)?)
                    .build(),
            );
        }
        if let Some(r) = request {
            items.push(self.new_item_put(with_outbox(request_item(r)?, outbox))?);
        }
        // (Last: a failed condition is identified by its place among the messages and the claim.)
        // An adjusted transaction date: the date searches must find the record
        // under its new date too (its old date's manifest is passed over).
        for (m, _) in updates.iter().filter(|(m, _)| date_adjusted(m)) {
            if let Some(manifest) = adjusted_date_manifest(m) {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(manifest))
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_return_consumed_capacity(self.metering.request())
            .send()
            .await;
        match result {
            Ok(out) => {
                self.metering.writes(out.consumed_capacity());
                Ok(())
            }
            Err(e) => Err(update_error(e, updates, claim)),
        }
    }

    /// A message replaced only if still at version `expected`.
    pub(super) fn versioned_put(
        &self,
        m: &ClearingMessage,
        expected: u64,
        outbox: &[OutboxEntry],
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(message_item(m, outbox)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn new_item_put(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// The operator's request, written with the state change it causes.
fn request_item(r: &ReconciliationRequest) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(r).map_err(corrupt)?;
    item.insert("pk".into(), s(format!("RECON#{}", r.request_id)));
    item.insert("sk".into(), s("REQUEST"));
    item.insert("entity".into(), s("RECONCILIATION_REQUEST"));
    Ok(item)
}

/// Whether the message's latest transition changed its transaction date.
fn date_adjusted(m: &ClearingMessage) -> bool {
    m.history.last().is_some_and(|t| {
        t.changes
            .iter()
            .any(|c| c.field == ClearingField::TransactionLocalDate)
    })
}

/// Which condition failed, by its place: a message's version, then the claim.
fn update_error(
    e: SdkError<TransactWriteItemsError, HttpResponse>,
    updates: &[(ClearingMessage, u64)],
    claim: Option<&AuthorizationClaim>,
) -> StoreError {
    let Some(reasons) = cancellation_reasons(&e) else {
        return sdk_error(e);
    };
    if let Some(i) = (0..updates.len()).find(|i| failed_condition(&reasons, *i)) {
        return StoreError::VersionConflict(updates[i].0.clearing_unique_id.clone());
    }
    match claim {
        Some(c) if failed_condition(&reasons, updates.len()) => {
            StoreError::ClaimLost(c.trans_uid.clone())
        }
        _ => sdk_error(e),
    }
}
