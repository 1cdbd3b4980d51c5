//! The verifiable evidence log (issue 12): leaves recomputed from the served JSON with another
//! JCS implementation, inclusion proofs checked by code of the test's own, checkpoint
//! signatures checked with another Ed25519; tampering in the database is found by verify; a
//! controller gets proofs of its own and public events only.

use crate::helpers::*;
use crate::on_both_backends;
use base64::Engine;
use diesel::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subreg::store::schema::events;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// acme with two customers; lejre approves, roskilde objects.
async fn two_customers(app: &TestApp) {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    app.agreement("lejre", "acme", general_terms(30)).await;
    app.announce_addition("acme", &eea_entry("Logly ApS")).await;
    let lejre = app.windows("lejre").await;
    let approved = app.approve("lejre", lejre[0]["id"].as_str().unwrap()).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let roskilde = app.windows("roskilde").await;
    let objected = app
        .object("roskilde", roskilde[0]["id"].as_str().unwrap(), Some("no"))
        .await;
    assert_eq!(objected.status, 200, "{}", objected.text);
}

async fn events_as(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app
        .get("/v1/processors/acme/events?limit=500", Some(token))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The leaf hash of a served event, with serde_json_canonicalizer (not the server's JCS).
fn leaf_hash_of(served: &Value) -> [u8; 32] {
    let mut members = served.clone();
    members.as_object_mut().unwrap().remove("leaf_hash");
    let leaf = serde_json_canonicalizer::to_vec(&members).unwrap();
    sha256(&[&[0u8], &leaf])
}

fn hex32(text: &Value) -> [u8; 32] {
    hex::decode(text.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// RFC 9162 §2.1.3.2: the root from a leaf hash and its audit path.
fn root_from_inclusion(index: u64, size: u64, leaf: [u8; 32], path: &[[u8; 32]]) -> [u8; 32] {
    assert!(index < size);
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        assert!(sn != 0, "proof too long");
        if fn_ & 1 == 1 || fn_ == sn {
            r = sha256(&[&[1u8], p, &r]);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = sha256(&[&[1u8], &r, p]);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    assert_eq!(sn, 0, "proof too short");
    r
}

/// A C2SP signed note checked with ed25519-compact against a vkey line; returns the body.
fn verified_note(note: &str, vkey: &str) -> String {
    let mut parts = vkey.splitn(3, '+');
    let (name, id_hex, key) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        B64.decode(parts.next().unwrap()).unwrap(),
    );
    assert_eq!(key[0], 1, "an Ed25519 vkey");
    let public = ed25519_compact::PublicKey::from_slice(&key[1..]).unwrap();
    let (body, signatures) = note.split_once("\n\n").unwrap();
    let body = format!("{body}\n");
    let prefix = format!("— {name} ");
    let line = signatures
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .expect("a signature by the key");
    let sig = B64.decode(line).unwrap();
    assert_eq!(hex::encode(&sig[..4]), id_hex, "key id");
    let signature = ed25519_compact::Signature::from_slice(&sig[4..]).unwrap();
    public
        .verify(body.as_bytes(), &signature)
        .expect("the checkpoint signature verifies");
    body
}

async fn leaves_inclusion_and_checkpoint_verify_independently(app: TestApp) {
    two_customers(&app).await;
    let keys = app.get("/.well-known/subreg/log-keys", None).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    let vkey = keys.text.lines().next().unwrap().to_string();
    let checkpoint = app.get("/v1/processors/acme/log/checkpoint", None).await;
    assert_eq!(checkpoint.status, 200, "{}", checkpoint.text);
    assert!(checkpoint.content_type().starts_with("text/plain"));
    let body = verified_note(&checkpoint.text, &vkey);
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].ends_with("/processors/acme"), "{body}");
    let size: u64 = lines[1].parse().unwrap();
    let root: [u8; 32] = B64.decode(lines[2]).unwrap().try_into().unwrap();

    let seen = events_as(&app, &controller("lejre")).await;
    let everything = events_as(&app, &processor("acme")).await;
    assert_eq!(size, everything.len() as u64, "every write is checkpointed");
    for event in &seen {
        assert_eq!(
            hex::encode(leaf_hash_of(event)),
            event["leaf_hash"].as_str().unwrap(),
            "the leaf recomputes from the served JSON: {event}"
        );
        let proof = app
            .get(
                &format!(
                    "/v1/processors/acme/log/inclusion?event={}",
                    event["id"].as_str().unwrap()
                ),
                Some(&controller("lejre")),
            )
            .await;
        assert_eq!(proof.status, 200, "{}", proof.text);
        let proof = proof.json();
        assert_eq!(proof["size"], size);
        let path: Vec<[u8; 32]> = proof["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(hex32)
            .collect();
        let index = event["index"].as_u64().unwrap();
        assert_eq!(
            root_from_inclusion(index, size, leaf_hash_of(event), &path),
            root,
            "event {index} is in the signed tree"
        );
        assert_eq!(proof["checkpoint"], checkpoint.text.as_str());
    }
    // An older size: the proof leads to that size's signed root.
    let first = &everything[0];
    let at_two = app
        .get(
            &format!(
                "/v1/processors/acme/log/inclusion?event={}&size=2",
                first["id"].as_str().unwrap()
            ),
            Some(&processor("acme")),
        )
        .await
        .json();
    let path: Vec<[u8; 32]> = at_two["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hex32)
        .collect();
    assert_eq!(
        hex::encode(root_from_inclusion(0, 2, leaf_hash_of(first), &path)),
        at_two["root"].as_str().unwrap()
    );
}

async fn controllers_get_proofs_of_their_own_and_public_events_only(app: TestApp) {
    two_customers(&app).await;
    let everything = events_as(&app, &processor("acme")).await;
    let roskildes = everything
        .iter()
        .find(|e| e["type"] == "objection.raised")
        .unwrap();
    assert_eq!(roskildes["visibility"], "controller");
    let public = everything
        .iter()
        .find(|e| e["visibility"] == "public")
        .unwrap();
    let path = |e: &Value| {
        format!(
            "/v1/processors/acme/log/inclusion?event={}",
            e["id"].as_str().unwrap()
        )
    };
    let lejre = app.get(&path(roskildes), Some(&controller("lejre"))).await;
    lejre.problem(404);
    let anonymous = app.get(&path(roskildes), None).await;
    anonymous.problem(401);
    let own = app
        .get(&path(roskildes), Some(&controller("roskilde")))
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let anyone = app.get(&path(public), None).await;
    assert_eq!(anyone.status, 200, "{}", anyone.text);

    // Consistency proofs are hashes only, for anyone; bad sizes say what to fix.
    let size = everything.len();
    let consistency = app
        .get(
            &format!("/v1/processors/acme/log/consistency?from=1&to={size}"),
            None,
        )
        .await;
    assert_eq!(consistency.status, 200, "{}", consistency.text);
    assert_eq!(consistency.json()["to"], size);
    let too_big = app
        .get(
            &format!("/v1/processors/acme/log/consistency?from=1&to={}", size + 5),
            None,
        )
        .await;
    assert_eq!(too_big.problem(422)["errors"][0]["field"], "to");
    let zero = app
        .get("/v1/processors/acme/log/consistency?from=0&to=2", None)
        .await;
    assert_eq!(zero.problem(422)["errors"][0]["field"], "from");
    let early = app
        .get(&format!("{}&size={}", path(public), public["index"]), None)
        .await;
    let problem = early.problem(422);
    assert_eq!(problem["errors"][0]["field"], "size");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("greater than"),
        "{problem}"
    );
}

async fn verify_after(app: &TestApp, tamper: &str) -> Value {
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query(tamper).execute(&mut conn).unwrap();
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await;
    assert_eq!(verify.status, 200, "{}", verify.text);
    verify.json()
}

async fn tampering_in_the_database_is_found(app: TestApp) {
    two_customers(&app).await;
    let everything = events_as(&app, &processor("acme")).await;
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await
        .json();
    assert_eq!(verify["valid"], true, "{verify}");
    let objection = everything
        .iter()
        .find(|e| e["type"] == "objection.raised")
        .unwrap();
    let id = objection["id"].as_str().unwrap();

    // An objection's reason edited in the payload.
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let (payload, controller_id): (String, Option<String>) = events::table
        .filter(events::id.eq(id))
        .select((events::payload, events::controller_id))
        .first(&mut conn)
        .unwrap();
    let edited = payload.replacen("\"no\"", "\"yes\"", 1);
    assert_ne!(edited, payload);
    diesel::update(events::table.filter(events::id.eq(id)))
        .set(events::payload.eq(&edited))
        .execute(&mut conn)
        .unwrap();
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await
        .json();
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(verify["first_broken"], id);
    // Even with its leaf hash recomputed the signed root no longer matches.
    let leaf = {
        let mut served = objection.clone();
        served["data"] = serde_json::from_str::<Value>(&edited).unwrap()["data"].clone();
        hex::encode(leaf_hash_of(&served))
    };
    let verify = verify_after(
        &app,
        &format!("UPDATE events SET leaf_hash = '{leaf}' WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(
        verify["first_broken"],
        Value::Null,
        "every row gives its leaf"
    );
    assert!(
        verify["problem"].as_str().unwrap().contains("rewritten"),
        "{verify}"
    );
    diesel::update(events::table.filter(events::id.eq(id)))
        .set((
            events::payload.eq(&payload),
            events::leaf_hash.eq(objection["leaf_hash"].as_str().unwrap()),
        ))
        .execute(&mut conn)
        .unwrap();
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await
        .json();
    assert_eq!(verify["valid"], true, "restored: {verify}");

    // controller_id set to NULL (which would publish it), then its type changed.
    let verify = verify_after(
        &app,
        &format!("UPDATE events SET controller_id = NULL WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(verify["first_broken"], id);
    let cid = controller_id.unwrap();
    let verify = verify_after(
        &app,
        &format!("UPDATE events SET controller_id = '{cid}', event_type = 'approval.given' WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(verify["first_broken"], id);
    let verify = verify_after(
        &app,
        &format!("UPDATE events SET event_type = 'objection.raised' WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(verify["valid"], true, "restored: {verify}");

    // An event deleted from the middle, and the newest one deleted.
    let second = everything[1]["id"].as_str().unwrap();
    let verify = verify_after(&app, &format!("DELETE FROM events WHERE id = '{second}'")).await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(verify["first_broken"], everything[2]["id"]);
    assert!(
        verify["problem"].as_str().unwrap().contains("missing"),
        "{verify}"
    );
}

/// State is evidence too: a window flipped from objected to approved in SQL, or an agreement's
/// terms edited, disagree with the newest event of the row, and verify says which and how.
async fn state_edited_in_sql_is_found(app: TestApp) {
    two_customers(&app).await;
    let window = app.windows("roskilde").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let verify = verify_after(&app, "SELECT 1").await;
    assert_eq!(verify["valid"], true, "{verify}");
    assert_eq!(verify["disagreements"], json!([]));

    let verify = verify_after(
        &app,
        &format!("UPDATE objection_windows SET state = 'approved' WHERE id = '{window}'"),
    )
    .await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(
        verify["disagreements"],
        json!([{"subject": "window", "id": window, "member": "state",
                "stored": "approved", "logged": "objected"}]),
        "{verify}"
    );
    assert_eq!(
        verify["problem"],
        format!(
            "window {window}: `state` is \"approved\" in the database, the log says \"objected\""
        )
    );
    // The controller whose window it is sees it; the other sees only that something is wrong.
    let own = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(own["valid"], false, "{own}");
    assert_eq!(own["disagreements"][0]["id"], window, "{own}");
    let other = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert_eq!(other["valid"], false, "{other}");
    assert_eq!(other["disagreements"], json!([]), "{other}");

    let verify = verify_after(
        &app,
        &format!("UPDATE objection_windows SET state = 'objected' WHERE id = '{window}'"),
    )
    .await;
    assert_eq!(verify["valid"], true, "restored: {verify}");

    // Terms are state too: general authorisation made specific behind the log's back.
    let verify = verify_after(
        &app,
        "UPDATE agreements SET notice_days = 5 WHERE controller_id = 'lejre'",
    )
    .await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert_eq!(
        verify["disagreements"][0]["subject"], "agreement",
        "{verify}"
    );
    assert_eq!(
        verify["disagreements"][0]["member"], "notice_days",
        "{verify}"
    );
    assert_eq!(verify["disagreements"][0]["stored"], 5, "{verify}");
}

async fn newest_event_deleted_is_found(app: TestApp) {
    two_customers(&app).await;
    let everything = events_as(&app, &processor("acme")).await;
    let newest = everything.last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query(format!(
        "DELETE FROM webhook_deliveries WHERE event_id = '{newest}'"
    ))
    .execute(&mut conn)
    .unwrap();
    let verify = verify_after(&app, &format!("DELETE FROM events WHERE id = '{newest}'")).await;
    assert_eq!(verify["valid"], false, "{verify}");
    assert!(
        verify["problem"].as_str().unwrap().contains("removed"),
        "{verify}"
    );
}

/// Events written before the log existed: the migration numbers them and derives their
/// visibility, and the start of `serve` computes their leaves and signs a checkpoint; nothing is
/// lost and the leaves are those the rows give.
async fn existing_events_move_into_the_tree(app: TestApp) {
    two_customers(&app).await;
    let before = events_as(&app, &processor("acme")).await;
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    // The same SQL on both databases.
    let down = include_str!("../../migrations/sqlite/2026-11-26-000100_evidence_log/down.sql");
    for statement in down.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    }
    diesel::sql_query("DELETE FROM __diesel_schema_migrations WHERE version = '20261126000100'")
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    drop(pool);
    // The migration again, then what serve does at its start.
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let unleaved: i64 = events::table
        .filter(events::leaf_hash.eq(""))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(unleaved, before.len() as i64, "leaves are the server's job");
    subreg::store::log::catch_up(&mut conn, &log_signer(), chrono::Utc::now()).unwrap();
    let after = events_as(&app, &processor("acme")).await;
    assert_eq!(after, before, "same events, indexes, visibility and leaves");
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await
        .json();
    assert_eq!(verify["valid"], true, "{verify}");
    assert_eq!(verify["checkpoint_size"], before.len());
}

/// `subreg verify-evidence` with each of `held` as an `--against` file.
fn verify_evidence_against_all(bundle: &Value, held: &[&Value]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_subreg"));
    let bundle_path = dir.path().join("bundle.json");
    std::fs::write(&bundle_path, serde_json::to_vec(bundle).unwrap()).unwrap();
    command
        .arg("verify-evidence")
        .arg(bundle_path)
        .env("SUBREG_LOG", "warn");
    for (n, item) in held.iter().enumerate() {
        let path = dir.path().join(format!("held-{n}.json"));
        std::fs::write(&path, serde_json::to_vec(item).unwrap()).unwrap();
        command.arg("--against").arg(path);
    }
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn verify_evidence(bundle: &Value, against: Option<&Value>) -> (bool, String) {
    verify_evidence_with_keys(bundle, against, &[])
}

fn verify_evidence_with_keys(
    bundle: &Value,
    against: Option<&Value>,
    keys: &[&str],
) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
        path
    };
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_subreg"));
    command
        .arg("verify-evidence")
        .arg(write("bundle.json", bundle))
        .env("SUBREG_LOG", "warn");
    if let Some(older) = against {
        command.arg("--against").arg(write("older.json", older));
    }
    for key in keys {
        command.arg("--key").arg(key);
    }
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The controller's bundle holds its own and public events only and verifies offline; a
/// full operator rewrite (edit, recompute the leaf, re-sign with the instance key) passes the
/// server's own verify but not `verify-evidence --against` the bundle taken before.
async fn a_bundle_verifies_offline_and_catches_a_rewrite(app: TestApp) {
    two_customers(&app).await;
    let path = "/v1/controllers/roskilde/evidence?processor=acme";
    let lejre = app.get(path, Some(&controller("lejre"))).await;
    lejre.problem(403);
    let admin = app.get(path, Some(&admin())).await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    let reply = app.get(path, Some(&controller("roskilde"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let before = reply.json();
    let events = before["events"].as_array().unwrap();
    assert!(events
        .iter()
        .any(|e| e["event"]["type"] == "objection.raised"));
    for item in events {
        let event = &item["event"];
        assert!(
            event["visibility"] == "public" || event["controller_id"] == "roskilde",
            "{event}"
        );
    }
    assert!(!reply.text.contains("lejre"), "nothing of another customer");
    let (ok, report) = verify_evidence(&before, None);
    assert!(ok, "{report}");
    assert!(report.contains("verifies"), "{report}");
    assert!(
        report.contains("pin the instance's key with --key"),
        "{report}"
    );

    // Pinned to the instance's published key it verifies; pinned to another key it does not,
    // whatever keys the bundle names.
    let published = app.get("/.well-known/subreg/log-keys", None).await.text;
    let instance_key = published.lines().next().unwrap().to_string();
    let (ok, report) = verify_evidence_with_keys(&before, None, &[&instance_key]);
    assert!(ok, "{report}");
    assert!(report.contains("signed by a pinned key"), "{report}");
    let (_, stranger) = subreg::store::log::generate_key("stranger").unwrap();
    let (ok, report) = verify_evidence_with_keys(&before, None, &[&stranger]);
    assert!(!ok, "{report}");
    assert!(report.contains("signature does not verify"), "{report}");

    // The bundle itself altered: found offline.
    let mut forged = before.clone();
    let objection = forged["events"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["event"]["type"] == "objection.raised")
        .unwrap();
    objection["event"]["data"]["objection"]["reason"] = json!("yes");
    let (ok, report) = verify_evidence(&forged, None);
    assert!(!ok, "{report}");
    assert!(
        report.contains("leaf hash is not that of its content"),
        "{report}"
    );

    // The operator rewrites roskilde's objection, recomputes its leaf and re-signs.
    let id = events
        .iter()
        .find(|e| e["event"]["type"] == "objection.raised")
        .unwrap()["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let payload: String = events::table
        .filter(events::id.eq(&id))
        .select(events::payload)
        .first(&mut conn)
        .unwrap();
    let edited = payload.replacen("\"no\"", "\"yes\"", 1);
    assert_ne!(edited, payload);
    diesel::update(events::table.filter(events::id.eq(&id)))
        .set(events::payload.eq(&edited))
        .execute(&mut conn)
        .unwrap();
    let served = app
        .get(
            &format!("/v1/processors/acme/events/{id}"),
            Some(&processor("acme")),
        )
        .await
        .json();
    diesel::update(events::table.filter(events::id.eq(&id)))
        .set(events::leaf_hash.eq(hex::encode(leaf_hash_of(&served))))
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("DELETE FROM log_checkpoints")
        .execute(&mut conn)
        .unwrap();
    subreg::store::log::catch_up(&mut conn, &log_signer(), chrono::Utc::now()).unwrap();
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await
        .json();
    assert_eq!(verify["valid"], false, "the window still says no: {verify}");
    assert_eq!(
        verify["disagreements"][0]["member"], "objection",
        "{verify}"
    );
    // A perfect rewrite edits the window too.
    diesel::sql_query(
        "UPDATE objection_windows SET objection_reason = 'yes' WHERE objection_reason = 'no'",
    )
    .execute(&mut conn)
    .unwrap();
    let verify = app
        .get(
            "/v1/processors/acme/events/verify",
            Some(&processor("acme")),
        )
        .await
        .json();
    assert_eq!(
        verify["valid"], true,
        "a perfect rewrite fools the server: {verify}"
    );
    let after = app.get(path, Some(&controller("roskilde"))).await.json();
    let (ok, report) = verify_evidence(&after, None);
    assert!(ok, "in itself the rewritten log is consistent: {report}");
    let (ok, report) = verify_evidence(&after, Some(&before));
    assert!(!ok, "{report}");
    assert!(report.contains("rewritten"), "{report}");
}

/// Receipts arrive by themselves: each webhook body carries its event's index and the signed
/// checkpoint that includes it. A controller that kept only those bodies catches a rewrite of
/// events it never saw (another customer's approval), which its bundles alone cannot show.
async fn webhook_receipts_catch_a_rewrite_of_unseen_events(app: TestApp) {
    let receiver = crate::webhooks::Receiver::start().await;
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    app.agreement("lejre", "acme", general_terms(30)).await;
    let hook = app
        .post(
            "/v1/controllers/roskilde/webhooks",
            Some(&controller("roskilde")),
            &json!({"url": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    app.announce_addition("acme", &eea_entry("Logly ApS")).await;
    let lejre = app.windows("lejre").await;
    let approved = app.approve("lejre", lejre[0]["id"].as_str().unwrap()).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let roskilde = app.windows("roskilde").await;
    let objected = app
        .object("roskilde", roskilde[0]["id"].as_str().unwrap(), Some("no"))
        .await;
    assert_eq!(objected.status, 200, "{}", objected.text);
    let received = receiver
        .wait_for("three deliveries", |all| all.len() >= 3)
        .await;
    let bodies: Vec<Value> = received.iter().map(|r| r.json()).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["change.announced", "window.opened", "objection.raised"],
        "roskilde receives nothing of lejre"
    );

    // Each receipt: the body without `log` is the leaf; its checkpoint is signed (checked here
    // with another Ed25519) and includes the event.
    let published = app.get("/.well-known/subreg/log-keys", None).await.text;
    let key = published.lines().next().unwrap();
    for body in &bodies {
        let mut event = body.clone();
        let log = event.as_object_mut().unwrap().remove("log").unwrap();
        assert_eq!(log["index"], event["index"], "{body}");
        let served = app
            .get(
                &format!(
                    "/v1/processors/acme/events/{}",
                    event["id"].as_str().unwrap()
                ),
                Some(&controller("roskilde")),
            )
            .await
            .json();
        assert_eq!(
            hex::encode(leaf_hash_of(&event)),
            served["leaf_hash"].as_str().unwrap()
        );
        let note = log["checkpoint"].as_str().unwrap();
        let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        assert!(size > log["index"].as_u64().unwrap(), "{note}");
        verified_note(note, key);
    }

    let path = "/v1/controllers/roskilde/evidence?processor=acme";
    let bundle = app.get(path, Some(&controller("roskilde"))).await.json();
    let receipts = json!(bodies);
    let (ok, report) = verify_evidence_against_all(&bundle, &[&receipts]);
    assert!(ok, "{report}");
    assert!(report.contains("against 3 receipts"), "{report}");
    // One webhook body on its own, and bodies one per line, are receipts too.
    let (ok, report) = verify_evidence_against_all(&bundle, &[&bodies[2]]);
    assert!(ok, "{report}");

    // The operator rewrites lejre's approval (roskilde never saw it), recomputes its leaf and
    // re-signs every checkpoint with the instance key.
    let approval = events_as(&app, &processor("acme"))
        .await
        .into_iter()
        .find(|e| e["type"] == "approval.given")
        .unwrap();
    let id = approval["id"].as_str().unwrap().to_string();
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let payload: String = events::table
        .filter(events::id.eq(&id))
        .select(events::payload)
        .first(&mut conn)
        .unwrap();
    let edited = payload.replacen("\"approved\"", "\"objected\"", 1);
    assert_ne!(edited, payload);
    diesel::update(events::table.filter(events::id.eq(&id)))
        .set(events::payload.eq(&edited))
        .execute(&mut conn)
        .unwrap();
    let served = app
        .get(
            &format!("/v1/processors/acme/events/{id}"),
            Some(&processor("acme")),
        )
        .await
        .json();
    diesel::update(events::table.filter(events::id.eq(&id)))
        .set(events::leaf_hash.eq(hex::encode(leaf_hash_of(&served))))
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("DELETE FROM log_checkpoints")
        .execute(&mut conn)
        .unwrap();
    subreg::store::log::catch_up(&mut conn, &log_signer(), chrono::Utc::now()).unwrap();

    let after = app.get(path, Some(&controller("roskilde"))).await.json();
    let leaves = |b: &Value| -> Vec<Value> {
        b["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["leaf_hash"].clone())
            .collect()
    };
    assert!(
        leaves(&after) == leaves(&bundle),
        "roskilde's own events are untouched"
    );
    let (ok, report) = verify_evidence(&after, None);
    assert!(ok, "on its own the rewritten log is consistent: {report}");
    let (ok, report) = verify_evidence(&after, Some(&bundle));
    assert!(!ok, "{report}");
    let (ok, report) = verify_evidence_against_all(&after, &[&receipts]);
    assert!(!ok, "the receipts catch it: {report}");
    assert!(report.contains("the past was rewritten"), "{report}");

    // Sizes asked for are checked.
    let zero = app
        .get(
            &format!("{path}&consistency_from=0"),
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(
        zero.problem(422)["errors"][0]["field"],
        "consistency_from[0]"
    );
    let words = app
        .get(
            &format!("{path}&consistency_from=two"),
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(words.problem(422)["errors"][0]["field"], "consistency_from");
}

/// A bundle taken at another size than any receipt: the newer bundle proves consistency from
/// the sizes asked for with `consistency_from`, and says which to ask for when it lacks one.
async fn an_older_bundle_is_checked_by_a_consistency_proof(app: TestApp) {
    two_customers(&app).await;
    let path = "/v1/controllers/lejre/evidence?processor=acme";
    let before = app.get(path, Some(&controller("lejre"))).await.json();
    let size = before["size"].as_u64().unwrap();
    // More happens: roskilde's objection withdrawn, a second change announced.
    let roskilde = app.windows("roskilde").await;
    let withdrawn = app
        .delete(
            &format!(
                "/v1/controllers/roskilde/windows/{}/objection",
                roskilde[0]["id"].as_str().unwrap()
            ),
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    app.announce_addition("acme", &eea_entry("Second ApS"))
        .await;
    let plain = app.get(path, Some(&controller("lejre"))).await.json();
    assert!(plain["size"].as_u64().unwrap() > size);
    let (ok, report) = verify_evidence(&plain, Some(&before));
    assert!(!ok, "{report}");
    assert!(
        report.contains(&format!("?consistency_from={size}")),
        "{report}"
    );
    let proved = app
        .get(
            &format!("{path}&consistency_from={size}"),
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert!(
        proved["consistency"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["from"] == size),
        "{proved}"
    );
    let (ok, report) = verify_evidence(&proved, Some(&before));
    assert!(ok, "{report}");
    // A forged proof does not pass.
    let mut forged = proved.clone();
    for step in forged["consistency"].as_array_mut().unwrap() {
        if step["from"] == size {
            step["proof"][0] = json!("00".repeat(32));
        }
    }
    let (ok, report) = verify_evidence(&forged, Some(&before));
    assert!(!ok, "{report}");
    assert!(report.contains("rewritten"), "{report}");
}

/// Private feed entries carry receipts too: `<log:receipt index="N">` with the signed checkpoint
/// that includes the event; the public feed carries none.
async fn private_feed_entries_carry_receipts(app: TestApp) {
    two_customers(&app).await;
    let token = app
        .post(
            "/v1/controllers/roskilde/feed-token",
            Some(&controller("roskilde")),
            &json!({}),
        )
        .await;
    assert_eq!(token.status, 200, "{}", token.text);
    let url = token.json()["feed_url"].as_str().unwrap().to_string();
    let path = url.split_once("127.0.0.1").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let feed = app.get(path, None).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let published = app.get("/.well-known/subreg/log-keys", None).await.text;
    let key = published.lines().next().unwrap();
    let served: Vec<Value> = events_as(&app, &controller("roskilde")).await;
    let doc = roxmltree::Document::parse(&feed.text).unwrap();
    let entries: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name(("http://www.w3.org/2005/Atom", "entry")))
        .collect();
    assert!(!entries.is_empty());
    for entry in entries {
        let id = entry
            .children()
            .find(|n| n.has_tag_name(("http://www.w3.org/2005/Atom", "id")))
            .and_then(|n| n.text())
            .unwrap()
            .trim_start_matches("urn:uuid:")
            .to_string();
        let receipt = entry
            .children()
            .find(|n| n.has_tag_name(("urn:subreg:log", "receipt")))
            .expect("a receipt in every private entry");
        let event = served.iter().find(|e| e["id"] == id.as_str()).unwrap();
        let index: u64 = receipt.attribute("index").unwrap().parse().unwrap();
        assert_eq!(index, event["index"].as_u64().unwrap());
        let note = receipt.text().unwrap();
        let body = verified_note(note, key);
        let size: u64 = body.lines().nth(1).unwrap().parse().unwrap();
        assert!(size > index, "{note}");
    }
    let public = app.get("/v1/processors/acme/feed.atom", None).await;
    assert_eq!(public.status, 200);
    assert!(!public.text.contains("urn:subreg:log"), "{}", public.text);
}

/// After a key rotation the old verifier key stays listed, after the current one.
async fn previous_keys_stay_listed(app: TestApp) {
    let (_, old) = subreg::store::log::generate_key("subreg-test").unwrap();
    let backend = if app.database_url.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let rotated = spawn_app_with(backend, |s| s.log_previous_keys = vec![old.clone()])
        .await
        .unwrap();
    let keys = rotated.get("/.well-known/subreg/log-keys", None).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    let lines: Vec<&str> = keys.text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", keys.text);
    assert!(lines[0].starts_with("subreg-test+"));
    assert_eq!(lines[1], old);
}

on_both_backends!(
    leaves_inclusion_and_checkpoint_verify_independently,
    controllers_get_proofs_of_their_own_and_public_events_only,
    tampering_in_the_database_is_found,
    newest_event_deleted_is_found,
    state_edited_in_sql_is_found,
    existing_events_move_into_the_tree,
    a_bundle_verifies_offline_and_catches_a_rewrite,
    previous_keys_stay_listed,
    webhook_receipts_catch_a_rewrite_of_unseen_events,
    an_older_bundle_is_checked_by_a_consistency_proof,
    private_feed_entries_carry_receipts,
);

#[test]
fn keygen_never_overwrites_and_prints_the_verifier_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.key");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_subreg"))
            .args([
                "keygen",
                path.to_str().unwrap(),
                "--name",
                "registry.example",
            ])
            .env("SUBREG_LOG", "warn")
            .output()
            .unwrap()
    };
    let made = run();
    assert!(made.status.success(), "{made:?}");
    let vkey = String::from_utf8(made.stdout).unwrap();
    assert!(vkey.starts_with("registry.example+"), "{vkey}");
    let key = std::fs::read_to_string(&path).unwrap();
    assert!(key.starts_with("PRIVATE+KEY+registry.example+"));
    let again = run();
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        key,
        "not overwritten"
    );
}

#[test]
fn postgres_without_a_log_key_refuses_to_start() {
    let Some((_db, url)) = TestDb::create(Backend::Postgres) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let mut settings = settings(&url);
    settings.log_key = None;
    let refused = actix_web::rt::System::new()
        .block_on(async move { subreg::Application::build(settings).err() })
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("SUBREG_LOG_KEY is not set"), "{refused}");
    assert!(refused.contains("subreg keygen"), "{refused}");
}

#[test]
fn the_leaf_recipe_holds_for_a_served_shape() {
    let served = json!({"id": "e", "index": 0, "type": "change.announced",
        "occurred_at": "2026-11-23T12:00:00Z", "processor_id": "p", "controller_id": null,
        "visibility": "public", "data": {"b": 1.0, "a": [true]}, "leaf_hash": "x"});
    let mut members = served.clone();
    members.as_object_mut().unwrap().remove("leaf_hash");
    assert_eq!(
        serde_json_canonicalizer::to_string(&members).unwrap(),
        r#"{"controller_id":null,"data":{"a":[true],"b":1},"id":"e","index":0,"occurred_at":"2026-11-23T12:00:00Z","processor_id":"p","type":"change.announced","visibility":"public"}"#
    );
}
