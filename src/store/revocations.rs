//! Token revocation: per organisation, the instant before which its tokens are refused.

use super::schema::token_revocations;
use super::{from_db, to_db, write_transaction, DbConnection, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;

/// Refuses every token of `org` issued before `at` from now on; returns the instant as stored
/// (microseconds, as both backends keep them).
pub fn revoke(
    conn: &mut DbConnection,
    org: &str,
    at: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    let at = at.trunc_subsecs(6);
    write_transaction(conn, |conn| {
        let updated = diesel::update(token_revocations::table.find(org))
            .set(token_revocations::tokens_valid_after.eq(to_db(at)))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(token_revocations::table)
                .values((
                    token_revocations::org.eq(org),
                    token_revocations::tokens_valid_after.eq(to_db(at)),
                ))
                .execute(conn)?;
        }
        Ok(at)
    })
}

/// Every organisation with revoked tokens (a short table: one row per revoking org).
pub fn all(conn: &mut DbConnection) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
    let rows: Vec<(String, chrono::NaiveDateTime)> = token_revocations::table
        .select((
            token_revocations::org,
            token_revocations::tokens_valid_after,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(org, at)| (org, from_db(at)))
        .collect())
}
