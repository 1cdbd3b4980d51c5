//! `Idempotency-Key` on POST (IETF httpapi idempotency-key draft, as Stripe does it): a client
//! that retries a POST with the same key gets the first answer again instead of a second write.
//!
//! Keys belong to the caller: the verified token's role and org (every token of that org shares
//! them). The same key with the same request (method, path, query and body) replays the first
//! successful answer (status, body, `Content-Type`, `Location`, `ETag`, ...) for 24 hours, marked
//! `Idempotent-Replayed: true`; with a different request it is 422; while the first request is
//! still running, 409 with `Retry-After`. Only answers below 400 are kept: a refused or failed
//! request wrote nothing, so its key is freed and a retry runs again. A request that never
//! finished (the process died) holds its key for [`LEASE`] at most. Without a key, or without a
//! valid token, a POST is handled as always; the HTML forms outside `/v1/` ignore the header.

use super::auth::{self, Actor, Role};
use super::error::ApiError;
use super::AppState;
use crate::store::idempotency::{self as store, Claim, StoredAnswer};
pub use crate::store::idempotency::{LEASE, RETENTION};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::Duration;

pub const HEADER: &str = "idempotency-key";

/// Marks a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The headers of an answer that are stored and replayed with it.
const KEPT_HEADERS: [&str; 6] = [
    "content-type",
    "location",
    "content-location",
    "etag",
    "last-modified",
    "link",
];

/// Expired keys are deleted at most this often (by the first keyed POST after it).
const PURGE_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// How long a keyed request waits for its turn at the SQLite write gate.
const GATE_WAIT: Duration = Duration::from_secs(10);

/// Per process: when expired keys were last deleted.
#[derive(Default)]
pub struct Idempotency {
    last_purge: Mutex<Option<DateTime<Utc>>>,
}

impl Idempotency {
    fn purge_due(&self, now: DateTime<Utc>) -> bool {
        let Ok(mut last) = self.last_purge.lock() else {
            return false;
        };
        let due = last.is_none_or(|at| now.signed_duration_since(at) >= PURGE_EVERY);
        if due {
            *last = Some(now);
        }
        due
    }
}

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // The JSON API only: the HTML forms (`/decide/{token}`) answer in HTML and are guarded by
    // their own CSRF and used-link checks.
    if *req.method() != Method::POST
        || !req.headers().contains_key(HEADER)
        || !req.path().starts_with("/v1/")
    {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let key = match parse_key(req.headers().get(HEADER)) {
        Ok(key) => key,
        Err(refusal) => return Ok(req.error_response(refusal).map_into_boxed_body()),
    };
    let (Some(state), Ok(Some(actor))) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        auth::actor_of(req.request()).await,
    ) else {
        // No token, or one the route will refuse: nothing to remember.
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let body = match super::guard::read_body(&mut req).await {
        Ok(body) => body,
        Err(refusal) => return Ok(req.error_response(refusal).map_into_boxed_body()),
    };
    let fingerprint = fingerprint(
        req.method(),
        req.uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or(""),
        &body,
    );
    req.set_payload(Payload::from(body));
    let scope = scope_of(&actor);
    let now = state.clock.now();
    if req
        .app_data::<web::Data<Idempotency>>()
        .is_some_and(|i| i.purge_due(now))
    {
        match gated(&state, move |conn| store::purge_expired(conn, now)).await {
            Ok(0) => {}
            Ok(purged) => log::debug!("idempotency: deleted {purged} expired key(s)"),
            Err(error) => log::warn!("idempotency: cannot delete expired keys: {error}"),
        }
    }
    let claimed = {
        let (scope, key) = (scope.clone(), key.clone());
        gated(&state, move |conn| {
            store::claim(conn, &scope, &key, &fingerprint, now)
        })
        .await
    };
    let lease_id = match claimed {
        Err(error) => return Ok(req.error_response(error).map_into_boxed_body()),
        Ok(Claim::Replay(stored)) => {
            let replay = replay(stored);
            return Ok(req.into_response(replay).map_into_boxed_body());
        }
        Ok(Claim::InFlight { locked_until }) => {
            let wait = locked_until
                .signed_duration_since(now)
                .num_seconds()
                .clamp(1, LEASE.num_seconds());
            let refusal = ApiError::Conflict(format!(
                "a request with this Idempotency-Key is still being processed; retry after it \
                 finished (at the latest in {wait} s) to get its answer"
            ));
            let mut response = req.error_response(refusal);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
            return Ok(response.map_into_boxed_body());
        }
        Ok(Claim::Mismatch) => {
            let refusal = ApiError::Unprocessable {
                detail: "this Idempotency-Key was already used for a different request (another \
                         path or body); use a new key for a new request"
                    .into(),
                extra: serde_json::Map::new(),
            };
            return Ok(req.error_response(refusal).map_into_boxed_body());
        }
        Ok(Claim::Run { lease_id }) => lease_id,
    };
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(error) => {
            free(&state, scope, key, lease_id).await;
            return Err(error);
        }
    };
    if response.status().as_u16() >= 400 {
        free(&state, scope, key, lease_id).await;
        return Ok(response.map_into_boxed_body());
    }
    let (http_req, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            free(&state, scope, key, lease_id).await;
            let failed = ApiError::Internal("cannot read the answer to store it".into());
            return Ok(ServiceResponse::new(
                http_req,
                actix_web::ResponseError::error_response(&failed),
            ));
        }
    };
    let stored = StoredAnswer {
        status: head.status().as_u16(),
        headers: head
            .headers()
            .iter()
            .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect(),
        body: bytes.to_vec(),
    };
    let response = head.set_body(bytes);
    let finished = gated(&state, move |conn| {
        store::finish(conn, &scope, &key, &lease_id, &stored)
    })
    .await;
    match finished {
        Ok(true) => {}
        Ok(false) => log::warn!(
            "idempotency: a request outlived its {} s lease; its answer was not stored",
            LEASE.num_seconds()
        ),
        Err(error) => log::warn!("idempotency: cannot store an answer: {error}"),
    }
    Ok(ServiceResponse::new(http_req, response).map_into_boxed_body())
}

