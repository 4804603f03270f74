//! The API's four operations: each reads its typed request, calls the store
//! or the reconciliation service, and answers. Their `utoipa::path`
//! attributes are the operations of the OpenAPI document.

use lambda_http::Request;

use shared::api_error::ApiError;
use shared::http::{json_body, query, Reply};
use shared::operator_auth::{SCOPE_READ, SCOPE_RECONCILE};

use crate::request::{ListQuery, ListSelection, ReconciliationRequest, SearchQuery};
use crate::response::{
    ListResponse, MessageDetail, MessageView, ReconciliationResponse, SearchResponse,
};
use crate::{authorize, ApiService, MAX_BODY_BYTES};

/// Perform clearing reconciliation
///
/// Perform clearing reconciliation using the provided clearing message. The clearing message must be pending to enable reprocessing.
#[utoipa::path(
    post,
    path = "/v1/clearing-reconciliation",
    operation_id = "performClearingReconciliation",
    tag = "Network transactions backoffice",
    security(("BearerAuth" = [])),
    request_body(
        content = ReconciliationRequest,
        content_type = "application/json",
        description = "Clearing reconciliation request",
    ),
    responses(
        (status = 202, description = "Reconciliation response", body = ReconciliationResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 500, response = crate::openapi::InternalServerError),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn reconcile(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    let operator = authorize(service, request, SCOPE_RECONCILE)?;
    let body: ReconciliationRequest = json_body(request.body().as_ref(), MAX_BODY_BYTES)?;
    service
        .reconciliation()
        .reconcile(&operator.actor(), body.into())
        .await?;
    Reply::json(202, &ReconciliationResponse::accepted())
}

/// Read one clearing message
///
/// Raw payload, current state, pending reason and full history; and beside them `authorization` (matched or compared with), `explanation` (field by field: expected, arrived), `links` and `write_off` (the open request).
#[utoipa::path(
    get,
    path = "/v1/clearing-messages/{clearingUniqueId}",
    operation_id = "getClearingMessage",
    security(("BearerAuth" = [])),
    params(("clearingUniqueId" = String, Path, description = "The record's clearingUniqueId")),
    responses(
        (status = 200, description = "OK", body = shared::clearing::ClearingMessage),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 500, response = crate::openapi::InternalServerError),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn message(
    service: &ApiService,
    request: &Request,
    id: &str,
) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    Reply::json(200, &MessageDetail::read(service, id).await?)
}

/// List clearing messages
///
/// By card (card_network with card_hash, optionally status): full messages. Or the queue (status PENDING, REPROCESSING or WRITE_OFF_REQUESTED, with reason, card, date and amount filters and sort): list rows (QueuePage). Cursor pagination.
#[utoipa::path(
    get,
    path = "/v1/clearing-messages",
    operation_id = "listClearingMessages",
    security(("BearerAuth" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "OK: ClearingMessagePage by card, QueuePage for the queue", body = ListResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 500, response = crate::openapi::InternalServerError),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn list(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let (selection, limit, cursor) = query::<ListQuery>(request)?.into_selection()?;
    let cursor = cursor.as_deref();
    let page = match selection {
        ListSelection::Card {
            card_network,
            card_hash,
            status,
        } => {
            service
                .store
                .messages_for_card(&card_network, &card_hash, status, limit, cursor)
                .await?
        }
        ListSelection::Queue(filter, sort) => {
            return crate::operations_console::queue_list(service, &filter, sort, limit, cursor)
                .await
        }
    };
    Reply::json(
        200,
        &ListResponse {
            items: page.items.iter().map(MessageView::from).collect(),
            next_cursor: page.next_cursor,
        },
    )
}

/// Search clearing records (Mastercard Clearing API forms)
///
/// Exactly one of: transUid; transactionStartDate with transactionEndDate (at most 366 days); afterTransactionDate; cursor ("0" first, then nextClearingCursor). offset/limit paginate.
#[utoipa::path(
    get,
    path = "/v1/clearing-search",
    operation_id = "searchClearing",
    security(("BearerAuth" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "OK", body = SearchResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 500, response = crate::openapi::InternalServerError),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    )
)]
pub(crate) async fn search(service: &ApiService, request: &Request) -> Result<Reply, ApiError> {
    authorize(service, request, SCOPE_READ)?;
    let (search, offset, limit) = query::<SearchQuery>(request)?.into_search()?;
    let page = service.store.search(&search, offset, limit).await?;
    Reply::json(
        200,
        &SearchResponse {
            clearing: page.items.iter().map(MessageView::from).collect(),
            next_clearing_cursor: page.next_cursor,
        },
    )
}
