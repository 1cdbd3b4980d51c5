//! Hostile and broken input: every answer a 4xx problem+json, never a panic, a dropped
//! connection or a 5xx; shared state that stays consistent under concurrency.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::json;

async fn vat_numbers_with_non_ascii_characters_are_refused(app: TestApp) {
    for number in ["aé123", "€1234", "D\u{301}K1234", "DK𝔇1234"] {
        let mut body = processor_body("acme");
        body["registration"] = json!({"scheme": "vat", "number": number});
        let reply = app.post("/v1/processors", Some(&admin()), &body).await;
        assert_eq!(
            reply.error_fields(),
            vec!["registration.number"],
            "{number}: {}",
            reply.text
        );
    }
    // The server is still there and well.
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

async fn the_test_clock_stays_within_a_century(app: TestApp) {
    let reply = app
        .post(
            "/v1/admin/clock",
            Some(&admin()),
            &json!({"advance": "P300000Y"}),
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["advance"]);
    // 99 years pass, a further 2 would pass the century: refused, and the clock still answers.
    app.advance("P99Y").await;
    let reply = app
        .post(
            "/v1/admin/clock",
            Some(&admin()),
            &json!({"advance": "P2Y"}),
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["advance"]);
    let reply = app.get("/v1/admin/clock", Some(&admin())).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.get("/v1/processors", None).await.status, 200);
}

async fn concurrent_clock_advances_all_count(app: TestApp) {
    let requests = (0..10).map(|_| app.advance("PT1H"));
    futures_util::future::join_all(requests).await;
    let clock = app.get("/v1/admin/clock", Some(&admin())).await.json();
    assert_eq!(clock["offset_ms"], 10 * 3_600_000, "{clock}");
}

async fn control_characters_are_refused_naming_the_field(app: TestApp) {
    let mut body = processor_body("acme");
    body["name"] = json!("Acme\u{0} A/S");
    let reply = app.post("/v1/processors", Some(&admin()), &body).await;
    assert_eq!(reply.error_fields(), vec!["name"], "{}", reply.text);

    app.processor("acme").await;
    let path = "/v1/processors/acme/subprocessors";
    for (field, value) in [
        ("name", "Bad\u{7}Name"),
        ("name", "two\nlines"),
        ("purpose", "\u{85}next line"),
        ("purpose", "\u{fffe}"),
        ("address", "\u{1b}[31m"),
    ] {
        let mut entry = azure();
        entry[field] = json!(value);
        let reply = app.post(path, Some(&processor("acme")), &entry).await;
        assert_eq!(
            reply.error_fields(),
            vec![field],
            "{value:?}: {}",
            reply.text
        );
    }
    let mut entry = azure();
    entry["processing_locations"] = json!(["IE", "N\u{0}L"]);
    let reply = app.post(path, Some(&processor("acme")), &entry).await;
    assert_eq!(reply.error_fields(), vec!["processing_locations[1]"]);
    // Multi-line fields take tab and newline.
    let mut entry = azure();
    entry["purpose"] = json!("Hosting\nBackups\tnightly");
    let reply = app.post(path, Some(&processor("acme")), &entry).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    // Nested: the field is named by its path.
    let mut entry = eea_entry("Nested");
    entry["name"] = json!("x\u{0}");
    let reply = app
        .post(
            "/v1/processors/acme/changes",
            Some(&processor("acme")),
            &json!({"kind": "addition", "summary": "s", "subprocessor": entry}),
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["subprocessor.name"]);
}

/// Text stored before the guard existed (or written around it) must not break the feeds.
async fn feeds_never_carry_characters_xml_forbids(app: TestApp) {
    app.processor("acme").await;
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("connection");
    subreg::store::write_transaction(&mut conn, |conn| {
        subreg::store::events::append(
            conn,
            chrono::Utc::now(),
            subreg::store::events::NewEvent {
                event_type: subreg::domain::event::EventType::SubprocessorAdded,
                processor_id: "acme".into(),
                controller_id: None,
                data: json!({"name": "Bad\u{1}Name\u{ffff}", "country": "DK"}),
            },
        )
    })
    .expect("event written");
    let reply = app.get("/v1/processors/acme/feed.atom", None).await;
    assert_eq!(reply.status, 200);
    roxmltree::Document::parse(&reply.text).expect("the feed is well-formed XML");
    assert!(reply.text.contains("BadName"), "{}", reply.text);
}

