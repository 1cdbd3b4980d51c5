use super::auth::Actor;
use super::error::ApiError;
use super::{AppState, PageQuery, Routes};
use crate::domain::party::{validate_controller, OrganisationInput};
use crate::store::{agreements, organisations};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::POST, "/v1/controllers", create)
        .add(Method::GET, "/v1/controllers", list)
        .add(Method::GET, "/v1/controllers/{cid}", get)
        .add(
            Method::GET,
            "/v1/controllers/{cid}/agreements",
            list_agreements,
        );
}

async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<OrganisationInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let spec = validate_controller(&body)?;
    let now = state.clock.now();
    let controller = state
        .db(move |conn| organisations::create_controller(conn, &spec, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/controllers/{}", controller.id)))
        .json(controller))
}

async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let page = query.request()?;
    let controllers = state
        .db(move |conn| organisations::list_controllers(conn, &page))
        .await?;
    Ok(HttpResponse::Ok().json(controllers))
}

async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let controller = state
        .db(move |conn| organisations::get_controller(conn, &cid))
        .await?;
    Ok(HttpResponse::Ok().json(controller))
}

async fn list_agreements(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let page = query.request()?;
    let list = state
        .db(move |conn| {
            organisations::get_controller(conn, &cid)?;
            agreements::list(conn, agreements::Party::Controller(&cid), &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
pub struct Api;
