//! Agreements as contracts with a lifecycle (issue 10, item 1): proposed by the processor,
//! confirmed by the controller, terminated by either; one live agreement per pair; terms that
//! restrict locations and name the annex.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

/// The body of an agreement between `cid` and `pid` on `terms`.
fn body(cid: &str, pid: &str, terms: Value) -> Value {
    let mut body = terms;
    body["controller_id"] = json!(cid);
    body["processor_id"] = json!(pid);
    body
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// The controller's window for change `change_id`, if one opened.
async fn window_of(app: &TestApp, cid: &str, change_id: &str) -> Option<Value> {
    app.windows(cid)
        .await
        .into_iter()
        .find(|w| w["change_id"] == change_id)
}

/// The authorised list's names at `as_of`.
async fn authorised_at(app: &TestApp, cid: &str, as_of: &Value) -> Vec<String> {
    let as_of = as_of.as_str().expect("an instant").replace('+', "%2B");
    let reply = app
        .get(
            &format!("/v1/controllers/{cid}/subprocessors?as_of={as_of}"),
            Some(&controller(cid)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let list = reply.json();
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_string())
        .collect()
}

async fn now(app: &TestApp) -> Value {
    app.get("/v1/admin/clock", Some(&admin())).await.json()["now"].clone()
}

/// A processor's agreement is only proposed: no window opens for it and it authorises
/// nothing, not even the entries on the list when it was signed. The controller's
/// confirmation (with the person who confirmed) brings it into force: windows open then for
/// the changes announced meanwhile, and the list from then on shows what it authorises.
async fn a_proposed_agreement_counts_for_nothing_until_the_controller_confirms(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.seed("timengo-dpg", &azure()).await;
    let proposed = app
        .post(
            "/v1/agreements",
            Some(&processor("timengo-dpg")),
            &body("roskilde", "timengo-dpg", general_terms(30)),
        )
        .await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    let agreement = proposed.json();
    assert_eq!(agreement["state"], "proposed");
    assert_eq!(agreement["in_force_from"], Value::Null);
    assert_eq!(agreement["annex_name"], "Bilag B");
    let aid = id(&agreement);

    // Announced for later: with no agreement in force it would otherwise be effective at once.
    let planned = chrono::DateTime::parse_from_rfc3339(now(&app).await.as_str().expect("now"))
        .expect("time")
        + chrono::Duration::days(60);
    let change = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"),
                    "summary": "Qbox", "planned_from": planned.to_rfc3339(), "announce": true}),
        )
        .await;
    assert_eq!(change.status, 201, "{}", change.text);
    let change = change.json();
    assert_eq!(change["windows"], json!([]), "{change}");
    assert_eq!(app.authorised("roskilde").await, (vec![], vec![]));
    let before = now(&app).await;

    // Only the agreement's controller confirms; others learn nothing of it.
    let path = format!("/v1/controllers/roskilde/agreements/{aid}/confirmation");
    app.post(&path, Some(&processor("timengo-dpg")), &json!({}))
        .await
        .problem(403);
    app.post(
        &format!("/v1/controllers/lejre/agreements/{aid}/confirmation"),
        Some(&controller("lejre")),
        &json!({}),
    )
    .await
    .problem(404);

    app.advance("PT1H").await;
    let confirmed = app
        .post(
            &path,
            Some(&controller("roskilde")),
            &json!({"decided_by": {"name": "Mette Hansen", "role": "DPO"}}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let confirmed = confirmed.json();
    assert_eq!(confirmed["state"], "active");
    assert_eq!(
        confirmed["confirmed_by"]["decided_by"]["name"],
        "Mette Hansen"
    );
    assert!(confirmed["confirmed_by"]["sub"].is_string(), "{confirmed}");
    assert_eq!(confirmed["in_force_from"], confirmed["confirmed_at"]);

    let window = window_of(&app, "roskilde", &id(&change))
        .await
        .expect("a window opened at confirmation");
    assert_eq!(window["state"], "open");
    assert_eq!(window["opened_at"], confirmed["confirmed_at"]);
    assert_eq!(
        app.authorised("roskilde").await,
        (vec![pair("Microsoft Azure", "agreement")], vec![])
    );
    assert_eq!(
        authorised_at(&app, "roskilde", &before).await,
        Vec::<String>::new()
    );

    // Confirming twice is a conflict; the agreement reads back active.
    app.post(&path, Some(&controller("roskilde")), &json!({}))
        .await
        .problem(409);
    let read = app
        .get(
            &format!("/v1/agreements/{aid}"),
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(read["state"], "active");
    let listed = app
        .get(
            "/v1/processors/timengo-dpg/agreements",
            Some(&processor("timengo-dpg")),
        )
        .await
        .json();
    assert_eq!(listed["items"][0]["state"], "active");

    let events = app.event_types("timengo-dpg").await;
    let position = |t: &str| events.iter().position(|e| e == t);
    assert!(
        position("agreement.proposed") < position("change.announced"),
        "{events:?}"
    );
    assert!(
        position("agreement.confirmed") < position("window.opened"),
        "{events:?}"
    );
    assert!(
        position("change.announced") < position("agreement.confirmed"),
        "{events:?}"
    );
    app.assert_logs_replay().await;
}

on_both_backends!(a_proposed_agreement_counts_for_nothing_until_the_controller_confirms);

/// One live agreement per pair: a second one, proposed or imported, is 409 and says how to
/// change the terms (an amendment of the live one). Once that one is terminated the pair may
/// sign again.
async fn a_second_agreement_for_a_live_pair_points_at_amendments(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    let first = app
        .post(
            "/v1/agreements",
            Some(&processor("timengo-dpg")),
            &body("roskilde", "timengo-dpg", general_terms(30)),
        )
        .await
        .json();
    let aid = id(&first);
    for token in [processor("timengo-dpg"), admin()] {
        let second = app
            .post(
                "/v1/agreements",
                Some(&token),
                &body("roskilde", "timengo-dpg", specific_terms()),
            )
            .await;
        let problem = second.problem(409);
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains(&format!("POST /v1/agreements/{aid}/amendments")),
            "{problem}"
        );
    }
    let ended = app
        .post(
            &format!("/v1/agreements/{aid}/termination"),
            Some(&processor("timengo-dpg")),
            &json!({"reason": "Never confirmed"}),
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(ended.json()["state"], "terminated");
    let again = app
        .post(
            "/v1/agreements",
            Some(&admin()),
            &body("roskilde", "timengo-dpg", specific_terms()),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json()["state"], "active");
}

on_both_backends!(a_second_agreement_for_a_live_pair_points_at_amendments);

/// Terminated now: the open window ends `withdrawn`, later changes open none, and the
/// authorised list from the termination on has nothing from the agreement while before it
/// it is as it was. A past `effective_at` is a field error; terminating twice is 409.
async fn termination_withdraws_open_windows_and_ends_authorisation(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.seed("timengo-dpg", &azure()).await;
    let aid = id(&app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await);
    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let path = format!("/v1/agreements/{aid}/termination");

    // Not a party: nothing to see. A date in the past: what to fix.
    app.post(&path, Some(&controller("lejre")), &json!({}))
        .await
        .problem(404);
    let past = app
        .post(
            &path,
            Some(&controller("roskilde")),
            &json!({"effective_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    past.problem(422);
    assert_eq!(past.error_fields(), ["effective_at"]);

    app.advance("PT1H").await;
    let before = now(&app).await;
    app.advance("PT1H").await;
    let ended = app
        .post(
            &path,
            Some(&controller("roskilde")),
            &json!({"reason": "The service contract ends", "decided_by": {"name": "Mette Hansen"}}),
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    let ended = ended.json();
    assert_eq!(ended["state"], "terminated");
    assert_eq!(ended["termination_reason"], "The service contract ends");
    assert_eq!(ended["terminated_by"]["decided_by"]["name"], "Mette Hansen");
    let window = window_of(&app, "roskilde", &id(&change))
        .await
        .expect("the window");
    assert_eq!(window["state"], "withdrawn");
    assert_eq!(window["closed_at"], ended["terminated_at"]);

    assert_eq!(app.authorised("roskilde").await, (vec![], vec![]));
    assert_eq!(
        authorised_at(&app, "roskilde", &before).await,
        ["Microsoft Azure"]
    );
    let later = app
        .announce_addition("timengo-dpg", &eea_entry("Later ApS"))
        .await;
    assert_eq!(later["windows"], json!([]));

    app.post(&path, Some(&processor("timengo-dpg")), &json!({}))
        .await
        .problem(409);
    let events = app.event_types("timengo-dpg").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "agreement.terminated")
            .count(),
        1,
        "{events:?}"
    );
    let closed = events.iter().rposition(|e| e == "window.closed");
    let terminated = events.iter().position(|e| e == "agreement.terminated");
    assert!(terminated < closed, "{events:?}");
    app.assert_logs_replay().await;
}

on_both_backends!(termination_withdraws_open_windows_and_ends_authorisation);

/// A termination dated three days ahead: until then the agreement is in force and its window
/// open; from then (the sweeper) the window is withdrawn and the agreement `terminated`; the
/// list as of a moment before the date still shows what it authorised.
async fn a_future_termination_takes_effect_at_its_date(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.seed("timengo-dpg", &azure()).await;
    let aid = id(&app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await);
    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let clock = now(&app).await;
    let start = chrono::DateTime::parse_from_rfc3339(clock.as_str().expect("now")).expect("time");
    let effective = (start + chrono::Duration::days(3)).to_rfc3339();
    let scheduled = app
        .post(
            &format!("/v1/agreements/{aid}/termination"),
            Some(&processor("timengo-dpg")),
            &json!({"effective_at": effective}),
        )
        .await;
    assert_eq!(scheduled.status, 200, "{}", scheduled.text);
    let scheduled = scheduled.json();
    assert_eq!(scheduled["state"], "active");
    let terminated_at = scheduled["terminated_at"].clone();
    assert!(terminated_at.is_string(), "{scheduled}");
    let window = window_of(&app, "roskilde", &id(&change))
        .await
        .expect("the window");
    assert_eq!(window["state"], "open");

    app.advance("P2D").await;
    assert_eq!(
        app.authorised("roskilde").await,
        (vec![pair("Microsoft Azure", "agreement")], vec![])
    );
    let just_before = now(&app).await;
    app.advance("P2D").await;
    let window = window_of(&app, "roskilde", &id(&change))
        .await
        .expect("the window");
    assert_eq!(window["state"], "withdrawn");
    assert_eq!(window["closed_at"], terminated_at);
    let read = app
        .get(&format!("/v1/agreements/{aid}"), Some(&admin()))
        .await
        .json();
    assert_eq!(read["state"], "terminated");
    assert_eq!(app.authorised("roskilde").await, (vec![], vec![]));
    assert_eq!(
        authorised_at(&app, "roskilde", &terminated_at).await,
        Vec::<String>::new()
    );
    assert_eq!(
        authorised_at(&app, "roskilde", &just_before).await,
        ["Microsoft Azure"]
    );
    app.assert_logs_replay().await;
}

on_both_backends!(a_future_termination_takes_effect_at_its_date);

/// `allowed_locations`: an entry processing outside them is the blocking conflict
/// `location_not_allowed`: silence ends `not_approved` under general authorisation, and an
/// approval needs the documented instruction. Bad country lists are field errors.
async fn a_location_outside_the_allowed_ones_cannot_pass_in_silence(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    for (codes, field) in [
        (json!(["XX"]), "allowed_locations[0]"),
        (json!([]), "allowed_locations"),
        (json!(["DK", "DK"]), "allowed_locations[1]"),
    ] {
        let mut terms = general_terms(30);
        terms["allowed_locations"] = codes;
        let refused = app
            .post(
                "/v1/agreements",
                Some(&admin()),
                &body("roskilde", "timengo-dpg", terms),
            )
            .await;
        refused.problem(422);
        assert_eq!(refused.error_fields(), [field]);
    }
    let mut terms = general_terms(30);
    terms["allowed_locations"] = json!(["DK", "SE"]);
    let agreement = app
        .agreement("roskilde", "timengo-dpg", terms.clone())
        .await;
    assert_eq!(agreement["allowed_locations"], json!(["DK", "SE"]));
    app.agreement("lejre", "timengo-dpg", terms).await;

    let danish = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let mut german = eea_entry("Hetzner Online GmbH");
    german["registration"] = Value::Null;
    german["country"] = json!("DE");
    german["processing_locations"] = json!(["DE"]);
    let german = app.announce_addition("timengo-dpg", &german).await;
    let danish_window = window_of(&app, "roskilde", &id(&danish))
        .await
        .expect("window");
    assert!(
        !danish_window["conflicts"]
            .as_array()
            .expect("conflicts")
            .contains(&json!("location_not_allowed")),
        "{danish_window}"
    );
    let roskilde = window_of(&app, "roskilde", &id(&german))
        .await
        .expect("window");
    assert!(
        roskilde["conflicts"]
            .as_array()
            .expect("conflicts")
            .contains(&json!("location_not_allowed")),
        "{roskilde}"
    );
    let lejre = window_of(&app, "lejre", &id(&german))
        .await
        .expect("window");
    let path = format!("/v1/controllers/lejre/windows/{}/approval", id(&lejre));
    let bare = app
        .post(&path, Some(&controller("lejre")), &json!({"note": "ok"}))
        .await;
    bare.problem(422);
    assert_eq!(bare.error_fields(), ["instruction"]);

    app.advance("P32D").await;
    let roskilde = app.window("roskilde", &id(&roskilde)).await;
    assert_eq!(roskilde["state"], "not_approved", "{roskilde}");
    let danish_window = app.window("roskilde", &id(&danish_window)).await;
    assert_eq!(danish_window["state"], "tacit_consent");
}

on_both_backends!(a_location_outside_the_allowed_ones_cannot_pass_in_silence);

/// The annex calls itself what the agreement calls it (`annex_name`, default "Bilag B").
async fn the_annex_is_titled_with_the_agreements_annex_name(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    let mut terms = general_terms(30);
    terms["annex_name"] = json!("Bilag 3 (underdatabehandlere)");
    app.agreement("roskilde", "timengo-dpg", terms).await;
    app.agreement("lejre", "timengo-dpg", general_terms(30))
        .await;
    let mut long = general_terms(30);
    long["annex_name"] = json!("x".repeat(201));
    let refused = app
        .post(
            "/v1/agreements",
            Some(&admin()),
            &body("roskilde", "timengo-dpg", long),
        )
        .await;
    assert_eq!(refused.error_fields(), ["annex_name"]);
    for (cid, heading) in [
        (
            "roskilde",
            "<h1>Bilag 3 (underdatabehandlere) – Liste over godkendte underdatabehandlere</h1>",
        ),
        (
            "lejre",
            "<h1>Bilag B – Liste over godkendte underdatabehandlere</h1>",
        ),
    ] {
        let page = app
            .get(
                &format!("/v1/controllers/{cid}/annex?processor=timengo-dpg&lang=da"),
                Some(&controller(cid)),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains(heading), "{}", page.text);
    }
}

on_both_backends!(the_annex_is_titled_with_the_agreements_annex_name);

/// An amendment is a new version: proposed by the processor it changes nothing until the
/// controller confirms it; then the new notice applies to windows opened from then on, while
/// the window already open keeps its deadline and its version. One amendment at a time.
async fn an_amendment_changes_the_notice_for_new_windows_only(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    let aid = id(&app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await);
    let first = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let old = window_of(&app, "roskilde", &id(&first))
        .await
        .expect("window");
    assert_eq!(old["agreement_version"], 1);

    let path = format!("/v1/agreements/{aid}/amendments");
    let unchanged = app
        .post(
            &path,
            Some(&processor("timengo-dpg")),
            &json!({"notice_days": 30}),
        )
        .await;
    assert_eq!(unchanged.error_fields(), ["body"]);
    let amended = app
        .post(
            &path,
            Some(&processor("timengo-dpg")),
            &json!({"notice_days": 7, "decided_by": {"name": "Jens Holm", "role": "CISO"}}),
        )
        .await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    let amended = amended.json();
    assert_eq!(amended["version"], 1);
    assert_eq!(amended["notice_days"], 30);
    assert_eq!(amended["versions"][1]["state"], "proposed");
    assert_eq!(amended["versions"][1]["notice_days"], 7);
    assert_eq!(amended["versions"][1]["proposed_by_party"], "processor");
    assert_eq!(
        amended["versions"][1]["proposed_by"]["decided_by"]["name"],
        "Jens Holm"
    );
    app.post(
        &path,
        Some(&controller("roskilde")),
        &json!({"notice_days": 14}),
    )
    .await
    .problem(409);

    // Not yet confirmed: a new window still gets 30 days under version 1.
    let second = app
        .announce_addition("timengo-dpg", &eea_entry("Second ApS"))
        .await;
    let pending = window_of(&app, "roskilde", &id(&second))
        .await
        .expect("window");
    assert_eq!(pending["agreement_version"], 1);
    assert_eq!(pending["closes_at"], old["closes_at"]);

    let confirmed = app
        .post(
            &format!("/v1/controllers/roskilde/agreements/{aid}/confirmation"),
            Some(&controller("roskilde")),
            &json!({"decided_by": {"name": "Mette Hansen", "role": "DPO"}}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let confirmed = confirmed.json();
    assert_eq!(confirmed["version"], 2);
    assert_eq!(confirmed["notice_days"], 7);
    assert_eq!(confirmed["versions"][1]["state"], "confirmed");
    assert_eq!(
        confirmed["versions"][1]["confirmed_by"]["decided_by"]["name"],
        "Mette Hansen"
    );

    let third = app
        .announce_addition("timengo-dpg", &eea_entry("Third ApS"))
        .await;
    let new = window_of(&app, "roskilde", &id(&third))
        .await
        .expect("window");
    assert_eq!(new["agreement_version"], 2);
    assert!(
        new["closes_at"].as_str() < old["closes_at"].as_str(),
        "{new} {old}"
    );
    let old_now = app.window("roskilde", &id(&old)).await;
    assert_eq!(old_now["closes_at"], old["closes_at"]);
    assert_eq!(old_now["agreement_version"], 1);
    let read = app
        .get(
            &format!("/v1/agreements/{aid}"),
            Some(&processor("timengo-dpg")),
        )
        .await
        .json();
    assert_eq!(read["versions"].as_array().map(Vec::len), Some(2));

    let events = app.event_types("timengo-dpg").await;
    let amended_at = events.iter().position(|e| e == "agreement.amended");
    let confirmed_at = events.iter().rposition(|e| e == "agreement.confirmed");
    assert!(
        amended_at.is_some() && amended_at < confirmed_at,
        "{events:?}"
    );
    app.assert_logs_replay().await;
}

on_both_backends!(an_amendment_changes_the_notice_for_new_windows_only);

/// The controller proposes an amendment (objections need a reason); the processor confirms
/// it. The controller cannot confirm its own; a window opened before keeps the old rule. An
/// admin's amendment takes effect at once.
async fn a_controllers_amendment_is_confirmed_by_the_processor(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    let aid = id(&app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await);
    let before = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let amended = app
        .post(
            &format!("/v1/agreements/{aid}/amendments"),
            Some(&controller("roskilde")),
            &json!({"objection_requires_reason": true}),
        )
        .await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    assert_eq!(
        amended.json()["versions"][1]["proposed_by_party"],
        "controller"
    );
    app.post(
        &format!("/v1/controllers/roskilde/agreements/{aid}/confirmation"),
        Some(&controller("roskilde")),
        &json!({}),
    )
    .await
    .problem(409);
    let path = format!("/v1/processors/timengo-dpg/agreements/{aid}/confirmation");
    app.post(&path, Some(&processor("other")), &json!({}))
        .await
        .problem(403);
    let confirmed = app
        .post(&path, Some(&processor("timengo-dpg")), &json!({}))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let confirmed = confirmed.json();
    assert_eq!(confirmed["version"], 2);
    assert_eq!(confirmed["objection_requires_reason"], true);
    assert!(confirmed["versions"][1]["confirmed_by"]["sub"].is_string());
    app.post(&path, Some(&processor("timengo-dpg")), &json!({}))
        .await
        .problem(409);

    let after = app
        .announce_addition("timengo-dpg", &eea_entry("Later ApS"))
        .await;
    let old = window_of(&app, "roskilde", &id(&before))
        .await
        .expect("window");
    let new = window_of(&app, "roskilde", &id(&after))
        .await
        .expect("window");
    assert_eq!(
        app.object("roskilde", &id(&new), None).await.error_fields(),
        ["reason"]
    );
    assert_eq!(app.object("roskilde", &id(&old), None).await.status, 200);

    let by_admin = app
        .post(
            &format!("/v1/agreements/{aid}/amendments"),
            Some(&admin()),
            &json!({"annex_name": "Bilag 3"}),
        )
        .await;
    assert_eq!(by_admin.status, 201, "{}", by_admin.text);
    let by_admin = by_admin.json();
    assert_eq!(by_admin["version"], 3);
    assert_eq!(by_admin["annex_name"], "Bilag 3");
    assert_eq!(by_admin["versions"][2]["state"], "confirmed");
    app.assert_logs_replay().await;
}

on_both_backends!(a_controllers_amendment_is_confirmed_by_the_processor);

/// After a termination the pair may sign again, but the new agreement's signing does not
/// authorise what the old one's window refused: the objection stands on the list.
async fn a_new_agreement_after_termination_does_not_launder_an_objection(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    let aid = id(&app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await);
    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let wid = window_of(&app, "roskilde", &id(&change))
        .await
        .expect("window");
    assert_eq!(
        app.object("roskilde", &id(&wid), Some("No")).await.status,
        200
    );
    app.advance("P32D").await;
    // The processor takes the change live over the objection, so Qbox is in use.
    assert_eq!(app.go_live_blocked("timengo-dpg").await, 1);
    let ended = app
        .post(
            &format!("/v1/agreements/{aid}/termination"),
            Some(&admin()),
            &json!({}),
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    app.advance("PT1M").await;
    let again = app
        .post(
            "/v1/agreements",
            Some(&admin()),
            &body("roskilde", "timengo-dpg", general_terms(30)),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(
        app.authorised("roskilde").await,
        (vec![], vec![pair("Qbox ApS", "objected")])
    );
    app.assert_logs_replay().await;
}

on_both_backends!(a_new_agreement_after_termination_does_not_launder_an_objection);
