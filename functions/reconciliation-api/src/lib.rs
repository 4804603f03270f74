//! Reconciliation API: operators find clearing messages and ask for pending
//! ones to be reprocessed. Bearer JWT on every route.
//!
//! - `POST /v1/clearing-reconciliation`            (scope `clearing:reconcile`), exactly the seed OpenAPI
//! - `GET  /v1/clearing-messages/{clearingUniqueId}` (scope `clearing:read`)
//! - `GET  /v1/clearing-messages?status=&card_network=&card_hash=&limit=&cursor=`
//! - `GET  /v1/clearing-search?transUid=|transactionStartDate=&transactionEndDate=|afterTransactionDate=|cursor=&offset=&limit=`

mod wiring;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use shared::api_error::ApiError;
use shared::clearing::fields::parse_date;
use shared::clearing::{check_adjustments, ClearingMessage, ClearingStatus, ReprocessingTicket};
use shared::jobs::ReprocessingJob;
use shared::operator_auth::{Operator, TokenError, TokenVerifier, SCOPE_READ, SCOPE_RECONCILE};
use shared::ports::{ClearingSearch, ClearingStore, ReconciliationRequest, StoreError, WorkQueue};

pub const ACCEPTED_MESSAGE: &str = "The message has been received and is being processed.";
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest `offset` of the clearing search.
pub const MAX_SEARCH_OFFSET: usize = 10_000;
/// A request without adjustments reprocesses every pending message of the card, up to this many.
pub const MAX_MESSAGES_PER_REQUEST: usize = 50;

pub struct ApiService {
    pub store: Arc<dyn ClearingStore>,
    pub queue: Arc<dyn WorkQueue>,
    pub tokens: TokenVerifier,
    /// How long a request may keep its messages REPROCESSING. Past it (its job
    /// ended in the dead-letter queue), a new request for the card takes them
    /// over; the old job, if it ever runs, finds another request and changes nothing.
    pub reprocessing_lease: chrono::Duration,
}

/// Well past the queue's retries (visibility 180 s x 5 receives = 15 min).
pub const DEFAULT_REPROCESSING_LEASE_SECONDS: i64 = 1800;

/// `REPROCESSING_LEASE_SECONDS`, else the default.
pub fn reprocessing_lease_from_env() -> Result<chrono::Duration, shared::config::ConfigError> {
    reprocessing_lease_from(std::env::var("REPROCESSING_LEASE_SECONDS").ok().as_deref())
}

fn reprocessing_lease_from(
    seconds: Option<&str>,
) -> Result<chrono::Duration, shared::config::ConfigError> {
    let Some(text) = seconds else {
        return Ok(chrono::Duration::seconds(
            DEFAULT_REPROCESSING_LEASE_SECONDS,
        ));
    };
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .map(chrono::Duration::seconds)
        .ok_or_else(|| {
            shared::config::ConfigError(format!(
                "REPROCESSING_LEASE_SECONDS must be a positive whole number of seconds, not `{text}`"
            ))
        })
}

pub async fn handle(
    service: &ApiService,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let response = match route(service, &request).await {
        Ok((status, body)) => json(status, body),
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(code = e.code(), error = %e, "request failed");
            }
            json(e.status(), e.body())
        }
    };
    Ok(response)
}

fn json(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn authorize(service: &ApiService, request: &Request, scope: &str) -> Result<Operator, ApiError> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let operator = service.tokens.verify(header).map_err(|e| match e {
        TokenError::Missing => ApiError::MissingCredentials(e.to_string()),
        _ => ApiError::InvalidCredentials(e.to_string()),
    })?;
    if !operator.can(scope) {
        return Err(ApiError::Forbidden(format!(
            "the token does not grant `{scope}`"
        )));
    }
    Ok(operator)
}

