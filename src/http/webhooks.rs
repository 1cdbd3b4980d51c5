//! Webhook endpoints of processors and controllers, their delivery logs, manual redelivery and
//! secret rotation. The same generic handlers serve both owners (the owner kind comes from the
//! `Scope`); each route is a thin per-owner function that carries its OpenAPI operation, since
//! the document has one operation per owner (`createProcessorWebhook`, `createControllerWebhook`).

use super::auth::Actor;
use super::error::{invalid, ApiError, Problem};
use super::openapi::{
    Conflict, ControllerId, DeliveryId, Forbidden, NotFound, Paging, PayloadTooLarge, ProcessorId,
    UnsupportedMediaType, ValidationFailed, WebhookId,
};
use super::{AppState, PageQuery, Routes};
use crate::config::WebhookSettings;
use crate::domain::event::{EventBody, EventType};
use crate::domain::webhook::{parse_event_types, OwnerKind};
use crate::notify::{signing, ssrf};
use crate::store::webhooks::{self, DeliveryRow, Endpoint, NewEndpoint, Owner};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

type WebhookPage = crate::store::Page<Endpoint>;
type DeliveryPage = crate::store::Page<DeliveryRow>;

/// Marks which kind of organisation a route is for.
pub trait Scope {
    const KIND: OwnerKind;
}

pub struct ProcessorScope;
pub struct ControllerScope;

impl Scope for ProcessorScope {
    const KIND: OwnerKind = OwnerKind::Processor;
}

impl Scope for ControllerScope {
    const KIND: OwnerKind = OwnerKind::Controller;
}

pub fn routes(routes: &mut Routes) {
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
        )
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

/// The owner org rule: that processor's / that controller's token, or an admin.
fn authorise<S: Scope>(actor: &Actor, org: &str) -> Result<(), ApiError> {
    match S::KIND {
        OwnerKind::Processor => actor.require_processor(org),
        OwnerKind::Controller => actor.require_controller(org),
    }
}

/// A webhook endpoint to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookInput)]
struct EndpointInput {
    /// The https URL to POST events to (http only with `SUBREG_WEBHOOK_ALLOW_HTTP=1`); its host
    /// must resolve to public addresses only unless `SUBREG_WEBHOOK_ALLOW_PRIVATE=1`. Missing or
    /// refused: 422 (field `url`).
    #[schema(required = true, value_type = String, format = "uri", example = "https://hooks.example.dk/subreg")]
    url: Option<String>,
    /// The event types to receive; empty or absent means every type. An unknown type: 422
    /// naming it.
    #[serde(default)]
    #[schema(value_type = Vec<EventType>, default = json!([]))]
    event_types: Vec<String>,
    /// Whether to send to it; absent or null means true.
    #[schema(default = true)]
    enabled: Option<bool>,
}

/// An endpoint with its signing secret: the answer of registration and of secret rotation,
/// the only answers that show the secret.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WebhookCreated)]
struct EndpointWithSecret {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// `whsec_` and the base64 of 24 random bytes: the key of the `webhook-signature` HMAC.
    #[schema(
        pattern = "^whsec_[A-Za-z0-9+/]{32}$",
        example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )]
    secret: String,
}

async fn create<S: Scope>(
    state: web::Data<AppState>,
    policy: web::Data<ssrf::Policy>,
    settings: web::Data<WebhookSettings>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<EndpointInput>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    authorise::<S>(&actor, &org)?;
    let input = body.into_inner();
    let url = input
        .url
        .ok_or_else(|| invalid("url", "`url` is required: the https URL to POST events to"))?;
    let event_types = parse_event_types(&input.event_types)?;
    let vetted = ssrf::vet(&url, **policy)
        .await
        .map_err(|refusal| invalid("url", refusal.to_string()))?;
    let secret = signing::new_secret();
    let spec = NewEndpoint {
        url: vetted.url.to_string(),
        event_types,
        enabled: input.enabled.unwrap_or(true),
        secret: secret.clone(),
    };
    let now = state.clock.now();
    let max_endpoints = settings.max_endpoints;
    let endpoint = state
        .db(move |conn| {
            webhooks::create_endpoint(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                spec,
                max_endpoints,
                now,
            )
        })
        .await?;
    let location = format!(
        "/v1/{}s/{}/webhooks/{}",
        S::KIND.as_str(),
        endpoint.owner_id,
        endpoint.id
    );
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .json(EndpointWithSecret { endpoint, secret }))
}

