//! The processor's answers to refusals: resolving a window (`excluded`), postponing a change,
//! taking a blocked change live explicitly. Each takes the processor's chain lock, re-reads what
//! it decides on, and appends its event in the same transaction.

use super::activation::{make_effective, settle_locked, GoLive};
use super::events::{self, NewEvent};
use super::lifecycle::{
    change_row, corrupt, get_change, json, resolution_facts, to_change, to_window,
    unresolved_windows, windows_of_change, WindowRow,
};
use super::schema::{changes, objection_windows};
use super::{to_db, write_transaction, DbConnection, StoreError};
use crate::domain::change::{self, Change, ChangeState};
use crate::domain::event::EventType;
use crate::domain::resolution::{self, ResolutionKind};
use crate::domain::window::{Decider, ObjectionWindow};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// A resolution as the processor submits it, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionSpec {
    pub window_id: String,
    pub resolution: ResolutionKind,
    pub note: Option<String>,
}

fn change_state(row: &super::lifecycle::ChangeRow) -> Result<ChangeState, StoreError> {
    ChangeState::parse(&row.state).ok_or_else(|| corrupt("change state", &row.id))
}

/// Records the processor's resolution of a window of its change that ended `objected` or
/// `not_approved` (`window.resolved`); a blocked change with nothing else unresolved becomes
/// effective in the same transaction. Answers the window with its change.
pub fn resolve(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    spec: &ResolutionSpec,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<ObjectionWindow, StoreError> {
    let by = json(by)?.to_string();
    write_transaction(conn, |conn| {
        events::lock_chain(conn, processor_id)?;
        let change = change_row(conn, processor_id, change_id)?;
        let state = change_state(&change)?;
        let row: WindowRow = objection_windows::table
            .filter(objection_windows::change_id.eq(change_id))
            .filter(objection_windows::id.eq(&spec.window_id))
            .select(WindowRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| StoreError::not_found("objection window", spec.window_id.clone()))?;
        resolution::check_resolve(&resolution_facts(&row, state)?)
            .map_err(|refusal| StoreError::Conflict(refusal.to_string()))?;
        let updated = diesel::update(
            objection_windows::table
                .filter(objection_windows::id.eq(&row.id))
                .filter(objection_windows::resolution.is_null()),
        )
        .set((
            objection_windows::resolution.eq(spec.resolution.as_str()),
            objection_windows::resolution_note.eq(&spec.note),
            objection_windows::resolution_at.eq(to_db(now)),
            objection_windows::resolution_by.eq(&by),
        ))
        .execute(conn)?;
        if updated != 1 {
            return Err(StoreError::Busy);
        }
        let window = fresh_window(conn, processor_id, &row.id)?;
        events::append(
            conn,
            now,
            NewEvent {
                event_type: EventType::WindowResolved,
                processor_id: processor_id.to_string(),
                controller_id: Some(window.controller_id.clone()),
                data: json(&window)?,
            },
        )?;
        if state == ChangeState::Blocked {
            settle_locked(conn, processor_id, change_id, now)?;
        }
        fresh_window(conn, processor_id, &row.id)
    })
}

fn fresh_window(
    conn: &mut DbConnection,
    processor_id: &str,
    window_id: &str,
) -> Result<ObjectionWindow, StoreError> {
    let row: WindowRow = objection_windows::table
        .find(window_id)
        .select(WindowRow::as_select())
        .first(conn)?;
    let change_row = change_row(conn, processor_id, &row.change_id)?;
    let change = to_change(conn, change_row)?;
    to_window(row, Some(&change))
}

/// Moves `planned_from` of an announced or blocked change later (`change.postponed`); a
/// blocked change is announced again and is judged afresh at the new instant.
pub fn postpone(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    planned_from: DateTime<Utc>,
    now: DateTime<Utc>,
    reaction: chrono::Duration,
) -> Result<Change, StoreError> {
    write_transaction(conn, |conn| {
        events::lock_chain(conn, processor_id)?;
        let row = change_row(conn, processor_id, change_id)?;
        let state = change_state(&row)?;
        let last_close = windows_of_change(conn, change_id)?
            .iter()
            .map(|w| w.closes_at)
            .max();
        let earliest = match last_close {
            Some(close) => change::earliest_planned_from(super::from_db(close), reaction),
            None => now,
        };
        change::check_postpone(
            state,
            row.planned_from.map(super::from_db),
            planned_from,
            earliest,
            now,
        )?;
        let updated = diesel::update(changes::table.find(change_id))
            .filter(changes::state.eq(state.as_str()))
            .set((
                changes::planned_from.eq(to_db(planned_from)),
                changes::state.eq(ChangeState::Announced.as_str()),
            ))
            .execute(conn)?;
        if updated != 1 {
            return Err(StoreError::Busy);
        }
        let change = get_change(conn, processor_id, change_id, false)?;
        let mut data = json(&change)?;
        if let (Some(object), Some(previous)) = (data.as_object_mut(), row.planned_from) {
            object.insert(
                "previous_planned_from".into(),
                json(&super::from_db(previous))?,
            );
        }
        events::append(
            conn,
            now,
            NewEvent {
                event_type: EventType::ChangePostponed,
                processor_id: processor_id.to_string(),
                controller_id: None,
                data,
            },
        )?;
        get_change(conn, processor_id, change_id, true)
    })
}

/// Takes a blocked change live now over its unresolved windows, as the processor decided
/// (`change.effective` with `live_over_unresolved` naming them).
pub fn go_live(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<Change, StoreError> {
    write_transaction(conn, |conn| {
        events::lock_chain(conn, processor_id)?;
        let row = change_row(conn, processor_id, change_id)?;
        let state = change_state(&row)?;
        change::check_go_live(state)?;
        let over = unresolved_windows(conn, change_id, state)?;
        if make_effective(
            conn,
            processor_id,
            &row,
            state,
            now,
            now,
            Some(GoLive { over: &over, by }),
        )? != 1
        {
            return Err(StoreError::Busy);
        }
        get_change(conn, processor_id, change_id, true)
    })
}
