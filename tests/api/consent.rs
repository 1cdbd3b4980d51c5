//! The consent model the contracts describe (issue 10): what silence cannot cure, and what an
//! approval over a contractual ban needs.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

/// The window a change opened for controller `cid`.
fn window_for(change: &Value, cid: &str) -> Value {
    change["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .find(|w| w["controller_id"] == cid)
        .expect("a window")
        .clone()
}

/// The id of that window.
fn window_id(change: &Value, cid: &str) -> String {
    window_for(change, cid)["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

/// Seed 004 (Roskilde Kommune, general authorisation, "Databehandleren overfører ikke
/// Personoplysningerne til tredjelande"): a US sub-processor announced under it. Silence does
/// not amend the ban: the window ends `not_approved`, the entry is an alarm on the authorised
/// list and in the annex; approving it takes a documented instruction, which the approval, the
/// authorised list and the annex then carry.
async fn silence_cannot_cure_a_transfer_ban(app: TestApp) {
    app.processor("roskilde-hosting").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "roskilde-hosting", hosting_terms())
        .await;
    app.agreement("lejre", "roskilde-hosting", hosting_terms())
        .await;
    let us = app
        .announce_addition("roskilde-hosting", &us_with_sccs("Backblaze, Inc."))
        .await;
    let (roskilde, lejre) = (window_id(&us, "roskilde"), window_id(&us, "lejre"));

    // Approving without an instruction is refused and names the field.
    let path = format!("/v1/controllers/lejre/windows/{lejre}/approval");
    let bare = app
        .post(&path, Some(&controller("lejre")), &json!({"note": "ok"}))
        .await;
    let problem = bare.problem(422);
    assert_eq!(bare.error_fields(), ["instruction"], "{problem}");
    assert_eq!(app.window("lejre", &lejre).await["state"], "open");
    let blank = app
        .post(
            &path,
            Some(&controller("lejre")),
            &json!({"instruction": "   "}),
        )
        .await;
    assert_eq!(blank.error_fields(), ["instruction"]);

    // With one, it is approved and the instruction is kept.
    let instruction = "Backblaze may hold encrypted backups in the US (EU-US DPF); no other data.";
    let approved = app
        .post(
            &path,
            Some(&controller("lejre")),
            &json!({"note": "DPO", "instruction": instruction}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.json()["state"], "approved");
    assert_eq!(approved.json()["approval"]["instruction"], instruction);

    // Roskilde stays silent past the deadline: not approved, not tacit consent. The change is
    // blocked until the processor resolves that or, here, takes it live explicitly.
    app.advance("P9D").await;
    let window = app.window("roskilde", &roskilde).await;
    assert_eq!(window["state"], "not_approved", "{window}");
    assert_eq!(app.authorised("roskilde").await, (vec![], vec![]));
    assert_eq!(app.go_live_blocked("roskilde-hosting").await, 1);
    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![],
            vec![pair("Backblaze, Inc.", "in_use_without_authorisation")]
        )
    );
    assert_eq!(
        app.authorised("lejre").await,
        (vec![pair("Backblaze, Inc.", "approved")], vec![])
    );
    let list = app
        .get(
            "/v1/controllers/lejre/subprocessors",
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert_eq!(list["items"][0]["instruction"], instruction);

    // The annex says the same, as JSON and as the printed page.
    let annex = app
        .get(
            "/v1/controllers/roskilde/annex.json?processor=roskilde-hosting",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(annex["items"], json!([]));
    assert_eq!(
        annex["not_authorised"][0]["reason"],
        "in_use_without_authorisation"
    );
    let annex = app
        .get(
            "/v1/controllers/lejre/annex.json?processor=roskilde-hosting",
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert_eq!(annex["items"][0]["instruction"], instruction);
    let page = app
        .get(
            "/v1/controllers/lejre/annex?processor=roskilde-hosting&lang=da",
            Some(&controller("lejre")),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text
            .contains(&format!("Dokumenteret instruks: {instruction}")),
        "{}",
        page.text
    );
    // The event log records the instruction with the approval.
    let events = app
        .get(
            "/v1/processors/roskilde-hosting/events?limit=500",
            Some(&processor("roskilde-hosting")),
        )
        .await
        .json();
    let given = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["type"] == "approval.given")
        .expect("approval.given")
        .clone();
    assert_eq!(given["data"]["approval"]["instruction"], instruction);
    app.assert_logs_replay().await;
}

on_both_backends!(silence_cannot_cure_a_transfer_ban);

/// The laundering the review found: after a controller objected, a second agreement for the
/// same pair (signed later) made the objected entry "authorised by agreement". A second
/// agreement for a pair is refused, and the objection stands.
async fn a_second_agreement_cannot_launder_an_objection(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let wid = change["windows"][0]["id"].as_str().expect("window id");
    assert_eq!(app.object("roskilde", wid, Some("No")).await.status, 200);
    app.advance("P32D").await;
    assert_eq!(app.go_live_blocked("timengo-dpg").await, 1);
    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![],
            vec![pair("Qbox ApS", "in_use_without_authorisation")]
        )
    );
    let mut terms = general_terms(30);
    terms["controller_id"] = json!("roskilde");
    terms["processor_id"] = json!("timengo-dpg");
    let second = app.post("/v1/agreements", Some(&admin()), &terms).await;
    let problem = second.problem(409);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already has an agreement")),
        "{problem}"
    );
    assert_eq!(
        app.authorised("roskilde").await,
        (
            vec![],
            vec![pair("Qbox ApS", "in_use_without_authorisation")]
        )
    );
}

