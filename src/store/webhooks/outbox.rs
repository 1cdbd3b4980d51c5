//! The transactional outbox of webhook deliveries: rows written with their events
//! (`enqueue_batch`), claimed fairly with a real-clock lease (`claim`), handed back at shutdown
//! (`release`), and the attempts written back (`record`), disabling endpoints that are gone.

use super::INSERT_BATCH;
use crate::domain::event::EventType;
use crate::domain::webhook::{
    storable_text, wants, DeliveryState, Outcome, OwnerKind, STORED_TEXT_MAX,
};
use crate::store::events::{self, NewEvent};
use crate::store::schema::{
    agreements, events as events_table, webhook_deliveries, webhook_endpoints,
};
use crate::store::signal::CommitSignal;
use crate::store::{from_db, to_db, DbConnection, StoreError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::cell::Cell;
use std::collections::HashMap;

static OUTBOX: CommitSignal = CommitSignal::new();

thread_local! {
    /// Set when this thread wrote delivery rows in the transaction now open.
    static OUTBOX_DIRTY: Cell<bool> = const { Cell::new(false) };
}

/// Called by `write_transaction` after its commit (or rollback): wakes the dispatchers when the
/// committed transaction wrote deliveries.
pub(crate) fn transaction_finished(committed: bool) {
    OUTBOX.finished(&OUTBOX_DIRTY, committed);
}

/// A counter that moves whenever deliveries were committed in this process.
pub fn outbox_generation() -> u64 {
    OUTBOX.generation()
}

/// Resolves when deliveries are committed after the call (pair it with `outbox_generation`).
pub fn outbox_written() -> tokio::sync::futures::Notified<'static> {
    OUTBOX.written()
}

/// An appended event as the outbox needs it.
pub(crate) struct OutboxEvent<'a> {
    pub id: &'a str,
    pub event_type: EventType,
    pub controller_id: Option<&'a str>,
    pub visibility: crate::domain::log::Visibility,
    pub data: &'a serde_json::Value,
}

