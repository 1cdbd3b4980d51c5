//! HTTP: actix handlers per resource. Handlers check who may do what, parse input, and call
//! the store through `web::block`; they never build SQL themselves.

pub mod adequacy;
pub mod agreement_import;
pub mod agreements;
pub mod annex;
pub mod annex_text;
pub mod annex_view;
pub mod auth;
pub mod calendar;
pub mod change_page;
pub mod changes;
pub mod clock;
pub mod conditional;
pub mod confirm;
pub mod contacts;
pub mod controllers;
pub mod cors;
pub mod decide;
pub mod encoding;
pub mod error;
pub mod events;
pub mod evidence_log;
pub mod feeds;
pub mod gate;
pub mod guard;
pub mod health;
pub mod i18n;
pub mod idempotency;
pub mod jwks;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod pages;
pub mod processors;
pub mod resolutions;
pub mod subscriptions;
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
    /// Time the processor gets between the last window's close and `planned_from`.
    pub reaction_time: chrono::Duration,
    /// Rendered Atom pages, shared by every worker.
    pub feed_cache: std::sync::Arc<feeds::FeedCache>,
    /// On SQLite, writing requests take turns here before they take a connection.
    pub write_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// What /metrics reports; the observe middleware counts every request here.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Signs the evidence log's checkpoints at the end of every write that appends events.
    pub log: std::sync::Arc<crate::store::log::LogSigner>,
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
        let (pool, log) = (self.pool.clone(), self.log.clone());
        let result = web::block(move || {
            let mut conn = pool.get()?;
            crate::store::log::with_signer(&log, || work(&mut conn))
        })
        .await?;
        result.map_err(ApiError::from)
    }
}

/// Registers routes and remembers them, so a test can hold the list against openapi.yaml.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    registered: Vec<(Method, &'static str)>,
    /// Every path with the routes (one per method) that answer it, in the order first added.
    paths: Vec<(&'static str, Vec<(Method, actix_web::Route)>)>,
}

impl Routes<'_> {
    pub fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.registered.push((method.clone(), path));
        // RFC 9110: every GET route answers HEAD too (actix sends the headers without the body).
        let mut routes = Vec::new();
        if method == Method::GET {
            routes.push((Method::HEAD, web::head().to(handler.clone())));
        }
        routes.push((method.clone(), web::method(method).to(handler)));
        match self.paths.iter_mut().find(|(known, _)| *known == path) {
            Some((_, known)) => known.extend(routes),
            None => self.paths.push((path, routes)),
        }
        self
    }

    /// Mounts the paths as a tree of scopes, one per shared leading segment, so a request is
    /// matched segment by segment instead of against every path in turn (route matching was
    /// the largest cost of an unchanged feed read).
    fn mount(self) -> Vec<(Method, &'static str)> {
        let paths = self
            .paths
            .into_iter()
            .map(|(path, routes)| (path.to_string(), routes))
            .collect();
        mount_level(self.cfg, paths);
        self.registered
    }
}

type PathRoutes = (String, Vec<(Method, actix_web::Route)>);

/// Mounts `paths` (each relative to the scope being built) on `cfg`. Paths that share their
/// first segment go into a scope of that segment. A scope takes every request under its prefix
/// (the router does not fall through to a sibling), so where a level mixes a `{placeholder}`
/// segment with others, its paths stay flat resources matched in the order they were added.
fn mount_level(cfg: &mut web::ServiceConfig, paths: Vec<PathRoutes>) {
    let mut groups: Vec<(String, Vec<PathRoutes>)> = Vec::new();
    for (path, routes) in paths {
        let segment = path.split('/').nth(1).unwrap_or_default().to_string();
        match groups.iter_mut().find(|(known, _)| *known == segment) {
            Some((_, members)) => members.push((path, routes)),
            None => groups.push((segment, vec![(path, routes)])),
        }
    }
    let segments = groups.iter().filter(|(segment, _)| !segment.is_empty());
    let mixed = segments.clone().count() > 1 && segments.clone().any(|(s, _)| s.starts_with('{'));
    for (segment, members) in groups {
        if mixed || segment.is_empty() || members.len() == 1 {
            for (path, routes) in members {
                cfg.service(resource(&path, routes));
            }
            continue;
        }
        let prefix = format!("/{segment}");
        let inner: Vec<PathRoutes> = members
            .into_iter()
            .map(|(path, routes)| {
                let rest = path.strip_prefix(&prefix).unwrap_or_default().to_string();
                (rest, routes)
            })
            .collect();
        cfg.service(web::scope(&prefix).configure(|cfg| mount_level(cfg, inner)));
    }
}

/// One resource answering `routes`, guarded by their methods: a request with another method
/// goes on to the next path that matches (`no_route` answers 405 in the end).
fn resource(path: &str, routes: Vec<(Method, actix_web::Route)>) -> actix_web::Resource {
    let methods: Vec<Method> = routes.iter().map(|(method, _)| method.clone()).collect();
    let mut resource = web::resource(path).guard(actix_web::guard::fn_guard(move |ctx| {
        methods.contains(&ctx.head().method)
    }));
    for (_, route) in routes {
        resource = resource.route(route);
    }
    resource
}

