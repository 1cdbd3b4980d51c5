//! A controller's objection windows, its decisions, and its authorised list.

use super::auth::Actor;
use super::error::{invalid, ApiError, WindowConflict, WindowConflictProblem};
use super::openapi::{
    ControllerId, Forbidden, NotFound, Paging, PayloadTooLarge, ValidationFailed, WindowId,
};
use super::{parse_instant, AppState, Routes};
use crate::domain::authorised::AuthorisedList;
use crate::domain::subprocessor::MAX_TEXT;
use crate::domain::window::{Decision, ObjectionWindow, Person, WindowState};
use crate::domain::FieldError;
type WindowPage = crate::store::Page<ObjectionWindow>;
use crate::store::{lifecycle, organisations};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/v1/controllers/{cid}/windows", list)
        .add(Method::GET, "/v1/controllers/{cid}/windows/{wid}", get)
        .add(
            Method::POST,
            "/v1/controllers/{cid}/windows/{wid}/objection",
            object,
        )
        .add(
            Method::DELETE,
            "/v1/controllers/{cid}/windows/{wid}/objection",
            withdraw_objection,
        )
        .add(
            Method::POST,
            "/v1/controllers/{cid}/windows/{wid}/approval",
            approve,
        )
        .add(
            Method::GET,
            "/v1/controllers/{cid}/subprocessors",
            authorised,
        );
}

