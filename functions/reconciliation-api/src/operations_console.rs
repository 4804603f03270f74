//! The console's operations (docs/console-api.md): each checks the scope,
//! reads its typed request, calls the console use case and answers. Their
//! `utoipa::path` attributes are operations of the OpenAPI document.

use lambda_http::Request;
use serde::Serialize;
use utoipa::ToSchema;

use shared::api_error::ApiError;
use shared::console::summary::{DaySummary, QueueSummary};
use shared::console::{BulkKind, QueueRow, WriteOff, WriteOffStatus};
use shared::http::{json_body, query, PathParams, Reply, Router};
use shared::operator_auth::{SCOPE_APPROVE, SCOPE_READ, SCOPE_RECONCILE, SCOPE_RESOLVE};
use shared::services::{BulkStatus, PixDay};

use crate::request::{ListQuery, ListSelection};
use crate::request_console::{
    BulkBody, DailyQuery, ForceMatchBody, PixQuery, ReasonBody, SummaryQuery, WriteOffBody,
    WriteOffsQuery,
};
use crate::response::MessageDetail;
use crate::{authorize, ApiService, MAX_BODY_BYTES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConsoleRoute {
    Export,
    Summary,
    ForceMatch,
    UndoMatch,
    WriteOff,
    WriteOffs,
    Approve,
    Reject,
    StartBulk,
    Bulk,
    Daily,
    Pix,
}

pub(crate) fn routes<R: Clone>(router: Router<R>, wrap: fn(ConsoleRoute) -> R) -> Router<R> {
    use ConsoleRoute::*;
    router
        .route("GET", "/v1/queue/summary", wrap(Summary))
        .route(
            "POST",
            "/v1/clearing-messages/{clearingUniqueId}/force-match",
            wrap(ForceMatch),
        )
        .route(
            "POST",
            "/v1/clearing-messages/{clearingUniqueId}/undo-match",
            wrap(UndoMatch),
        )
        .route(
            "POST",
            "/v1/clearing-messages/{clearingUniqueId}/write-off",
            wrap(WriteOff),
        )
        .route("GET", "/v1/write-offs", wrap(WriteOffs))
        .route("POST", "/v1/write-offs/{writeOffId}/approve", wrap(Approve))
        .route("POST", "/v1/write-offs/{writeOffId}/reject", wrap(Reject))
        .route("POST", "/v1/bulk-actions", wrap(StartBulk))
        .route("GET", "/v1/bulk-actions/{bulkId}", wrap(Bulk))
        .route("GET", "/v1/reports/daily-summary", wrap(Daily))
        .route("GET", "/v1/pix/results", wrap(Pix))
}

pub(crate) async fn handle(
    service: &ApiService,
    request: &Request,
    route: ConsoleRoute,
    params: &PathParams,
) -> Result<Reply, ApiError> {
    use ConsoleRoute::*;
    let id = params.get("clearingUniqueId").unwrap_or_default();
    let write_off_id = params.get("writeOffId").unwrap_or_default();
    match route {
        Export => export(service, request).await,
        Summary => summary(service, request).await,
        ForceMatch => force_match(service, request, id).await,
        UndoMatch => undo_match(service, request, id).await,
        WriteOff => write_off(service, request, id).await,
        WriteOffs => write_offs(service, request).await,
        Approve => approve(service, request, write_off_id).await,
        Reject => reject(service, request, write_off_id).await,
        StartBulk => start_bulk(service, request).await,
        Bulk => bulk(service, request, params.get("bulkId").unwrap_or_default()).await,
        Daily => daily(service, request).await,
        Pix => pix(service, request).await,
    }
}

/// One page of the queue.
#[derive(Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueRow>,
    /// Pass as cursor for the next page; null on the last page
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

pub(crate) async fn queue_list(
    service: &ApiService,
    filter: &shared::console::QueueFilter,
    sort: shared::console::QueueSort,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Reply, ApiError> {
    let page = service
        .console_service()
        .queue_page(filter, sort, limit, cursor)
        .await?;
    Reply::json(
        200,
        &QueuePage {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    )
}

/// Export a list view as CSV
///
/// Every row of the queue list with these filters and sort (all pages, at most 10,000), RFC 4180 with a header row: clearing_unique_id, card_network, card_hash, status, version, pending_reason, pending_detail, received_at, pending_since, amount, currency.
#[utoipa::path(
    get,
    path = "/v1/clearing-messages/export.csv",
    operation_id = "exportClearingMessages",
    security(("BearerAuth" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv", body = String),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn export(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let (selection, _, _) = query::<ListQuery>(request)?.into_selection()?;
    let ListSelection::Queue(filter, sort) = selection else {
        return Err(ApiError::InvalidQuery(
            "the export lists the queue: give status PENDING, REPROCESSING or WRITE_OFF_REQUESTED"
                .into(),
        ));
    };
    let csv = service.console_service().export_csv(&filter, sort).await?;
    Ok(Reply::text(200, "text/csv; charset=utf-8", csv))
}

/// Queue summary
///
/// Counts by pending reason, the oldest, and aging buckets (under 1 day, 1-3, 3-7, over 7 days).
#[utoipa::path(
    get,
    path = "/v1/queue/summary",
    operation_id = "getQueueSummary",
    security(("BearerAuth" = [])),
    params(SummaryQuery),
    responses(
        (status = 200, description = "OK", body = QueueSummary),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn summary(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let q = query::<SummaryQuery>(request)?;
    let status = q
        .status
        .unwrap_or(shared::clearing::ClearingStatus::Pending);
    let summary = service.console_service().queue_summary(status).await?;
    Reply::json(200, &summary)
}

async fn message_reply(service: &ApiService, id: &str) -> Result<Reply, ApiError> {
    let detail = MessageDetail::read(service, id).await?;
    Reply::json(200, &detail)
}

/// Force match to a named authorization
///
/// PENDING to MATCHED (scope clearing:resolve), recorded with the operator and reason.
#[utoipa::path(
    post,
    path = "/v1/clearing-messages/{clearingUniqueId}/force-match",
    operation_id = "forceMatch",
    security(("BearerAuth" = [])),
    params(("clearingUniqueId" = String, Path, description = "The record's clearingUniqueId")),
    request_body(content = ForceMatchBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The message, MATCHED", body = shared::clearing::ClearingMessage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn force_match(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    let operator = authorize(service, request, SCOPE_RESOLVE)?;
    let body: ForceMatchBody = json_body(request.body().as_ref(), MAX_BODY_BYTES)?;
    service
        .console_service()
        .force_match(
            &operator.actor(),
            id,
            &body.authorization_trans_uid,
            &body.reason,
        )
        .await?;
    message_reply(service, id).await
}

/// Undo a manual match
///
/// MATCHED by a force match back to PENDING with the reason it had (scope clearing:resolve).
#[utoipa::path(
    post,
    path = "/v1/clearing-messages/{clearingUniqueId}/undo-match",
    operation_id = "undoMatch",
    security(("BearerAuth" = [])),
    params(("clearingUniqueId" = String, Path, description = "The record's clearingUniqueId")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The message, PENDING", body = shared::clearing::ClearingMessage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn undo_match(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    let operator = authorize(service, request, SCOPE_RESOLVE)?;
    let body: ReasonBody = json_body(request.body().as_ref(), MAX_BODY_BYTES)?;
    service
        .console_service()
        .undo_match(&operator.actor(), id, &body.reason)
        .await?;
    message_reply(service, id).await
}

/// A write-off request as accepted.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteOffAccepted {
    pub write_off_id: String,
    /// AWAITING_APPROVAL
    pub status: WriteOffStatus,
}

/// Request a write-off (the maker)
///
/// PENDING to WRITE_OFF_REQUESTED (scope clearing:resolve); another operator approves or rejects.
#[utoipa::path(
    post,
    path = "/v1/clearing-messages/{clearingUniqueId}/write-off",
    operation_id = "requestWriteOff",
    security(("BearerAuth" = [])),
    params(("clearingUniqueId" = String, Path, description = "The record's clearingUniqueId")),
    request_body(content = WriteOffBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Awaiting approval", body = WriteOffAccepted),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn write_off(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    let operator = authorize(service, request, SCOPE_RESOLVE)?;
    let body: WriteOffBody = json_body(request.body().as_ref(), MAX_BODY_BYTES)?;
    let w = service
        .console_service()
        .request_write_off(&operator.actor(), id, &body.reason, body.remark.as_deref())
        .await?;
    Reply::json(
        202,
        &WriteOffAccepted {
            write_off_id: w.write_off_id,
            status: w.status,
        },
    )
}

#[derive(Serialize, ToSchema)]
pub struct WriteOffList {
    pub items: Vec<WriteOff>,
}

/// List write-off requests
///
/// Newest first, at most 500.
#[utoipa::path(
    get,
    path = "/v1/write-offs",
    operation_id = "listWriteOffs",
    security(("BearerAuth" = [])),
    params(WriteOffsQuery),
    responses(
        (status = 200, description = "OK", body = WriteOffList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn write_offs(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let status = query::<WriteOffsQuery>(request)?
        .status
        .unwrap_or(WriteOffStatus::AwaitingApproval);
    let items = service.console_store.write_offs(status, 500).await?;
    Reply::json(200, &WriteOffList { items })
}

/// Approve a write-off (the checker)
///
/// Scope clearing:approve; the operator who requested it cannot approve it (403 BTN0202). The message becomes WRITTEN_OFF.
#[utoipa::path(
    post,
    path = "/v1/write-offs/{writeOffId}/approve",
    operation_id = "approveWriteOff",
    security(("BearerAuth" = [])),
    params(("writeOffId" = String, Path, description = "The write-off's id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The message, WRITTEN_OFF", body = shared::clearing::ClearingMessage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn approve(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    decide(service, request, id, true).await
}

/// Reject a write-off (the checker)
///
/// Scope clearing:approve; not the operator who requested it (403 BTN0202). The message is PENDING again, with the reason it had.
#[utoipa::path(
    post,
    path = "/v1/write-offs/{writeOffId}/reject",
    operation_id = "rejectWriteOff",
    security(("BearerAuth" = [])),
    params(("writeOffId" = String, Path, description = "The write-off's id")),
    request_body(content = ReasonBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The message, PENDING", body = shared::clearing::ClearingMessage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn reject(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    decide(service, request, id, false).await
}

async fn decide(
    service: &ApiService,
    request: &Request,
    write_off_id: &str,
    approved: bool,
) -> Result<Reply, ApiError> {
    let operator = authorize(service, request, SCOPE_APPROVE)?;
    let body: ReasonBody = json_body(request.body().as_ref(), MAX_BODY_BYTES)?;
    let message = service
        .console_service()
        .decide_write_off(&operator.actor(), write_off_id, approved, &body.reason)
        .await?;
    message_reply(service, &message.clearing_unique_id).await
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkAccepted {
    pub bulk_id: String,
}

/// Start a bulk action
///
/// reprocess (scope clearing:reconcile) or write-off (scope clearing:resolve) many messages, named or all matching a filter (at most 1,000). The same idempotencyKey returns the same bulkId.
#[utoipa::path(
    post,
    path = "/v1/bulk-actions",
    operation_id = "startBulkAction",
    security(("BearerAuth" = [])),
    request_body(content = BulkBody, content_type = "application/json"),
    responses(
        (status = 202, description = "Started (or started before with this key)", body = BulkAccepted),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn start_bulk(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    let body: BulkBody = {
        // The scope depends on the action: read the token first, then the body.
        authorize(service, request, SCOPE_READ)?;
        json_body(request.body().as_ref(), MAX_BODY_BYTES)?
    };
    let scope = match body.action {
        BulkKind::Reprocess => SCOPE_RECONCILE,
        BulkKind::WriteOff => SCOPE_RESOLVE,
    };
    let operator = authorize(service, request, scope)?;
    let bulk_id = service
        .console_service()
        .start_bulk(&operator.actor(), body.into_command()?)
        .await?;
    Reply::json(202, &BulkAccepted { bulk_id })
}

/// Read a bulk action's progress
///
/// Each read also does the action's next chunk of items, so progress shows while it is polled.
#[utoipa::path(
    get,
    path = "/v1/bulk-actions/{bulkId}",
    operation_id = "getBulkAction",
    security(("BearerAuth" = [])),
    params(("bulkId" = String, Path, description = "The bulk action's id")),
    responses(
        (status = 200, description = "OK", body = BulkStatus),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn bulk(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let status = service.console_service().bulk_status(id).await?;
    Reply::json(200, &status)
}

#[derive(Serialize, ToSchema)]
pub struct DailySummary {
    /// Newest first
    pub days: Vec<DaySummary>,
}

/// Daily summary
///
/// Per received day (UTC): counts and exact amounts per status and currency, and per pending reason.
#[utoipa::path(
    get,
    path = "/v1/reports/daily-summary",
    operation_id = "getDailySummary",
    security(("BearerAuth" = [])),
    params(DailyQuery),
    responses(
        (status = 200, description = "OK", body = DailySummary),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn daily(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let days = query::<DailyQuery>(request)?.days()?;
    let days = service.console_service().daily_summary(days).await?;
    Reply::json(200, &DailySummary { days })
}

/// Pix results of a business day
///
/// Counts per outcome; the divergent and not-found ones listed (or those of `outcome`).
#[utoipa::path(
    get,
    path = "/v1/pix/results",
    operation_id = "getPixResults",
    security(("BearerAuth" = [])),
    params(PixQuery),
    responses(
        (status = 200, description = "OK", body = PixDay),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn pix(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let (date, outcome) = query::<PixQuery>(request)?.checked()?;
    let day = service
        .console_service()
        .pix_day(date, outcome.as_deref())
        .await?;
    Reply::json(200, &day)
}
