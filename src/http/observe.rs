//! The outermost middleware: every request gets an id (a well-formed `X-Request-Id` from the
//! client, or a new UUIDv7), echoed in the response; everything inside runs with the id in
//! scope, so problem+json bodies (error.rs) and log lines name it; and one access line per
//! request is written with the route template, status and latency.

use crate::logging::{self, AccessFields};
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longer client ids are replaced: a log line is no place for a client's essay.
pub const MAX_ID_LEN: usize = 128;

/// The client's id if it is 1 to MAX_ID_LEN visible ASCII characters (no space, no control).
pub fn accepted(value: &HeaderValue) -> Option<String> {
    let bytes = value.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.len() <= MAX_ID_LEN
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    if well_formed {
        value.to_str().ok().map(str::to_string)
    } else {
        None
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(accepted)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    // The request line with secret query values redacted; headers are never logged. Built
    // only when access lines are written at all: at `warn` a request costs no formatting.
    let access_enabled = log::log_enabled!(target: logging::ACCESS_TARGET, log::Level::Info);
    let line = access_enabled.then(|| super::log_line(&req));
    // For the request metrics: where to count, and how to name the route of a request that an
    // inner layer refused before routing (as the router would have matched it).
    let metrics = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|state| state.metrics.clone());
    let table = req
        .app_data::<actix_web::web::Data<super::MethodTable>>()
        .cloned();
    let (http_method, uri) = (req.method().clone(), req.uri().clone());
    let outcome = logging::in_request(id.clone(), async move {
        next.call(req).await.map_err(|error| {
            // Rendered here, inside the scope, so the problem names the request too.
            let response = error.as_response_error().error_response();
            (error.to_string(), response)
        })
    })
    .await;
    let echo = HeaderValue::from_str(&id).ok();
    let log = |status: u16, bytes: BodySize, route: Option<String>| {
        let elapsed = started.elapsed();
        if let Some(metrics) = &metrics {
            metrics.request(http_method.as_str(), route.as_deref(), status, elapsed);
        }
        let Some(line) = &line else {
            return;
        };
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let bytes = match bytes {
            BodySize::Sized(n) => n.to_string(),
            BodySize::None => "0".into(),
            BodySize::Stream => "-".into(),
        };
        logging::access(
            AccessFields {
                request_id: id.clone(),
                method: http_method.to_string(),
                route,
                status,
                latency_ms,
            },
            &format!("{line} {status} {bytes} {latency_ms:.3}ms"),
        );
    };
    match outcome {
        Ok(mut response) => {
            if let Some(echo) = echo {
                response.headers_mut().insert(X_REQUEST_ID, echo);
            }
            log(
                response.status().as_u16(),
                response.response().body().size(),
                response.request().match_pattern(),
            );
            Ok(response)
        }
        // An error no inner layer turned into a response: answered with the one rendered above.
        Err((cause, mut response)) => {
            if let Some(echo) = echo {
                response.headers_mut().insert(X_REQUEST_ID, echo);
            }
            let route = table
                .as_ref()
                .and_then(|table| table.route(&http_method, uri.path()))
                .map(str::to_string);
            log(response.status().as_u16(), response.body().size(), route);
            Err(InternalError::from_response(cause, response).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_taken_only_when_well_formed() {
        let id = |text: &str| HeaderValue::from_str(text).ok().and_then(|v| accepted(&v));
        assert_eq!(id("abc-123_X.y:z").as_deref(), Some("abc-123_X.y:z"));
        assert_eq!(id(&"a".repeat(MAX_ID_LEN)).map(|s| s.len()), Some(128));
        assert_eq!(id(&"a".repeat(MAX_ID_LEN + 1)), None);
        assert_eq!(id(""), None);
        assert_eq!(id("two words"), None);
        assert_eq!(id("tab\there"), None);
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").ok();
        assert_eq!(latin1.and_then(|v| accepted(&v)), None);
    }
}
