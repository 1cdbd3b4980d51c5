//! Fan-out throughput: one event to N webhook endpoints on a loopback receiver started here,
//! deliveries per second, on SQLite and (with SUBREG_TEST_POSTGRES_URL) PostgreSQL.
//! `cargo bench --bench webhook_fanout` (N from WEBHOOK_BENCH_N, default 10000). Not a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic
)]

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::{Connection, RunQueryDsl};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subreg::clock::Clock;
use subreg::config::Settings;
use subreg::domain::event::EventType;
use subreg::domain::party::{validate_processor, OrganisationInput};
use subreg::domain::webhook::OwnerKind;
use subreg::notify::Dispatcher;
use subreg::store::events::{append, NewEvent};
use subreg::store::webhooks::{self, NewEndpoint, Owner};

async fn run(label: &str, database_url: &str, n: usize, receiver: &str) {
    let pool = subreg::store::connect(database_url, 8).expect("database");
    let now = Clock::System.now();
    {
        let mut conn = pool.get().expect("conn");
        let input: OrganisationInput = serde_json::from_value(serde_json::json!({
            "id": "bench", "name": "Bench A/S", "address": "Vej 1", "country": "DK"
        }))
        .expect("input");
        let spec = validate_processor(&input).expect("valid");
        subreg::store::organisations::create_processor(&mut conn, &spec, now).expect("processor");
        subreg::store::write_transaction(&mut conn, |conn| {
            for _ in 0..n {
                webhooks::create_endpoint(
                    conn,
                    Owner {
                        kind: OwnerKind::Processor,
                        id: "bench",
                    },
                    NewEndpoint {
                        url: receiver.to_string(),
                        event_types: vec![],
                        enabled: true,
                        secret: subreg::notify::signing::new_secret(),
                    },
                    now,
                )?;
            }
            Ok::<_, subreg::store::StoreError>(())
        })
        .expect("endpoints");
    }
    let mut settings = Settings::from_lookup(|_| None).expect("settings").webhooks;
    settings.allow_http = true;
    settings.allow_private = true;
    settings.concurrency = 128;
    settings.batch_size = 512;
    let dispatcher = Dispatcher::new(
        pool.clone(),
        Clock::System,
        settings,
        Duration::from_millis(20),
    )
    .expect("dispatcher");
    actix_web::rt::spawn(dispatcher.run_until_stopped());
    let started = Instant::now();
    {
        let mut conn = pool.get().expect("conn");
        subreg::store::write_transaction(&mut conn, |conn| {
            append(
                conn,
                Clock::System.now(),
                NewEvent {
                    event_type: EventType::ChangeAnnounced,
                    processor_id: "bench".into(),
                    controller_id: None,
                    data: serde_json::json!({"summary": "bench"}),
                },
            )
        })
        .expect("event");
    }
    let written = started.elapsed();
    loop {
        let counts = {
            let pool = pool.clone();
            tokio::task::spawn_blocking(move || {
                webhooks::count_by_state(&mut pool.get().expect("conn")).expect("count")
            })
            .await
            .expect("join")
        };
        let done: i64 = counts
            .iter()
            .filter(|(s, _)| s == "succeeded")
            .map(|c| c.1)
            .sum();
        if done as usize >= n {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            println!("{label}: gave up, {counts:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    println!(
        "{label}: {n} deliveries in {:.2} s = {:.0} deliveries/s (event + {n} outbox rows written in {} ms)",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        written.as_millis()
    );
}

fn main() {
    let n: usize = std::env::var("WEBHOOK_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    actix_web::rt::System::new().block_on(async move {
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            // The handler reads the body, as a real receiver does: a request whose body is
            // left unread costs the connection its keep-alive.
            App::new().default_service(web::to(move |_body: web::Bytes| {
                counter.fetch_add(1, Ordering::Relaxed);
                async { HttpResponse::NoContent().finish() }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        let receiver = format!("http://127.0.0.1:{port}/hook");

        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        run("sqlite", &url, n, &receiver).await;

        if let Ok(admin) = std::env::var("SUBREG_TEST_POSTGRES_URL") {
            let name = format!("subreg_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&admin).expect("pg");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create");
            let base = admin.rsplit_once('/').map(|(b, _)| b).expect("url");
            run("postgres", &format!("{base}/{name}"), n, &receiver).await;
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn);
        } else {
            println!("postgres: skipped (set SUBREG_TEST_POSTGRES_URL)");
        }
        println!("receiver hits: {}", hits.load(Ordering::Relaxed));
    });
}