async fn route(service: &ApiService, request: &Request) -> Result<(u16, String), ApiError> {
    let path = request.raw_http_path();
    let method = request.method().as_str();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", ["v1", "clearing-reconciliation"]) => {
            let operator = authorize(service, request, SCOPE_RECONCILE)?;
            reconcile(service, &operator, request.body().as_ref()).await
        }
        ("GET", ["v1", "clearing-messages", id]) => {
            authorize(service, request, SCOPE_READ)?;
            let message = service
                .store
                .message(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no clearing message `{id}`")))?;
            Ok((200, to_json(&MessageView::from(&message))))
        }
        ("GET", ["v1", "clearing-messages"]) => {
            authorize(service, request, SCOPE_READ)?;
            list(service, &query(request)).await
        }
        ("GET", ["v1", "clearing-search"]) => {
            authorize(service, request, SCOPE_READ)?;
            search(service, &query(request)).await
        }
        _ => Err(ApiError::RouteNotFound(format!(
            "no route for {method} {path}"
        ))),
    }
}

fn query(request: &Request) -> HashMap<String, String> {
    request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// A clearing message as operators see it.
#[derive(Serialize)]
pub struct MessageView<'a> {
    #[serde(flatten)]
    pub message: &'a ClearingMessage,
}

impl<'a> From<&'a ClearingMessage> for MessageView<'a> {
    fn from(message: &'a ClearingMessage) -> Self {
        Self { message }
    }
}

#[derive(Serialize)]
struct Accepted {
    message: &'static str,
}

/// The request body, read field by field so each problem is named.
struct ReconciliationBody {
    card_network: String,
    card_hash: String,
    reconciliation_reason: String,
    adjustments: Vec<(String, String)>,
}

fn parse_body(body: &[u8]) -> Result<ReconciliationBody, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge(format!(
            "body is {} bytes; at most {MAX_BODY_BYTES} are accepted",
            body.len()
        )));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedJson(format!("body is not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::InvalidBody("body must be a JSON object".into()))?;
    let required = |name: &str| -> Result<String, ApiError> {
        match object.get(name) {
            None | Some(Value::Null) => Err(ApiError::InvalidBody(format!("`{name}` is required"))),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(ApiError::InvalidBody(format!("`{name}` must not be empty")))
            }
            Some(Value::String(s)) if s.len() > 256 => Err(ApiError::InvalidBody(format!(
                "`{name}` is longer than 256 characters"
            ))),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ApiError::InvalidBody(format!("`{name}` must be a string"))),
        }
    };
    let card_network = required("card_network")?;
    let card_hash = required("card_hash")?;
    let reconciliation_reason = required("reconciliation_reason")?;
    let mut adjustments = Vec::new();
    match object.get("adjustments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let item = item.as_object().ok_or_else(|| {
                    ApiError::InvalidBody(format!("adjustments[{i}] must be an object"))
                })?;
                let text = |name: &str| match item.get(name) {
                    None | Some(Value::Null) => Err(ApiError::InvalidBody(format!(
                        "adjustments[{i}].{name} is required"
                    ))),
                    Some(Value::String(s)) if s.trim().is_empty() => Err(ApiError::InvalidBody(
                        format!("adjustments[{i}].{name} must not be empty"),
                    )),
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err(ApiError::InvalidBody(format!(
                        "adjustments[{i}].{name} must be a string"
                    ))),
                };
                adjustments.push((text("field")?, text("new_value")?));
            }
        }
        Some(_) => {
            return Err(ApiError::InvalidBody(
                "`adjustments` must be an array".into(),
            ))
        }
    }
    Ok(ReconciliationBody {
        card_network,
        card_hash,
        reconciliation_reason,
        adjustments,
    })
}

