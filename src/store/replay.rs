//! The processor's verify replays its log against the rows: windows, changes and agreements
//! must be what their newest events say (domain::replay).

use super::lifecycle::{json, to_change, to_window, ChangeRow, WindowRow};
use super::log::LeafRow;
use super::schema::{changes, objection_windows};
use super::{DbConnection, StoreError};
use crate::domain::replay::{Disagreement, Logged, Subject};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

/// Every row of the processor (of the controller, for a controller reader) that disagrees
/// with the log.
pub(super) fn disagreements(
    conn: &mut DbConnection,
    processor_id: &str,
    log: &[LeafRow],
    controller: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Disagreement>, StoreError> {
    let mut logged = Logged::default();
    for row in log {
        let payload: serde_json::Value = serde_json::from_str(&row.payload)
            .map_err(|e| StoreError::Corrupt(format!("event `{}`: {e}", row.id)))?;
        if let Some(data) = payload.get("data") {
            logged.record(&row.event_type, data);
        }
    }
    let mut windows = objection_windows::table
        .filter(objection_windows::processor_id.eq(processor_id))
        .select(WindowRow::as_select())
        .into_boxed();
    if let Some(controller) = controller {
        windows = windows.filter(objection_windows::controller_id.eq(controller.to_string()));
    }
    let windows = windows
        .load(conn)?
        .into_iter()
        .map(|row| to_window(row, None).and_then(|w| json(&w)))
        .collect::<Result<Vec<_>, _>>()?;
    let change_rows: Vec<ChangeRow> = changes::table
        .filter(changes::processor_id.eq(processor_id))
        .select(ChangeRow::as_select())
        .load(conn)?;
    let changes = change_rows
        .into_iter()
        .map(|row| to_change(conn, row).and_then(|c| json(&c)))
        .collect::<Result<Vec<_>, _>>()?;
    let agreements = super::agreements::all_for_processor(conn, processor_id)?
        .into_iter()
        .filter(|a| controller.is_none_or(|c| a.controller_id == c))
        .map(|a| json(&a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut found = logged.disagreements(Subject::Window, &windows, now);
    found.extend(logged.disagreements(Subject::Change, &changes, now));
    found.extend(logged.disagreements(Subject::Agreement, &agreements, now));
    Ok(found)
}
