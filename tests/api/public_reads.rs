//! Every public read (the processor feed, the processor page, the index of processors, the JSON
//! list, the CSV list and the change page) answers conditional requests: strong `ETag` and
//! `Last-Modified` on 200 and 304 alike, 304 with no body while unchanged, 200 with the new
//! content once something changed, whichever instance on the database wrote it.
use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

/// One read as first seen: its validators and body.
struct Seen {
    path: String,
    etag: String,
    modified: String,
    text: String,
}

async fn fetch(app: &TestApp, path: &str) -> Seen {
    let reply = app.get(path, None).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    let etag = reply.headers["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "{path}: a strong tag, not {etag}"
    );
    let modified = reply.headers["last-modified"].to_str().unwrap().to_string();
    assert!(modified.ends_with(" GMT"), "{path}: {modified}");
    Seen {
        path: path.to_string(),
        etag,
        modified,
        text: reply.text,
    }
}

async fn conditional(app: &TestApp, path: &str, name: &str, value: &str) -> Reply {
    app.send(app.client.get(app.url(path)).header(name, value))
        .await
}

/// 304 for the tag (strong or weak) and the date; 200 with the same body for another tag.
async fn assert_unchanged(app: &TestApp, seen: &Seen) {
    let path = seen.path.as_str();
    for tag in [seen.etag.clone(), format!("W/{}", seen.etag)] {
        let again = conditional(app, path, "if-none-match", &tag).await;
        assert_eq!(again.status, 304, "{path} with {tag}");
        assert_eq!(again.text, "", "{path}: a 304 has no body");
        assert_eq!(again.headers["etag"], seen.etag.as_str(), "{path}");
        assert_eq!(
            again.headers["last-modified"],
            seen.modified.as_str(),
            "{path}"
        );
    }
    let since = conditional(app, path, "if-modified-since", &seen.modified).await;
    assert_eq!(since.status, 304, "{path} since {}", seen.modified);
    let other = conditional(app, path, "if-none-match", "\"something-else\"").await;
    assert_eq!(other.status, 200, "{path}");
    assert_eq!(other.text, seen.text, "{path}: the same bytes again");
    assert_eq!(other.headers["etag"], seen.etag.as_str(), "{path}");
}

/// The read asked with its old tag: 200 with a new tag and a body that passes `check`.
async fn assert_changed(app: &TestApp, seen: &Seen, check: impl Fn(&str) -> bool) {
    let path = seen.path.as_str();
    let now = conditional(app, path, "if-none-match", &seen.etag).await;
    assert_eq!(now.status, 200, "{path}: changed, so not a stale 304");
    assert_ne!(now.headers["etag"], seen.etag.as_str(), "{path}");
    assert!(
        check(&now.text),
        "{path}: the new content, got {}",
        now.text
    );
    let fresh = now.headers["etag"].to_str().unwrap().to_string();
    let again = conditional(app, path, "if-none-match", &fresh).await;
    assert_eq!(again.status, 304, "{path}: the new tag validates");
}

/// `acme` has an agreement and an announced change (its change page); `beta` has one entry and
/// no agreement, so it can still be seeded.
async fn registry(app: &TestApp) -> String {
    app.processor("acme").await;
    app.seed("acme", &azure()).await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    let change = app.announce_addition("acme", &eea_entry("Qbox ApS")).await;
    app.processor("beta").await;
    app.seed("beta", &eea_entry("First ApS")).await;
    change["id"].as_str().unwrap().to_string()
}

fn reads(chid: &str) -> Vec<String> {
    vec![
        "/v1/processors/beta/feed.atom".into(),
        "/processors/beta".into(),
        "/processors".into(),
        "/v1/processors/beta/subprocessors".into(),
        "/v1/processors/beta/subprocessors.csv".into(),
        format!("/processors/acme/changes/{chid}"),
    ]
}

fn withdrawn(text: &str) -> bool {
    text.contains("Withdrawn")
}

/// What each read shows after `second` was seeded into beta, zeta registered and the change
/// withdrawn.
fn shows_the_writes(path: &str, text: &str) -> bool {
    match path {
        "/processors" => text.contains("Zeta Data ApS"),
        p if p.contains("/changes/") => withdrawn(text),
        "/v1/processors/beta/subprocessors" => {
            serde_json::from_str::<Value>(text).unwrap()["items"]
                .as_array()
                .map(Vec::len)
                == Some(2)
        }
        _ => text.contains("Second ApS"),
    }
}

