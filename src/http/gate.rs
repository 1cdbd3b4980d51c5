//! SQLite has one writer at a time. Without a gate, every request that writes takes a pooled
//! connection and then waits inside SQLite for the write lock, so a burst of writers holds the
//! whole pool and readers time out with 503. The gate makes writing requests queue in memory,
//! one at a time, before they take a connection: readers always find one. PostgreSQL needs no
//! gate (its writers wait on row locks, not on the whole database).

use super::error::ApiError;
use super::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a writing request waits for its turn before it is told to retry: SQLite's own
/// busy timeout, so the gate never gives up sooner than the database would.
const WAIT: Duration = Duration::from_secs(10);

/// One permit: the writers of this process take turns.
pub fn sqlite_writers() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(1))
}

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let gate = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.write_gate.clone())
        .filter(|_| writes);
    let _permit = match gate {
        None => None,
        Some(gate) => match tokio::time::timeout(WAIT, gate.acquire_owned()).await {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                let refusal = ApiError::Unavailable(
                    "the database is busy with other writes; retry in a moment".into(),
                );
                return Ok(req.error_response(refusal).map_into_right_body());
            }
        },
    };
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
