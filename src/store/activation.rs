//! Making announced changes effective once `planned_from` has come (the sweeper's second step).

use super::events::{self, NewEvent};
use super::lifecycle::{change_row, corrupt, get_change, json};
use super::schema::{changes, subprocessors};
use super::{to_db, write_transaction, DbConnection, StoreError};
use crate::domain::change::{ChangeKind, ChangeState};
use crate::domain::event::EventType;
use crate::domain::subprocessor::EntryStatus;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Makes announced changes effective once `planned_from` has come.
pub fn activate_due_changes(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let due: Vec<(String, String)> = changes::table
        .filter(changes::state.eq(ChangeState::Announced.as_str()))
        .filter(changes::planned_from.le(to_db(now)))
        .order(changes::planned_from)
        .select((changes::processor_id, changes::id))
        .load(conn)?;
    let mut total = 0;
    for (processor_id, change_id) in due {
        total += write_transaction(conn, |conn| {
            events::lock_chain(conn, &processor_id)?;
            activate_locked(conn, &processor_id, &change_id, now)
        })?;
    }
    Ok(total)
}

fn activate_locked(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let row = change_row(conn, processor_id, change_id)?;
    let Some(planned_from) = row.planned_from else {
        return Ok(0);
    };
    let updated = diesel::update(changes::table.find(change_id))
        .filter(changes::state.eq(ChangeState::Announced.as_str()))
        .set((
            changes::state.eq(ChangeState::Effective.as_str()),
            changes::effective_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    if updated == 0 {
        // Another sweeper made it effective first.
        return Ok(0);
    }
    let kind = ChangeKind::parse(&row.kind).ok_or_else(|| corrupt("change kind", change_id))?;
    if let (true, Some(entry_id)) = (kind.opens_windows(), &row.subprocessor_id) {
        diesel::update(subprocessors::table.find(entry_id))
            .set((
                subprocessors::status.eq(EntryStatus::Active.as_str()),
                subprocessors::active_from.eq(planned_from),
            ))
            .execute(conn)?;
    }
    if let Some(old_id) = &row.replaces {
        diesel::update(subprocessors::table.find(old_id))
            .set((
                subprocessors::status.eq(EntryStatus::Inactive.as_str()),
                subprocessors::active_until.eq(planned_from),
            ))
            .execute(conn)?;
    }
    let change = get_change(conn, processor_id, change_id, false)?;
    events::append(
        conn,
        now,
        NewEvent {
            event_type: EventType::ChangeEffective,
            processor_id: processor_id.to_string(),
            controller_id: None,
            data: json(&change)?,
        },
    )?;
    Ok(1)
}
