//! JWT limits (issue 8, item 7): `nbf`, an `iat` in the future, the maximum lifetime, and an
//! admin's revocation of every token of an org issued before now.

use crate::helpers::*;
use crate::on_both_backends;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::Duration;
use subreg::http::auth::{mint, Role};

fn signed(overrides: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": "admin:test", "role": "admin", "org": "subreg",
        "iat": now, "exp": now + 600, "iss": "subreg", "aud": "subreg"
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn time_claims_and_lifetime_are_enforced(app: TestApp) {
    let now = chrono::Utc::now().timestamp();
    let day = 86_400;
    let refused = [
        (
            "nbf in the future",
            json!({"nbf": now + 600}),
            "not valid yet",
        ),
        (
            "iat in the future",
            json!({"iat": now + 600, "exp": now + 1200}),
            "in the future",
        ),
        (
            "lifetime over a day",
            json!({"iat": now, "exp": now + day + 1}),
            "SUBREG_JWT_MAX_LIFETIME_SECS",
        ),
        (
            "old iat, long lifetime",
            json!({"iat": now - 80_000, "exp": now + 10_000}),
            "maximum of 86400 seconds",
        ),
        ("no iat", json!({"iat": null}), "lacks iat"),
        (
            "exp before iat",
            json!({"iat": now + 20, "exp": now + 10}),
            "expires before it was issued",
        ),
    ];
    for (case, claims, why) in refused {
        let reply = app.get("/v1/controllers", Some(&signed(claims))).await;
        let problem = reply.problem(401);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(why), "{case}: {detail}");
        assert!(reply.headers.contains_key("www-authenticate"), "{case}");
    }
    let accepted = [
        ("nbf within the leeway", json!({"nbf": now + 10})),
        ("nbf in the past", json!({"nbf": now - 10})),
        ("iat within the leeway", json!({"iat": now + 10})),
        ("lifetime of exactly a day", json!({"exp": now + day})),
    ];
    for (case, claims) in accepted {
        let reply = app.get("/v1/controllers", Some(&signed(claims))).await;
        assert_eq!(reply.status, 200, "{case}: {}", reply.text);
    }
}

async fn a_shorter_maximum_is_configurable() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.jwt_max_lifetime_secs = 600;
    })
    .await
    .unwrap();
    let ok = mint(SECRET, "subreg", Role::Admin, "subreg", 600).unwrap();
    assert_eq!(app.get("/v1/controllers", Some(&ok)).await.status, 200);
    let long = mint(SECRET, "subreg", Role::Admin, "subreg", 601).unwrap();
    let problem = app.get("/v1/controllers", Some(&long)).await.problem(401);
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("maximum of 600 seconds"));
}

#[actix_web::test]
async fn a_shorter_maximum_is_configurable_sqlite() {
    a_shorter_maximum_is_configurable().await;
}

