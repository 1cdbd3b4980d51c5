//! No go-live over an objection without a recorded resolution (issue 10, items 6, 7, 9): the
//! reaction time, blocked changes, resolutions by exclusion, postponement, the explicit
//! go-live, replacements per controller and the late withdrawal of an objection.

use crate::helpers::*;
use crate::on_both_backends;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const PID: &str = "timengo-dpg";

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("an instant"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn window_id(change: &Value, cid: &str) -> String {
    change["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .find(|w| w["controller_id"] == cid)
        .expect("a window")["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// A processor with two customers under general authorisation, seven days' notice.
async fn two_customers(app: &TestApp) {
    app.processor(PID).await;
    for cid in ["roskilde", "lejre"] {
        app.controller(cid).await;
        app.agreement(cid, PID, general_terms(7)).await;
    }
}

async fn change(app: &TestApp, chid: &str) -> Value {
    let reply = app
        .get(
            &format!("/v1/processors/{PID}/changes/{chid}"),
            Some(&processor(PID)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn step(app: &TestApp, chid: &str, what: &str, body: &Value) -> Reply {
    app.post(
        &format!("/v1/processors/{PID}/changes/{chid}/{what}"),
        Some(&processor(PID)),
        body,
    )
    .await
}

/// Announces Qbox, Roskilde objects, and the clock passes `planned_from`: the change is blocked.
async fn blocked_by_roskilde(app: &TestApp) -> (Value, String, String) {
    two_customers(app).await;
    let qbox = app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    let roskilde = window_id(&qbox, "roskilde");
    let reply = app
        .object("roskilde", &roskilde, Some("Not in Denmark"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.advance_to(&qbox["planned_from"], 1).await;
    (qbox.clone(), id(&qbox), roskilde)
}

/// `planned_from` leaves the reaction time (default one day) after the last window closes: the
/// default is that instant, an earlier one is refused naming it, and the sweep that closes the
/// windows does not make the change effective.
async fn planned_from_leaves_a_day_to_react(app: TestApp) {
    two_customers(&app).await;
    let qbox = app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    let closes_at = instant(&qbox["windows"][0]["closes_at"]);
    assert_eq!(
        instant(&qbox["planned_from"]),
        closes_at + Duration::days(1),
        "{qbox}"
    );

    let early = closes_at + Duration::hours(12);
    let body = json!({"kind": "addition", "subprocessor": eea_entry("Early ApS"),
                      "summary": "Too soon", "planned_from": early, "announce": true});
    let reply = app
        .post(
            &format!("/v1/processors/{PID}/changes"),
            Some(&processor(PID)),
            &body,
        )
        .await;
    let problem = reply.problem(422);
    assert_eq!(
        instant(&problem["earliest_allowed"]),
        closes_at + Duration::days(1),
        "{problem}"
    );
    assert_eq!(reply.error_fields(), ["planned_from"]);

    // The windows close in silence; the change waits for the reaction time to pass.
    app.advance_to(&qbox["windows"][0]["closes_at"], 1).await;
    let waiting = change(&app, &id(&qbox)).await;
    assert_eq!(waiting["state"], "announced", "{waiting}");
    assert_eq!(waiting["windows"][0]["state"], "tacit_consent");
    app.advance_to(&qbox["planned_from"], 1).await;
    let live = change(&app, &id(&qbox)).await;
    assert_eq!(live["state"], "effective", "{live}");
    assert_eq!(live["blocked_by"], json!([]));
}

/// An objection blocks the change at `planned_from` (`change.blocked`, `blocked_by`); the
/// processor's exclusion resolves it, the controller's list shows the entry as excluded, and the
/// change becomes effective with the last resolution. A late approval still authorises it.
async fn an_exclusion_resolves_a_blocked_change(app: TestApp) {
    let (qbox, chid, roskilde) = blocked_by_roskilde(&app).await;
    let lejre = window_id(&qbox, "lejre");
    let blocked = change(&app, &chid).await;
    assert_eq!(blocked["state"], "blocked", "{blocked}");
    assert_eq!(blocked["blocked_by"], json!([roskilde]));
    let public = app
        .get(&format!("/v1/processors/{PID}/changes/{chid}"), None)
        .await;
    assert_eq!(public.json()["state"], "blocked");
    let events = app.event_types(PID).await;
    assert_eq!(
        events.iter().filter(|t| *t == "change.blocked").count(),
        1,
        "{events:?}"
    );
    assert!(!events.contains(&"change.effective".to_string()));
    app.advance("PT1H").await;
    let events = app.event_types(PID).await;
    assert_eq!(events.iter().filter(|t| *t == "change.blocked").count(), 1);

    // Only a refused window is resolved, once; a window of another change is unknown.
    let body = |wid: &str| {
        json!({"window_id": wid, "resolution": "excluded",
               "note": "Roskilde's logs stay with our own servers",
               "decided_by": {"name": "Jens Jensen", "role": "CISO"}})
    };
    let refused = step(&app, &chid, "resolutions", &body(&lejre)).await;
    assert!(
        refused.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("tacit_consent"),
        "{}",
        refused.text
    );
    step(&app, &chid, "resolutions", &body("no-such-window"))
        .await
        .problem(404);
    let missing = step(&app, &chid, "resolutions", &json!({})).await;
    assert_eq!(missing.error_fields(), ["window_id", "resolution"]);

    let resolved = step(&app, &chid, "resolutions", &body(&roskilde)).await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    let window = resolved.json();
    assert_eq!(window["resolution"]["resolution"], "excluded");
    assert_eq!(window["resolution"]["decided_by"]["name"], "Jens Jensen");
    assert_eq!(window["resolution"]["sub"], format!("processor:{PID}"));
    assert_eq!(window["state"], "objected");
    assert_eq!(window["change"]["state"], "effective");
    let again = step(&app, &chid, "resolutions", &body(&roskilde)).await;
    assert!(again.problem(409)["detail"]
        .as_str()
        .unwrap()
        .contains("already resolved"));
    let events = app.event_types(PID).await;
    assert!(events.ends_with(&[
        "window.resolved".to_string(),
        "change.effective".to_string()
    ]));

    let list = app
        .get(
            "/v1/controllers/roskilde/subprocessors",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(list["excluded"][0]["name"], "Qbox ApS", "{list}");
    assert_eq!(list["excluded"][0]["window_id"], roskilde.as_str());
    assert_eq!(
        list["excluded"][0]["resolution_note"],
        "Roskilde's logs stay with our own servers"
    );
    assert_eq!(list["not_authorised"], json!([]));
    assert_eq!(
        app.authorised("lejre").await,
        (vec![pair("Qbox ApS", "tacit_consent")], vec![])
    );

    // Roskilde changes its mind: a late approval of an excluded window authorises from then.
    let late = app.approve("roskilde", &roskilde).await;
    assert_eq!(late.status, 200, "{}", late.text);
    assert_eq!(late.json()["late"], true);
    let list = app
        .get(
            "/v1/controllers/roskilde/subprocessors",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(list["excluded"], json!([]));
    assert_eq!(list["items"][0]["authorised_by"], "approved");
    app.assert_logs_replay().await;
}

/// A postponement moves `planned_from` later and unblocks; a blocked change may be withdrawn.
async fn postponement_unblocks_and_withdrawal_ends_a_blocked_change(app: TestApp) {
    let (_, chid, roskilde) = blocked_by_roskilde(&app).await;
    // A customer signing now gets its own window on the blocked change, which is not in use.
    app.controller("greve").await;
    app.agreement("greve", PID, general_terms(7)).await;
    assert_eq!(app.windows("greve").await.len(), 1);
    let current = instant(&change(&app, &chid).await["planned_from"]);
    let now = instant(&app.get("/v1/admin/clock", Some(&admin())).await.json()["now"]);

    let earlier = step(
        &app,
        &chid,
        "postponement",
        &json!({"planned_from": current}),
    )
    .await;
    assert_eq!(earlier.error_fields(), ["planned_from"], "{}", earlier.text);
    let missing = step(&app, &chid, "postponement", &json!({})).await;
    assert_eq!(missing.error_fields(), ["planned_from"]);

    let later = now + Duration::days(14);
    let postponed = step(&app, &chid, "postponement", &json!({"planned_from": later})).await;
    assert_eq!(postponed.status, 200, "{}", postponed.text);
    let postponed = postponed.json();
    assert_eq!(postponed["state"], "announced");
    assert_eq!(instant(&postponed["planned_from"]), later);
    assert_eq!(postponed["blocked_by"], json!([]));
    assert!(app
        .event_types(PID)
        .await
        .contains(&"change.postponed".to_string()));

    // Still unresolved at the new instant: blocked again.
    app.advance("P15D").await;
    let blocked = change(&app, &chid).await;
    assert_eq!(blocked["state"], "blocked", "{blocked}");
    assert_eq!(blocked["blocked_by"], json!([roskilde]));

    let withdrawn = step(&app, &chid, "withdraw", &json!({})).await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    assert_eq!(withdrawn.json()["state"], "withdrawn");
    let gone = step(
        &app,
        &chid,
        "postponement",
        &json!({"planned_from": later + Duration::days(30)}),
    )
    .await;
    assert_eq!(gone.problem(409)["state"], "withdrawn");
    app.assert_logs_replay().await;
}

/// Going live over an unresolved objection needs the acknowledgement; then it is recorded and
/// the objecting controller sees `in_use_without_authorisation`.
async fn go_live_over_an_objection_is_explicit(app: TestApp) {
    let (_, chid, roskilde) = blocked_by_roskilde(&app).await;
    let bare = step(&app, &chid, "go-live", &json!({})).await;
    assert_eq!(
        bare.error_fields(),
        ["acknowledge_unresolved"],
        "{}",
        bare.text
    );
    let no = step(
        &app,
        &chid,
        "go-live",
        &json!({"acknowledge_unresolved": false}),
    )
    .await;
    assert_eq!(no.error_fields(), ["acknowledge_unresolved"]);
    assert_eq!(change(&app, &chid).await["state"], "blocked");

    let live = step(
        &app,
        &chid,
        "go-live",
        &json!({"acknowledge_unresolved": true, "decided_by": {"name": "Jens Jensen", "role": "CEO"}}),
    )
    .await;
    assert_eq!(live.status, 200, "{}", live.text);
    let live = live.json();
    assert_eq!(live["state"], "effective");
    assert_eq!(live["live_over_unresolved"], json!([roskilde]));
    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![],
            vec![pair("Qbox ApS", "in_use_without_authorisation")]
        )
    );
    assert_eq!(
        app.authorised("lejre").await,
        (vec![pair("Qbox ApS", "tacit_consent")], vec![])
    );
    let events = app
        .get(
            &format!("/v1/processors/{PID}/events?limit=500"),
            Some(&processor(PID)),
        )
        .await
        .json();
    let effective = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "change.effective")
        .expect("change.effective")
        .clone();
    assert_eq!(effective["data"]["live_over_unresolved"], json!([roskilde]));
    assert_eq!(
        effective["data"]["went_live_by"]["decided_by"]["name"],
        "Jens Jensen"
    );
    let again = step(
        &app,
        &chid,
        "go-live",
        &json!({"acknowledge_unresolved": true}),
    )
    .await;
    assert_eq!(again.problem(409)["state"], "effective");
    app.assert_logs_replay().await;
}

/// On a replacement the replaced entry stays on the objecting controller's list, authorised as
/// before, until the replacement is authorised or resolved for it.
async fn a_replaced_entry_stays_until_the_replacement_is_resolved(app: TestApp) {
    app.processor(PID).await;
    let azure = app.seed(PID, &azure()).await;
    for cid in ["roskilde", "lejre"] {
        app.controller(cid).await;
        app.agreement(cid, PID, general_terms(7)).await;
    }
    let body = json!({"kind": "replacement", "replaces": azure["id"], "subprocessor": eea_entry("Qbox ApS"),
                      "summary": "Qbox replaces Azure", "announce": true});
    let reply = app
        .post(
            &format!("/v1/processors/{PID}/changes"),
            Some(&processor(PID)),
            &body,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let qbox = reply.json();
    let (chid, roskilde) = (id(&qbox), window_id(&qbox, "roskilde"));
    app.object("roskilde", &roskilde, None).await;
    app.advance_to(&qbox["planned_from"], 1).await;
    let live = step(
        &app,
        &chid,
        "go-live",
        &json!({"acknowledge_unresolved": true}),
    )
    .await;
    assert_eq!(live.status, 200, "{}", live.text);

    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![pair("Microsoft Azure", "agreement")],
            vec![pair("Qbox ApS", "in_use_without_authorisation")]
        )
    );
    assert_eq!(
        app.authorised("lejre").await,
        (vec![pair("Qbox ApS", "tacit_consent")], vec![])
    );

    let resolved = step(
        &app,
        &chid,
        "resolutions",
        &json!({"window_id": roskilde, "resolution": "excluded"}),
    )
    .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(resolved.json()["resolution"]["note"], Value::Null);
    let list = app
        .get(
            "/v1/controllers/roskilde/subprocessors",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(list["items"], json!([]), "{list}");
    assert_eq!(list["excluded"][0]["name"], "Qbox ApS");
    assert_eq!(list["not_authorised"], json!([]));
    app.assert_logs_replay().await;
}

/// After the deadline a standing objection may still be withdrawn: the window becomes approved,
/// late, and the change is not blocked; where the agreement forbids the entry, the controller
/// is told to approve with an instruction instead.
async fn a_late_objection_withdrawal_approves_late(app: TestApp) {
    two_customers(&app).await;
    let qbox = app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    let roskilde = window_id(&qbox, "roskilde");
    app.object("roskilde", &roskilde, Some("Not yet")).await;
    app.advance_to(&qbox["windows"][0]["closes_at"], 1).await;
    assert_eq!(app.window("roskilde", &roskilde).await["state"], "objected");

    let path = format!("/v1/controllers/roskilde/windows/{roskilde}/objection");
    let reply = app.delete(&path, Some(&controller("roskilde"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let window = reply.json();
    assert_eq!(window["state"], "approved");
    assert_eq!(window["late"], true);
    assert_eq!(window["ended_as"], "objected");
    assert!(app
        .event_types(PID)
        .await
        .ends_with(&["objection.withdrawn".to_string()]));
    app.advance_to(&qbox["planned_from"], 1).await;
    assert_eq!(change(&app, &id(&qbox)).await["state"], "effective");

    // Under a transfer ban the withdrawal alone would authorise without an instruction.
    app.processor("roskilde-hosting").await;
    app.agreement("roskilde", "roskilde-hosting", hosting_terms())
        .await;
    let us = app
        .announce_addition("roskilde-hosting", &us_with_sccs("Backblaze, Inc."))
        .await;
    let banned = window_id(&us, "roskilde");
    app.object("roskilde", &banned, Some("Data leaves the EEA"))
        .await;
    app.advance_to(&us["windows"][0]["closes_at"], 1).await;
    let path = format!("/v1/controllers/roskilde/windows/{banned}/objection");
    let refused = app.delete(&path, Some(&controller("roskilde"))).await;
    let problem = refused.problem(409);
    assert!(
        problem["detail"].as_str().unwrap().contains("instruction"),
        "{problem}"
    );
    assert_eq!(app.window("roskilde", &banned).await["state"], "objected");
    app.assert_logs_replay().await;
}

/// The public page keeps a blocked change among the announced ones and says, in Danish and
/// English, that it is not in use yet; once resolved it moves to the history.
async fn the_public_page_shows_a_blocked_change(app: TestApp) {
    let (_, chid, roskilde) = blocked_by_roskilde(&app).await;
    for (lang, words) in [
        ("en", "Not in use yet: a customer has refused the change"),
        (
            "da",
            "Endnu ikke taget i brug: en dataansvarlig har afvist ændringen",
        ),
    ] {
        let page = app
            .get(&format!("/processors/{PID}?lang={lang}"), None)
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains(words), "{lang}: {}", page.text);
        assert!(page.text.contains("Qbox ApS"));
    }
    let resolved = step(
        &app,
        &chid,
        "resolutions",
        &json!({"window_id": roskilde, "resolution": "excluded"}),
    )
    .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    let page = app.get(&format!("/processors/{PID}?lang=en"), None).await;
    assert!(!page.text.contains("Not in use yet"), "{}", page.text);
}

on_both_backends!(
    the_public_page_shows_a_blocked_change,
    planned_from_leaves_a_day_to_react,
    an_exclusion_resolves_a_blocked_change,
    postponement_unblocks_and_withdrawal_ends_a_blocked_change,
    go_live_over_an_objection_is_explicit,
    a_replaced_entry_stays_until_the_replacement_is_resolved,
    a_late_objection_withdrawal_approves_late,
);
