//! Tokens from an identity provider (issue 9, item 4): RS256 and ES256 tokens verified against
//! a JWKS served by a test IdP on 127.0.0.1, with Keycloak's claim layout, key rotation,
//! unknown key ids, the audience and algorithm confusion.

use crate::for_both_backends;
use crate::helpers::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subreg::config::Settings;

const RSA_PRIVATE: &str = include_str!("../fixtures/jwt-test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../fixtures/jwt-test-rsa-public.pem");
const EC_PRIVATE: &str = include_str!("../fixtures/jwt-test-ec-private.pem");
const ISSUER: &str = "http://127.0.0.1/realms/subreg";

/// A test identity provider: serves its JWKS on 127.0.0.1 and counts the fetches.
struct Idp {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    async fn start(keys: Value) -> Idp {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, f) = (keys.clone(), fetches.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind idp");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || {
            let (k, f) = (k.clone(), f.clone());
            App::new().route(
                "/realms/subreg/protocol/openid-connect/certs",
                web::get().to(move || {
                    let (k, f) = (k.clone(), f.clone());
                    async move {
                        f.fetch_add(1, Ordering::SeqCst);
                        let set = k.lock().expect("lock").clone();
                        HttpResponse::Ok().json(set)
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Idp {
            url: format!("http://127.0.0.1:{port}/realms/subreg/protocol/openid-connect/certs"),
            keys,
            fetches,
        }
    }

    fn publish(&self, keys: Value) {
        *self.keys.lock().expect("lock") = keys;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("rsa key")
}

fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("ec key")
}

/// The public JWK of a test key, as Keycloak publishes it.
fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    serde_json::to_value(jwk).expect("json")
}

fn set(keys: Vec<Value>) -> Value {
    json!({ "keys": keys })
}

/// Claims as Keycloak writes them with the mappers of the README: roles in
/// `realm_access.roles`, the org in `org`, subreg among the audiences.
fn keycloak_claims(roles: &[&str], org: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "exp": now + 300, "iat": now, "jti": "c1f6f8d4", "iss": ISSUER,
        "aud": ["subreg", "account"], "sub": "5c7e0a6b-alice", "typ": "Bearer",
        "azp": "subreg-cli", "preferred_username": "alice",
        "realm_access": {"roles": roles},
        "org": org
    })
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, key).expect("token")
}

fn admin_rsa(kid: &str) -> String {
    sign(
        Algorithm::RS256,
        Some(kid),
        &keycloak_claims(&["offline_access", "subreg-admin"], "subreg"),
        &rsa_key(),
    )
}

fn admin_ec(kid: &str) -> String {
    sign(
        Algorithm::ES256,
        Some(kid),
        &keycloak_claims(&["subreg-admin"], "subreg"),
        &ec_key(),
    )
}

fn with_idp(settings: &mut Settings, url: &str) {
    settings.jwt.jwks_url = Some(url.to_string());
    settings.jwt_issuer = ISSUER.to_string();
    settings.jwt.role_claim = "realm_access.roles".into();
    settings.jwt.role_prefix = "subreg-".into();
    settings.jwt.org_claim = "org".into();
    settings.jwt.jwks_min_refresh = Duration::ZERO;
    settings.jwt.jwks_refresh = Duration::from_secs(3600);
}

async fn spawn_with_idp(
    backend: Backend,
    idp: &Idp,
    adjust: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let url = idp.url.clone();
    spawn_app_with(backend, move |settings| {
        with_idp(settings, &url);
        adjust(settings);
    })
    .await
}

/// Creates processor `id` with `token`; returns the reply.
async fn create(app: &TestApp, token: &str, id: &str) -> Reply {
    app.post("/v1/processors", Some(token), &processor_body(id))
        .await
}

async fn tokens_from_the_idp_sign_in_and_keys_rotate(backend: Backend) {
    let rsa = jwk(&rsa_key(), Algorithm::RS256, "rsa-1");
    let ec = jwk(&ec_key(), Algorithm::ES256, "ec-1");
    let idp = Idp::start(set(vec![rsa.clone()])).await;
    let Some(app) = spawn_with_idp(backend, &idp, |_| {}).await else {
        return eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
    };

    // An RS256 admin token from the IdP creates a processor.
    let created = create(&app, &admin_rsa("rsa-1"), "acme").await;
    assert_eq!(created.status, 201, "{}", created.text);
    // The role comes from realm_access.roles with the prefix: a processor may not do this.
    let processor = sign(
        Algorithm::RS256,
        Some("rsa-1"),
        &keycloak_claims(&["subreg-processor", "uma_authorization"], "acme"),
        &rsa_key(),
    );
    let refused = create(&app, &processor, "other").await.problem(403);
    assert!(
        refused["detail"].as_str().unwrap().contains("admin"),
        "{refused}"
    );
    // A role without the prefix is no role.
    let unprefixed = sign(
        Algorithm::RS256,
        Some("rsa-1"),
        &keycloak_claims(&["admin"], "subreg"),
        &rsa_key(),
    );
    let problem = create(&app, &unprefixed, "other").await.problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("subreg-admin"),
        "{problem}"
    );

    // A new key (ES256) is not published yet: unknown kid.
    let problem = create(&app, &admin_ec("ec-1"), "beta").await.problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("ec-1"),
        "{problem}"
    );
    // The IdP rotates: both keys published. The unknown kid makes subreg fetch again.
    idp.publish(set(vec![rsa.clone(), ec.clone()]));
    let created = create(&app, &admin_ec("ec-1"), "beta").await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(create(&app, &admin_rsa("rsa-1"), "gamma").await.status, 201);

    // The old key is withdrawn; once subreg has fetched the set again, its tokens fail.
    idp.publish(set(vec![ec.clone()]));
    create(&app, &admin_rsa("rsa-unknown"), "delta")
        .await
        .problem(401);
    let problem = create(&app, &admin_rsa("rsa-1"), "delta")
        .await
        .problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("rsa-1"),
        "{problem}"
    );
    assert_eq!(create(&app, &admin_ec("ec-1"), "delta").await.status, 201);

    // Nothing but the four accepted requests created anything.
    let listed = app.get("/v1/processors", None).await.json();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(!ids.contains(&"other"));
}