/// Writes one delivery row per enabled endpoint that wants each event, in the caller's
/// transaction (the transactional outbox). The endpoints are loaded once per batch.
///
/// Who gets what: a processor's endpoints get all its events; a controller's endpoints get the
/// events that name it and, for processor-wide events (no controller), those of every processor
/// it has an agreement with. `endpoint.disabled` goes to the endpoint's owner only.
pub(crate) fn enqueue_batch(
    conn: &mut DbConnection,
    processor_id: &str,
    batch: &[OutboxEvent<'_>],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    // Most deployments have few endpoints and many events: skip the routing when none is on.
    let any_enabled: bool = diesel::select(diesel::dsl::exists(
        webhook_endpoints::table.filter(webhook_endpoints::enabled.eq(true)),
    ))
    .get_result(conn)?;
    if !any_enabled {
        return Ok(0);
    }
    let select = (
        webhook_endpoints::id,
        webhook_endpoints::owner_kind,
        webhook_endpoints::owner_id,
        webhook_endpoints::event_types,
    );
    let mut endpoints: Vec<(String, String, String, String)> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_endpoints::owner_kind.eq(OwnerKind::Processor.as_str()))
        .filter(webhook_endpoints::owner_id.eq(processor_id))
        .select(select)
        .load(conn)?;
    endpoints.extend(
        webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(webhook_endpoints::owner_kind.eq(OwnerKind::Controller.as_str()))
            .filter(
                webhook_endpoints::owner_id.eq_any(
                    agreements::table
                        .filter(agreements::processor_id.eq(processor_id))
                        .select(agreements::controller_id),
                ),
            )
            .select(select)
            .load::<(String, String, String, String)>(conn)?,
    );
    // Controllers the events name directly, whether or not an agreement is on file.
    let named: std::collections::BTreeSet<&str> =
        batch.iter().filter_map(|e| e.controller_id).collect();
    let known: std::collections::HashSet<String> = endpoints.iter().map(|e| e.0.clone()).collect();
    let named: Vec<&str> = named.into_iter().collect();
    let mut named_only: std::collections::HashSet<String> = std::collections::HashSet::new();
    for chunk in named.chunks(INSERT_BATCH) {
        let found: Vec<(String, String, String, String)> = webhook_endpoints::table
            .filter(webhook_endpoints::enabled.eq(true))
            .filter(webhook_endpoints::owner_kind.eq(OwnerKind::Controller.as_str()))
            .filter(webhook_endpoints::owner_id.eq_any(chunk))
            .select(select)
            .load(conn)?;
        for endpoint in found.into_iter().filter(|e| !known.contains(&e.0)) {
            named_only.insert(endpoint.0.clone());
            endpoints.push(endpoint);
        }
    }
    if endpoints.is_empty() {
        return Ok(0);
    }
    let processor_kind = OwnerKind::Processor.as_str();
    let mut wanted: Vec<(String, &str)> = Vec::new();
    for event in batch {
        let type_name = event.event_type.as_str();
        for (endpoint_id, owner_kind, owner_id, filter) in &endpoints {
            use crate::domain::log::Visibility;
            // Who the event is for follows its stored visibility, as in the feeds and the
            // events API; a disabled endpoint's notice goes to that endpoint's owner.
            let addressed = if event.event_type == EventType::EndpointDisabled {
                event.data["owner_kind"].as_str() == Some(owner_kind.as_str())
                    && event.data["owner_id"].as_str() == Some(owner_id.as_str())
            } else if owner_kind == processor_kind {
                true
            } else {
                match event.visibility {
                    Visibility::Controller => event.controller_id == Some(owner_id.as_str()),
                    // Processor-wide: only controllers with an agreement with this processor.
                    Visibility::Public => !named_only.contains(endpoint_id.as_str()),
                    Visibility::Processor => false,
                }
            };
            if addressed && wants(filter, type_name) {
                wanted.push((endpoint_id.clone(), event.id));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(0);
    }
    // The sequence numbers were assigned by the insert; read them back for the rows that need them.
    let mut seqs: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let ids: Vec<&str> = batch.iter().map(|e| e.id).collect();
    for chunk in ids.chunks(INSERT_BATCH) {
        let found: Vec<(String, i64)> = events_table::table
            .filter(events_table::id.eq_any(chunk))
            .select((events_table::id, events_table::seq))
            .load(conn)?;
        seqs.extend(found);
    }
    let now_db = to_db(now);
    let mut rows = Vec::with_capacity(wanted.len());
    for (endpoint_id, event_id) in wanted {
        let seq = *seqs
            .get(event_id)
            .ok_or_else(|| StoreError::not_found("event", event_id))?;
        rows.push((
            webhook_deliveries::id.eq(uuid::Uuid::now_v7().to_string()),
            webhook_deliveries::endpoint_id.eq(endpoint_id),
            webhook_deliveries::event_id.eq(event_id.to_string()),
            webhook_deliveries::event_seq.eq(seq),
            webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(now_db),
            webhook_deliveries::created_at.eq(now_db),
            webhook_deliveries::updated_at.eq(now_db),
        ));
    }
    for chunk in rows.chunks(INSERT_BATCH) {
        crate::insert_rows!(conn, webhook_deliveries::table, chunk)?;
    }
    OUTBOX_DIRTY.with(|d| d.set(true));
    super::super::db::note_bulk_write(super::super::db::BulkTable::WebhookDeliveries, rows.len());
    Ok(rows.len())
}

/// A claimed delivery with what it takes to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_seq: i64,
    pub attempts: i32,
    pub url: String,
    pub secret: String,
    /// The event JSON as stored in the evidence log, with its receipt as `log`.
    pub payload: String,
}

/// What a dispatcher asks of one claim.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// Application time (the test clock in tests): deliveries due by then are claimed.
    pub now: DateTime<Utc>,
    /// Real time: leases that ran out before it are void. Leases are never measured on the
    /// test clock, or moving it would re-send deliveries still in flight.
    pub wall_now: DateTime<Utc>,
    /// Real time the new leases run out.
    pub lease_until: DateTime<Utc>,
    /// Most deliveries claimed.
    pub limit: i64,
    /// Most sends in flight to one endpoint.
    pub per_endpoint: usize,
    /// The caller's sends in flight, by endpoint id.
    pub in_flight: &'a HashMap<String, usize>,
}

