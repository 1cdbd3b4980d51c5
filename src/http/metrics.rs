//! GET /metrics: Prometheus text (or OpenMetrics when asked) for an operator's scraper.
//!
//! Where it is served is the operator's choice (`Exposure`): with `SUBREG_METRICS_BIND`, on
//! that separate listener only (the public route answers 404); otherwise on the public port
//! only when `SUBREG_METRICS_TOKEN` is set, and then only to `Authorization: Bearer <token>`;
//! with neither, nowhere (404). A token set together with the listener is required there too.

use super::error::ApiError;
use super::{AppState, Routes};
use crate::clock::Clock;
use crate::metrics::Format;
use crate::store::{self, StoreError};
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::http::Method;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use sha2::{Digest, Sha256};
use std::net::TcpListener;
use std::time::Duration;

pub const PATH: &str = "/metrics";

/// How long a scrape waits for a pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(2);
/// How long each of the scrape's queries may run on PostgreSQL.
const STATEMENT_TIMEOUT_MS: u64 = 2_000;
/// How long the scrape waits for the database's part at all before answering without it.
const DB_BUDGET: Duration = Duration::from_secs(5);

/// Where /metrics answers, and whether it needs the token.
#[derive(Clone)]
pub struct Exposure {
    /// Served on the public port (a token is then always set).
    pub public: bool,
    pub token: Option<String>,
}

impl Exposure {
    /// From `SUBREG_METRICS_BIND` (is a listener configured?) and `SUBREG_METRICS_TOKEN`.
    pub fn public_port(listener: bool, token: Option<String>) -> Exposure {
        Exposure {
            public: !listener && token.is_some(),
            token,
        }
    }
}

pub fn routes(routes: &mut Routes) {
    routes.add(Method::GET, PATH, public_metrics);
}

fn not_here() -> ApiError {
    ApiError::NotFound(format!("no route GET {PATH}; see /openapi.yaml"))
}

/// Prometheus metrics
///
/// For the operator's scraper. Served here only when `SUBREG_METRICS_TOKEN` is set and
/// `SUBREG_METRICS_BIND` is not, and then only with `Authorization: Bearer <that token>`
/// (not a JWT); otherwise 404 (with `SUBREG_METRICS_BIND` it is served on that listener).
/// OpenMetrics when `Accept` asks for `application/openmetrics-text`. Never 503: without the
/// database the answer still carries the in-process metrics and `database_up 0`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    operation_id = "metrics",
    security(()),
    responses(
        (
            status = 200,
            description = "The metrics in the Prometheus text format, or OpenMetrics when asked.",
            headers(("Cache-Control" = String, description = "`no-store`")),
            content(
                (String = "text/plain; version=0.0.4"),
                (String = "application/openmetrics-text; version=1.0.0"),
            )
        ),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 404, response = super::openapi::NotFound),
    )
)]
async fn public_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    exposure: Option<web::Data<Exposure>>,
) -> Result<HttpResponse, ApiError> {
    match exposure {
        Some(exposure) if exposure.public => scrape(&req, &state, exposure.token.as_deref()).await,
        _ => Err(not_here()),
    }
}

async fn listener_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    exposure: web::Data<Exposure>,
) -> Result<HttpResponse, ApiError> {
    scrape(&req, &state, exposure.token.as_deref()).await
}

async fn listener_no_route() -> HttpResponse {
    actix_web::ResponseError::error_response(&not_here())
}

/// The separate metrics listener: /metrics and nothing else, one worker, stopped by the
/// application after the public server (it handles no signals itself).
pub fn listener_server(
    listener: TcpListener,
    state: web::Data<AppState>,
    token: Option<String>,
) -> std::io::Result<Server> {
    let exposure = web::Data::new(Exposure {
        public: false,
        token,
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(exposure.clone())
            .route(PATH, web::get().to(listener_metrics))
            .default_service(web::to(listener_no_route))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// Answers a scrape: the token checked first, then the database's part read within a time
/// budget; without it the answer still carries the in-process metrics and `database_up 0`.
async fn scrape(
    req: &HttpRequest,
    state: &AppState,
    token: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = token {
        authorise(req, expected)?;
    }
    let pool = state.pool.clone();
    let now = state.clock.now();
    // Leases are on the real clock, whatever the application clock says.
    let wall_now = Clock::System.now();
    let read = web::block(move || -> Result<store::metrics::Snapshot, StoreError> {
        let mut conn = pool.get_timeout(POOL_WAIT)?;
        store::metrics::snapshot(&mut conn, now, wall_now, STATEMENT_TIMEOUT_MS)
    });
    let snapshot = match tokio::time::timeout(DB_BUDGET, read).await {
        Ok(Ok(Ok(snapshot))) => Ok(snapshot),
        Ok(Ok(Err(error))) => {
            log::warn!("metrics: the database's part failed: {error}");
            Err(())
        }
        Ok(Err(error)) => {
            log::warn!("metrics: the database's part failed: {error}");
            Err(())
        }
        Err(_) => {
            log::warn!("metrics: the database's part took longer than {DB_BUDGET:?}");
            Err(())
        }
    };
    let format = Format::from_accept(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let body = state
        .metrics
        .render(&state.pool, snapshot.as_ref().map_err(|_| ()), now, format);
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// `Authorization: Bearer <token>` with the configured token; 401 otherwise. The token is
/// never logged or echoed.
fn authorise(req: &HttpRequest, expected: &str) -> Result<(), ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(token) if same_secret(token, expected) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized(
            "the bearer token is not the metrics token".into(),
        )),
        None => Err(ApiError::Unauthorized(
            "send Authorization: Bearer <SUBREG_METRICS_TOKEN>".into(),
        )),
    }
}

/// Compares two secrets in time independent of where they differ: the digests are compared
/// whole, so neither the content nor the length of the expected token leaks through timing.
fn same_secret(presented: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("metrics-token-0123", "metrics-token-0123"));
        assert!(!same_secret("metrics-token-0124", "metrics-token-0123"));
        assert!(!same_secret("metrics-token-012", "metrics-token-0123"));
        assert!(!same_secret("", "metrics-token-0123"));
    }

    #[test]
    fn the_public_port_serves_metrics_only_with_a_token_and_no_listener() {
        let token = || Some("metrics-token-0123".to_string());
        assert!(Exposure::public_port(false, token()).public);
        assert!(!Exposure::public_port(true, token()).public);
        assert!(!Exposure::public_port(false, None).public);
        assert!(!Exposure::public_port(true, None).public);
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(public_metrics))]
pub struct Api;
