//! Fan-out: one event to N webhook endpoints that all point at one nginx `return 204`
//! receiver (Debian's nginx, started here with a temporary config on a free 127.0.0.1 port and
//! stopped after), on SQLite and (with SUBREG_TEST_POSTGRES_URL) PostgreSQL.
//!
//!     cargo bench --bench webhook_fanout [-- --rounds R --svix URL --svix-token TOKEN
//!                                          --svix-db POSTGRES_URL]
//!
//! N is 1,000 and 10,000 (WEBHOOK_BENCH_N="1000,10000"), R rounds (3, WEBHOOK_BENCH_ROUNDS),
//! dispatcher settings are the defaults (`SUBREG_WEBHOOK_*` variables apply). Each round writes
//! one event and measures the wall time from just before the event's transaction until every
//! delivery is recorded `succeeded`, and the CPU it took: this process's (the dispatcher runs
//! here; /proc/self/stat) and, on PostgreSQL, the server's (utime+stime+cutime+cstime of every
//! `postgres` process in /proc, before and after).
//!
//! With `--svix URL` and a token (`--svix-token` or SVIX_TOKEN) of an already running Svix
//! server that may send to 127.0.0.1, the bench creates an application with N endpoints on the
//! same receiver through Svix's REST API (32 requests at a time) and runs subreg and Svix
//! alternately, round by round: Svix's time runs from just before `POST .../msg/` until N
//! successful attempts (status 0) of that message are recorded, and its CPU is the
//! `svix-server` process's plus PostgreSQL's (and `redis-server`'s when one runs). Both sides
//! wait until the receiver has counted N requests before asking their store, then ask every
//! 2 ms and stop the clock after the count that found all N. With `--svix-db` (or SVIX_DB_URL:
//! Svix's PostgreSQL database) Svix's attempts are counted there with one query, as subreg's
//! side counts its deliveries (the backend running those counts is left out of Svix's CPU;
//! subreg's counts are in its own), and Svix's API is asked after, unmeasured, whether its
//! attempts list agrees; without it they are counted through that list, 250 a page, which at
//! N = 10,000 costs Svix seconds of CPU a count (against Svix). A process group's CPU includes
//! what its exited children took (cutime and cstime), so PostgreSQL backends that end during a
//! round still count. It prints medians and ratios.
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

#[path = "support/proc.rs"]
mod proc;

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::{Connection, ExpressionMethods, QueryDsl, RunQueryDsl};
use proc::{cpu_ms, cpu_of, load_average, own_cpu_ms};
use std::path::{Path, PathBuf};
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