/// Due rows ranked per claim, as a multiple of the claim's limit.
const CLAIM_WINDOW_FACTOR: i64 = 4;

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    leased_until: Option<NaiveDateTime>,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    endpoint_id: String,
}

/// Due rows of enabled endpoints, at most `per_endpoint` of each endpoint, taken round-robin
/// across endpoints (every endpoint's first due row, then every second, ...) so that one
/// endpoint's backlog cannot fill a claim. The rank is a window function over the first
/// `window` due rows (in due order, by the index), which bounds the cost of a claim whatever
/// the backlog; endpoints at their cap are left out before that cut, disabled ones after it
/// (they have no pending rows: `disable` fails them), which keeps the probe to the window.
pub const CANDIDATES_PG: &str = "SELECT id, endpoint_id FROM \
     (SELECT w.id, w.endpoint_id, w.next_attempt_at, ROW_NUMBER() OVER \
             (PARTITION BY w.endpoint_id ORDER BY w.next_attempt_at, w.event_seq) AS rank \
      FROM (SELECT c.id, c.endpoint_id, c.next_attempt_at, c.event_seq \
            FROM webhook_deliveries c \
            WHERE c.state = 'pending' AND c.next_attempt_at <= $1 \
              AND (c.leased_until IS NULL OR c.leased_until < $2) \
              AND c.endpoint_id <> ALL($3) \
            ORDER BY c.next_attempt_at LIMIT $4) w \
      WHERE EXISTS (SELECT 1 FROM webhook_endpoints e \
                    WHERE e.id = w.endpoint_id AND e.enabled)) ranked \
     WHERE rank <= $5 ORDER BY rank, next_attempt_at LIMIT $6";

/// Set at the start of a claim and of a recording on PostgreSQL: their statements read by index
/// only, so that their plans do not hang on statistics. Without them, on a table never analysed
/// (autovacuum late or off, rows written in small transactions that never trigger the bulk
/// write's ANALYZE) the planner reads and sorts every due row for each claim instead of walking
/// the partial index in due order, and reads the whole table to record a batch.
pub const PLANS_BY_INDEX_PG: &str =
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off";

/// On PostgreSQL the candidates are then locked by primary key, skipping rows another
/// dispatcher holds; the state and lease are checked again (in `claim`) on the rows locked.
/// Only the id is in the WHERE clause, so that the primary key is the one index that serves it
/// (a state test would let an unanalysed table's plan walk every pending row).
pub const LOCK_PG: &str = "SELECT id, state, leased_until FROM webhook_deliveries \
     WHERE id = ANY($1) FOR UPDATE SKIP LOCKED";

const CANDIDATES_SQLITE: &str = "SELECT id, endpoint_id FROM \
     (SELECT w.id, w.endpoint_id, w.next_attempt_at, ROW_NUMBER() OVER \
             (PARTITION BY w.endpoint_id ORDER BY w.next_attempt_at, w.event_seq) AS rank \
      FROM (SELECT c.id, c.endpoint_id, c.next_attempt_at, c.event_seq \
            FROM webhook_deliveries c \
            WHERE c.state = 'pending' AND c.next_attempt_at <= ? \
              AND (c.leased_until IS NULL OR c.leased_until < ?) \
              AND c.endpoint_id NOT IN (SELECT value FROM json_each(?)) \
            ORDER BY c.next_attempt_at LIMIT ?) w \
      WHERE EXISTS (SELECT 1 FROM webhook_endpoints e \
                    WHERE e.id = w.endpoint_id AND e.enabled)) \
     WHERE rank <= ? ORDER BY rank, next_attempt_at LIMIT ?";

