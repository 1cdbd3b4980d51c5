//! A processor's changes: create (draft or announced at once), announce, withdraw, read.

use super::auth::{Actor, MaybeActor, Role};
use super::error::{
    ApiError, ChangeConflictOrProblem, ChangeConflictProblem, ChangeRefused,
    PlannedTooEarlyOrProblem, PlannedTooEarlyProblem,
};
use super::openapi::{
    ChangeId, Conflict, Forbidden, NotFound, Paging, PayloadTooLarge, ProcessorId, Unauthorized,
    UnsupportedMediaType, ValidationFailed,
};
use super::{AppState, Routes};
use crate::domain::change::{self, Change, ChangeInput, ChangeState};
use crate::domain::window::{ObjectionWindow, WindowState};
type ChangePage = crate::store::Page<Change>;
type WindowPage = crate::store::Page<ObjectionWindow>;
use crate::store::{lifecycle, organisations};
use crate::store::{DbConnection, StoreError};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::POST, "/v1/processors/{pid}/changes", create)
        .add(Method::GET, "/v1/processors/{pid}/changes", list)
        .add(Method::GET, "/v1/processors/{pid}/changes/{chid}", get)
        .add(
            Method::GET,
            "/v1/processors/{pid}/changes/{chid}/windows",
            list_windows,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/changes/{chid}/announce",
            announce,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/changes/{chid}/withdraw",
            withdraw,
        );
}

