//! Request ids: taken or made, echoed, named in every problem; JSON logs that find a request
//! by its id and hold no secret.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

pub(crate) fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    header(headers, "x-request-id")
}

fn is_uuid_v7(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|id| id.get_version_num() == 7)
}

async fn every_answer_names_its_request(app: TestApp) {
    // A well-formed id from the client is taken and echoed.
    let taken = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "trace-42.abc:def"),
        )
        .await;
    assert_eq!(taken.status, 200);
    assert_eq!(request_id(&taken.headers), "trace-42.abc:def");
    // Without one, or with a malformed one, the server makes a UUIDv7.
    let first = app.get("/healthz", None).await;
    let second = app.get("/healthz", None).await;
    assert!(
        is_uuid_v7(&request_id(&first.headers)),
        "{:?}",
        first.headers
    );
    assert_ne!(request_id(&first.headers), request_id(&second.headers));
    for bad in ["a".repeat(129), "two words".into(), "tab\there".into()] {
        let reply = app
            .send(
                app.client
                    .get(app.url("/healthz"))
                    .header("x-request-id", bad.as_str()),
            )
            .await;
        let id = request_id(&reply.headers);
        assert!(is_uuid_v7(&id), "{bad:?} was replaced by {id:?}");
    }

    // Every problem names the request, whoever refused it.
    app.processor("acme").await;
    let admin = admin();
    let problems = [
        // a handler
        (app.get("/v1/processors/nope", None).await, 404),
        // the request guard (a control character in the URL)
        (app.get("/v1/processors/a%00b", None).await, 400),
        // the JSON extractor
        (
            app.send(
                app.client
                    .post(app.url("/v1/processors"))
                    .bearer_auth(&admin)
                    .header("content-type", "application/json")
                    .body("{\"id\": "),
            )
            .await,
            400,
        ),
        (
            app.post("/v1/processors", Some(&admin), &json!({"id": 7}))
                .await,
            422,
        ),
        // the query extractor
        (app.get("/v1/processors?limit=many", None).await, 400),
        // the body limit
        (
            app.send(
                app.client
                    .post(app.url("/v1/processors"))
                    .bearer_auth(&admin)
                    .header("content-type", "application/json")
                    .body(format!("\"{}\"", "x".repeat(300 * 1024))),
            )
            .await,
            413,
        ),
        // the bearer-token extractor
        (app.get("/v1/controllers", None).await, 401),
        // no route for the method
        (app.delete("/healthz", None).await, 405),
        // no route at all
        (app.get("/v2/nothing", None).await, 404),
    ];
    for (reply, status) in problems {
        let problem = reply.problem(status);
        let id = request_id(&reply.headers);
        assert!(is_uuid_v7(&id), "{id}");
        assert_eq!(problem["request_id"], id, "{}", reply.text);
    }
    // The client's own id is the one in the problem.
    let mine = app
        .send(
            app.client
                .get(app.url("/v1/processors/nope"))
                .header("x-request-id", "support-ticket-7"),
        )
        .await;
    assert_eq!(mine.problem(404)["request_id"], "support-ticket-7");
    assert_eq!(request_id(&mine.headers), "support-ticket-7");
}

on_both_backends!(every_answer_names_its_request);

