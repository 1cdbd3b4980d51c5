//! Idempotent writes (issue 9, item 5): `Idempotency-Key` on POST replays the first answer to
//! a retry, refuses the key for a different request (422) and while the first still runs
//! (409), and leaves requests without a key alone.

use crate::helpers::*;
use crate::on_both_backends;
use actix_web::http::Method;
use serde_json::{json, Value};
use subreg::store::idempotency::{self, Claim};

const KEY: &str = "6f1c1a52-2a59-4f6e-9c57-0b7f3f0d9a11";

async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

async fn entries(app: &TestApp, pid: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/processors/{pid}/subprocessors"), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

fn stored_keys(app: &TestApp, scope: &str) -> i64 {
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    idempotency::count(&mut conn, scope).unwrap()
}

async fn a_retry_replays_the_first_answer_and_writes_once(app: TestApp) {
    app.processor("acme").await;
    let seed = "/v1/processors/acme/subprocessors";
    let token = processor("acme");

    let first = post_keyed(&app, seed, &token, KEY, &azure()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let retry = post_keyed(&app, seed, &token, KEY, &azure()).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.text, first.text, "the same body, the same entry id");
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.content_type(), first.content_type());
    // The quoted form of the IETF draft is the same key.
    let quoted = post_keyed(&app, seed, &token, &format!("\"{KEY}\""), &azure()).await;
    assert_eq!(quoted.text, first.text);
    assert_eq!(entries(&app, "acme").await.len(), 1, "written once");

    // The same key for another request: 422, nothing written.
    let mut other = azure();
    other["name"] = json!("Microsoft Azure Ireland");
    let problem = post_keyed(&app, seed, &token, KEY, &other)
        .await
        .problem(422);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("different request"),
        "{problem}"
    );
    assert_eq!(entries(&app, "acme").await.len(), 1);

    // A POST with a Location: replayed with it.
    let admin = admin();
    let created = post_keyed(&app, "/v1/processors", &admin, KEY, &processor_body("beta")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let again = post_keyed(&app, "/v1/processors", &admin, KEY, &processor_body("beta")).await;
    assert_eq!(
        again.status, 201,
        "keys are per org: admin's KEY is not acme's"
    );
    assert_eq!(again.headers["location"], "/v1/processors/beta");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.text, created.text);

    // Without a key nothing changes: each POST writes.
    for _ in 0..2 {
        let reply = app.post(seed, Some(&token), &other).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert!(!reply.headers.contains_key("idempotent-replayed"));
    }
    assert_eq!(entries(&app, "acme").await.len(), 3);
    assert_eq!(stored_keys(&app, "processor:acme"), 1);
    assert_eq!(stored_keys(&app, "admin:subreg"), 1);

    // A refused request wrote nothing and keeps no answer: the retry, fixed, runs.
    let mut invalid = azure();
    invalid["country"] = json!("XX");
    post_keyed(&app, seed, &token, "fix-me", &invalid)
        .await
        .problem(422);
    let mut fixed = azure();
    fixed["name"] = json!("Fixed GmbH");
    let reply = post_keyed(&app, seed, &token, "fix-me", &fixed).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(entries(&app, "acme").await.len(), 4);

    // Keys are bounded visible ASCII.
    for bad in ["", "a b", &"k".repeat(256)] {
        post_keyed(&app, seed, &token, bad, &azure())
            .await
            .problem(400);
    }
    // A bad token is refused as always, key or not.
    post_keyed(&app, seed, "not.a.jwt", KEY, &azure())
        .await
        .problem(401);
    assert_eq!(entries(&app, "acme").await.len(), 4);
}

