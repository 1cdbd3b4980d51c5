//! Plans that must not depend on statistics a database may lack: the claim query of the
//! webhook outbox walks the partial index of pending deliveries in due order, on a fresh table
//! that was never analysed by autovacuum (a bulk write of deliveries analyses it at once).

use crate::helpers::{Backend, TestDb};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamp};
use subreg::domain::event::EventType;
use subreg::store::events::NewEvent;
use subreg::store::webhooks::outbox::CANDIDATES_PG;

const ENDPOINTS: usize = 3000;

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
