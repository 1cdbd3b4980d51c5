//! The controller's webhook routes: thin functions over the generic handlers in webhooks.rs,
//! each carrying its OpenAPI operation (`createControllerWebhook`, ...).

use super::{
    create, delete, list_deliveries, list_endpoints, retry_delivery, rotate_secret,
    ControllerScope, DeliveryPage, EndpointInput, EndpointWithSecret, WebhookPage,
    TOO_MANY_ENDPOINTS,
};
use crate::config::WebhookSettings;
use crate::http::auth::Actor;
use crate::http::error::{ApiError, Problem};
use crate::http::openapi::{
    Conflict, ControllerId, DeliveryId, Forbidden, NotFound, Paging, PayloadTooLarge,
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
            "/v1/controllers/{cid}/webhooks",
            create_controller_webhook,
        )
        .add(
            Method::GET,
            "/v1/controllers/{cid}/webhooks",
            list_controller_webhooks,
        )
        .add(
            Method::DELETE,
            "/v1/controllers/{cid}/webhooks/{whid}",
            delete_controller_webhook,
        )
        .add(
            Method::POST,
            "/v1/controllers/{cid}/webhooks/{whid}/secret",
            rotate_controller_webhook_secret,
        )
        .add(
            Method::GET,
            "/v1/controllers/{cid}/webhooks/{whid}/deliveries",
            list_controller_webhook_deliveries,
        )
        .add(
            Method::POST,
            "/v1/controllers/{cid}/webhooks/{whid}/deliveries/{did}/retry",
            retry_controller_webhook_delivery,
        );
}

/// Register a webhook endpoint of the controller
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// org's token: 403.
/// The URL must be https (http only with `SUBREG_WEBHOOK_ALLOW_HTTP=1`) and its host must
/// resolve to public addresses only (no loopback, private, link-local, CGNAT, benchmark,
/// reserved, multicast, ULA, Teredo, ORCHID, documentation or metadata addresses) unless
/// `SUBREG_WEBHOOK_ALLOW_PRIVATE=1`; refused with 422 (field `url`) and the reason.
/// `event_types: []` (or absent) means every type; an unknown type is refused with 422 naming
/// it. The answer carries the signing secret (`whsec_...`), shown this once.
/// A controller's endpoints receive the events that name it and the processor-wide
/// events (`change.announced`, `change.effective`, ...) of every processor it has an agreement
/// with.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/webhooks",
    tag = "webhooks",
    operation_id = "createControllerWebhook",
    params(ControllerId),
    request_body = EndpointInput,
    responses(
        (
            status = 201,
            description = "The endpoint, with its secret shown once.",
            body = EndpointWithSecret,
            headers(("Location" = String, description = "The path of the created endpoint.")),
            links(
                ("Deliveries" = (
                    operation_id = "listControllerWebhookDeliveries",
                    parameters(("cid" = "$request.path.cid"), ("whid" = "$response.body#/id")),
                )),
                ("RotateSecret" = (
                    operation_id = "rotateControllerWebhookSecret",
                    parameters(("cid" = "$request.path.cid"), ("whid" = "$response.body#/id")),
                )),
                ("Delete" = (
                    operation_id = "deleteControllerWebhook",
                    parameters(("cid" = "$request.path.cid"), ("whid" = "$response.body#/id")),
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
async fn create_controller_webhook(
    state: web::Data<AppState>,
    policy: web::Data<ssrf::Policy>,
    settings: web::Data<WebhookSettings>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    create::<ControllerScope>(state, policy, settings, actor, path, body).await
}

/// The controller's webhook endpoints (without secrets)
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// org's token: 403. Ordered by id, paginated.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/webhooks",
    tag = "webhooks",
    operation_id = "listControllerWebhooks",
    params(ControllerId, Paging),
    responses(
        (
            status = 200,
            description = "One page of endpoints.",
            body = WebhookPage,
            links(
                ("Deliveries" = (
                    operation_id = "listControllerWebhookDeliveries",
                    parameters(("cid" = "$request.path.cid"), ("whid" = "$response.body#/items/0/id")),
                )),
                ("RotateSecret" = (
                    operation_id = "rotateControllerWebhookSecret",
                    parameters(("cid" = "$request.path.cid"), ("whid" = "$response.body#/items/0/id")),
                )),
            ),
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_controller_webhooks(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    list_endpoints::<ControllerScope>(state, actor, path, query).await
}

/// Delete a webhook endpoint and its delivery log
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// org's token: 403.
#[utoipa::path(
    delete,
    path = "/v1/controllers/{cid}/webhooks/{whid}",
    tag = "webhooks",
    operation_id = "deleteControllerWebhook",
    params(ControllerId, WebhookId),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn delete_controller_webhook(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    delete::<ControllerScope>(state, actor, path).await
}

/// Rotate the endpoint's signing secret
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// org's token: 403. Every send from now on is signed with the new secret, shown in this
/// answer only. No body is needed.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/webhooks/{whid}/secret",
    tag = "webhooks",
    operation_id = "rotateControllerWebhookSecret",
    params(ControllerId, WebhookId),
    responses(
        (status = 200, description = "The endpoint with its new secret.", body = EndpointWithSecret),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
async fn rotate_controller_webhook_secret(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    rotate_secret::<ControllerScope>(state, actor, path).await
}

/// The endpoint's delivery log
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// org's token: 403. One delivery per event, in order of the events, with the state, the
/// number of attempts and what the last attempt got (status, latency, the first 512 bytes of
/// the answer, or the error). Paginated.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/webhooks/{whid}/deliveries",
    tag = "webhooks",
    operation_id = "listControllerWebhookDeliveries",
    params(ControllerId, WebhookId, Paging),
    responses(
        (
            status = 200,
            description = "One page of deliveries.",
            body = DeliveryPage,
            links(("Retry" = (
                operation_id = "retryControllerWebhookDelivery",
                parameters(
                    ("cid" = "$request.path.cid"),
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
async fn list_controller_webhook_deliveries(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    list_deliveries::<ControllerScope>(state, actor, path, query).await
}

/// Redeliver now
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// org's token: 403. Makes the delivery due now, whatever its state; it is sent again with
/// the same `webhook-id`. A disabled endpoint's deliveries cannot be retried (409). No body is
/// needed.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/webhooks/{whid}/deliveries/{did}/retry",
    tag = "webhooks",
    operation_id = "retryControllerWebhookDelivery",
    params(ControllerId, WebhookId, DeliveryId),
    responses(
        (status = 202, description = "The delivery, due now.", body = DeliveryRow),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
async fn retry_controller_webhook_delivery(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    retry_delivery::<ControllerScope>(state, actor, path).await
}
