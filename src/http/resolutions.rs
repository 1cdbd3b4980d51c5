//! A processor's answers to refusals of its change: resolve a window (`excluded`), postpone the
//! change, or take a blocked change live explicitly.

use super::auth::Actor;
use super::error::{invalid, ApiError, ChangeConflictOrProblem, PlannedTooEarlyOrProblem};
use super::openapi::{
    ChangeId, Conflict, Forbidden, NotFound, PayloadTooLarge, ProcessorId, UnsupportedMediaType,
    ValidationFailed,
};
use super::windows::{bounded, person, PersonInput};
use super::{AppState, Routes};
use crate::domain::change::Change;
use crate::domain::resolution::ResolutionKind;
use crate::domain::window::ObjectionWindow;
use crate::domain::FieldError;
use crate::store::resolutions::{self, ResolutionSpec};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(
            Method::POST,
            "/v1/processors/{pid}/changes/{chid}/resolutions",
            resolve,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/changes/{chid}/postponement",
            postpone,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/changes/{chid}/go-live",
            go_live,
        );
}

/// The body of a resolution.
#[derive(Deserialize, utoipa::ToSchema)]
struct ResolutionInput {
    /// The id of a window of this change that ended `objected` or `not_approved`.
    #[schema(required = true, nullable = false, format = "uuid")]
    window_id: Option<String>,
    /// `excluded`: the sub-processor will not process this controller's data.
    #[schema(required = true, nullable = false)]
    resolution: Option<ResolutionKind>,
    /// Why and how, for the controller and the record; trimmed, blank counts as absent; at
    /// most 1000 characters.
    #[schema(max_length = 1000)]
    note: Option<String>,
    /// The person resolving for the processor; the token's `sub` is recorded as well.
    decided_by: Option<PersonInput>,
}

/// Resolve a refused window
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token.
///
/// Records the processor's answer to a window of this change that ended `objected` or
/// `not_approved`: `excluded` (the sub-processor will not process that controller's data). The
/// window carries `resolution`, `window.resolved` is appended (naming the controller), and the
/// controller's authorised list shows the entry under `excluded` instead of as an alarm. A
/// `blocked` change with no other unresolved window becomes `effective` at once
/// (`change.effective`). A window of another change is 404; a window that is open, authorised,
/// withdrawn or already resolved, or a change that is a draft or withdrawn: 409 saying why. A
/// later approval by the controller is still accepted and authorises the entry from then on.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/changes/{chid}/resolutions",
    tag = "changes",
    operation_id = "resolveWindow",
    params(ProcessorId, ChangeId),
    request_body(
        content = ResolutionInput,
        example = json!({
            "window_id": "9c4d1e2f-7a8b-4c5d-8e9f-0a1b2c3d4e5f",
            "resolution": "excluded",
            "note": "Roskilde Kommune's data stays with our Danish backup provider",
            "decided_by": {"name": "Jens Jensen", "role": "CISO"}
        })
    ),
    responses(
        (status = 200, description = "The window with its resolution and its change.", body = ObjectionWindow),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
async fn resolve(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<ResolutionInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    actor.require_processor(&pid)?;
    let input = body.into_inner();
    let mut errors = Vec::new();
    let window_id = input
        .window_id
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty());
    if window_id.is_none() {
        errors.push(FieldError::new(
            "window_id",
            "`window_id` is required: the id of the window to resolve",
        ));
    }
    if input.resolution.is_none() {
        errors.push(FieldError::new(
            "resolution",
            "`resolution` is required: excluded",
        ));
    }
    let note = bounded("note", input.note.map(|n| n.trim().to_string()))?.filter(|n| !n.is_empty());
    let decided_by = person(input.decided_by)?;
    let (Some(window_id), Some(resolution)) = (window_id, input.resolution) else {
        return Err(ApiError::Invalid(errors));
    };
    let spec = ResolutionSpec {
        window_id,
        resolution,
        note,
    };
    let by = actor.decider(decided_by);
    let now = state.clock.now();
    let window = state
        .db(move |conn| resolutions::resolve(conn, &pid, &chid, &spec, &by, now))
        .await?;
    state.wake_sweeper();
    Ok(HttpResponse::Ok().json(window))
}

/// The body of a postponement.
#[derive(Deserialize, utoipa::ToSchema)]
struct PostponementInput {
    /// The new `planned_from`: later than the current one, not in the past, and not before the
    /// last window's close plus the reaction time.
    #[schema(required = true, nullable = false)]
    planned_from: Option<DateTime<Utc>>,
}

