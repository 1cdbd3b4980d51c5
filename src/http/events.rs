//! The evidence log of a processor: its events, one page or one event at a time,
//! and the check of the chain. Who may read which event is decided here for all three routes.

use super::auth::{Actor, MaybeActor, Role};
use super::error::ApiError;
use super::openapi::{EventId, Forbidden, NotFound, Paging, ProcessorId, ValidationFailed};
use super::{AppState, PageQuery, Routes};
use crate::store::events::Event;
use crate::store::log::LogVerification;
use crate::store::{agreements, events, feeds, organisations};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

type EventPage = crate::store::Page<crate::store::events::Event>;

pub fn routes(routes: &mut Routes) {
    // In this order: /events/verify must be matched before /events/{eid}.
    routes
        .add(Method::GET, "/v1/processors/{pid}/events", list_events)
        .add(
            Method::GET,
            "/v1/processors/{pid}/events/verify",
            verify_events,
        )
        .add(Method::GET, "/v1/processors/{pid}/events/{eid}", get_event);
}

/// The evidence log is for the processor itself and for controllers with an agreement with it;
/// a controller reads only the public events and those that name it.
pub(crate) async fn require_evidence_reader(
    state: &AppState,
    actor: &Actor,
    pid: &str,
) -> Result<events::Reader, ApiError> {
    if actor.is_admin() || actor.acts_for(Role::Processor, pid) {
        return Ok(events::Reader::Everything);
    }
    if actor.role == Role::Controller {
        let (pid, cid) = (pid.to_string(), actor.org.clone());
        let has_agreement = state
            .db(move |conn| {
                Ok(agreements::all_for_controller(conn, &cid)?
                    .iter()
                    .any(|a| a.processor_id == pid))
            })
            .await?;
        if has_agreement {
            return Ok(events::Reader::Controller(actor.org.clone()));
        }
    }
    Err(ApiError::Forbidden(format!(
        "the evidence log of `{pid}` is for that processor and its controllers"
    )))
}

/// The evidence log
///
/// Requires a `processor` token whose `org` is `{pid}`, a `controller` token whose `org`
/// has an agreement with `{pid}`, or an `admin` token.
///
/// The processor and admins see every event. A controller sees the events with
/// `visibility: public` and those with `visibility: controller` that name it
/// (`controller_id` = its org), nothing of other controllers and nothing with `visibility:
/// processor`; the cursor pages through that filtered list.
///
/// The processor's events, oldest first, paginated, each with its `index` in the processor's
/// Merkle tree and its `leaf_hash`: the event without `leaf_hash` is the leaf's object, and
/// `leaf_hash = SHA-256(0x00 || RFC 8785 canonical JSON of it)` (README: the leaf recipe).
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/events",
    tag = "evidence",
    operation_id = "listEvents",
    params(ProcessorId, Paging),
    responses(
        (
            status = 200,
            description = "One page of events.",
            body = EventPage,
            links(("GetEvent" = (
                operation_id = "getEvent",
                parameters(("pid" = "$request.path.pid"), ("eid" = "$response.body#/items/0/id"))
            )))
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_events(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let reader = require_evidence_reader(&state, &actor, &pid).await?;
    let page = query.request()?;
    let list = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            events::list_for_processor(conn, &pid, &reader, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list.map(|e| e.to_json())))
}

/// Verify the evidence log
///
/// Requires a `processor` token whose `org` is `{pid}`, a `controller` token whose `org`
/// has an agreement with `{pid}`, or an `admin` token.
///
/// Recomputes every event's leaf from its stored row (id, index, type, time, processor,
/// controller, visibility, data) and holds it against the stored leaf hash, then rebuilds the
/// Merkle tree and holds its roots against every signed checkpoint: an edited column, a
/// removed event, a leaf hash recomputed after an edit, or a forged checkpoint all make
/// `valid` false. The whole log is checked whoever asks; a controller gets `first_broken`
/// only when it may see that event (else null), and never `problem`.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/events/verify",
    tag = "evidence",
    operation_id = "verifyEvents",
    params(ProcessorId),
    responses(
        (
            status = 200,
            description = "The result of the check.",
            body = LogVerification,
            example = json!({
                "valid": true,
                "events": 42,
                "checkpoint_size": 42,
                "root": "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
                "first_broken": null,
                "problem": null,
                "disagreements": []
            })
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn verify_events(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let reader = require_evidence_reader(&state, &actor, &pid).await?;
    let verification = state
        .db({
            let log = state.log.clone();
            let now = state.clock.now();
            move |conn| crate::store::log::verify(conn, &log, &pid, &reader, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(verification))
}

/// One event (the target of a feed entry's `related` link)
///
/// Public when its `visibility` is `public`. Otherwise it needs the same token
/// as the evidence log: a `processor` token for `{pid}`, a `controller` token whose `org`
/// has an agreement with `{pid}`, or an `admin` token; for a controller an event that
/// names another controller (or is the processor's own) is a 404, like an unknown event.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/events/{eid}",
    tag = "evidence",
    operation_id = "getEvent",
    security((), ("bearerAuth" = [])),
    params(ProcessorId, EventId),
    responses(
        (status = 200, description = "The event JSON with its index and leaf hash.", body = Event),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn get_event(
    state: web::Data<AppState>,
    actor: MaybeActor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, eid) = path.into_inner();
    let (lookup_pid, lookup_eid) = (pid.clone(), eid.clone());
    let event = state
        .db(move |conn| feeds::event(conn, &lookup_pid, &lookup_eid))
        .await?;
    if event.is_public() {
        return Ok(HttpResponse::Ok().json(event.to_json()));
    }
    let actor = actor.0.ok_or_else(|| {
        ApiError::Unauthorized("this event is not public: send a bearer token".into())
    })?;
    let reader = require_evidence_reader(&state, &actor, &pid).await?;
    if !event.visible_to(&reader) {
        return Err(ApiError::from(crate::store::StoreError::not_found(
            "event", eid,
        )));
    }
    Ok(HttpResponse::Ok().json(event.to_json()))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_events, verify_events, get_event))]
pub struct Api;
