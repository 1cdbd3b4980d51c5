//! A processor's changes: create (draft or announced at once), announce, withdraw, read.

use super::auth::{Actor, MaybeActor, Role};
use super::error::ApiError;
use super::{AppState, Routes};
use crate::domain::change::{self, Change, ChangeInput, ChangeState};
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
    let created = state
        .db(move |conn| lifecycle::create_change(conn, &pid, &spec, now))
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

/// A processor's step on one of its changes (announce, withdraw), then a sweeper wake-up in
/// case the step made something due.
async fn change_step(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    step: fn(&mut DbConnection, &str, &str, DateTime<Utc>) -> Result<Change, StoreError>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    actor.require_processor(&pid)?;
    let now = state.clock.now();
    let change = state.db(move |conn| step(conn, &pid, &chid, now)).await?;
    state.wake_sweeper();
    Ok(HttpResponse::Ok().json(change))
}

async fn announce(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    change_step(state, actor, path, lifecycle::announce).await
}

async fn withdraw(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    change_step(state, actor, path, lifecycle::withdraw).await
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
pub struct Api;
