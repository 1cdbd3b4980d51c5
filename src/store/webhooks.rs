//! Webhook endpoints and their delivery logs; the transactional outbox of the deliveries is
//! `outbox`, re-exported here.
//!
//! `enqueue_batch` runs inside `events::append_batch`, so a delivery row exists exactly when its event
//! does. The dispatcher claims due rows with a lease (`claim`), sends outside any transaction,
//! and writes back what happened (`record`).

use super::schema::{webhook_deliveries, webhook_endpoints};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::event::EventType;
use crate::domain::webhook::{DeliveryState, OwnerKind};
use crate::domain::{DomainError, FieldError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

/// Rows per multi-row insert: well under SQLite's bound-variable limit.
const INSERT_BATCH: usize = 500;

pub mod outbox;
pub use outbox::{
    claim, count_by_state, outbox_generation, outbox_written, record, release, AttemptRecord,
    ClaimRequest, Claimed,
};
pub(crate) use outbox::{enqueue_batch, transaction_finished, OutboxEvent};

/// A webhook endpoint as the API shows it (without its secret: only the answers of registration
/// and rotation show that, beside these members).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Webhook)]
pub struct Endpoint {
    /// The endpoint's id (a UUID).
    #[schema(format = "uuid")]
    pub id: String,
    pub owner_kind: OwnerKind,
    /// The processor's or controller's id.
    #[schema(value_type = crate::domain::party::Slug)]
    pub owner_id: String,
    /// Where events are POSTed.
    #[schema(format = "uri", example = "https://hooks.example.dk/subreg")]
    pub url: String,
    /// The event types it receives; empty means every type.
    #[schema(value_type = Vec<EventType>)]
    pub event_types: Vec<String>,
    /// False once disabled (410 Gone, or failing for too long) or when registered disabled.
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    /// When subreg disabled it, or null.
    #[schema(required = true)]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why subreg disabled it, or null.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts; null after a success.
    #[schema(required = true)]
    pub failing_since: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointRow {
    id: String,
    owner_kind: String,
    owner_id: String,
    url: String,
    event_types: String,
    enabled: bool,
    created_at: NaiveDateTime,
    disabled_at: Option<NaiveDateTime>,
    disabled_reason: Option<String>,
    failing_since: Option<NaiveDateTime>,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;

    fn try_from(row: EndpointRow) -> Result<Self, StoreError> {
        Ok(Endpoint {
            owner_kind: OwnerKind::parse(&row.owner_kind)
                .ok_or_else(|| StoreError::Corrupt(format!("endpoint {}: owner_kind", row.id)))?,
            event_types: serde_json::from_str(&row.event_types)
                .map_err(|_| StoreError::Corrupt(format!("endpoint {}: event_types", row.id)))?,
            id: row.id,
            owner_id: row.owner_id,
            url: row.url,
            enabled: row.enabled,
            created_at: from_db(row.created_at),
            disabled_at: row.disabled_at.map(from_db),
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since.map(from_db),
        })
    }
}

/// One delivery of one event to one endpoint, as the delivery log shows it.
#[derive(Debug, Clone, Serialize, Queryable, Selectable, utoipa::ToSchema)]
#[diesel(table_name = webhook_deliveries)]
#[schema(as = Delivery)]
pub struct DeliveryRow {
    /// The delivery's id (a UUID).
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub endpoint_id: String,
    /// The event delivered; also the `webhook-id` header.
    #[schema(format = "uuid")]
    pub event_id: String,
    #[serde(skip)]
    pub event_seq: i64,
    #[schema(value_type = DeliveryState)]
    pub state: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// While `pending`: when the next attempt is due.
    #[serde(serialize_with = "utc")]
    #[schema(value_type = DateTime<Utc>)]
    pub next_attempt_at: NaiveDateTime,
    #[serde(skip)]
    pub leased_until: Option<NaiveDateTime>,
    /// The HTTP status of the last answer, or null.
    #[schema(required = true)]
    pub last_status: Option<i32>,
    /// How long the last attempt took, in milliseconds, or null.
    #[schema(required = true)]
    pub last_latency_ms: Option<i64>,
    /// The first 512 bytes of the last answer.
    #[schema(required = true)]
    pub last_response: Option<String>,
    /// Why the last attempt got no answer (timeout, refused address, ...).
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = DateTime<Utc>)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    #[schema(value_type = DateTime<Utc>)]
    pub updated_at: NaiveDateTime,
}

fn utc<S: serde::Serializer>(time: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    from_db(*time).serialize(s)
}

/// Who is asking: the owner of the endpoints.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub kind: OwnerKind,
    pub id: &'a str,
}

pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    pub secret: String,
}

fn owner_exists(conn: &mut DbConnection, owner: Owner) -> Result<(), StoreError> {
    match owner.kind {
        OwnerKind::Processor => super::organisations::get_processor(conn, owner.id).map(|_| ()),
        OwnerKind::Controller => super::organisations::get_controller(conn, owner.id).map(|_| ()),
    }
}

