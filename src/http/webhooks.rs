//! Webhook endpoints of processors and controllers, their delivery logs, manual redelivery and
//! secret rotation. The same handlers serve both owners; the owner kind comes from the route.

use super::auth::Actor;
use super::error::{invalid, ApiError};
use super::{AppState, PageQuery, Routes};
use crate::config::WebhookSettings;
use crate::domain::webhook::{parse_event_types, OwnerKind};
use crate::notify::{signing, ssrf};
use crate::store::webhooks::{self, NewEndpoint, Owner};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

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
    scoped::<ProcessorScope>(
        routes,
        [
            "/v1/processors/{pid}/webhooks",
            "/v1/processors/{pid}/webhooks/{whid}",
            "/v1/processors/{pid}/webhooks/{whid}/secret",
            "/v1/processors/{pid}/webhooks/{whid}/deliveries",
            "/v1/processors/{pid}/webhooks/{whid}/deliveries/{did}/retry",
        ],
    );
    scoped::<ControllerScope>(
        routes,
        [
            "/v1/controllers/{cid}/webhooks",
            "/v1/controllers/{cid}/webhooks/{whid}",
            "/v1/controllers/{cid}/webhooks/{whid}/secret",
            "/v1/controllers/{cid}/webhooks/{whid}/deliveries",
            "/v1/controllers/{cid}/webhooks/{whid}/deliveries/{did}/retry",
        ],
    );
}

fn scoped<S: Scope + 'static>(
    routes: &mut Routes,
    [list, one, secret, deliveries, retry]: [&'static str; 5],
) {
    routes
        .add(Method::POST, list, create::<S>)
        .add(Method::GET, list, list_endpoints::<S>)
        .add(Method::DELETE, one, delete::<S>)
        .add(Method::POST, secret, rotate_secret::<S>)
        .add(Method::GET, deliveries, list_deliveries::<S>)
        .add(Method::POST, retry, retry_delivery::<S>);
}

/// The owner org rule: that processor's / that controller's token, or an admin.
fn authorise<S: Scope>(actor: &Actor, org: &str) -> Result<(), ApiError> {
    match S::KIND {
        OwnerKind::Processor => actor.require_processor(org),
        OwnerKind::Controller => actor.require_controller(org),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointInput {
    url: Option<String>,
    #[serde(default)]
    event_types: Vec<String>,
    enabled: Option<bool>,
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
    let spec = NewEndpoint {
        url: vetted.url.to_string(),
        event_types,
        enabled: input.enabled.unwrap_or(true),
        secret: signing::new_secret(),
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
        .json(endpoint))
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
    let endpoint = state
        .db(move |conn| {
            webhooks::rotate_secret(
                conn,
                Owner {
                    kind: S::KIND,
                    id: &org,
                },
                &whid,
                secret,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(endpoint))
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

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
pub struct Api;

/// The `webhooks` section of the OpenAPI document: the request each endpoint receives.
pub fn receiver_paths() -> utoipa::openapi::Paths {
    utoipa::openapi::Paths::new()
}
