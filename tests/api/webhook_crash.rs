//! The webhook dispatcher as real `subreg serve` processes: SIGKILLed mid-fan-out and
//! restarted, and two at once on one PostgreSQL. The receiver is a counting HTTP server on
//! 127.0.0.1 started here; nothing leaves loopback.

use crate::helpers::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subreg::clock::Clock;
use subreg::domain::event::EventType;
use subreg::domain::party::ProcessorSpec;
use subreg::domain::webhook::OwnerKind;
use subreg::store::events::{append_batch, NewEvent};
use subreg::store::webhooks::{create_endpoint, NewEndpoint, Owner};
use subreg::store::{self, organisations, DbConnection};

/// Endpoints × events = 2,000 delivery rows.
const ENDPOINTS: usize = 4;
const EVENTS: usize = 500;
const DELIVERIES: usize = ENDPOINTS * EVENTS;

/// Hits per (path, webhook-id), counted by a receiver on its own thread and runtime, so the
/// test itself can block.
struct CountingReceiver {
    port: u16,
    hits: Arc<Mutex<HashMap<Key, u32>>>,
}

impl CountingReceiver {
    /// `delay` slows every answer down, so a fan-out lasts long enough to be killed midway.
    fn start(delay: Duration) -> CountingReceiver {
        let hits: Arc<Mutex<HashMap<Key, u32>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let counter = hits.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(move || {
                    let counter = counter.clone();
                    App::new().default_service(web::to(move |req: HttpRequest| {
                        let counter = counter.clone();
                        async move {
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            let id = req
                                .headers()
                                .get("webhook-id")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            *counter
                                .lock()
                                .expect("lock")
                                .entry((req.path().to_string(), id))
                                .or_insert(0) += 1;
                            HttpResponse::NoContent().finish()
                        }
                    }))
                })
                .workers(2)
                .listen(listener)
                .expect("listen")
                .run()
                .await
                .expect("receiver runs");
            });
        });
        CountingReceiver { port, hits }
    }

    fn snapshot(&self) -> HashMap<Key, u32> {
        self.hits.lock().expect("lock").clone()
    }

    fn distinct(&self) -> usize {
        self.hits.lock().expect("lock").len()
    }
}

/// A processor with `ENDPOINTS` endpoints on the receiver (paths /hook/0..) and `EVENTS`
/// events appended in one transaction: `DELIVERIES` pending rows in the outbox.
fn fan_out(conn: &mut DbConnection, receiver: &CountingReceiver) {
    let now = Clock::System.now();
    let processor = ProcessorSpec {
        id: "eg-netblanket".into(),
        name: "EG Digital Welfare ApS".into(),
        registration: None,
        address: "Østerbro 5B, 5000 Odense C".into(),
        country: "DK".into(),
        contact_email: None,
    };
    organisations::create_processor(conn, &processor, now).unwrap();
    let owner = Owner {
        kind: OwnerKind::Processor,
        id: "eg-netblanket",
    };
    for i in 0..ENDPOINTS {
        let spec = NewEndpoint {
            url: format!("http://127.0.0.1:{}/hook/{i}", receiver.port),
            event_types: vec![],
            enabled: true,
            secret: subreg::notify::signing::new_secret(),
        };
        create_endpoint(conn, owner, spec, usize::MAX, now).unwrap();
    }
    let events = (0..EVENTS)
        .map(|i| NewEvent {
            event_type: EventType::SubprocessorAdded,
            processor_id: "eg-netblanket".into(),
            controller_id: None,
            data: serde_json::json!({"name": format!("Entry {i}")}),
        })
        .collect();
    store::write_transaction(conn, |conn| {
        append_batch(conn, now, "eg-netblanket", events)
    })
    .unwrap();
}

