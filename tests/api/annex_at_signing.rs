//! An agreement's own annex (Bilag B, issue 10 item 2): the entries it authorises are recorded
//! on it, by default the processor's list at signing, or as an import names them with the
//! earlier decisions that authorised them, so an existing customer is onboarded without alarms.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// A 2025 contract recorded in 2026: its Bilag B names the two entries in use, one authorised
/// by the agreement itself, one approved in writing later in 2025. Neither is an alarm, the
/// annex dates each from its decision, and the agreement shows its annex.
async fn an_imported_2025_annex_raises_no_alarm(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    let azure = app.seed("timengo-dpg", &azure()).await;
    let qbox = app.seed("timengo-dpg", &eea_entry("Qbox ApS")).await;
    let mut body = general_terms(30);
    body["controller_id"] = json!("roskilde");
    body["processor_id"] = json!("timengo-dpg");
    body["signed_at"] = json!("2025-03-01T09:00:00Z");
    body["authorised_at_signing"] = json!([
        {"subprocessor_id": id(&azure)},
        {"subprocessor_id": id(&qbox), "authorised_by": "approved",
         "decided_at": "2025-06-02T10:00:00Z"}
    ]);
    let created = app.post("/v1/agreements", Some(&admin()), &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let agreement = created.json();
    assert_eq!(
        agreement["authorised_at_signing"],
        json!([
            {"subprocessor_id": id(&azure), "authorised_by": "agreement",
             "decided_at": "2025-03-01T09:00:00Z"},
            {"subprocessor_id": id(&qbox), "authorised_by": "approved",
             "decided_at": "2025-06-02T10:00:00Z"}
        ])
        .as_array()
        .map(|expected| {
            let mut sorted = expected.clone();
            sorted.sort_by_key(|e| e["subprocessor_id"].as_str().map(String::from));
            Value::Array(sorted)
        })
        .expect("array")
    );
    let shown = app
        .get(
            &format!("/v1/agreements/{}", id(&agreement)),
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(
        shown.json()["authorised_at_signing"],
        agreement["authorised_at_signing"]
    );

    let (items, alarms) = app.authorised("roskilde").await;
    assert_eq!(
        items,
        [
            pair("Microsoft Azure", "agreement"),
            pair("Qbox ApS", "approved")
        ]
    );
    assert!(alarms.is_empty(), "{alarms:?}");

    let annex = app
        .get(
            "/v1/controllers/roskilde/annex.json?processor=timengo-dpg",
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(annex.status, 200, "{}", annex.text);
    let annex = annex.json();
    let authorised_at = |name: &str| {
        annex["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["authorised_at"].clone())
            .expect("listed")
    };
    assert_eq!(authorised_at("Microsoft Azure"), "2025-03-01T09:00:00Z");
    assert_eq!(authorised_at("Qbox ApS"), "2025-06-02T10:00:00Z");
    assert!(annex["not_authorised"]
        .as_array()
        .expect("array")
        .is_empty());
    app.assert_logs_replay().await;
}

on_both_backends!(an_imported_2025_annex_raises_no_alarm);

/// Without an annex in the body the agreement's annex is the processor's list at signing; an
/// annex that leaves an entry in use out makes that entry an alarm, not an authorisation.
async fn the_annex_defaults_to_the_list_at_signing_and_is_exact_when_given(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    let azure = app.seed("timengo-dpg", &azure()).await;
    app.seed("timengo-dpg", &eea_entry("Qbox ApS")).await;
    let by_default = app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    let annexed: Vec<&str> = by_default["authorised_at_signing"]
        .as_array()
        .expect("annex")
        .iter()
        .map(|e| e["authorised_by"].as_str().expect("how"))
        .collect();
    assert_eq!(annexed, ["agreement", "agreement"]);

    let mut body = general_terms(30);
    body["controller_id"] = json!("lejre");
    body["processor_id"] = json!("timengo-dpg");
    body["authorised_at_signing"] = json!([{"subprocessor_id": id(&azure)}]);
    let reply = app.post("/v1/agreements", Some(&admin()), &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let (items, alarms) = app.authorised("lejre").await;
    assert_eq!(items, [pair("Microsoft Azure", "agreement")]);
    assert_eq!(alarms, [pair("Qbox ApS", "in_use_before_window_closed")]);
}

on_both_backends!(the_annex_defaults_to_the_list_at_signing_and_is_exact_when_given);

/// An annex must name the processor's own entries in use, each once, with a date for an
/// earlier decision: anything else is a field error and nothing is recorded.
async fn an_annex_is_checked_entry_by_entry(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.processor("other").await;
    app.controller("roskilde").await;
    let azure = app.seed("timengo-dpg", &azure()).await;
    let foreign = app.seed("other", &eea_entry("Qbox ApS")).await;
    let mut body = general_terms(30);
    body["controller_id"] = json!("roskilde");
    body["processor_id"] = json!("timengo-dpg");
    body["authorised_at_signing"] = json!([
        {"subprocessor_id": id(&azure)},
        {"subprocessor_id": id(&azure)},
        {"subprocessor_id": id(&azure), "authorised_by": "tacit_consent"}
    ]);
    let reply = app.post("/v1/agreements", Some(&admin()), &body).await;
    reply.problem(422);
    assert_eq!(
        reply.error_fields(),
        [
            "authorised_at_signing[1].subprocessor_id",
            "authorised_at_signing[2].subprocessor_id",
            "authorised_at_signing[2].decided_at"
        ]
    );

    body["authorised_at_signing"] = json!([
        {"subprocessor_id": id(&azure)},
        {"subprocessor_id": id(&foreign)}
    ]);
    let reply = app.post("/v1/agreements", Some(&admin()), &body).await;
    let problem = reply.problem(422);
    assert_eq!(
        reply.error_fields(),
        ["authorised_at_signing[1].subprocessor_id"],
        "{problem}"
    );
    let listed = app
        .get("/v1/controllers/roskilde/agreements", Some(&admin()))
        .await;
    assert_eq!(listed.json()["items"], json!([]));
}

on_both_backends!(an_annex_is_checked_entry_by_entry);

/// Posts CSV to the import as `token`.
async fn import_csv(app: &TestApp, token: &str, csv: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/v1/agreements/import"))
            .bearer_auth(token)
            .header("Content-Type", "text/csv; charset=utf-8")
            .body(csv.to_string()),
    )
    .await
}

/// An operator onboards existing customers from a spreadsheet: a row that cannot be recorded
/// (an unknown controller, a bad number, a pair that already has an agreement) is reported
/// with every other row's errors and nothing is written; the corrected file records them all,
/// each with its annex, and raises no alarm.
async fn a_spreadsheet_of_agreements_is_imported_all_or_nothing(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    let azure = app.seed("timengo-dpg", &azure()).await;
    let header = "controller_id;processor_id;authorisation;notice_days;\
                  third_country_transfers;signed_at;reference;authorised_at_signing";
    let broken = format!(
        "\u{FEFF}{header}\n\
         roskilde;timengo-dpg;specific;30;forbidden;2025-03-01T09:00:00Z;DPA 2025-03;{azure}\n\
         lejre;timengo-dpg;general;syv;forbidden;2025-04-01T09:00:00Z;;{azure}\n\
         greve;timengo-dpg;general;7;forbidden;2025-05-01T09:00:00Z;;\n\
         roskilde;timengo-dpg;general;7;forbidden;2025-05-01T09:00:00Z;;\n",
        azure = id(&azure)
    );
    let reply = import_csv(&app, &admin(), &broken).await;
    let problem = reply.problem(422);
    assert_eq!(
        reply.error_fields(),
        ["rows[1].notice_days", "rows[2].controller_id", "rows[3]"],
        "{problem}"
    );
    assert!(
        problem["errors"][2]["message"]
            .as_str()
            .is_some_and(|m| m.contains("already has an agreement")),
        "{problem}"
    );

    // Rows that repeat a pair are refused too, against the rows before them.
    let fixed = broken.replace("syv", "7").replace("greve;", "lejre;");
    let reply = import_csv(&app, &admin(), &fixed).await;
    let problem = reply.problem(422);
    assert_eq!(reply.error_fields(), ["rows[2]", "rows[3]"], "{problem}");
    for cid in ["roskilde", "lejre"] {
        let reply = app
            .get(&format!("/v1/controllers/{cid}/agreements"), Some(&admin()))
            .await;
        assert_eq!(
            reply.json()["items"],
            json!([]),
            "nothing written for {cid}"
        );
    }

    let good: String = fixed.lines().take(3).map(|l| format!("{l}\n")).collect();
    let reply = import_csv(&app, &admin(), &good).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let items = reply.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(2));
    assert_eq!(items[0]["reference"], "DPA 2025-03");
    assert_eq!(items[1]["notice_days"], 7);
    for cid in ["roskilde", "lejre"] {
        let (authorised, alarms) = app.authorised(cid).await;
        assert_eq!(authorised, [pair("Microsoft Azure", "agreement")], "{cid}");
        assert!(alarms.is_empty(), "{cid}: {alarms:?}");
    }
}

on_both_backends!(a_spreadsheet_of_agreements_is_imported_all_or_nothing);

/// The JSON form carries earlier decisions; a processor imports only its own agreements.
async fn a_json_import_carries_earlier_decisions_and_stays_with_its_processor(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.processor("other").await;
    app.controller("roskilde").await;
    let qbox = app.seed("timengo-dpg", &eea_entry("Qbox ApS")).await;
    let mut row = general_terms(30);
    row["controller_id"] = json!("roskilde");
    row["processor_id"] = json!("timengo-dpg");
    row["signed_at"] = json!("2025-03-01T09:00:00Z");
    row["authorised_at_signing"] = json!([{"subprocessor_id": id(&qbox),
        "authorised_by": "tacit_consent", "decided_at": "2025-09-10T22:00:00Z"}]);
    let path = "/v1/agreements/import";
    let refused = app
        .post(path, Some(&processor("other")), &json!([row]))
        .await;
    refused.problem(403);
    let wrong_shape = app.post(path, Some(&admin()), &json!({"rows": []})).await;
    assert_eq!(wrong_shape.error_fields(), ["rows"]);
    let empty = app.post(path, Some(&admin()), &json!([])).await;
    assert_eq!(empty.error_fields(), ["rows"]);

    let reply = app
        .post(path, Some(&processor("timengo-dpg")), &json!([row]))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let imported = reply.json()["items"][0].clone();
    assert_eq!(imported["state"], "proposed");
    assert_eq!(
        imported["authorised_at_signing"][0]["authorised_by"],
        "tacit_consent"
    );
    // A processor's import proposes: nothing counts until the controller confirms.
    assert_eq!(app.authorised("roskilde").await, (vec![], vec![]));
    let confirmed = app
        .post(
            &format!(
                "/v1/controllers/roskilde/agreements/{}/confirmation",
                id(&imported)
            ),
            Some(&controller("roskilde")),
            &json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let (authorised, alarms) = app.authorised("roskilde").await;
    assert_eq!(authorised, [pair("Qbox ApS", "tacit_consent")]);
    assert!(alarms.is_empty());
    app.assert_logs_replay().await;
}

on_both_backends!(a_json_import_carries_earlier_decisions_and_stays_with_its_processor);
