//! The consent lifecycle through the three seed agreements and the rules around them.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

fn window_id(change: &Value, index: usize) -> String {
    change["windows"][index]["id"]
        .as_str()
        .expect("window id")
        .to_string()
}

/// Seed 000, Timengo DPG: specific approval, 30 days; silence is not approval.
async fn seed_000_timengo_specific_approval(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.seed("timengo-dpg", &azure()).await;
    app.controller("roskilde").await;
    app.controller("greve").await;
    let silent = app
        .agreement("roskilde", "timengo-dpg", specific_terms())
        .await;
    app.agreement("greve", "timengo-dpg", specific_terms())
        .await;

    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    assert_eq!(change["state"], "announced");
    // The processor gets a day after the last window closes to answer a refusal.
    let earliest_use =
        chrono::DateTime::parse_from_rfc3339(change["earliest_use"].as_str().unwrap()).unwrap();
    let planned_from =
        chrono::DateTime::parse_from_rfc3339(change["planned_from"].as_str().unwrap()).unwrap();
    assert_eq!(planned_from - earliest_use, chrono::Duration::days(1));
    let windows = change["windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 2);
    // "30 kalenderdage": the day of the notice does not count; the window closes when the
    // 30th day after it ends (24:00 in Copenhagen).
    let copenhagen = chrono_tz::Europe::Copenhagen;
    let opened = chrono::DateTime::parse_from_rfc3339(change["announced_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&copenhagen);
    let closes = chrono::DateTime::parse_from_rfc3339(windows[0]["closes_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&copenhagen);
    let last_day = opened.date_naive() + chrono::Days::new(30);
    assert_eq!(windows[0]["closes_on_local_date"], last_day.to_string());
    assert_eq!(closes.date_naive(), last_day + chrono::Days::new(1));
    assert_eq!(closes.time(), chrono::NaiveTime::MIN);
    let greve_window = windows
        .iter()
        .find(|w| w["controller_id"] == "greve")
        .expect("greve window");
    assert_eq!(
        app.approve("greve", greve_window["id"].as_str().unwrap())
            .await
            .status,
        200
    );

    // Day 29: nothing decided for Roskilde; the entry is not in use yet.
    app.advance("P29D").await;
    let roskilde_window = &app.windows("roskilde").await[0];
    assert_eq!(roskilde_window["state"], "open");
    assert_eq!(roskilde_window["agreement_id"], silent["id"]);
    assert_eq!(
        app.authorised("roskilde").await,
        (vec![pair("Microsoft Azure", "agreement")], vec![])
    );

    // Day 32: the window has lapsed without approval; the change is blocked, and the processor
    // takes it live explicitly.
    app.advance("P3D").await;
    let closed = app
        .window("roskilde", roskilde_window["id"].as_str().unwrap())
        .await;
    assert_eq!(closed["state"], "not_approved");
    assert_eq!(closed["closed_at"], closed["closes_at"]);
    let change = app
        .get(
            &format!(
                "/v1/processors/timengo-dpg/changes/{}",
                change["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(change.json()["state"], "blocked");
    assert_eq!(app.go_live_blocked("timengo-dpg").await, 1);
    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![pair("Microsoft Azure", "agreement")],
            vec![pair("Qbox ApS", "in_use_without_authorisation")]
        )
    );
    // With an explicit approval instead, the entry is authorised.
    assert_eq!(
        app.authorised("greve").await,
        (
            vec![
                pair("Microsoft Azure", "agreement"),
                pair("Qbox ApS", "approved")
            ],
            vec![]
        )
    );
    // An objection on a closed window says how it ended (a late approval is allowed:
    // tests/api/consent.rs).
    let late = app
        .object("roskilde", roskilde_window["id"].as_str().unwrap(), None)
        .await;
    assert_eq!(late.problem(409)["state"], "not_approved");

    let verify = app
        .get(
            "/v1/processors/timengo-dpg/events/verify",
            Some(&processor("timengo-dpg")),
        )
        .await;
    assert_eq!(verify.json()["valid"], true);
    let types = app.event_types("timengo-dpg").await;
    for expected in [
        "change.announced",
        "window.opened",
        "approval.given",
        "window.closed",
        "change.effective",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} in {types:?}"
        );
    }
    assert_eq!(types.iter().filter(|t| *t == "window.closed").count(), 2);
    let events = app
        .get(
            "/v1/processors/timengo-dpg/events?limit=500",
            Some(&processor("timengo-dpg")),
        )
        .await
        .json();
    let closed = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "window.closed" && e["controller_id"] == "roskilde")
        .expect("roskilde's window.closed");
    assert_eq!(closed["data"]["outcome"], "not_approved");
    assert_eq!(closed["data"]["state"], "not_approved");
    assert_eq!(closed["data"]["change"]["subprocessor"]["name"], "Qbox ApS");
    app.assert_logs_replay().await;
}

/// Seed 003, EG NetBlanket: general authorisation, 30 days, transfers with a basis.
async fn seed_003_netblanket_general_authorisation(app: TestApp) {
    app.processor("eg-netblanket").await;
    app.seed("eg-netblanket", &azure()).await;
    for cid in ["lejre", "greve"] {
        app.controller(cid).await;
        app.agreement(cid, "eg-netblanket", general_terms(30)).await;
    }
    let change = app
        .announce_addition("eg-netblanket", &us_with_sccs("Zendesk, Inc."))
        .await;
    assert_eq!(change["subprocessor"]["location"], "third_country");
    assert!(change["windows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["conflicts"] == json!([])));

    app.advance("P29D").await;
    let lejre_window = app.windows("lejre").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let objection = app
        .object(
            "lejre",
            &lejre_window,
            Some("US transfer not acceptable for our data"),
        )
        .await;
    assert_eq!(objection.status, 200, "{}", objection.text);
    assert_eq!(objection.json()["state"], "objected");
    assert_eq!(
        objection.json()["objection"]["reason"],
        "US transfer not acceptable for our data"
    );

    app.advance("P3D").await;
    assert_eq!(
        app.window("lejre", &lejre_window).await["state"],
        "objected"
    );
    assert_eq!(app.go_live_blocked("eg-netblanket").await, 1);
    let greve_window = app.windows("greve").await[0].clone();
    assert_eq!(greve_window["state"], "tacit_consent");
    assert_eq!(
        app.authorised("lejre").await,
        (
            vec![pair("Microsoft Azure", "agreement")],
            vec![pair("Zendesk, Inc.", "in_use_without_authorisation")]
        )
    );
    assert_eq!(
        app.authorised("greve").await,
        (
            vec![
                pair("Microsoft Azure", "agreement"),
                pair("Zendesk, Inc.", "tacit_consent")
            ],
            vec![]
        )
    );
    app.assert_logs_replay().await;
}

/// Seed 004, Roskilde hosting: general, 7 calendar days, objections need a reason, no third countries.
async fn seed_004_hosting_seven_days_reason_required(app: TestApp) {
    app.processor("roskilde-hosting").await;
    app.seed("roskilde-hosting", &eea_entry("Nordisk Backup ApS"))
        .await;
    for cid in ["roskilde", "lejre"] {
        app.controller(cid).await;
        app.agreement(cid, "roskilde-hosting", hosting_terms())
            .await;
    }
    let change = app
        .announce_addition("roskilde-hosting", &eea_entry("Hetzner Online GmbH"))
        .await;
    let roskilde = app.windows("roskilde").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let unreasoned = app.object("roskilde", &roskilde, None).await;
    assert_eq!(unreasoned.error_fields(), ["reason"]);
    let blank = app.object("roskilde", &roskilde, Some("  ")).await;
    assert_eq!(blank.error_fields(), ["reason"]);
    assert_eq!(app.window("roskilde", &roskilde).await["state"], "open");
    let reasoned = app
        .object(
            "roskilde",
            &roskilde,
            Some("The data centre is not ISO 27001 certified"),
        )
        .await;
    assert_eq!(reasoned.json()["state"], "objected");
    assert_eq!(
        reasoned.json()["objection"]["reason"],
        "The data centre is not ISO 27001 certified"
    );

    // Seven calendar days later: the silent controller has consented tacitly.
    let deadline = app
        .window(
            "lejre",
            app.windows("lejre").await[0]["id"].as_str().unwrap(),
        )
        .await["closes_at"]
        .clone();
    app.advance_to(&deadline, 60).await;
    assert_eq!(app.windows("lejre").await[0]["state"], "tacit_consent");
    assert_eq!(app.window("roskilde", &roskilde).await["state"], "objected");
    let effective = app
        .get(
            &format!(
                "/v1/processors/roskilde-hosting/changes/{}",
                change["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    // The processor has a day to answer Roskilde's objection; then the change is blocked.
    assert_eq!(effective.json()["state"], "announced");
    app.advance("P1D").await;
    let blocked = app
        .get(
            &format!(
                "/v1/processors/roskilde-hosting/changes/{}",
                change["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(blocked.json()["state"], "blocked");

    // A third-country addition conflicts with the agreement from the moment it opens.
    let us = app
        .announce_addition("roskilde-hosting", &us_with_sccs("Backblaze, Inc."))
        .await;
    for window in us["windows"].as_array().unwrap() {
        assert_eq!(window["conflicts"], json!(["third_country_forbidden"]));
    }
    let open = app
        .get(
            "/v1/controllers/lejre/windows?state=open",
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert_eq!(
        open["items"][0]["conflicts"],
        json!(["third_country_forbidden"])
    );
    assert_eq!(
        open["items"][0]["change"]["subprocessor"]["name"],
        "Backblaze, Inc."
    );
    app.assert_logs_replay().await;
}

/// A controller with agreements with two processors sees both lists, each on its own terms.
async fn two_agreements_combine_into_one_list(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.seed("timengo-dpg", &azure()).await;
    app.processor("roskilde-hosting").await;
    app.seed("roskilde-hosting", &eea_entry("Nordisk Backup ApS"))
        .await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", specific_terms())
        .await;
    app.agreement("roskilde", "roskilde-hosting", hosting_terms())
        .await;
    app.announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    app.announce_addition("roskilde-hosting", &eea_entry("Hetzner Online GmbH"))
        .await;
    let windows = app.windows("roskilde").await;
    let days: Vec<i64> = windows
        .iter()
        .map(|w| {
            let opened =
                chrono::DateTime::parse_from_rfc3339(w["opened_at"].as_str().unwrap()).unwrap();
            let closes =
                chrono::DateTime::parse_from_rfc3339(w["closes_at"].as_str().unwrap()).unwrap();
            (closes - opened).num_days()
        })
        .collect();
    assert_eq!(
        {
            let mut d = days.clone();
            d.sort();
            d
        },
        [7, 30]
    );

    app.advance("P32D").await;
    assert_eq!(app.go_live_blocked("timengo-dpg").await, 1);
    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![
                pair("Hetzner Online GmbH", "tacit_consent"),
                pair("Microsoft Azure", "agreement"),
                pair("Nordisk Backup ApS", "agreement"),
            ],
            vec![pair("Qbox ApS", "in_use_without_authorisation")]
        )
    );
}

async fn planned_from_before_the_windows_close_is_refused(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("greve").await;
    app.agreement("roskilde", "timengo-dpg", hosting_terms())
        .await;
    app.agreement("greve", "timengo-dpg", specific_terms())
        .await;
    let planned = app.advance("PT1S").await["now"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"), "summary": "Qbox",
                      "planned_from": planned, "announce": true});
    let reply = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &body,
        )
        .await;
    let problem = reply.problem(422);
    let earliest =
        chrono::DateTime::parse_from_rfc3339(problem["earliest_allowed"].as_str().unwrap())
            .unwrap();
    let planned = chrono::DateTime::parse_from_rfc3339(&planned).unwrap();
    assert!(
        earliest - planned >= chrono::Duration::days(30),
        "the 30-day agreement decides"
    );
    assert_eq!(problem["errors"][0]["field"], "planned_from");
    // Nothing was written: no change, no event.
    let changes = app
        .get("/v1/processors/timengo-dpg/changes", None)
        .await
        .json();
    assert_eq!(changes["items"], json!([]));
    let types = app.event_types("timengo-dpg").await;
    assert!(
        types.iter().all(|t| t.starts_with("agreement.")),
        "{types:?}"
    );
}

async fn drafts_announce_withdraw_and_objections_withdraw(app: TestApp) {
    app.processor("timengo-dpg").await;
    let azure_entry = app.seed("timengo-dpg", &azure()).await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    let token = processor("timengo-dpg");

    let draft = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&token),
            &json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"), "summary": "Qbox"}),
        )
        .await
        .json();
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["windows"], json!([]));
    assert!(app.windows("roskilde").await.is_empty());
    let chid = draft["id"].as_str().unwrap();
    let announced = app
        .post(
            &format!("/v1/processors/timengo-dpg/changes/{chid}/announce"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(announced.json()["state"], "announced");
    app.post(
        &format!("/v1/processors/timengo-dpg/changes/{chid}/announce"),
        Some(&token),
        &json!({}),
    )
    .await
    .problem(409);

    // Object, change one's mind, object again.
    let wid = app.windows("roskilde").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.object("roskilde", &wid, None).await.json()["state"],
        "objected"
    );
    app.object("roskilde", &wid, None).await.problem(409);
    app.approve("roskilde", &wid).await.problem(409);
    let withdrawn = app
        .delete(
            &format!("/v1/controllers/roskilde/windows/{wid}/objection"),
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(withdrawn.json()["state"], "open");
    assert_eq!(withdrawn.json()["objection"], Value::Null);
    app.delete(
        &format!("/v1/controllers/roskilde/windows/{wid}/objection"),
        Some(&controller("roskilde")),
    )
    .await
    .problem(409);

    // The processor withdraws the change: the window ends withdrawn.
    let gone = app
        .post(
            &format!("/v1/processors/timengo-dpg/changes/{chid}/withdraw"),
            Some(&token),
            &json!({}),
        )
        .await;
    assert_eq!(gone.json()["state"], "withdrawn");
    assert_eq!(gone.json()["windows"][0]["state"], "withdrawn");
    app.post(
        &format!("/v1/processors/timengo-dpg/changes/{chid}/withdraw"),
        Some(&token),
        &json!({}),
    )
    .await
    .problem(409);
    assert_eq!(
        app.object("roskilde", &wid, None).await.problem(409)["state"],
        "withdrawn"
    );

    // Removals need no consent and take effect at planned_from.
    let removal = json!({"kind": "removal", "replaces": azure_entry["id"], "summary": "Leaving Azure", "announce": true});
    let removal = app
        .post("/v1/processors/timengo-dpg/changes", Some(&token), &removal)
        .await;
    assert_eq!(removal.status, 201, "{}", removal.text);
    assert_eq!(removal.json()["windows"], json!([]));
    app.advance("PT1S").await;
    let list = app
        .get("/v1/processors/timengo-dpg/subprocessors", None)
        .await
        .json();
    assert_eq!(list["items"], json!([]));

    let types = app.event_types("timengo-dpg").await;
    assert_eq!(
        types,
        [
            "subprocessor.added",
            "agreement.confirmed",
            "change.announced",
            "window.opened",
            "objection.raised",
            "objection.withdrawn",
            "change.withdrawn",
            "window.closed",
            "change.announced",
            "change.effective"
        ]
    );
    app.assert_logs_replay().await;
}

async fn replacement_swaps_entries_when_effective(app: TestApp) {
    app.processor("timengo-dpg").await;
    let old = app.seed("timengo-dpg", &azure()).await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", general_terms(7))
        .await;
    let body = json!({"kind": "replacement", "replaces": old["id"], "subprocessor": eea_entry("Qbox ApS"),
                      "summary": "Qbox replaces Azure", "announce": true});
    let change = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &body,
        )
        .await;
    assert_eq!(change.status, 201, "{}", change.text);
    let before = app.advance("P1D").await["now"]
        .as_str()
        .unwrap()
        .to_string();
    app.advance("P8D").await;
    let names: Vec<String> = app
        .get("/v1/processors/timengo-dpg/subprocessors", None)
        .await
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Qbox ApS"]);
    let then = app
        .get(
            &format!(
                "/v1/processors/timengo-dpg/subprocessors?as_of={}",
                before.replace('+', "%2B")
            ),
            None,
        )
        .await
        .json();
    assert_eq!(then["items"][0]["name"], "Microsoft Azure");
    assert_eq!(
        app.authorised("roskilde").await,
        (vec![pair("Qbox ApS", "tacit_consent")], vec![])
    );

    // Validation of changes.
    let token = processor("timengo-dpg");
    let bad = json!({"kind": "replacement", "replaces": "no-such-entry", "subprocessor": eea_entry("X"), "summary": "x"});
    assert_eq!(
        app.post("/v1/processors/timengo-dpg/changes", Some(&token), &bad)
            .await
            .error_fields(),
        ["replaces"]
    );
    let bad = json!({"kind": "addition", "subprocessor": {"name": "X"}, "summary": ""});
    let fields = app
        .post("/v1/processors/timengo-dpg/changes", Some(&token), &bad)
        .await
        .error_fields();
    assert_eq!(
        fields,
        [
            "summary",
            "subprocessor.address",
            "subprocessor.country",
            "subprocessor.purpose",
            "subprocessor.processing_locations"
        ]
    );
    let bad = json!({"kind": "merger", "summary": "x"});
    app.post("/v1/processors/timengo-dpg/changes", Some(&token), &bad)
        .await
        .problem(422);
    app.assert_logs_replay().await;
}

/// An agreement signed while a change is announced gets its own window; the entry is not
/// authorised for that controller while it is in use before that window closes.
async fn agreement_signed_during_an_announcement(app: TestApp) {
    app.processor("eg-netblanket").await;
    app.controller("lejre").await;
    app.controller("greve").await;
    app.agreement("lejre", "eg-netblanket", general_terms(7))
        .await;
    app.announce_addition("eg-netblanket", &eea_entry("Qbox ApS"))
        .await;
    app.advance("P5D").await;
    app.agreement("greve", "eg-netblanket", general_terms(30))
        .await;
    // Greve's window opened late; it does not block the change (only refusals do).
    let greve = app.windows("greve").await;
    assert_eq!(greve.len(), 1);
    assert_eq!(
        greve[0]["conflicts"],
        json!(["planned_before_window_closes"])
    );
    app.advance("P4D").await;
    assert_eq!(
        app.authorised("lejre").await,
        (vec![pair("Qbox ApS", "tacit_consent")], vec![])
    );
    assert_eq!(
        app.authorised("greve").await,
        (
            vec![],
            vec![pair("Qbox ApS", "in_use_before_window_closed")]
        )
    );
    app.advance("P30D").await;
    assert_eq!(
        app.authorised("greve").await,
        (vec![pair("Qbox ApS", "tacit_consent")], vec![])
    );
    app.assert_logs_replay().await;
}

async fn lifecycle_routes_enforce_orgs(app: TestApp) {
    app.processor("alpha").await;
    app.processor("beta").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "beta", general_terms(30)).await;
    let change = app.announce_addition("beta", &eea_entry("Qbox ApS")).await;
    let chid = change["id"].as_str().unwrap();
    let wid = window_id(&change, 0);

    let body = json!({"kind": "addition", "subprocessor": eea_entry("X"), "summary": "x"});
    for token in [processor("alpha"), controller("roskilde")] {
        app.post("/v1/processors/beta/changes", Some(&token), &body)
            .await
            .problem(403);
        app.post(
            &format!("/v1/processors/beta/changes/{chid}/announce"),
            Some(&token),
            &json!({}),
        )
        .await
        .problem(403);
        app.post(
            &format!("/v1/processors/beta/changes/{chid}/withdraw"),
            Some(&token),
            &json!({}),
        )
        .await
        .problem(403);
    }
    for token in [controller("lejre"), processor("beta")] {
        app.post(
            &format!("/v1/controllers/roskilde/windows/{wid}/objection"),
            Some(&token),
            &json!({}),
        )
        .await
        .problem(403);
        app.post(
            &format!("/v1/controllers/roskilde/windows/{wid}/approval"),
            Some(&token),
            &json!({}),
        )
        .await
        .problem(403);
        app.delete(
            &format!("/v1/controllers/roskilde/windows/{wid}/objection"),
            Some(&token),
        )
        .await
        .problem(403);
        app.get("/v1/controllers/roskilde/windows", Some(&token))
            .await
            .problem(403);
        app.get("/v1/controllers/roskilde/subprocessors", Some(&token))
            .await
            .problem(403);
    }
    // Another controller's window under one's own id does not exist.
    app.post(
        &format!("/v1/controllers/lejre/windows/{wid}/objection"),
        Some(&controller("lejre")),
        &json!({}),
    )
    .await
    .problem(404);
    app.post(
        "/v1/processors/beta/changes/nope/announce",
        Some(&processor("beta")),
        &json!({}),
    )
    .await
    .problem(404);

    // The public sees changes, not who objected.
    let public = app
        .get(&format!("/v1/processors/beta/changes/{chid}"), None)
        .await
        .json();
    assert_eq!(public["windows"], Value::Null);
    let own = app
        .get(
            &format!("/v1/processors/beta/changes/{chid}"),
            Some(&processor("beta")),
        )
        .await
        .json();
    assert_eq!(own["windows"].as_array().map(Vec::len), Some(1));
    app.get("/v1/processors/beta/changes?state=pending", None)
        .await
        .problem(422);
    let announced = app
        .get("/v1/processors/beta/changes?state=announced", None)
        .await
        .json();
    assert_eq!(announced["items"].as_array().map(Vec::len), Some(1));
    // A malformed decision body is refused, not read as "no reason".
    let raw = app
        .client
        .post(app.url(&format!("/v1/controllers/roskilde/windows/{wid}/objection")))
        .bearer_auth(controller("roskilde"))
        .header("content-type", "application/json")
        .body("{\"reason\": ");
    app.send(raw).await.problem(400);
}

/// Objections racing the expiry: each window ends in one state with one `window.closed`
/// event, and every objection that was accepted is the window's outcome.
async fn objections_racing_the_expiry(app: TestApp) {
    app.processor("eg-netblanket").await;
    let controllers: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
    for cid in &controllers {
        app.controller(cid).await;
        app.agreement(cid, "eg-netblanket", general_terms(7)).await;
    }
    app.announce_addition("eg-netblanket", &eea_entry("Qbox ApS"))
        .await;
    let deadline = app.windows(&controllers[0]).await[0]["closes_at"].clone();
    app.advance_to(&deadline, -1).await;
    let mut windows = Vec::new();
    for cid in &controllers {
        windows.push(
            app.windows(cid).await[0]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let objections = object_all(&app, &controllers, &windows);
    let (clock, replies) = tokio::join!(app.advance("PT2S"), objections);
    assert!(clock["now"].is_string());
    for ((cid, wid), reply) in controllers.iter().zip(&windows).zip(replies) {
        let final_state = app.window(cid, wid).await["state"].clone();
        match reply.status.as_u16() {
            200 => assert_eq!(final_state, "objected", "accepted objection is the outcome"),
            409 => {
                assert_eq!(reply.json()["state"], "tacit_consent");
                assert_eq!(final_state, "tacit_consent");
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    let events = app
        .get(
            "/v1/processors/eg-netblanket/events?limit=500",
            Some(&processor("eg-netblanket")),
        )
        .await
        .json();
    for wid in &windows {
        let closed = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "window.closed" && e["data"]["id"] == wid.as_str())
            .count();
        assert_eq!(closed, 1, "window {wid} closed once");
    }
}

/// Objections one after another, racing the clock advance that runs beside them.
async fn object_all(app: &TestApp, controllers: &[String], windows: &[String]) -> Vec<Reply> {
    let mut pending = Vec::new();
    for (cid, wid) in controllers.iter().zip(windows) {
        pending.push(app.object(cid, wid, Some("too late?")));
    }
    let mut replies = Vec::new();
    for reply in pending {
        replies.push(reply.await);
    }
    replies
}

/// A change announced to more agreements than it embeds shows the first 100 windows, their
/// total and a cursor; the processor reads the rest a page at a time, and nobody else can.
async fn a_change_pages_its_windows(app: TestApp) {
    app.processor("beta").await;
    let controllers: Vec<String> = (0..101).map(|i| format!("kommune-{i:03}")).collect();
    for cid in &controllers {
        app.controller(cid).await;
        app.agreement(cid, "beta", general_terms(30)).await;
    }
    let change = app.announce_addition("beta", &eea_entry("Qbox ApS")).await;
    let chid = change["id"].as_str().unwrap();
    assert_eq!(change["windows"].as_array().unwrap().len(), 100);
    assert_eq!(change["windows_total"], 101);
    let cursor = change["windows_next_cursor"].as_str().expect("a cursor");
    let seen = app
        .get(
            &format!("/v1/processors/beta/changes/{chid}"),
            Some(&processor("beta")),
        )
        .await
        .json();
    assert_eq!(seen["windows"], change["windows"]);
    assert_eq!(seen["windows_total"], 101);
    let rest = app
        .get(
            &format!("/v1/processors/beta/changes/{chid}/windows?cursor={cursor}"),
            Some(&processor("beta")),
        )
        .await;
    assert_eq!(rest.status, 200, "{}", rest.text);
    let rest = rest.json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null(), "{rest}");
    let mut owners: Vec<&str> = change["windows"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|w| w["controller_id"].as_str().unwrap())
        .collect();
    owners.sort();
    assert_eq!(owners, controllers);
    let all = app
        .get(
            &format!("/v1/processors/beta/changes/{chid}/windows?limit=500&state=open"),
            Some(&admin()),
        )
        .await
        .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 101);
    assert!(
        all["items"][0].get("change").is_none(),
        "{}",
        all["items"][0]
    );
    // The public sees the change without windows, and the list of windows not at all.
    let public = app
        .get(&format!("/v1/processors/beta/changes/{chid}"), None)
        .await
        .json();
    assert!(public.get("windows").is_none() && public.get("windows_total").is_none());
    for token in [processor("alpha"), controller("kommune-000")] {
        app.get(
            &format!("/v1/processors/beta/changes/{chid}/windows"),
            Some(&token),
        )
        .await
        .problem(403);
    }
    app.get(&format!("/v1/processors/beta/changes/{chid}/windows"), None)
        .await
        .problem(401);
    let refused = app
        .get(
            &format!("/v1/processors/beta/changes/{chid}/windows?state=shut"),
            Some(&processor("beta")),
        )
        .await;
    assert_eq!(refused.error_fields(), ["state"]);
    app.get(
        "/v1/processors/beta/changes/00000000-0000-7000-8000-000000000000/windows",
        Some(&processor("beta")),
    )
    .await
    .problem(404);
}

on_both_backends!(
    seed_000_timengo_specific_approval,
    seed_003_netblanket_general_authorisation,
    seed_004_hosting_seven_days_reason_required,
    two_agreements_combine_into_one_list,
    planned_from_before_the_windows_close_is_refused,
    drafts_announce_withdraw_and_objections_withdraw,
    replacement_swaps_entries_when_effective,
    agreement_signed_during_an_announcement,
    lifecycle_routes_enforce_orgs,
    objections_racing_the_expiry,
    a_change_pages_its_windows,
);

/// Without SUBREG_TEST_CLOCK the test clock's route does not exist, even for an admin.
#[actix_web::test]
async fn the_test_clock_is_off_by_default() {
    let app = spawn_app_with(Backend::Sqlite, |settings| settings.test_clock = false)
        .await
        .expect("sqlite always runs");
    app.post(
        "/v1/admin/clock",
        Some(&admin()),
        &json!({"advance": "P8D"}),
    )
    .await
    .problem(404);
    app.get("/v1/admin/clock", Some(&admin()))
        .await
        .problem(404);
}
