use super::auth::{Actor, Role};
use super::error::ApiError;
use super::{AppState, Routes};
use crate::domain::agreement::{self, AgreementInput};
use crate::store::agreements;
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub fn routes(routes: &mut Routes) {
    routes.add(Method::POST, "/v1/agreements", create).add(
        Method::GET,
        "/v1/agreements/{aid}",
        get,
    );
}

async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<AgreementInput>,
) -> Result<HttpResponse, ApiError> {
    if !actor.is_admin() && actor.role != Role::Processor {
        return Err(ApiError::Forbidden(
            "agreements are recorded by an admin or by the processor".into(),
        ));
    }
    let now = state.clock.now();
    let spec = agreement::validate(&body, now)?;
    actor.require_processor(&spec.processor_id)?;
    let created = state
        .db(move |conn| agreements::create(conn, &spec, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/agreements/{}", created.id)))
        .json(created))
}

async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let aid = path.into_inner();
    let not_found = ApiError::NotFound(format!("agreement `{aid}` does not exist"));
    let found = state.db(move |conn| agreements::get(conn, &aid)).await;
    match found {
        // Parties other than the two signatories learn nothing, not even that it exists.
        Ok(a)
            if actor.is_admin()
                || actor.acts_for(Role::Processor, &a.processor_id)
                || actor.acts_for(Role::Controller, &a.controller_id) =>
        {
            Ok(HttpResponse::Ok().json(a))
        }
        Ok(_) | Err(ApiError::NotFound(_)) => Err(not_found),
        Err(other) => Err(other),
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
pub struct Api;
