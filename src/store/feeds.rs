//! Queries behind the Atom feeds: which events a feed shows, the cheap "has it changed?" poll,
//! and the controllers' feed tokens (kept as SHA-256 hashes only).

use super::events::StoredEvent;
use super::schema::{agreements, controllers, events, processors};
use super::{from_db, DbConnection, StoreError};
use chrono::{DateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;

/// Which events a feed shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedScope {
    /// A processor's public events (those that concern no single controller).
    Processor(String),
    /// A controller's own events plus the public events of the processors it has agreements
    /// with (`processors`, sorted).
    Controller {
        controller_id: String,
        processors: Vec<String>,
    },
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
                .and(events::controller_id.is_null())
                .nullable(),
        ),
        FeedScope::Controller {
            controller_id,
            processors,
        } => Box::new(
            events::controller_id
                .eq(controller_id.clone())
                .or(events::controller_id
                    .is_null()
                    .and(events::processor_id.eq_any(processors.clone()))),
        ),
    }
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

/// What a controller feed request needs before it can answer: the stored token hash, and the
/// processors whose public events the feed includes.
pub struct ControllerFeed {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub token_hash: Option<String>,
    pub processors: Vec<String>,
}

pub fn controller_feed(conn: &mut DbConnection, cid: &str) -> Result<ControllerFeed, StoreError> {
    let (name, created, token_hash) = controllers::table
        .find(cid)
        .select((
            controllers::name,
            controllers::created_at,
            controllers::feed_token,
        ))
        .first::<(String, chrono::NaiveDateTime, Option<String>)>(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("controller", cid))?;
    let mut processors: Vec<String> = agreements::table
        .filter(agreements::controller_id.eq(cid))
        .select(agreements::processor_id)
        .load(conn)?;
    processors.sort();
    processors.dedup();
    Ok(ControllerFeed {
        name,
        created_at: from_db(created),
        token_hash,
        processors,
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
