//! Plans that must not depend on statistics a database may lack: the claim query of the
//! webhook outbox walks the partial index of pending deliveries in due order, on a fresh table
//! that was never analysed by autovacuum (a bulk write of deliveries analyses it at once), and
//! the claim's lock and the recording of attempts find their rows by primary key even on a
//! table that was never analysed at all.

use crate::helpers::{Backend, TestDb};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamp};
use subreg::domain::event::EventType;
use subreg::store::events::NewEvent;
use subreg::store::webhooks::outbox::{
    CANDIDATES_PG, LOCK_PG, PLANS_BY_INDEX_PG, RECORD_SUCCESSES_PG,
};

const ENDPOINTS: usize = 3000;
/// Pending deliveries written behind subreg's back (never analysed): enough that reading them
/// all, or sorting them, shows in the plan's costs.
const UNANALYSED_ROWS: usize = 20_000;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct Analysed {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// A processor with `ENDPOINTS` webhook endpoints and one event for all of them.
fn fan_out(conn: &mut subreg::store::DbConnection) {
    let now = chrono::Utc::now();
    let input: subreg::domain::party::OrganisationInput = serde_json::from_value(
        serde_json::json!({"id": "plan", "name": "Plan A/S", "address": "Vej 1", "country": "DK"}),
    )
    .unwrap();
    let spec = subreg::domain::party::validate_processor(&input).unwrap();
    subreg::store::organisations::create_processor(conn, &spec, now).unwrap();
    diesel::sql_query(format!(
        "INSERT INTO webhook_endpoints (id, owner_kind, owner_id, url, event_types, enabled, \
         secret, created_at) SELECT 'e' || g, 'processor', 'plan', 'https://example.invalid/' || g, \
         '[]', true, 'whsec_x', CURRENT_TIMESTAMP FROM generate_series(1, {ENDPOINTS}) g"
    ))
    .execute(conn)
    .unwrap();
    subreg::store::write_transaction(conn, |conn| {
        subreg::store::events::append(
            conn,
            now,
            NewEvent {
                event_type: EventType::ChangeAnnounced,
                processor_id: "plan".into(),
                controller_id: None,
                data: serde_json::json!({"summary": "to everyone"}),
            },
        )
    })
    .unwrap();
}

#[test]
fn the_claim_walks_pending_deliveries_in_order_on_a_fresh_postgres_table() {
    let Some((_db, url)) = TestDb::create(Backend::Postgres) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let pool = subreg::store::connect(&url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let subreg::store::DbConnection::Postgresql(_) = &mut *conn else {
        panic!("a PostgreSQL connection");
    };
    diesel::sql_query("ALTER TABLE webhook_deliveries SET (autovacuum_enabled = false)")
        .execute(&mut *conn)
        .unwrap();
    fan_out(&mut conn);
    let analysed: Analysed = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_user_tables \
         WHERE relname = 'webhook_deliveries' AND last_analyze IS NOT NULL \
           AND last_autoanalyze IS NULL",
    )
    .get_result(&mut *conn)
    .unwrap();
    assert_eq!(
        analysed.count, 1,
        "the bulk write analysed the table, autovacuum did not"
    );
    let subreg::store::DbConnection::Postgresql(pg) = &mut *conn else {
        unreachable!()
    };
    diesel::sql_query("SET plan_cache_mode = force_custom_plan")
        .execute(pg)
        .unwrap();
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(1);
    let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {CANDIDATES_PG}"))
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<Array<Text>, _>(Vec::<String>::new())
        .bind::<BigInt, _>(256)
        .bind::<BigInt, _>(4)
        .bind::<BigInt, _>(64)
        .load(pg)
        .unwrap();
    let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
    let text = plan.join("\n");
    assert!(
        text.contains("Index Scan using webhook_deliveries_pending on webhook_deliveries"),
        "the claim walks the partial index:\n{text}"
    );
    assert!(
        !text.contains("Bitmap Heap Scan on webhook_deliveries")
            && !text.contains("Seq Scan on webhook_deliveries"),
        "the claim reads no more than it takes:\n{text}"
    );
}

/// EXPLAIN of a claim on a table never analysed (autovacuum off, nothing analysed it): the
/// candidates come from the partial index in due order (no Sort or scan of every pending row),
/// the lock and the recording of a batch of attempts go through the primary key.
#[test]
fn claims_and_records_use_the_indexes_on_a_never_analysed_postgres_table() {
    let Some((_db, url)) = TestDb::create(Backend::Postgres) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let pool = subreg::store::connect(&url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query("ALTER TABLE webhook_deliveries SET (autovacuum_enabled = false)")
        .execute(&mut *conn)
        .unwrap();
    // The event first (no endpoint yet, so subreg writes no delivery), then the endpoints and
    // their deliveries straight into the tables.
    let now = chrono::Utc::now();
    let input: subreg::domain::party::OrganisationInput = serde_json::from_value(
        serde_json::json!({"id": "plan", "name": "Plan A/S", "address": "Vej 1", "country": "DK"}),
    )
    .unwrap();
    let spec = subreg::domain::party::validate_processor(&input).unwrap();
    subreg::store::organisations::create_processor(&mut conn, &spec, now).unwrap();
    subreg::store::write_transaction(&mut conn, |conn| {
        subreg::store::events::append(
            conn,
            now,
            NewEvent {
                event_type: EventType::ChangeAnnounced,
                processor_id: "plan".into(),
                controller_id: None,
                data: serde_json::json!({"summary": "to everyone"}),
            },
        )
    })
    .unwrap();
    let subreg::store::DbConnection::Postgresql(pg) = &mut *conn else {
        panic!("a PostgreSQL connection");
    };
    for statement in [
        format!(
            "INSERT INTO webhook_endpoints (id, owner_kind, owner_id, url, event_types, enabled, \
             secret, created_at) SELECT 'e' || g, 'processor', 'plan', \
             'https://example.invalid/' || g, '[]', true, 'whsec_x', CURRENT_TIMESTAMP \
             FROM generate_series(1, {UNANALYSED_ROWS}) g"
        ),
        format!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_seq, state, \
             attempts, next_attempt_at, created_at, updated_at) \
             SELECT 'd' || g, 'e' || g, e.id, e.seq, 'pending', 0, \
                    CURRENT_TIMESTAMP - g * INTERVAL '1 second', CURRENT_TIMESTAMP, \
                    CURRENT_TIMESTAMP \
             FROM generate_series(1, {UNANALYSED_ROWS}) g, events e"
        ),
    ] {
        diesel::sql_query(statement).execute(pg).unwrap();
    }
    let analysed: Analysed = diesel::sql_query(
        "SELECT count(*) AS count FROM pg_stat_user_tables \
         WHERE relname = 'webhook_deliveries' AND last_analyze IS NULL \
           AND last_autoanalyze IS NULL",
    )
    .get_result(pg)
    .unwrap();
    assert_eq!(analysed.count, 1, "nothing analysed the table");
    diesel::sql_query("SET plan_cache_mode = force_custom_plan")
        .execute(pg)
        .unwrap();
    // As a claim does, in its transaction (left open: EXPLAIN writes nothing).
    diesel::sql_query("BEGIN").execute(pg).unwrap();
    pg.batch_execute(PLANS_BY_INDEX_PG).unwrap();
    let lines = |plan: Vec<PlanLine>| plan.into_iter().map(|l| l.line).collect::<Vec<_>>();
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(1);
    let claim = lines(
        diesel::sql_query(format!("EXPLAIN {CANDIDATES_PG}"))
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .bind::<Array<Text>, _>(Vec::<String>::new())
            .bind::<BigInt, _>(1024)
            .bind::<BigInt, _>(4)
            .bind::<BigInt, _>(256)
            .load(pg)
            .unwrap(),
    );
    let text = claim.join("\n");
    assert!(
        text.contains("Index Scan using webhook_deliveries_pending on webhook_deliveries"),
        "the claim walks the partial index:\n{text}"
    );
    assert!(
        !text.contains("Seq Scan on webhook_deliveries")
            && !text.contains("Bitmap Heap Scan on webhook_deliveries"),
        "the claim reads no more than it takes:\n{text}"
    );
    // The due rows come out of the index in order: a Sort sits only above the window of
    // candidates (its LIMIT), never between the index and that LIMIT.
    let index_line = claim
        .iter()
        .position(|l| l.contains("webhook_deliveries_pending"))
        .unwrap();
    let limit_line = claim[..index_line]
        .iter()
        .rposition(|l| l.contains("Limit"))
        .expect("a Limit above the index scan");
    assert!(
        !claim[limit_line..index_line]
            .iter()
            .any(|l| l.contains("Sort")),
        "no Sort of all pending rows under the window's LIMIT:\n{text}"
    );
    let ids: Vec<String> = (1..=256).map(|i| format!("d{i}")).collect();
    let lock = lines(
        diesel::sql_query(format!("EXPLAIN {LOCK_PG}"))
            .bind::<Array<Text>, _>(&ids)
            .load(pg)
            .unwrap(),
    )
    .join("\n");
    assert!(
        lock.contains("webhook_deliveries_pkey") && !lock.contains("Seq Scan"),
        "the lock finds its rows by primary key:\n{lock}"
    );
    // Recording sets the same (in its own transaction).
    let record = lines(
        diesel::sql_query(format!("EXPLAIN {RECORD_SUCCESSES_PG}"))
            .bind::<Array<Text>, _>(&ids)
            .bind::<Array<diesel::sql_types::Nullable<diesel::sql_types::Integer>>, _>(vec![
                Some(
                    204
                );
                ids.len(
                )
            ])
            .bind::<Array<BigInt>, _>(vec![1_i64; ids.len()])
            .bind::<Array<diesel::sql_types::Nullable<Text>>, _>(vec![None::<String>; ids.len()])
            .bind::<Text, _>("succeeded")
            .bind::<Timestamp, _>(now)
            .load(pg)
            .unwrap(),
    )
    .join("\n");
    assert!(
        record.contains("webhook_deliveries_pkey") && !record.contains("Seq Scan"),
        "recording a batch finds its rows by primary key:\n{record}"
    );
}