on_both_backends!(a_second_agreement_cannot_launder_an_objection);

/// "7 kalenderdage" (seed 004) counted as the EU counts periods in days (Reg. 1182/71 art. 3):
/// a notice given on 24 March 2027 at 15:30 in Copenhagen closes at the end of 31 March, i.e.
/// 1 April 00:00 CEST, though summer time began in between; an agreement may name another
/// time zone, and one that does not exist is a field error.
async fn deadlines_are_calendar_days_in_the_agreements_time_zone(app: TestApp) {
    app.processor("roskilde-hosting").await;
    app.controller("roskilde").await;
    app.controller("nuuk").await;
    let roskilde = app
        .agreement("roskilde", "roskilde-hosting", hosting_terms())
        .await;
    assert_eq!(roskilde["time_zone"], "Europe/Copenhagen");
    let mut terms = general_terms(7);
    terms["controller_id"] = json!("nuuk");
    terms["processor_id"] = json!("roskilde-hosting");
    terms["time_zone"] = json!("Mars/Olympus_Mons");
    let refused = app.post("/v1/agreements", Some(&admin()), &terms).await;
    refused.problem(422);
    assert_eq!(refused.error_fields(), ["time_zone"]);
    terms["time_zone"] = json!("America/Nuuk");
    let nuuk = app.post("/v1/agreements", Some(&admin()), &terms).await;
    assert_eq!(nuuk.status, 201, "{}", nuuk.text);
    assert_eq!(nuuk.json()["time_zone"], "America/Nuuk");

    app.advance_to(&json!("2027-03-24T14:30:00Z"), 0).await;
    let change = app
        .announce_addition("roskilde-hosting", &eea_entry("Qbox ApS"))
        .await;
    let copenhagen = window_for(&change, "roskilde");
    assert_eq!(copenhagen["closes_at"], "2027-03-31T22:00:00Z");
    assert_eq!(copenhagen["closes_on_local_date"], "2027-03-31");
    // Nuuk (UTC-2 in March 2027, summer time from 27 March at -1): 24 March 12:30 local; the
    // 7th day is 31 March, ending 1 April 00:00 -01:00.
    let nuuk = window_for(&change, "nuuk");
    assert_eq!(nuuk["closes_on_local_date"], "2027-03-31");
    assert_eq!(nuuk["closes_at"], "2027-04-01T01:00:00Z");
    // The change may go live only when the last window has closed.
    assert_eq!(change["earliest_use"], "2027-04-01T01:00:00Z");

    // One second before the end of 31 March the window is open; at the end it closes.
    let wid = copenhagen["id"].as_str().expect("id");
    app.advance_to(&copenhagen["closes_at"], -1).await;
    assert_eq!(app.window("roskilde", wid).await["state"], "open");
    app.advance("PT2S").await;
    let closed = app.window("roskilde", wid).await;
    assert_eq!(closed["state"], "tacit_consent", "{closed}");
    assert_eq!(closed["closed_at"], "2027-03-31T22:00:00Z");
}

on_both_backends!(deadlines_are_calendar_days_in_the_agreements_time_zone);

