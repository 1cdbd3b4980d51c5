use super::schema::{events, processors};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::event::{chain_hash, first_broken, ChainLink, EventBody, EventType};
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
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEvent {
    pub fn occurred_at(&self) -> DateTime<Utc> {
        from_db(self.occurred_at)
    }

    /// The event JSON as the API shows it: the stored evidence plus its chain hashes. For an
    /// event this server wrote that is an [`Event`]; a stored event altered behind the server's
    /// back is still shown as it is stored (and `verify` finds it).
    pub fn to_json(&self) -> serde_json::Value {
        let mut value: serde_json::Value =
            serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("prev_hash".into(), self.prev_hash.clone().into());
            object.insert("hash".into(), self.hash.clone().into());
        }
        value
    }
}

/// One event of a processor's evidence log as the API shows it: the stored event JSON (see
/// EventBody) plus its place in the hash chain. `hash = sha256(prev_hash || stored JSON bytes)`;
/// the first `prev_hash` is 64 zeros.
// What `StoredEvent::to_json` serves for every event this server wrote (a test checks it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    #[schema(format = "uuid", example = "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// RFC 3339 in UTC, to the microsecond.
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    /// The controller the event concerns, or null for a processor-wide event.
    #[schema(required = true, example = "roskilde-kommune")]
    pub controller_id: Option<String>,
    /// The object as the API shows it, by event type (see EventBody).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The `hash` of the event before it in the processor's chain (64 zeros for the first).
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub prev_hash: String,
    /// SHA-256, in hex, of `prev_hash` followed by the stored event JSON.
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub hash: String,
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
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    lock_chain(conn, processor_id)?;
    let mut head: String = processors::table
        .find(processor_id)
        .select(processors::chain_head)
        .first(conn)?;
    // Stored with microsecond precision so the JSON and the column agree on both backends.
    let occurred_at = now.trunc_subsecs(6);
    let mut rows = Vec::with_capacity(batch.len());
    let mut ids = Vec::with_capacity(batch.len());
    for event in &batch {
        if event.processor_id != processor_id {
            return Err(StoreError::Corrupt(format!(
                "event for `{}` appended to the chain of `{processor_id}`",
                event.processor_id
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let payload = serde_json::to_string(&EventBody {
            id: &id,
            event_type: event.event_type,
            occurred_at,
            processor_id,
            controller_id: event.controller_id.as_deref(),
            data: &event.data,
        })
        .map_err(|e| StoreError::Corrupt(format!("event not serialisable: {e}")))?;
        let hash = chain_hash(&head, &payload);
        let prev_hash = std::mem::replace(&mut head, hash.clone());
        ids.push(id.clone());
        rows.push((
            events::id.eq(id),
            events::processor_id.eq(processor_id.to_string()),
            events::controller_id.eq(event.controller_id.clone()),
            events::event_type.eq(event.event_type.as_str()),
            events::occurred_at.eq(to_db(occurred_at)),
            events::payload.eq(payload),
            events::prev_hash.eq(prev_hash),
            events::hash.eq(hash),
        ));
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        crate::insert_rows!(conn, events::table, chunk)?;
    }
    EVENTS_DIRTY.with(|d| d.set(true));
    diesel::update(processors::table.find(processor_id))
        .set((
            processors::chain_head.eq(&head),
            processors::event_count.eq(processors::event_count + batch.len() as i64),
        ))
        .execute(conn)?;
    // The transactional outbox: delivery rows are written with the events or not at all.
    let outbox: Vec<_> = batch
        .iter()
        .zip(&ids)
        .map(|(event, id)| super::webhooks::OutboxEvent {
            id,
            event_type: event.event_type,
            controller_id: event.controller_id.as_deref(),
            data: &event.data,
        })
        .collect();
    super::webhooks::enqueue_batch(conn, processor_id, &outbox, now)?;
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

/// The event type no controller sees although it names none: a processor's own endpoint
/// being disabled is the processor's business.
const PROCESSOR_ONLY: EventType = EventType::EndpointDisabled;

/// Public events, as SQL: processor-wide (naming no controller) and not processor-only.
pub(crate) type Public = diesel::dsl::And<
    diesel::dsl::IsNull<events::controller_id>,
    diesel::dsl::NotEq<events::event_type, &'static str>,
>;

/// Public events, as SQL. [`StoredEvent::is_public`] is the same rule in Rust.
pub(crate) fn public() -> Public {
    events::controller_id
        .is_null()
        .and(events::event_type.ne(PROCESSOR_ONLY.as_str()))
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
        Reader::Controller(cid) => Some(Box::new(
            events::controller_id
                .eq(cid.clone())
                .or(public().nullable()),
        )),
    }
}

impl StoredEvent {
    /// Processor-wide and not processor-only: anyone may read it.
    pub fn is_public(&self) -> bool {
        self.controller_id.is_none() && self.event_type != PROCESSOR_ONLY.as_str()
    }

    pub fn visible_to(&self, reader: &Reader) -> bool {
        match reader {
            Reader::Everything => true,
            Reader::Controller(cid) => {
                self.is_public() || self.controller_id.as_deref() == Some(cid.as_str())
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainVerification {
    pub valid: bool,
    /// Every event of the log, whoever asks.
    #[schema(minimum = 0)]
    pub events: i64,
    /// The chain head kept on the processor: the hash of its newest event.
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub head: String,
    /// The first event that does not follow from its predecessor; left out (null) for a
    /// reader who may not see that event, who still learns `valid: false`.
    #[schema(required = true)]
    pub first_broken: Option<String>,
}

/// Recomputes a processor's hash chain from the stored bytes and reports where it breaks.
pub fn verify_chain(
    conn: &mut DbConnection,
    processor_id: &str,
) -> Result<ChainVerification, StoreError> {
    verify_chain_for(conn, processor_id, &Reader::Everything)
}

/// [`verify_chain`] for one reader: every event is checked whoever asks, and the answer
/// names only an event the reader may see.
pub fn verify_chain_for(
    conn: &mut DbConnection,
    processor_id: &str,
    reader: &Reader,
) -> Result<ChainVerification, StoreError> {
    let (head, count): (String, i64) = processors::table
        .find(processor_id)
        .select((processors::chain_head, processors::event_count))
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("processor", processor_id))?;
    let rows: Vec<(String, String, String, String)> = events::table
        .filter(events::processor_id.eq(processor_id))
        .order(events::seq)
        .select((events::id, events::payload, events::prev_hash, events::hash))
        .load(conn)?;
    let mut broken = first_broken(rows.iter().map(|(id, payload, prev_hash, hash)| ChainLink {
        id,
        payload,
        prev_hash,
        hash,
    }));
    // Events cut off the end leave the chain consistent; the head and count kept on the
    // processor row reveal them.
    if broken.is_none() {
        let last_hash = rows
            .last()
            .map(|r| r.3.as_str())
            .unwrap_or(crate::domain::event::GENESIS_HASH);
        if last_hash != head || rows.len() as i64 != count {
            broken = Some(rows.last().map(|r| r.0.clone()).unwrap_or_default());
        }
    }
    let valid = broken.is_none();
    let first_broken = match broken {
        Some(id) if *reader != Reader::Everything => {
            match get_visible(conn, processor_id, &id, reader) {
                Ok(_) => Some(id),
                Err(StoreError::NotFound { .. }) => None,
                Err(other) => return Err(other),
            }
        }
        other => other,
    };
    Ok(ChainVerification {
        valid,
        events: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        head,
        first_broken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema `Event` is what `to_json` serves for every event this server writes.
    #[test]
    fn served_events_are_events() {
        let data = serde_json::json!({"id": "c1", "summary": "Adding Qbox"});
        let occurred_at = DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap_or_default();
        let payload = serde_json::to_string(&EventBody {
            id: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
            event_type: EventType::ChangeAnnounced,
            occurred_at,
            processor_id: "timengo-dpg",
            controller_id: None,
            data: &data,
        })
        .unwrap_or_default();
        let hash = chain_hash(crate::domain::event::GENESIS_HASH, &payload);
        let stored = StoredEvent {
            seq: 1,
            id: "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b".into(),
            processor_id: "timengo-dpg".into(),
            controller_id: None,
            event_type: EventType::ChangeAnnounced.as_str().into(),
            occurred_at: to_db(occurred_at),
            payload,
            prev_hash: crate::domain::event::GENESIS_HASH.into(),
            hash: hash.clone(),
        };
        let served = stored.to_json();
        let event: Result<Event, _> = serde_json::from_value(served.clone());
        let Ok(event) = event else {
            panic!("{served} is not an Event: {event:?}");
        };
        assert_eq!(event.hash, hash);
        assert_eq!(event.occurred_at, occurred_at);
        assert_eq!(serde_json::to_value(&event).ok(), Some(served));
    }
}
