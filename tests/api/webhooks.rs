//! Webhooks end to end: a real receiver on 127.0.0.1 inside the test records what arrives.
//! No request ever leaves loopback.

use crate::for_both_backends;
use crate::helpers::*;
use crate::on_both_backends;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subreg::config::Settings;
use subreg::domain::event::EventType;
use subreg::store::events::{append, NewEvent};

/// One request as the receiver saw it, and what it answered.
#[derive(Clone)]
pub struct Received {
    pub path: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Received {
    pub fn id(&self) -> String {
        self.headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A webhook receiver on 127.0.0.1:0 that answers with a status the test sets.
pub struct Receiver {
    pub port: u16,
    pub status: Arc<AtomicU16>,
    pub seen: Arc<Mutex<Vec<Received>>>,
    /// The body of every answer.
    pub reply: Arc<Mutex<Vec<u8>>>,
    /// How long each answer takes, in milliseconds (the request is counted on arrival).
    pub delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let status = Arc::new(AtomicU16::new(200));
        let seen: Arc<Mutex<Vec<Received>>> = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(b"received".to_vec()));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (s, r) = (status.clone(), seen.clone());
        let (b, d) = (reply.clone(), delay_ms.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || {
            let (s, r) = (s.clone(), r.clone());
            let (b, d) = (b.clone(), d.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (s, r) = (s.clone(), r.clone());
                let (b, d) = (b.clone(), d.clone());
                async move {
                    let answered = s.load(Ordering::SeqCst);
                    let mut headers = reqwest::header::HeaderMap::new();
                    for (name, value) in req.headers() {
                        headers.append(
                            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes())
                                .expect("name"),
                            reqwest::header::HeaderValue::from_bytes(value.as_bytes())
                                .expect("value"),
                        );
                    }
                    r.lock().expect("lock").push(Received {
                        path: req.path().to_string(),
                        headers,
                        body: body.to_vec(),
                        answered,
                    });
                    let delay = d.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    let reply = b.lock().expect("lock").clone();
                    HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(answered).expect("status"),
                    )
                    .body(reply)
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Receiver {
            port,
            status,
            seen,
            reply,
            delay_ms,
        }
    }

    /// Answers every request with this body from now on.
    pub fn reply_with(&self, body: &[u8]) {
        *self.reply.lock().expect("lock") = body.to_vec();
    }

    /// Answers every request this much later from now on.
    pub fn delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Received> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits (up to 20 s) until `done` holds for what arrived.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..400 {
            let all = self.all();
            if done(&all) {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for {what}; received {}",
            self.all().len()
        );
    }
}

fn succeeded_ids(all: &[Received]) -> std::collections::BTreeSet<String> {
    all.iter()
        .filter(|r| (200..300).contains(&r.answered))
        .map(Received::id)
        .collect()
}

async fn create_webhook(app: &TestApp, owner: &str, token: &str, body: Value) -> Value {
    let reply = app
        .post(&format!("/v1/{owner}/webhooks"), Some(token), &body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json()
}

fn entry(name: &str) -> Value {
    let mut e = azure();
    e["name"] = json!(name);
    e
}

/// Appends an event directly through the store, as the lifecycle code does.
fn append_event(app: &TestApp, event: NewEvent) -> String {
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("conn");
    let stored =
        subreg::store::write_transaction(&mut conn, |conn| append(conn, chrono::Utc::now(), event))
            .expect("append");
    stored.id
}

async fn deliveries_are_signed_and_verifiable(app: TestApp) {
    let receiver = Receiver::start().await;
    app.processor("p1").await;
    let hook = create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": receiver.url("/hook"), "event_types": []}),
    )
    .await;
    let secret = hook["secret"].as_str().expect("secret shown at creation");
    assert!(secret.starts_with("whsec_"));
    app.seed("p1", &json!([entry("A"), entry("B")])).await;
    let all = receiver
        .wait_for("two deliveries", |all| succeeded_ids(all).len() == 2)
        .await;
    let verifier = Webhook::new(secret).expect("secret decodes");
    for received in &all {
        verifier
            .verify(&received.body, &received.headers)
            .expect("signature verifies");
        let body = received.json();
        assert_eq!(body["type"], "subprocessor.added");
        assert_eq!(body["id"].as_str(), Some(received.id().as_str()));
        let mut tampered = received.body.clone();
        tampered[1] ^= 0x01;
        assert!(verifier.verify(&tampered, &received.headers).is_err());
        let other = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert!(other.verify(&received.body, &received.headers).is_err());
    }
    // The delivery log accounts for both once their outcomes are recorded (a receiver can see
    // a delivery before the dispatcher has written its answer down), and the secret is never
    // listed.
    let whid = hook["id"].as_str().expect("id");
    wait_for_log(
        &app,
        "processors/p1",
        &processor("p1"),
        whid,
        "both deliveries recorded",
        all_in("succeeded", 2),
    )
    .await;
    let log = app
        .get(
            &format!("/v1/processors/p1/webhooks/{whid}/deliveries?limit=1"),
            Some(&processor("p1")),
        )
        .await
        .json();
    assert_eq!(log["items"].as_array().map(Vec::len), Some(1));
    let cursor = log["next_cursor"].as_str().expect("a second page");
    let rest = app
        .get(
            &format!("/v1/processors/p1/webhooks/{whid}/deliveries?limit=1&cursor={cursor}"),
            Some(&processor("p1")),
        )
        .await
        .json();
    for item in [&log["items"][0], &rest["items"][0]] {
        assert_eq!(item["last_status"], 200, "{item}");
        assert_eq!(item["last_response"], "received");
    }
    assert!(rest["next_cursor"].is_null());
    let listed = app
        .get("/v1/processors/p1/webhooks", Some(&processor("p1")))
        .await;
    assert!(!listed.text.contains("whsec_"), "{}", listed.text);
}

async fn receiver_down_then_up_gets_every_event_with_one_id(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(503);
    app.processor("p1").await;
    create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": receiver.url("/hook")}),
    )
    .await;
    app.seed("p1", &json!([entry("A"), entry("B"), entry("C")]))
        .await;
    receiver
        .wait_for("two failed attempts of each event", |all| {
            let failed: Vec<_> = all.iter().filter(|r| r.answered == 503).collect();
            failed.len() >= 6
        })
        .await;
    receiver.answer(200);
    let all = receiver
        .wait_for("every event delivered", |all| succeeded_ids(all).len() == 3)
        .await;
    for id in succeeded_ids(&all) {
        let copies: Vec<_> = all.iter().filter(|r| r.id() == id).collect();
        assert!(copies.len() >= 2, "{id} was retried");
        assert!(copies.iter().all(|r| r.body == copies[0].body));
    }
    // Every request carried the id of one of the three events.
    assert!(all.iter().all(|r| succeeded_ids(&all).contains(&r.id())));
}

/// Processor `p1` with an endpoint whose receiver answers `status`, and a second endpoint (the
/// owner's inbox) subscribed to `endpoint.disabled` only. Returns (receiver, inbox, endpoint).
async fn endpoint_with_owner_inbox(app: &TestApp, status: u16) -> (Receiver, Receiver, Value) {
    let receiver = Receiver::start().await;
    receiver.answer(status);
    let inbox = Receiver::start().await;
    app.processor("p1").await;
    let hook = create_webhook(
        app,
        "processors/p1",
        &processor("p1"),
        json!({"url": receiver.url("/endpoint")}),
    )
    .await;
    create_webhook(
        app,
        "processors/p1",
        &processor("p1"),
        json!({"url": inbox.url("/owner"), "event_types": ["endpoint.disabled"]}),
    )
    .await;
    (receiver, inbox, hook)
}

async fn a_gone_endpoint_is_disabled_and_its_owner_told(app: TestApp) {
    let (gone, healthy, hook) = endpoint_with_owner_inbox(&app, 410).await;
    app.seed("p1", &entry("A")).await;
    let notice = healthy
        .wait_for("the endpoint.disabled event", |all| !all.is_empty())
        .await;
    let event = notice[0].json();
    assert_eq!(event["type"], "endpoint.disabled");
    assert_eq!(event["data"]["endpoint_id"], hook["id"]);
    assert_eq!(gone.all().len(), 1, "410 is not retried");
    let listed = app
        .get("/v1/processors/p1/webhooks", Some(&processor("p1")))
        .await
        .json();
    let disabled = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["id"] == hook["id"])
        .expect("still listed")
        .clone();
    assert_eq!(disabled["enabled"], false);
    assert!(disabled["disabled_reason"]
        .as_str()
        .is_some_and(|r| r.contains("410")));
    // A disabled endpoint gets nothing more, and its deliveries cannot be retried.
    app.seed("p1", &entry("B")).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(gone.all().len(), 1);
    let whid = hook["id"].as_str().expect("id");
    let log = app
        .get(
            &format!("/v1/processors/p1/webhooks/{whid}/deliveries"),
            Some(&processor("p1")),
        )
        .await
        .json();
    let did = log["items"][0]["id"].as_str().expect("delivery");
    assert_eq!(log["items"][0]["state"], "failed");
    let retry = app
        .post(
            &format!("/v1/processors/p1/webhooks/{whid}/deliveries/{did}/retry"),
            Some(&processor("p1")),
            &json!({}),
        )
        .await;
    retry.problem(409);
    // The evidence chain stays intact with the new event on it.
    let verify = app
        .get("/v1/processors/p1/events/verify", Some(&processor("p1")))
        .await
        .json();
    assert_eq!(verify["valid"], true, "{verify}");
}

async fn manual_retry_redelivers_a_failed_delivery(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(500);
    app.processor("p1").await;
    let hook = create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": receiver.url("/hook")}),
    )
    .await;
    let whid = hook["id"].as_str().expect("id").to_string();
    app.seed("p1", &entry("A")).await;
    let path = format!("/v1/processors/p1/webhooks/{whid}/deliveries");
    let mut failed = None;
    for _ in 0..200 {
        let log = app.get(&path, Some(&processor("p1"))).await.json();
        if log["items"][0]["state"] == "failed" {
            failed = Some(log["items"][0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = failed.expect("the schedule runs out into `failed`");
    assert_eq!(failed["attempts"], 8, "first try and 7 retries: {failed}");
    assert_eq!(failed["last_status"], 500);
    let before = receiver.all().len();
    receiver.answer(200);
    let did = failed["id"].as_str().expect("id");
    let retry = app
        .post(
            &format!("{path}/{did}/retry"),
            Some(&processor("p1")),
            &json!({}),
        )
        .await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    let all = receiver
        .wait_for("the manual redelivery", |all| {
            all.len() > before && succeeded_ids(all).len() == 1
        })
        .await;
    assert!(all.iter().all(|r| r.id() == all[0].id()));
    // Another org may not retry it.
    let other = app
        .post(
            &format!("{path}/{did}/retry"),
            Some(&processor("p2")),
            &json!({}),
        )
        .await;
    other.problem(403);
}

async fn processor_events_reach_controllers_with_an_agreement_only(app: TestApp) {
    let receiver = Receiver::start().await;
    app.processor("p1").await;
    app.controller("c-with").await;
    app.controller("c-without").await;
    app.agreement("c-with", "p1", general_terms(30)).await;
    for cid in ["c-with", "c-without"] {
        create_webhook(
            &app,
            &format!("controllers/{cid}"),
            &controller(cid),
            json!({"url": receiver.url(&format!("/{cid}"))}),
        )
        .await;
    }
    // A processor-wide event (no controller) and one addressed to the controller without an
    // agreement.
    let wide = append_event(
        &app,
        NewEvent {
            event_type: EventType::ChangeAnnounced,
            processor_id: "p1".into(),
            controller_id: None,
            data: json!({"summary": "a change"}),
        },
    );
    let addressed = append_event(
        &app,
        NewEvent {
            event_type: EventType::WindowOpened,
            processor_id: "p1".into(),
            controller_id: Some("c-without".into()),
            data: json!({"window": "w"}),
        },
    );
    let all = receiver
        .wait_for("both events", |all| succeeded_ids(all).len() == 2)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = if receiver.all().len() > all.len() {
        receiver.all()
    } else {
        all
    };
    let to = |path: &str| -> Vec<String> {
        all.iter()
            .filter(|r| r.path == path)
            .map(Received::id)
            .collect()
    };
    assert_eq!(to("/c-with"), [wide]);
    assert_eq!(to("/c-without"), [addressed]);
}

async fn endpoints_belong_to_their_org(app: TestApp) {
    app.processor("p1").await;
    app.controller("c1").await;
    let body = json!({"url": "http://127.0.0.1:9/hook", "event_types": ["change.announced"]});
    for (token, status) in [
        (processor("p2"), 403),
        (controller("c1"), 403),
        (admin(), 201),
        (processor("p1"), 201),
    ] {
        let reply = app
            .post("/v1/processors/p1/webhooks", Some(&token), &body)
            .await;
        assert_eq!(reply.status, status, "{}", reply.text);
    }
    assert_eq!(
        app.post("/v1/processors/p1/webhooks", None, &body)
            .await
            .status,
        401
    );
    let reply = app
        .post(
            "/v1/controllers/c1/webhooks",
            Some(&controller("c2")),
            &body,
        )
        .await;
    reply.problem(403);
    let unknown = app
        .post(
            "/v1/controllers/c1/webhooks",
            Some(&controller("c1")),
            &json!({"url": "http://127.0.0.1:9/", "event_types": ["change.announced", "change.exploded"]}),
        )
        .await;
    assert_eq!(unknown.error_fields(), ["event_types[1]"]);
    assert!(unknown.text.contains("change.exploded"));
    let created = create_webhook(&app, "controllers/c1", &controller("c1"), body.clone()).await;
    assert_eq!(created["event_types"], json!(["change.announced"]));
    assert_eq!(created["enabled"], true);
    let whid = created["id"].as_str().expect("id");
    // Rotation shows a new secret once.
    let rotated = app
        .post(
            &format!("/v1/controllers/c1/webhooks/{whid}/secret"),
            Some(&controller("c1")),
            &json!({}),
        )
        .await
        .json();
    assert!(rotated["secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));
    assert_ne!(rotated["secret"], created["secret"]);
    // Another controller sees nothing of it.
    let foreign = app
        .get(
            &format!("/v1/controllers/c1/webhooks/{whid}/deliveries"),
            Some(&controller("c2")),
        )
        .await;
    foreign.problem(403);
    let missing = app
        .get(
            &format!("/v1/processors/p1/webhooks/{whid}/deliveries"),
            Some(&processor("p1")),
        )
        .await;
    missing.problem(404);
    let deleted = app
        .send(
            app.client
                .delete(app.url(&format!("/v1/controllers/c1/webhooks/{whid}")))
                .bearer_auth(controller("c1")),
        )
        .await;
    assert_eq!(deleted.status, 204);
    let listed = app
        .get("/v1/controllers/c1/webhooks", Some(&controller("c1")))
        .await
        .json();
    assert_eq!(listed["items"], json!([]));
}

async fn five_days_of_failures_disable_an_endpoint(app: TestApp) {
    let (failing, owner_inbox, hook) = endpoint_with_owner_inbox(&app, 503).await;
    app.seed("p1", &entry("A")).await;
    failing
        .wait_for("a failed attempt", |all| !all.is_empty())
        .await;
    // A day of failures is not enough.
    app.advance("P1D").await;
    app.seed("p1", &entry("B")).await;
    failing
        .wait_for("B's attempt", |all| {
            all.iter().any(|r| r.json()["data"]["name"] == "B")
        })
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(owner_inbox.all().is_empty());
    // Past five days of failing without a success, the next failure disables it.
    app.advance("P5D").await;
    app.seed("p1", &entry("C")).await;
    let notice = owner_inbox
        .wait_for("endpoint.disabled", |all| !all.is_empty())
        .await;
    let event = notice[0].json();
    assert_eq!(event["type"], "endpoint.disabled");
    assert_eq!(event["data"]["endpoint_id"], hook["id"]);
    assert!(event["data"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("failed since")));
}

on_both_backends!(
    five_days_of_failures_disable_an_endpoint,
    deliveries_are_signed_and_verifiable,
    receiver_down_then_up_gets_every_event_with_one_id,
    a_gone_endpoint_is_disabled_and_its_owner_told,
    manual_retry_redelivers_a_failed_delivery,
    processor_events_reach_controllers_with_an_agreement_only,
    endpoints_belong_to_their_org,
);

/// A processor `p1` with one endpoint and three deliveries waiting for it (three seeded
/// entries), the dispatcher off, and a pool onto the app's database.
async fn three_deliveries_without_dispatcher(
    backend: Backend,
) -> Option<(TestApp, String, subreg::store::Pool)> {
    let Some(app) = spawn_app_with(backend, |s| s.webhooks.dispatcher = false).await else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return None;
    };
    app.processor("p1").await;
    let hook = create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    for name in ["A", "B", "C"] {
        app.seed("p1", &entry(name)).await;
    }
    let whid = hook["id"].as_str().expect("id").to_string();
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    Some((app, whid, pool))
}

/// Deliveries still waiting when an endpoint is disabled fail at once, with the reason in the
/// log, instead of staying pending for ever. The dispatcher is off: the 410 is recorded here.
async fn disabling_an_endpoint_fails_its_waiting_deliveries(backend: Backend) {
    let Some((app, whid, pool)) = three_deliveries_without_dispatcher(backend).await else {
        return;
    };
    let mut conn = pool.get().expect("conn");
    let owner = subreg::store::webhooks::Owner {
        kind: subreg::domain::webhook::OwnerKind::Processor,
        id: "p1",
    };
    let page = subreg::store::PageRequest::parse(None, None).expect("page");
    let rows = subreg::store::webhooks::list_deliveries(&mut conn, owner, &whid, &page)
        .expect("log")
        .items;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.state == "pending"));
    let gone = subreg::store::webhooks::AttemptRecord {
        delivery_id: rows[0].id.clone(),
        endpoint_id: whid.clone(),
        event_seq: rows[0].event_seq,
        outcome: subreg::domain::webhook::Outcome::Gone,
        status: Some(410),
        latency_ms: 1,
        response: Some(String::new()),
        error: None,
        retry_at: None,
    };
    let disabled = subreg::store::webhooks::record(
        &mut conn,
        &[gone],
        chrono::Utc::now(),
        chrono::Duration::days(5),
    )
    .expect("recorded");
    assert_eq!(disabled, vec![whid.clone()]);
    let log = app
        .get(
            &format!("/v1/processors/p1/webhooks/{whid}/deliveries"),
            Some(&processor("p1")),
        )
        .await
        .json();
    let items = log["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|d| d["state"] == "failed"), "{log}");
    assert_eq!(items[0]["last_status"], 410);
    for item in &items[1..] {
        assert_eq!(item["attempts"], 0);
        assert!(
            item["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("endpoint disabled")),
            "{item}"
        );
    }
}

for_both_backends!(disabling_an_endpoint_fails_its_waiting_deliveries);

fn strict(settings: &mut Settings) {
    settings.webhooks.allow_private = false;
    settings.webhooks.allow_http = true;
}

async fn ssrf_refusal(backend: Backend) {
    let Some(app) = spawn_app_with(backend, strict).await else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    app.processor("p1").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[2001::1]/hook",
        "http://[2001:20::1]/hook",
        "http://[2001:2::1]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "ftp://127.0.0.1/hook",
    ] {
        let reply = app
            .post(
                "/v1/processors/p1/webhooks",
                Some(&processor("p1")),
                &json!({"url": url}),
            )
            .await;
        assert_eq!(reply.error_fields(), ["url"], "{url} must be refused");
    }
    let listed = app
        .get("/v1/processors/p1/webhooks", Some(&processor("p1")))
        .await
        .json();
    assert_eq!(listed["items"], json!([]));
}

for_both_backends!(ssrf_refusal);

/// An endpoint's delivery log as its owner reads it (`owner` like "processors/p1").
async fn deliveries(app: &TestApp, owner: &str, token: &str, whid: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/{owner}/webhooks/{whid}/deliveries?limit=100"),
            Some(token),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().expect("items").clone()
}

/// Waits (up to 20 s) until `done` holds for the delivery log.
async fn wait_for_log(
    app: &TestApp,
    owner: &str,
    token: &str,
    whid: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..400 {
        let log = deliveries(app, owner, token, whid).await;
        if done(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out waiting for {what}: {:?}",
        deliveries(app, owner, token, whid).await
    );
}

fn all_in(state: &'static str, n: usize) -> impl Fn(&[Value]) -> bool {
    move |log| log.len() == n && log.iter().all(|d| d["state"] == state)
}

/// A receiver answering NUL bytes, invalid UTF-8 and more than 512 bytes: its attempts are
/// recorded with a clean answer, and so are another tenant's attempts written beside them.
async fn an_answer_with_nul_bytes_is_stored_clean_and_fails_no_other_attempt(app: TestApp) {
    let nul = Receiver::start().await;
    let mut answer = b"ok\0\0\xff\xfe\x1b".to_vec();
    answer.extend("é".repeat(300).as_bytes());
    nul.reply_with(&answer);
    let plain = Receiver::start().await;
    app.processor("p1").await;
    app.processor("p2").await;
    let bad = create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": nul.url("/nul")}),
    )
    .await;
    let good = create_webhook(
        &app,
        "processors/p2",
        &processor("p2"),
        json!({"url": plain.url("/plain")}),
    )
    .await;
    for name in ["A", "B", "C"] {
        app.seed("p1", &entry(name)).await;
        app.seed("p2", &entry(name)).await;
    }
    let (bad_id, good_id) = (
        bad["id"].as_str().expect("id"),
        good["id"].as_str().expect("id"),
    );
    let stored = wait_for_log(
        &app,
        "processors/p1",
        &processor("p1"),
        bad_id,
        "the NUL answers recorded",
        all_in("succeeded", 3),
    )
    .await;
    wait_for_log(
        &app,
        "processors/p2",
        &processor("p2"),
        good_id,
        "the other tenant's attempts recorded",
        all_in("succeeded", 3),
    )
    .await;
    for delivery in &stored {
        let response = delivery["last_response"].as_str().expect("answer kept");
        assert!(
            response.starts_with("ok\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}éé"),
            "{response:?}"
        );
        assert!(
            !response.contains('\0') && response.len() <= 512,
            "{response:?}"
        );
        assert!(response.ends_with('é'), "cut on a character boundary");
        assert_eq!(delivery["attempts"], 1, "{delivery}");
    }
}

/// The owner's 11th endpoint is refused with a problem that names the limit and the setting;
/// deleting one makes room; another owner is not affected.
async fn the_eleventh_endpoint_of_an_owner_is_refused(app: TestApp) {
    app.processor("p1").await;
    app.controller("c1").await;
    let body = json!({"url": "http://127.0.0.1:9/hook"});
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(create_webhook(&app, "processors/p1", &processor("p1"), body.clone()).await);
    }
    let refused = app
        .post("/v1/processors/p1/webhooks", Some(&processor("p1")), &body)
        .await;
    let problem = refused.problem(409);
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("10") && detail.contains("SUBREG_WEBHOOK_MAX_ENDPOINTS"),
        "{detail}"
    );
    let listed = app
        .get(
            "/v1/processors/p1/webhooks?limit=100",
            Some(&processor("p1")),
        )
        .await
        .json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(10));
    // Another owner has its own ten.
    create_webhook(&app, "controllers/c1", &controller("c1"), body.clone()).await;
    // Deleting one makes room for one.
    let whid = ids[0]["id"].as_str().expect("id");
    let deleted = app
        .delete(
            &format!("/v1/processors/p1/webhooks/{whid}"),
            Some(&processor("p1")),
        )
        .await;
    assert_eq!(deleted.status, 204);
    create_webhook(&app, "processors/p1", &processor("p1"), body.clone()).await;
    app.post("/v1/processors/p1/webhooks", Some(&processor("p1")), &body)
        .await
        .problem(409);
}

/// Deliveries in flight to a slow receiver when the test clock moves a day ahead are not
/// sent again: leases run on the real clock.
async fn moving_the_test_clock_does_not_resend_deliveries_in_flight(app: TestApp) {
    let slow = Receiver::start().await;
    slow.delay(Duration::from_millis(2_000));
    app.processor("p1").await;
    let hook = create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": slow.url("/slow")}),
    )
    .await;
    app.seed("p1", &json!([entry("A"), entry("B"), entry("C")]))
        .await;
    slow.wait_for("three sends in flight", |all| all.len() == 3)
        .await;
    app.advance("P1D").await;
    let whid = hook["id"].as_str().expect("id");
    wait_for_log(
        &app,
        "processors/p1",
        &processor("p1"),
        whid,
        "the three deliveries recorded",
        all_in("succeeded", 3),
    )
    .await;
    // Time for a second send to arrive, had one been made.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = slow.all();
    let ids: std::collections::BTreeSet<String> = all.iter().map(Received::id).collect();
    assert_eq!(
        (all.len(), ids.len()),
        (3, 3),
        "each delivery sent once: {:?}",
        all.iter().map(Received::id).collect::<Vec<_>>()
    );
}

