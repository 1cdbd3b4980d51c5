//! CORS by route: the public GET routes (what anyone may read without a token) answer any
//! origin, without credentials, and answer their preflight `OPTIONS`; every other route (a
//! token needed, or a write) answers no CORS header at all, so a browser on another origin can
//! neither read nor write it. Which route a request is for is decided as the router decides
//! (the route it matched, or `MethodTable::route` for a request answered before routing), never
//! by whether a token was sent.

use super::MethodTable;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// The GET routes anyone may read from any origin. Every other route is private.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/",
    "/healthz",
    "/readyz",
    "/openapi.yaml",
    "/openapi.json",
    "/v1/processors",
    "/v1/processors/{pid}",
    "/v1/processors/{pid}/subprocessors",
    "/v1/processors/{pid}/subprocessors.csv",
    "/v1/processors/{pid}/feed.atom",
    "/v1/processors/{pid}/changes",
    "/v1/processors/{pid}/changes/{chid}",
    "/v1/processors/{pid}/events/{eid}",
    "/v1/processors/{pid}/log/checkpoint",
    "/v1/processors/{pid}/log/inclusion",
    "/v1/processors/{pid}/log/consistency",
    "/.well-known/subreg/log-keys",
    "/processors",
    "/processors/{pid}",
    "/static/subreg.css",
];

/// Response headers a script on another origin may read.
const EXPOSED: &str = "ETag, Last-Modified, X-Request-Id, Link";
/// Request headers a preflight may ask for; `Authorization` is not one of them.
const ALLOWED_HEADERS: &str =
    "Accept, Accept-Language, If-None-Match, If-Modified-Since, X-Request-Id";
/// How long a browser may reuse a preflight answer, in seconds.
const MAX_AGE: &str = "86400";

fn is_public(req: &ServiceRequest, method: &Method) -> bool {
    req.app_data::<web::Data<MethodTable>>()
        .and_then(|table| table.route(method, req.path()))
        .is_some_and(|route| PUBLIC_ROUTES.contains(&route))
}

fn allow_any_origin(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.method() == Method::OPTIONS && is_public(&req, &Method::GET) {
        let requested = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .map(|v| v.as_bytes().to_vec());
        // A preflight for a write on a public path is a write's: no CORS (405 below).
        if matches!(requested.as_deref(), None | Some(b"GET" | b"HEAD")) {
            let allowed = req
                .app_data::<web::Data<MethodTable>>()
                .map(|table| table.allowed(req.path()))
                .unwrap_or_default();
            let mut names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            names.push("OPTIONS");
            let mut response = HttpResponse::NoContent();
            response
                .insert_header((header::ALLOW, names.join(", ")))
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE));
            return Ok(req.into_response(response.finish()).map_into_right_body());
        }
    }
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    // Which route answers is known once the router has run; a request an inner layer answered
    // before routing (gate, guard) is looked up as the router would have matched it.
    let lookup = read.then(|| {
        let table = req.app_data::<web::Data<MethodTable>>().cloned();
        (table, req.method().clone(), req.uri().clone())
    });
    let mut response = next.call(req).await?;
    let public = lookup.is_some_and(|(table, method, uri)| {
        let routed = response.request().match_pattern();
        let route = routed.as_deref().or_else(|| {
            table
                .as_deref()
                .and_then(|table| table.route(&method, uri.path()))
        });
        route.is_some_and(|route| PUBLIC_ROUTES.contains(&route))
    });
    if public {
        let headers = response.headers_mut();
        allow_any_origin(headers);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    Ok(response.map_into_left_body())
}
