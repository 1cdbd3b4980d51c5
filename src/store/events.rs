use super::schema::{events, processors};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::event::EventType;
use crate::domain::log::{self as tree, LeafEvent, Visibility};
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// An event to append to a processor's evidence log.
pub struct NewEvent {
    pub event_type: EventType,
    pub processor_id: String,
    pub controller_id: Option<String>,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub processor_id: String,
    pub controller_id: Option<String>,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    pub payload: String,
    pub visibility: String,
    pub log_index: i64,
    pub leaf_hash: String,
}

impl StoredEvent {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        from_db(self.occurred_at)
    }

    /// The event JSON as the API shows it: the members of its leaf, from the stored row, plus
    /// the stored leaf hash. For an event this server wrote that is an [`Event`]; a row
    /// altered behind the server's back is shown as it is stored (and `verify` finds it).
    pub fn to_json(&self) -> serde_json::Value {
        let payload: serde_json::Value =
            serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "id": self.id,
            "index": self.log_index,
            "type": self.event_type,
            "occurred_at": self.occurred_at(),
            "processor_id": self.processor_id,
            "controller_id": self.controller_id,
            "visibility": self.visibility,
            "data": payload.get("data").cloned().unwrap_or(serde_json::Value::Null),
            "leaf_hash": self.leaf_hash,
        })
    }
}

/// One event of a processor's evidence log as the API shows it: the members of its leaf
/// (see EventBody; the leaf is their RFC 8785 canonical JSON) plus the leaf's hash
/// `SHA-256(0x00 || leaf)`.
// What `StoredEvent::to_json` serves for every event this server wrote (a test checks it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    #[schema(format = "uuid", example = "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub id: String,
    /// The event's position in its processor's log, from 0.
    #[schema(minimum = 0)]
    pub index: u64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// RFC 3339 in UTC, to the microsecond.
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    /// The controller the event concerns, or null for a processor-wide event.
    #[schema(required = true, example = "roskilde-kommune")]
    pub controller_id: Option<String>,
    /// Who may see the event.
    pub visibility: Visibility,
    /// The object as the API shows it, by event type (see EventBody).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// `SHA-256(0x00 || leaf)` in hex: the leaf hash in the processor's Merkle tree.
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub leaf_hash: String,
}

/// Takes the processor's chain for this transaction: a row lock on PostgreSQL, the write
/// lock on SQLite. Every transaction that appends events takes it before touching anything
/// else, so concurrent writers of one processor queue in one order and cannot deadlock.
pub fn lock_chain(conn: &mut DbConnection, processor_id: &str) -> Result<(), StoreError> {
    let locked = diesel::update(processors::table.find(processor_id))
        .set(processors::event_count.eq(processors::event_count))
        .execute(conn)?;
    if locked == 0 {
        return Err(StoreError::not_found("processor", processor_id));
    }
    Ok(())
}

/// Appends an event to its processor's hash chain. Call it inside the transaction that makes
/// the state change, so the change and its evidence are written together or not at all.
pub fn append(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    event: NewEvent,
) -> Result<StoredEvent, StoreError> {
    let processor_id = event.processor_id.clone();
    let ids = append_batch(conn, now, &processor_id, vec![event])?;
    events::table
        .filter(events::id.eq_any(ids))
        .select(StoredEvent::as_select())
        .first(conn)
        .map_err(StoreError::from)
}

static EVENTS_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// Set when this thread appended events in the transaction now open.
    static EVENTS_DIRTY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the open write transaction as one that changes a public read without appending an
/// event (a new processor changes the index): its commit moves the generation too.
pub(crate) fn note_public_write() {
    EVENTS_DIRTY.with(|d| d.set(true));
}