on_both_backends!(
    an_answer_with_nul_bytes_is_stored_clean_and_fails_no_other_attempt,
    the_eleventh_endpoint_of_an_owner_is_refused,
    moving_the_test_clock_does_not_resend_deliveries_in_flight,
);

/// A receiver that hangs does not hold up another endpoint: with 4 sends in flight at most and
/// 2 per endpoint, the healthy endpoint gets all its deliveries while every send to the hanging
/// one is still waiting (none has ended: the timeout is far off). Not a timing test: before
/// the cap the hanging endpoint's sends took every slot until they timed out.
async fn a_hanging_receiver_does_not_hold_up_another_endpoint(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.webhooks.concurrency = 4;
        s.webhooks.per_endpoint_concurrency = 2;
        s.webhooks.timeout = Duration::from_secs(30);
        s.webhooks.lease = Duration::from_secs(60);
    })
    .await
    else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let hanging = Receiver::start().await;
    hanging.delay(Duration::from_secs(3_600));
    let healthy = Receiver::start().await;
    app.processor("p1").await;
    let stuck = create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": hanging.url("/hang")}),
    )
    .await;
    create_webhook(
        &app,
        "processors/p1",
        &processor("p1"),
        json!({"url": healthy.url("/ok")}),
    )
    .await;
    let names: Vec<Value> = (0..8).map(|i| entry(&format!("E{i}"))).collect();
    app.seed("p1", &json!(names)).await;
    healthy
        .wait_for("all 8 at the healthy endpoint", |all| {
            succeeded_ids(all).len() == 8
        })
        .await;
    hanging
        .wait_for("two sends to the hanging receiver", |all| all.len() >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hanging.all().len(), 2, "at most 2 sends to one endpoint");
    let whid = stuck["id"].as_str().expect("id");
    let log = deliveries(&app, "processors/p1", &processor("p1"), whid).await;
    assert!(
        log.iter().all(|d| d["attempts"] == 0),
        "no send to the hanging receiver has ended yet: {log:?}"
    );
}