/// Waits until the wall clock is in a later second than `after` (a token's `iat` has whole
/// seconds, so one minted in the second of a revocation counts as issued before it).
async fn next_second_after(after: &str) {
    let after = chrono::DateTime::parse_from_rfc3339(after).unwrap();
    while chrono::Utc::now().timestamp() <= after.timestamp() {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_admin_revokes_every_token_of_an_org(app: TestApp) {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    let old_roskilde = controller("roskilde");
    let lejre = controller("lejre");
    let path = "/v1/controllers/roskilde";
    assert_eq!(app.get(path, Some(&old_roskilde)).await.status, 200);

    // Only an admin may revoke.
    let revoke = "/v1/admin/orgs/roskilde/revoke-tokens";
    app.post(revoke, Some(&old_roskilde), &json!({}))
        .await
        .problem(403);
    app.post(revoke, Some(&processor("acme")), &json!({}))
        .await
        .problem(403);
    app.post(revoke, None, &json!({})).await.problem(401);
    assert_eq!(app.get(path, Some(&old_roskilde)).await.status, 200);

    let revoked = app.post(revoke, Some(&admin()), &json!({})).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let answer = revoked.json();
    assert_eq!(answer["org"], "roskilde");
    let valid_after = answer["tokens_valid_after"].as_str().unwrap().to_string();
    let at = chrono::DateTime::parse_from_rfc3339(&valid_after).unwrap();
    assert!(
        (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 5
    );
    // Stored, as answered.
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let stored = subreg::store::revocations::all(&mut pool.get().unwrap()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, "roskilde");
    assert_eq!(stored[0].1, at.with_timezone(&chrono::Utc));

    // At once: the old token is refused, saying why; another org's token still works.
    let problem = app.get(path, Some(&old_roskilde)).await.problem(401);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("revoked"), "{detail}");
    assert!(detail.contains("roskilde"), "{detail}");
    assert_eq!(
        app.get("/v1/controllers/lejre", Some(&lejre)).await.status,
        200
    );
    // Public routes refuse a revoked token too rather than ignore it.
    app.get("/v1/processors/acme/changes", Some(&old_roskilde))
        .await
        .problem(401);
    // A token issued after the revocation works.
    next_second_after(&valid_after).await;
    let new_roskilde = controller("roskilde");
    let reply = app.get(path, Some(&new_roskilde)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // An admin revoking its own org's tokens locks out the token it used.
    let own = admin();
    let reply = app
        .post(
            "/v1/admin/orgs/subreg/revoke-tokens",
            Some(&own),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.get("/v1/controllers", Some(&own)).await.problem(401);
}

/// A revocation written by another instance on the same database (simulated by writing the
/// row directly) takes effect here within REVOCATION_REFRESH.
async fn revocations_from_another_instance_take_effect_within_the_refresh(app: TestApp) {
    app.controller("lejre").await;
    let lejre = controller("lejre");
    let path = "/v1/controllers/lejre";
    assert_eq!(app.get(path, Some(&lejre)).await.status, 200);
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    subreg::store::revocations::revoke(&mut pool.get().unwrap(), "lejre", chrono::Utc::now())
        .unwrap();
    let started = std::time::Instant::now();
    let limit = subreg::http::auth::REVOCATION_REFRESH + Duration::from_secs(2);
    loop {
        let reply = app.get(path, Some(&lejre)).await;
        if reply.status == 401 {
            assert!(reply.text.contains("revoked"), "{}", reply.text);
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(
            started.elapsed() < limit,
            "still accepted after {:?}",
            started.elapsed()
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

on_both_backends!(
    time_claims_and_lifetime_are_enforced,
    an_admin_revokes_every_token_of_an_org,
    revocations_from_another_instance_take_effect_within_the_refresh,
);

#[test]
fn subreg_token_refuses_a_ttl_above_the_maximum() {
    let run = |args: &[&str], max: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_subreg"));
        command
            .arg("token")
            .args(args)
            .env("SUBREG_JWT_SECRET", SECRET)
            .env("SUBREG_LOG", "warn")
            .env_remove("SUBREG_JWT_MAX_LIFETIME_SECS");
        if let Some(max) = max {
            command.env("SUBREG_JWT_MAX_LIFETIME_SECS", max);
        }
        command.output().unwrap()
    };
    let default = run(&["--role", "admin"], None);
    assert!(
        default.status.success(),
        "{}",
        String::from_utf8_lossy(&default.stderr)
    );
    for (args, max) in [
        (["--role", "admin", "--ttl", "86401"], None),
        (["--role", "admin", "--ttl", "601"], Some("600")),
        (["--role", "admin", "--ttl", "0"], None),
    ] {
        let out = run(&args, max);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("SUBREG_JWT_MAX_LIFETIME_SECS"),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "no token printed");
    }
    let day = run(&["--role", "admin", "--ttl", "86400"], None);
    assert!(day.status.success());
}
