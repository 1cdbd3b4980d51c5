//! Queries behind the public processor page and the controller's annex: the cheap "has the
//! page changed?" poll, everything one page shows, and the event an annex ties itself to.

use super::schema::{changes, events, objection_windows, processors};
use super::{agreements, from_db, lifecycle, organisations, subprocessors, to_db};
use super::{DbConnection, PageRequest, StoreError};
use crate::domain::agreement::{Agreement, AgreementWithAnnex, Authorisation};
use crate::domain::authorised::AuthorisedList;
use crate::domain::change::{Change, ChangeKind, ChangeState};
use crate::domain::party::{Controller, Processor};
use crate::domain::subprocessor::Subprocessor;
use crate::domain::window::ObjectionWindow;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;
use std::collections::HashMap;

/// What decides whether a processor's page changed, and so its ETag: its newest public
/// event, and the latest window close of its announced changes (a window opened for a newly
/// signed agreement can move the objection deadline the page shows). What one controller does
/// in its window (objections, approvals, their outcomes) changes neither: the public page must
/// not betray it.
pub struct PageVersion {
    pub last_seq: Option<i64>,
    pub latest_close: Option<NaiveDateTime>,
    /// The time shown as "last change": the newest public event.
    pub last_at: DateTime<Utc>,
}

impl PageVersion {
    /// The cache version (and so the ETag) of the page.
    pub fn key(&self) -> String {
        format!("{:?}/{:?}", self.last_seq, self.latest_close)
    }
}

/// One query; `NotFound` for an unknown processor.
pub fn processor_version(conn: &mut DbConnection, pid: &str) -> Result<PageVersion, StoreError> {
    let newest = events::table
        .filter(events::processor_id.eq(pid.to_string()))
        .filter(super::events::public())
        .select(max(events::seq))
        .single_value();
    // The deadlines the page shows: a window still waiting for its notice has none yet.
    let started = objection_windows::closes_at.lt(to_db(crate::domain::deadline::not_started()));
    let latest_close = objection_windows::table
        .filter(started)
        .filter(
            objection_windows::change_id.eq_any(
                changes::table
                    .filter(changes::processor_id.eq(pid.to_string()))
                    .filter(changes::state.eq_any([
                        ChangeState::Announced.as_str(),
                        ChangeState::Blocked.as_str(),
                    ]))
                    .select(changes::id),
            ),
        )
        .select(max(objection_windows::closes_at))
        .single_value();
    let newest_at = events::table
        .filter(events::processor_id.eq(pid.to_string()))
        .filter(super::events::public())
        .select(max(events::occurred_at))
        .single_value();
    let (created, last_seq, latest_close, last_at) = processors::table
        .find(pid)
        .select((processors::created_at, newest, latest_close, newest_at))
        .first::<(
            NaiveDateTime,
            Option<i64>,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        )>(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("processor", pid))?;
    Ok(PageVersion {
        last_seq,
        latest_close,
        last_at: from_db(last_at.unwrap_or(created)),
    })
}

/// What decides whether a change's public page changed: the processor's newest public event
/// (every transition of a change is one) and the latest close of the change's windows (a window
/// opened for a newly signed agreement moves the deadline the page shows, with no public event).
/// `None` for a draft: its page is a 404.
pub fn change_version(
    conn: &mut DbConnection,
    pid: &str,
    change_id: &str,
) -> Result<Option<PageVersion>, StoreError> {
    let newest = events::table
        .filter(events::processor_id.eq(pid.to_string()))
        .filter(super::events::public())
        .select(max(events::seq))
        .single_value();
    let newest_at = events::table
        .filter(events::processor_id.eq(pid.to_string()))
        .filter(super::events::public())
        .select(max(events::occurred_at))
        .single_value();
    let latest_close = objection_windows::table
        .filter(objection_windows::change_id.eq(change_id.to_string()))
        .filter(objection_windows::closes_at.lt(to_db(crate::domain::deadline::not_started())))
        .select(max(objection_windows::closes_at))
        .single_value();
    let (state, created, last_seq, latest_close, last_at) = changes::table
        .filter(changes::id.eq(change_id))
        .filter(changes::processor_id.eq(pid))
        .select((
            changes::state,
            changes::created_at,
            newest,
            latest_close,
            newest_at,
        ))
        .first::<(
            String,
            NaiveDateTime,
            Option<i64>,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
        )>(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("change", change_id))?;
    if state == ChangeState::Draft.as_str() {
        return Ok(None);
    }
    Ok(Some(PageVersion {
        last_seq,
        latest_close,
        last_at: from_db(last_at.unwrap_or(created)),
    }))
}

