//! Idempotency keys: per token scope and key, the fingerprint of the first request and, once
//! it finished, its answer. A claim is a row with `status` NULL and a lease; the answer is
//! written over it in one statement, so a crash leaves either the claim (taken over after its
//! lease) or the whole answer, never half of one.

use super::schema::idempotency_keys as keys;
use super::{from_db, to_db, DbConnection, StoreError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// How long an answer is replayed.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// How long a claim holds its key while the request runs; a retry after that runs again (the
/// first request is then taken to have died).
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A finished request's answer, as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a request with a key may do.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nobody used the key yet (or its last use expired or died): run the request, then
    /// [`finish`] or [`release`] with this lease.
    Run { lease_id: String },
    /// The same request finished before: answer this.
    Replay(StoredAnswer),
    /// The same request is running now.
    InFlight { locked_until: DateTime<Utc> },
    /// The key was used for a different request (another body or path).
    Mismatch,
}

type Row = (
    String,
    String,
    NaiveDateTime,
    Option<i32>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

/// Claims `key` for a request with `fingerprint`, or says why not.
pub fn claim(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    // Each step is one conditional statement; a lost race is seen by reading again.
    for _ in 0..4 {
        let row: Option<Row> = keys::table
            .find((scope, key))
            .select((
                keys::fingerprint,
                keys::lease_id,
                keys::locked_until,
                keys::status,
                keys::headers,
                keys::body,
                keys::expires_at,
            ))
            .first(conn)
            .optional()?;
        let lease_id = uuid::Uuid::new_v4().to_string();
        let Some((stored_fingerprint, old_lease, locked_until, status, headers, body, expires)) =
            row
        else {
            let inserted = diesel::insert_into(keys::table)
                .values((
                    keys::scope.eq(scope),
                    keys::idem_key.eq(key),
                    keys::fingerprint.eq(fingerprint),
                    keys::lease_id.eq(&lease_id),
                    keys::locked_until.eq(to_db(later(now, LEASE))),
                    keys::created_at.eq(to_db(now)),
                    keys::expires_at.eq(to_db(later(now, RETENTION))),
                ))
                .execute(conn);
            match inserted {
                Ok(_) => return Ok(Claim::Run { lease_id }),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => continue,
                Err(other) => return Err(other.into()),
            }
        };
        if from_db(expires) <= now {
            diesel::delete(
                keys::table
                    .find((scope, key))
                    .filter(keys::expires_at.eq(expires)),
            )
            .execute(conn)?;
            continue;
        }
        if stored_fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if let Some(status) = status {
            return Ok(Claim::Replay(answer(status, headers, body)?));
        }
        if from_db(locked_until) > now {
            return Ok(Claim::InFlight {
                locked_until: from_db(locked_until),
            });
        }
        // The claim's lease ran out without an answer: its request died. Take it over.
        let taken = diesel::update(
            keys::table
                .find((scope, key))
                .filter(keys::lease_id.eq(&old_lease))
                .filter(keys::status.is_null()),
        )
        .set((
            keys::lease_id.eq(&lease_id),
            keys::locked_until.eq(to_db(later(now, LEASE))),
        ))
        .execute(conn)?;
        if taken == 1 {
            return Ok(Claim::Run { lease_id });
        }
    }
    Err(StoreError::Busy)
}

/// `now + by`, saturating at the end of time.
fn later(now: DateTime<Utc>, by: chrono::TimeDelta) -> DateTime<Utc> {
    now.checked_add_signed(by)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn answer(
    status: i32,
    headers: Option<String>,
    body: Option<String>,
) -> Result<StoredAnswer, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("idempotency key answer: {what}"));
    Ok(StoredAnswer {
        status: u16::try_from(status).map_err(|_| corrupt("status"))?,
        headers: serde_json::from_str(headers.as_deref().unwrap_or("[]"))
            .map_err(|_| corrupt("headers"))?,
        body: STANDARD
            .decode(body.as_deref().unwrap_or(""))
            .map_err(|_| corrupt("body"))?,
    })
}

/// Stores the answer of the request holding `lease_id`; false when the claim was lost (its
/// lease ran out and a retry took it over).
pub fn finish(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    lease_id: &str,
    stored: &StoredAnswer,
) -> Result<bool, StoreError> {
    let headers = serde_json::to_string(&stored.headers)
        .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?;
    let updated = diesel::update(
        keys::table
            .find((scope, key))
            .filter(keys::lease_id.eq(lease_id))
            .filter(keys::status.is_null()),
    )
    .set((
        keys::status.eq(Some(i32::from(stored.status))),
        keys::headers.eq(Some(headers)),
        keys::body.eq(Some(STANDARD.encode(&stored.body))),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Frees the key of a request that wrote nothing (it was refused or failed), so that a retry
/// runs again.
pub fn release(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    lease_id: &str,
) -> Result<(), StoreError> {
    diesel::delete(
        keys::table
            .find((scope, key))
            .filter(keys::lease_id.eq(lease_id))
            .filter(keys::status.is_null()),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes every key whose retention ended; returns how many.
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(diesel::delete(keys::table.filter(keys::expires_at.le(to_db(now)))).execute(conn)?)
}

/// The keys stored for `scope` (tests and operators).
pub fn count(conn: &mut DbConnection, scope: &str) -> Result<i64, StoreError> {
    Ok(keys::table
        .filter(keys::scope.eq(scope))
        .count()
        .get_result(conn)?)
}
