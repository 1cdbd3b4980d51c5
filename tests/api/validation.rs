use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

fn with(mut entry: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().expect("object") {
        entry[key] = value.clone();
    }
    entry
}

async fn entries_are_validated(app: TestApp) {
    app.processor("timengo-dpg").await;
    let path = "/v1/processors/timengo-dpg/subprocessors";
    let token = processor("timengo-dpg");
    let cases = [
        (
            "bad CVR checksum",
            json!({"registration": {"scheme": "cvr", "number": "13612871"}}),
            "registration.number",
        ),
        (
            "7-digit CVR",
            json!({"registration": {"scheme": "cvr", "number": "1361287"}}),
            "registration.number",
        ),
        ("lowercase country", json!({"country": "dk"}), "country"),
        ("unknown country", json!({"country": "XX"}), "country"),
        (
            "unknown location",
            json!({"processing_locations": ["IE", "QQ"]}),
            "processing_locations[1]",
        ),
        (
            "no location",
            json!({"processing_locations": []}),
            "processing_locations",
        ),
        (
            "third country without basis",
            json!({"processing_locations": ["US"]}),
            "transfer_basis",
        ),
        (
            "EEA with a basis",
            json!({"transfer_basis": "standard_contractual_clauses"}),
            "transfer_basis",
        ),
        (
            "adequacy for a country without one",
            json!({"processing_locations": ["CN"], "transfer_basis": "adequacy_decision"}),
            "transfer_basis",
        ),
        (
            "scoped adequacy without a note",
            json!({"processing_locations": ["US"], "transfer_basis": "adequacy_decision"}),
            "transfer_basis_note",
        ),
        ("missing name", json!({"name": null}), "name"),
        (
            "bad contact e-mail",
            json!({"contact": {"email": "not-an-address"}}),
            "contact.email",
        ),
    ];
    for (case, change, field) in cases {
        let reply = app.post(path, Some(&token), &with(azure(), change)).await;
        assert_eq!(reply.error_fields(), [field], "{case}: {}", reply.text);
    }
    // Adequacy with a scope note and SCCs are accepted.
    let dpf = with(
        us_with_sccs("Dpf Inc."),
        json!({"transfer_basis": "adequacy_decision", "transfer_basis_note": "DPF certified"}),
    );
    let entry = app.seed("timengo-dpg", &dpf).await;
    assert_eq!(entry["location"], "third_country");
    assert_eq!(entry["transfer_basis"], "adequacy_decision");
    let entry = app.seed("timengo-dpg", &azure()).await;
    assert_eq!(entry["location"], "eea");
    assert_eq!(entry["transfer_basis"], Value::Null);
}

async fn bad_input_is_a_clear_4xx(app: TestApp) {
    app.processor("timengo-dpg").await;
    let path = app.url("/v1/processors/timengo-dpg/subprocessors");
    let token = processor("timengo-dpg");
    let raw = |body: &'static str| {
        app.client
            .post(&path)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
    };
    app.send(raw("{\"name\": ")).await.problem(400);
    app.send(raw("{\"name\": 42}")).await.problem(422);
    app.send(raw("{\"transfer_basis\": \"gentlemens_agreement\"}"))
        .await
        .problem(422);
    app.send(app.client.post(&path).bearer_auth(&token).body("name=x"))
        .await
        .problem(415);
    let huge = json!({"name": "x".repeat(300 * 1024)});
    app.post(
        "/v1/processors/timengo-dpg/subprocessors",
        Some(&token),
        &huge,
    )
    .await
    .problem(413);

    // Unknown ids and routes.
    app.get("/v1/processors/nobody", None).await.problem(404);
    app.get("/v1/processors/nobody/subprocessors", None)
        .await
        .problem(404);
    app.get("/v1/nothing-here", None).await.problem(404);
    app.get("/v1/processors/timengo-dpg/subprocessors?limit=0", None)
        .await
        .problem(422);
    app.get(
        "/v1/processors/timengo-dpg/subprocessors?cursor=%25%25",
        None,
    )
    .await
    .problem(422);
    app.get(
        "/v1/processors/timengo-dpg/subprocessors?as_of=yesterday",
        None,
    )
    .await
    .problem(422);
    app.get("/v1/processors/timengo-dpg/subprocessors?limit=many", None)
        .await
        .problem(400);

    // Agreements: unknown parties, bad terms, unknown enum values.
    app.controller("roskilde").await;
    let mut agreement = general_terms(30);
    agreement["controller_id"] = json!("nobody");
    agreement["processor_id"] = json!("timengo-dpg");
    assert_eq!(
        app.post("/v1/agreements", Some(&admin()), &agreement)
            .await
            .error_fields(),
        ["controller_id"]
    );
    agreement["controller_id"] = json!("roskilde");
    agreement["notice_days"] = json!(0);
    assert_eq!(
        app.post("/v1/agreements", Some(&admin()), &agreement)
            .await
            .error_fields(),
        ["notice_days"]
    );
    agreement["notice_days"] = json!(30);
    agreement["authorisation"] = json!("implied");
    app.post("/v1/agreements", Some(&admin()), &agreement)
        .await
        .problem(422);

    // Organisations: bad ids, duplicate ids.
    let bad = with(
        processor_body("Not A Slug"),
        json!({"registration": {"scheme": "vat", "number": "12345678"}}),
    );
    let fields = app
        .post("/v1/processors", Some(&admin()), &bad)
        .await
        .error_fields();
    assert_eq!(fields, ["id", "registration.number"]);
    app.post(
        "/v1/processors",
        Some(&admin()),
        &processor_body("timengo-dpg"),
    )
    .await
    .problem(409);
}

async fn a_bad_entry_in_a_batch_writes_nothing(app: TestApp) {
    app.processor("timengo-dpg").await;
    let batch = json!([
        azure(),
        with(azure(), json!({"country": "Denmark"})),
        us_with_sccs("Zendesk")
    ]);
    let reply = app
        .post(
            "/v1/processors/timengo-dpg/subprocessors",
            Some(&processor("timengo-dpg")),
            &batch,
        )
        .await;
    assert_eq!(reply.error_fields(), ["[1].country"]);
    let list = app
        .get("/v1/processors/timengo-dpg/subprocessors", None)
        .await
        .json();
    assert_eq!(list["items"], json!([]));
    let events = app
        .get(
            "/v1/processors/timengo-dpg/events",
            Some(&processor("timengo-dpg")),
        )
        .await;
    assert_eq!(events.json()["items"], json!([]));
}

on_both_backends!(
    entries_are_validated,
    bad_input_is_a_clear_4xx,
    a_bad_entry_in_a_batch_writes_nothing
);
