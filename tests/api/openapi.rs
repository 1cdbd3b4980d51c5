use crate::helpers::*;
use crate::on_both_backends;
use std::collections::BTreeSet;

/// The (METHOD, path) pairs the app registers, read from the same registration the server uses.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = Vec::new();
    let _ = actix_web::App::new().configure(|cfg| {
        routes = subreg::http::register(cfg, true);
    });
    routes
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

async fn served_spec_matches_the_routes(app: TestApp) {
    let reply = app.get("/openapi.yaml", None).await;
    assert_eq!(reply.status, 200);
    let spec: serde_yaml::Value = serde_yaml::from_str(&reply.text).expect("openapi.yaml parses");
    assert_eq!(
        spec["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let paths = spec["paths"].as_mapping().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().expect("method");
            if ["get", "post", "put", "patch", "delete"].contains(&method) {
                documented.insert((
                    method.to_uppercase(),
                    path.as_str().expect("path").to_string(),
                ));
            }
        }
    }
    let registered = registered_routes();
    assert!(registered.len() > 15, "{registered:?}");
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && phantom.is_empty(),
        "undocumented {undocumented:?}, phantom {phantom:?}"
    );
}

on_both_backends!(served_spec_matches_the_routes);

/// The served spec, parsed.
async fn served_spec(app: &TestApp) -> serde_yaml::Value {
    let reply = app.get("/openapi.yaml", None).await;
    assert_eq!(reply.status, 200);
    serde_yaml::from_str(&reply.text).expect("openapi.yaml parses")
}

