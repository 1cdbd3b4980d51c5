//! Making announced changes effective once `planned_from` has come (the sweeper's second step),
//! unless a window that ended `objected` or `not_approved` has no resolution: then the change is
//! `blocked` until the refusals are resolved or approved late, or the processor takes it live
//! explicitly. The reaction time between the last window's close and `planned_from` means
//! windows never close and their change goes live in the same instant.

use super::events::{self, NewEvent};
use super::lifecycle::{change_row, corrupt, get_change, json, unresolved_windows, ChangeRow};
use super::schema::{changes, subprocessors};
use super::{from_db, to_db, write_transaction, DbConnection, StoreError};
use crate::domain::change::{ChangeKind, ChangeState};
use crate::domain::event::EventType;
use crate::domain::subprocessor::EntryStatus;
use crate::domain::window::Decider;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Settles changes whose `planned_from` has come: effective when every window is authorised
/// or resolved, else `blocked`; and blocked changes whose last refusal was resolved meanwhile.
/// Returns how many became effective.
pub fn activate_due_changes(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let due: Vec<(String, String, String)> = changes::table
        .filter(
            changes::state
                .eq(ChangeState::Announced.as_str())
                .and(changes::planned_from.le(to_db(now)))
                .or(changes::state.eq(ChangeState::Blocked.as_str())),
        )
        .order(changes::planned_from)
        .select((changes::processor_id, changes::id, changes::state))
        .load(conn)?;
    let mut total = 0;
    for (processor_id, change_id, state) in due {
        // A blocked change waits for its processor's answer, which settles it in its own
        // transaction; the sweep only takes the lock for one nothing blocks any more.
        if state == ChangeState::Blocked.as_str()
            && !unresolved_windows(conn, &change_id, ChangeState::Blocked)?.is_empty()
        {
            continue;
        }
        total += write_transaction(conn, |conn| {
            events::lock_chain(conn, &processor_id)?;
            settle_locked(conn, &processor_id, &change_id, now)
        })?;
    }
    Ok(total)
}

/// Under the chain lock: makes a due announced change, or a blocked one, effective if no
/// refused window is left unresolved; otherwise blocks an announced one (`change.blocked`,
/// once). Returns 1 if it became effective.
pub(super) fn settle_locked(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let row = change_row(conn, processor_id, change_id)?;
    let state = ChangeState::parse(&row.state).ok_or_else(|| corrupt("change state", change_id))?;
    let Some(planned_from) = row.planned_from else {
        return Ok(0);
    };
    let due = match state {
        ChangeState::Announced => planned_from <= to_db(now),
        ChangeState::Blocked => true,
        _ => false,
    };
    if !due {
        return Ok(0);
    }
    // A window that started at its notice's dispatch may end after `planned_from`: the change
    // waits for it, and starts when the last of them has closed.
    let dispatch_closes = super::notified::dispatch_window_closes(conn, change_id)?;
    if dispatch_closes.iter().any(Option::is_none) {
        return Ok(0);
    }
    if !unresolved_windows(conn, change_id, state)?.is_empty() {
        if state == ChangeState::Announced {
            block_locked(conn, processor_id, change_id, now)?;
        }
        return Ok(0);
    }
    // A blocked change starts when nothing blocks it any more, not at the instant that passed.
    let active_from = match state {
        ChangeState::Blocked => now,
        _ => dispatch_closes
            .into_iter()
            .flatten()
            .fold(from_db(planned_from), DateTime::max),
    };
    make_effective(conn, processor_id, &row, state, active_from, now, None)
}

fn block_locked(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let updated = diesel::update(changes::table.find(change_id))
        .filter(changes::state.eq(ChangeState::Announced.as_str()))
        .set(changes::state.eq(ChangeState::Blocked.as_str()))
        .execute(conn)?;
    if updated == 0 {
        return Ok(());
    }
    let change = get_change(conn, processor_id, change_id, false)?;
    events::append(
        conn,
        now,
        NewEvent {
            event_type: EventType::ChangeBlocked,
            processor_id: processor_id.to_string(),
            controller_id: None,
            data: json(&change)?,
        },
    )?;
    Ok(())
}

/// The processor's explicit go-live: the windows still unresolved, and who decided.
pub(super) struct GoLive<'a> {
    pub over: &'a [String],
    pub by: &'a Decider,
}

/// Makes a change in state `from` effective now: its new entry in use from `active_from`, the
/// replaced one out of use then. With `go_live`, the windows it went live over are recorded on
/// the change and in `change.effective`, with who decided it.
pub(super) fn make_effective(
    conn: &mut DbConnection,
    processor_id: &str,
    row: &ChangeRow,
    from: ChangeState,
    active_from: DateTime<Utc>,
    now: DateTime<Utc>,
    go_live: Option<GoLive<'_>>,
) -> Result<usize, StoreError> {
    let over_json = match &go_live {
        Some(live) if !live.over.is_empty() => Some(json(&live.over)?.to_string()),
        _ => None,
    };
    let updated = diesel::update(changes::table.find(&row.id))
        .filter(changes::state.eq(from.as_str()))
        .set((
            changes::state.eq(ChangeState::Effective.as_str()),
            changes::effective_at.eq(to_db(now)),
            changes::live_over_unresolved.eq(over_json),
        ))
        .execute(conn)?;
    if updated == 0 {
        // Another sweeper made it effective first.
        return Ok(0);
    }
    let kind = ChangeKind::parse(&row.kind).ok_or_else(|| corrupt("change kind", &row.id))?;
    if let (ChangeKind::Modification, Some(proposal_id), Some(entry_id)) =
        (kind, &row.subprocessor_id, &row.modifies)
    {
        super::subprocessors::apply_modification(
            conn,
            processor_id,
            entry_id,
            proposal_id,
            &row.id,
            active_from,
        )?;
    } else if let (true, Some(entry_id)) = (kind.opens_windows(), &row.subprocessor_id) {
        diesel::update(subprocessors::table.find(entry_id))
            .set((
                subprocessors::status.eq(EntryStatus::Active.as_str()),
                subprocessors::active_from.eq(to_db(active_from)),
            ))
            .execute(conn)?;
    }
    if let Some(old_id) = &row.replaces {
        diesel::update(subprocessors::table.find(old_id))
            .set((
                subprocessors::status.eq(EntryStatus::Inactive.as_str()),
                subprocessors::active_until.eq(to_db(active_from)),
            ))
            .execute(conn)?;
    }
    let change = get_change(conn, processor_id, &row.id, false)?;
    let mut data = json(&change)?;
    if let (Some(object), Some(live)) = (data.as_object_mut(), go_live) {
        object.insert("went_live_by".into(), json(live.by)?);
    }
    events::append(
        conn,
        now,
        NewEvent {
            event_type: EventType::ChangeEffective,
            processor_id: processor_id.to_string(),
            controller_id: None,
            data,
        },
    )?;
    Ok(1)
}
