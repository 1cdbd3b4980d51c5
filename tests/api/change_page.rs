//! The public page of one change and the feed entries that link to it: a person reads names,
//! countries and deadlines in words, in Danish or English; drafts stay private.

use crate::helpers::*;
use crate::on_both_backends;
use scraper::{Html, Selector};
use serde_json::json;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

fn text(doc: &Html, css: &str) -> String {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The page's facts as (term, value) pairs.
fn facts(doc: &Html) -> Vec<(String, String)> {
    let dt = Selector::parse("dl.facts dt").expect("selector");
    let dd = Selector::parse("dl.facts dd").expect("selector");
    doc.select(&dt)
        .zip(doc.select(&dd))
        .map(|(t, d)| (t.text().collect(), d.text().collect()))
        .collect()
}

fn fact(facts: &[(String, String)], term: &str) -> String {
    facts
        .iter()
        .find(|(t, _)| t == term)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {term:?} in {facts:?}"))
}

async fn setup(app: &TestApp) -> String {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    let change = app
        .announce_addition("acme", &us_with_sccs("Zendesk, Inc."))
        .await;
    change["id"].as_str().expect("id").to_string()
}

async fn change_page_in_danish_and_english(app: TestApp) {
    let chid = setup(&app).await;
    let path = format!("/processors/acme/changes/{chid}");
    let danish = app.get(&format!("{path}?lang=da"), None).await;
    assert_eq!(danish.status, 200, "{}", danish.text);
    assert_eq!(danish.content_type(), "text/html; charset=utf-8");
    assert!(danish.headers.contains_key("content-security-policy"));
    let doc = Html::parse_document(&danish.text);
    assert_eq!(text(&doc, "h1"), "Tilføjelse af Zendesk, Inc.");
    let f = facts(&doc);
    assert_eq!(fact(&f, "Underdatabehandler"), "Zendesk, Inc.");
    assert_eq!(
        fact(&f, "Adresse"),
        "1 Market St, San Francisco, USA",
        "country in words"
    );
    assert_eq!(fact(&f, "Lokalitet(er) for behandling"), "USA");
    assert_eq!(fact(&f, "Inden for / uden for EØS"), "Uden for EØS");
    assert_eq!(
        fact(&f, "Overførselsgrundlag"),
        "Standardkontraktbestemmelser (art. 46)"
    );
    assert_eq!(
        fact(&f, "Bemærkning om overførsel"),
        "SCCs 2021/914 module 3"
    );
    assert_eq!(fact(&f, "Beskrivelse af behandlingen"), "Support tickets");
    assert_eq!(fact(&f, "Status"), "Varslet");
    assert!(fact(&f, "Varslet").contains("dansk tid"));
    let deadline = fact(
        &f,
        "Seneste indsigelsesfrist (den enkelte dataansvarliges frist følger af dennes aftale)",
    );
    assert!(deadline.starts_with("ved udgangen af "), "{deadline}");
    assert!(!danish.text.contains(&chid) || danish.text.contains("/v1/processors/acme/changes/"));

    // English by Accept-Language.
    let english = app
        .send(
            app.client
                .get(app.url(&path))
                .header("accept-language", "en-GB"),
        )
        .await;
    assert_eq!(english.status, 200);
    let doc = Html::parse_document(&english.text);
    assert_eq!(text(&doc, "h1"), "Addition of Zendesk, Inc.");
    let f = facts(&doc);
    assert_eq!(fact(&f, "Processing locations"), "United States");
    assert_eq!(fact(&f, "State"), "Announced");
    assert!(fact(
        &f,
        "Latest objection deadline (each controller's follows from its agreement)"
    )
    .starts_with("the end of "));

    // A draft is the processor's own: 404, as for an unknown change.
    let draft = app
        .post(
            "/v1/processors/acme/changes",
            Some(&processor("acme")),
            &json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"), "summary": "Draft"}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let draft_id = draft.json()["id"].as_str().expect("id").to_string();
    let hidden = app
        .get(&format!("/processors/acme/changes/{draft_id}"), None)
        .await;
    assert_eq!(hidden.status, 404);
    assert!(!hidden.text.contains("Qbox"));
    let unknown = app
        .get(
            "/processors/acme/changes/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
}

async fn feed_entries_link_to_the_page_and_read_as_text(app: TestApp) {
    let chid = setup(&app).await;
    // The controller's feed: the window entry names the organisations, not their ids.
    let token = app
        .post(
            "/v1/controllers/roskilde/feed-token",
            Some(&controller("roskilde")),
            &json!({}),
        )
        .await
        .json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let feed = app
        .get(
            &format!("/v1/controllers/roskilde/feed.atom?token={token}&lang=da"),
            None,
        )
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let xml = roxmltree::Document::parse(&feed.text).expect("XML");
    let entries: Vec<_> = xml
        .root_element()
        .children()
        .filter(|c| c.has_tag_name((ATOM_NS, "entry")))
        .collect();
    let child_text = |e: &roxmltree::Node, name: &str| {
        e.children()
            .find(|c| c.has_tag_name((ATOM_NS, name)))
            .and_then(|c| c.text())
            .unwrap_or("")
            .to_string()
    };
    let window = entries
        .iter()
        .find(|e| child_text(e, "title").starts_with("Indsigelsesfristen udløber"))
        .expect("window entry");
    let title = child_text(window, "title");
    assert!(
        title.starts_with("Indsigelsesfristen udløber ved udgangen af ")
            && title.ends_with(
                ": tilføjelse af Zendesk, Inc. (uden for EØS, standardkontraktbestemmelser)"
            ),
        "{title}"
    );
    let summary = child_text(window, "summary");
    assert!(summary.contains("Databehandler: acme A/S"), "{summary}");
    assert!(
        summary.contains("Dataansvarlig: roskilde Kommune"),
        "{summary}"
    );
    assert!(!summary.contains("roskilde\n") && !summary.contains(": acme\n"));
    let content = window
        .children()
        .find(|c| c.has_tag_name((ATOM_NS, "content")))
        .expect("content");
    assert_eq!(content.attribute("type"), Some("html"));
    let html = Html::parse_fragment(content.text().unwrap_or(""));
    let items = text(&html, "li");
    assert!(
        items.contains("Lokalitet(er) for behandling: USA"),
        "{items}"
    );
    let links: Vec<_> = window
        .children()
        .filter(|c| c.has_tag_name((ATOM_NS, "link")))
        .collect();
    let alternate = links
        .iter()
        .find(|l| l.attribute("rel") == Some("alternate"))
        .expect("alternate");
    assert_eq!(alternate.attribute("type"), Some("text/html"));
    let href = alternate.attribute("href").expect("href");
    assert!(
        href.ends_with(&format!("/processors/acme/changes/{chid}?lang=da")),
        "{href}"
    );
    // Following it opens the change's page, in the feed's language.
    let page = app.send(app.client.get(href)).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        text(&Html::parse_document(&page.text), "h1"),
        "Tilføjelse af Zendesk, Inc."
    );
    let related = links
        .iter()
        .find(|l| l.attribute("rel") == Some("related"))
        .expect("related");
    assert_eq!(related.attribute("type"), Some("application/json"));
    let event = app
        .send(
            app.client
                .get(related.attribute("href").expect("href"))
                .bearer_auth(controller("roskilde")),
        )
        .await;
    assert_eq!(event.status, 200, "{}", event.text);
    assert_eq!(event.json()["type"], "window.opened");

    // The public feed's announcement links to the same page.
    let public = app.get("/v1/processors/acme/feed.atom?lang=en", None).await;
    assert!(public
        .text
        .contains(&format!("/processors/acme/changes/{chid}?lang=en")));
    assert!(public
        .text
        .contains("Announced: addition of Zendesk, Inc. (third country, SCCs)"));
}

on_both_backends!(
    change_page_in_danish_and_english,
    feed_entries_link_to_the_page_and_read_as_text,
);
