use crate::helpers::*;
use crate::on_both_backends;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": "admin:test", "role": "admin", "org": "subreg",
        "iat": now, "exp": now + 600, "iss": "subreg", "aud": "subreg"
    });
    for (key, value) in overrides.as_object().expect("object") {
        claims[key] = value.clone();
    }
    claims
}

fn signed(claims: &Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}

async fn bad_tokens_are_401(app: TestApp) {
    let now = chrono::Utc::now().timestamp();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let cases = [
        ("no token", None),
        (
            "expired",
            Some(signed(
                &claims(json!({"iat": now - 7200, "exp": now - 3600})),
                SECRET,
            )),
        ),
        (
            "wrong key",
            Some(signed(
                &claims(json!({})),
                "another-secret-that-is-long-enough-000",
            )),
        ),
        ("alg none", Some(unsigned)),
        (
            "wrong audience",
            Some(signed(&claims(json!({"aud": "someone-else"})), SECRET)),
        ),
        (
            "wrong issuer",
            Some(signed(&claims(json!({"iss": "evil"})), SECRET)),
        ),
        (
            "unknown role",
            Some(signed(&claims(json!({"role": "root"})), SECRET)),
        ),
        ("garbage", Some("not.a.jwt".to_string())),
    ];
    for (case, token) in cases {
        let reply = app
            .post("/v1/processors", token.as_deref(), &processor_body("acme"))
            .await;
        let problem = reply.problem(401);
        assert!(reply.headers.contains_key("www-authenticate"), "{case}");
        assert!(problem["detail"].is_string(), "{case}");
    }
    let basic = app
        .send(
            app.client
                .post(app.url("/v1/processors"))
                .header("Authorization", "Basic YWRtaW46YWRtaW4=")
                .json(&processor_body("acme")),
        )
        .await;
    basic.problem(401);
    // Nothing was created by any of them.
    assert_eq!(app.get("/v1/processors/acme", None).await.status, 404);
}

async fn roles_and_orgs_are_enforced_on_every_write(app: TestApp) {
    app.processor("alpha").await;
    app.processor("beta").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;

    // Admin-only creation.
    for token in [processor("alpha"), controller("roskilde")] {
        app.post("/v1/processors", Some(&token), &processor_body("gamma"))
            .await
            .problem(403);
        app.post("/v1/controllers", Some(&token), &controller_body("greve"))
            .await
            .problem(403);
    }
    // Seeding someone else's list, or as a controller.
    let seed_beta = "/v1/processors/beta/subprocessors";
    app.post(seed_beta, Some(&processor("alpha")), &azure())
        .await
        .problem(403);
    app.post(seed_beta, Some(&controller("roskilde")), &azure())
        .await
        .problem(403);
    assert_eq!(app.get(seed_beta, None).await.json()["items"], json!([]));

    // Agreements: a processor records only its own; a controller records none.
    let mut agreement = general_terms(30);
    agreement["controller_id"] = json!("roskilde");
    agreement["processor_id"] = json!("beta");
    app.post("/v1/agreements", Some(&processor("alpha")), &agreement)
        .await
        .problem(403);
    app.post("/v1/agreements", Some(&controller("roskilde")), &agreement)
        .await
        .problem(403);
    let own = app
        .post("/v1/agreements", Some(&processor("beta")), &agreement)
        .await;
    assert_eq!(own.status, 201, "{}", own.text);
    let aid = own.json()["id"].as_str().expect("id").to_string();

    // Private reads: the parties see the agreement, others learn nothing of it.
    for token in [admin(), processor("beta"), controller("roskilde")] {
        assert_eq!(
            app.get(&format!("/v1/agreements/{aid}"), Some(&token))
                .await
                .status,
            200
        );
    }
    for token in [processor("alpha"), controller("lejre")] {
        app.get(&format!("/v1/agreements/{aid}"), Some(&token))
            .await
            .problem(404);
    }
    app.get(&format!("/v1/agreements/{aid}"), None)
        .await
        .problem(401);

    // Agreement lists and controllers belong to their org.
    app.get("/v1/processors/beta/agreements", Some(&processor("alpha")))
        .await
        .problem(403);
    app.get(
        "/v1/controllers/roskilde/agreements",
        Some(&controller("lejre")),
    )
    .await
    .problem(403);
    app.get("/v1/controllers/roskilde", Some(&controller("lejre")))
        .await
        .problem(403);
    app.get("/v1/controllers/roskilde", Some(&processor("roskilde")))
        .await
        .problem(403);
    let listed = app
        .get(
            "/v1/controllers/roskilde/agreements",
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        app.get("/v1/controllers/roskilde", Some(&controller("roskilde")))
            .await
            .status,
        200
    );
    app.get("/v1/controllers", Some(&controller("roskilde")))
        .await
        .problem(403);

    // The evidence log: the processor and its controllers, nobody else.
    app.get("/v1/processors/beta/events", Some(&processor("alpha")))
        .await
        .problem(403);
    app.get("/v1/processors/beta/events", Some(&controller("lejre")))
        .await
        .problem(403);
    app.get(
        "/v1/processors/beta/events/verify",
        Some(&controller("lejre")),
    )
    .await
    .problem(403);
    assert_eq!(
        app.get("/v1/processors/beta/events", Some(&controller("roskilde")))
            .await
            .status,
        200
    );
}

on_both_backends!(
    bad_tokens_are_401,
    roles_and_orgs_are_enforced_on_every_write
);

#[actix_web::test]
async fn rs256_tokens_verify_with_the_configured_public_key() {
    let public = include_str!("../fixtures/jwt-test-rsa-public.pem");
    let private = include_str!("../fixtures/jwt-test-rsa-private.pem");
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.jwt_public_key_pem = Some(public.to_string());
    })
    .await
    .expect("sqlite always runs");
    let key = EncodingKey::from_rsa_pem(private.as_bytes()).expect("test key");
    let rs256 = encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &claims(json!({})),
        &key,
    )
    .expect("token");
    let created = app
        .post("/v1/processors", Some(&rs256), &processor_body("acme"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // With a public key configured, HS256 tokens from the shared secret no longer pass.
    let hs256 = signed(&claims(json!({})), SECRET);
    app.post("/v1/processors", Some(&hs256), &processor_body("other"))
        .await
        .problem(401);
}
