use crate::helpers::*;
use crate::on_both_backends;
use diesel::RunQueryDsl;
use serde_json::{json, Value};

async fn health_and_readiness(app: TestApp) {
    let health = app.get("/healthz", None).await;
    assert_eq!(
        (health.status.as_u16(), health.json()["status"].clone()),
        (200, json!("ok"))
    );
    let ready = app.get("/readyz", None).await;
    assert_eq!(
        (ready.status.as_u16(), ready.json()["status"].clone()),
        (200, json!("ready"))
    );
}

async fn processors_and_controllers_round_trip(app: TestApp) {
    let created = app.processor("timengo-dpg").await;
    assert_eq!(
        created["registration"],
        json!({"scheme": "cvr", "number": "35833684"})
    );
    let fetched = app.get("/v1/processors/timengo-dpg", None).await;
    assert_eq!(fetched.json(), created);

    let controller = app.controller("roskilde-kommune").await;
    let fetched = app
        .get("/v1/controllers/roskilde-kommune", Some(&admin()))
        .await;
    assert_eq!(fetched.json(), controller);
    assert_eq!(controller["contact_email"], "dpo@example.dk");

    let agreement = app
        .agreement(
            "roskilde-kommune",
            "timengo-dpg",
            json!({"authorisation": "specific", "notice_days": 30, "third_country_transfers": "forbidden",
                   "reference": "DPA 2024-03"}),
        )
        .await;
    assert_eq!(agreement["authorisation"], "specific");
    assert_eq!(agreement["notice_days"], 30);
    assert_eq!(agreement["objection_requires_reason"], false);
    assert!(agreement["signed_at"].is_string());
    let listed = app
        .get(
            "/v1/processors/timengo-dpg/agreements",
            Some(&processor("timengo-dpg")),
        )
        .await;
    // The list shows each agreement as in force; its versions and notice contacts are on the
    // agreement itself.
    let mut summary = agreement.clone();
    let members = summary.as_object_mut().expect("an object");
    members.remove("versions");
    assert_eq!(members.remove("notice_contacts"), Some(json!([])));
    assert_eq!(listed.json()["items"], json!([summary]));
}

async fn lists_are_paginated_and_searchable(app: TestApp) {
    for id in ["p-a", "p-b", "p-c", "p-d", "p-e"] {
        app.processor(id).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/processors?limit=2".to_string(),
            Some(c) => format!("/v1/processors?limit=2&cursor={c}"),
        };
        let page = app.get(&path, None).await.json();
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|p| p["id"].as_str().expect("id").to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["p-a", "p-b", "p-c", "p-d", "p-e"]);
    let found = app.get("/v1/processors?q=P-C%20A", None).await.json();
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1));
    let by_cvr = app.get("/v1/processors?q=35833684", None).await.json();
    assert_eq!(by_cvr["items"].as_array().map(Vec::len), Some(5));
}

async fn as_of_shows_the_list_before_a_later_seeding(app: TestApp) {
    app.processor("timengo-dpg").await;
    let azure_entry = app.seed("timengo-dpg", &azure()).await;
    assert_eq!(azure_entry["status"], "active");
    assert_eq!(azure_entry["processor_id"], "timengo-dpg");
    let between = app.advance("P1D").await["now"]
        .as_str()
        .expect("now")
        .to_string();
    app.advance("P1D").await;
    app.seed("timengo-dpg", &us_with_sccs("Zendesk, Inc."))
        .await;

    let now = app
        .get("/v1/processors/timengo-dpg/subprocessors", None)
        .await
        .json();
    assert_eq!(now["items"].as_array().map(Vec::len), Some(2));
    let then = app
        .get(
            &format!(
                "/v1/processors/timengo-dpg/subprocessors?as_of={}",
                urlencode(&between)
            ),
            None,
        )
        .await
        .json();
    assert_eq!(then["items"], json!([azure_entry]));
    let before_all = app
        .get(
            "/v1/processors/timengo-dpg/subprocessors?as_of=2000-01-01T00:00:00Z",
            None,
        )
        .await
        .json();
    assert_eq!(before_all["items"], json!([]));
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn csv_export_parses_with_a_header(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.seed("timengo-dpg", &azure()).await;
    let hostile = json!({
        "name": "=HYPERLINK(\"http://evil\"), \"Ørsted\" A/S", "address": "Line 1\nLine 2", "country": "DK",
        "processing_locations": ["DK", "SE"], "purpose": "Backup, \"offsite\""
    });
    app.seed("timengo-dpg", &hostile).await;
    let reply = app
        .get("/v1/processors/timengo-dpg/subprocessors.csv", None)
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type().starts_with("text/csv"),
        "{}",
        reply.content_type()
    );
    let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(&header[..3], ["id", "name", "registration_scheme"]);
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .expect("rows parse");
    assert_eq!(rows.len(), 2);
    let column = |name: &str| header.iter().position(|h| h == name).expect("column");
    let names: Vec<&str> = rows.iter().map(|r| &r[column("name")]).collect();
    assert_eq!(
        names,
        [
            "'=HYPERLINK(\"http://evil\"), \"Ørsted\" A/S",
            "Microsoft Azure"
        ]
    );
    assert_eq!(&rows[1][column("registration_number")], "13612870");
    assert_eq!(&rows[1][column("processing_locations")], "IE NL");
    assert_eq!(&rows[0][column("address")], "Line 1\nLine 2");
}