/// `serve` with SUBREG_LOG_FORMAT=json: every stderr line is a JSON object, the access line
/// of a request is found by its id, and no secret reaches any line.
async fn json_logs(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    // A password in the database URL (the test server trusts loopback and never asks for it).
    let db_password = "db-password-0123456789";
    let url = url.replacen("://postgres@", &format!("://postgres:{db_password}@"), 1);
    let serve = LoggedServe::start(
        &url,
        &[
            ("SUBREG_LOG_FORMAT", "json"),
            ("SUBREG_WEBHOOK_DISPATCHER", "0"),
            ("SUBREG_WEBHOOK_ALLOW_HTTP", "1"),
            ("SUBREG_WEBHOOK_ALLOW_PRIVATE", "1"),
        ],
    );
    let port = serve.port;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let admin = admin();
    let acme = processor("acme");
    let roskilde = controller("roskilde");
    let send = |request: reqwest::RequestBuilder, id: &'static str| async move {
        let response = request
            .header("x-request-id", id)
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body)
    };
    let (status, _) = send(
        client
            .post(format!("{base}/v1/processors"))
            .bearer_auth(&admin)
            .json(&processor_body("acme")),
        "log-create",
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        client
            .post(format!("{base}/v1/controllers"))
            .bearer_auth(&admin)
            .json(&controller_body("roskilde")),
        "log-controller",
    )
    .await;
    assert_eq!(status, 201);
    // Webhook secrets: made on creation, made again on rotation.
    let (status, endpoint) = send(
        client
            .post(format!("{base}/v1/processors/acme/webhooks"))
            .bearer_auth(&acme)
            .json(&json!({"url": "http://127.0.0.1:9/hook"})),
        "log-webhook",
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    let first_secret = endpoint["secret"].as_str().expect("secret").to_string();
    let (status, rotated) = send(
        client
            .post(format!(
                "{base}/v1/processors/acme/webhooks/{}/secret",
                endpoint["id"].as_str().expect("id")
            ))
            .bearer_auth(&acme),
        "log-rotate",
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second_secret = rotated["secret"].as_str().expect("secret").to_string();
    // A feed token: made, then used in the URL, then a wrong one.
    let (status, issued) = send(
        client
            .post(format!("{base}/v1/controllers/roskilde/feed-token"))
            .bearer_auth(&roskilde),
        "log-feed-token",
    )
    .await;
    assert_eq!(status, 200, "{issued}");
    let feed_token = issued["token"].as_str().expect("token").to_string();
    let feed = client
        .get(format!(
            "{base}/v1/controllers/roskilde/feed.atom?token={feed_token}"
        ))
        .header("x-request-id", "log-feed")
        .send()
        .await
        .expect("feed");
    assert_eq!(feed.status(), 200);
    let wrong_token = "wrong-feed-token-abcdef0123456789";
    let (status, _) = send(
        client.get(format!(
            "{base}/v1/controllers/roskilde/feed.atom?lang=da&token={wrong_token}"
        )),
        "log-wrong-feed",
    )
    .await;
    assert_eq!(status, 404);
    // A problem: its body names the request, and the log finds it by that id.
    let (status, problem) = send(
        client
            .get(format!("{base}/v1/processors/nope"))
            .bearer_auth(&admin),
        "log-missing",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(problem["request_id"], "log-missing");

    std::thread::sleep(std::time::Duration::from_millis(300));
    let lines = serve.stop();
    let entries: Vec<Value> = lines
        .iter()
        .map(|line| {
            let entry: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            for key in ["time", "level", "target", "message"] {
                assert!(entry[key].is_string(), "{key} in {line}");
            }
            let time = entry["time"].as_str().expect("time");
            assert!(
                chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
                "{line}"
            );
            entry
        })
        .collect();
    let access = |id: &str| -> Value {
        entries
            .iter()
            .find(|e| e["request_id"] == id && e["target"] == "subreg::access")
            .unwrap_or_else(|| panic!("no access line for {id}: {lines:#?}"))
            .clone()
    };
    let missing = access("log-missing");
    assert_eq!(missing["level"], "INFO");
    assert_eq!(missing["method"], "GET");
    assert_eq!(missing["route"], "/v1/processors/{pid}");
    assert_eq!(missing["status"], 404);
    assert!(missing["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(missing["message"]
        .as_str()
        .is_some_and(|m| m.contains("GET /v1/processors/nope")));
    let created = access("log-create");
    assert_eq!(
        (&created["method"], &created["route"], &created["status"]),
        (&json!("POST"), &json!("/v1/processors"), &json!(201))
    );
    let fed = access("log-feed");
    assert_eq!(fed["route"], "/v1/controllers/{cid}/feed.atom");
    assert_eq!(fed["status"], 200);
    let wrong = access("log-wrong-feed");
    assert!(wrong["message"]
        .as_str()
        .is_some_and(|m| m.contains("feed.atom?lang=da&token=***")));
    for id in [
        "log-controller",
        "log-webhook",
        "log-rotate",
        "log-feed-token",
    ] {
        assert!(
            access(id)["status"].as_u64().is_some_and(|s| s < 300),
            "{id}"
        );
    }
    let log = lines.join("\n");
    for secret in [
        admin.as_str(),
        acme.as_str(),
        roskilde.as_str(),
        first_secret.as_str(),
        second_secret.as_str(),
        feed_token.as_str(),
        wrong_token,
        db_password,
        SECRET,
    ] {
        assert!(!log.contains(secret), "{secret} reached the log:\n{log}");
    }
    assert!(!log.to_ascii_lowercase().contains("bearer"), "{log}");
}

#[actix_web::test]
async fn json_logs_sqlite() {
    json_logs(Backend::Sqlite).await;
}

#[actix_web::test]
async fn json_logs_postgres() {
    json_logs(Backend::Postgres).await;
}
