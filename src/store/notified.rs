//! When a window's notice reached its controller (issue 13 item 7): the first recorded dispatch
//! of the `window.opened` notice to that controller, an e-mail accepted by the SMTP server or a
//! webhook answered 2xx. Every window keeps it as `notified_at`/`notified_via`; under
//! `notice_starts: dispatch` it is when the window starts: the deadline is counted from it, and
//! `window.notified` records the deadline on the log.

use super::events::{self, NewEvent};
use super::lifecycle::{get_change, to_window, window_event_data, WindowRow};
use super::schema::{agreement_versions, objection_windows};
use super::{to_db, DbConnection, StoreError};
use crate::domain::agreement::NoticeStarts;
use crate::domain::event::EventType;
use crate::domain::window::NoticeChannel;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// A window's deadline: the instant it closes and its last local day.
pub type Deadline = (DateTime<Utc>, Option<chrono::NaiveDate>);

/// The terms that count a window's deadline: whether it starts at dispatch, its days and zone.
fn notice_terms(
    conn: &mut DbConnection,
    row: &WindowRow,
) -> Result<(NoticeStarts, u16, chrono_tz::Tz), StoreError> {
    let (notice_starts, notice_days, zone): (String, i32, String) = agreement_versions::table
        .find((&row.agreement_id, row.agreement_version))
        .select((
            agreement_versions::notice_starts,
            agreement_versions::notice_days,
            agreement_versions::time_zone,
        ))
        .first(conn)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("window {}: bad {what}", row.id));
    Ok((
        NoticeStarts::parse(&notice_starts).ok_or_else(|| corrupt("notice_starts"))?,
        u16::try_from(notice_days).map_err(|_| corrupt("notice_days"))?,
        crate::domain::deadline::parse_zone(&zone).ok_or_else(|| corrupt("time_zone"))?,
    ))
}

/// The deadline terms of a window waiting for its notice's dispatch to start it.
#[derive(Clone, Copy, Debug)]
pub struct DispatchStart {
    days: u16,
    zone: chrono_tz::Tz,
}

impl DispatchStart {
    /// The deadline of the window if its notice is dispatched at `at`.
    pub fn deadline(&self, at: DateTime<Utc>) -> Deadline {
        (
            crate::domain::change::window_closes_at(at, self.days, self.zone),
            crate::domain::deadline::last_day(at, self.days, self.zone),
        )
    }
}

/// Whether a dispatch of the window's notice would start it, and how it then counts.
fn waiting_start(
    conn: &mut DbConnection,
    row: &WindowRow,
) -> Result<Option<DispatchStart>, StoreError> {
    let (notice_starts, days, zone) = notice_terms(conn, row)?;
    let waiting = notice_starts == NoticeStarts::Dispatch
        && row.closed_at.is_none()
        && super::lifecycle::started(row.closes_at).is_none();
    Ok(waiting.then_some(DispatchStart { days, zone }))
}

/// Whether a dispatch of the window's notice at `at` would start it, and with what deadline.
fn deadline_from(
    conn: &mut DbConnection,
    row: &WindowRow,
    at: DateTime<Utc>,
) -> Result<Option<Deadline>, StoreError> {
    Ok(waiting_start(conn, row)?.map(|start| start.deadline(at)))
}

/// How the window of `window_id` counts its deadline if its notice's dispatch starts it;
/// `None` for a window that runs already, or is closed.
pub(crate) fn start_if_dispatched(
    conn: &mut DbConnection,
    window_id: &str,
) -> Result<Option<DispatchStart>, StoreError> {
    let Some(row) = objection_windows::table
        .find(window_id)
        .select(WindowRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    waiting_start(conn, &row)
}

/// Records the first dispatch of the notice of `window_id` (a later one changes nothing).
/// Caller holds the processor's chain lock, in the transaction that records the dispatch.
pub(crate) fn record_locked(
    conn: &mut DbConnection,
    window_id: &str,
    via: NoticeChannel,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(row) = objection_windows::table
        .find(window_id)
        .filter(objection_windows::notified_at.is_null())
        .select(WindowRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(());
    };
    let deadline = deadline_from(conn, &row, at)?;
    let target = objection_windows::table
        .find(window_id)
        .filter(objection_windows::notified_at.is_null());
    let noted = (
        objection_windows::notified_at.eq(to_db(at)),
        objection_windows::notified_via.eq(via.as_str()),
    );
    let Some((closes_at, last_day)) = deadline else {
        diesel::update(target).set(noted).execute(conn)?;
        return Ok(());
    };
    diesel::update(target)
        .set((
            noted,
            objection_windows::closes_at.eq(to_db(closes_at)),
            objection_windows::closes_on.eq(last_day.map(|d| d.to_string())),
        ))
        .execute(conn)?;
    let fresh = objection_windows::table
        .find(window_id)
        .select(WindowRow::as_select())
        .first(conn)?;
    let change = get_change(conn, &row.processor_id, &row.change_id, false)?;
    let window = to_window(fresh, Some(&change))?;
    let data = window_event_data(&window, &super::lifecycle::json(&change)?)?;
    log::info!(
        "window {window_id} started at its notice's dispatch ({}, {at}); it closes at {closes_at}",
        via.as_str()
    );
    events::append(
        conn,
        at,
        NewEvent {
            event_type: EventType::WindowNotified,
            processor_id: row.processor_id,
            controller_id: Some(row.controller_id),
            data,
        },
    )?;
    Ok(())
}

/// When each window of `change_id` that runs from its notice's dispatch closed (`None`: still
/// open). Such a window may close after the change's `planned_from`: the change waits for it.
pub(crate) fn dispatch_window_closes(
    conn: &mut DbConnection,
    change_id: &str,
) -> Result<Vec<Option<DateTime<Utc>>>, StoreError> {
    let windows: Vec<(String, i32, Option<chrono::NaiveDateTime>)> = objection_windows::table
        .filter(objection_windows::change_id.eq(change_id))
        .select((
            objection_windows::agreement_id,
            objection_windows::agreement_version,
            objection_windows::closed_at,
        ))
        .load(conn)?;
    let mut closes = Vec::new();
    for (agreement_id, version, closed_at) in windows {
        let starts: String = agreement_versions::table
            .find((&agreement_id, version))
            .select(agreement_versions::notice_starts)
            .first(conn)?;
        if starts == NoticeStarts::Dispatch.as_str() {
            closes.push(closed_at.map(super::from_db));
        }
    }
    Ok(closes)
}