/// Claims up to `limit` due deliveries of enabled endpoints by leasing them until
/// `lease_until`, in one short transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
/// concurrent dispatchers take disjoint rows; the write lock of `BEGIN IMMEDIATE` on SQLite.
///
/// Fair across endpoints: an endpoint gets at most `per_endpoint` sends in flight (counting the
/// caller's `in_flight`), and a claim takes endpoints round-robin. A hanging receiver holds up
/// only its own few deliveries. The result is in that round-robin order.
pub fn claim(
    conn: &mut DbConnection,
    request: &ClaimRequest<'_>,
) -> Result<Vec<Claimed>, StoreError> {
    use diesel::sql_types::{Array, BigInt, Text, Timestamp};
    let now_db = to_db(request.now);
    let wall_db = to_db(request.wall_now);
    let saturated: Vec<&str> = request
        .in_flight
        .iter()
        .filter(|(_, n)| **n >= request.per_endpoint)
        .map(|(id, _)| id.as_str())
        .collect();
    let per_endpoint = i64::try_from(request.per_endpoint).unwrap_or(i64::MAX);
    // Due rows ranked per claim: a few claims' worth, so that a short backlog of one endpoint
    // at the head of the queue cannot leave the claim empty.
    let window = request.limit.max(1).saturating_mul(CLAIM_WINDOW_FACTOR);
    crate::store::write_transaction(conn, |conn| {
        let candidates: Vec<Candidate> = match conn {
            DbConnection::Postgresql(pg) => {
                pg.batch_execute(PLANS_BY_INDEX_PG)?;
                let ranked: Vec<Candidate> = diesel::sql_query(CANDIDATES_PG)
                    .bind::<Timestamp, _>(now_db)
                    .bind::<Timestamp, _>(wall_db)
                    .bind::<Array<Text>, _>(&saturated)
                    .bind::<BigInt, _>(window)
                    .bind::<BigInt, _>(per_endpoint)
                    .bind::<BigInt, _>(request.limit)
                    .load(pg)?;
                if ranked.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<&str> = ranked.iter().map(|c| c.id.as_str()).collect();
                let locked: std::collections::HashSet<String> = diesel::sql_query(LOCK_PG)
                    .bind::<Array<Text>, _>(&ids)
                    .load::<Locked>(pg)?
                    .into_iter()
                    .filter(|l| {
                        l.state == DeliveryState::Pending.as_str()
                            && l.leased_until.is_none_or(|until| until < wall_db)
                    })
                    .map(|l| l.id)
                    .collect();
                ranked
                    .into_iter()
                    .filter(|c| locked.contains(&c.id))
                    .collect()
            }
            DbConnection::Sqlite(sqlite) => {
                let excluded = serde_json::to_string(&saturated)
                    .map_err(|e| StoreError::Corrupt(format!("endpoint ids: {e}")))?;
                diesel::sql_query(CANDIDATES_SQLITE)
                    .bind::<Timestamp, _>(now_db)
                    .bind::<Timestamp, _>(wall_db)
                    .bind::<Text, _>(excluded)
                    .bind::<BigInt, _>(window)
                    .bind::<BigInt, _>(per_endpoint)
                    .bind::<BigInt, _>(request.limit)
                    .load(sqlite)?
            }
        };
        // Endpoints with sends in flight get only what is left of their share.
        let mut taken: HashMap<&str, usize> = HashMap::new();
        let mut ids: Vec<String> = Vec::with_capacity(candidates.len());
        for candidate in &candidates {
            let busy = request
                .in_flight
                .get(&candidate.endpoint_id)
                .copied()
                .unwrap_or(0);
            let count = taken.entry(candidate.endpoint_id.as_str()).or_insert(0);
            if busy.saturating_add(*count) < request.per_endpoint {
                *count += 1;
                ids.push(candidate.id.clone());
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Leased and read back in one statement a chunk.
        let mut deliveries: Vec<(String, String, String, i64, i32)> = Vec::new();
        for chunk in ids.chunks(INSERT_BATCH) {
            deliveries.extend(
                diesel::update(
                    webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(chunk)),
                )
                .set(webhook_deliveries::leased_until.eq(to_db(request.lease_until)))
                .returning((
                    webhook_deliveries::id,
                    webhook_deliveries::endpoint_id,
                    webhook_deliveries::event_id,
                    webhook_deliveries::event_seq,
                    webhook_deliveries::attempts,
                ))
                .load::<(String, String, String, i64, i32)>(conn)?,
            );
        }
        // Back into the round-robin order of the claim.
        let position: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        deliveries.sort_by_key(|d| position.get(d.0.as_str()).copied().unwrap_or(usize::MAX));
        let mut endpoint_ids: Vec<&String> = deliveries.iter().map(|d| &d.1).collect();
        endpoint_ids.sort();
        endpoint_ids.dedup();
        let endpoints: std::collections::HashMap<String, (String, String)> =
            webhook_endpoints::table
                .filter(webhook_endpoints::id.eq_any(endpoint_ids))
                .select((
                    webhook_endpoints::id,
                    webhook_endpoints::url,
                    webhook_endpoints::secret,
                ))
                .load::<(String, String, String)>(conn)?
                .into_iter()
                .map(|(id, url, secret)| (id, (url, secret)))
                .collect();
        let mut seqs: Vec<i64> = deliveries.iter().map(|d| d.3).collect();
        seqs.sort_unstable();
        seqs.dedup();
        // Each body carries its event's receipt: the index and the checkpoint that signed it.
        let mut payloads: std::collections::HashMap<i64, String> =
            std::collections::HashMap::with_capacity(seqs.len());
        let rows = events_table::table
            .filter(events_table::seq.eq_any(seqs))
            .select((
                events_table::seq,
                events_table::payload,
                events_table::processor_id,
                events_table::log_index,
            ))
            .load::<(i64, String, String, i64)>(conn)?;
        for (seq, payload, processor_id, index) in rows {
            let receipt = super::super::log::receipt(conn, &processor_id, index)?;
            let body = receipt
                .attach(&payload)
                .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
            payloads.insert(seq, body);
        }
        let mut claimed = Vec::with_capacity(deliveries.len());
        for (delivery_id, endpoint_id, event_id, event_seq, attempts) in deliveries {
            let (Some((url, secret)), Some(payload)) =
                (endpoints.get(&endpoint_id), payloads.get(&event_seq))
            else {
                continue;
            };
            claimed.push(Claimed {
                delivery_id,
                url: url.clone(),
                secret: secret.clone(),
                payload: payload.clone(),
                endpoint_id,
                event_id,
                event_seq,
                attempts,
            });
        }
        Ok(claimed)
    })
}

/// Gives claimed deliveries back unsent (a dispatcher shutting down): their lease ends now and
/// they are due again for any dispatcher. Rows already recorded are left as they are.
pub fn release(conn: &mut DbConnection, delivery_ids: &[String]) -> Result<usize, StoreError> {
    let mut released = 0;
    for chunk in delivery_ids.chunks(INSERT_BATCH) {
        released += diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq_any(chunk))
                .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str())),
        )
        .set(webhook_deliveries::leased_until.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    }
    Ok(released)
}

