//! Webhook endpoints of processors and controllers, their delivery logs, manual redelivery and
//! secret rotation. The same generic handlers serve both owners (the owner kind comes from the
//! `Scope`); each route is a thin per-owner function that carries its OpenAPI operation, since
//! the document has one operation per owner (`createProcessorWebhook`, `createControllerWebhook`).
//! This file holds the generic handlers; webhooks/processor.rs and webhooks/controller.rs the
//! per-owner routes, webhooks/receiver.rs the document's `webhooks` section.

mod controller;
mod processor;
mod receiver;

pub use receiver::receiver_paths;

use super::auth::Actor;
use super::error::{invalid, ApiError};
use super::{AppState, PageQuery, Routes};
use crate::config::WebhookSettings;
use crate::domain::event::{EventBody, EventType};
use crate::domain::webhook::{parse_event_types, OwnerKind};
use crate::notify::{signing, ssrf};
use crate::store::webhooks::{self, DeliveryRow, Endpoint, NewEndpoint, Owner};
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
    processor::routes(routes);
    controller::routes(routes);
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

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        processor::create_processor_webhook,
        processor::list_processor_webhooks,
        processor::delete_processor_webhook,
        processor::rotate_processor_webhook_secret,
        processor::list_processor_webhook_deliveries,
        processor::retry_processor_webhook_delivery,
        controller::create_controller_webhook,
        controller::list_controller_webhooks,
        controller::delete_controller_webhook,
        controller::rotate_controller_webhook_secret,
        controller::list_controller_webhook_deliveries,
        controller::retry_controller_webhook_delivery,
    ),
    components(schemas(EventBody))
)]
pub struct Api;
