use super::error::ApiError;
use super::{AppState, Routes};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

use serde::Serialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/healthz", healthz)
        .add(Method::GET, "/readyz", readyz)
        .add(Method::GET, "/openapi.yaml", openapi)
        .add(Method::GET, "/openapi.json", openapi_json);
}

/// What /healthz and /readyz answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthStatus {
    #[schema(examples("ok", "ready"))]
    status: &'static str,
}

/// Liveness
///
/// Answers as long as the process runs. Public.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "healthz",
    security(()),
    responses((
        status = 200,
        description = "The process is alive.",
        body = HealthStatus,
        example = json!({"status": "ok"})
    ))
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// Readiness
///
/// Answers 200 when the database answers, else 503. Public.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "readyz",
    security(()),
    responses((
        status = 200,
        description = "The database answers.",
        body = HealthStatus,
        example = json!({"status": "ready"})
    ))
)]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db(crate::store::db::ping)
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer".into()))?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ready" }))
}

/// This API description
///
/// The OpenAPI 3.1 document describing the API, generated from the code. Public.
#[utoipa::path(
    get,
    path = "/openapi.yaml",
    tag = "health",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "This document.", body = String, content_type = "application/yaml"))
)]
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(super::openapi::yaml())
}

/// This API description as JSON
///
/// The same OpenAPI 3.1 document as `/openapi.yaml`, in JSON. Public.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    operation_id = "openapiJson",
    security(()),
    responses((status = 200, description = "This document.", body = Object, content_type = "application/json"))
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(super::openapi::json())
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, openapi, openapi_json))]
pub struct Api;