/// What one attempt did, and what the dispatcher decided follows.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub event_seq: i64,
    pub outcome: Outcome,
    pub status: Option<i32>,
    pub latency_ms: i64,
    pub response: Option<String>,
    pub error: Option<String>,
    /// For a failure: when to try again, or `None` when the schedule is used up.
    pub retry_at: Option<DateTime<Utc>>,
}

/// Writes back a batch of attempts in one transaction: the delivery's new state, the endpoint's
/// failure streak, and the disabling of endpoints that answered 410 or failed for
/// `disable_after` without a success (with an `endpoint.disabled` event to the owner).
/// Returns the ids of endpoints disabled.
///
/// What a receiver answered is stored sanitised (`storable_text`): no answer can make the
/// database refuse the batch. A failed attempt of an endpoint that is disabled (by this batch
/// or while the attempt was in flight) ends `failed`, never `pending`: nothing would send it.
pub fn record(
    conn: &mut DbConnection,
    attempts: &[AttemptRecord],
    now: DateTime<Utc>,
    disable_after: chrono::Duration,
) -> Result<Vec<String>, StoreError> {
    let now_db = to_db(now);
    let attempts: Vec<AttemptRecord> = attempts.iter().map(AttemptRecord::storable).collect();
    let attempts = attempts.as_slice();
    crate::store::write_transaction(conn, |conn| {
        let mut disabled = Vec::new();
        // An endpoint that took any delivery of this batch is reachable: its failure streak
        // ends, in one statement for the batch, and its failures here do not start a new one.
        let healthy: std::collections::BTreeSet<&str> = attempts
            .iter()
            .filter(|a| a.outcome == Outcome::Success)
            .map(|a| a.endpoint_id.as_str())
            .collect();
        for chunk in healthy
            .iter()
            .copied()
            .collect::<Vec<_>>()
            .chunks(INSERT_BATCH)
        {
            diesel::update(
                webhook_endpoints::table
                    .filter(webhook_endpoints::id.eq_any(chunk))
                    .filter(webhook_endpoints::failing_since.is_not_null()),
            )
            .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        }
        // The successes (nearly every attempt) are written in one statement rather than one
        // each; failures keep the path below.
        match conn {
            DbConnection::Postgresql(pg) => record_successes_pg(pg, attempts, now_db)?,
            DbConnection::Sqlite(sqlite) => record_successes_sqlite(sqlite, attempts, now_db)?,
        }
        for a in attempts {
            if a.outcome == Outcome::Success {
                continue;
            }
            let endpoint = webhook_endpoints::table.find(&a.endpoint_id);
            let enabled = a.outcome == Outcome::Success
                || endpoint
                    .select(webhook_endpoints::enabled)
                    .first::<bool>(conn)
                    .optional()?
                    .unwrap_or(false);
            let (state, next) = match (a.outcome, a.retry_at) {
                (Outcome::Success, _) => (DeliveryState::Succeeded, now_db),
                (Outcome::Failure, Some(at)) if enabled => (DeliveryState::Pending, to_db(at)),
                (Outcome::Failure, _) | (Outcome::Gone, _) => (DeliveryState::Failed, now_db),
            };
            diesel::update(webhook_deliveries::table.find(&a.delivery_id))
                .set((
                    webhook_deliveries::state.eq(state.as_str()),
                    webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                    webhook_deliveries::next_attempt_at.eq(next),
                    webhook_deliveries::leased_until.eq(None::<NaiveDateTime>),
                    webhook_deliveries::last_status.eq(a.status),
                    webhook_deliveries::last_latency_ms.eq(a.latency_ms),
                    webhook_deliveries::last_response.eq(&a.response),
                    webhook_deliveries::last_error.eq(&a.error),
                    webhook_deliveries::updated_at.eq(now_db),
                ))
                .execute(conn)?;
            let reason = match a.outcome {
                Outcome::Success => None,
                // Already disabled: nothing more to decide.
                _ if !enabled => None,
                Outcome::Failure if healthy.contains(a.endpoint_id.as_str()) => None,
                Outcome::Gone => Some("the endpoint answered 410 Gone".to_string()),
                Outcome::Failure => {
                    diesel::update(endpoint.filter(webhook_endpoints::failing_since.is_null()))
                        .set(webhook_endpoints::failing_since.eq(now_db))
                        .execute(conn)?;
                    let since: Option<NaiveDateTime> = endpoint
                        .select(webhook_endpoints::failing_since)
                        .first(conn)
                        .optional()?
                        .flatten();
                    match since {
                        Some(since) if now_db - since >= disable_after => Some(format!(
                            "every delivery failed since {}",
                            from_db(since).to_rfc3339()
                        )),
                        _ => None,
                    }
                }
            };
            if let Some(reason) = reason {
                if disable(conn, &a.endpoint_id, a.event_seq, &reason, now)? {
                    disabled.push(a.endpoint_id.clone());
                }
            }
        }
        record_window_notices(conn, attempts, now)?;
        Ok(disabled)
    })
}

