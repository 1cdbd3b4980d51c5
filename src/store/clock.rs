use super::schema::test_clock;
use super::{DbConnection, StoreError};
use diesel::prelude::*;

/// The persisted offset of the test clock, shared by every process on the database.
pub fn load_offset(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(test_clock::table
        .find(1)
        .select(test_clock::offset_ms)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Moves the persisted offset forward (never back) and returns the new offset.
pub fn advance_offset(conn: &mut DbConnection, by_ms: i64) -> Result<i64, StoreError> {
    super::write_transaction(conn, |conn| {
        let current = load_offset(conn)?;
        let next = current.saturating_add(by_ms);
        let updated = diesel::update(test_clock::table.find(1))
            .set(test_clock::offset_ms.eq(next))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(test_clock::table)
                .values((test_clock::id.eq(1), test_clock::offset_ms.eq(next)))
                .execute(conn)?;
        }
        Ok(next)
    })
}