async fn a_running_request_holds_its_key_and_a_dead_one_lets_go(app: TestApp) {
    let body = processor_body("acme");
    // Another instance took the key for this very request and is still running it.
    let fingerprint = subreg::http::idempotency::fingerprint(
        &Method::POST,
        "/v1/processors",
        &serde_json::to_vec(&body).unwrap(),
    );
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let claim = idempotency::claim(
        &mut pool.get().unwrap(),
        "admin:subreg",
        KEY,
        &fingerprint,
        chrono::Utc::now(),
    )
    .unwrap();
    assert!(matches!(claim, Claim::Run { .. }), "{claim:?}");

    let busy = post_keyed(&app, "/v1/processors", &admin(), KEY, &body).await;
    let problem = busy.problem(409);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("still being processed"),
        "{problem}"
    );
    assert_eq!(busy.headers["retry-after"], "1");
    assert_eq!(app.get("/v1/processors/acme", None).await.status, 404);

    // That instance died: once its lease is over, the retry runs, once.
    app.advance("PT61S").await;
    let created = post_keyed(&app, "/v1/processors", &admin(), KEY, &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.headers.contains_key("idempotent-replayed"));
    let replayed = post_keyed(&app, "/v1/processors", &admin(), KEY, &body).await;
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.text, created.text);
}

async fn concurrent_retries_write_once(app: TestApp) {
    app.processor("acme").await;
    let seed = "/v1/processors/acme/subprocessors";
    let token = processor("acme");
    let body = azure();
    let tries = (0..8).map(|_| post_keyed(&app, seed, &token, KEY, &body));
    let replies = futures_util::future::join_all(tries).await;
    let mut originals = Vec::new();
    for reply in &replies {
        match reply.status.as_u16() {
            201 => originals.push(reply),
            409 => {
                reply.problem(409);
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    let fresh: Vec<_> = originals
        .iter()
        .filter(|r| !r.headers.contains_key("idempotent-replayed"))
        .collect();
    assert_eq!(fresh.len(), 1, "exactly one request ran");
    assert!(originals.iter().all(|r| r.text == fresh[0].text));
    assert_eq!(entries(&app, "acme").await.len(), 1, "written once");
    // After the rush, a retry gets the answer.
    let retry = post_keyed(&app, seed, &token, KEY, &body).await;
    assert_eq!(retry.text, fresh[0].text);
}

async fn answers_are_kept_for_24_hours_then_purged(app: TestApp) {
    let created = post_keyed(
        &app,
        "/v1/processors",
        &admin(),
        KEY,
        &processor_body("acme"),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    app.advance("PT23H").await;
    let replayed = post_keyed(
        &app,
        "/v1/processors",
        &admin(),
        KEY,
        &processor_body("acme"),
    )
    .await;
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(stored_keys(&app, "admin:subreg"), 1);

    app.advance("PT1H1M").await;
    // Another key's POST deletes the expired one.
    let other = post_keyed(
        &app,
        "/v1/processors",
        &admin(),
        "next",
        &processor_body("beta"),
    )
    .await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_eq!(
        stored_keys(&app, "admin:subreg"),
        1,
        "only the new key is left"
    );
    // The old key runs again: the processor exists now, so this is the handler's own 409.
    let again = post_keyed(
        &app,
        "/v1/processors",
        &admin(),
        KEY,
        &processor_body("acme"),
    )
    .await;
    let problem = again.problem(409);
    assert!(
        !problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{problem}"
    );
}

/// The HTML forms outside `/v1/` ignore the header: a reused key gets the form's own HTML
/// answer, never a problem+json the page cannot show.
async fn html_forms_ignore_the_key(app: TestApp) {
    // The key is taken by a successful API request first.
    let created = app
        .send(
            app.client
                .post(app.url("/v1/processors"))
                .bearer_auth(admin())
                .header("Idempotency-Key", "same-key")
                .json(
                    &json!({"id": "acme", "name": "Acme A/S", "address": "Vej 1", "country": "DK"}),
                ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    for _ in 0..2 {
        let reply = app
            .send(
                app.client
                    .post(app.url("/decide/0"))
                    .bearer_auth(admin())
                    .header("Idempotency-Key", "same-key")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("x=1"),
            )
            .await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{:?}",
            reply.headers
        );
    }
}

on_both_backends!(
    a_retry_replays_the_first_answer_and_writes_once,
    html_forms_ignore_the_key,
    a_running_request_holds_its_key_and_a_dead_one_lets_go,
    concurrent_retries_write_once,
    answers_are_kept_for_24_hours_then_purged,
);