/// Registers every route of the API; returns (method, path) of each.
pub fn register(cfg: &mut web::ServiceConfig, test_clock: bool) -> Vec<(Method, &'static str)> {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(json_config())
        .app_data(query_config())
        .app_data(path_config());
    let registered = {
        let mut routes = Routes {
            cfg,
            registered: Vec::new(),
            paths: Vec::new(),
        };
        health::routes(&mut routes);
        auth::routes(&mut routes);
        processors::routes(&mut routes);
        // /events/verify must be matched before /events/{eid}: events::routes adds them in that order.
        events::routes(&mut routes);
        evidence_log::routes(&mut routes);
        changes::routes(&mut routes);
        controllers::routes(&mut routes);
        windows::routes(&mut routes);
        resolutions::routes(&mut routes);
        agreements::routes(&mut routes);
        agreement_import::routes(&mut routes);
        feeds::routes(&mut routes);
        calendar::routes(&mut routes);
        webhooks::routes(&mut routes);
        contacts::routes(&mut routes);
        pages::routes(&mut routes);
        change_page::routes(&mut routes);
        decide::routes(&mut routes);
        confirm::routes(&mut routes);
        subscriptions::routes(&mut routes);
        annex::routes(&mut routes);
        // Answers 404 unless SUBREG_METRICS_TOKEN puts it on the public port (http/metrics.rs).
        metrics::routes(&mut routes);
        if test_clock {
            clock::routes(&mut routes);
        }
        routes.add(Method::GET, "/", root);
        routes.mount()
    };
    cfg.app_data(web::Data::new(MethodTable::new(&registered)));
    registered
}

/// Redirects a person who opens the bare host to the processor index
///
/// Public. `302 Found` to `/processors`, the searchable index of processors.
#[utoipa::path(
    get,
    path = "/",
    tag = "pages",
    operation_id = "root",
    security(()),
    responses((
        status = 302,
        description = "Found; `Location` is `/processors`.",
        headers(("Location" = String, description = "`/processors`"))
    ))
)]
async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, "/processors"))
        .finish()
}

/// The methods each path template answers, so a known path asked with another method gets
/// 405 with `Allow` instead of 404.
pub struct MethodTable {
    paths: Vec<(actix_web::dev::ResourceDef, Vec<Method>)>,
}

impl MethodTable {
    fn new(registered: &[(Method, &'static str)]) -> Self {
        let mut paths: Vec<(actix_web::dev::ResourceDef, Vec<Method>)> = Vec::new();
        for (method, path) in registered {
            let mut methods = vec![method.clone()];
            if *method == Method::GET {
                methods.push(Method::HEAD);
            }
            match paths
                .iter_mut()
                .find(|(def, _)| def.pattern() == Some(*path))
            {
                Some((_, known)) => known.extend(methods),
                None => paths.push((actix_web::dev::ResourceDef::new(*path), methods)),
            }
        }
        MethodTable { paths }
    }

    /// The template of the route that answers `method` on `path`, as the router picks it: the
    /// first registered (`/events/verify` before `/events/{eid}`).
    pub fn route(&self, method: &Method, path: &str) -> Option<&str> {
        self.paths
            .iter()
            .find(|(def, methods)| methods.contains(method) && def.is_match(path))
            .and_then(|(def, _)| def.pattern())
    }

    /// The methods allowed on `path`, empty when no route has that path.
    fn allowed(&self, path: &str) -> Vec<Method> {
        let mut allowed: Vec<Method> = self
            .paths
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        allowed.dedup();
        allowed
    }
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

/// Query parameters whose values are secrets (the private feed token): never logged.
const SECRET_PARAMETERS: &[&str] = &["token"];

/// The request line for the access log, with secret query values replaced by `***`.
pub fn log_line(req: &actix_web::dev::ServiceRequest) -> String {
    let query = req.query_string();
    let target = if query.is_empty() {
        req.path().to_string()
    } else {
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if SECRET_PARAMETERS.contains(&name) => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        format!("{}?{}", req.path(), redacted.join("&"))
    };
    format!("{} {target} {:?}", req.method(), req.version())
}

/// Anything no route matched: 405 with `Allow` for a known path, 404 otherwise.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    let allowed = req
        .app_data::<web::Data<MethodTable>>()
        .map(|table| table.allowed(req.path()))
        .unwrap_or_default();
    let error = if allowed.is_empty() {
        ApiError::NotFound(format!(
            "no route {} {}; see /openapi.yaml",
            req.method(),
            req.path()
        ))
    } else {
        ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed,
        }
    };
    actix_web::ResponseError::error_response(&error)
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
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            error::invalid(
                field,
                format!("`{text}` is not an RFC 3339 instant such as 2026-11-23T12:00:00Z"),
            )
        })?;
    crate::domain::text::check_instant(field, at).map_err(|e| ApiError::Invalid(vec![e]))?;
    Ok(at)
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(root))]
pub struct Api;
