//! Changes, objection windows and the sweeper's work. Every state change takes the
//! processor's chain lock first, re-reads what it decides on, and writes its events in the
//! same transaction; conditional updates (`closed_at IS NULL`) make each step happen once.

use super::events::{self, NewEvent};
use super::schema::{changes, objection_windows, subprocessors};
use super::{
    agreements as agreement_store, from_db, subprocessors as entries, to_db, write_transaction,
};
use super::{DbConnection, Page, PageRequest, StoreError};
use crate::domain::agreement::{Agreement, Authorisation, NoticeStarts};
use crate::domain::change::{self, Change, ChangeKind, ChangeSpec, ChangeState, Conflict};
use crate::domain::event::EventType;
use crate::domain::resolution::{Resolution, ResolutionFacts, ResolutionKind};
use crate::domain::subprocessor::EntryStatus;
use crate::domain::window::{self as window_rules, Approval, Decider, Decision, Objection};
use crate::domain::window::{NoticeChannel, ObjectionWindow};
use crate::domain::window::{Transition, WindowError, WindowFacts, WindowState};
use crate::domain::{DomainError, FieldError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

diesel::define_sql_function! {
    /// Keeps an earlier decision time (an objection's) when a window closes.
    fn coalesce(
        first: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
        second: diesel::sql_types::Timestamp,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Timestamp>;
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub(super) struct ChangeRow {
    pub(super) id: String,
    pub(super) processor_id: String,
    pub(super) kind: String,
    pub(super) subprocessor_id: Option<String>,
    pub(super) replaces: Option<String>,
    pub(super) modifies: Option<String>,
    pub(super) summary: String,
    pub(super) planned_from: Option<NaiveDateTime>,
    pub(super) state: String,
    pub(super) announced_at: Option<NaiveDateTime>,
    pub(super) earliest_use: Option<NaiveDateTime>,
    pub(super) effective_at: Option<NaiveDateTime>,
    pub(super) withdrawn_at: Option<NaiveDateTime>,
    pub(super) live_over_unresolved: Option<String>,
    pub(super) summary_en: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = objection_windows)]
pub(super) struct WindowRow {
    pub(super) id: String,
    pub(super) change_id: String,
    pub(super) agreement_id: String,
    pub(super) controller_id: String,
    pub(super) processor_id: String,
    pub(super) opened_at: NaiveDateTime,
    pub(super) closes_at: NaiveDateTime,
    pub(super) state: String,
    pub(super) conflicts: String,
    pub(super) decided_at: Option<NaiveDateTime>,
    pub(super) closed_at: Option<NaiveDateTime>,
    pub(super) objection_reason: Option<String>,
    pub(super) objection_at: Option<NaiveDateTime>,
    pub(super) approval_note: Option<String>,
    pub(super) approval_at: Option<NaiveDateTime>,
    pub(super) approval_instruction: Option<String>,
    pub(super) closes_on: Option<String>,
    pub(super) late: bool,
    pub(super) ended_as: Option<String>,
    pub(super) objection_by: Option<String>,
    pub(super) approval_by: Option<String>,
    pub(super) resolution: Option<String>,
    pub(super) resolution_note: Option<String>,
    pub(super) resolution_at: Option<NaiveDateTime>,
    pub(super) resolution_by: Option<String>,
    pub(super) agreement_version: i32,
    pub(super) notified_at: Option<NaiveDateTime>,
    pub(super) notified_via: Option<String>,
}

pub(super) fn corrupt(what: &str, id: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} of `{id}` is not a known value"))
}

fn window_state(row: &WindowRow) -> Result<WindowState, StoreError> {
    WindowState::parse(&row.state).ok_or_else(|| corrupt("window state", &row.id))
}

/// A window's deadline, or `None` for one that has not started (`deadline::not_started`).
pub(super) fn started(closes_at: NaiveDateTime) -> Option<DateTime<Utc>> {
    let closes_at = from_db(closes_at);
    (closes_at < crate::domain::deadline::not_started()).then_some(closes_at)
}

pub(super) fn to_window(
    row: WindowRow,
    change: Option<&Change>,
) -> Result<ObjectionWindow, StoreError> {
    Ok(ObjectionWindow {
        state: window_state(&row)?,
        conflicts: serde_json::from_str(&row.conflicts)
            .map_err(|_| corrupt("conflicts", &row.id))?,
        opened_at: from_db(row.opened_at),
        notified_at: row.notified_at.map(from_db),
        notified_via: match &row.notified_via {
            Some(via) => {
                Some(NoticeChannel::parse(via).ok_or_else(|| corrupt("notified_via", &row.id))?)
            }
            None => None,
        },
        closes_at: started(row.closes_at),
        closes_on_local_date: match &row.closes_on {
            Some(day) => Some(day.parse().map_err(|_| corrupt("closes_on", &row.id))?),
            None => None,
        },
        decided_at: row.decided_at.map(from_db),
        closed_at: row.closed_at.map(from_db),
        objection: match row.objection_at {
            Some(at) => Some(Objection {
                reason: row.objection_reason.clone(),
                at: from_db(at),
                by: decider(row.objection_by.as_deref(), &row.id)?,
            }),
            None => None,
        },
        approval: match row.approval_at {
            Some(at) => Some(Approval {
                note: row.approval_note.clone(),
                instruction: row.approval_instruction.clone(),
                at: from_db(at),
                by: decider(row.approval_by.as_deref(), &row.id)?,
            }),
            None => None,
        },
        late: row.late,
        resolution: resolution(&row)?,
        ended_as: match &row.ended_as {
            Some(state) => {
                Some(WindowState::parse(state).ok_or_else(|| corrupt("ended_as", &row.id))?)
            }
            None => None,
        },
        change: change.map(|c| {
            Box::new(Change {
                windows: None,
                windows_total: None,
                windows_next_cursor: None,
                ..c.clone()
            })
        }),
        agreement_version: u32::try_from(row.agreement_version)
            .map_err(|_| corrupt("agreement_version", &row.id))?,
        id: row.id,
        change_id: row.change_id,
        agreement_id: row.agreement_id,
        controller_id: row.controller_id,
        processor_id: row.processor_id,
    })
}

fn resolution(row: &WindowRow) -> Result<Option<Resolution>, StoreError> {
    let (Some(kind), Some(at)) = (&row.resolution, row.resolution_at) else {
        return Ok(None);
    };
    Ok(Some(Resolution {
        resolution: ResolutionKind::parse(kind).ok_or_else(|| corrupt("resolution", &row.id))?,
        note: row.resolution_note.clone(),
        at: from_db(at),
        by: decider(row.resolution_by.as_deref(), &row.id)?
            .ok_or_else(|| corrupt("resolution_by", &row.id))?,
    }))
}

/// The facts a resolution, and the blocking of its change, are judged on.
pub(super) fn resolution_facts(
    row: &WindowRow,
    change_state: ChangeState,
) -> Result<ResolutionFacts, StoreError> {
    Ok(ResolutionFacts {
        window_state: window_state(row)?,
        closed: row.closed_at.is_some(),
        resolved: match &row.resolution {
            Some(kind) => {
                Some(ResolutionKind::parse(kind).ok_or_else(|| corrupt("resolution", &row.id))?)
            }
            None => None,
        },
        change_state,
    })
}

/// The ids of a change's windows that ended refused and have no resolution.
pub(super) fn unresolved_windows(
    conn: &mut DbConnection,
    change_id: &str,
    change_state: ChangeState,
) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    for row in windows_of_change(conn, change_id)? {
        if crate::domain::resolution::unresolved(&resolution_facts(&row, change_state)?) {
            ids.push(row.id);
        }
    }
    Ok(ids)
}