/// Postpone a change
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token.
///
/// Moves `planned_from` of an `announced` or `blocked` change later: it must be later than the
/// current one, not in the past, and not before the last window's close plus the reaction time
/// (else 422 `rule-violation` with `earliest_allowed`). A `blocked` change is `announced` again
/// and judged afresh at the new instant. Appends `change.postponed` (with
/// `previous_planned_from`). Another state: 409 with `state`.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/changes/{chid}/postponement",
    tag = "changes",
    operation_id = "postponeChange",
    params(ProcessorId, ChangeId),
    request_body(
        content = PostponementInput,
        example = json!({"planned_from": "2027-03-01T00:00:00Z"})
    ),
    responses(
        (status = 200, description = "The change with its new `planned_from`.", body = Change),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (
            status = 409,
            description = "The change is not `announced` or `blocked`; `state` says what it is.",
            body = inline(ChangeConflictOrProblem),
            content_type = "application/problem+json"
        ),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (
            status = 422,
            description = "`planned_from` is missing (`validation`) or too early \
                (`rule-violation`, with `earliest_allowed`).",
            body = inline(PlannedTooEarlyOrProblem),
            content_type = "application/problem+json"
        ),
    )
)]
async fn postpone(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<PostponementInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    actor.require_processor(&pid)?;
    let Some(planned_from) = body.into_inner().planned_from else {
        return Err(invalid(
            "planned_from",
            "`planned_from` is required: the new, later start",
        ));
    };
    crate::domain::text::check_instant("planned_from", planned_from)
        .map_err(|e| ApiError::Invalid(vec![e]))?;
    let now = state.clock.now();
    let reaction = state.reaction_time;
    let change = state
        .db(move |conn| resolutions::postpone(conn, &pid, &chid, planned_from, now, reaction))
        .await?;
    state.wake_sweeper();
    Ok(HttpResponse::Ok().json(change))
}

/// The body of an explicit go-live.
#[derive(Deserialize, utoipa::ToSchema)]
struct GoLiveInput {
    /// Must be `true`: the processor acknowledges that the change goes live over windows that
    /// ended `objected` or `not_approved` without a resolution.
    #[schema(required = true, nullable = false)]
    acknowledge_unresolved: Option<bool>,
    /// The person deciding for the processor.
    decided_by: Option<PersonInput>,
}

/// Go live over unresolved windows
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token.
///
/// Makes a `blocked` change `effective` now although windows that ended `objected` or
/// `not_approved` have no resolution: `acknowledge_unresolved` must be `true` (else 422, field
/// `acknowledge_unresolved`). The change records them in `live_over_unresolved`, and
/// `change.effective` says so; those controllers' authorised lists show the entry under
/// `not_authorised` with reason `in_use_without_authorisation`. Another state: 409 with `state`.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/changes/{chid}/go-live",
    tag = "changes",
    operation_id = "goLive",
    params(ProcessorId, ChangeId),
    request_body(
        content = GoLiveInput,
        example = json!({
            "acknowledge_unresolved": true,
            "decided_by": {"name": "Jens Jensen", "role": "CEO"}
        })
    ),
    responses(
        (status = 200, description = "The change, now `effective`.", body = Change),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (
            status = 409,
            description = "The change is not `blocked`; `state` says what it is.",
            body = inline(ChangeConflictOrProblem),
            content_type = "application/problem+json"
        ),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
async fn go_live(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<GoLiveInput>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    actor.require_processor(&pid)?;
    let input = body.into_inner();
    let by = actor.decider(person(input.decided_by)?);
    if input.acknowledge_unresolved != Some(true) {
        return Err(invalid(
            "acknowledge_unresolved",
            "going live over windows that ended objected or not_approved without a resolution \
             needs `\"acknowledge_unresolved\": true`; or resolve them, postpone or withdraw \
             the change",
        ));
    }
    let now = state.clock.now();
    let change = state
        .db(move |conn| resolutions::go_live(conn, &pid, &chid, &by, now))
        .await?;
    state.wake_sweeper();
    Ok(HttpResponse::Ok().json(change))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(resolve, postpone, go_live),
    components(schemas(ResolutionInput, PostponementInput, GoLiveInput))
)]
pub struct Api;