for_both_backends!(a_hanging_receiver_does_not_hold_up_another_endpoint);

/// Deliveries in flight when their endpoint is disabled end `failed`, leased or not, and an
/// attempt recorded after the disabling does not make one `pending` again. The dispatcher is
/// off: the claim and the attempts are made here.
async fn disabling_an_endpoint_fails_its_leased_deliveries_too(backend: Backend) {
    use subreg::domain::webhook::Outcome;
    use subreg::store::webhooks::{claim, record, AttemptRecord, ClaimRequest};
    let Some((app, whid, pool)) = three_deliveries_without_dispatcher(backend).await else {
        return;
    };
    let mut conn = pool.get().expect("conn");
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let in_flight = std::collections::HashMap::new();
    let claimed = claim(
        &mut conn,
        &ClaimRequest {
            now,
            wall_now: now,
            lease_until: now + chrono::Duration::seconds(60),
            limit: 10,
            per_endpoint: 10,
            in_flight: &in_flight,
        },
    )
    .expect("claimed");
    assert_eq!(claimed.len(), 3, "all three in flight");
    let attempt = |i: usize, outcome: Outcome, status: Option<i32>| AttemptRecord {
        delivery_id: claimed[i].delivery_id.clone(),
        endpoint_id: whid.clone(),
        event_seq: claimed[i].event_seq,
        outcome,
        status,
        latency_ms: 1,
        response: None,
        error: None,
        retry_at: Some(now + chrono::Duration::seconds(5)),
    };
    let disabled = record(
        &mut conn,
        &[attempt(0, Outcome::Gone, Some(410))],
        now,
        chrono::Duration::days(5),
    )
    .expect("recorded");
    assert_eq!(disabled, vec![whid.clone()]);
    let log = deliveries(&app, "processors/p1", &processor("p1"), &whid).await;
    assert!(log.iter().all(|d| d["state"] == "failed"), "{log:?}");
    // The two sends in flight end after the disabling: a failure (with a retry the schedule
    // would allow) and a success.
    record(
        &mut conn,
        &[
            attempt(1, Outcome::Failure, Some(503)),
            attempt(2, Outcome::Success, Some(200)),
        ],
        now,
        chrono::Duration::days(5),
    )
    .expect("recorded");
    let log = deliveries(&app, "processors/p1", &processor("p1"), &whid).await;
    let state_of = |i: usize| {
        log.iter()
            .find(|d| d["id"] == claimed[i].delivery_id.as_str())
            .map(|d| (d["state"].clone(), d["attempts"].clone()))
    };
    assert_eq!(state_of(1), Some((json!("failed"), json!(1))), "{log:?}");
    assert_eq!(state_of(2), Some((json!("succeeded"), json!(1))), "{log:?}");
    assert!(log.iter().all(|d| d["state"] != "pending"), "{log:?}");
}