/// What decides whether the index of processors changed: processors are only ever added (their
/// names, registrations and addresses never change), so their number and the newest creation.
pub fn index_version(conn: &mut DbConnection) -> Result<(i64, DateTime<Utc>), StoreError> {
    let (count, newest) = processors::table
        .select((diesel::dsl::count_star(), max(processors::created_at)))
        .first::<(i64, Option<NaiveDateTime>)>(conn)?;
    Ok((
        count,
        newest.map(from_db).unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
    ))
}

/// An announced change with what the public page says about it.
pub struct Announced {
    pub change: Change,
    /// The entry a replacement or removal takes off the list.
    pub replaced: Option<Subprocessor>,
    /// Until when controllers may object: the latest window close, never before `earliest_use`.
    pub objections_until: Option<DateTime<Utc>>,
    /// Whether windows under general authorisation (controllers may object) and under specific
    /// authorisation (each controller's prior approval is needed) are open for it.
    pub general: bool,
    pub specific: bool,
}

/// Everything the public page of one processor shows.
pub struct ProcessorPage {
    pub processor: Processor,
    pub entries: Vec<Subprocessor>,
    pub announced: Vec<Announced>,
    /// Effective changes, newest first: only the requested slice.
    pub history: Vec<Change>,
    pub history_total: i64,
}

fn all_changes(
    conn: &mut DbConnection,
    pid: &str,
    state: ChangeState,
) -> Result<Vec<Change>, StoreError> {
    let mut changes = Vec::new();
    let mut request = PageRequest::first(super::page::MAX_LIMIT);
    loop {
        let page = lifecycle::list_changes(conn, pid, Some(state), false, &request)?;
        for change in page.items {
            changes.push(lifecycle::with_all_windows(conn, change)?);
        }
        match page.next_cursor {
            None => break,
            Some(_) => request.after = changes.last().map(|c| c.id.clone()),
        }
    }
    Ok(changes)
}

pub fn processor_page(
    conn: &mut DbConnection,
    pid: &str,
    history_offset: i64,
    history_limit: i64,
) -> Result<ProcessorPage, StoreError> {
    let processor = organisations::get_processor(conn, pid)?;
    let entries = subprocessors::all(conn, pid, None)?;
    let mut announced = Vec::new();
    let authorisations: HashMap<String, Authorisation> = agreements::all_for_processor(conn, pid)?
        .into_iter()
        .map(|a| (a.id, a.authorisation))
        .collect();
    // A blocked change is still upcoming: it waits for the processor's answer to a refusal.
    let mut upcoming = all_changes(conn, pid, ChangeState::Announced)?;
    upcoming.extend(all_changes(conn, pid, ChangeState::Blocked)?);
    for mut change in upcoming {
        let windows = change.windows.take().unwrap_or_default();
        let authorisations = &authorisations;
        let windows = &windows;
        let under = move |wanted: Authorisation| {
            windows
                .iter()
                .filter(move |w| authorisations.get(&w.agreement_id) == Some(&wanted))
        };
        let (general, specific) = (
            under(Authorisation::General).next().is_some(),
            under(Authorisation::Specific).next().is_some(),
        );
        // The objection deadline is the general windows' one; under specific authorisation
        // the page asks for prior approval instead.
        let latest_close = if general {
            under(Authorisation::General)
                .filter_map(|w| w.closes_at)
                .max()
        } else {
            windows.iter().filter_map(|w| w.closes_at).max()
        };
        let objections_until = match (latest_close, change.earliest_use) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let replaced = match &change.replaces {
            Some(id) => Some(subprocessors::get(conn, pid, id)?),
            None => None,
        };
        announced.push(Announced {
            change,
            replaced,
            objections_until,
            general,
            specific,
        });
    }
    announced.sort_by_key(|a| (a.change.planned_from, a.change.id.clone()));
    // The history is paged in the database: a request for any page reads one page of rows.
    let effective = || {
        changes::table
            .filter(changes::processor_id.eq(pid.to_string()))
            .filter(changes::state.eq(ChangeState::Effective.as_str()))
    };
    let history_total: i64 = effective().count().get_result(conn)?;
    let ids: Vec<String> = effective()
        .order((changes::effective_at.desc(), changes::id.desc()))
        .select(changes::id)
        .offset(history_offset)
        .limit(history_limit)
        .load(conn)?;
    let mut history = Vec::with_capacity(ids.len());
    for id in &ids {
        history.push(lifecycle::get_change(conn, pid, id, false)?);
    }
    Ok(ProcessorPage {
        processor,
        entries,
        announced,
        history,
        history_total,
    })
}