/// A `window.opened` event answered 2xx by an endpoint of the controller it concerns is the
/// dispatch of that window's notice (`store::notified`).
fn record_window_notices(
    conn: &mut DbConnection,
    attempts: &[AttemptRecord],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let delivered: std::collections::BTreeMap<i64, Vec<&str>> = attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Success)
        .fold(Default::default(), |mut by_event, a| {
            by_event
                .entry(a.event_seq)
                .or_insert_with(Vec::new)
                .push(a.endpoint_id.as_str());
            by_event
        });
    let seqs: Vec<i64> = delivered.keys().copied().collect();
    for chunk in seqs.chunks(INSERT_BATCH) {
        let opened: Vec<(i64, String, Option<String>, String)> = events_table::table
            .filter(events_table::seq.eq_any(chunk))
            .filter(events_table::event_type.eq(EventType::WindowOpened.as_str()))
            .select((
                events_table::seq,
                events_table::processor_id,
                events_table::controller_id,
                events_table::payload,
            ))
            .load(conn)?;
        for (seq, processor_id, controller_id, payload) in opened {
            let Some(controller_id) = controller_id else {
                continue;
            };
            let endpoints = delivered.get(&seq).map(Vec::as_slice).unwrap_or_default();
            let to_controller: i64 = webhook_endpoints::table
                .filter(webhook_endpoints::id.eq_any(endpoints))
                .filter(webhook_endpoints::owner_kind.eq(OwnerKind::Controller.as_str()))
                .filter(webhook_endpoints::owner_id.eq(&controller_id))
                .count()
                .get_result(conn)?;
            let leaf: serde_json::Value = serde_json::from_str(&payload)
                .map_err(|_| StoreError::Corrupt(format!("event {seq}: payload is not JSON")))?;
            let Some(window_id) = leaf.pointer("/data/id").and_then(|id| id.as_str()) else {
                continue;
            };
            if to_controller > 0 {
                events::lock_chain(conn, &processor_id)?;
                crate::store::notified::record_locked(
                    conn,
                    window_id,
                    crate::domain::window::NoticeChannel::Webhook,
                    now,
                )?;
            }
        }
    }
    Ok(())
}