for_both_backends!(disabling_an_endpoint_fails_its_leased_deliveries_too);

/// A claim takes endpoints round-robin, never more than the per-endpoint cap counting the sends
/// already in flight, and nothing of an endpoint at its cap. The dispatcher is off.
async fn claims_take_endpoints_round_robin_up_to_their_cap(backend: Backend) {
    use subreg::store::webhooks::{claim, ClaimRequest};
    let Some(app) = spawn_app_with(backend, |s| s.webhooks.dispatcher = false).await else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    app.processor("p1").await;
    let mut ids = Vec::new();
    for path in ["/a", "/b", "/c"] {
        let hook = create_webhook(
            &app,
            "processors/p1",
            &processor("p1"),
            json!({"url": format!("http://127.0.0.1:9{path}")}),
        )
        .await;
        ids.push(hook["id"].as_str().expect("id").to_string());
    }
    let names: Vec<Value> = (0..6).map(|i| entry(&format!("E{i}"))).collect();
    app.seed("p1", &json!(names)).await;
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("conn");
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let mut in_flight = std::collections::HashMap::new();
    in_flight.insert(ids[0].clone(), 1);
    fn request(
        now: chrono::DateTime<chrono::Utc>,
        in_flight: &std::collections::HashMap<String, usize>,
    ) -> ClaimRequest<'_> {
        ClaimRequest {
            now,
            wall_now: now,
            lease_until: now + chrono::Duration::seconds(60),
            limit: 100,
            per_endpoint: 2,
            in_flight,
        }
    }
    let claimed = claim(&mut conn, &request(now, &in_flight)).expect("claimed");
    let endpoints: Vec<&str> = claimed.iter().map(|c| c.endpoint_id.as_str()).collect();
    let count = |id: &str| endpoints.iter().filter(|e| **e == id).count();
    assert_eq!(
        (count(&ids[0]), count(&ids[1]), count(&ids[2])),
        (1, 2, 2),
        "the cap counts the send already in flight"
    );
    // Round-robin: every endpoint's first due delivery before any endpoint's second.
    let mut firsts: Vec<&str> = endpoints.iter().take(3).copied().collect();
    firsts.sort_unstable();
    let mut all: Vec<&str> = ids.iter().map(String::as_str).collect();
    all.sort_unstable();
    assert_eq!(firsts, all, "{endpoints:?}");
    // Each endpoint's oldest deliveries first.
    for id in &ids {
        let seqs: Vec<i64> = claimed
            .iter()
            .filter(|c| &c.endpoint_id == id)
            .map(|c| c.event_seq)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
    // Leased rows are not claimed again, and endpoints at their cap get nothing.
    for id in &ids {
        in_flight.insert(id.clone(), 2);
    }
    assert!(claim(&mut conn, &request(now, &in_flight))
        .expect("claimed")
        .is_empty());
    in_flight.clear();
    let rest = claim(&mut conn, &request(now, &in_flight)).expect("claimed");
    assert_eq!(rest.len(), 6, "two more of each, none of the leased five");
    assert!(rest
        .iter()
        .all(|r| claimed.iter().all(|c| c.delivery_id != r.delivery_id)));
}

for_both_backends!(claims_take_endpoints_round_robin_up_to_their_cap);