/// Seed 000 (Timengo DPG, specific authorisation: silence is not approval) sets no deadline on
/// the approval itself: Roskilde approves Qbox a week after the window lapsed. The change,
/// blocked by the refusal until then, becomes effective with the approval, and the entry is
/// authorised from that moment, marked late; before it, it was not in use. A withdrawn change
/// is not approved late, an authorisation does not turn into an objection, and a late approval
/// is in the evidence log.
async fn a_refusal_may_be_approved_late(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", specific_terms())
        .await;
    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let wid = change["windows"][0]["id"].as_str().expect("id").to_string();
    let deadline = change["windows"][0]["closes_at"].clone();
    app.advance_to(&deadline, 60).await;
    assert_eq!(app.window("roskilde", &wid).await["state"], "not_approved");
    let lapsed = app.advance("P7D").await["now"].clone();
    assert_eq!(app.authorised("roskilde").await, (vec![], vec![]));

    // An objection after the deadline is refused; the approval a week late is not.
    let objection = app
        .object("roskilde", &wid, Some("Too late to object"))
        .await;
    assert_eq!(objection.problem(409)["state"], "not_approved");
    app.advance("PT1H").await;
    let approved = app.approve("roskilde", &wid).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let window = approved.json();
    assert_eq!(window["state"], "approved");
    assert_eq!(window["late"], true);
    assert_eq!(window["ended_as"], "not_approved");
    assert_eq!(window["approval"]["note"], "Approved by the DPO");
    assert_eq!(window["change"]["state"], "effective");

    // Authorised from the approval on, marked late; before it, still the alarm.
    let list = app
        .get(
            "/v1/controllers/roskilde/subprocessors",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(list["items"][0]["name"], "Qbox ApS");
    assert_eq!(list["items"][0]["authorised_by"], "approved");
    assert_eq!(list["items"][0]["late"], true);
    let before = app
        .get(
            &format!(
                "/v1/controllers/roskilde/subprocessors?as_of={}",
                lapsed.as_str().expect("now")
            ),
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(before["items"], json!([]), "{before}");
    assert_eq!(before["not_authorised"], json!([]));
    let page = app
        .get(
            "/v1/controllers/roskilde/annex?processor=timengo-dpg&lang=da",
            Some(&controller("roskilde")),
        )
        .await;
    assert!(page.text.contains("(efter fristen)"), "{}", page.text);

    // Approving again, or objecting now, changes nothing.
    assert_eq!(
        app.approve("roskilde", &wid).await.problem(409)["state"],
        "approved"
    );
    assert_eq!(
        app.object("roskilde", &wid, Some("No")).await.problem(409)["state"],
        "approved"
    );
    let types = app.event_types("timengo-dpg").await;
    assert_eq!(
        types.iter().filter(|t| *t == "approval.given").count(),
        1,
        "{types:?}"
    );
    app.assert_logs_replay().await;
}

/// A change withdrawn after its window lapsed is not approved late.
async fn a_withdrawn_change_is_not_approved_late(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", specific_terms())
        .await;
    let mut body = json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"),
        "summary": "Qbox", "announce": true, "planned_from": "2030-01-01T00:00:00Z"});
    let change = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &body,
        )
        .await
        .json();
    let wid = change["windows"][0]["id"].as_str().expect("id").to_string();
    app.advance_to(&change["windows"][0]["closes_at"], 60).await;
    body = json!({});
    let withdrawn = app
        .post(
            &format!(
                "/v1/processors/timengo-dpg/changes/{}/withdraw",
                change["id"].as_str().expect("id")
            ),
            Some(&processor("timengo-dpg")),
            &body,
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    assert_eq!(
        app.approve("roskilde", &wid).await.problem(409)["state"],
        "not_approved"
    );
    app.assert_logs_replay().await;
}

on_both_backends!(
    a_refusal_may_be_approved_late,
    a_withdrawn_change_is_not_approved_late
);

/// Decisions record who made them: the person the body names (`decided_by`, optional so older
/// clients keep working) and the token's `sub` (always), on the window and in its event.
async fn decisions_record_who_decided(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("greve").await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    app.agreement("greve", "timengo-dpg", general_terms(30))
        .await;
    let change = app
        .announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let (roskilde, greve) = (window_id(&change, "roskilde"), window_id(&change, "greve"));
    let objection = format!("/v1/controllers/roskilde/windows/{roskilde}/objection");

    // A named person needs a name; the fields are checked like any other.
    let nameless = app
        .post(
            &objection,
            Some(&controller("roskilde")),
            &json!({"reason": "No", "decided_by": {"role": "DPO"}}),
        )
        .await;
    nameless.problem(422);
    assert_eq!(nameless.error_fields(), ["decided_by.name"]);
    let long = app
        .post(
            &objection,
            Some(&controller("roskilde")),
            &json!({"decided_by": {"name": "x".repeat(201)}}),
        )
        .await;
    assert_eq!(long.error_fields(), ["decided_by.name"]);

    let objected = app
        .post(
            &objection,
            Some(&controller("roskilde")),
            &json!({"reason": "No", "decided_by": {"name": " Mette Hansen ", "role": "DPO"}}),
        )
        .await;
    assert_eq!(objected.status, 200, "{}", objected.text);
    assert_eq!(
        objected.json()["objection"]["by"],
        json!({"decided_by": {"name": "Mette Hansen", "role": "DPO"}, "sub": "controller:roskilde"})
    );
    // Without `decided_by` the token's subject is still recorded.
    let approved = app.approve("greve", &greve).await;
    assert_eq!(
        approved.json()["approval"]["by"],
        json!({"decided_by": null, "sub": "controller:greve"})
    );
    let events = app
        .get(
            "/v1/processors/timengo-dpg/events?limit=500",
            Some(&processor("timengo-dpg")),
        )
        .await
        .json();
    let raised = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["type"] == "objection.raised")
        .expect("objection.raised")
        .clone();
    assert_eq!(
        raised["data"]["objection"]["by"]["decided_by"]["name"],
        "Mette Hansen"
    );
    app.assert_logs_replay().await;
}

on_both_backends!(decisions_record_who_decided);