async fn nul_bytes_and_bad_cursors_are_4xx_problems(app: TestApp) {
    app.processor("acme").await;
    for path in [
        "/v1/processors/%00",
        "/processors?q=%00",
        "/v1/processors?cursor=%00",
        "/processors/acme%01",
        "/v1/processors/%FF%FE",
    ] {
        app.get(path, None).await.problem(400);
    }
    let reply = app.get("/v1/processors?cursor=AA", None).await;
    assert_eq!(reply.error_fields(), vec!["cursor"]);
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

async fn dates_outside_years_1_to_9999_are_refused(app: TestApp) {
    app.processor("acme").await;
    app.controller("roskilde").await;
    for signed_at in [
        "-5000-01-01T00:00:00Z",
        "0000-06-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
    ] {
        let mut body = general_terms(30);
        body["controller_id"] = json!("roskilde");
        body["processor_id"] = json!("acme");
        body["signed_at"] = json!(signed_at);
        let reply = app.post("/v1/agreements", Some(&admin()), &body).await;
        assert_eq!(reply.status, 422, "{signed_at}: {}", reply.text);
    }
    let reply = app
        .post(
            "/v1/processors/acme/changes",
            Some(&processor("acme")),
            &json!({"kind": "addition", "summary": "s", "subprocessor": eea_entry("X"),
                    "planned_from": "-4800-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let reply = app
        .get(
            "/v1/processors/acme/subprocessors?as_of=0000-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["as_of"]);
}

async fn csv_cells_never_become_formulas(app: TestApp) {
    app.processor("acme").await;
    let mut entry = azure();
    entry["name"] = json!("Acme;=cmd|' /C calc'!A0");
    entry["purpose"] = json!("=1+1");
    entry["address"] = json!("Vej 1, -2+3");
    app.seed("acme", &entry).await;
    let reply = app.get("/v1/processors/acme/subprocessors.csv", None).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.text.contains("\"'Acme;=cmd|' /C calc'!A0\""),
        "{}",
        reply.text
    );
    let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
    for record in reader.records() {
        for cell in record.expect("row").iter() {
            for piece in cell.split([',', ';', '\t']) {
                assert!(
                    !piece.trim_start().starts_with(['=', '+', '-', '@']) || cell.starts_with('\''),
                    "cell {cell:?} could run as a formula"
                );
            }
        }
    }
}

async fn every_answer_says_nosniff(app: TestApp) {
    app.processor("acme").await;
    for path in [
        "/v1/processors",
        "/v1/processors/nope",
        "/v1/processors/acme/feed.atom",
        "/openapi.yaml",
        "/processors",
        "/v1/processors/acme/subprocessors.csv",
    ] {
        let reply = app.get(path, None).await;
        assert_eq!(
            reply
                .headers
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
    }
    let reply = app.get("/v1/processors/%00", None).await;
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
}

async fn http_conventions_hold(app: TestApp) {
    app.processor("acme").await;
    // HEAD on every GET route: the GET's status and headers, no body.
    for path in [
        "/v1/processors",
        "/processors",
        "/v1/processors/acme/feed.atom",
        "/healthz",
    ] {
        let reply = app.send(app.client.head(app.url(path))).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.text.is_empty(), "{path}");
    }
    // A known path with another method: 405 with Allow.
    let reply = app.delete("/v1/processors", Some(&admin())).await;
    reply.problem(405);
    assert_eq!(reply.headers["allow"], "GET, HEAD, POST");
    let reply = app
        .send(app.client.put(app.url("/v1/processors/acme/feed.atom")))
        .await;
    reply.problem(405);
    assert_eq!(reply.headers["allow"], "GET, HEAD");
    app.delete("/v1/nothing-here", None).await.problem(404);
    // The bare host leads a person to the index.
    let reply = app.get("/", None).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.headers["location"], "/processors");
}

async fn query_parameters_are_checked(app: TestApp) {
    app.processor("acme").await;
    for path in [
        "/processors/acme?lang=xx",
        "/processors/acme?page=0",
        "/processors/acme?page=-1",
        "/processors/acme?page=x",
        "/processors?lang=de",
        "/v1/processors?limit=1&limit=2",
    ] {
        app.get(path, None).await.problem(400);
    }
    assert_eq!(
        app.get("/processors/acme?lang=da&page=1", None)
            .await
            .status,
        200
    );
    // A page past the history's end is not rendered.
    assert_eq!(app.get("/processors/acme?page=2", None).await.status, 404);
    assert_eq!(
        app.get("/processors/acme?page=4294967295", None)
            .await
            .status,
        404
    );
}

async fn email_addresses_follow_rfc_5322(app: TestApp) {
    for email in [
        "x@@example.com",
        "x@example",
        "@example.com",
        "Name <x@example.com>",
        "x@[127.0.0.1]",
    ] {
        let mut body = processor_body("acme");
        body["contact_email"] = json!(email);
        let reply = app.post("/v1/processors", Some(&admin()), &body).await;
        assert_eq!(reply.error_fields(), vec!["contact_email"], "{email}");
    }
    let mut body = processor_body("acme");
    body["contact_email"] = json!("first.last+dpo@sub.example.dk");
    assert_eq!(
        app.post("/v1/processors", Some(&admin()), &body)
            .await
            .status,
        201
    );
}

on_both_backends!(
    vat_numbers_with_non_ascii_characters_are_refused,
    the_test_clock_stays_within_a_century,
    concurrent_clock_advances_all_count,
    control_characters_are_refused_naming_the_field,
    feeds_never_carry_characters_xml_forbids,
    nul_bytes_and_bad_cursors_are_4xx_problems,
    dates_outside_years_1_to_9999_are_refused,
    csv_cells_never_become_formulas,
    every_answer_says_nosniff,
    http_conventions_hold,
    query_parameters_are_checked,
    email_addresses_follow_rfc_5322,
);

/// The access log never holds a secret: the private feed token is redacted.
#[test]
fn the_access_log_redacts_feed_tokens() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    let serve = LoggedServe::start(&url, &[]);
    let port = serve.port;
    let secret = "feedtoken-0123456789abcdef-secret";
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /v1/controllers/roskilde/feed.atom?lang=da&token={secret} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = serve.stop().join("\n");
    assert!(log.contains("feed.atom?lang=da&token=***"), "{log}");
    assert!(!log.contains(secret), "{log}");
}

/// On SQLite, writers queue for the one write lock; readers must keep their connections.
#[actix_web::test]
async fn sqlite_readers_keep_working_while_writers_wait() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite");
    app.processor("acme").await;
    let path = app.database_url.trim_start_matches("sqlite://").to_string();
    let released = Arc::new(AtomicBool::new(false));
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = {
        let released = released.clone();
        std::thread::spawn(move || {
            // Another process's long write transaction holds the database's write lock.
            let mut conn = diesel::SqliteConnection::establish(&path).expect("open");
            conn.batch_execute("BEGIN IMMEDIATE").expect("lock");
            locked_tx.send(()).expect("signal");
            std::thread::sleep(std::time::Duration::from_secs(4));
            released.store(true, Ordering::SeqCst);
            conn.batch_execute("COMMIT").expect("unlock");
        })
    };
    locked_rx.recv().expect("locked");
    // More waiting writers than the pool (4 in tests) has connections.
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url("/v1/controllers");
            let body = controller_body(&format!("kommune-{i}"));
            actix_web::rt::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(admin())
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for path in ["/v1/processors/acme", "/v1/processors", "/processors/acme"] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(
            !released.load(Ordering::SeqCst),
            "{path} was answered only after the writers got through"
        );
    }
    holder.join().expect("holder");
    for writer in writers {
        assert_eq!(writer.await.expect("task").expect("answer"), 201);
    }
}

