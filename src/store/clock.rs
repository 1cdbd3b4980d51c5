use super::schema::test_clock;
use super::{DbConnection, StoreError};
use diesel::prelude::*;

/// The persisted offset of the test clock, shared by every process on the database; an offset
/// stored out of bounds (by an older version) is read as the bound.
pub fn load_offset(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(crate::clock::bounded_offset(
        test_clock::table
            .find(1)
            .select(test_clock::offset_ms)
            .first(conn)
            .optional()?
            .unwrap_or(0),
    ))
}

/// Moves the persisted offset forward (never back) in one atomic UPDATE, so concurrent
/// advances add up, and returns the new offset; `None` when it would pass the bound.
pub fn advance_offset(conn: &mut DbConnection, by_ms: i64) -> Result<Option<i64>, StoreError> {
    let limit = crate::clock::MAX_TEST_OFFSET_MS.saturating_sub(by_ms);
    super::write_transaction(conn, |conn| {
        // Both databases speak this upsert; diesel's multi-connection cannot express it.
        diesel::sql_query(
            "INSERT INTO test_clock (id, offset_ms) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        )
        .execute(conn)?;
        let next = diesel::update(
            test_clock::table
                .find(1)
                .filter(test_clock::offset_ms.le(limit)),
        )
        .set(test_clock::offset_ms.eq(test_clock::offset_ms + by_ms))
        .returning(test_clock::offset_ms)
        .get_result::<i64>(conn)
        .optional()?;
        Ok(next)
    })
}