impl AttemptRecord {
    /// The record with its answer and error made storable (see `storable_text`).
    fn storable(&self) -> AttemptRecord {
        let clean = |text: &Option<String>| {
            text.as_deref()
                .map(|t| storable_text(t.as_bytes(), STORED_TEXT_MAX))
        };
        AttemptRecord {
            response: clean(&self.response),
            error: clean(&self.error),
            ..self.clone()
        }
    }
}

/// The successful attempts of a batch in one statement (PostgreSQL): ids, statuses, latencies
/// and answers as arrays, then the state and the time.
pub const RECORD_SUCCESSES_PG: &str =
    "UPDATE webhook_deliveries AS d SET state = $5, attempts = d.attempts + 1, \
     next_attempt_at = $6, leased_until = NULL, last_status = v.status, \
     last_latency_ms = v.latency, last_response = v.response, last_error = NULL, \
     updated_at = $6 \
     FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[]) \
     AS v(id, status, latency, response) WHERE d.id = v.id";

/// Writes the successful attempts of a batch with one `UPDATE … FROM unnest(…)`.
fn record_successes_pg(
    pg: &mut diesel::PgConnection,
    attempts: &[AttemptRecord],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};
    let successes: Vec<&AttemptRecord> = attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Success)
        .collect();
    if successes.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = successes.iter().map(|a| a.delivery_id.as_str()).collect();
    let statuses: Vec<Option<i32>> = successes.iter().map(|a| a.status).collect();
    let latencies: Vec<i64> = successes.iter().map(|a| a.latency_ms).collect();
    let responses: Vec<Option<&str>> = successes.iter().map(|a| a.response.as_deref()).collect();
    pg.batch_execute(PLANS_BY_INDEX_PG)?;
    diesel::sql_query(RECORD_SUCCESSES_PG)
        .bind::<Array<Text>, _>(ids)
        .bind::<Array<Nullable<Integer>>, _>(statuses)
        .bind::<Array<BigInt>, _>(latencies)
        .bind::<Array<Nullable<Text>>, _>(responses)
        .bind::<Text, _>(DeliveryState::Succeeded.as_str())
        .bind::<Timestamp, _>(now)
        .execute(pg)?;
    Ok(())
}

