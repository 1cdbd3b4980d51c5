//! A controller's objection windows, its decisions, and its authorised list.

use super::auth::Actor;
use super::error::{invalid, ApiError};
use super::{parse_instant, AppState, Routes};
use crate::domain::subprocessor::MAX_TEXT;
use crate::domain::window::{Decision, WindowState};
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
fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
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

fn bounded(field: &str, text: Option<String>) -> Result<Option<String>, ApiError> {
    match text {
        Some(text) if text.chars().count() > MAX_TEXT => Err(invalid(
            field,
            format!("`{field}` is longer than {MAX_TEXT} characters"),
        )),
        other => Ok(other),
    }
}

async fn decide(
    state: &AppState,
    actor: &Actor,
    cid: String,
    wid: String,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    actor.require_controller(&cid)?;
    let now = state.clock.now();
    let window = state
        .db(move |conn| lifecycle::decide(conn, &cid, &wid, decision, now))
        .await?;
    Ok(HttpResponse::Ok().json(window))
}

#[derive(Deserialize)]
struct ObjectionBody {
    reason: Option<String>,
}

async fn object(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    let reason = bounded(
        "reason",
        optional_json::<ObjectionBody>(&body)?.and_then(|b| b.reason),
    )?;
    decide(&state, &actor, cid, wid, Decision::Object { reason }).await
}

async fn withdraw_objection(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    decide(&state, &actor, cid, wid, Decision::WithdrawObjection).await
}

#[derive(Deserialize)]
struct ApprovalBody {
    note: Option<String>,
}

async fn approve(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cid, wid) = path.into_inner();
    let note = bounded(
        "note",
        optional_json::<ApprovalBody>(&body)?.and_then(|b| b.note),
    )?;
    decide(&state, &actor, cid, wid, Decision::Approve { note }).await
}

#[derive(Deserialize)]
struct AsOfQuery {
    as_of: Option<String>,
}

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
            lifecycle::controller_authorised_list(conn, &cid, as_of)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
pub struct Api;
