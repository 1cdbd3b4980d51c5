//! Fan-out throughput: one event to N webhook endpoints on a loopback receiver started here,
//! deliveries per second, on SQLite and (with SUBREG_TEST_POSTGRES_URL) PostgreSQL.
//! `cargo bench --bench webhook_fanout` (N from WEBHOOK_BENCH_N, default 10000). Not a test.
//!
//! `WEBHOOK_BENCH_MODE=hanging`: fairness instead. 50 healthy loopback endpoints that answer
//! in WEBHOOK_BENCH_ANSWER_MS (100 ms, a receiver doing some work), a burst of 40 events
//! (2,000 deliveries), with and without one more endpoint whose receiver hangs (the
//! sends time out after SUBREG_WEBHOOK_TIMEOUT_MS, 15 s); prints the healthy endpoints' p99
//! latency from event written to delivery recorded, of WEBHOOK_BENCH_RUNS (5) runs each, and
//! the ratio of the median p99s. Dispatcher
//! settings are the defaults (`SUBREG_WEBHOOK_*` variables apply).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic
)]

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::{Connection, ExpressionMethods, QueryDsl, RunQueryDsl};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subreg::clock::Clock;
use subreg::config::Settings;
use subreg::domain::event::EventType;
use subreg::domain::party::{validate_processor, OrganisationInput};
use subreg::domain::webhook::OwnerKind;
use subreg::notify::dispatcher::stop_signal;
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
        // Straight into the table, many rows a statement: the API's per-owner limit and its
        // count per creation are not what this bench measures.
        use subreg::store::schema::webhook_endpoints as e;
        let rows: Vec<_> = (0..n)
            .map(|_| {
                (
                    e::id.eq(uuid::Uuid::now_v7().to_string()),
                    e::owner_kind.eq("processor"),
                    e::owner_id.eq("bench"),
                    e::url.eq(receiver.to_string()),
                    e::event_types.eq("[]"),
                    e::enabled.eq(true),
                    e::secret.eq(subreg::notify::signing::new_secret()),
                    e::created_at.eq(subreg::store::to_naive(now)),
                )
            })
            .collect();
        subreg::store::write_transaction(&mut conn, |conn| {
            for chunk in rows.chunks(500) {
                subreg::insert_rows!(conn, e::table, chunk)?;
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
    let (stop, stopped) = stop_signal();
    let dispatcher = actix_web::rt::spawn(dispatcher.run_until_stopped(stopped));
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
    let _ = stop.send(true);
    let _ = dispatcher.await;
    println!(
        "{label}: {n} deliveries in {:.2} s = {:.0} deliveries/s (event + {n} outbox rows written in {} ms)",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        written.as_millis()
    );
}

fn main() {
    if std::env::var("WEBHOOK_BENCH_MODE").as_deref() == Ok("hanging") {
        return hanging::main();
    }
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

/// One hanging receiver among healthy ones: the healthy endpoints' latency.
mod hanging {
    use super::*;

    const HEALTHY: usize = 50;
    const EVENTS: usize = 40;

    /// A loopback receiver answering 204 after `delay` (an hour: hanging).
    fn receiver(delay: Duration) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || {
            App::new().default_service(web::to(move |_body: web::Bytes| async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                HttpResponse::NoContent().finish()
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        format!("http://127.0.0.1:{port}")
    }

    fn percentile(sorted: &[f64], p: f64) -> f64 {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted
            .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// Latencies (ms, sorted) of the healthy endpoints' deliveries.
    async fn run(database_url: &str, healthy: &str, hanging: Option<&str>) -> Vec<f64> {
        let pool = subreg::store::connect(database_url, 8).expect("database");
        let now = Clock::System.now();
        let mut hanging_id = None;
        {
            let mut conn = pool.get().expect("conn");
            let input: OrganisationInput = serde_json::from_value(serde_json::json!({
                "id": "bench", "name": "Bench A/S", "address": "Vej 1", "country": "DK"
            }))
            .expect("input");
            let spec = validate_processor(&input).expect("valid");
            subreg::store::organisations::create_processor(&mut conn, &spec, now)
                .expect("processor");
            let urls = (0..HEALTHY)
                .map(|i| format!("{healthy}/hook/{i}"))
                .chain(hanging.map(|h| format!("{h}/hang")));
            for url in urls {
                let endpoint = webhooks::create_endpoint(
                    &mut conn,
                    Owner {
                        kind: OwnerKind::Processor,
                        id: "bench",
                    },
                    NewEndpoint {
                        url: url.clone(),
                        event_types: vec![],
                        enabled: true,
                        secret: subreg::notify::signing::new_secret(),
                    },
                    usize::MAX,
                    now,
                )
                .expect("endpoint");
                if url.ends_with("/hang") {
                    hanging_id = Some(endpoint.id);
                }
            }
        }
        let mut settings = Settings::from_env().expect("settings").webhooks;
        settings.allow_http = true;
        settings.allow_private = true;
        // Nothing to wait for when the bench is done.
        settings.shutdown_grace = Duration::from_millis(100);
        let dispatcher = Dispatcher::new(
            pool.clone(),
            Clock::System,
            settings,
            Duration::from_secs(1),
        )
        .expect("dispatcher");
        let (stop, stopped) = stop_signal();
        let dispatcher = actix_web::rt::spawn(dispatcher.run_until_stopped(stopped));
        // The burst: 40 events, each in its own transaction, as fast as they can be written.
        {
            let pool = pool.clone();
            tokio::task::spawn_blocking(move || {
                let mut conn = pool.get().expect("conn");
                for i in 0..EVENTS {
                    subreg::store::write_transaction(&mut conn, |conn| {
                        append(
                            conn,
                            Clock::System.now(),
                            NewEvent {
                                event_type: EventType::ChangeAnnounced,
                                processor_id: "bench".into(),
                                controller_id: None,
                                data: serde_json::json!({"summary": format!("burst {i}")}),
                            },
                        )
                    })
                    .expect("event");
                }
            })
            .await
            .expect("burst");
        }
        let started = Instant::now();
        let latencies = loop {
            let pool = pool.clone();
            let hanging_id = hanging_id.clone();
            let done = tokio::task::spawn_blocking(move || {
                use subreg::store::schema::webhook_deliveries as d;
                let mut conn = pool.get().expect("conn");
                d::table
                    .filter(d::state.eq("succeeded"))
                    .filter(d::endpoint_id.ne(hanging_id.unwrap_or_default()))
                    .select((d::created_at, d::updated_at))
                    .load::<(chrono::NaiveDateTime, chrono::NaiveDateTime)>(&mut conn)
                    .expect("log")
            })
            .await
            .expect("join");
            if done.len() >= HEALTHY * EVENTS {
                break done;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "gave up with {} of {} healthy deliveries",
                done.len(),
                HEALTHY * EVENTS
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let _ = stop.send(true);
        let _ = dispatcher.await;
        let mut ms: Vec<f64> = latencies
            .iter()
            .map(|(written, recorded)| {
                (*recorded - *written).num_microseconds().unwrap_or(0) as f64 / 1000.0
            })
            .collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        ms
    }

    /// Runs without and with the hanging endpoint, alternately, `runs` times each (a fresh
    /// database every time), and prints each run's p99 and the ratio of the median p99s.
    async fn compare(
        label: &str,
        runs: usize,
        database_url: impl Fn() -> (String, Box<dyn FnOnce()>),
    ) {
        let answer_ms: u64 = std::env::var("WEBHOOK_BENCH_ANSWER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        let healthy = receiver(Duration::from_millis(answer_ms));
        let hanging = receiver(Duration::from_secs(3600));
        let (mut calm, mut troubled) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            for with_hang in [false, true] {
                let (url, cleanup) = database_url();
                let latencies = run(&url, &healthy, with_hang.then_some(hanging.as_str())).await;
                cleanup();
                let p99 = percentile(&latencies, 99.0);
                if with_hang {
                    troubled.push(p99);
                } else {
                    calm.push(p99);
                }
            }
        }
        let show = |p99s: &[f64]| {
            p99s.iter()
                .map(|ms| format!("{ms:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let median = |p99s: &mut Vec<f64>| {
            p99s.sort_by(|a, b| a.total_cmp(b));
            percentile(p99s, 50.0)
        };
        println!(
            "{label}: healthy-endpoint p99 (ms) per run without the hanging endpoint [{}], with it [{}]",
            show(&calm),
            show(&troubled)
        );
        let (calm, troubled) = (median(&mut calm), median(&mut troubled));
        println!(
            "{label}: median p99 without {calm:.0} ms, with {troubled:.0} ms: ratio {:.2}",
            troubled / calm
        );
    }

    pub fn main() {
        actix_web::rt::System::new().block_on(async move {
            let settings = Settings::from_env().expect("settings").webhooks;
            println!(
                "{HEALTHY} healthy endpoints, {EVENTS} events; concurrency {}, per endpoint {}, \
                 batch {}, timeout {} ms",
                settings.concurrency,
                settings.per_endpoint_concurrency,
                settings.batch_size,
                settings.timeout.as_millis()
            );
            let runs: usize = std::env::var("WEBHOOK_BENCH_RUNS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5);
            compare("sqlite", runs, || {
                let dir = tempfile::tempdir().expect("dir");
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                (url, Box::new(move || drop(dir)))
            })
            .await;
            if let Ok(admin) = std::env::var("SUBREG_TEST_POSTGRES_URL") {
                compare("postgres", runs, || {
                    let name = format!("subreg_bench_{}", uuid::Uuid::new_v4().simple());
                    let mut conn = diesel::PgConnection::establish(&admin).expect("pg");
                    diesel::sql_query(format!("CREATE DATABASE {name}"))
                        .execute(&mut conn)
                        .expect("create");
                    let base = admin.rsplit_once('/').map(|(b, _)| b).expect("url");
                    let admin = admin.clone();
                    (
                        format!("{base}/{name}"),
                        Box::new(move || {
                            let mut conn = diesel::PgConnection::establish(&admin).expect("pg");
                            let _ = diesel::sql_query(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut conn);
                        }),
                    )
                })
                .await;
            } else {
                println!("postgres: skipped (set SUBREG_TEST_POSTGRES_URL)");
            }
        });
    }
}
