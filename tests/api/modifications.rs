//! Modifications (issue 10 item 8): a change of an existing entry opens windows like an
//! addition, and when effective the entry keeps its id and takes a new version; `as_of` shows
//! the version in force.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// The entry `eid` on the processor's list, now or `as_of`.
async fn listed(app: &TestApp, eid: &str, as_of: Option<&str>) -> Value {
    let query = as_of.map(|t| format!("?as_of={t}")).unwrap_or_default();
    let reply = app
        .get(
            &format!("/v1/processors/timengo-dpg/subprocessors{query}"),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["id"] == eid)
        .cloned()
        .expect("the entry is listed")
}

/// Azure adds a data centre in Sweden: both controllers get a window; one approves, the other
/// stays silent (tacit consent). When effective the entry keeps its id as version 2 with the new
/// locations, the list `as_of` before shows version 1, and each controller's list names the
/// modification's window as what authorised the version in force.
async fn a_modification_versions_the_entry(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    let seeded = app.seed("timengo-dpg", &azure()).await;
    let azure_id = id(&seeded);
    for cid in ["roskilde", "lejre"] {
        app.agreement(cid, "timengo-dpg", general_terms(7)).await;
    }
    let before = app.advance("PT1H").await["now"].clone();
    let mut moved = azure();
    moved["processing_locations"] = json!(["IE", "NL", "SE"]);
    let reply = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &json!({"kind": "modification", "modifies": azure_id, "subprocessor": moved,
                    "summary": "Azure adds a data centre in Sweden", "announce": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let change = reply.json();
    assert_eq!(change["kind"], "modification");
    assert_eq!(change["modifies"], json!(azure_id));
    assert_eq!(change["replaces"], Value::Null);
    assert_eq!(
        change["windows"].as_array().map(Vec::len),
        Some(2),
        "{change}"
    );
    let lejre_window = change["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .find(|w| w["controller_id"] == "lejre")
        .map(id)
        .expect("lejre's window");
    assert_eq!(
        app.approve("lejre", &lejre_window).await.status,
        200,
        "lejre approves"
    );
    // While announced the list keeps version 1.
    assert_eq!(listed(&app, &azure_id, None).await["version"], 1);

    // Past the deadline and a day's reaction time: effective.
    app.advance("P10D").await;
    let now = listed(&app, &azure_id, None).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["processing_locations"], json!(["IE", "NL", "SE"]));
    assert_eq!(now["status"], "active");
    let then = listed(&app, &azure_id, before.as_str()).await;
    assert_eq!(then["version"], 1);
    assert_eq!(then["processing_locations"], json!(["IE", "NL"]));
    let all = app
        .get("/v1/processors/timengo-dpg/subprocessors", None)
        .await
        .json();
    assert_eq!(
        all["items"].as_array().map(Vec::len),
        Some(1),
        "the proposal is not an entry of its own: {all}"
    );

    let (roskilde, alarms) = app.authorised("roskilde").await;
    assert_eq!(roskilde, [pair("Microsoft Azure", "tacit_consent")]);
    assert!(alarms.is_empty());
    let (lejre, _) = app.authorised("lejre").await;
    assert_eq!(lejre, [pair("Microsoft Azure", "approved")]);
    let list = app
        .get(
            "/v1/controllers/lejre/subprocessors",
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert_eq!(list["items"][0]["window_id"], json!(lejre_window));
    assert_eq!(list["items"][0]["id"], json!(azure_id));
    let earlier = app
        .get(
            &format!(
                "/v1/controllers/lejre/subprocessors?as_of={}",
                before.as_str().expect("an instant")
            ),
            Some(&controller("lejre")),
        )
        .await
        .json();
    assert_eq!(earlier["items"][0]["authorised_by"], "agreement");
    assert_eq!(earlier["items"][0]["version"], 1);
    app.assert_logs_replay().await;
}

on_both_backends!(a_modification_versions_the_entry);

/// A modification names the active entry it changes in `modifies`, and nothing else does.
async fn a_modification_names_its_entry(app: TestApp) {
    app.processor("timengo-dpg").await;
    let seeded = app.seed("timengo-dpg", &azure()).await;
    let path = "/v1/processors/timengo-dpg/changes";
    let token = processor("timengo-dpg");
    let cases = [
        (
            json!({"kind": "modification", "subprocessor": azure(), "summary": "s"}),
            vec!["modifies"],
        ),
        (
            json!({"kind": "modification", "modifies": id(&seeded), "replaces": id(&seeded),
                   "subprocessor": azure(), "summary": "s"}),
            vec!["replaces"],
        ),
        (
            json!({"kind": "addition", "modifies": id(&seeded), "subprocessor": azure(),
                   "summary": "s"}),
            vec!["modifies"],
        ),
        (
            json!({"kind": "modification", "modifies": "no-such-entry",
                   "subprocessor": azure(), "summary": "s"}),
            vec!["modifies"],
        ),
        (
            json!({"kind": "modification", "modifies": id(&seeded), "summary": "s"}),
            vec!["subprocessor"],
        ),
    ];
    for (body, fields) in cases {
        let reply = app.post(path, Some(&token), &body).await;
        let problem = reply.problem(422);
        assert_eq!(reply.error_fields(), fields, "{body}: {problem}");
    }
}

on_both_backends!(a_modification_names_its_entry);

/// An objection to a modification blocks it like any change: the entry keeps its version for
/// everyone until the processor resolves the refusal; excluded, the controller's list shows the
/// entry under `excluded`, the other controller's as authorised in its new version.
async fn an_objected_modification_waits_for_a_resolution(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    let seeded = app.seed("timengo-dpg", &azure()).await;
    let azure_id = id(&seeded);
    for cid in ["roskilde", "lejre"] {
        app.agreement(cid, "timengo-dpg", general_terms(7)).await;
    }
    let mut moved = azure();
    moved["purpose"] = json!("Cloud platform and AI-assisted case search");
    let change = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &json!({"kind": "modification", "modifies": azure_id, "subprocessor": moved,
                    "summary": "Azure gets a new purpose", "announce": true}),
        )
        .await
        .json();
    let roskilde_window = change["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .find(|w| w["controller_id"] == "roskilde")
        .map(id)
        .expect("roskilde's window");
    assert_eq!(
        app.object(
            "roskilde",
            &roskilde_window,
            Some("Not for our citizens' cases")
        )
        .await
        .status,
        200
    );
    app.advance("P10D").await;
    let chid = id(&change);
    let blocked = app
        .get(
            &format!("/v1/processors/timengo-dpg/changes/{chid}"),
            Some(&processor("timengo-dpg")),
        )
        .await
        .json();
    assert_eq!(blocked["state"], "blocked", "{blocked}");
    assert_eq!(listed(&app, &azure_id, None).await["version"], 1);

    let resolved = app
        .post(
            &format!("/v1/processors/timengo-dpg/changes/{chid}/resolutions"),
            Some(&processor("timengo-dpg")),
            &json!({"window_id": roskilde_window, "resolution": "excluded",
                    "note": "Roskilde's cases stay out of the search index"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    let now = listed(&app, &azure_id, None).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["purpose"], "Cloud platform and AI-assisted case search");
    let roskilde = app
        .get(
            "/v1/controllers/roskilde/subprocessors",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(roskilde["items"], json!([]), "{roskilde}");
    assert_eq!(roskilde["excluded"][0]["id"], json!(azure_id));
    assert_eq!(roskilde["excluded"][0]["window_id"], json!(roskilde_window));
    let (lejre, alarms) = app.authorised("lejre").await;
    assert_eq!(lejre, [pair("Microsoft Azure", "tacit_consent")]);
    assert!(alarms.is_empty());
    app.assert_logs_replay().await;
}

on_both_backends!(an_objected_modification_waits_for_a_resolution);