fn decider(stored: Option<&str>, window_id: &str) -> Result<Option<Decider>, StoreError> {
    stored
        .map(|text| serde_json::from_str(text).map_err(|_| corrupt("decider", window_id)))
        .transpose()
}

pub(super) fn to_change(conn: &mut DbConnection, row: ChangeRow) -> Result<Change, StoreError> {
    let entry = match &row.subprocessor_id {
        Some(entry_id) => Some(entries::get(conn, &row.processor_id, entry_id)?),
        None => None,
    };
    let state = ChangeState::parse(&row.state).ok_or_else(|| corrupt("change state", &row.id))?;
    let blocked_by = if state == ChangeState::Blocked {
        unresolved_windows(conn, &row.id, state)?
    } else {
        Vec::new()
    };
    let live_over_unresolved = match &row.live_over_unresolved {
        Some(text) => {
            serde_json::from_str(text).map_err(|_| corrupt("live_over_unresolved", &row.id))?
        }
        None => Vec::new(),
    };
    Ok(Change {
        kind: ChangeKind::parse(&row.kind).ok_or_else(|| corrupt("change kind", &row.id))?,
        state,
        blocked_by,
        live_over_unresolved,
        subprocessor: entry,
        planned_from: row.planned_from.map(from_db),
        announced_at: row.announced_at.map(from_db),
        earliest_use: row.earliest_use.map(from_db),
        effective_at: row.effective_at.map(from_db),
        withdrawn_at: row.withdrawn_at.map(from_db),
        windows: None,
        windows_total: None,
        windows_next_cursor: None,
        id: row.id,
        processor_id: row.processor_id,
        replaces: row.replaces,
        modifies: row.modifies,
        summary: row.summary,
        summary_en: row.summary_en,
    })
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(format!("not serialisable: {e}")))
}

pub(super) fn change_row(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
) -> Result<ChangeRow, StoreError> {
    changes::table
        .filter(changes::processor_id.eq(processor_id))
        .filter(changes::id.eq(change_id))
        .select(ChangeRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("change", change_id))
}

pub(super) fn windows_of_change(
    conn: &mut DbConnection,
    change_id: &str,
) -> Result<Vec<WindowRow>, StoreError> {
    Ok(objection_windows::table
        .filter(objection_windows::change_id.eq(change_id))
        .order(objection_windows::id)
        .select(WindowRow::as_select())
        .load(conn)?)
}

/// Loads a change; with `with_windows` the first [`change::EMBEDDED_WINDOWS`] of its windows
/// too, with their number and the cursor of the rest (for the processor and admins).
pub fn get_change(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    with_windows: bool,
) -> Result<Change, StoreError> {
    let row = change_row(conn, processor_id, change_id)?;
    let mut change = to_change(conn, row)?;
    if with_windows {
        let total: i64 = objection_windows::table
            .filter(objection_windows::change_id.eq(change_id))
            .count()
            .get_result(conn)?;
        let first = change_windows_page(
            conn,
            change_id,
            None,
            &PageRequest::first(change::EMBEDDED_WINDOWS),
        )?;
        change.windows = Some(first.items);
        change.windows_total = Some(u64::try_from(total).unwrap_or(0));
        change.windows_next_cursor = first.next_cursor;
    }
    Ok(change)
}

/// `change` with every one of its windows, for the pages that count them.
pub(super) fn with_all_windows(
    conn: &mut DbConnection,
    mut change: Change,
) -> Result<Change, StoreError> {
    // Row by row: the rows are not held beside the windows made of them.
    let mut windows = Vec::new();
    for row in objection_windows::table
        .filter(objection_windows::change_id.eq(&change.id))
        .order(objection_windows::id)
        .select(WindowRow::as_select())
        .load_iter::<WindowRow, diesel::connection::DefaultLoadingMode>(conn)?
    {
        windows.push(to_window(row?, None)?);
    }
    change.windows_total = Some(windows.len() as u64);
    change.windows = Some(windows);
    Ok(change)
}