/// Propose a change to the list
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token.
///
/// Creates a change as a `draft`, or announces it at once with `"announce": true`.
/// `kind` decides the other fields:
///
/// - `addition`: `subprocessor` (the new entry) is required, `replaces` is refused.
/// - `replacement`: `subprocessor` (the new entry) and `replaces` (the id of the active
///   entry it replaces) are required.
/// - `removal`: `replaces` (the id of the active entry removed) is required,
///   `subprocessor` is refused; the answer shows the removed entry as `subprocessor`.
/// - `modification`: `modifies` (the id of the active entry it changes) and `subprocessor`
///   (the entry as it will be) are required. Windows open as for an addition; when the
///   change is effective the entry keeps its id and becomes its next `version`, and
///   `as_of` shows the version in force.
///
/// The new entry is stored with status `proposed` until the change becomes effective.
/// `replaces` must name an active entry on `{pid}`'s list (else 422, field `replaces`).
///
/// `planned_from` is checked when the change is announced: for a change that opens windows
/// it must not be earlier than the latest window close over the processor's agreements plus
/// the reaction time (`SUBREG_REACTION_TIME_SECS`, default one day, for the processor to answer
/// a refusal), else 422 `rule-violation` with `earliest_allowed`. Left out, it becomes that
/// earliest instant; a removal may take effect at once (a past instant means "now"). At
/// `planned_from` a change with a window that ended `objected` or `not_approved` and has no
/// resolution becomes `blocked` instead of `effective` (see resolveWindow, postponeChange,
/// goLive). Announcing appends `change.announced`
/// and, for additions, replacements and modifications, one `window.opened` per agreement. The answer
/// includes the change's `windows`.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/changes",
    tag = "changes",
    operation_id = "createChange",
    params(ProcessorId),
    request_body(
        content = ChangeInput,
        examples(
            ("addition" = (
                summary = "Announce an addition at once",
                value = json!({
                    "kind": "addition",
                    "subprocessor": {
                        "name": "Qbox ApS",
                        "registration": {"scheme": "cvr", "number": "27720102"},
                        "address": "Vesterbrogade 1, 1620 København V",
                        "country": "DK",
                        "processing_locations": ["DK"],
                        "purpose": "Customer logging"
                    },
                    "summary": "Adding Qbox for customer logging",
                    "planned_from": "2027-01-15T00:00:00Z",
                    "announce": true
                })
            )),
            ("modification" = (
                summary = "Announce that an entry moves its processing",
                value = json!({
                    "kind": "modification",
                    "modifies": "8d0e6c1c-1f4b-4a3e-9f39-0a4f1c2b7d11",
                    "subprocessor": {
                        "name": "Microsoft Azure",
                        "registration": {"scheme": "cvr", "number": "13612870"},
                        "address": "Kanalvej 7, 2800 Kgs. Lyngby",
                        "country": "DK",
                        "processing_locations": ["IE", "NL", "SE"],
                        "purpose": "Cloud platform hosting the DPG service"
                    },
                    "summary": "Azure adds a data centre in Sweden",
                    "announce": true
                })
            )),
            ("removal" = (
                summary = "A draft removal",
                value = json!({
                    "kind": "removal",
                    "replaces": "8d0e6c1c-1f4b-4a3e-9f39-0a4f1c2b7d11",
                    "summary": "We no longer use Azure"
                })
            )),
        )
    ),
    responses(
        (
            status = 201,
            description = "The change was created (and announced, with `\"announce\": true`).",
            body = Change,
            headers(("Location" = String, description = "The path of the created change.")),
            links(
                ("GetChange" = (
                    operation_id = "getChange",
                    parameters(("pid" = "$response.body#/processor_id"), ("chid" = "$response.body#/id"))
                )),
                ("AnnounceChange" = (
                    operation_id = "announceChange",
                    parameters(("pid" = "$response.body#/processor_id"), ("chid" = "$response.body#/id"))
                )),
                ("WithdrawChange" = (
                    operation_id = "withdrawChange",
                    parameters(("pid" = "$response.body#/processor_id"), ("chid" = "$response.body#/id"))
                )),
                ("GetWindow" = (
                    operation_id = "getWindow",
                    description = "The first window of an announced change.",
                    parameters(
                        ("cid" = "$response.body#/windows/0/controller_id"),
                        ("wid" = "$response.body#/windows/0/id")
                    )
                )),
                ("RaiseObjection" = (
                    operation_id = "raiseObjection",
                    parameters(
                        ("cid" = "$response.body#/windows/0/controller_id"),
                        ("wid" = "$response.body#/windows/0/id")
                    )
                )),
                ("GiveApproval" = (
                    operation_id = "giveApproval",
                    parameters(
                        ("cid" = "$response.body#/windows/0/controller_id"),
                        ("wid" = "$response.body#/windows/0/id")
                    )
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ChangeRefused),
    )
)]
async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<ChangeInput>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    actor.require_processor(&pid)?;
    let spec = change::validate(&body)?;
    let now = state.clock.now();
    let reaction = state.reaction_time;
    let created = state
        .db(move |conn| lifecycle::create_change(conn, &pid, &spec, now, reaction))
        .await?;
    state.wake_sweeper();
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!(
                "/v1/processors/{}/changes/{}",
                created.processor_id, created.id
            ),
        ))
        .json(created))
}

/// Windows name controllers and their decisions, and drafts are not announced yet: only the
/// processor and admins see them.
fn sees_windows(actor: &MaybeActor, pid: &str) -> bool {
    actor
        .0
        .as_ref()
        .is_some_and(|a| a.is_admin() || a.acts_for(Role::Processor, pid))
}