/// The key: 1 to [`MAX_KEY_LEN`] visible ASCII characters, bare (as Stripe sends it) or as a
/// structured-field string in double quotes (as the IETF draft writes it).
fn parse_key(value: Option<&HeaderValue>) -> Result<String, ApiError> {
    let refuse = || {
        ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is a \
             good key), optionally in double quotes"
        ))
    };
    let text = value
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?
        .trim();
    let key = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    let visible = key.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"');
    if key.is_empty() || key.len() > MAX_KEY_LEN || !visible {
        return Err(refuse());
    }
    Ok(key.to_string())
}

/// Keys are shared by the tokens of one role and org.
fn scope_of(actor: &Actor) -> String {
    let role = match actor.role {
        Role::Admin => "admin",
        Role::Processor => "processor",
        Role::Controller => "controller",
    };
    format!("{role}:{}", actor.org)
}

/// SHA-256 over the method, the path with its query, and the body.
pub fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update([0]);
    hash.update(path_and_query.as_bytes());
    hash.update([0]);
    hash.update(body);
    hex::encode(hash.finalize())
}

fn replay(stored: StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.append_header((name, value));
        }
    }
    response.insert_header((HeaderName::from_static(REPLAYED), "true"));
    response.body(stored.body)
}

async fn free(state: &AppState, scope: String, key: String, lease_id: String) {
    if let Err(error) = gated(state, move |conn| {
        store::release(conn, &scope, &key, &lease_id)
    })
    .await
    {
        log::warn!("idempotency: cannot free a key (it frees itself after its lease): {error}");
    }
}

/// Store work that writes, taking its turn at the SQLite write gate like a writing request.
async fn gated<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut crate::store::DbConnection) -> Result<T, crate::store::StoreError>
        + Send
        + 'static,
    T: Send + 'static,
{
    let _permit = match &state.write_gate {
        None => None,
        Some(gate) => match tokio::time::timeout(GATE_WAIT, gate.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                return Err(ApiError::Unavailable(
                    "the database is busy with other writes; retry in a moment".into(),
                ))
            }
        },
    };
    state.db(work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Result<String, ApiError> {
        parse_key(Some(
            &HeaderValue::from_str(text)
                .map_err(|_| ApiError::BadRequest("not a header value".into()))?,
        ))
    }

    #[test]
    fn keys_are_bounded_visible_ascii_bare_or_quoted() {
        assert_eq!(
            key("8e03978e-40d5-43e8-bc93-6894a57f9324").ok().as_deref(),
            Some("8e03978e-40d5-43e8-bc93-6894a57f9324")
        );
        assert_eq!(key("\"abc\"").ok().as_deref(), Some("abc"));
        assert!(key("").is_err());
        assert!(key("\"\"").is_err());
        assert!(key("a b").is_err());
        assert!(key("a\"b").is_err());
        assert!(key(&"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(parse_key(None).is_err());
        let latin1 = HeaderValue::from_bytes(b"caf\xe9").ok();
        assert!(parse_key(latin1.as_ref()).is_err());
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let base = fingerprint(&Method::POST, "/v1/processors", b"{}");
        assert_eq!(base, fingerprint(&Method::POST, "/v1/processors", b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/v1/controllers", b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/v1/processors", b"{ }"));
        assert_ne!(
            base,
            fingerprint(&Method::POST, "/v1/processors?x=1", b"{}")
        );
    }
}
