//! The test clock (only with SUBREG_TEST_CLOCK=1): moves "now" for deadlines and the sweeper.

use super::auth::Actor;
use super::error::{invalid, ApiError};
use super::{AppState, Routes};
use crate::clock::parse_advance;
use crate::store;
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/v1/admin/clock", get)
        .add(Method::POST, "/v1/admin/clock", advance);
}

fn now_body(state: &AppState) -> serde_json::Value {
    serde_json::json!({ "now": state.clock.now(), "offset_ms": state.clock.offset_ms() })
}

async fn get(state: web::Data<AppState>, actor: Actor) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let offset = state.db(store::clock::load_offset).await?;
    state.clock.sync_offset(offset);
    Ok(HttpResponse::Ok().json(now_body(&state)))
}

#[derive(Deserialize)]
struct Advance {
    advance: Option<String>,
}

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
pub struct Api;
