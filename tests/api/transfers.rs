//! Transfers as GDPR chapter V sees them (issue 11): where the data goes, not only where the
//! servers are; the chain of sub-processors; international organisations; derogations; scoped
//! adequacy decisions.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};

/// The only window a change opened.
fn only_window(change: &Value) -> Value {
    let windows = change["windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 1, "{change}");
    windows[0].clone()
}

fn seed_path(pid: &str) -> String {
    format!("/v1/processors/{pid}/subprocessors")
}

/// A US company running its service on EU servers makes the data available to an importer
/// in a third country: it needs a transfer basis, and with one the entry is `third_country`.
async fn a_us_entity_with_eu_servers_needs_a_basis(app: TestApp) {
    app.processor("acme").await;
    let mut entry = json!({
        "name": "Zendesk, Inc.", "address": "989 Market St, San Francisco", "country": "US",
        "processing_locations": ["IE", "DE"], "purpose": "Support tickets"
    });
    let refused = app
        .post(&seed_path("acme"), Some(&processor("acme")), &entry)
        .await;
    let problem = refused.problem(422);
    assert_eq!(refused.error_fields(), ["transfer_basis"], "{problem}");
    assert!(problem.to_string().contains("US"), "{problem}");

    entry["transfer_basis"] = json!("standard_contractual_clauses");
    entry["access_locations"] = json!(["US", "PH"]);
    let seeded = app.seed("acme", &entry).await;
    let stored = &seeded;
    assert_eq!(stored["location"], "third_country", "{seeded}");
    assert_eq!(stored["access_locations"], json!(["US", "PH"]));
    assert_eq!(stored["sub_subprocessors"], json!([]));

    // Access from outside the EEA alone is a transfer too.
    let mut accessed = azure();
    accessed["access_locations"] = json!(["IN"]);
    let refused = app
        .post(&seed_path("acme"), Some(&processor("acme")), &accessed)
        .await;
    assert_eq!(
        refused.error_fields(),
        ["transfer_basis"],
        "{}",
        refused.text
    );
}

/// A sub-sub-processor in India makes its EU parent `third_country`: without a basis the
/// entry is refused; with one, an agreement forbidding third-country transfers (seed 004)
/// sees `third_country_forbidden` on its window. The chain shows on the entry and the page.
async fn a_sub_subprocessor_in_india_makes_its_parent_third_country(app: TestApp) {
    app.processor("roskilde-hosting").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "roskilde-hosting", hosting_terms())
        .await;
    let mut entry = eea_entry("Netic A/S");
    entry["sub_subprocessors"] = json!([{
        "name": "Infosys Ltd", "country": "IN", "processing_locations": ["IN"],
        "access_locations": ["IN"], "purpose": "Second-line support"
    }]);
    let body =
        json!({"kind": "addition", "subprocessor": entry, "summary": "Netic", "announce": true});
    let path = "/v1/processors/roskilde-hosting/changes";
    let refused = app
        .post(path, Some(&processor("roskilde-hosting")), &body)
        .await;
    let problem = refused.problem(422);
    assert_eq!(
        refused.error_fields(),
        ["subprocessor.transfer_basis"],
        "{problem}"
    );
    assert!(problem.to_string().contains("IN"), "{problem}");

    // A field of the chain is named by its place.
    let mut bad = body.clone();
    bad["subprocessor"]["sub_subprocessors"][0]["country"] = json!("India");
    let refused = app
        .post(path, Some(&processor("roskilde-hosting")), &bad)
        .await;
    assert_eq!(
        refused.error_fields(),
        ["subprocessor.sub_subprocessors[0].country"],
        "{}",
        refused.text
    );

    entry["transfer_basis"] = json!("standard_contractual_clauses");
    entry["transfer_basis_note"] = json!("SCCs 2021/914 module 3 with Infosys");
    let change = app.announce_addition("roskilde-hosting", &entry).await;
    let window = only_window(&change);
    assert!(
        window["conflicts"]
            .as_array()
            .expect("conflicts")
            .contains(&json!("third_country_forbidden")),
        "{window}"
    );
    let proposed = &change["subprocessor"];
    assert_eq!(proposed["location"], "third_country", "{change}");
    assert_eq!(proposed["sub_subprocessors"][0]["name"], "Infosys Ltd");

    // Silence does not cure it; taken live, the page shows the chain under the entry.
    app.advance("P9D").await;
    let window = app
        .window("roskilde", window["id"].as_str().expect("id"))
        .await;
    assert_eq!(window["state"], "not_approved", "{window}");

    // The annex Roskilde files names every place the data would go, the chain included.
    let annex = app
        .get(
            "/v1/controllers/roskilde/annex?processor=roskilde-hosting&lang=da",
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(annex.status, 200, "{}", annex.text);
    assert!(
        annex.text.contains("Egne underdatabehandlere: Infosys Ltd"),
        "{}",
        annex.text
    );
    assert!(annex.text.contains("tilgås fra"), "{}", annex.text);
}

/// The European Patent Organisation may be named as a location: adequate, not EEA.
async fn the_european_patent_organisation_is_an_adequate_location(app: TestApp) {
    app.processor("patents").await;
    let mut entry = json!({
        "name": "European Patent Office", "address": "Bob-van-Benthem-Platz 1, München",
        "country": "DE", "processing_locations": ["EPO"], "purpose": "Patent filings"
    });
    let refused = app
        .post(&seed_path("patents"), Some(&processor("patents")), &entry)
        .await;
    assert_eq!(
        refused.error_fields(),
        ["transfer_basis"],
        "{}",
        refused.text
    );

    entry["transfer_basis"] = json!("adequacy_decision");
    let seeded = app.seed("patents", &entry).await;
    assert_eq!(seeded["location"], "third_country", "{seeded}");
    assert_eq!(seeded["processing_locations"], json!(["EPO"]));

    // The entity's own country is a country, not an organisation.
    entry["country"] = json!("EPO");
    let refused = app
        .post(&seed_path("patents"), Some(&processor("patents")), &entry)
        .await;
    assert_eq!(refused.error_fields(), ["country"], "{}", refused.text);
}

/// An Art. 49 derogation is no basis for a standing sub-processor: its window carries a
/// blocking conflict and ends `not_approved` in silence even under general authorisation.
async fn a_derogation_basis_blocks_silence(app: TestApp) {
    app.processor("acme").await;
    app.controller("kommune").await;
    app.agreement("kommune", "acme", general_terms(14)).await;
    let mut entry = us_with_sccs("Backblaze, Inc.");
    entry["transfer_basis"] = json!("derogation");
    entry["transfer_basis_note"] = json!("Art. 49(1)(b)");
    let change = app.announce_addition("acme", &entry).await;
    let window = only_window(&change);
    assert_eq!(
        window["conflicts"],
        json!(["derogation_for_ongoing_transfer"]),
        "{window}"
    );
    app.advance("P16D").await;
    let window = app
        .window("kommune", window["id"].as_str().expect("id"))
        .await;
    assert_eq!(window["state"], "not_approved", "{window}");
}

/// A scoped adequacy decision needs a note that states the scope: "x" is not one.
async fn a_scoped_adequacy_note_x_is_refused(app: TestApp) {
    app.processor("acme").await;
    let mut entry = us_with_sccs("Salesforce, Inc.");
    entry["transfer_basis"] = json!("adequacy_decision");
    entry["transfer_basis_note"] = json!("x");
    let refused = app
        .post(&seed_path("acme"), Some(&processor("acme")), &entry)
        .await;
    let problem = refused.problem(422);
    assert_eq!(refused.error_fields(), ["transfer_basis_note"], "{problem}");
    assert!(
        problem.to_string().contains("Data Privacy Framework"),
        "{problem}"
    );
    entry["transfer_basis_note"] = json!("Certified under the EU-US Data Privacy Framework");
    let seeded = app.seed("acme", &entry).await;
    assert_eq!(seeded["transfer_basis"], "adequacy_decision");
}

/// The public page shows where the data is accessed from, the chain under the entry, and the
/// adequacy decision behind an `adequacy_decision` basis, titled, numbered and dated as the
/// Official Journal has it.
async fn the_page_shows_access_the_chain_and_the_decision(app: TestApp) {
    app.processor("acme").await;
    let mut entry = us_with_sccs("Salesforce, Inc.");
    entry["transfer_basis"] = json!("adequacy_decision");
    entry["transfer_basis_note"] = json!("Certified under the EU-US Data Privacy Framework");
    entry["access_locations"] = json!(["US"]);
    entry["sub_subprocessors"] = json!([{
        "name": "Heroku", "country": "US", "processing_locations": ["US"],
        "purpose": "Application hosting"
    }]);
    app.seed("acme", &entry).await;
    let en = app.get("/processors/acme?lang=en", None).await;
    assert_eq!(en.status, 200);
    for expected in [
        "Adequacy decision (Art. 45): Commission Implementing Decision (EU) 2023/1795 of 10 July 2023",
        "Accessed from United States",
        "Its sub-processors: Heroku (United States",
        "Application hosting",
    ] {
        assert!(en.text.contains(expected), "{expected:?} missing");
    }
    let da = app.get("/processors/acme?lang=da", None).await;
    assert!(da.text.contains(
        "Tilstrækkelighedsafgørelse (art. 45): Kommissionens gennemførelsesafgørelse (EU) \
         2023/1795 af 10. juli 2023"
    ));
    assert!(da.text.contains("Egne underdatabehandlere: Heroku"));
}

/// A sub-processor's chain changes through a modification: when effective the entry carries
/// its new sub-sub-processor and access locations, and `as_of` before shows the old version.
async fn the_chain_changes_through_a_modification(app: TestApp) {
    app.processor("acme").await;
    app.controller("kommune").await;
    let seeded = app.seed("acme", &azure()).await;
    let eid = seeded["id"].as_str().expect("id").to_string();
    app.agreement("kommune", "acme", general_terms(7)).await;
    let before = app.advance("PT1H").await["now"].clone();
    let mut changed = azure();
    changed["access_locations"] = json!(["SE"]);
    changed["sub_subprocessors"] = json!([{
        "name": "Netcompany A/S", "country": "DK", "processing_locations": ["DK"],
        "purpose": "Operations"
    }]);
    let reply = app
        .post(
            "/v1/processors/acme/changes",
            Some(&processor("acme")),
            &json!({"kind": "modification", "modifies": eid, "subprocessor": changed,
                    "summary": "Azure adds an operator", "announce": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    app.advance("P10D").await;
    let list = app
        .get("/v1/processors/acme/subprocessors", None)
        .await
        .json();
    let now = &list["items"][0];
    assert_eq!(now["version"], 2, "{list}");
    assert_eq!(now["access_locations"], json!(["SE"]));
    assert_eq!(now["sub_subprocessors"][0]["name"], "Netcompany A/S");
    assert_eq!(now["location"], "eea");
    let path = format!(
        "/v1/processors/acme/subprocessors?as_of={}",
        before.as_str().expect("now")
    );
    let then = app.get(&path, None).await.json();
    assert_eq!(then["items"][0]["sub_subprocessors"], json!([]), "{then}");
}

on_both_backends!(
    the_chain_changes_through_a_modification,
    the_page_shows_access_the_chain_and_the_decision,
    a_us_entity_with_eu_servers_needs_a_basis,
    a_sub_subprocessor_in_india_makes_its_parent_third_country,
    the_european_patent_organisation_is_an_adequate_location,
    a_derogation_basis_blocks_silence,
    a_scoped_adequacy_note_x_is_refused,
);