async fn wrong_audience_and_algorithm_confusion_are_refused(backend: Backend) {
    let rsa = jwk(&rsa_key(), Algorithm::RS256, "rsa-1");
    // A symmetric key in the set must never be used either.
    let oct = json!({"kty": "oct", "kid": "hmac-1", "alg": "HS256", "use": "sig",
        "k": "dGVzdC1zZWNyZXQtdGhhdC1pcy1sb25nLWVub3VnaC1mb3ItaHMyNTY"});
    let idp = Idp::start(set(vec![rsa, oct])).await;
    let Some(app) = spawn_with_idp(backend, &idp, |_| {}).await else {
        return eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
    };
    let claims = keycloak_claims(&["subreg-admin"], "subreg");

    // Keycloak's default audience is `account`: without the audience mapper, refused.
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("account");
    let problem = create(
        &app,
        &sign(Algorithm::RS256, Some("rsa-1"), &wrong_audience, &rsa_key()),
        "a",
    )
    .await
    .problem(401);
    assert!(
        problem["detail"].as_str().unwrap().contains("aud"),
        "{problem}"
    );

    // HS256 signed with the RSA public key as the HMAC secret (the classic confusion),
    // with the test secret, and with the published `oct` key: all refused.
    let confusions = [
        (Some("rsa-1"), RSA_PUBLIC.as_bytes().to_vec()),
        (None, SECRET.as_bytes().to_vec()),
        (Some("hmac-1"), SECRET.as_bytes().to_vec()),
    ];
    for (kid, secret) in confusions {
        let token = sign(
            Algorithm::HS256,
            kid,
            &claims,
            &EncodingKey::from_secret(&secret),
        );
        let problem = create(&app, &token, "b").await.problem(401);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("RS256 or ES256"),
            "{problem}"
        );
    }
    // The shared secret's tokens (`subreg token`) no longer pass once a JWKS is configured.
    create(&app, &admin(), "c").await.problem(401);
    // An ES256 token under the RSA key's kid: no key of that algorithm has that kid.
    let other = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let forged = sign(Algorithm::ES256, Some("rsa-1"), &claims, &other);
    create(&app, &forged, "d").await.problem(401);
    assert_eq!(
        app.get("/v1/processors", None).await.json()["items"],
        json!([])
    );
    // A correct token still works, without a kid too (one RS256 key in the set).
    let created = create(
        &app,
        &sign(Algorithm::RS256, None, &claims, &rsa_key()),
        "echo",
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
}

async fn unknown_kids_do_not_hammer_the_idp(backend: Backend) {
    let idp = Idp::start(set(vec![jwk(&rsa_key(), Algorithm::RS256, "rsa-1")])).await;
    let Some(app) = spawn_with_idp(backend, &idp, |settings| {
        settings.jwt.jwks_min_refresh = Duration::from_secs(10);
    })
    .await
    else {
        return eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
    };
    let first = create(&app, &admin_rsa("rsa-1"), "acme").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let flood = (0..20).map(|i| {
        let token = admin_rsa(&format!("made-up-{i}"));
        let app = &app;
        async move { create(app, &token, "x").await }
    });
    for reply in futures_util::future::join_all(flood).await {
        reply.problem(401);
    }
    // The start-up fetch, and at most one more for the whole flood.
    assert!(idp.fetches() <= 2, "{} fetches", idp.fetches());
}

async fn keys_are_refreshed_periodically(backend: Backend) {
    let rsa = jwk(&rsa_key(), Algorithm::RS256, "rsa-1");
    let ec = jwk(&ec_key(), Algorithm::ES256, "ec-1");
    let idp = Idp::start(set(vec![rsa, ec.clone()])).await;
    let Some(app) = spawn_with_idp(backend, &idp, |settings| {
        settings.jwt.jwks_refresh = Duration::from_millis(200);
    })
    .await
    else {
        return eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
    };
    assert_eq!(create(&app, &admin_rsa("rsa-1"), "acme").await.status, 201);
    idp.publish(set(vec![ec]));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // No unknown kid triggered a fetch: the periodic refresh dropped the withdrawn key.
    create(&app, &admin_rsa("rsa-1"), "beta").await.problem(401);
    assert_eq!(create(&app, &admin_ec("ec-1"), "beta").await.status, 201);
}

async fn an_unreachable_idp_is_503_not_401(backend: Backend) {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/certs");
    let Some(app) = spawn_app_with(backend, move |settings| with_idp(settings, &url)).await else {
        return eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
    };
    let reply = create(&app, &admin_rsa("rsa-1"), "acme").await;
    let problem = reply.problem(503);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("SUBREG_JWT_JWKS_URL"),
        "{problem}"
    );
}

for_both_backends!(
    tokens_from_the_idp_sign_in_and_keys_rotate,
    wrong_audience_and_algorithm_confusion_are_refused,
    unknown_kids_do_not_hammer_the_idp,
    keys_are_refreshed_periodically,
    an_unreachable_idp_is_503_not_401,
);
