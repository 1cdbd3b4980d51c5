//! Queries behind the Atom feeds: which events a feed shows, the cheap "has it changed?" poll,
//! and the controllers' feed tokens (kept as SHA-256 hashes only).

use super::events::StoredEvent;
use super::schema::{agreements, controllers, events, processors};
use super::{from_db, DbConnection, StoreError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;

/// Which events a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedScope {
    /// A processor's public events (those that concern no single controller and are not
    /// the processor's own business: see [`super::events::public`]).
    Processor(String),
    /// A controller's own events plus the public events of the processors it has agreements
    /// with.
    Controller(String),
}

type Backend = <DbConnection as diesel::Connection>::Backend;
type ScopeFilter = Box<
    dyn BoxableExpression<
        events::table,
        Backend,
        SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
    >,
>;

fn filter(scope: &FeedScope) -> ScopeFilter {
    match scope {
        FeedScope::Processor(pid) => Box::new(
            events::processor_id
                .eq(pid.clone())
                .and(super::events::public())
                .nullable(),
        ),
        FeedScope::Controller(cid) => Box::new(controller_events(cid)),
    }
}

/// `agreements.processor_id` of one controller, as a subselect.
type ItsProcessors = diesel::dsl::Select<
    diesel::dsl::Filter<agreements::table, diesel::dsl::Eq<agreements::controller_id, String>>,
    agreements::processor_id,
>;
type ControllerEvents = diesel::dsl::Or<
    super::events::Named,
    diesel::dsl::And<
        super::events::Public,
        diesel::dsl::EqAny<events::processor_id, ItsProcessors>,
    >,
>;

/// The controller's own events, or public events of a processor it has an agreement with.
/// Unboxed, so it can also sit in a subselect.
fn controller_events(cid: &str) -> ControllerEvents {
    super::events::named(cid).or(super::events::public().and(
        events::processor_id.eq_any(
            agreements::table
                .filter(agreements::controller_id.eq(cid.to_string()))
                .select(agreements::processor_id),
        ),
    ))
}

/// The feed's newest event: the one cheap query an unchanged feed costs.
pub fn last_seq(conn: &mut DbConnection, scope: &FeedScope) -> Result<Option<i64>, StoreError> {
    Ok(events::table
        .filter(filter(scope))
        .select(max(events::seq))
        .first(conn)?)
}

/// When the event with this sequence number occurred (the feed's `updated`).
pub fn occurred_at(conn: &mut DbConnection, seq: i64) -> Result<DateTime<Utc>, StoreError> {
    let at = events::table
        .find(seq)
        .select(events::occurred_at)
        .first(conn)?;
    Ok(from_db(at))
}

/// One page of a feed, newest first, older than `before` when given.
pub fn page(
    conn: &mut DbConnection,
    scope: &FeedScope,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut query = events::table
        .filter(filter(scope))
        .select(StoredEvent::as_select())
        .order(events::seq.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(events::seq.lt(before));
    }
    Ok(query.load(conn)?)
}

/// One event of a processor's log.
pub fn event(conn: &mut DbConnection, pid: &str, eid: &str) -> Result<StoredEvent, StoreError> {
    events::table
        .filter(events::processor_id.eq(pid))
        .filter(events::id.eq(eid))
        .select(StoredEvent::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("event", eid))
}

/// The names a page of events mentions by id: its processors and controllers, and the
/// entries its changes replace or remove (so a person reads names, not ids).
pub fn names(
    conn: &mut DbConnection,
    rows: &[StoredEvent],
) -> Result<crate::domain::notice::Names, StoreError> {
    use super::schema::subprocessors;
    use std::collections::BTreeSet;
    let mut processor_ids = BTreeSet::new();
    let mut controller_ids = BTreeSet::new();
    let mut entry_ids = BTreeSet::new();
    for row in rows {
        processor_ids.insert(row.processor_id.clone());
        if let Some(cid) = &row.controller_id {
            controller_ids.insert(cid.clone());
        }
        let json = row.to_json();
        let data = json.get("data");
        let change = data.and_then(|d| d.get("change"));
        for value in [data, change].into_iter().flatten() {
            if let Some(id) = value.get("replaces").and_then(serde_json::Value::as_str) {
                entry_ids.insert(id.to_string());
            }
            for key in ["controller_id", "processor_id"] {
                if let Some(id) = value.get(key).and_then(serde_json::Value::as_str) {
                    controller_ids.insert(id.to_string());
                    processor_ids.insert(id.to_string());
                }
            }
        }
    }
    let mut names = crate::domain::notice::Names::new();
    let found: Vec<(String, String)> = processors::table
        .filter(processors::id.eq_any(processor_ids))
        .select((processors::id, processors::name))
        .load(conn)?;
    names.extend(found);
    let found: Vec<(String, String)> = controllers::table
        .filter(controllers::id.eq_any(controller_ids))
        .select((controllers::id, controllers::name))
        .load(conn)?;
    names.extend(found);
    let found: Vec<(String, String)> = subprocessors::table
        .filter(subprocessors::id.eq_any(entry_ids))
        .select((subprocessors::id, subprocessors::name))
        .load(conn)?;
    names.extend(found);
    Ok(names)
}