fn serve(database_url: &str) -> Child {
    serve_process(
        database_url,
        &[
            ("SUBREG_WEBHOOK_ALLOW_PRIVATE", "1"),
            ("SUBREG_WEBHOOK_ALLOW_HTTP", "1"),
            ("SUBREG_WEBHOOK_RETRY_SCHEDULE_MS", "50,50,50,50,50,50,50"),
            // A short lease: the rows a killed process had claimed come due again within 2 s.
            ("SUBREG_WEBHOOK_TIMEOUT_MS", "1000"),
            ("SUBREG_WEBHOOK_LEASE_MS", "1500"),
            // Small claims, few in flight: the fan-out lasts long enough to be killed midway.
            ("SUBREG_WEBHOOK_CONCURRENCY", "8"),
            ("SUBREG_WEBHOOK_BATCH_SIZE", "16"),
        ],
    )
}

fn stop(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

/// (endpoint path, event id): what the receiver counts and the log holds.
type Key = (String, String);

/// The key of every delivery row, and (event id, state) of the rows not `succeeded`.
fn delivery_log(conn: &mut DbConnection) -> (BTreeSet<Key>, Vec<(String, String)>) {
    use subreg::store::schema::{webhook_deliveries as d, webhook_endpoints as e};
    let rows: Vec<(String, String, String)> = d::table
        .inner_join(e::table.on(e::id.eq(d::endpoint_id)))
        .select((e::url, d::event_id, d::state))
        .load(conn)
        .unwrap();
    assert_eq!(
        rows.len(),
        DELIVERIES,
        "one delivery row per endpoint and event"
    );
    let mut keys = BTreeSet::new();
    let mut unfinished = Vec::new();
    for (url, event_id, state) in rows {
        let path = url
            .split_once("/hook/")
            .map(|(_, i)| format!("/hook/{i}"))
            .unwrap();
        if state != "succeeded" {
            unfinished.push((event_id.clone(), state));
        }
        keys.insert((path, event_id));
    }
    (keys, unfinished)
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pending(conn: &mut DbConnection) -> i64 {
    use subreg::store::schema::webhook_deliveries as d;
    d::table
        .filter(d::state.ne("succeeded"))
        .count()
        .get_result(conn)
        .unwrap()
}

fn killed_mid_fan_out(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let pool = store::connect(&url, 2).unwrap();
    let mut conn = pool.get().unwrap();
    // Migrations run at connect; the rows are written before any server starts.
    let receiver = CountingReceiver::start(Duration::from_millis(5));
    fan_out(&mut conn, &receiver);

    let mut child = serve(&url);
    wait_for("the first deliveries", Duration::from_secs(20), || {
        receiver.distinct() >= DELIVERIES / 10
    });
    stop(&mut child);
    let at_kill = receiver.distinct();
    eprintln!("killed with {at_kill} of {DELIVERIES} deliveries received");
    assert!(
        at_kill < DELIVERIES,
        "the kill landed after the fan-out finished: slow the receiver down"
    );
    assert!(pending(&mut conn) > 0, "rows left for the restart");

    let mut child = serve(&url);
    wait_for("every delivery", Duration::from_secs(30), || {
        receiver.distinct() >= DELIVERIES
    });
    // Every row must reach `succeeded` in the log too, not only at the receiver.
    wait_for("the log to catch up", Duration::from_secs(10), || {
        pending(&mut conn) == 0
    });
    stop(&mut child);

    let hits = receiver.snapshot();
    let (log, unfinished) = delivery_log(&mut conn);
    assert!(unfinished.is_empty(), "not succeeded: {unfinished:?}");
    let received: BTreeSet<Key> = hits.keys().cloned().collect();
    assert_eq!(
        received, log,
        "the receiver saw exactly the logged deliveries"
    );
    let duplicates: u32 = hits.values().map(|n| n - 1).sum();
    eprintln!("{duplicates} duplicate sends (at-least-once across the kill)");
}

#[test]
fn dispatcher_killed_mid_fan_out_delivers_every_event_on_sqlite() {
    killed_mid_fan_out(Backend::Sqlite);
}

#[test]
fn dispatcher_killed_mid_fan_out_delivers_every_event_on_postgres() {
    killed_mid_fan_out(Backend::Postgres);
}

#[test]
fn two_dispatchers_on_one_postgres_deliver_each_event_once() {
    let Some((_db, url)) = TestDb::create(Backend::Postgres) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: two-dispatcher run skipped");
        return;
    };
    let pool = store::connect(&url, 2).unwrap();
    let mut conn = pool.get().unwrap();
    let receiver = CountingReceiver::start(Duration::from_millis(2));
    // Both running before the rows appear, so both compete for every claim.
    let mut first = serve(&url);
    let mut second = serve(&url);
    std::thread::sleep(Duration::from_millis(500));
    fan_out(&mut conn, &receiver);
    wait_for("every delivery", Duration::from_secs(30), || {
        receiver.distinct() >= DELIVERIES
    });
    wait_for("the log to catch up", Duration::from_secs(10), || {
        pending(&mut conn) == 0
    });
    // Give a stray second send time to arrive before counting.
    std::thread::sleep(Duration::from_millis(300));
    for child in [&mut first, &mut second] {
        stop(child);
    }
    let hits = receiver.snapshot();
    let twice: Vec<_> = hits.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let (log, unfinished) = delivery_log(&mut conn);
    assert!(unfinished.is_empty(), "not succeeded: {unfinished:?}");
    assert_eq!(hits.keys().cloned().collect::<BTreeSet<_>>(), log);
}

/// Rows whose lease is still running on the real clock.
fn leased(conn: &mut DbConnection) -> i64 {
    use subreg::store::schema::webhook_deliveries as d;
    let now = subreg::store::to_naive(Clock::System.now());
    d::table
        .filter(d::state.eq("pending"))
        .filter(d::leased_until.gt(now))
        .count()
        .get_result(conn)
        .unwrap()
}

/// SIGTERM mid fan-out to a slow receiver: the process stops claiming, gives its in-flight
/// sends a short grace, hands the rest back and exits; no delivery is left leased.
fn sigterm_mid_fan_out(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let pool = store::connect(&url, 2).unwrap();
    let mut conn = pool.get().unwrap();
    // Each answer takes 3 s: sends are in flight whenever the signal comes.
    let receiver = CountingReceiver::start(Duration::from_millis(3_000));
    fan_out(&mut conn, &receiver);
    let mut child = serve_process(
        &url,
        &[
            ("SUBREG_WEBHOOK_ALLOW_PRIVATE", "1"),
            ("SUBREG_WEBHOOK_ALLOW_HTTP", "1"),
            ("SUBREG_WEBHOOK_TIMEOUT_MS", "10000"),
            // A lease far longer than the test: one left behind would show.
            ("SUBREG_WEBHOOK_LEASE_MS", "600000"),
            ("SUBREG_WEBHOOK_CONCURRENCY", "8"),
            ("SUBREG_WEBHOOK_BATCH_SIZE", "8"),
            ("SUBREG_WEBHOOK_SHUTDOWN_GRACE_MS", "500"),
        ],
    );
    wait_for("sends in flight", Duration::from_secs(20), || {
        leased(&mut conn) >= 8
    });
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            stop(&mut child);
            panic!("subreg serve did not exit within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "graceful exit: {status:?}");
    assert_eq!(
        leased(&mut conn),
        0,
        "no delivery left leased after the process exited"
    );
    assert!(pending(&mut conn) > 0, "the fan-out was stopped midway");
    // What was handed back is due again: a new process sends it without waiting for a lease.
    receiver.hits.lock().expect("lock").clear();
    let before = pending(&mut conn);
    let mut child = serve_process(
        &url,
        &[
            ("SUBREG_WEBHOOK_ALLOW_PRIVATE", "1"),
            ("SUBREG_WEBHOOK_ALLOW_HTTP", "1"),
            ("SUBREG_WEBHOOK_LEASE_MS", "600000"),
        ],
    );
    wait_for(
        "the restarted process to send",
        Duration::from_secs(20),
        || pending(&mut conn) < before,
    );
    stop(&mut child);
}

#[test]
fn sigterm_mid_fan_out_leaves_no_delivery_leased_on_sqlite() {
    sigterm_mid_fan_out(Backend::Sqlite);
}

#[test]
fn sigterm_mid_fan_out_leaves_no_delivery_leased_on_postgres() {
    sigterm_mid_fan_out(Backend::Postgres);
}