fn zeta() -> Value {
    json!({
        "id": "zeta",
        "name": "Zeta Data ApS",
        "registration": {"scheme": "cvr", "number": "12345674"},
        "address": "Vestergade 2, 8000 Aarhus C",
        "country": "DK",
        "contact_email": "dpo@zeta.example"
    })
}

/// Unchanged reads answer 304 (the second time from what the process remembers); what this
/// process writes shows at once.
async fn every_public_read_answers_304_until_it_changes(app: TestApp) {
    let chid = registry(&app).await;
    let mut seen = Vec::new();
    for path in reads(&chid) {
        let first = fetch(&app, &path).await;
        assert_unchanged(&app, &first).await;
        // Asked again: the same validators (the version and the body are remembered).
        assert_unchanged(&app, &first).await;
        seen.push(first);
    }
    assert!(!withdrawn(&seen[5].text), "{}", seen[5].text);
    assert!(!seen[2].text.contains("Zeta Data ApS"));

    let mut second = eea_entry("Second ApS");
    second["purpose"] = json!("Backups");
    app.seed("beta", &second).await;
    app.post("/v1/processors", Some(&admin()), &zeta()).await;
    let reply = app
        .post(
            &format!("/v1/processors/acme/changes/{chid}/withdraw"),
            Some(&processor("acme")),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    for read in &seen {
        assert_changed(&app, read, |text| shows_the_writes(&read.path, text)).await;
    }
}

/// The same writes made by another `subreg serve` on the same database: once the version this
/// process trusts without asking has aged (`VERSION_TRUST`), the next conditional request gets
/// the new content, never a stale 304.
async fn writes_of_another_instance_are_not_answered_304(app: TestApp) {
    let chid = registry(&app).await;
    let mut seen = Vec::new();
    for path in reads(&chid) {
        let first = fetch(&app, &path).await;
        // Remembered now: the next answers come from memory.
        assert_unchanged(&app, &first).await;
        seen.push(first);
    }
    let other = LoggedServe::start(&app.database_url, &[]);
    let client = &app.client;
    let base = format!("http://127.0.0.1:{}", other.port);
    let mut second = eea_entry("Second ApS");
    second["purpose"] = json!("Backups");
    let writes = [
        (
            "/v1/processors/beta/subprocessors".to_string(),
            processor("beta"),
            second,
        ),
        ("/v1/processors".to_string(), admin(), zeta()),
        (
            format!("/v1/processors/acme/changes/{chid}/withdraw"),
            processor("acme"),
            json!({}),
        ),
    ];
    for (path, token, body) in writes {
        let reply = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("the other instance answers");
        let status = reply.status().as_u16();
        assert!(
            status == 200 || status == 201,
            "{path}: {status} {}",
            reply.text().await.unwrap_or_default()
        );
    }
    drop(other);
    tokio::time::sleep(subreg::http::feeds::VERSION_TRUST + std::time::Duration::from_millis(100))
        .await;
    for read in &seen {
        assert_changed(&app, read, |text| shows_the_writes(&read.path, text)).await;
    }
}

on_both_backends!(
    every_public_read_answers_304_until_it_changes,
    writes_of_another_instance_are_not_answered_304,
);

/// Every connection of the pool loses its server at once (as in a restart): the pool heals by
/// itself; at worst a request per connection fails with 503, and none after.
#[actix_web::test]
async fn postgres_pool_heals_after_its_connections_are_terminated() {
    use diesel::{Connection, RunQueryDsl};
    let Some(app) = spawn_app(Backend::Postgres).await else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    app.processor("acme").await;
    // Several connections open and idle in the pool.
    let warm = (0..8).map(|_| app.get_owned("/v1/processors/acme".into()));
    for reply in futures_util::future::join_all(warm).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let database = app
        .database_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .expect("database name")
        .to_string();
    let admin_url = without_tls(&std::env::var("SUBREG_TEST_POSTGRES_URL").expect("url"));
    let mut conn = diesel::PgConnection::establish(&admin_url).expect("admin connection");
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut conn)
    .expect("terminate");
    let mut failed = 0;
    for _ in 0..12 {
        let reply = app.get("/v1/processors/acme", None).await;
        if reply.status != 200 {
            reply.problem(503);
            failed += 1;
        }
    }
    // At most one failure per connection the pool held (settings: pool_size 4).
    assert!(
        failed <= 4,
        "{failed} requests failed: the pool kept dead connections"
    );
    for _ in 0..5 {
        let reply = app.get("/v1/processors/acme", None).await;
        assert_eq!(reply.status, 200, "healed: {}", reply.text);
    }
}
