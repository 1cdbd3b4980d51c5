use super::error::ApiError;
use super::{AppState, Routes};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");
/// The same document as JSON, for tools that read only JSON; a test keeps it equal to the YAML.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/healthz", healthz)
        .add(Method::GET, "/readyz", readyz)
        .add(Method::GET, "/openapi.yaml", openapi)
        .add(Method::GET, "/openapi.json", openapi_json);
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db(crate::store::db::ping)
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer".into()))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI_JSON)
}