/// `POST /v1/clearing-reconciliation`: record the request, move the pending
/// message(s) to REPROCESSING (conditionally), queue the work, answer 202.
pub async fn reconcile(
    service: &ApiService,
    operator: &Operator,
    body: &[u8],
) -> Result<(u16, String), ApiError> {
    let body = parse_body(body)?;
    let adjustments = check_adjustments(&body.adjustments)
        .map_err(|e| ApiError::InvalidAdjustment(e.to_string()))?;
    let network = body.card_network.trim().to_ascii_uppercase();

    let now = Utc::now();
    // The card's PENDING messages straight from the index (sort key starts with the status),
    // however many other messages the card has; and its REPROCESSING ones whose
    // request outlived its lease, released (recorded) so this request can take them.
    let of_status = |status| {
        service.store.messages_for_card(
            &network,
            &body.card_hash,
            Some(status),
            MAX_MESSAGES_PER_REQUEST + 1,
            None,
        )
    };
    let (page, stuck) = futures::try_join!(
        of_status(ClearingStatus::Pending),
        of_status(ClearingStatus::Reprocessing)
    )?;
    // (message as this request starts from it, the stored version it was read at)
    let mut pending: Vec<(ClearingMessage, u64)> = page
        .items
        .into_iter()
        .filter(|m| m.status == ClearingStatus::Pending)
        .map(|m| {
            let version = m.version;
            (m, version)
        })
        .collect();
    for m in stuck.items {
        let Some(ticket) = m.reprocessing.as_ref() else {
            continue;
        };
        if m.status != ClearingStatus::Reprocessing
            || now - ticket.requested_at <= service.reprocessing_lease
        {
            continue;
        }
        let why = format!(
            "reprocessing lease expired: request {} did not finish within {} s",
            ticket.request_id,
            service.reprocessing_lease.num_seconds()
        );
        if let Ok(released) = m.release_reprocessing(&why, now) {
            pending.push((released, m.version));
        }
    }
    if pending.is_empty() {
        let any = service
            .store
            .messages_for_card(&network, &body.card_hash, None, 20, None)
            .await?;
        if any.items.is_empty() {
            return Err(ApiError::NotFound(format!(
                "no clearing message for card_hash `{}` on card_network `{network}`",
                body.card_hash
            )));
        }
        return Err(ApiError::NotPending(format!(
            "no clearing message of that card is pending (statuses: {})",
            any.items
                .iter()
                .map(|m| m.status.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !adjustments.is_empty() && pending.len() > 1 {
        return Err(ApiError::AmbiguousReconciliation(format!(
            "{} clearing messages of that card are pending ({}); adjustments would apply to all of them. Correct them one at a time",
            pending.len(),
            pending.iter().map(|(m, _)| m.clearing_unique_id.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    if pending.len() > MAX_MESSAGES_PER_REQUEST {
        return Err(ApiError::InvalidBody(format!(
            "{} messages are pending for that card; at most {MAX_MESSAGES_PER_REQUEST} are reprocessed per request",
            pending.len()
        )));
    }

    let request_id = uuid::Uuid::new_v4().to_string();
    let ticket = ReprocessingTicket {
        request_id: request_id.clone(),
        requested_by: operator.actor(),
        requested_at: now,
        reconciliation_reason: body.reconciliation_reason.clone(),
    };
    let mut updates = Vec::with_capacity(pending.len());
    for (m, stored_version) in &pending {
        let next = m
            .begin_reprocessing(ticket.clone(), now)
            .map_err(|e| ApiError::NotPending(e.to_string()))?;
        updates.push((next, *stored_version));
    }
    let record = ReconciliationRequest {
        request_id: request_id.clone(),
        card_network: network.clone(),
        card_hash: body.card_hash.clone(),
        reconciliation_reason: body.reconciliation_reason.clone(),
        adjustments: adjustments.clone(),
        requested_by: operator.actor(),
        requested_at: now,
        clearing_unique_ids: pending
            .iter()
            .map(|(m, _)| m.clearing_unique_id.clone())
            .collect(),
    };
    match service
        .store
        .update_messages(&updates, None, Some(&record))
        .await
    {
        Ok(()) => {}
        // Another request moved it first: exactly one wins.
        Err(StoreError::VersionConflict(id)) => {
            return Err(ApiError::NotPending(format!(
                "clearing message {id} is no longer pending"
            )))
        }
        Err(e) => return Err(e.into()),
    }

    for (next, _) in &updates {
        let job = ReprocessingJob {
            request_id: request_id.clone(),
            clearing_unique_id: next.clearing_unique_id.clone(),
            card_network: network.clone(),
            card_hash: body.card_hash.clone(),
            adjustments: adjustments.clone(),
            reconciliation_reason: body.reconciliation_reason.clone(),
            requested_by: operator.actor(),
            requested_at: now,
            expected_version: next.version,
        };
        if let Err(e) = service.queue.enqueue(&job).await {
            tracing::error!(error = %e, request_id, "queueing failed; releasing the messages back to PENDING");
            release(service, &updates, &request_id).await;
            return Err(ApiError::Unavailable(
                "the reprocessing queue is unavailable; the message is still pending, retry later"
                    .into(),
            ));
        }
    }
    tracing::info!(request_id, messages = updates.len(), actor = %operator.actor(), "reconciliation accepted");
    Ok((
        202,
        to_json(&Accepted {
            message: ACCEPTED_MESSAGE,
        }),
    ))
}

/// Compensation: REPROCESSING -> PENDING for messages whose job was not queued.
/// Jobs already queued for this request find the message PENDING and do nothing.
async fn release(service: &ApiService, updates: &[(ClearingMessage, u64)], request_id: &str) {
    let now = Utc::now();
    for (next, _) in updates {
        match next.release_reprocessing("reprocessing request could not be queued", now) {
            Ok(back) => {
                if let Err(e) = service
                    .store
                    .update_messages(&[(back, next.version)], None, None)
                    .await
                {
                    tracing::error!(error = %e, request_id, id = %next.clearing_unique_id, "release failed; message left REPROCESSING");
                }
            }
            Err(e) => tracing::error!(error = %e, "release not allowed"),
        }
    }
}

fn limit_of(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::InvalidQuery(format!(
                "limit must be a whole number from 1 to {max}"
            ))),
        },
    }
}

#[derive(Serialize)]
struct ListResponse<'a> {
    items: Vec<MessageView<'a>>,
    next_cursor: Option<String>,
}

async fn list(
    service: &ApiService,
    q: &HashMap<String, String>,
) -> Result<(u16, String), ApiError> {
    let limit = limit_of(q, 50, 100)?;
    let status = q
        .get("status")
        .map(|s| {
            ClearingStatus::parse(s).ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "status `{s}` is not RECEIVED, MATCHED, PENDING or REPROCESSING"
                ))
            })
        })
        .transpose()?;
    let cursor = q.get("cursor").map(String::as_str);
    let page = match (q.get("card_network"), q.get("card_hash"), status) {
        (Some(network), Some(card), status) => {
            service.store.messages_for_card(&network.to_ascii_uppercase(), card, status, limit, cursor).await?
        }
        (None, None, Some(status)) if status.is_open() => service.store.open_messages(status, limit, cursor).await?,
        _ => {
            return Err(ApiError::InvalidQuery(
                "give card_network with card_hash (and optionally status), or status PENDING or REPROCESSING".into(),
            ))
        }
    };
    let body = ListResponse {
        items: page.items.iter().map(MessageView::from).collect(),
        next_cursor: page.next_cursor,
    };
    Ok((200, to_json(&body)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchResponse<'a> {
    clearing: Vec<MessageView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_clearing_cursor: Option<String>,
}

fn date_param(q: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    q.get(name)
        .map(|v| parse_date(v).map_err(|e| ApiError::InvalidQuery(format!("{name}: {e}"))))
        .transpose()
}

/// The Mastercard Clearing API's four input combinations, and only those.
pub fn parse_search(
    q: &HashMap<String, String>,
) -> Result<(ClearingSearch, usize, usize), ApiError> {
    let offset = match q.get("offset") {
        None => 0,
        // Bounded: every skipped record is still read from the index.
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_SEARCH_OFFSET => n,
            _ => {
                return Err(ApiError::InvalidQuery(format!(
                    "offset must be a whole number from 0 to {MAX_SEARCH_OFFSET}; use the cursor form to read further"
                )))
            }
        },
    };
    let limit = limit_of(q, 100, 500)?;
    let start = date_param(q, "transactionStartDate")?;
    let end = date_param(q, "transactionEndDate")?;
    let after = date_param(q, "afterTransactionDate")?;
    let uid = q.get("transUid").filter(|u| !u.is_empty());
    let cursor = q.get("cursor").filter(|c| !c.is_empty());
    let search = match (uid, start, end, after, cursor) {
        (Some(uid), None, None, None, None) => ClearingSearch::TransUid(uid.clone()),
        (None, Some(start), Some(end), None, None) => {
            if end < start {
                return Err(ApiError::InvalidQuery("transactionEndDate is before transactionStartDate".into()));
            }
            if (end - start).num_days() > 366 {
                return Err(ApiError::InvalidQuery("a date range covers at most 366 days".into()));
            }
            ClearingSearch::DateRange { start, end }
        }
        (None, None, None, Some(after), None) => ClearingSearch::AfterDate(after),
        (None, None, None, None, Some(cursor)) => ClearingSearch::Cursor(cursor.clone()),
        _ => {
            return Err(ApiError::InvalidQuery(
                "give exactly one of: transUid; transactionStartDate with transactionEndDate; afterTransactionDate; cursor (\"0\" to start)".into(),
            ))
        }
    };
    Ok((search, offset, limit))
}

async fn search(
    service: &ApiService,
    q: &HashMap<String, String>,
) -> Result<(u16, String), ApiError> {
    let (search, offset, limit) = parse_search(q)?;
    let page = service.store.search(&search, offset, limit).await?;
    let body = SearchResponse {
        clearing: page.items.iter().map(MessageView::from).collect(),
        next_clearing_cursor: page.next_cursor,
    };
    Ok((200, to_json(&body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn body_problems_are_named() {
        let err = |b: &str| parse_body(b.as_bytes()).err().unwrap();
        assert!(matches!(err("{"), ApiError::MalformedJson(_)));
        assert_eq!(
            err(r#"{"card_hash":"c","reconciliation_reason":"r"}"#).to_string(),
            "`card_network` is required"
        );
        assert_eq!(
            err(r#"{"card_network":"","card_hash":"c","reconciliation_reason":"r"}"#).to_string(),
            "`card_network` must not be empty"
        );
        assert_eq!(
            err(r#"{"card_network":1,"card_hash":"c","reconciliation_reason":"r"}"#).to_string(),
            "`card_network` must be a string"
        );
        assert_eq!(
            err(r#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r","adjustments":[{"field":"x"}]}"#).to_string(),
            "adjustments[0].new_value is required"
        );
        assert_eq!(
            err(r#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r","adjustments":{}}"#).to_string(),
            "`adjustments` must be an array"
        );
        assert!(
            parse_body(br#"{"card_network":"m","card_hash":"c","reconciliation_reason":"r"}"#)
                .is_ok()
        );
    }

    #[test]
    fn the_reprocessing_lease_is_positive_seconds_or_the_default() {
        assert_eq!(
            reprocessing_lease_from(None).unwrap(),
            chrono::Duration::seconds(DEFAULT_REPROCESSING_LEASE_SECONDS)
        );
        assert_eq!(
            reprocessing_lease_from(Some(" 600 ")).unwrap(),
            chrono::Duration::seconds(600)
        );
        for bad in ["0", "-5", "ten", ""] {
            assert!(reprocessing_lease_from(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn search_takes_exactly_one_form() {
        assert!(matches!(
            parse_search(&q(&[("transUid", "U")])).unwrap().0,
            ClearingSearch::TransUid(_)
        ));
        assert!(matches!(
            parse_search(&q(&[
                ("transactionStartDate", "2024-04-01"),
                ("transactionEndDate", "2024-04-30")
            ]))
            .unwrap()
            .0,
            ClearingSearch::DateRange { .. }
        ));
        assert!(parse_search(&q(&[("transactionStartDate", "2024-04-01")])).is_err());
        assert!(parse_search(&q(&[("transUid", "U"), ("cursor", "0")])).is_err());
        assert!(parse_search(&q(&[("afterTransactionDate", "2024-24-04")]))
            .unwrap_err()
            .to_string()
            .contains("month 24"));
        assert!(parse_search(&q(&[("cursor", "0"), ("limit", "0")])).is_err());
        assert!(parse_search(&q(&[("cursor", "0"), ("offset", "18446744073709551615")])).is_err());
        assert!(parse_search(&q(&[("cursor", "0"), ("offset", "10001")])).is_err());
        assert_eq!(
            parse_search(&q(&[("cursor", "0"), ("offset", "5"), ("limit", "10")]))
                .unwrap()
                .1,
            5
        );
    }
}
