//! The processor's webhook routes: thin functions over the generic handlers in webhooks.rs,
//! each carrying its OpenAPI operation (`createProcessorWebhook`, ...).

use super::{
    create, delete, list_deliveries, list_endpoints, retry_delivery, rotate_secret, DeliveryPage,
    EndpointInput, EndpointWithSecret, ProcessorScope, WebhookPage, TOO_MANY_ENDPOINTS,
};
use crate::config::WebhookSettings;
use crate::http::auth::Actor;
use crate::http::error::{ApiError, Problem};
use crate::http::openapi::{
    Conflict, DeliveryId, Forbidden, NotFound, Paging, PayloadTooLarge, ProcessorId,
    UnsupportedMediaType, ValidationFailed, WebhookId,
};
use crate::http::{AppState, PageQuery, Routes};
use crate::notify::ssrf;
use crate::store::webhooks::DeliveryRow;
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub(super) fn routes(routes: &mut Routes) {
    routes
        .add(
            Method::POST,
            "/v1/processors/{pid}/webhooks",
            create_processor_webhook,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/webhooks",
            list_processor_webhooks,
        )
        .add(
            Method::DELETE,
            "/v1/processors/{pid}/webhooks/{whid}",
            delete_processor_webhook,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/webhooks/{whid}/secret",
            rotate_processor_webhook_secret,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/webhooks/{whid}/deliveries",
            list_processor_webhook_deliveries,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/webhooks/{whid}/deliveries/{did}/retry",
            retry_processor_webhook_delivery,
        );
}

/// Register a webhook endpoint of the processor
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; another
/// org's token: 403.
/// The URL must be https (http only with `SUBREG_WEBHOOK_ALLOW_HTTP=1`) and its host must
/// resolve to public addresses only (no loopback, private, link-local, CGNAT, benchmark,
/// reserved, multicast, ULA, Teredo, ORCHID, documentation or metadata addresses) unless
/// `SUBREG_WEBHOOK_ALLOW_PRIVATE=1`; refused with 422 (field `url`) and the reason.
/// `event_types: []` (or absent) means every type; an unknown type is refused with 422 naming
/// it. The answer carries the signing secret (`whsec_...`), shown this once.
/// A processor's endpoints receive every event of its evidence log.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/webhooks",
    tag = "webhooks",
    operation_id = "createProcessorWebhook",
    params(ProcessorId),
    request_body = EndpointInput,
    responses(
        (
            status = 201,
            description = "The endpoint, with its secret shown once.",
            body = EndpointWithSecret,
            headers(("Location" = String, description = "The path of the created endpoint.")),
            links(
                ("Deliveries" = (
                    operation_id = "listProcessorWebhookDeliveries",
                    parameters(("pid" = "$request.path.pid"), ("whid" = "$response.body#/id")),
                )),
                ("RotateSecret" = (
                    operation_id = "rotateProcessorWebhookSecret",
                    parameters(("pid" = "$request.path.pid"), ("whid" = "$response.body#/id")),
                )),
                ("Delete" = (
                    operation_id = "deleteProcessorWebhook",
                    parameters(("pid" = "$request.path.pid"), ("whid" = "$response.body#/id")),
                )),
            ),
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = TOO_MANY_ENDPOINTS, body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
async fn create_processor_webhook(
    state: web::Data<AppState>,
    policy: web::Data<ssrf::Policy>,
    settings: web::Data<WebhookSettings>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    create::<ProcessorScope>(state, policy, settings, actor, path, body).await
}

/// The processor's webhook endpoints (without secrets)
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; another
/// org's token: 403. Ordered by id, paginated.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/webhooks",
    tag = "webhooks",
    operation_id = "listProcessorWebhooks",
    params(ProcessorId, Paging),
    responses(
        (
            status = 200,
            description = "One page of endpoints.",
            body = WebhookPage,
            links(
                ("Deliveries" = (
                    operation_id = "listProcessorWebhookDeliveries",
                    parameters(("pid" = "$request.path.pid"), ("whid" = "$response.body#/items/0/id")),
                )),
                ("RotateSecret" = (
                    operation_id = "rotateProcessorWebhookSecret",
                    parameters(("pid" = "$request.path.pid"), ("whid" = "$response.body#/items/0/id")),
                )),
            ),
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_processor_webhooks(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    list_endpoints::<ProcessorScope>(state, actor, path, query).await
}

/// Delete a webhook endpoint and its delivery log
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; another
/// org's token: 403.
#[utoipa::path(
    delete,
    path = "/v1/processors/{pid}/webhooks/{whid}",
    tag = "webhooks",
    operation_id = "deleteProcessorWebhook",
    params(ProcessorId, WebhookId),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn delete_processor_webhook(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    delete::<ProcessorScope>(state, actor, path).await
}

/// Rotate the endpoint's signing secret
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; another
/// org's token: 403. Every send from now on is signed with the new secret, shown in this
/// answer only. No body is needed.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/webhooks/{whid}/secret",
    tag = "webhooks",
    operation_id = "rotateProcessorWebhookSecret",
    params(ProcessorId, WebhookId),
    responses(
        (status = 200, description = "The endpoint with its new secret.", body = EndpointWithSecret),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
async fn rotate_processor_webhook_secret(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    rotate_secret::<ProcessorScope>(state, actor, path).await
}

/// The endpoint's delivery log
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; another
/// org's token: 403. One delivery per event, in order of the events, with the state, the
/// number of attempts and what the last attempt got (status, latency, the first 512 bytes of
/// the answer, or the error). Paginated.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/webhooks/{whid}/deliveries",
    tag = "webhooks",
    operation_id = "listProcessorWebhookDeliveries",
    params(ProcessorId, WebhookId, Paging),
    responses(
        (
            status = 200,
            description = "One page of deliveries.",
            body = DeliveryPage,
            links(("Retry" = (
                operation_id = "retryProcessorWebhookDelivery",
                parameters(
                    ("pid" = "$request.path.pid"),
                    ("whid" = "$request.path.whid"),
                    ("did" = "$response.body#/items/0/id"),
                ),
            ))),
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_processor_webhook_deliveries(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    list_deliveries::<ProcessorScope>(state, actor, path, query).await
}

/// Redeliver now
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; another
/// org's token: 403. Makes the delivery due now, whatever its state; it is sent again with
/// the same `webhook-id`. A disabled endpoint's deliveries cannot be retried (409). No body is
/// needed.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/webhooks/{whid}/deliveries/{did}/retry",
    tag = "webhooks",
    operation_id = "retryProcessorWebhookDelivery",
    params(ProcessorId, WebhookId, DeliveryId),
    responses(
        (status = 202, description = "The delivery, due now.", body = DeliveryRow),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
async fn retry_processor_webhook_delivery(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    retry_delivery::<ProcessorScope>(state, actor, path).await
}