/// Called by `write_transaction` after its commit (or rollback).
pub(crate) fn transaction_finished(committed: bool) {
    if EVENTS_DIRTY.with(|d| d.replace(false)) && committed {
        EVENTS_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A counter that moves whenever this process commits events. Read it before a query to know
/// whether the answer may have changed since (events written by other processes do not move
/// it: callers bound how long they trust it).
pub fn events_generation() -> u64 {
    EVENTS_GENERATION.load(std::sync::atomic::Ordering::SeqCst)
}

/// Rows per multi-row INSERT: well under SQLite's limit of bound parameters.
const INSERT_CHUNK: usize = 500;

/// Appends events of one processor in order, reading and writing the chain head once.
/// Returns the new event ids.
pub fn append_batch(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    processor_id: &str,
    batch: Vec<NewEvent>,
) -> Result<Vec<String>, StoreError> {
    let batch = batch.into_iter().map(|event| (event, None)).collect();
    append_batch_sharing(conn, now, processor_id, batch)
}

/// [`append_batch`] of events whose data may hold one more member given as canonical JSON,
/// which many events of the batch share (a window event's change): serialised once, it is in
/// each leaf but not in each event's `data` (what the outboxes route on).
pub(crate) fn append_batch_sharing(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    processor_id: &str,
    batch: Vec<(NewEvent, Option<tree::Shared<'_>>)>,
) -> Result<Vec<String>, StoreError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    lock_chain(conn, processor_id)?;
    let first_index: i64 = processors::table
        .find(processor_id)
        .select(processors::event_count)
        .first(conn)?;
    // Stored with microsecond precision so the JSON and the column agree on both backends.
    let occurred_at = now.trunc_subsecs(6);
    let mut rows = Vec::with_capacity(batch.len());
    let mut ids = Vec::with_capacity(batch.len());
    let mut visibilities = Vec::with_capacity(batch.len());
    for (offset, (event, shared)) in batch.iter().enumerate() {
        if event.processor_id != processor_id {
            return Err(StoreError::Corrupt(format!(
                "event for `{}` appended to the log of `{processor_id}`",
                event.processor_id
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let index = first_index + offset as i64;
        let visibility = Visibility::of(event.event_type.as_str(), event.controller_id.as_deref());
        // The payload is the leaf itself: what a webhook sends is what the log hashed.
        let leaf = LeafEvent {
            id: &id,
            index: u64::try_from(index).unwrap_or(u64::MAX),
            event_type: event.event_type.as_str(),
            occurred_at,
            processor_id,
            controller_id: event.controller_id.as_deref(),
            visibility: visibility.as_str(),
            data: &event.data,
        }
        .canonical_with(*shared)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let leaf_hash = tree::to_hex(&tree::leaf_hash(leaf.as_bytes()));
        ids.push(id.clone());
        visibilities.push(visibility);
        rows.push((
            events::id.eq(id),
            events::processor_id.eq(processor_id.to_string()),
            events::controller_id.eq(event.controller_id.clone()),
            events::event_type.eq(event.event_type.as_str()),
            events::occurred_at.eq(to_db(occurred_at)),
            events::payload.eq(leaf),
            // The hash chain these columns held ended with the Merkle log (README).
            events::prev_hash.eq(""),
            events::hash.eq(""),
            events::visibility.eq(visibility.as_str()),
            events::log_index.eq(index),
            events::leaf_hash.eq(leaf_hash),
        ));
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        crate::insert_rows!(conn, events::table, chunk)?;
    }
    EVENTS_DIRTY.with(|d| d.set(true));
    super::log::appended(processor_id, occurred_at);
    diesel::update(processors::table.find(processor_id))
        .set(processors::event_count.eq(processors::event_count + batch.len() as i64))
        .execute(conn)?;
    // The transactional outbox: delivery rows are written with the events or not at all.
    let outbox: Vec<_> = batch
        .iter()
        .zip(&ids)
        .zip(&visibilities)
        .map(
            |(((event, _), id), visibility)| super::webhooks::OutboxEvent {
                id,
                event_type: event.event_type,
                controller_id: event.controller_id.as_deref(),
                visibility: *visibility,
                data: &event.data,
            },
        )
        .collect();
    super::webhooks::enqueue_batch(conn, processor_id, &outbox, now)?;
    // E-mail notices go through their own outbox, in the same transaction.
    super::mail::enqueue_batch(conn, processor_id, &outbox, now)?;
    // Public subscribers' messages too (not notices: they write no event when sent).
    super::subscriptions::enqueue_events(conn, processor_id, &outbox, now)?;
    Ok(ids)
}

/// Who reads a processor's evidence log, and so which of its events they see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// The processor itself or an admin: every event.
    Everything,
    /// A controller: the public events and the events that name it, nothing of the other
    /// controllers (their ids, objections, approvals, terms).
    Controller(String),
}

/// Public events, as SQL.
pub(crate) type Public = diesel::dsl::Eq<events::visibility, &'static str>;

/// Public events, as SQL. [`StoredEvent::is_public`] is the same rule in Rust.
pub(crate) fn public() -> Public {
    events::visibility.eq(Visibility::Public.as_str())
}

/// The events a controller sees beyond the public ones: those naming it, as SQL.
pub(crate) type Named = diesel::dsl::And<
    diesel::dsl::Eq<events::visibility, &'static str>,
    diesel::dsl::Eq<events::controller_id, String>,
>;

pub(crate) fn named(controller_id: &str) -> Named {
    events::visibility
        .eq(Visibility::Controller.as_str())
        .and(events::controller_id.eq(controller_id.to_string()))
}

type Backend = <DbConnection as diesel::Connection>::Backend;
type VisibleFilter = Box<
    dyn BoxableExpression<
        events::table,
        Backend,
        SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
    >,
>;

/// The events this reader may see, as SQL (`None`: every event). [`StoredEvent::visible_to`]
/// is the same rule in Rust.
fn visible(reader: &Reader) -> Option<VisibleFilter> {
    match reader {
        Reader::Everything => None,
        Reader::Controller(cid) => Some(Box::new(named(cid).nullable().or(public().nullable()))),
    }
}

impl StoredEvent {
    /// Processor-wide and not processor-only: anyone may read it.
    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public.as_str()
    }

    pub fn visible_to(&self, reader: &Reader) -> bool {
        match reader {
            Reader::Everything => true,
            Reader::Controller(cid) => {
                self.is_public()
                    || (self.visibility == Visibility::Controller.as_str()
                        && self.controller_id.as_deref() == Some(cid.as_str()))
            }
        }
    }
}

/// A processor's events in order of occurrence (oldest first), paginated by sequence, only
/// those the reader may see (filtered in the query, so the cursor pages through them).
pub fn list_for_processor(
    conn: &mut DbConnection,
    processor_id: &str,
    reader: &Reader,
    page: &PageRequest,
) -> Result<Page<StoredEvent>, StoreError> {
    let mut query = events::table
        .filter(events::processor_id.eq(processor_id))
        .select(StoredEvent::as_select())
        .order(events::seq)
        .limit(page.fetch())
        .into_boxed();
    if let Some(visible) = visible(reader) {
        query = query.filter(visible);
    }
    if let Some(after) = &page.after {
        let seq: i64 = after.parse().map_err(|_| {
            StoreError::Domain(crate::domain::DomainError::Invalid(vec![
                crate::domain::FieldError::new(
                    "cursor",
                    "`cursor` is not one this list returned: pass next_cursor unchanged",
                ),
            ]))
        })?;
        query = query.filter(events::seq.gt(seq));
    }
    let rows = query.load(conn)?;
    Ok(page.page(rows, |e| e.seq.to_string()))
}

/// One event of a processor's log, if the reader may see it: `NotFound` for an unknown event
/// and for one the reader may not see alike.
pub fn get_visible(
    conn: &mut DbConnection,
    processor_id: &str,
    event_id: &str,
    reader: &Reader,
) -> Result<StoredEvent, StoreError> {
    let mut query = events::table
        .filter(events::processor_id.eq(processor_id))
        .filter(events::id.eq(event_id))
        .select(StoredEvent::as_select())
        .into_boxed();
    if let Some(visible) = visible(reader) {
        query = query.filter(visible);
    }
    query
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("event", event_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema `Event` is what `to_json` serves for every event this server writes, and
    /// its members without `leaf_hash` give the leaf.
    #[test]
    fn served_events_are_events() {
        let data = serde_json::json!({"id": "c1", "summary": "Adding Qbox"});
        let occurred_at = DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap_or_default();
        let leaf = LeafEvent {
            id: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
            index: 4,
            event_type: EventType::ChangeAnnounced.as_str(),
            occurred_at,
            processor_id: "timengo-dpg",
            controller_id: None,
            visibility: "public",
            data: &data,
        }
        .canonical()
        .unwrap_or_default();
        let leaf_hash = tree::to_hex(&tree::leaf_hash(leaf.as_bytes()));
        let stored = StoredEvent {
            seq: 9,
            id: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b".into(),
            processor_id: "timengo-dpg".into(),
            controller_id: None,
            event_type: EventType::ChangeAnnounced.as_str().into(),
            occurred_at: to_db(occurred_at),
            payload: leaf.clone(),
            visibility: "public".into(),
            log_index: 4,
            leaf_hash: leaf_hash.clone(),
        };
        let served = stored.to_json();
        let event: Result<Event, _> = serde_json::from_value(served.clone());
        let Ok(event) = event else {
            panic!("{served} is not an Event: {event:?}");
        };
        assert_eq!(event.leaf_hash, leaf_hash);
        assert_eq!(event.index, 4);
        assert_eq!(serde_json::to_value(&event).ok(), Some(served.clone()));
        let mut members = served;
        if let Some(object) = members.as_object_mut() {
            object.remove("leaf_hash");
        }
        assert_eq!(serde_jcs::to_string(&members).ok(), Some(leaf));
    }
}