/// Whose windows a page lists.
#[derive(Clone, Copy)]
enum WindowsOf<'a> {
    Change(&'a str),
    Controller(&'a str),
}

/// A page of window rows in id order; `state` filters.
fn window_rows_page(
    conn: &mut DbConnection,
    of: WindowsOf<'_>,
    state: Option<WindowState>,
    page: &PageRequest,
) -> Result<Page<WindowRow>, StoreError> {
    let mut query = objection_windows::table
        .select(WindowRow::as_select())
        .order(objection_windows::id)
        .limit(page.fetch())
        .into_boxed();
    query = match of {
        WindowsOf::Change(id) => query.filter(objection_windows::change_id.eq(id)),
        WindowsOf::Controller(id) => query.filter(objection_windows::controller_id.eq(id)),
    };
    if let Some(state) = state {
        query = query.filter(objection_windows::state.eq(state.as_str()));
    }
    if let Some(after) = &page.after {
        query = query.filter(objection_windows::id.gt(after.clone()));
    }
    Ok(page.page(query.load(conn)?, |w: &WindowRow| w.id.clone()))
}

/// A page of a change's windows (without `change`) in id order; `state` filters.
fn change_windows_page(
    conn: &mut DbConnection,
    change_id: &str,
    state: Option<WindowState>,
    page: &PageRequest,
) -> Result<Page<ObjectionWindow>, StoreError> {
    let page = window_rows_page(conn, WindowsOf::Change(change_id), state, page)?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|row| to_window(row, None))
            .collect::<Result<_, _>>()?,
        next_cursor: page.next_cursor,
    })
}

/// The windows of one of the processor's changes, a page at a time (drafts have none).
pub fn list_change_windows(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    state: Option<WindowState>,
    page: &PageRequest,
) -> Result<Page<ObjectionWindow>, StoreError> {
    change_row(conn, processor_id, change_id)?;
    change_windows_page(conn, change_id, state, page)
}

pub fn list_changes(
    conn: &mut DbConnection,
    processor_id: &str,
    state: Option<ChangeState>,
    with_windows: bool,
    page: &PageRequest,
) -> Result<Page<Change>, StoreError> {
    list_changes_seen(conn, processor_id, state, with_windows, true, page)
}