async fn list_endpoints<S: Scope>(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let org = path.into_inner();
    authorise::<S>(&actor, &org)?;
    let page = query.request()?;
    let list = state
        .db(move |conn| {
            webhooks::list_endpoints(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                &page,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn delete<S: Scope>(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, whid) = path.into_inner();
    authorise::<S>(&actor, &org)?;
    state
        .db(move |conn| {
            webhooks::delete_endpoint(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                &whid,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn rotate_secret<S: Scope>(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, whid) = path.into_inner();
    authorise::<S>(&actor, &org)?;
    let secret = signing::new_secret();
    let stored = secret.clone();
    let endpoint = state
        .db(move |conn| {
            webhooks::rotate_secret(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                &whid,
                stored,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(EndpointWithSecret { endpoint, secret }))
}

async fn list_deliveries<S: Scope>(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (org, whid) = path.into_inner();
    authorise::<S>(&actor, &org)?;
    let page = query.request()?;
    let list = state
        .db(move |conn| {
            webhooks::list_deliveries(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                &whid,
                &page,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

async fn retry_delivery<S: Scope>(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, whid, did) = path.into_inner();
    authorise::<S>(&actor, &org)?;
    let now = state.clock.now();
    let delivery = state
        .db(move |conn| {
            webhooks::retry_delivery(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                &whid,
                &did,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

/// 409 of a registration: the owner's endpoints are at the limit (or the same `Idempotency-Key`
/// is still in flight).
const TOO_MANY_ENDPOINTS: &str = "The owner already has `SUBREG_WEBHOOK_MAX_ENDPOINTS` \
    endpoints (default 10); the problem's `detail` says the limit and how to make room. Also \
    answered while a request with the same `Idempotency-Key` is still in flight \
    (`urn:subreg:problem:conflict`; retry after `Retry-After`).";

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

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_processor_webhook,
        list_processor_webhooks,
        delete_processor_webhook,
        rotate_processor_webhook_secret,
        list_processor_webhook_deliveries,
        retry_processor_webhook_delivery,
        create_controller_webhook,
        list_controller_webhooks,
        delete_controller_webhook,
        rotate_controller_webhook_secret,
        list_controller_webhook_deliveries,
        retry_controller_webhook_delivery,
    ),
    components(schemas(EventBody))
)]
pub struct Api;

/// What a receiver is told about the request (`receiveEvent`'s description).
const RECEIVE_DESCRIPTION: &str = "\
What subreg sends to each endpoint registered with `POST /v1/processors/{pid}/webhooks`
or `POST /v1/controllers/{cid}/webhooks` (Standard Webhooks). One request per event
and endpoint, retried until a 2xx answer or until the retry schedule is used up.

Who gets which event: a processor's endpoints get every event of its evidence log; a
controller's endpoints get the events that name it (`controller_id`) and the
processor-wide events (`controller_id` null) of every processor it has an agreement
with; `endpoint.disabled` goes only to the owner of the disabled endpoint. An
endpoint's `event_types`, when not empty, narrows this to those types.

The body is the event exactly as the evidence log stores it (the bytes signed and
hashed into the chain): `id`, `type`, `occurred_at`, `processor_id`, `controller_id`
and `data`. It carries no `prev_hash` or `hash`; fetch
`GET /v1/processors/{processor_id}/events/{id}` for the event with its place in the
chain. The same event keeps its `webhook-id` on every retry: deduplicate on it.

Verify a request before trusting it: recompute the HMAC-SHA256 of
`{webhook-id}.{webhook-timestamp}.{body}` with the endpoint secret (the bytes after
`whsec_`, base64-decoded), compare it in constant time with each `v1,` signature of
`webhook-signature`, and refuse timestamps far from your clock (e.g. more than 5
minutes) to stop replays.
";

/// The `webhooks` section of the OpenAPI document: the request each endpoint receives, as
/// `notify::dispatcher` sends it (the stored [`EventBody`] and the Standard Webhooks headers).
pub fn receiver_paths() -> utoipa::openapi::Paths {
    use utoipa::openapi::example::ExampleBuilder;
    use utoipa::openapi::path::{
        HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
    };
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{
        ContentBuilder, ObjectBuilder, PathsBuilder, Ref, Required, ResponseBuilder,
        ResponsesBuilder,
    };
    use utoipa::PartialSchema;
    let header = |name: &str, description: &str, schema: utoipa::openapi::RefOr<_>| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(schema))
    };
    let example = |summary: &str, value: serde_json::Value| {
        ExampleBuilder::new()
            .summary(summary)
            .value(Some(value))
            .build()
    };
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("EventBody")))
        .examples_from_iter([
            (
                "announced",
                example(
                    "change.announced, to the processor and its controllers",
                    serde_json::json!({
                        "id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                        "type": "change.announced",
                        "occurred_at": "2026-11-23T12:00:00.123456Z",
                        "processor_id": "timengo-dpg",
                        "controller_id": null,
                        "data": {
                            "id": "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60",
                            "processor_id": "timengo-dpg",
                            "kind": "addition",
                            "summary": "Adding Qbox for customer logging",
                            "state": "announced"
                        }
                    }),
                ),
            ),
            (
                "disabled",
                example(
                    "endpoint.disabled, to the endpoint's owner",
                    serde_json::json!({
                        "id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c",
                        "type": "endpoint.disabled",
                        "occurred_at": "2026-11-28T12:00:00Z",
                        "processor_id": "timengo-dpg",
                        "controller_id": "roskilde-kommune",
                        "data": {
                            "endpoint_id": "2a8c4e6f-1b3d-4f5a-8c9e-0d1f2a3b4c5d",
                            "owner_kind": "controller",
                            "owner_id": "roskilde-kommune",
                            "reason": "the receiver answered 410 Gone",
                            "failing_since": "2026-11-23T12:00:05Z",
                            "disabled_at": "2026-11-28T12:00:00Z"
                        }
                    }),
                ),
            ),
        ])
        .build();
    let receive = OperationBuilder::new()
        .tag("webhooks")
        .operation_id(Some("receiveEvent"))
        .summary(Some("An event, pushed to a registered endpoint"))
        .description(Some(RECEIVE_DESCRIPTION))
        .securities(Some([]))
        .parameter(header(
            "webhook-id",
            "The event's id (a UUID), the same on every retry of this event.",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::Custom("uuid".into())))
                .into(),
        ))
        .parameter(
            header(
                "webhook-timestamp",
                "When this attempt was signed, in Unix seconds of the sender's wall clock.",
                i64::schema(),
            )
            .example(Some(serde_json::json!(1795420800))),
        )
        .parameter(
            header(
                "webhook-signature",
                "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` \
                 with the endpoint secret; a space-separated list when several signatures are \
                 sent.",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some("^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"))
                    .into(),
            )
            .example(Some(serde_json::json!(
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            ))),
        )
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", body)
                .build(),
        ))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "2XX",
                    ResponseBuilder::new()
                        .description("Received; the delivery is `succeeded` and not sent again."),
                )
                .response(
                    "410",
                    ResponseBuilder::new().description(
                        "The endpoint is gone for good: subreg disables it at once, marks its \
                         waiting deliveries `failed` and sends `endpoint.disabled` to its owner.",
                    ),
                )
                .response(
                    "default",
                    ResponseBuilder::new().description(
                        "Any other answer (redirects are not followed), a timeout or a \
                         connection error is a failed attempt, retried after 5 s, 5 min, 30 min, \
                         2 h, 5 h, 10 h and 10 h (with up to 20 % jitter; a `Retry-After` of \
                         seconds or an HTTP date lengthens the wait); then the delivery is \
                         `failed`. An endpoint failing for 5 days without a success is disabled \
                         as for 410. The first bytes of the answer are kept in the delivery's \
                         `last_response`.",
                    ),
                ),
        );
    PathsBuilder::new()
        .path("event", PathItem::new(HttpMethod::Post, receive))
        .build()
}