/// A processor's changes
///
/// Public: no token needed. With a `processor` token whose `org` is `{pid}` or an `admin`
/// token, each change includes its first 100 `windows` and `windows_total` (they name controllers and their decisions);
/// everyone else gets the changes without `windows`. Drafts are private: only that
/// processor and admins see them; for anyone else they are left out of the list
/// (`state=draft` answers an empty list). A token that is sent must be valid (else 401).
/// Ordered by change id, paginated; `state` filters.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/changes",
    tag = "changes",
    operation_id = "listChanges",
    security(()),
    params(
        ProcessorId,
        (
            "state" = Option<ChangeState>,
            Query,
            description = "Only changes in this state. Another value is refused with 422 (field `state`)."
        ),
        Paging,
    ),
    responses(
        (
            status = 200,
            description = "One page of changes.",
            body = ChangePage,
            links(
                ("GetChange" = (
                    operation_id = "getChange",
                    parameters(("pid" = "$request.path.pid"), ("chid" = "$response.body#/items/0/id"))
                )),
                ("WithdrawChange" = (
                    operation_id = "withdrawChange",
                    parameters(("pid" = "$request.path.pid"), ("chid" = "$response.body#/items/0/id"))
                )),
            )
        ),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list(
    state: web::Data<AppState>,
    actor: MaybeActor,
    path: web::Path<String>,
    query: web::Query<super::StateListQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let owner = sees_windows(&actor, &pid);
    let page = query.page()?;
    let filter = query.state("change", &ChangeState::ALL, ChangeState::as_str)?;
    let found = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            lifecycle::list_changes_seen(conn, &pid, filter, owner, owner, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Get a change
///
/// Public: no token needed. `windows` (each controller's window with its state, objection
/// and approval) is included only for a `processor` token whose `org` is `{pid}` or an
/// `admin` token. A draft is private: for anyone but that processor and admins it is a 404,
/// like an unknown change. A token that is sent must be valid (else 401).
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/changes/{chid}",
    tag = "changes",
    operation_id = "getChange",
    security(()),
    params(ProcessorId, ChangeId),
    responses(
        (status = 200, description = "The change.", body = Change),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    )
)]
async fn get(
    state: web::Data<AppState>,
    actor: MaybeActor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    let owner = sees_windows(&actor, &pid);
    let found = state
        .db(move |conn| {
            let change = lifecycle::get_change(conn, &pid, &chid, owner)?;
            if change.state == ChangeState::Draft && !owner {
                // Like an unknown change: a draft's existence is the processor's own business.
                return Err(StoreError::not_found("change", chid));
            }
            Ok(change)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A change's objection windows
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token. The change's
/// windows (without `change`), in id order, paginated; `state` filters. A change shows the
/// first 100 of them and `windows_total`; its `windows_next_cursor`, passed as `cursor` here,
/// continues after them.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/changes/{chid}/windows",
    tag = "changes",
    operation_id = "listChangeWindows",
    params(
        ProcessorId,
        ChangeId,
        (
            "state" = Option<WindowState>,
            Query,
            description = "Only windows in this state. Another value is refused with 422 (field `state`)."
        ),
        Paging,
    ),
    responses(
        (status = 200, description = "One page of the change's windows.", body = WindowPage),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_windows(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    query: web::Query<super::StateListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    actor.require_processor(&pid)?;
    let page = query.page()?;
    let filter = query.state("window", &WindowState::ALL, WindowState::as_str)?;
    let found = state
        .db(move |conn| lifecycle::list_change_windows(conn, &pid, &chid, filter, &page))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A processor's step on one of its changes (announce, withdraw), then a sweeper wake-up in
/// case the step made something due.
async fn change_step(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    step: impl FnOnce(&mut DbConnection, &str, &str, DateTime<Utc>) -> Result<Change, StoreError>
        + Send
        + 'static,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    actor.require_processor(&pid)?;
    let now = state.clock.now();
    let change = state.db(move |conn| step(conn, &pid, &chid, now)).await?;
    state.wake_sweeper();
    Ok(HttpResponse::Ok().json(change))
}

/// Announce a draft
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token. No body.
///
/// Moves a `draft` to `announced`: checks `planned_from` (see createChange; too early:
/// 422 with `earliest_allowed`), sets `announced_at` and `earliest_use`, appends
/// `change.announced` and, for additions and replacements, opens one objection window per
/// agreement signed so far (`window.opened`), each closing after that agreement's
/// `notice_days`; `planned_from` must leave the reaction time after the last close. A removal opens no window. Answers the change with its `windows` (the first 100; `windows_total` counts them, listChangeWindows pages through the rest).
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/changes/{chid}/announce",
    tag = "changes",
    operation_id = "announceChange",
    params(ProcessorId, ChangeId),
    responses(
        (
            status = 200,
            description = "The announced change.",
            body = Change,
            links(
                ("GetChange" = (
                    operation_id = "getChange",
                    parameters(("pid" = "$response.body#/processor_id"), ("chid" = "$response.body#/id"))
                )),
                ("WithdrawChange" = (
                    operation_id = "withdrawChange",
                    parameters(("pid" = "$response.body#/processor_id"), ("chid" = "$response.body#/id"))
                )),
                ("GetWindow" = (
                    operation_id = "getWindow",
                    description = "The first window of an announced change.",
                    parameters(
                        ("cid" = "$response.body#/windows/0/controller_id"),
                        ("wid" = "$response.body#/windows/0/id")
                    )
                )),
                ("RaiseObjection" = (
                    operation_id = "raiseObjection",
                    parameters(
                        ("cid" = "$response.body#/windows/0/controller_id"),
                        ("wid" = "$response.body#/windows/0/id")
                    )
                )),
                ("GiveApproval" = (
                    operation_id = "giveApproval",
                    parameters(
                        ("cid" = "$response.body#/windows/0/controller_id"),
                        ("wid" = "$response.body#/windows/0/id")
                    )
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (
            status = 409,
            description = "The change is not a draft; `state` is its current state. (A change \
                announced by a concurrent request, or a request whose `Idempotency-Key` is still \
                in flight, is refused with a plain conflict without `state`.)",
            body = inline(ChangeConflictOrProblem),
            content_type = "application/problem+json",
            example = json!({
                "type": "urn:subreg:problem:conflict",
                "title": "Conflict",
                "status": 409,
                "detail": "the change is announced; only a draft can be announced",
                "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                "state": "announced"
            })
        ),
        (
            status = 422,
            description = "`planned_from` is earlier than the latest window close \
                (`urn:subreg:problem:rule-violation`); `earliest_allowed` is the earliest instant \
                accepted. (An `Idempotency-Key` reused for another request is a plain \
                `urn:subreg:problem:validation`.)",
            body = inline(PlannedTooEarlyOrProblem),
            content_type = "application/problem+json"
        ),
    )
)]
async fn announce(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let reaction = state.reaction_time;
    change_step(state, actor, path, move |conn, pid, chid, now| {
        lifecycle::announce(conn, pid, chid, now, reaction)
    })
    .await
}

/// Withdraw a change
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token. No body.
///
/// Withdraws a `draft`, `announced` or `blocked` change before it becomes effective: the change
/// becomes `withdrawn`, a proposed entry becomes `withdrawn`, `change.withdrawn` is
/// appended, and every window still open closes as `withdrawn` (`window.closed`). Answers
/// the change with its `windows`.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/changes/{chid}/withdraw",
    tag = "changes",
    operation_id = "withdrawChange",
    params(ProcessorId, ChangeId),
    responses(
        (status = 200, description = "The withdrawn change.", body = Change),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (
            status = 409,
            description = "The change is already `effective` or `withdrawn`; `state` says which. \
                (A request whose `Idempotency-Key` is still in flight is refused with a plain \
                conflict without `state`.)",
            body = inline(ChangeConflictOrProblem),
            content_type = "application/problem+json",
            example = json!({
                "type": "urn:subreg:problem:conflict",
                "title": "Conflict",
                "status": 409,
                "detail": "the change is already effective; only a draft, announced or blocked change can be withdrawn",
                "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                "state": "effective"
            })
        ),
    )
)]
async fn withdraw(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    change_step(state, actor, path, lifecycle::withdraw).await
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, get, list_windows, announce, withdraw),
    components(
        schemas(ChangeConflictProblem, PlannedTooEarlyProblem),
        responses(ChangeRefused)
    )
)]
pub struct Api;