/// nginx answering 204 to everything, counting requests in its access log (one byte a line).
struct Receiver {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Receiver {
    fn start() -> Receiver {
        let dir = tempfile::tempdir().expect("dir");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("addr").port()
        };
        let d = dir.path().display();
        // One worker: the machine is small and the receiver should cost both sides alike.
        // Keep-alive without a request limit, so neither side pays reconnects the other avoids.
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 16384; }}\n\
             http {{\n  log_format hit \"\";\n  access_log {d}/hits.log hit;\n\
               keepalive_requests 10000000;\n  keepalive_timeout 120s;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ return 204; }} }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("conf");
        let child = std::process::Command::new(
            which("nginx").unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx")),
        )
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .spawn()
        .expect("nginx (apt-get install nginx)");
        let receiver = Receiver { child, dir, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return receiver;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not start");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests answered so far (each is one empty line in the access log).
    fn hits(&self) -> u64 {
        std::fs::metadata(self.dir.path().join("hits.log"))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Waits until `count` requests were answered in all (ten minutes at most).
    async fn wait_for(&self, count: u64) {
        let started = Instant::now();
        while self.hits() < count {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "receiver saw {} of {count} requests",
                self.hits()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// One round's figures: seconds, and CPU ms per 1,000 deliveries by process group.
#[derive(Default, Clone)]
struct Round {
    seconds: f64,
    own_cpu: f64,
    postgres_cpu: f64,
}

impl Round {
    fn cpu(&self) -> f64 {
        self.own_cpu + self.postgres_cpu
    }
}

/// subreg with N endpoints on the receiver, in a fresh database.
struct Subreg {
    pool: subreg::store::Pool,
    postgres: bool,
    rounds: i64,
}

impl Subreg {
    fn new(database_url: &str, n: usize, receiver: &str) -> Subreg {
        let pool = subreg::store::connect(database_url, 8).expect("database");
        let now = Clock::System.now();
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
            .map(|i| {
                (
                    e::id.eq(uuid::Uuid::now_v7().to_string()),
                    e::owner_kind.eq("processor"),
                    e::owner_id.eq("bench"),
                    e::url.eq(format!("{receiver}/subreg/{i}")),
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
        let postgres = matches!(*conn, subreg::store::DbConnection::Postgresql(_));
        drop(conn);
        Subreg {
            pool,
            postgres,
            rounds: 0,
        }
    }

    /// One event to every endpoint, with the dispatcher started for it and stopped after.
    async fn round(&mut self, n: usize, receiver: &Receiver) -> Round {
        let mut settings = Settings::from_env().expect("settings").webhooks;
        settings.allow_http = true;
        settings.allow_private = true;
        let dispatcher = Dispatcher::new(
            self.pool.clone(),
            Clock::System,
            settings,
            Duration::from_secs(1),
        )
        .expect("dispatcher");
        let (stop, stopped) = stop_signal();
        let dispatcher = actix_web::rt::spawn(dispatcher.run_until_stopped(stopped));
        let hits = receiver.hits();
        let own = own_cpu_ms();
        let postgres = cpu_of("postgres").unwrap_or(0.0);
        let started = Instant::now();
        {
            let pool = self.pool.clone();
            tokio::task::spawn_blocking(move || {
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
            })
            .await
            .expect("event task");
        }
        receiver.wait_for(hits + n as u64).await;
        self.rounds += 1;
        let expected = self.rounds * n as i64;
        loop {
            let pool = self.pool.clone();
            let counts = tokio::task::spawn_blocking(move || {
                webhooks::count_by_state(&mut pool.get().expect("conn")).expect("count")
            })
            .await
            .expect("join");
            let state = |name: &str| {
                counts
                    .iter()
                    .filter(|(s, _)| s == name)
                    .map(|c| c.1)
                    .sum::<i64>()
            };
            if state("succeeded") >= expected {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "gave up: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let per_1000 = 1000.0 / n as f64;
        let own_cpu = (own_cpu_ms() - own) * per_1000;
        let postgres_cpu = if self.postgres {
            (cpu_of("postgres").unwrap_or(0.0) - postgres) * per_1000
        } else {
            0.0
        };
        let _ = stop.send(true);
        let _ = dispatcher.await;
        Round {
            seconds,
            own_cpu,
            postgres_cpu,
        }
    }
}

/// The JSON body of a Svix API answer; anything but a 2xx stops the bench with Svix's message.
async fn svix_json(sent: reqwest::Result<reqwest::Response>, what: &str) -> serde_json::Value {
    let response = sent.unwrap_or_else(|e| panic!("Svix: {what}: {e}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "Svix: {what}: {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("Svix: {what}: {e}: {body}"))
}

/// An application with N endpoints on the receiver in an already running Svix server.
struct Svix {
    client: reqwest::Client,
    base: String,
    app: String,
    /// CPU of Svix's queue (Redis) is counted with Svix when it runs on this machine.
    redis: bool,
    /// Svix's own database, to count recorded attempts the way subreg's side counts its own,
    /// and the PID of the PostgreSQL backend that runs those counts.
    db: Option<(std::sync::Mutex<diesel::PgConnection>, i32)>,
}

impl Svix {
    async fn new(base: &str, token: &str, db: Option<&str>, n: usize, receiver: &Receiver) -> Svix {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("token"),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .no_proxy()
            .build()
            .expect("client");
        let base = base.trim_end_matches('/').to_string();
        let app = svix_json(
            client
                .post(format!("{base}/api/v1/app/"))
                .json(&serde_json::json!({"name": format!("subreg fan-out bench {n}")}))
                .send()
                .await,
            "create application",
        )
        .await;
        let app = app["id"].as_str().expect("application id").to_string();
        // 32 creations at a time (one request each, as Svix has no bulk creation): setting up
        // is not what is measured, and 10,000 one after another take minutes.
        use futures_util::StreamExt;
        let mut creations = futures_util::stream::iter(0..n)
            .map(|i| {
                let sent = client
                    .post(format!("{base}/api/v1/app/{app}/endpoint/"))
                    .json(&serde_json::json!({"url": receiver.url(&format!("/svix/{i}"))}))
                    .send();
                async move { svix_json(sent.await, "create endpoint").await }
            })
            .buffer_unordered(32);
        while creations.next().await.is_some() {}
        drop(creations);
        Svix {
            client,
            base,
            app,
            redis: cpu_of("redis-server").is_some(),
            db: db.map(|url| {
                let mut conn = diesel::PgConnection::establish(url).expect("Svix database");
                let backend = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
                    "pg_backend_pid()",
                ))
                .get_result::<i32>(&mut conn)
                .expect("Svix database: backend");
                (std::sync::Mutex::new(conn), backend)
            }),
        }
    }

    fn cpu(&self) -> (f64, f64) {
        let own = cpu_of("svix-server").unwrap_or(0.0)
            + if self.redis {
                cpu_of("redis-server").unwrap_or(0.0)
            } else {
                0.0
            };
        // The bench's counts in Svix's database are not Svix's work: at N = 10,000 each reads
        // 10,000 rows, and Svix records its attempts seconds after the receiver saw them.
        let counting = self.db.as_ref().map_or(0.0, |(_, backend)| {
            cpu_ms(Path::new(&format!("/proc/{backend}/stat")), false).unwrap_or(0.0)
        });
        (own, cpu_of("postgres").unwrap_or(0.0) - counting)
    }

    /// Successful attempts of a message, counted page by page.
    async fn succeeded(&self, message: &str) -> usize {
        let (base, app) = (&self.base, &self.app);
        let mut count = 0;
        let mut iterator: Option<String> = None;
        loop {
            // status 0 is success; 250 is the most Svix gives a page.
            let mut url = format!(
                "{base}/api/v1/app/{app}/attempt/msg/{message}/\
                 ?status=0&limit=250&with_content=false"
            );
            if let Some(it) = &iterator {
                url.push_str(&format!("&iterator={it}"));
            }
            let page = svix_json(self.client.get(url).send().await, "list attempts").await;
            count += page["data"].as_array().map_or(0, Vec::len);
            match page["iterator"].as_str() {
                Some(it) if page["done"] == false => iterator = Some(it.to_string()),
                _ => return count,
            }
        }
    }

    async fn round(&self, n: usize, receiver: &Receiver) -> Round {
        let hits = receiver.hits();
        let (own, postgres) = self.cpu();
        let started = Instant::now();
        let message = svix_json(
            self.client
                .post(format!("{}/api/v1/app/{}/msg/", self.base, self.app))
                .json(&serde_json::json!({
                    "eventType": "change.announced",
                    "payload": {"type": "change.announced", "data": {"summary": "bench"}}
                }))
                .send()
                .await,
            "create message",
        )
        .await;
        let message = message["id"].as_str().expect("message id").to_string();
        receiver.wait_for(hits + n as u64).await;
        loop {
            // Svix writes an attempt after its request was answered, so the receiver's count
            // comes first; the round ends after the count that found all N, as subreg's does.
            let found = match &self.db {
                Some((db, _)) => {
                    let mut db = db.lock().expect("Svix database");
                    diesel::select(
                        diesel::dsl::sql::<diesel::sql_types::BigInt>(
                            "(SELECT count(*) FROM messageattempt WHERE status = 0 AND msg_id = ",
                        )
                        .bind::<diesel::sql_types::Text, _>(&message)
                        .sql(")"),
                    )
                    .get_result::<i64>(&mut *db)
                    .expect("Svix: count attempts") as usize
                }
                None => self.succeeded(&message).await,
            };
            if found >= n {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "Svix: gave up on message {message} ({found} of {n})"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = self.cpu();
        if self.db.is_some() {
            // Not measured: the API agrees (its attempts list, paged).
            assert!(
                self.succeeded(&message).await >= n,
                "Svix: the API lists fewer than {n} successful attempts of {message}"
            );
        }
        let per_1000 = 1000.0 / n as f64;
        Round {
            seconds,
            own_cpu: (cpu.0 - own) * per_1000,
            postgres_cpu: (cpu.1 - postgres) * per_1000,
        }
    }
}

struct Options {
    sizes: Vec<usize>,
    rounds: usize,
    svix: Option<(String, String)>,
    svix_db: Option<String>,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let (mut svix, mut token) = (None, std::env::var("SVIX_TOKEN").ok());
    let mut svix_db = std::env::var("SVIX_DB_URL").ok();
    let mut rounds: usize = std::env::var("WEBHOOK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // `cargo bench` adds `--bench`; anything else unknown is ignored too.
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--svix" => svix = args.next(),
            "--svix-token" => token = args.next(),
            "--svix-db" => svix_db = args.next(),
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|r| r.parse().ok())
                    .expect("--rounds N")
            }
            _ => {}
        }
    }
    let sizes = std::env::var("WEBHOOK_BENCH_N")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("WEBHOOK_BENCH_N: numbers"))
        .collect();
    let svix = svix.map(|url| {
        let token = token.expect("--svix needs a token: --svix-token or SVIX_TOKEN");
        (url, token)
    });
    Options {
        sizes,
        rounds: rounds.max(1),
        svix,
        svix_db,
    }
}

fn show(label: &str, rounds: &[Round], n: usize) {
    let times: Vec<String> = rounds.iter().map(|r| format!("{:.3}", r.seconds)).collect();
    let seconds = median(&rounds.iter().map(|r| r.seconds).collect::<Vec<_>>());
    println!(
        "  {label}: median {seconds:.3} s ({:.0} deliveries/s) [{} s]; CPU per 1,000 deliveries \
         {:.0} ms (own {:.0} + PostgreSQL {:.0})",
        n as f64 / seconds,
        times.join(", "),
        median(&rounds.iter().map(Round::cpu).collect::<Vec<_>>()),
        median(&rounds.iter().map(|r| r.own_cpu).collect::<Vec<_>>()),
        median(&rounds.iter().map(|r| r.postgres_cpu).collect::<Vec<_>>()),
    );
}

/// A fresh PostgreSQL database and what drops it.
fn postgres_database(admin: &str) -> (String, impl FnOnce()) {
    let name = format!("subreg_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = diesel::PgConnection::establish(admin).expect("pg");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .expect("create");
    let base = admin.rsplit_once('/').map(|(b, _)| b).expect("url");
    let admin = admin.to_string();
    (format!("{base}/{name}"), move || {
        let mut conn = diesel::PgConnection::establish(&admin).expect("pg");
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn);
    })
}

fn main() {
    if std::env::var("WEBHOOK_BENCH_MODE").as_deref() == Ok("hanging") {
        return hanging::main();
    }
    let options = options();
    let settings = Settings::from_env().expect("settings").webhooks;
    println!(
        "fan-out to one nginx `return 204`; {} round(s); concurrency {}, per endpoint {}, batch {}; \
         load average {}",
        options.rounds,
        settings.concurrency,
        settings.per_endpoint_concurrency,
        settings.batch_size,
        load_average()
    );
    actix_web::rt::System::new().block_on(async move {
        let receiver = Receiver::start();
        let admin = std::env::var("SUBREG_TEST_POSTGRES_URL").ok();
        if admin.is_none() {
            println!("postgres: skipped (set SUBREG_TEST_POSTGRES_URL)");
        }
        if options.svix.is_none() {
            println!("Svix: comparison skipped (run with --svix URL and SVIX_TOKEN)");
        }
        for &n in &options.sizes {
            let svix = match &options.svix {
                Some((url, token)) => {
                    Some(Svix::new(url, token, options.svix_db.as_deref(), n, &receiver).await)
                }
                None => None,
            };
            let mut backends = vec!["sqlite"];
            if admin.is_some() {
                backends.push("postgres");
            }
            for backend in backends {
                let dir = tempfile::tempdir().expect("dir");
                let (url, drop_db): (String, Box<dyn FnOnce()>) = match (backend, &admin) {
                    ("postgres", Some(admin)) => {
                        let (url, drop_db) = postgres_database(admin);
                        (url, Box::new(drop_db))
                    }
                    _ => (
                        format!("sqlite://{}", dir.path().join("bench.db").display()),
                        Box::new(|| {}),
                    ),
                };
                let mut subreg = Subreg::new(&url, n, &receiver.url(""));
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                for _ in 0..options.rounds {
                    ours.push(subreg.round(n, &receiver).await);
                    if let Some(svix) = &svix {
                        theirs.push(svix.round(n, &receiver).await);
                    }
                }
                drop(subreg);
                drop_db();
                println!("N = {n}, {backend} (load average {}):", load_average());
                show("subreg", &ours, n);
                if !theirs.is_empty() {
                    show("Svix", &theirs, n);
                    let med = |rounds: &[Round], f: fn(&Round) -> f64| {
                        median(&rounds.iter().map(f).collect::<Vec<_>>())
                    };
                    println!(
                        "  Svix / subreg: time {:.2}x, CPU per delivery {:.2}x",
                        med(&theirs, |r| r.seconds) / med(&ours, |r| r.seconds),
                        med(&theirs, Round::cpu) / med(&ours, Round::cpu)
                    );
                }
            }
        }
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
