//! Test harness: the real app on a random port, against a fresh SQLite file or a fresh
//! PostgreSQL database per test.

use diesel::{Connection, RunQueryDsl};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use subreg::config::Settings;
use subreg::http::auth::{mint, Role};
use subreg::Application;

pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is removed afterwards.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// `None` when the backend is PostgreSQL and SUBREG_TEST_POSTGRES_URL is not set.
    pub fn create(backend: Backend) -> Option<(TestDb, String)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("subreg.db").display());
                Some((TestDb::Sqlite { _dir: dir }, url))
            }
            Backend::Postgres => {
                let admin_url = without_tls(&std::env::var("SUBREG_TEST_POSTGRES_URL").ok()?);
                let name = format!("subreg_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    diesel::PgConnection::establish(&admin_url).expect("connect to PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .expect("url with database");
                let url = format!("{base}/{name}?sslmode=disable");
                Some((TestDb::Postgres { admin_url, name }, url))
            }
        }
    }
}

/// Test connections go without TLS: at process exit OpenSSL's cleanup can race a background
/// thread (a sweeper or dispatcher of a finished test) that is still inside libpq, and crash
/// the test binary after every test has passed.
pub fn without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// The evidence log key every test instance signs with (a PostgreSQL instance needs one; on
/// SQLite the harness gives it too, so tests can rebuild the verifier): written once per test
/// binary.
pub fn log_key_path() -> &'static std::path::Path {
    static KEY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "subreg-test-log-{}-{}.key",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        subreg::store::log::write_new_key(&path, "subreg-test").expect("test log key");
        path
    })
}

/// The signer of the test instances, for checks that run on the database directly.
pub fn log_signer() -> subreg::store::log::LogSigner {
    let skey = std::fs::read_to_string(log_key_path()).expect("test log key");
    subreg::store::log::LogSigner::new(&skey, "127.0.0.1", vec![]).expect("test log key")
}

pub fn settings(database_url: &str) -> Settings {
    let mut settings = Settings::from_lookup(|_| None).expect("default settings");
    settings.database_url = database_url.to_string();
    settings.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.jwt_secret = Some(SECRET.to_string());
    settings.log_key = Some(log_key_path().to_path_buf());
    settings.test_clock = true;
    settings.pool_size = 4;
    // Webhook receivers in tests listen on loopback over plain http, and retries come fast.
    settings.webhooks.allow_private = true;
    settings.webhooks.allow_http = true;
    settings.webhooks.retry_schedule = vec![std::time::Duration::from_millis(50); 7];
    settings.sweep_interval = std::time::Duration::from_millis(50);
    settings
}

pub struct TestApp {
    pub address: String,
    /// The separate /metrics listener, when the settings asked for one.
    pub metrics_address: Option<String>,
    server: actix_web::dev::ServerHandle,
    pub database_url: String,
    pub client: reqwest::Client,
    _db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the returned future only waits.
        drop(self.server.stop(false));
    }
}

/// A response with its body read, so assertions can look at status, headers and body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem+json refusal with this status and returns the problem.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text
        );
        let problem = self.json();
        assert_eq!(problem["status"], status);
        assert!(problem["title"].is_string() && problem["type"].is_string());
        assert!(
            !problem["detail"].as_str().unwrap_or("").is_empty(),
            "detail says what to fix"
        );
        problem
    }

    /// The fields named by a 422 validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.problem(422)["errors"]
            .as_array()
            .expect("errors array")
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_string())
            .collect()
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Like `spawn_app`, with the test settings adjusted first.
pub async fn spawn_app_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let (db, database_url) = TestDb::create(backend)?;
    let mut settings = settings(&database_url);
    adjust(&mut settings);
    let app = Application::build(settings).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    Some(TestApp {
        address,
        metrics_address,
        server,
        database_url,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        _db: db,
    })
}

pub fn token(role: Role, org: &str) -> String {
    mint(SECRET, "subreg", role, org, 600).expect("token")
}