/// A controller's objection windows
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. The
/// controller's windows over all its agreements, each with its change embedded, its
/// deadline (`closes_at`) and its conflicts. Ordered by window id, paginated; `state`
/// filters (e.g. `?state=open` for what still needs a decision).
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/windows",
    tag = "windows",
    operation_id = "listWindows",
    params(
        ControllerId,
        (
            "state" = Option<WindowState>,
            Query,
            description = "Only windows in this state. Another value is refused with 422 (field `state`)."
        ),
        Paging,
    ),
    responses(
        (
            status = 200,
            description = "One page of windows.",
            body = WindowPage,
            links(
                ("GetWindow" = (
                    operation_id = "getWindow",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$response.body#/items/0/id"))
                )),
                ("RaiseObjection" = (
                    operation_id = "raiseObjection",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$response.body#/items/0/id"))
                )),
                ("GiveApproval" = (
                    operation_id = "giveApproval",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$response.body#/items/0/id"))
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<super::StateListQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let page = query.page()?;
    let filter = query.state("window", &WindowState::ALL, WindowState::as_str)?;
    let found = state
        .db(move |conn| {
            organisations::get_controller(conn, &cid)?;
            lifecycle::list_windows(conn, &cid, filter, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Get an objection window
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. The window
/// with its change embedded. A window of another controller is 404.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/windows/{wid}",
    tag = "windows",
    operation_id = "getWindow",
    params(ControllerId, WindowId),
    responses(
        (status = 200, description = "The window.", body = ObjectionWindow),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    actor.require_controller(&cid)?;
    let window = state
        .db(move |conn| lifecycle::get_window(conn, &cid, &wid))
        .await?;
    Ok(HttpResponse::Ok().json(window))
}

/// A body that may be left out entirely; if it is sent, it must be valid JSON.
pub(super) fn optional_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        if e.is_data() {
            invalid("body", format!("wrong type or value: {e}"))
        } else {
            ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
        }
    })
}

pub(super) fn bounded(field: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(text) if text.chars().count() > MAX_TEXT => Err(invalid(
            field,
            format!("`{field}` is longer than {MAX_TEXT} characters"),
        )),
        other => Ok(other),
    }
}

/// Who the request body says decided; refused with field errors under `decided_by`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct PersonInput {
    /// 1 to 200 characters.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    name: Option<String>,
    /// At most 200 characters, e.g. "DPO".
    #[schema(max_length = 200)]
    role: Option<String>,
}

const MAX_PERSON_TEXT: usize = 200;

pub(super) fn person(input: Option<PersonInput>) -> Result<Option<Person>, ApiError> {
    let Some(input) = input else {
        return Ok(None);
    };
    let trimmed = |t: Option<String>| t.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let (name, role) = (trimmed(input.name), trimmed(input.role));
    let mut errors = Vec::new();
    for (field, value) in [("decided_by.name", &name), ("decided_by.role", &role)] {
        if let Some(text) = value {
            if text.chars().count() > MAX_PERSON_TEXT {
                errors.push(FieldError::new(
                    field,
                    format!("`{field}` is longer than {MAX_PERSON_TEXT} characters"),
                ));
            }
        }
    }
    if name.is_none() {
        errors.push(FieldError::new(
            "decided_by.name",
            "`decided_by` needs the deciding person's `name` (or leave `decided_by` out)",
        ));
    }
    match name {
        Some(name) if errors.is_empty() => Ok(Some(Person { name, role })),
        _ => Err(ApiError::Invalid(errors)),
    }
}

async fn decide(
    state: &AppState,
    actor: &Actor,
    cid: String,
    wid: String,
    decision: Decision,
    decided_by: Option<Person>,
) -> Result<HttpResponse, ApiError> {
    actor.require_controller(&cid)?;
    let now = state.clock.now();
    let by = actor.decider(decided_by);
    let window = state
        .db(move |conn| lifecycle::decide(conn, &cid, &wid, decision, &by, now))
        .await?;
    Ok(HttpResponse::Ok().json(window))
}

/// The optional body of an objection.
#[derive(Deserialize, utoipa::ToSchema)]
struct ObjectionInput {
    /// Required when the agreement has `objection_requires_reason` (else 422, field `reason`);
    /// trimmed, blank counts as absent; at most 1000 characters.
    #[schema(max_length = 1000)]
    reason: Option<String>,
    /// The person objecting for the controller; the token's `sub` is recorded as well.
    decided_by: Option<PersonInput>,
}

/// Object
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. A window of
/// another controller is 404.
///
/// Objects to the change while the window is `open`: the window becomes `objected`
/// (still live until `closes_at`) and `objection.raised` is appended. The body is
/// optional; `reason` (at most 1000 characters, trimmed) is required when the agreement
/// has `objection_requires_reason` (else 422, field `reason`). A decision at or after
/// `closes_at` loses to the deadline: the window is closed first and the answer is 409
/// with its final state.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/windows/{wid}/objection",
    tag = "windows",
    operation_id = "raiseObjection",
    params(ControllerId, WindowId),
    request_body(
        content = ref("#/components/schemas/ObjectionInput"),
        example = json!({
            "reason": "The sub-processor transfers data to the US; our DPA forbids third-country transfers"
        })
    ),
    responses(
        (
            status = 200,
            description = "The window, now `objected`.",
            body = ObjectionWindow,
            links(
                ("WithdrawObjection" = (
                    operation_id = "withdrawObjection",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$request.path.wid"))
                )),
                ("GetWindow" = (
                    operation_id = "getWindow",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$request.path.wid"))
                )),
                ("GiveApproval" = (
                    operation_id = "giveApproval",
                    description = "Refused with 409 while the objection stands.",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$request.path.wid"))
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = WindowConflict),
        (status = 413, response = PayloadTooLarge),
    )
)]
async fn object(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    let (reason, decided_by) = match optional_json::<ObjectionInput>(&body)? {
        Some(input) => (bounded("reason", input.reason)?, person(input.decided_by)?),
        None => (None, None),
    };
    decide(
        &state,
        &actor,
        cid,
        wid,
        Decision::Object { reason },
        decided_by,
    )
    .await
}

/// Withdraw own objection
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. A window of
/// another controller is 404.
///
/// While the window is live and `objected`, withdraws the objection: the window is `open`
/// again and `objection.withdrawn` is appended. No objection, a closed window or a passed
/// deadline: 409.
#[utoipa::path(
    delete,
    path = "/v1/controllers/{cid}/windows/{wid}/objection",
    tag = "windows",
    operation_id = "withdrawObjection",
    params(ControllerId, WindowId),
    responses(
        (
            status = 200,
            description = "The window, `open` again.",
            body = ObjectionWindow,
            links(
                ("GiveApproval" = (
                    operation_id = "giveApproval",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$request.path.wid"))
                )),
                ("RaiseObjection" = (
                    operation_id = "raiseObjection",
                    parameters(("cid" = "$request.path.cid"), ("wid" = "$request.path.wid"))
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = WindowConflict),
    )
)]
async fn withdraw_objection(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    decide(&state, &actor, cid, wid, Decision::WithdrawObjection, None).await
}

/// The optional body of an approval.
#[derive(Deserialize, utoipa::ToSchema)]
struct ApprovalInput {
    /// Trimmed, blank counts as absent; at most 1000 characters (else 422, field `note`).
    #[schema(max_length = 1000)]
    note: Option<String>,
    /// The controller's documented instruction to the processor (GDPR Art. 28(3)(a)), e.g.
    /// "Backblaze may store encrypted backups in the US under the DPF". Required when the window
    /// has a blocking conflict (`third_country_forbidden`): the agreement does not allow the
    /// entry by itself (else 422, field `instruction`). Trimmed, blank counts as absent; at most
    /// 1000 characters; kept on the approval, the authorised list and the annex.
    #[schema(max_length = 1000)]
    instruction: Option<String>,
    /// The person approving for the controller; the token's `sub` is recorded as well.
    decided_by: Option<PersonInput>,
}

/// Approve explicitly
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. A window of
/// another controller is 404.
///
/// Approves the change while the window is `open`: `approval.given` is appended and the
/// window closes at once as `approved` (`window.closed`). The body is optional; `note` is
/// at most 1000 characters. A window with a blocking conflict (the agreement does not allow
/// the entry, e.g. `third_country_forbidden`) is approved only with a documented
/// `instruction` (else 422, field `instruction`). An objection must be withdrawn first (409);
/// a closed window or a passed deadline: 409 with the final state.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/windows/{wid}/approval",
    tag = "windows",
    operation_id = "giveApproval",
    params(ControllerId, WindowId),
    request_body(content = ref("#/components/schemas/ApprovalInput"), example = json!({"note": "Approved by the DPO"})),
    responses(
        (status = 200, description = "The window, closed as `approved`.", body = ObjectionWindow),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = WindowConflict),
        (status = 413, response = PayloadTooLarge),
    )
)]
async fn approve(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    let (note, instruction, decided_by) = match optional_json::<ApprovalInput>(&body)? {
        Some(input) => (
            bounded("note", input.note)?,
            bounded("instruction", input.instruction)?,
            person(input.decided_by)?,
        ),
        None => (None, None, None),
    };
    decide(
        &state,
        &actor,
        cid,
        wid,
        Decision::Approve { note, instruction },
        decided_by,
    )
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AsOfQuery {
    /// An RFC 3339 instant (years 1 to 9999), e.g. `2026-11-23T12:00:00Z`; default now. Not
    /// such an instant: 422 (field `as_of`).
    #[param(format = DateTime, example = "2026-11-23T12:00:00Z")]
    as_of: Option<String>,
}

/// A controller's authorised list
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token.
///
/// For each of the controller's agreements signed by `as_of` (default now): the entries
/// of that processor in use at `as_of` that the controller has authorised — by the
/// agreement itself (on the list when it was signed), or through a window that ended
/// `approved` or `tacit_consent` — in `items`; and the entries in use without its
/// authorisation in `not_authorised` (its window ended `objected` or `not_approved`, or
/// the entry is in use before the window closed). Not paginated.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/subprocessors",
    tag = "windows",
    operation_id = "getAuthorisedList",
    params(ControllerId, AsOfQuery),
    responses(
        (status = 200, description = "The authorised list.", body = AuthorisedList),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn authorised(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let as_of = match query.as_of.as_deref() {
        Some(text) => parse_instant("as_of", text)?,
        None => state.clock.now(),
    };
    let list = state
        .db(move |conn| {
            organisations::get_controller(conn, &cid)?;
            crate::store::authorised::controller_authorised_list(conn, &cid, as_of)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, get, object, withdraw_objection, approve, authorised),
    components(
        schemas(ObjectionInput, ApprovalInput, WindowConflictProblem),
        responses(WindowConflict)
    )
)]
pub struct Api;
