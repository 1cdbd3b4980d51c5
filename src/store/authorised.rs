//! Loading what a controller's authorised list is judged on (`domain::authorised`).

use super::lifecycle::{corrupt, to_window, WindowRow};
use super::schema::{changes, objection_windows, subprocessor_versions};
use super::{agreements as agreement_store, subprocessors as entries};
use super::{DbConnection, StoreError};
use crate::domain::authorised::{authorised_list, AuthorisedList, ProcessorFacts, Replaced};
use crate::domain::change::{ChangeKind, ChangeState};
use crate::domain::subprocessor::Subprocessor;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// What the list needs of each of a processor's changes.
#[derive(Queryable, Selectable)]
#[diesel(table_name = changes)]
struct ChangeFacts {
    id: String,
    kind: String,
    state: String,
    subprocessor_id: Option<String>,
    replaces: Option<String>,
    live_over_unresolved: Option<String>,
}

/// One processor's side of the list at `as_of`.
#[derive(Default)]
struct Loaded {
    in_use: Vec<Subprocessor>,
    introduced_by: HashMap<String, String>,
    live_over: HashSet<String>,
    replaced: Vec<Replaced>,
    /// Entry id → its effective modifications: (change id, in force from), oldest first.
    modifications: HashMap<String, Vec<(String, DateTime<Utc>)>>,
}

fn load_processor(
    conn: &mut DbConnection,
    processor_id: &str,
    as_of: DateTime<Utc>,
) -> Result<Loaded, StoreError> {
    let in_use = entries::all(conn, processor_id, Some(as_of))?;
    let rows: Vec<ChangeFacts> = changes::table
        .filter(changes::processor_id.eq(processor_id))
        .select(ChangeFacts::as_select())
        .load(conn)?;
    let mut loaded = Loaded {
        in_use,
        ..Loaded::default()
    };
    let mut modified_by = Vec::new();
    for ChangeFacts {
        id: change_id,
        kind,
        state,
        subprocessor_id: entry_id,
        replaces,
        live_over_unresolved: live_over,
    } in rows
    {
        let kind = ChangeKind::parse(&kind).ok_or_else(|| corrupt("change kind", &change_id))?;
        if let Some(text) = live_over {
            let ids: Vec<String> = serde_json::from_str(&text)
                .map_err(|_| corrupt("live_over_unresolved", &change_id))?;
            loaded.live_over.extend(ids);
        }
        let effective = state == ChangeState::Effective.as_str();
        if let (ChangeKind::Replacement, true, Some(old_id)) = (kind, effective, &replaces) {
            let old = entries::get(conn, processor_id, old_id)?;
            let gone_by = old.active_until.is_some_and(|until| until <= as_of);
            let started = old.active_from.is_some_and(|from| from <= as_of);
            if gone_by && started {
                loaded.replaced.push(Replaced {
                    entry: old,
                    change_id: change_id.clone(),
                });
            }
        }
        match kind {
            ChangeKind::Modification if effective => modified_by.push(change_id),
            // A modification's proposal is not an entry of its own.
            ChangeKind::Modification => {}
            _ => {
                if let (true, Some(entry_id)) = (kind.opens_windows(), entry_id) {
                    loaded.introduced_by.insert(entry_id, change_id);
                }
            }
        }
    }
    // A version is in force from when the one before it ended.
    for chunk in modified_by.chunks(500) {
        let ended: Vec<(String, String, chrono::NaiveDateTime)> = subprocessor_versions::table
            .filter(subprocessor_versions::change_id.eq_any(chunk))
            .select((
                subprocessor_versions::entry_id,
                subprocessor_versions::change_id,
                subprocessor_versions::valid_until,
            ))
            .load(conn)?;
        for (entry_id, change_id, from) in ended {
            loaded
                .modifications
                .entry(entry_id)
                .or_default()
                .push((change_id, super::from_db(from)));
        }
    }
    for versions in loaded.modifications.values_mut() {
        versions.sort_by_key(|(_, from)| *from);
    }
    Ok(loaded)
}

/// A controller's authorised list at `as_of`, over all its agreements.
pub fn controller_authorised_list(
    conn: &mut DbConnection,
    controller_id: &str,
    as_of: DateTime<Utc>,
) -> Result<AuthorisedList, StoreError> {
    let agreements = agreement_store::all_for_controller(conn, controller_id)?;
    let agreements = super::agreement_annex::with_annex(conn, agreements)?;
    let window_rows: Vec<WindowRow> = objection_windows::table
        .filter(objection_windows::controller_id.eq(controller_id))
        .select(WindowRow::as_select())
        .load(conn)?;
    let mut windows = HashMap::new();
    for row in window_rows {
        let key = (row.change_id.clone(), row.agreement_id.clone());
        windows.insert(key, to_window(row, None)?);
    }
    let mut per_processor: HashMap<String, Loaded> = HashMap::new();
    for agreement in agreements.iter().map(|a| &a.agreement) {
        if per_processor.contains_key(&agreement.processor_id) {
            continue;
        }
        let loaded = load_processor(conn, &agreement.processor_id, as_of)?;
        per_processor.insert(agreement.processor_id.clone(), loaded);
    }
    let empty = Loaded::default();
    Ok(authorised_list(
        as_of,
        agreements.iter().map(|agreement| {
            let loaded = per_processor
                .get(&agreement.agreement.processor_id)
                .unwrap_or(&empty);
            (
                agreement,
                ProcessorFacts {
                    entries: &loaded.in_use,
                    introduced_by: &loaded.introduced_by,
                    windows: &windows,
                    live_over: &loaded.live_over,
                    replaced: &loaded.replaced,
                    modifications: &loaded.modifications,
                },
            )
        }),
    ))
}