/// A processor's name and creation time (the author and the `updated` of an empty feed).
pub fn processor_meta(
    conn: &mut DbConnection,
    pid: &str,
) -> Result<(String, DateTime<Utc>), StoreError> {
    let (name, created) = processors::table
        .find(pid)
        .select((processors::name, processors::created_at))
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("processor", pid))?;
    Ok((name, from_db(created)))
}

/// What a controller feed request needs before it can answer, in one query: the stored token
/// hash, the feed's newest event, and how many agreements widen it (signing one adds older
/// public events without adding a newer event).
pub struct ControllerFeed {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub token_hash: Option<String>,
    pub last_seq: Option<i64>,
    pub agreements: i64,
}

pub fn controller_feed(conn: &mut DbConnection, cid: &str) -> Result<ControllerFeed, StoreError> {
    let newest = events::table
        .filter(controller_events(cid))
        .select(max(events::seq))
        .single_value();
    let agreement_count = agreements::table
        .filter(agreements::controller_id.eq(cid.to_string()))
        .count()
        .single_value();
    let (name, created, token_hash, last_seq, agreements) = controllers::table
        .find(cid)
        .select((
            controllers::name,
            controllers::created_at,
            controllers::feed_token,
            newest,
            agreement_count,
        ))
        .first::<(
            String,
            chrono::NaiveDateTime,
            Option<String>,
            Option<i64>,
            Option<i64>,
        )>(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("controller", cid))?;
    Ok(ControllerFeed {
        name,
        created_at: from_db(created),
        token_hash,
        last_seq,
        agreements: agreements.unwrap_or(0),
    })
}

/// Replaces a controller's feed token hash; the previous token stops working at once.
pub fn set_feed_token_hash(
    conn: &mut DbConnection,
    cid: &str,
    token_hash: &str,
) -> Result<(), StoreError> {
    let updated = diesel::update(controllers::table.find(cid))
        .set(controllers::feed_token.eq(token_hash))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::not_found("controller", cid));
    }
    Ok(())
}

/// One window of a controller's calendar: the window (with its change), how often it changed
/// since it opened (the iCalendar `SEQUENCE`), and when it last changed.
pub struct CalendarWindow {
    pub window: crate::domain::window::ObjectionWindow,
    pub processor_name: String,
    pub sequence: u32,
    pub last_changed: DateTime<Utc>,
}

/// The controller's windows for its calendar: every open one, and those closed since
/// `closed_since` (so subscribed calendars see them cancelled).
pub fn calendar(
    conn: &mut DbConnection,
    cid: &str,
    closed_since: DateTime<Utc>,
) -> Result<Vec<CalendarWindow>, StoreError> {
    use crate::domain::window::WindowState;
    use std::collections::HashMap;
    // How many events each window has had: the first (window.opened) is sequence 0.
    let rows: Vec<(String, NaiveDateTime)> = events::table
        .filter(events::controller_id.eq(cid))
        .filter(
            events::event_type
                .like("window.%")
                .or(events::event_type.like("objection.%"))
                .or(events::event_type.like("approval.%")),
        )
        .select((events::payload, events::occurred_at))
        .order(events::seq)
        .load(conn)?;
    let mut seen: HashMap<String, (u32, DateTime<Utc>)> = HashMap::new();
    for (payload, at) in rows {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&payload) else {
            continue;
        };
        let data = value.get("data").unwrap_or(&value);
        let id = data
            .get("window_id")
            .or_else(|| data.get("id"))
            .and_then(serde_json::Value::as_str);
        if let Some(id) = id {
            let entry = seen.entry(id.to_string()).or_insert((0, from_db(at)));
            entry.0 = entry.0.saturating_add(1);
            entry.1 = from_db(at);
        }
    }
    let mut windows = Vec::new();
    let mut request = super::PageRequest::first(super::page::MAX_LIMIT);
    loop {
        let page = super::lifecycle::list_windows(conn, cid, None, &request)?;
        let last = page.items.last().map(|w| w.id.clone());
        windows.extend(page.items.into_iter().filter(|w| {
            w.state == WindowState::Open || w.closed_at.is_none_or(|at| at >= closed_since)
        }));
        match (page.next_cursor, last) {
            (Some(_), Some(last)) => request.after = Some(last),
            _ => break,
        }
    }
    let mut names: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(windows.len());
    for window in windows {
        let processor_name = match names.get(&window.processor_id) {
            Some(name) => name.clone(),
            None => {
                let (name, _) = processor_meta(conn, &window.processor_id)?;
                names.insert(window.processor_id.clone(), name.clone());
                name
            }
        };
        let (count, last_changed) = seen
            .get(&window.id)
            .copied()
            .unwrap_or((1, window.opened_at));
        out.push(CalendarWindow {
            sequence: count.saturating_sub(1),
            last_changed,
            processor_name,
            window,
        });
    }
    Ok(out)
}