pub fn admin() -> String {
    token(Role::Admin, "subreg")
}

pub fn processor(org: &str) -> String {
    token(Role::Processor, org)
}

pub fn controller(org: &str) -> String {
    token(Role::Controller, org)
}

impl TestApp {
    /// Every processor's verify is valid: the log recomputes and every window, change and
    /// agreement is what its newest event says (a scenario test that ends here shows that the
    /// normal paths never leave a row the log does not vouch for).
    pub async fn assert_logs_replay(&self) {
        let processors = self.get("/v1/processors?limit=100", Some(&admin())).await;
        assert_eq!(processors.status, 200, "{}", processors.text);
        for processor in processors.json()["items"].as_array().unwrap() {
            let pid = processor["id"].as_str().unwrap();
            let verify = self
                .get(
                    &format!("/v1/processors/{pid}/events/verify"),
                    Some(&admin()),
                )
                .await;
            assert_eq!(verify.status, 200, "{}", verify.text);
            let verify = verify.json();
            assert_eq!(verify["valid"], true, "{pid}: {verify}");
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        Reply {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// `get` without a token, owning its path: for many requests at once.
    pub async fn get_owned(&self, path: String) -> Reply {
        self.get(&path, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// Creates a processor as admin and asserts it worked.
    pub async fn processor(&self, id: &str) -> Value {
        let reply = self
            .post("/v1/processors", Some(&admin()), &processor_body(id))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    pub async fn controller(&self, id: &str) -> Value {
        let reply = self
            .post("/v1/controllers", Some(&admin()), &controller_body(id))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    /// Seeds one entry on a processor's list as that processor.
    pub async fn seed(&self, pid: &str, entry: &Value) -> Value {
        let reply = self
            .post(
                &format!("/v1/processors/{pid}/subprocessors"),
                Some(&processor(pid)),
                entry,
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    pub async fn agreement(&self, cid: &str, pid: &str, terms: Value) -> Value {
        let mut body = terms;
        body["controller_id"] = json!(cid);
        body["processor_id"] = json!(pid);
        let reply = self.post("/v1/agreements", Some(&admin()), &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    /// Advances the test clock by an ISO 8601 duration.
    pub async fn advance(&self, duration: &str) -> Value {
        let reply = self
            .post(
                "/v1/admin/clock",
                Some(&admin()),
                &json!({"advance": duration}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    /// Advances the test clock to `offset_secs` seconds after the RFC 3339 instant `at` (before
    /// it when negative), to within a second: deadlines fall at local midnight, not at a fixed
    /// distance from the test's start.
    pub async fn advance_to(&self, at: &Value, offset_secs: i64) -> Value {
        let at = chrono::DateTime::parse_from_rfc3339(at.as_str().expect("an instant"))
            .expect("RFC 3339");
        let clock = self.get("/v1/admin/clock", Some(&admin())).await.json();
        let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().expect("now"))
            .expect("RFC 3339");
        let seconds = (at - now).num_seconds() + offset_secs;
        assert!(
            seconds >= 0,
            "{at} + {offset_secs}s is behind the clock ({now})"
        );
        self.advance(&format!("PT{seconds}S")).await
    }
}

pub fn processor_body(id: &str) -> Value {
    json!({
        "id": id, "name": format!("{id} A/S"),
        "registration": {"scheme": "cvr", "number": "35833684"},
        "address": "Lautrupvang 1, 2750 Ballerup", "country": "DK",
        "contact_email": "dpo@example.com"
    })
}

pub fn controller_body(id: &str) -> Value {
    json!({
        "id": id, "name": format!("{id} Kommune"),
        "registration": {"scheme": "cvr", "number": "29188386"},
        "contact_email": "dpo@example.dk"
    })
}

pub fn azure() -> Value {
    json!({
        "name": "Microsoft Azure",
        "registration": {"scheme": "cvr", "number": "13612870"},
        "address": "Kanalvej 7, 2800 Kgs. Lyngby", "country": "DK",
        "processing_locations": ["IE", "NL"],
        "purpose": "Cloud platform hosting the DPG service"
    })
}

pub fn us_with_sccs(name: &str) -> Value {
    json!({
        "name": name, "address": "1 Market St, San Francisco", "country": "US",
        "processing_locations": ["US"],
        "transfer_basis": "standard_contractual_clauses",
        "transfer_basis_note": "SCCs 2021/914 module 3",
        "purpose": "Support tickets"
    })
}

pub fn general_terms(notice_days: u32) -> Value {
    json!({
        "authorisation": "general", "notice_days": notice_days,
        "objection_requires_reason": false, "third_country_transfers": "allowed_with_basis"
    })
}

/// Generates one test per backend for an async scenario `fn(TestApp)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use super::*;

                #[actix_web::test]
                async fn sqlite() {
                    let app = spawn_app(Backend::Sqlite).await.expect("sqlite always runs");
                    super::$scenario(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    match spawn_app(Backend::Postgres).await {
                        Some(app) => super::$scenario(app).await,
                        None => eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped"),
                    }
                }
            }
        )*
    };
}

/// Generates one test per backend for a scenario `fn(Backend)` that starts its own app
/// (it skips PostgreSQL itself when SUBREG_TEST_POSTGRES_URL is not set).
#[macro_export]
macro_rules! for_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use super::*;

                #[actix_web::test]
                async fn sqlite() {
                    super::$scenario(Backend::Sqlite).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    super::$scenario(Backend::Postgres).await;
                }
            }
        )*
    };
}

impl TestApp {
    /// Announces an addition at once and returns the change (with its windows).
    pub async fn announce_addition(&self, pid: &str, entry: &Value) -> Value {
        let body = json!({"kind": "addition", "subprocessor": entry, "summary": "New sub-processor", "announce": true});
        let reply = self
            .post(
                &format!("/v1/processors/{pid}/changes"),
                Some(&processor(pid)),
                &body,
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    /// The controller's windows (all states).
    pub async fn windows(&self, cid: &str) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/v1/controllers/{cid}/windows"),
                Some(&controller(cid)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"].as_array().expect("items").clone()
    }

    pub async fn window(&self, cid: &str, wid: &str) -> Value {
        let reply = self
            .get(
                &format!("/v1/controllers/{cid}/windows/{wid}"),
                Some(&controller(cid)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    pub async fn object(&self, cid: &str, wid: &str, reason: Option<&str>) -> Reply {
        let body = match reason {
            Some(reason) => json!({"reason": reason}),
            None => json!({}),
        };
        self.post(
            &format!("/v1/controllers/{cid}/windows/{wid}/objection"),
            Some(&controller(cid)),
            &body,
        )
        .await
    }

    pub async fn approve(&self, cid: &str, wid: &str) -> Reply {
        let body = json!({"note": "Approved by the DPO"});
        self.post(
            &format!("/v1/controllers/{cid}/windows/{wid}/approval"),
            Some(&controller(cid)),
            &body,
        )
        .await
    }

    /// The controller's authorised list: (authorised names with how, not-authorised names with why).
    pub async fn authorised(&self, cid: &str) -> (Vec<(String, String)>, Vec<(String, String)>) {
        let reply = self
            .get(
                &format!("/v1/controllers/{cid}/subprocessors"),
                Some(&controller(cid)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let list = reply.json();
        let pairs = |key: &str, how: &str| {
            let mut pairs: Vec<(String, String)> = list[key]
                .as_array()
                .expect("array")
                .iter()
                .map(|e| {
                    (
                        e["name"].as_str().expect("name").to_string(),
                        e[how].as_str().expect(how).to_string(),
                    )
                })
                .collect();
            pairs.sort();
            pairs
        };
        (
            pairs("items", "authorised_by"),
            pairs("not_authorised", "reason"),
        )
    }

    /// Takes every blocked change of `pid` live explicitly, over its unresolved windows
    /// (which those controllers then see as `in_use_without_authorisation`); returns how many.
    pub async fn go_live_blocked(&self, pid: &str) -> usize {
        let blocked = self
            .get(
                &format!("/v1/processors/{pid}/changes?state=blocked"),
                Some(&processor(pid)),
            )
            .await
            .json();
        let ids: Vec<String> = blocked["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_string())
            .collect();
        for id in &ids {
            let reply = self
                .post(
                    &format!("/v1/processors/{pid}/changes/{id}/go-live"),
                    Some(&processor(pid)),
                    &json!({"acknowledge_unresolved": true}),
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
        ids.len()
    }

    /// Event types of a processor's log, oldest first.
    pub async fn event_types(&self, pid: &str) -> Vec<String> {
        let reply = self
            .get(
                &format!("/v1/processors/{pid}/events?limit=500"),
                Some(&processor(pid)),
            )
            .await;
        reply.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["type"].as_str().expect("type").to_string())
            .collect()
    }
}

pub fn eea_entry(name: &str) -> Value {
    json!({
        "name": name, "registration": {"scheme": "cvr", "number": "27720102"},
        "address": "Østerbro 5B, 5000 Odense C", "country": "DK",
        "processing_locations": ["DK"], "purpose": "Customer logging"
    })
}

pub fn specific_terms() -> Value {
    json!({"authorisation": "specific", "notice_days": 30, "third_country_transfers": "forbidden"})
}

pub fn hosting_terms() -> Value {
    json!({"authorisation": "general", "notice_days": 7, "objection_requires_reason": true,
           "third_country_transfers": "forbidden"})
}

pub fn pair(name: &str, how: &str) -> (String, String) {
    (name.to_string(), how.to_string())
}

/// The real `subreg serve` as a child process on a free loopback port, quiet, with `extra`
/// settings on top of the common ones; crash tests SIGKILL it.
pub fn serve_process(database_url: &str, extra: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_subreg"))
        .arg("serve")
        .env("SUBREG_DATABASE_URL", database_url)
        .env("SUBREG_JWT_SECRET", SECRET)
        .env("SUBREG_LOG_KEY", log_key_path())
        .env("SUBREG_BIND", "127.0.0.1:0")
        .env("SUBREG_SWEEP_INTERVAL_MS", "50")
        .env("SUBREG_LOG", "warn")
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("subreg serve starts")
}

/// The real `subreg serve` on a free loopback port with its log captured line by line;
/// stopped when dropped, also when an assertion fails first.
pub struct LoggedServe {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub port: u16,
}

impl LoggedServe {
    pub fn start(database_url: &str, extra: &[(&str, &str)]) -> LoggedServe {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_subreg"))
            .arg("serve")
            .env("SUBREG_DATABASE_URL", database_url)
            .env("SUBREG_JWT_SECRET", SECRET)
            .env("SUBREG_LOG_KEY", log_key_path())
            .env("SUBREG_BIND", "127.0.0.1:0")
            .env("SUBREG_LOG", "info")
            .envs(extra.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().expect("lines").push(line);
            }
        });
        let mut serve = LoggedServe {
            child,
            lines,
            port: 0,
        };
        serve.port = serve.wait_for_port();
        serve
    }

    /// Stops the process and returns every line it logged.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader thread drains what is left once the pipe closes.
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.lines.lock().expect("lines").clone()
    }

    /// The port `serve` bound, from its start-up log line.
    fn wait_for_port(&self) -> u16 {
        for _ in 0..200 {
            let found = self.lines.lock().expect("lines").iter().find_map(|line| {
                line.split("127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|port| port.parse::<u16>().ok())
                    .filter(|port| *port != 0)
            });
            if let Some(port) = found {
                return port;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "serve did not log its address: {:?}",
            self.lines.lock().expect("lines")
        );
    }
}

impl Drop for LoggedServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
