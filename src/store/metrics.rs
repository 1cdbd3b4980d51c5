//! What `/metrics` reads from the database at scrape time: a few aggregates over indexed
//! columns, in one read transaction, with a statement timeout on PostgreSQL so a slow database
//! cannot hold a scrape (or a connection) for long.

use crate::domain::change::ChangeState;
use crate::domain::webhook::DeliveryState;
use crate::store::schema::{changes, objection_windows, webhook_deliveries};
use crate::store::{from_db, to_db, DbConnection, StoreError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

/// The database's part of a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Webhook deliveries by state: `pending` (waiting, no live lease), `leased` (pending and
    /// claimed by a dispatcher now), `succeeded`, `failed`.
    pub outbox: Vec<(&'static str, i64)>,
    /// When the oldest delivery that is due and not leased became due.
    pub oldest_due_delivery: Option<DateTime<Utc>>,
    /// Objection windows not yet closed.
    pub windows_open: i64,
    /// Open windows whose deadline falls within the next 24 hours.
    pub windows_closing_24h: i64,
    /// The oldest deadline or `planned_from` that has passed without the sweeper acting on it.
    pub oldest_unswept: Option<DateTime<Utc>>,
}

/// Reads the snapshot. `now` is the application clock (deadlines, due times); `wall_now` the
/// real clock (leases).
pub fn snapshot(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    wall_now: DateTime<Utc>,
    statement_timeout_ms: u64,
) -> Result<Snapshot, StoreError> {
    let (now_db, wall_db) = (to_db(now), to_db(wall_now));
    let day_ahead = to_db(now + chrono::Duration::hours(24));
    conn.transaction(|conn| {
        if let DbConnection::Postgresql(pg) = conn {
            // SET LOCAL takes no bind parameter; the number is ours, not a request's.
            diesel::sql_query(format!(
                "SET LOCAL statement_timeout = {statement_timeout_ms}"
            ))
            .execute(pg)?;
        }
        let by_state: Vec<(String, i64)> = webhook_deliveries::table
            .group_by(webhook_deliveries::state)
            .select((webhook_deliveries::state, count_star()))
            .load(conn)?;
        let count = |state: DeliveryState| {
            by_state
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map_or(0, |(_, n)| *n)
        };
        let pending = webhook_deliveries::table
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str()));
        let leased: i64 = pending
            .filter(webhook_deliveries::leased_until.ge(wall_db))
            .select(count_star())
            .first(conn)?;
        let oldest_due: Option<NaiveDateTime> = pending
            .filter(webhook_deliveries::next_attempt_at.le(now_db))
            .filter(
                webhook_deliveries::leased_until
                    .is_null()
                    .or(webhook_deliveries::leased_until.lt(wall_db)),
            )
            .select(min(webhook_deliveries::next_attempt_at))
            .first(conn)?;
        let open = objection_windows::table.filter(objection_windows::closed_at.is_null());
        let windows_open: i64 = open.select(count_star()).first(conn)?;
        let windows_closing_24h: i64 = open
            .filter(objection_windows::closes_at.gt(now_db))
            .filter(objection_windows::closes_at.le(day_ahead))
            .select(count_star())
            .first(conn)?;
        let oldest_window: Option<NaiveDateTime> = open
            .filter(objection_windows::closes_at.le(now_db))
            .select(min(objection_windows::closes_at))
            .first(conn)?;
        let oldest_change: Option<NaiveDateTime> = changes::table
            .filter(changes::state.eq(ChangeState::Announced.as_str()))
            .filter(changes::planned_from.le(now_db))
            .select(min(changes::planned_from))
            .first::<Option<NaiveDateTime>>(conn)?;
        let oldest_unswept = match (oldest_window, oldest_change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let pending_total = count(DeliveryState::Pending);
        Ok(Snapshot {
            outbox: vec![
                ("pending", pending_total.saturating_sub(leased).max(0)),
                ("leased", leased),
                ("succeeded", count(DeliveryState::Succeeded)),
                ("failed", count(DeliveryState::Failed)),
            ],
            oldest_due_delivery: oldest_due.map(from_db),
            windows_open,
            windows_closing_24h,
            oldest_unswept: oldest_unswept.map(from_db),
        })
    })
}