/// Writes the successful attempts of a batch with one `UPDATE … FROM json_each(…)` (SQLite).
fn record_successes_sqlite(
    sqlite: &mut diesel::SqliteConnection,
    attempts: &[AttemptRecord],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Text, Timestamp};
    let successes: Vec<serde_json::Value> = attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Success)
        .map(|a| serde_json::json!([a.delivery_id, a.status, a.latency_ms, a.response]))
        .collect();
    if successes.is_empty() {
        return Ok(());
    }
    let rows = serde_json::Value::Array(successes).to_string();
    diesel::sql_query(
        "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, \
         next_attempt_at = ?, leased_until = NULL, last_status = v.status, \
         last_latency_ms = v.latency, last_response = v.response, last_error = NULL, \
         updated_at = ? \
         FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS latency, \
                      value ->> 3 AS response FROM json_each(?)) AS v \
         WHERE webhook_deliveries.id = v.id",
    )
    .bind::<Text, _>(DeliveryState::Succeeded.as_str())
    .bind::<Timestamp, _>(now)
    .bind::<Timestamp, _>(now)
    .bind::<Text, _>(rows)
    .execute(sqlite)?;
    Ok(())
}

/// Disables an enabled endpoint and tells its owner with an `endpoint.disabled` event.
///
/// Events live on a processor's hash chain. A processor's endpoint gets the event on its own
/// chain; a controller's endpoint gets it on the chain of the processor whose event was being
/// delivered when the endpoint gave out, with `controller_id` set to the controller: that is the
/// relationship whose notices stopped arriving, and where an auditor looks for them.
fn disable(
    conn: &mut DbConnection,
    endpoint_id: &str,
    event_seq: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        webhook_endpoints::table
            .find(endpoint_id)
            .filter(webhook_endpoints::enabled.eq(true)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_at.eq(to_db(now)),
        webhook_endpoints::disabled_reason.eq(reason),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(false);
    }
    // Nothing is sent to a disabled endpoint again: its waiting deliveries fail now, with the
    // reason in the log, instead of staying pending for ever. Rows in flight fail too and lose
    // their lease; their attempt, when it is recorded, says how it ended.
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending.as_str())),
    )
    .set((
        webhook_deliveries::state.eq(DeliveryState::Failed.as_str()),
        webhook_deliveries::leased_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_error.eq(format!("not sent: endpoint disabled ({reason})")),
        webhook_deliveries::updated_at.eq(to_db(now)),
    ))
    .execute(conn)?;
    let (owner_kind, owner_id, failing_since): (String, String, Option<NaiveDateTime>) =
        webhook_endpoints::table
            .find(endpoint_id)
            .select((
                webhook_endpoints::owner_kind,
                webhook_endpoints::owner_id,
                webhook_endpoints::failing_since,
            ))
            .first(conn)?;
    let processor_id: String = match OwnerKind::parse(&owner_kind) {
        Some(OwnerKind::Processor) => owner_id.clone(),
        _ => events_table::table
            .find(event_seq)
            .select(events_table::processor_id)
            .first(conn)?,
    };
    let controller_id = (owner_kind == OwnerKind::Controller.as_str()).then(|| owner_id.clone());
    events::append(
        conn,
        now,
        NewEvent {
            event_type: EventType::EndpointDisabled,
            processor_id,
            controller_id,
            data: serde_json::json!({
                "endpoint_id": endpoint_id,
                "owner_kind": owner_kind,
                "owner_id": owner_id,
                "reason": reason,
                "failing_since": failing_since.map(from_db),
                "disabled_at": now,
            }),
        },
    )?;
    Ok(true)
}

/// Deliveries by state, across all endpoints (benchmarks and operators).
pub fn count_by_state(conn: &mut DbConnection) -> Result<Vec<(String, i64)>, StoreError> {
    webhook_deliveries::table
        .group_by(webhook_deliveries::state)
        .select((webhook_deliveries::state, diesel::dsl::count_star()))
        .load(conn)
        .map_err(StoreError::from)
}