/// The event an annex reflects: the processor's newest event at `as_of` that the controller
/// may see (public, or naming it); its inclusion proof (`/log/inclusion`) ties it to a signed
/// checkpoint of the whole log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EventRef {
    #[schema(format = "uuid")]
    pub id: String,
    /// The event's leaf hash in the processor's Merkle tree (hex SHA-256).
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub hash: String,
    pub occurred_at: DateTime<Utc>,
}

pub fn last_event_at(
    conn: &mut DbConnection,
    pid: &str,
    cid: &str,
    as_of: DateTime<Utc>,
) -> Result<Option<EventRef>, StoreError> {
    let row: Option<(String, String, NaiveDateTime)> = events::table
        .filter(events::processor_id.eq(pid))
        .filter(events::occurred_at.le(to_db(as_of)))
        .filter(
            super::events::named(cid)
                .nullable()
                .or(super::events::public().nullable()),
        )
        .order(events::seq.desc())
        .select((events::id, events::leaf_hash, events::occurred_at))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, hash, at)| EventRef {
        id,
        hash,
        occurred_at: from_db(at),
    }))
}

/// What a controller's annex for one processor is made of.
pub struct AnnexFacts {
    pub controller: Controller,
    pub processor: Processor,
    pub agreements: Vec<AgreementWithAnnex>,
    /// The controller's authorised list, narrowed to this processor's agreements.
    pub list: AuthorisedList,
    pub windows: HashMap<String, ObjectionWindow>,
    /// Windows of this pair whose change is not in effect at `as_of` and whose entry is on
    /// none of the list's sections, oldest first, each with its change: still open (pending)
    /// or already decided for the entry (authorised but not yet in use).
    pub upcoming: Vec<ObjectionWindow>,
    pub last_event: Option<EventRef>,
    /// The newest signed checkpoint of the processor's log at `as_of`: the log as it stood.
    pub checkpoint: Option<super::log::StoredCheckpoint>,
}

