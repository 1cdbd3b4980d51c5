//! HTTP: actix handlers per resource. Handlers check who may do what, parse input, and call
//! the store through `web::block`; they never build SQL themselves.

pub mod agreements;
pub mod annex;
pub mod auth;
pub mod changes;
pub mod clock;
pub mod controllers;
pub mod error;
pub mod feeds;
pub mod health;
pub mod i18n;
pub mod pages;
pub mod processors;
pub mod webhooks;
pub mod windows;

use crate::clock::Clock;
use crate::store::{DbConnection, Pool, StoreError};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use error::ApiError;
use serde::Deserialize;

/// Request bodies above this are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub clock: Clock,
    pub public_url: String,
    /// Wakes the sweeper when something may have become due.
    pub sweeper: std::sync::Arc<tokio::sync::Notify>,
    /// Windows closed per transaction when a request runs a sweep.
    pub sweep_batch: i64,
    /// Rendered Atom pages, shared by every worker.
    pub feed_cache: std::sync::Arc<feeds::FeedCache>,
}

impl AppState {
    pub fn wake_sweeper(&self) {
        self.sweeper.notify_one();
    }

    /// Runs blocking store work on the blocking pool; the connection is taken inside too,
    /// because waiting for one can block as well.
    pub async fn db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let result = web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?;
        result.map_err(ApiError::from)
    }
}

/// Registers routes and remembers them, so a test can hold the list against openapi.yaml.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    registered: Vec<(Method, &'static str)>,
}

impl Routes<'_> {
    pub fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.registered.push((method.clone(), path));
        self.cfg.route(path, web::method(method).to(handler));
        self
    }
}

/// Registers every route of the API; returns (method, path) of each.
pub fn register(cfg: &mut web::ServiceConfig, test_clock: bool) -> Vec<(Method, &'static str)> {
    cfg.app_data(json_config())
        .app_data(query_config())
        .app_data(path_config());
    let mut routes = Routes {
        cfg,
        registered: Vec::new(),
    };
    health::routes(&mut routes);
    auth::routes(&mut routes);
    processors::routes(&mut routes);
    changes::routes(&mut routes);
    controllers::routes(&mut routes);
    windows::routes(&mut routes);
    agreements::routes(&mut routes);
    // After processors: /events/verify must be matched before /events/{eid}.
    feeds::routes(&mut routes);
    webhooks::routes(&mut routes);
    pages::routes(&mut routes);
    annex::routes(&mut routes);
    if test_clock {
        clock::routes(&mut routes);
    }
    routes.registered
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|error, _req| json_error(error).into())
}

/// Says what is wrong with a body: too large, not JSON, or JSON of the wrong shape.
fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            ApiError::PayloadTooLarge(format!("the body has {length} bytes; the limit is {limit}"))
        }
        JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(format!(
            "the body is larger than the limit of {limit} bytes"
        )),
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`".into(),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Invalid(vec![crate::domain::FieldError::new(
                "body",
                format!("wrong type or value: {e}"),
            )])
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
        }
        other => ApiError::BadRequest(format!("cannot read the body: {other}")),
    }
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
        ApiError::BadRequest(format!("bad query parameter: {error}")).into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error: PathError, _req| {
        ApiError::NotFound(format!("no such resource: {error}")).into()
    })
}

/// Anything no route matched.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound(format!(
        "no route {} {}; see /openapi.yaml",
        req.method(),
        req.path()
    )))
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<crate::store::PageRequest, ApiError> {
        crate::store::PageRequest::parse(self.limit, self.cursor.as_deref()).map_err(ApiError::from)
    }
}

/// `?limit=&cursor=&state=` of the lists that can be filtered by state.
#[derive(Debug, Deserialize)]
pub struct StateListQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub state: Option<String>,
}

impl StateListQuery {
    pub fn page(&self) -> Result<crate::store::PageRequest, ApiError> {
        crate::store::PageRequest::parse(self.limit, self.cursor.as_deref()).map_err(ApiError::from)
    }

    /// The `state` filter, one of `known`; an unknown value is refused with the known ones.
    pub fn state<T: Copy>(
        &self,
        what: &str,
        known: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<Option<T>, ApiError> {
        let Some(text) = self.state.as_deref() else {
            return Ok(None);
        };
        known
            .iter()
            .copied()
            .find(|s| name(*s) == text)
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<&str> = known.iter().map(|s| name(*s)).collect();
                error::invalid(
                    "state",
                    format!("`{text}` is not a {what} state: {}", names.join(", ")),
                )
            })
    }
}

/// Parses an RFC 3339 instant from a query parameter.
pub fn parse_instant(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            error::invalid(
                field,
                format!("`{text}` is not an RFC 3339 instant such as 2026-11-23T12:00:00Z"),
            )
        })
}