/// Registers an endpoint, refused (409) when the owner already has `max_endpoints`: every
/// endpoint costs a delivery row per event it wants.
pub fn create_endpoint(
    conn: &mut DbConnection,
    owner: Owner,
    spec: NewEndpoint,
    max_endpoints: usize,
    now: DateTime<Utc>,
) -> Result<Endpoint, StoreError> {
    super::write_transaction(conn, |conn| {
        owner_exists(conn, owner)?;
        if let DbConnection::Postgresql(pg) = conn {
            // Two concurrent creations for one owner must not both pass the count below.
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind::<diesel::sql_types::Text, _>(format!(
                    "webhook_endpoints:{}:{}",
                    owner.kind.as_str(),
                    owner.id
                ))
                .execute(pg)?;
        }
        let registered: i64 = webhook_endpoints::table
            .filter(webhook_endpoints::owner_kind.eq(owner.kind.as_str()))
            .filter(webhook_endpoints::owner_id.eq(owner.id))
            .count()
            .get_result(conn)?;
        if usize::try_from(registered).unwrap_or(usize::MAX) >= max_endpoints {
            return Err(StoreError::Conflict(format!(
                "{} `{}` already has {registered} webhook endpoints, the most allowed \
                 (SUBREG_WEBHOOK_MAX_ENDPOINTS = {max_endpoints}): delete one it no longer needs \
                 (DELETE /v1/{}s/{}/webhooks/{{whid}}), or have the operator raise \
                 SUBREG_WEBHOOK_MAX_ENDPOINTS",
                owner.kind.as_str(),
                owner.id,
                owner.kind.as_str(),
                owner.id
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let names: Vec<&str> = spec.event_types.iter().map(|t| t.as_str()).collect();
        let filter = serde_json::to_string(&names)
            .map_err(|e| StoreError::Corrupt(format!("filter: {e}")))?;
        diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::id.eq(&id),
                webhook_endpoints::owner_kind.eq(owner.kind.as_str()),
                webhook_endpoints::owner_id.eq(owner.id),
                webhook_endpoints::url.eq(&spec.url),
                webhook_endpoints::event_types.eq(&filter),
                webhook_endpoints::enabled.eq(spec.enabled),
                webhook_endpoints::secret.eq(&spec.secret),
                webhook_endpoints::created_at.eq(to_db(now)),
            ))
            .execute(conn)?;
        get_endpoint(conn, owner, &id)
    })
}

pub fn get_endpoint(
    conn: &mut DbConnection,
    owner: Owner,
    id: &str,
) -> Result<Endpoint, StoreError> {
    webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::owner_kind.eq(owner.kind.as_str()))
        .filter(webhook_endpoints::owner_id.eq(owner.id))
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("webhook", id))?
        .try_into()
}

pub fn list_endpoints(
    conn: &mut DbConnection,
    owner: Owner,
    page: &PageRequest,
) -> Result<Page<Endpoint>, StoreError> {
    owner_exists(conn, owner)?;
    let mut query = webhook_endpoints::table
        .filter(webhook_endpoints::owner_kind.eq(owner.kind.as_str()))
        .filter(webhook_endpoints::owner_id.eq(owner.id))
        .select(EndpointRow::as_select())
        .order(webhook_endpoints::id)
        .limit(page.fetch())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(webhook_endpoints::id.gt(after.clone()));
    }
    let rows = query
        .load(conn)?
        .into_iter()
        .map(Endpoint::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page.page(rows, |e| e.id.clone()))
}

/// Deletes an endpoint and its delivery log.
pub fn delete_endpoint(conn: &mut DbConnection, owner: Owner, id: &str) -> Result<(), StoreError> {
    super::write_transaction(conn, |conn| {
        get_endpoint(conn, owner, id)?;
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
            .execute(conn)?;
        diesel::delete(webhook_endpoints::table.find(id)).execute(conn)?;
        Ok(())
    })
}

/// Replaces an endpoint's signing secret; the next send is signed with the new one.
pub fn rotate_secret(
    conn: &mut DbConnection,
    owner: Owner,
    id: &str,
    secret: String,
) -> Result<Endpoint, StoreError> {
    super::write_transaction(conn, |conn| {
        get_endpoint(conn, owner, id)?;
        diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::secret.eq(&secret))
            .execute(conn)?;
        get_endpoint(conn, owner, id)
    })
}

/// An endpoint's delivery log in order of the events, paginated by event sequence.
pub fn list_deliveries(
    conn: &mut DbConnection,
    owner: Owner,
    endpoint_id: &str,
    page: &PageRequest,
) -> Result<Page<DeliveryRow>, StoreError> {
    get_endpoint(conn, owner, endpoint_id)?;
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::event_seq)
        .limit(page.fetch())
        .into_boxed();
    if let Some(after) = &page.after {
        let seq: i64 = after.parse().map_err(|_| {
            StoreError::Domain(DomainError::Invalid(vec![FieldError::new(
                "cursor",
                "`cursor` is not one this list returned: pass next_cursor unchanged",
            )]))
        })?;
        query = query.filter(webhook_deliveries::event_seq.gt(seq));
    }
    let rows = query.load(conn)?;
    Ok(page.page(rows, |d| d.event_seq.to_string()))
}

/// Makes a delivery due now (again), whatever its state; the attempt count is kept.
pub fn retry_delivery(
    conn: &mut DbConnection,
    owner: Owner,
    endpoint_id: &str,
    delivery_id: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryRow, StoreError> {
    let row = super::write_transaction(conn, |conn| {
        let endpoint = get_endpoint(conn, owner, endpoint_id)?;
        if !endpoint.enabled {
            return Err(StoreError::Conflict(format!(
                "webhook `{endpoint_id}` is disabled ({}): create a new endpoint",
                endpoint.disabled_reason.unwrap_or_default()
            )));
        }
        let updated = diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery_id))
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id)),
        )
        .set((
            webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(to_db(now)),
            webhook_deliveries::updated_at.eq(to_db(now)),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(StoreError::not_found("delivery", delivery_id));
        }
        webhook_deliveries::table
            .find(delivery_id)
            .select(DeliveryRow::as_select())
            .first(conn)
            .map_err(StoreError::from)
    })?;
    Ok(row)
}