/// `NotFound` when the controller or processor is unknown or they have no agreement.
pub fn annex(
    conn: &mut DbConnection,
    cid: &str,
    pid: &str,
    as_of: DateTime<Utc>,
) -> Result<AnnexFacts, StoreError> {
    let controller = organisations::get_controller(conn, cid)?;
    let processor = organisations::get_processor(conn, pid)?;
    let ours: Vec<Agreement> = agreements::all_for_controller(conn, cid)?
        .into_iter()
        .filter(|a| a.processor_id == pid)
        .collect();
    let agreements = super::agreement_annex::with_annex(conn, ours)?;
    if agreements.is_empty() {
        return Err(StoreError::not_found("agreement", format!("{cid}/{pid}")));
    }
    let mut list = super::authorised::controller_authorised_list(conn, cid, as_of)?;
    let ours = |agreement_id: &str| agreements.iter().any(|a| a.agreement.id == agreement_id);
    list.items.retain(|e| ours(&e.agreement_id));
    list.excluded.retain(|e| ours(&e.agreement_id));
    list.not_authorised.retain(|e| ours(&e.agreement_id));
    let mut windows = HashMap::new();
    let window_ids = list.items.iter().filter_map(|e| e.window_id.clone()).chain(
        list.not_authorised
            .iter()
            .filter_map(|e| e.window_id.clone()),
    );
    for wid in window_ids.collect::<Vec<_>>() {
        let window = lifecycle::get_window(conn, cid, &wid)?;
        windows.insert(wid, window);
    }
    let upcoming = upcoming_windows(conn, cid, &agreements, &list, as_of)?;
    let last_event = last_event_at(conn, pid, cid, as_of)?;
    let checkpoint = super::log::checkpoint_at(conn, pid, as_of)?;
    Ok(AnnexFacts {
        controller,
        processor,
        agreements,
        list,
        windows,
        upcoming,
        last_event,
        checkpoint,
    })
}

/// The windows opened by `as_of` whose change had not taken effect (nor been withdrawn) by
/// then, leaving out any whose new entry the list already shows: the annex shows each entry
/// once.
fn upcoming_windows(
    conn: &mut DbConnection,
    cid: &str,
    agreements: &[AgreementWithAnnex],
    list: &AuthorisedList,
    as_of: DateTime<Utc>,
) -> Result<Vec<ObjectionWindow>, StoreError> {
    let agreement_ids: Vec<String> = agreements.iter().map(|a| a.agreement.id.clone()).collect();
    let ids: Vec<String> = objection_windows::table
        .filter(objection_windows::controller_id.eq(cid.to_string()))
        .filter(objection_windows::agreement_id.eq_any(agreement_ids))
        .filter(objection_windows::opened_at.le(to_db(as_of)))
        .order((objection_windows::opened_at, objection_windows::id))
        .select(objection_windows::id)
        .load(conn)?;
    let shown: std::collections::HashSet<&str> = list
        .items
        .iter()
        .map(|e| e.entry.id.as_str())
        .chain(list.excluded.iter().map(|e| e.entry.id.as_str()))
        .chain(list.not_authorised.iter().map(|e| e.entry.id.as_str()))
        .collect();
    let mut found = Vec::new();
    for wid in ids {
        let window = lifecycle::get_window(conn, cid, &wid)?;
        let Some(change) = window.change.as_deref() else {
            continue;
        };
        let done = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at <= as_of);
        if done(change.effective_at) || done(change.withdrawn_at) {
            continue;
        }
        // A removal names the entry it removes, which the list shows: the annex notes it there.
        let new_entry = match change.kind {
            ChangeKind::Removal => None,
            _ => change.subprocessor.as_ref().map(|e| e.id.as_str()),
        };
        if new_entry.is_some_and(|id| shown.contains(id)) {
            continue;
        }
        found.push(window);
    }
    Ok(found)
}

/// What the public page of one change shows.
pub struct ChangePage {
    pub processor: Processor,
    pub change: Change,
    /// The entry a replacement, removal or modification concerns.
    pub replaced: Option<Subprocessor>,
    /// The latest close of its windows.
    pub latest_deadline: Option<DateTime<Utc>>,
}

pub fn change_page(
    conn: &mut DbConnection,
    pid: &str,
    change_id: &str,
) -> Result<ChangePage, StoreError> {
    let processor = organisations::get_processor(conn, pid)?;
    let change = lifecycle::get_change(conn, pid, change_id, false)?;
    let mut change = lifecycle::with_all_windows(conn, change)?;
    let windows = change.windows.take().unwrap_or_default();
    let latest_deadline = windows.iter().filter_map(|w| w.closes_at).max();
    let replaced = match change.replaces.as_ref().or(change.modifies.as_ref()) {
        Some(id) => Some(subprocessors::get(conn, pid, id)?),
        None => None,
    };
    Ok(ChangePage {
        processor,
        change,
        replaced,
        latest_deadline,
    })
}