/// [`list_changes`], leaving drafts out (in the query, so paging still works) unless
/// `drafts`: a draft is the processor's own until it is announced.
pub fn list_changes_seen(
    conn: &mut DbConnection,
    processor_id: &str,
    state: Option<ChangeState>,
    with_windows: bool,
    drafts: bool,
    page: &PageRequest,
) -> Result<Page<Change>, StoreError> {
    let mut query = changes::table
        .filter(changes::processor_id.eq(processor_id))
        .select(changes::id)
        .order(changes::id)
        .limit(page.fetch())
        .into_boxed();
    if let Some(state) = state {
        query = query.filter(changes::state.eq(state.as_str()));
    }
    if !drafts {
        query = query.filter(changes::state.ne(ChangeState::Draft.as_str()));
    }
    if let Some(after) = &page.after {
        query = query.filter(changes::id.gt(after.clone()));
    }
    let ids: Vec<String> = query.load(conn)?;
    let page = page.page(ids, Clone::clone);
    let mut items = Vec::with_capacity(page.items.len());
    for id in &page.items {
        items.push(get_change(conn, processor_id, id, with_windows)?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Domain(DomainError::Invalid(vec![FieldError::new(field, message)]))
}

/// The active entry a change names in `field`, or a field error saying why it cannot.
fn active_entry(
    conn: &mut DbConnection,
    processor_id: &str,
    field: &str,
    entry_id: &str,
) -> Result<crate::domain::subprocessor::Subprocessor, StoreError> {
    let entry = entries::get(conn, processor_id, entry_id).map_err(|e| match e {
        StoreError::NotFound { .. } => {
            invalid(field, format!("`{entry_id}` is not an entry on your list"))
        }
        other => other,
    })?;
    if entry.status != EntryStatus::Active {
        return Err(invalid(
            field,
            format!(
                "`{entry_id}` is {}, not active on your list",
                entry.status.as_str()
            ),
        ));
    }
    Ok(entry)
}

/// Creates a change (a draft, or announced at once; `reaction`: see [`announce`]).
pub fn create_change(
    conn: &mut DbConnection,
    processor_id: &str,
    spec: &ChangeSpec,
    now: DateTime<Utc>,
    reaction: chrono::Duration,
) -> Result<Change, StoreError> {
    write_transaction(conn, |conn| {
        events::lock_chain(conn, processor_id)?;
        let replaced = match &spec.replaces {
            None => None,
            Some(entry_id) => Some(active_entry(conn, processor_id, "replaces", entry_id)?),
        };
        if let Some(entry_id) = &spec.modifies {
            active_entry(conn, processor_id, "modifies", entry_id)?;
        }
        let entry_id = match (&spec.subprocessor, &replaced) {
            (Some(new_entry), _) => Some(
                entries::insert(
                    conn,
                    processor_id,
                    new_entry,
                    EntryStatus::Proposed,
                    None,
                    now,
                )?
                .id,
            ),
            // A removal shows the entry it removes.
            (None, Some(removed)) => Some(removed.id.clone()),
            (None, None) => None,
        };
        let id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(changes::table)
            .values((
                changes::id.eq(&id),
                changes::processor_id.eq(processor_id),
                changes::kind.eq(spec.kind.as_str()),
                changes::subprocessor_id.eq(entry_id),
                changes::replaces.eq(&spec.replaces),
                changes::modifies.eq(&spec.modifies),
                changes::summary.eq(&spec.summary),
                changes::summary_en.eq(&spec.summary_en),
                changes::planned_from.eq(spec.planned_from.map(to_db)),
                changes::state.eq(ChangeState::Draft.as_str()),
                changes::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
        if spec.announce {
            announce_locked(conn, processor_id, &id, now, reaction)?;
        }
        get_change(conn, processor_id, &id, true)
    })
}

/// Announces a draft; `planned_from` must leave `reaction` after the last window closes.
pub fn announce(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    now: DateTime<Utc>,
    reaction: chrono::Duration,
) -> Result<Change, StoreError> {
    write_transaction(conn, |conn| {
        events::lock_chain(conn, processor_id)?;
        announce_locked(conn, processor_id, change_id, now, reaction)?;
        get_change(conn, processor_id, change_id, true)
    })
}

/// A window to open for one agreement, with its conflicts computed now.
struct NewWindow<'a> {
    agreement: &'a Agreement,
    opened_at: DateTime<Utc>,
    /// The deadline counted from `opened_at`; under `notice_starts: dispatch` only what the
    /// conflicts are computed against until the notice is dispatched.
    closes_at: DateTime<Utc>,
    conflicts: Vec<Conflict>,
}

impl NewWindow<'_> {
    /// Whether the window runs from its opening; else from the notice's first dispatch.
    fn runs_now(&self) -> bool {
        self.agreement.notice_starts == NoticeStarts::Announcement
    }

    fn last_day(&self) -> Option<chrono::NaiveDate> {
        self.runs_now()
            .then(|| {
                crate::domain::deadline::last_day(
                    self.opened_at,
                    self.agreement.notice_days,
                    self.agreement.time_zone,
                )
            })
            .flatten()
    }

    fn stored_closes_at(&self) -> DateTime<Utc> {
        if self.runs_now() {
            self.closes_at
        } else {
            crate::domain::deadline::not_started()
        }
    }
}

fn open_windows(
    conn: &mut DbConnection,
    change: &Change,
    change_json: &str,
    windows: Vec<NewWindow<'_>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    super::db::note_bulk_write(super::db::BulkTable::ObjectionWindows, windows.len());
    let mut rows = Vec::with_capacity(windows.len());
    let mut opened = Vec::with_capacity(windows.len());
    for window in windows {
        let id = uuid::Uuid::now_v7().to_string();
        let conflicts = json(&window.conflicts)?.to_string();
        let last_day = window.last_day();
        let stored_closes_at = window.stored_closes_at();
        opened.push(ObjectionWindow {
            id: id.clone(),
            change_id: change.id.clone(),
            agreement_id: window.agreement.id.clone(),
            agreement_version: window.agreement.version,
            controller_id: window.agreement.controller_id.clone(),
            processor_id: change.processor_id.clone(),
            opened_at: window.opened_at,
            notified_at: None,
            notified_via: None,
            closes_at: window.runs_now().then_some(window.closes_at),
            closes_on_local_date: last_day,
            late: false,
            ended_as: None,
            resolution: None,
            state: WindowState::Open,
            conflicts: window.conflicts,
            decided_at: None,
            closed_at: None,
            objection: None,
            approval: None,
            change: None,
        });
        rows.push((
            objection_windows::id.eq(id),
            objection_windows::change_id.eq(change.id.clone()),
            objection_windows::agreement_id.eq(window.agreement.id.clone()),
            objection_windows::controller_id.eq(window.agreement.controller_id.clone()),
            objection_windows::processor_id.eq(change.processor_id.clone()),
            objection_windows::opened_at.eq(to_db(window.opened_at)),
            objection_windows::closes_at.eq(to_db(stored_closes_at)),
            objection_windows::state.eq(WindowState::Open.as_str()),
            objection_windows::conflicts.eq(conflicts),
            objection_windows::closes_on.eq(last_day.map(|d| d.to_string())),
            objection_windows::agreement_version.eq(i32::try_from(window.agreement.version)
                .map_err(|_| corrupt("version", &window.agreement.id))?),
        ));
    }
    for chunk in rows.chunks(500) {
        crate::insert_rows!(conn, objection_windows::table, chunk)?;
    }
    let opened_events = opened
        .iter()
        .map(|w| {
            Ok(NewEvent {
                event_type: EventType::WindowOpened,
                processor_id: w.processor_id.clone(),
                controller_id: Some(w.controller_id.clone()),
                data: json(w)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let shared = Some(shared_change(change_json));
    let opened_events = opened_events.into_iter().map(|e| (e, shared)).collect();
    events::append_batch_sharing(conn, now, &change.processor_id, opened_events)?;
    Ok(())
}

/// A window event's change, as every leaf of a batch embeds it (see [`window_event_data`]).
fn shared_change(change_canonical: &str) -> crate::domain::log::Shared<'_> {
    crate::domain::log::Shared {
        name: "change",
        canonical: change_canonical,
    }
}

/// The change as window events embed it, in canonical JSON: written once per batch.
fn change_canonical(change: &Change) -> Result<String, StoreError> {
    let mut out = Vec::new();
    crate::domain::log::write_canonical(&mut out, &json(change)?)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    String::from_utf8(out).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A window event's data: the window as the API shows it, with its change embedded. The
/// change is serialised once per batch, not once per window.
pub(super) fn window_event_data(
    window: &ObjectionWindow,
    change_json: &serde_json::Value,
) -> Result<serde_json::Value, StoreError> {
    let mut data = json(window)?;
    if let Some(object) = data.as_object_mut() {
        object.insert("change".into(), change_json.clone());
    }
    Ok(data)
}

/// Agreements read, and windows opened with their events, per step of an announcement: what
/// an announcement holds in memory is bounded by this, not by the number of agreements.
const ANNOUNCE_CHUNK: i64 = 1_000;

/// Calls `each` with the processor's agreements in force at `now`, a page at a time in id
/// order.
fn in_force_pages(
    conn: &mut DbConnection,
    processor_id: &str,
    now: DateTime<Utc>,
    mut each: impl FnMut(&mut DbConnection, Vec<Agreement>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after: Option<String> = None;
    loop {
        let page = agreement_store::for_processor_page(
            conn,
            processor_id,
            after.as_deref(),
            ANNOUNCE_CHUNK,
        )?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.id.clone());
        let full = page.len() as i64 == ANNOUNCE_CHUNK;
        let signed: Vec<Agreement> = page.into_iter().filter(|a| a.in_force_at(now)).collect();
        if !signed.is_empty() {
            each(conn, signed)?;
        }
        if !full {
            return Ok(());
        }
    }
}

fn announce_locked(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    now: DateTime<Utc>,
    reaction: chrono::Duration,
) -> Result<(), StoreError> {
    let row = change_row(conn, processor_id, change_id)?;
    let mut change = to_change(conn, row)?;
    change::check_announce(change.state)?;
    // A first pass finds the latest window close, which `planned_from` and the change's event
    // need before any window opens; the second opens the windows.
    let mut last_close: Option<DateTime<Utc>> = None;
    in_force_pages(conn, processor_id, now, |_, signed| {
        last_close = last_close.max(Some(change::earliest_use(now, &signed)));
        Ok(())
    })?;
    let planned_from =
        change::plan_by_last_close(change.kind, change.planned_from, now, last_close, reaction)?;
    let earliest_use = match last_close {
        Some(last_close) if change.kind.opens_windows() => last_close,
        _ => now,
    };
    let updated = diesel::update(changes::table.find(change_id))
        .filter(changes::state.eq(ChangeState::Draft.as_str()))
        .set((
            changes::state.eq(ChangeState::Announced.as_str()),
            changes::announced_at.eq(to_db(now)),
            changes::earliest_use.eq(to_db(earliest_use)),
            changes::planned_from.eq(to_db(planned_from)),
        ))
        .execute(conn)?;
    if updated != 1 {
        return Err(StoreError::Conflict(format!(
            "change `{change_id}` was announced concurrently"
        )));
    }
    change.state = ChangeState::Announced;
    change.announced_at = Some(now);
    change.earliest_use = Some(earliest_use);
    change.planned_from = Some(planned_from);
    events::append(
        conn,
        now,
        NewEvent {
            event_type: EventType::ChangeAnnounced,
            processor_id: processor_id.to_string(),
            controller_id: None,
            data: json(&change)?,
        },
    )?;
    if let (true, Some(entry)) = (change.kind.opens_windows(), &change.subprocessor) {
        let change_json = change_canonical(&change)?;
        in_force_pages(conn, processor_id, now, |conn, signed| {
            let windows = signed
                .iter()
                .map(|agreement| {
                    let closes_at =
                        change::window_closes_at(now, agreement.notice_days, agreement.time_zone);
                    NewWindow {
                        agreement,
                        opened_at: now,
                        closes_at,
                        conflicts: window_conflicts(entry, agreement, planned_from, closes_at),
                    }
                })
                .collect();
            open_windows(conn, &change, &change_json, windows, now)
        })?;
    }
    Ok(())
}

/// The conflicts of an entry's window under one agreement's terms.
fn window_conflicts(
    entry: &crate::domain::subprocessor::Subprocessor,
    agreement: &Agreement,
    planned_from: DateTime<Utc>,
    closes_at: DateTime<Utc>,
) -> Vec<Conflict> {
    let mut found = change::conflicts(
        entry.location,
        entry.transfer_basis,
        agreement.third_country_transfers,
        planned_from,
        closes_at,
    );
    found.extend(change::location_conflict(
        &entry.data_locations(),
        agreement.allowed_locations.as_deref(),
    ));
    found
}

/// An agreement that comes into force while changes are announced (or blocked, not yet in
/// use) gets its own window for each of them, opened now with its own notice period.
pub(crate) fn open_windows_for_agreement(
    conn: &mut DbConnection,
    agreement: &Agreement,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let pending: Vec<ChangeRow> = changes::table
        .filter(changes::processor_id.eq(&agreement.processor_id))
        .filter(changes::state.eq_any([
            ChangeState::Announced.as_str(),
            ChangeState::Blocked.as_str(),
        ]))
        .filter(changes::kind.ne(ChangeKind::Removal.as_str()))
        .select(ChangeRow::as_select())
        .load(conn)?;
    for row in pending {
        let change = to_change(conn, row)?;
        let (Some(entry), Some(planned_from)) = (&change.subprocessor, change.planned_from) else {
            continue;
        };
        let closes_at = change::window_closes_at(now, agreement.notice_days, agreement.time_zone);
        let window = NewWindow {
            agreement,
            opened_at: now,
            closes_at,
            conflicts: window_conflicts(entry, agreement, planned_from, closes_at),
        };
        open_windows(
            conn,
            &change,
            &change_canonical(&change)?,
            vec![window],
            now,
        )?;
    }
    Ok(())
}

/// A terminated agreement's windows still open at its end `at` end `withdrawn` then; those
/// that closed before it are left to the deadline sweep. Caller holds the chain lock.
pub(crate) fn withdraw_agreement_windows(
    conn: &mut DbConnection,
    processor_id: &str,
    agreement_id: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let live: Vec<_> = objection_windows::table
        .filter(objection_windows::agreement_id.eq(agreement_id))
        .filter(objection_windows::closed_at.is_null())
        .filter(objection_windows::closes_at.gt(to_db(at)))
        .select(WindowRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| (row, WindowState::Withdrawn, at))
        .collect();
    close_windows(conn, processor_id, live, now)
}

/// Closes live windows with `transition`s; returns how many closed. Caller holds the chain lock.
fn close_windows(
    conn: &mut DbConnection,
    processor_id: &str,
    closing: Vec<(WindowRow, WindowState, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    // Group by (outcome, closed_at) so each group is one UPDATE; a window closing at its own
    // deadline takes `closed_at` from its `closes_at` column (`None` here), so that a sweep's
    // batch is one UPDATE per outcome however many deadlines it holds.
    let mut groups: BTreeMap<(&'static str, Option<NaiveDateTime>), Vec<&str>> = BTreeMap::new();
    for (row, outcome, closed_at) in &closing {
        let at = to_db(*closed_at);
        groups
            .entry((outcome.as_str(), (at != row.closes_at).then_some(at)))
            .or_default()
            .push(&row.id);
    }
    for ((outcome, at), ids) in groups {
        for chunk in ids.chunks(500) {
            let target = objection_windows::table
                .filter(objection_windows::id.eq_any(chunk))
                .filter(objection_windows::closed_at.is_null());
            let updated = match at {
                None => diesel::update(target)
                    .set((
                        objection_windows::state.eq(outcome),
                        objection_windows::closed_at.eq(objection_windows::closes_at.nullable()),
                        objection_windows::decided_at.eq(coalesce(
                            objection_windows::decided_at,
                            objection_windows::closes_at,
                        )),
                    ))
                    .execute(conn)?,
                Some(at) => diesel::update(target)
                    .set((
                        objection_windows::state.eq(outcome),
                        objection_windows::closed_at.eq(at),
                        objection_windows::decided_at
                            .eq(coalesce(objection_windows::decided_at, at)),
                    ))
                    .execute(conn)?,
            };
            if updated != chunk.len() {
                // Under the chain lock nobody else closes these; a mismatch means the rows
                // changed under us, and the whole transaction must not count.
                return Err(StoreError::Busy);
            }
        }
    }
    // Each change once, in canonical JSON, for all its windows' events.
    let mut changes_seen: HashMap<String, String> = HashMap::new();
    for (row, _, _) in &closing {
        if !changes_seen.contains_key(&row.change_id) {
            let change_row = change_row(conn, processor_id, &row.change_id)?;
            let change = to_change(conn, change_row)?;
            changes_seen.insert(row.change_id.clone(), change_canonical(&change)?);
        }
    }
    let mut closed_events = Vec::with_capacity(closing.len());
    for (row, outcome, closed_at) in closing {
        let shared = changes_seen
            .get(&row.change_id)
            .map(|text| shared_change(text));
        let mut window = to_window(row, None)?;
        window.state = outcome;
        window.closed_at = Some(closed_at);
        window.decided_at = window.decided_at.or(Some(closed_at));
        let mut data = json(&window)?;
        if let Some(object) = data.as_object_mut() {
            object.insert("outcome".into(), serde_json::Value::from(outcome.as_str()));
        }
        closed_events.push((
            NewEvent {
                event_type: EventType::WindowClosed,
                processor_id: processor_id.to_string(),
                controller_id: Some(window.controller_id.clone()),
                data,
            },
            shared,
        ));
    }
    let count = closed_events.len();
    events::append_batch_sharing(conn, now, processor_id, closed_events)?;
    Ok(count)
}

/// The terms a window opened under: its agreement's version then, not the one in force now.
fn agreement_terms(
    conn: &mut DbConnection,
    row: &WindowRow,
) -> Result<(Authorisation, bool), StoreError> {
    super::agreement_versions::authorisations(conn, std::slice::from_ref(&row.agreement_id))?
        .remove(&(row.agreement_id.clone(), row.agreement_version))
        .ok_or_else(|| StoreError::not_found("agreement version", &row.agreement_id))
}

fn facts(
    row: &WindowRow,
    authorisation: Authorisation,
    objection_requires_reason: bool,
) -> Result<WindowFacts, StoreError> {
    let conflicts: Vec<Conflict> =
        serde_json::from_str(&row.conflicts).map_err(|_| corrupt("conflicts", &row.id))?;
    Ok(WindowFacts {
        state: window_state(row)?,
        closed: row.closed_at.is_some(),
        closes_at: from_db(row.closes_at),
        authorisation,
        objection_requires_reason,
        blocking: conflicts.iter().any(|c| c.blocks_silence()),
        change_withdrawn: false,
    })
}

/// Withdraws a draft or announced change; its live windows close as `withdrawn`.
pub fn withdraw(
    conn: &mut DbConnection,
    processor_id: &str,
    change_id: &str,
    now: DateTime<Utc>,
) -> Result<Change, StoreError> {
    write_transaction(conn, |conn| {
        events::lock_chain(conn, processor_id)?;
        let row = change_row(conn, processor_id, change_id)?;
        let mut change = to_change(conn, row)?;
        change::check_withdraw(change.state)?;
        diesel::update(changes::table.find(change_id))
            .set((
                changes::state.eq(ChangeState::Withdrawn.as_str()),
                changes::withdrawn_at.eq(to_db(now)),
            ))
            .execute(conn)?;
        if let (true, Some(entry)) = (change.kind.opens_windows(), &change.subprocessor) {
            diesel::update(subprocessors::table.find(&entry.id))
                .set(subprocessors::status.eq(EntryStatus::Withdrawn.as_str()))
                .execute(conn)?;
        }
        change.state = ChangeState::Withdrawn;
        change.withdrawn_at = Some(now);
        change = Change {
            subprocessor: match &change.subprocessor {
                Some(entry) if change.kind.opens_windows() => {
                    Some(entries::get(conn, processor_id, &entry.id)?)
                }
                other => other.clone(),
            },
            ..change
        };
        events::append(
            conn,
            now,
            NewEvent {
                event_type: EventType::ChangeWithdrawn,
                processor_id: processor_id.to_string(),
                controller_id: None,
                data: json(&change)?,
            },
        )?;
        let live: Vec<_> = windows_of_change(conn, change_id)?
            .into_iter()
            .filter(|w| w.closed_at.is_none())
            .map(|w| (w, WindowState::Withdrawn, now))
            .collect();
        close_windows(conn, processor_id, live, now)?;
        get_change(conn, processor_id, change_id, true)
    })
}

/// A controller's window, or 404 if it is not theirs.
fn controller_window(
    conn: &mut DbConnection,
    controller_id: &str,
    window_id: &str,
) -> Result<WindowRow, StoreError> {
    objection_windows::table
        .filter(objection_windows::controller_id.eq(controller_id))
        .filter(objection_windows::id.eq(window_id))
        .select(WindowRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("objection window", window_id))
}

pub fn get_window(
    conn: &mut DbConnection,
    controller_id: &str,
    window_id: &str,
) -> Result<ObjectionWindow, StoreError> {
    let row = controller_window(conn, controller_id, window_id)?;
    let change = get_change(conn, &row.processor_id, &row.change_id, false)?;
    to_window(row, Some(&change))
}

/// A controller's windows, each with its change; `state` filters.
pub fn list_windows(
    conn: &mut DbConnection,
    controller_id: &str,
    state: Option<WindowState>,
    page: &PageRequest,
) -> Result<Page<ObjectionWindow>, StoreError> {
    let page = window_rows_page(conn, WindowsOf::Controller(controller_id), state, page)?;
    let mut changes_seen: HashMap<String, Change> = HashMap::new();
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        if !changes_seen.contains_key(&row.change_id) {
            let change = get_change(conn, &row.processor_id, &row.change_id, false)?;
            changes_seen.insert(row.change_id.clone(), change);
        }
        let change = changes_seen.get(&row.change_id);
        items.push(to_window(row, change)?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Applies a controller's decision. A refusal by the state machine comes back as
/// `StoreError::Window` — after committing the expiry if the deadline had passed, so the
/// window the caller sees is final.
pub fn decide(
    conn: &mut DbConnection,
    controller_id: &str,
    window_id: &str,
    decision: Decision,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<ObjectionWindow, StoreError> {
    let by = json(by)?.to_string();
    let processor_id = controller_window(conn, controller_id, window_id)?.processor_id;
    let refusal = write_transaction(conn, |conn| {
        events::lock_chain(conn, &processor_id)?;
        // Re-read under the lock: this is the state every other writer has finished with.
        let row = controller_window(conn, controller_id, window_id)?;
        let (authorisation, requires_reason) = agreement_terms(conn, &row)?;
        let facts = decision_facts(conn, &row, authorisation, requires_reason)?;
        let (row, transition) = match window_rules::decide(&facts, now, decision.clone()) {
            Ok(transition) => (row, transition),
            Err(WindowError::Expired) => {
                // The deadline passed first: the window closes as it stood, and the decision is
                // then one on a closed window (a late approval of a refusal may still be given).
                let outcome = window_rules::outcome_at_expiry(&facts);
                let closes_at = facts.closes_at;
                close_windows(conn, &processor_id, vec![(row, outcome, closes_at)], now)?;
                let row = controller_window(conn, controller_id, window_id)?;
                let facts = decision_facts(conn, &row, authorisation, requires_reason)?;
                match window_rules::decide(&facts, now, decision) {
                    Ok(transition) => (row, transition),
                    Err(refused) => return Ok(Some(refused)),
                }
            }
            Err(refused) => return Ok(Some(refused)),
        };
        apply_decision(conn, &processor_id, row, transition, &by, now)?;
        Ok::<_, StoreError>(None)
    })?;
    let window = get_window(conn, controller_id, window_id)?;
    match refusal {
        None => Ok(window),
        Some(error) => Err(StoreError::Window {
            error,
            window: Box::new(window),
        }),
    }
}

/// The facts a controller's decision is judged on, with whether its change was withdrawn.
fn decision_facts(
    conn: &mut DbConnection,
    row: &WindowRow,
    authorisation: Authorisation,
    objection_requires_reason: bool,
) -> Result<WindowFacts, StoreError> {
    let change_state: String = changes::table
        .find(&row.change_id)
        .select(changes::state)
        .first(conn)?;
    Ok(WindowFacts {
        change_withdrawn: change_state == ChangeState::Withdrawn.as_str(),
        ..facts(row, authorisation, objection_requires_reason)?
    })
}

/// Records a late approval: a window that ended `objected` or `not_approved` becomes
/// `approved` from now, keeping the state it ended in.
/// A blocked change with nothing else unresolved becomes effective in the same transaction.
fn apply_late_approval(
    conn: &mut DbConnection,
    processor_id: &str,
    row: WindowRow,
    approval: (Option<String>, Option<String>),
    event_type: EventType,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (note, instruction) = approval;
    let updated = diesel::update(
        objection_windows::table
            .filter(objection_windows::id.eq(&row.id))
            .filter(objection_windows::closed_at.is_not_null())
            .filter(objection_windows::state.eq(&row.state)),
    )
    .set((
        objection_windows::state.eq(WindowState::Approved.as_str()),
        objection_windows::approval_note.eq(note),
        objection_windows::approval_instruction.eq(instruction),
        objection_windows::approval_at.eq(to_db(now)),
        objection_windows::decided_at.eq(to_db(now)),
        objection_windows::late.eq(true),
        objection_windows::ended_as.eq(&row.state),
        objection_windows::approval_by.eq(by),
    ))
    .execute(conn)?;
    if updated != 1 {
        return Err(StoreError::Busy);
    }
    let fresh = objection_windows::table
        .find(&row.id)
        .select(WindowRow::as_select())
        .first(conn)?;
    let change_row = change_row(conn, processor_id, &fresh.change_id)?;
    let change = to_change(conn, change_row)?;
    let window = to_window(fresh, Some(&change))?;
    events::append(
        conn,
        now,
        NewEvent {
            event_type,
            processor_id: processor_id.to_string(),
            controller_id: Some(window.controller_id.clone()),
            data: json(&window)?,
        },
    )?;
    if change.state == ChangeState::Blocked {
        super::activation::settle_locked(conn, processor_id, &change.id, now)?;
    }
    Ok(())
}

fn apply_decision(
    conn: &mut DbConnection,
    processor_id: &str,
    row: WindowRow,
    transition: Transition,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Transition::Approve {
        note,
        instruction,
        late: true,
    } = transition
    {
        return apply_late_approval(
            conn,
            processor_id,
            row,
            (note, instruction),
            EventType::ApprovalGiven,
            by,
            now,
        );
    }
    if let Transition::WithdrawObjectionLate = transition {
        return apply_late_approval(
            conn,
            processor_id,
            row,
            (None, None),
            EventType::ObjectionWithdrawn,
            by,
            now,
        );
    }
    let from = row.state.clone();
    let target = objection_windows::table
        .filter(objection_windows::id.eq(&row.id))
        .filter(objection_windows::closed_at.is_null())
        .filter(objection_windows::state.eq(from));
    let (updated, event_type) = match &transition {
        Transition::Object { reason } => (
            diesel::update(target)
                .set((
                    objection_windows::state.eq(WindowState::Objected.as_str()),
                    objection_windows::objection_reason.eq(reason),
                    objection_windows::objection_at.eq(to_db(now)),
                    objection_windows::objection_by.eq(by),
                    objection_windows::decided_at.eq(to_db(now)),
                ))
                .execute(conn)?,
            EventType::ObjectionRaised,
        ),
        Transition::WithdrawObjection => (
            diesel::update(target)
                .set((
                    objection_windows::state.eq(WindowState::Open.as_str()),
                    objection_windows::objection_reason.eq(None::<String>),
                    objection_windows::objection_at.eq(None::<NaiveDateTime>),
                    objection_windows::objection_by.eq(None::<String>),
                    objection_windows::decided_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?,
            EventType::ObjectionWithdrawn,
        ),
        Transition::Approve {
            note, instruction, ..
        } => (
            diesel::update(target)
                .set((
                    objection_windows::approval_note.eq(note),
                    objection_windows::approval_instruction.eq(instruction),
                    objection_windows::approval_at.eq(to_db(now)),
                    objection_windows::approval_by.eq(by),
                ))
                .execute(conn)?,
            EventType::ApprovalGiven,
        ),
        Transition::Close { .. } | Transition::WithdrawObjectionLate => {
            return Err(StoreError::Corrupt(
                "a live decision cannot be an expiry or a late withdrawal".into(),
            ))
        }
    };
    if updated != 1 {
        return Err(StoreError::Busy);
    }
    let mut fresh = objection_windows::table
        .find(&row.id)
        .select(WindowRow::as_select())
        .first(conn)?;
    if let Transition::Approve { .. } = transition {
        // The approval is recorded first, then the window closes in the approved state.
        fresh.state = WindowState::Open.as_str().to_string();
    }
    let change_row = change_row(conn, processor_id, &fresh.change_id)?;
    let change = to_change(conn, change_row)?;
    let mut window = to_window(fresh.clone(), Some(&change))?;
    if let Transition::Approve { .. } = transition {
        window.state = WindowState::Approved;
        window.decided_at = Some(now);
    }
    events::append(
        conn,
        now,
        NewEvent {
            event_type,
            processor_id: processor_id.to_string(),
            controller_id: Some(window.controller_id.clone()),
            data: json(&window)?,
        },
    )?;
    if let Transition::Approve { .. } = transition {
        close_windows(
            conn,
            processor_id,
            vec![(fresh, WindowState::Approved, now)],
            now,
        )?;
    }
    Ok(())
}

/// How many windows and changes one sweep handled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub agreements_terminated: usize,
    pub windows_closed: usize,
    pub changes_effective: usize,
}

/// Windows handled per transaction by default: large enough to amortise the chain update,
/// small enough to keep locks short.
pub const DEFAULT_SWEEP_BATCH: i64 = 2_000;

/// Closes windows whose deadline has passed, `batch` per transaction, until none is due.
pub fn close_due_windows(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<usize, StoreError> {
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let processors: Vec<String> = objection_windows::table
            .filter(objection_windows::closed_at.is_null())
            .filter(objection_windows::closes_at.le(to_db(now)))
            .select(objection_windows::processor_id)
            .distinct()
            .load(conn)?;
        if processors.is_empty() {
            return Ok(total);
        }
        for processor_id in processors {
            loop {
                let (fetched, closed) = write_transaction(conn, |conn| {
                    events::lock_chain(conn, &processor_id)?;
                    // Read under the lock: what another sweeper closed meanwhile is not due.
                    let rows: Vec<WindowRow> = objection_windows::table
                        .filter(objection_windows::processor_id.eq(&processor_id))
                        .filter(objection_windows::closed_at.is_null())
                        .filter(objection_windows::closes_at.le(to_db(now)))
                        .order(objection_windows::closes_at)
                        .limit(batch)
                        .select(WindowRow::as_select())
                        .load(conn)?;
                    let fetched = rows.len();
                    Ok::<_, StoreError>((
                        fetched,
                        close_due_locked(conn, &processor_id, rows, now)?,
                    ))
                })?;
                total += closed;
                if (fetched as i64) < batch || closed == 0 {
                    break;
                }
            }
        }
    }
}

/// Closes due windows of one processor; the caller holds its chain lock and read `rows` under it.
fn close_due_locked(
    conn: &mut DbConnection,
    processor_id: &str,
    rows: Vec<WindowRow>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let agreement_ids: HashSet<String> = rows.iter().map(|r| r.agreement_id.clone()).collect();
    let agreement_ids: Vec<String> = agreement_ids.into_iter().collect();
    let terms = super::agreement_versions::authorisations(conn, &agreement_ids)?;
    let mut closing = Vec::with_capacity(rows.len());
    for row in rows {
        let (authorisation, _) = *terms
            .get(&(row.agreement_id.clone(), row.agreement_version))
            .ok_or_else(|| StoreError::not_found("agreement version", &row.agreement_id))?;
        let facts = facts(&row, authorisation, false)?;
        if let Some(Transition::Close { outcome }) = window_rules::expire(&facts, now) {
            let closes_at = facts.closes_at;
            closing.push((row, outcome, closes_at));
        }
    }
    close_windows(conn, processor_id, closing, now)
}

/// One sweep: end due terminations, close what is due, then make due changes effective.
pub fn sweep(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<SweepReport, StoreError> {
    Ok(SweepReport {
        // First: a termination withdraws the windows still open at its date.
        agreements_terminated: agreement_store::end_due_terminations(conn, now)?,
        windows_closed: close_due_windows(conn, now, batch)?,
        changes_effective: super::activation::activate_due_changes(conn, now)?,
    })
}