/// PostgreSQL connections killed under load: every refusal is a 503 problem with
/// Retry-After, never a 500, and the service recovers by itself.
#[actix_web::test]
async fn postgres_connections_lost_under_load_answer_503() {
    use diesel::{Connection, RunQueryDsl};
    let Some(app) = spawn_app(Backend::Postgres).await else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    app.processor("acme").await;
    let database = app
        .database_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .expect("database name")
        .to_string();
    let admin_url = without_tls(&std::env::var("SUBREG_TEST_POSTGRES_URL").expect("url"));
    let killer = std::thread::spawn(move || {
        let mut conn = diesel::PgConnection::establish(&admin_url).expect("admin connection");
        for _ in 0..40 {
            diesel::sql_query(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{database}' AND pid <> pg_backend_pid()"
            ))
            .execute(&mut conn)
            .expect("terminate");
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    });
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..20 {
        let requests = (0..10).map(|i| {
            let path = if i % 2 == 0 {
                "/v1/processors/acme/subprocessors".to_string()
            } else {
                format!("/v1/processors?limit={}", 1 + (round + i) % 5)
            };
            app.get_owned(path)
        });
        for reply in futures_util::future::join_all(requests).await {
            *statuses.entry(reply.status.as_u16()).or_default() += 1;
            if reply.status != 200 {
                reply.problem(503);
                assert!(reply.headers.contains_key("retry-after"), "{}", reply.text);
            }
        }
    }
    killer.join().expect("killer");
    eprintln!("statuses under connection loss: {statuses:?}");
    assert_eq!(app.get("/v1/processors/acme", None).await.status, 200);
}