async fn seeding_stops_once_an_agreement_exists(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.seed("timengo-dpg", &azure()).await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    let reply = app
        .post(
            "/v1/processors/timengo-dpg/subprocessors",
            Some(&processor("timengo-dpg")),
            &azure(),
        )
        .await;
    let problem = reply.problem(409);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("/changes"),
        "{problem}"
    );
}

async fn evidence_log_detects_an_altered_event(app: TestApp) {
    app.processor("timengo-dpg").await;
    let token = processor("timengo-dpg");
    let batch = json!([
        azure(),
        us_with_sccs("Zendesk, Inc."),
        us_with_sccs("Twilio Inc.")
    ]);
    let seeded = app
        .post(
            "/v1/processors/timengo-dpg/subprocessors",
            Some(&token),
            &batch,
        )
        .await;
    assert_eq!(seeded.status, 201, "{}", seeded.text);

    let events = app
        .get("/v1/processors/timengo-dpg/events", Some(&token))
        .await
        .json();
    let items = events["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["type"], "subprocessor.added");
    let indexes: Vec<&Value> = items.iter().map(|e| &e["index"]).collect();
    assert_eq!(indexes, [&json!(0), &json!(1), &json!(2)]);
    assert_eq!(items[0]["visibility"], "public");
    assert_eq!(items[0]["leaf_hash"].as_str().map(str::len), Some(64));
    assert_eq!(items[1]["data"]["name"], "Zendesk, Inc.");
    let verify = app
        .get("/v1/processors/timengo-dpg/events/verify", Some(&token))
        .await
        .json();
    assert_eq!(verify["valid"], true, "{verify}");
    assert_eq!(verify["events"], 3);
    assert_eq!(verify["checkpoint_size"], 3);
    assert_eq!(verify["first_broken"], Value::Null);

    // Someone edits the stored evidence behind subreg's back.
    let second: &Value = &items[1];
    let pool = subreg::store::connect(&app.database_url, 1).expect("db");
    let mut conn = pool.get().expect("conn");
    let altered = diesel::sql_query(format!(
        "UPDATE events SET payload = replace(payload, 'Zendesk', 'Zenbesk') WHERE id = '{}'",
        second["id"].as_str().expect("id")
    ))
    .execute(&mut *conn)
    .expect("update");
    assert_eq!(altered, 1);

    let verify = app
        .get("/v1/processors/timengo-dpg/events/verify", Some(&token))
        .await
        .json();
    assert_eq!(verify["valid"], false);
    assert_eq!(verify["first_broken"], second["id"]);
}

/// The JSON list and the CSV carry strong validators: a conditional request gets 304 with no
/// body until the list changes, then the new list under a new tag.
async fn lists_answer_conditional_requests(app: TestApp) {
    app.processor("acme").await;
    app.seed("acme", &azure()).await;
    for path in [
        "/v1/processors/acme/subprocessors",
        "/v1/processors/acme/subprocessors.csv",
        "/v1/processors/acme/subprocessors?limit=1",
    ] {
        let first = app.get(path, None).await;
        assert_eq!(first.status, 200, "{path}: {}", first.text);
        let etag = first.headers["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"'), "{path}: a strong tag {etag}");
        let modified = first.headers["last-modified"].to_str().unwrap().to_string();
        let again = app
            .send(app.client.get(app.url(path)).header("If-None-Match", &etag))
            .await;
        assert_eq!(again.status, 304, "{path}");
        assert_eq!(again.text, "", "{path}");
        assert_eq!(again.headers["etag"], etag.as_str());
        let since = app
            .send(
                app.client
                    .get(app.url(path))
                    .header("If-Modified-Since", &modified),
            )
            .await;
        assert_eq!(since.status, 304, "{path}");
        let other = app
            .send(
                app.client
                    .get(app.url(path))
                    .header("If-None-Match", "\"other\""),
            )
            .await;
        assert_eq!(other.status, 200, "{path}");
        assert_eq!(other.text, first.text, "{path}");
    }
    let before = app.get("/v1/processors/acme/subprocessors", None).await;
    let etag = before.headers["etag"].to_str().unwrap().to_string();
    let mut second = azure();
    second["name"] = json!("Second ApS");
    app.seed("acme", &second).await;
    let after = app
        .send(
            app.client
                .get(app.url("/v1/processors/acme/subprocessors"))
                .header("If-None-Match", &etag),
        )
        .await;
    assert_eq!(after.status, 200, "a changed list is sent again");
    assert_ne!(after.headers["etag"], etag.as_str());
    assert_eq!(after.json()["items"].as_array().unwrap().len(), 2);
    let unknown = app.get("/v1/processors/nobody/subprocessors", None).await;
    unknown.problem(404);
}

on_both_backends!(
    health_and_readiness,
    lists_answer_conditional_requests,
    processors_and_controllers_round_trip,
    lists_are_paginated_and_searchable,
    as_of_shows_the_list_before_a_later_seeding,
    csv_export_parses_with_a_header,
    seeding_stops_once_an_agreement_exists,
    evidence_log_detects_an_altered_event,
);