/// Follows a local `$ref` (`#/components/...`) once.
fn resolve<'a>(spec: &'a serde_yaml::Value, value: &'a serde_yaml::Value) -> &'a serde_yaml::Value {
    match value["$ref"].as_str() {
        Some(reference) => reference
            .trim_start_matches("#/")
            .split('/')
            .fold(spec, |node, key| &node[key]),
        None => value,
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation says what it answers when a client gets it wrong or the database is busy,
/// so a client (and schemathesis' status_code_conformance) can rely on the list.
async fn every_operation_documents_its_refusals(app: TestApp) {
    let spec = served_spec(&app).await;
    assert!(
        spec["servers"].as_sequence().is_some_and(|s| !s.is_empty()),
        "servers"
    );
    let mut missing = Vec::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("path");
        for method in METHODS {
            let op = &item[method];
            if op.is_null() {
                continue;
            }
            let responses = &op["responses"];
            let has = |code: &str| !responses[code].is_null();
            // A URL holding a control character (any route), a query parameter of the wrong
            // type or given twice: 400.
            if !has("400") {
                missing.push(format!("{method} {path}: 400"));
            }
            // Any JSON body sent to a write is checked for control characters: 422.
            if ["post", "put", "patch"].contains(&method) && !has("422") {
                missing.push(format!("{method} {path}: 422 for text in a body"));
            }
            // A body that is not JSON or has the wrong shape: 400 and 422.
            let takes_body = !op["requestBody"].is_null();
            if takes_body && (!has("400") || !has("422")) {
                missing.push(format!("{method} {path}: 400/422 for the body"));
            }
            // Anything that needs a token answers 401 without one.
            let public = op["security"].as_sequence().is_some_and(|s| {
                s.is_empty()
                    || s.iter()
                        .any(|r| r.as_mapping().is_some_and(|m| m.is_empty()))
            });
            if !public && !has("401") {
                missing.push(format!("{method} {path}: 401"));
            }
            // Everything that reads the database answers 503 when it is busy.
            // /metrics answers without the database part (`database_up 0`) rather than 503.
            let static_answer = [
                "/",
                "/healthz",
                "/metrics",
                "/openapi.yaml",
                "/openapi.json",
                "/static/subreg.css",
            ]
            .contains(&path);
            if !static_answer && !has("503") {
                missing.push(format!("{method} {path}: 503"));
            }
            for (code, response) in responses.as_mapping().expect("responses") {
                let code = code.as_str().expect("status as a string");
                if !(code.starts_with('4') || code.starts_with('5')) {
                    continue;
                }
                let content = &resolve(&spec, response)["content"];
                let problem = !content["application/problem+json"]["schema"].is_null();
                let page = !content["text/html"].is_null();
                if !(problem || page) {
                    missing.push(format!("{method} {path}: {code} is not problem+json"));
                }
            }
            // Links name operations that exist.
            for (_, response) in responses.as_mapping().expect("responses") {
                let Some(links) = response["links"].as_mapping() else {
                    continue;
                };
                for (name, link) in links {
                    let target = link["operationId"].as_str().expect("operationId");
                    let exists = spec["paths"]
                        .as_mapping()
                        .expect("paths")
                        .values()
                        .any(|item| {
                            METHODS
                                .iter()
                                .any(|m| item[*m]["operationId"].as_str() == Some(target))
                        });
                    if !exists {
                        missing.push(format!("{method} {path}: link {name:?} to {target}"));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented answers: {missing:#?}");
}

/// The `webhooks` section describes exactly the request a receiver gets: the stored event
/// body (no chain hashes) and the three Standard Webhooks headers.
async fn webhook_requests_match_the_webhooks_section(app: TestApp) {
    let spec = served_spec(&app).await;
    let receive = &spec["webhooks"]["event"]["post"];
    let schema = resolve(
        &spec,
        &receive["requestBody"]["content"]["application/json"]["schema"],
    );
    let names = |value: &serde_yaml::Value| -> BTreeSet<String> {
        match value {
            serde_yaml::Value::Mapping(m) => m
                .keys()
                .map(|k| k.as_str().expect("name").to_string())
                .collect(),
            serde_yaml::Value::Sequence(s) => s
                .iter()
                .map(|k| k.as_str().expect("name").to_string())
                .collect(),
            _ => BTreeSet::new(),
        }
    };
    let documented = names(&schema["properties"]);
    assert_eq!(documented, names(&schema["required"]));
    assert_eq!(schema["additionalProperties"].as_bool(), Some(false));
    let headers: Vec<&str> = receive["parameters"]
        .as_sequence()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"].as_str() == Some("header"))
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(headers.len(), 3, "{headers:?}");

    let receiver = crate::webhooks::Receiver::start().await;
    app.processor("p1").await;
    let reply = app
        .post(
            "/v1/processors/p1/webhooks",
            Some(&processor("p1")),
            &serde_json::json!({"url": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    app.seed("p1", &azure()).await;
    let received = receiver
        .wait_for("one delivery", |all| !all.is_empty())
        .await;
    let request = received.first().expect("a delivery");
    let body = request.json();
    let sent: BTreeSet<String> = body
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(sent, documented, "body {body}");
    for header in headers {
        assert!(request.headers.contains_key(header), "{header} missing");
    }
    let event_types = names(&resolve(&spec, &schema["properties"]["type"])["enum"]);
    assert!(event_types.contains(body["type"].as_str().expect("type")));
}

on_both_backends!(
    every_operation_documents_its_refusals,
    webhook_requests_match_the_webhooks_section
);

/// The documented country codes are exactly the ones the server accepts, so a client (and
/// schemathesis) can build valid entries from the spec alone.
async fn documented_country_codes_are_the_accepted_ones(app: TestApp) {
    let spec = served_spec(&app).await;
    let documented: Vec<&str> = spec["components"]["schemas"]["CountryCode"]["enum"]
        .as_sequence()
        .expect("enum")
        .iter()
        .map(|c| c.as_str().expect("a code"))
        .collect();
    let mut accepted = Vec::new();
    for a in 'A'..='Z' {
        for b in 'A'..='Z' {
            let code = format!("{a}{b}");
            if subreg::domain::geography::check_country(&code).is_ok() {
                accepted.push(code);
            }
        }
    }
    assert_eq!(documented, accepted);
    // And a documented code makes a valid entry.
    app.processor("p1").await;
    let mut entry = azure();
    entry["country"] = serde_json::json!(documented.last().expect("codes"));
    entry["processing_locations"] = serde_json::json!(["DK"]);
    // The last code (ZW) is outside the EEA: the entity's own country needs a basis.
    entry["transfer_basis"] = serde_json::json!("standard_contractual_clauses");
    let reply = app
        .post("/v1/processors/p1/subprocessors", Some(&admin()), &entry)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

on_both_backends!(documented_country_codes_are_the_accepted_ones);

/// openapi.yaml and openapi.json in the repository are what the code generates, so readers and
/// client generators find the served document without a server. After changing a handler's
/// annotation or a type: `SUBREG_UPDATE_OPENAPI=1 cargo test --test api openapi_files`.
#[test]
fn openapi_files_are_what_the_code_generates() {
    let update = std::env::var_os("SUBREG_UPDATE_OPENAPI").is_some();
    for (name, generated) in [
        ("openapi.yaml", subreg::http::openapi::yaml()),
        ("openapi.json", subreg::http::openapi::json()),
    ] {
        let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
        if update {
            std::fs::write(&path, generated).expect("write the document");
        }
        let committed = std::fs::read_to_string(&path).expect("read the document");
        assert!(
            committed == generated,
            "{name} differs from what the code generates: run SUBREG_UPDATE_OPENAPI=1 cargo test --test api openapi_files"
        );
    }
}

async fn openapi_json_is_served(app: TestApp) {
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.json()["openapi"], "3.1.0");
    assert_eq!(reply.text, subreg::http::openapi::json());
    let yaml = app.get("/openapi.yaml", None).await;
    assert_eq!(yaml.text, subreg::http::openapi::yaml());
}

on_both_backends!(openapi_json_is_served);
