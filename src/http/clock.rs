//! The test clock (only with SUBREG_TEST_CLOCK=1): moves "now" for deadlines and the sweeper.

use super::auth::Actor;
use super::error::{invalid, ApiError};
use super::openapi::{Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType};
use super::{AppState, Routes};
use crate::clock::parse_advance;
use crate::store;
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/v1/admin/clock", get)
        .add(Method::POST, "/v1/admin/clock", advance);
}

/// The test clock.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Clock {
    /// What "now" is for deadlines and the sweeper.
    now: DateTime<Utc>,
    /// How far the test clock is ahead of the system clock, in milliseconds.
    #[schema(minimum = 0)]
    offset_ms: i64,
}

fn now_body(state: &AppState) -> Clock {
    Clock {
        now: state.clock.now(),
        offset_ms: state.clock.offset_ms(),
    }
}

/// Read the test clock
///
/// Requires an `admin` token. This route exists only when the server runs with
/// `SUBREG_TEST_CLOCK=1` (off by default; otherwise 404). Answers what "now" is for
/// deadlines and the sweeper, and how far the test clock is ahead of the system clock.
#[utoipa::path(
    get,
    path = "/v1/admin/clock",
    tag = "admin",
    operation_id = "getClock",
    responses(
        (status = 200, description = "The test clock.", body = Clock),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn get(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let offset = state.db(store::clock::load_offset).await?;
    state.clock.sync_offset(offset);
    Ok(HttpResponse::Ok().json(now_body(&state)))
}

/// How far to move the test clock.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ClockAdvance)]
struct Advance {
    /// A positive ISO 8601 duration, e.g. `P8D` or `PT36H`, of at most 100 years in all
    /// (the clock's offset included); anything else is 422 (field `advance`).
    #[schema(
        value_type = String,
        required = true,
        pattern = r"^P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\.[0-9]+)?S)?)?$",
        examples("P8D")
    )]
    advance: Option<String>,
}

/// Move the test clock forward
///
/// Requires an `admin` token. This route exists only when the server runs with
/// `SUBREG_TEST_CLOCK=1` (off by default; otherwise 404). Moves "now" forward by a
/// positive ISO 8601 duration, for every instance on the same database (the offset is
/// stored); the clock never moves back.
///
/// Before answering it runs one sweep at the new "now": windows whose deadline has passed
/// close (`window.closed`) and announced changes whose `planned_from` has come become
/// effective (`change.effective`), so the next read already sees them.
#[utoipa::path(
    post,
    path = "/v1/admin/clock",
    tag = "admin",
    operation_id = "advanceClock",
    request_body(content = Advance, example = json!({"advance": "P8D"})),
    responses(
        (status = 200, description = "The test clock after the move.", body = Clock),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
async fn advance(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<Advance>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let text = body.advance.clone().ok_or_else(|| {
        invalid(
            "advance",
            "`advance` is required, an ISO 8601 duration such as P8D",
        )
    })?;
    let by = parse_advance(&text).map_err(|message| invalid("advance", message))?;
    let clock = state.clock.clone();
    let batch = state.sweep_batch;
    // The sweep runs before the answer, so a caller that moved the clock past a deadline
    // reads the closed window straight away.
    state
        .db(move |conn| {
            let Some(offset) = store::clock::advance_offset(conn, by.num_milliseconds())? else {
                return Ok(false);
            };
            clock.sync_offset(offset);
            store::lifecycle::sweep(conn, clock.now(), batch)?;
            Ok(true)
        })
        .await?
        .then_some(())
        .ok_or_else(|| {
            invalid(
                "advance",
                "the test clock moves at most 100 years ahead in all; it is already close to that",
            )
        })?;
    state.wake_sweeper();
    Ok(HttpResponse::Ok().json(now_body(&state)))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(get, advance))]
pub struct Api;
