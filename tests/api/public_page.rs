//! The public page as a person reads it (the processor's contact, when each entry came into use,
//! the adequacy decision behind a basis, how to follow changes without API syntax), and the
//! demo data as the seeds write it, each company with a registration number of its own.

use crate::helpers::*;
use crate::on_both_backends;
use chrono::{DateTime, Datelike};
use chrono_tz::Europe::Copenhagen;
use scraper::{Html, Selector};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn texts(doc: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn hrefs(doc: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .filter_map(|e| e.value().attr("href").map(str::to_string))
        .collect()
}

/// Each row of the current list, cell by cell, keyed by the entry's name.
fn rows(doc: &Html) -> BTreeMap<String, Vec<String>> {
    let row = Selector::parse("table.entries tbody tr").expect("selector");
    let cell = Selector::parse("th, td").expect("selector");
    doc.select(&row)
        .map(|r| {
            let cells: Vec<String> = r
                .select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect();
            (cells[0].clone(), cells)
        })
        .collect()
}

/// The Copenhagen calendar day of an RFC 3339 instant, as a Dane or an English reader writes it.
fn day(at: &Value, danish: bool) -> String {
    let local = DateTime::parse_from_rfc3339(at.as_str().expect("an instant"))
        .expect("RFC 3339")
        .with_timezone(&Copenhagen);
    let da = [
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let en = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = local.month0() as usize;
    if danish {
        format!("{}. {} {}", local.day(), da[month], local.year())
    } else {
        format!("{} {} {}", local.day(), en[month], local.year())
    }
}

async fn page(app: &TestApp, pid: &str, lang: &str) -> (String, Html) {
    let reply = app
        .get(&format!("/processors/{pid}?lang={lang}"), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let doc = Html::parse_document(&reply.text);
    (reply.text, doc)
}

/// A processor with a US entry on an adequacy decision from the start, and a Danish one added
/// later through an announced change that took effect.
async fn the_page_speaks_to_people(app: TestApp) {
    app.processor("acme").await;
    let mut salesforce = us_with_sccs("Salesforce, Inc.");
    salesforce["transfer_basis"] = json!("adequacy_decision");
    salesforce["transfer_basis_note"] = json!("Certified under the EU-US Data Privacy Framework");
    let seeded = app.seed("acme", &salesforce).await;
    app.controller("kommune").await;
    app.agreement("kommune", "acme", general_terms(7)).await;
    let change = app.announce_addition("acme", &eea_entry("Qbox ApS")).await;
    app.advance("P10D").await;
    let list = app
        .get("/v1/processors/acme/subprocessors", None)
        .await
        .json();
    let in_use = |name: &str| {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["active_from"].clone())
            .expect(name)
    };
    let (seeded_at, added_at) = (in_use("Salesforce, Inc."), in_use("Qbox ApS"));
    assert_ne!(
        day(&seeded_at, true),
        day(&added_at, true),
        "two different days"
    );

    let (da_html, da) = page(&app, "acme", "da").await;
    // The processor's contact, at the top and again where the page says how to get notices.
    assert_eq!(
        texts(&da, "p.contact"),
        ["Spørgsmål om listen: kontakt databehandleren på dpo@example.com"]
    );
    assert_eq!(hrefs(&da, "p.contact a"), ["mailto:dpo@example.com"]);
    assert!(texts(&da, "p.org")[0].contains("Lautrupvang 1, 2750 Ballerup"));
    // When each entry came into use: the seeded one when it was put on the list, the added one
    // when its change took effect.
    assert_eq!(
        texts(&da, "table.entries thead th")
            .last()
            .map(String::as_str),
        Some("Taget i brug")
    );
    let da_rows = rows(&da);
    assert_eq!(
        da_rows["Salesforce, Inc."].last(),
        Some(&day(&seeded_at, true))
    );
    assert_eq!(da_rows["Qbox ApS"].last(), Some(&day(&added_at, true)));
    // The adequacy decision behind the basis, as the Official Journal titles it.
    assert!(
        da_rows["Salesforce, Inc."][5].starts_with(
            "Tilstrækkelighedsafgørelse (art. 45): Kommissionens gennemførelsesafgørelse (EU) \
             2023/1795 af 10. juli 2023"
        ),
        "{:?}",
        da_rows["Salesforce, Inc."]
    );
    assert!(da_rows["Salesforce, Inc."][5].contains("Data Privacy Framework"));
    // Following changes, in words a person understands.
    let follow = texts(&da, "section.follow").join("\n");
    for expected in [
        "Følg ændringer",
        "Et feed er en adresse, som en feedlæser holder øje med for dig",
        "I Outlook til Windows (klassisk Outlook): højreklik på mappen RSS-abonnementer",
        "Følg ændringer på e-mail",
        "Disse e-mails er ikke underretninger efter en databehandleraftale",
        "skal databehandleren underrette de kontaktpersoner, som jeres databehandleraftale nævner",
        "så spørg databehandleren: dpo@example.com.",
        "signeret besked (webhook) på en modtageadresse (endpoint)",
        "API-beskrivelsen (OpenAPI)",
    ] {
        assert!(
            follow.contains(expected),
            "{expected:?} missing from {follow}"
        );
    }
    // No API syntax and no internal ids for people.
    for unwanted in ["POST /v1", "event_types", "{jeres id}", "body {"] {
        assert!(!da_html.contains(unwanted), "{unwanted:?} on the page");
    }
    let change_id = change["id"].as_str().expect("change id");
    for id in [seeded["id"].as_str().expect("entry id"), change_id] {
        assert!(!da_html.contains(id), "internal id {id} on the page");
    }
    // Every link of the section leads somewhere that exists.
    let links = hrefs(&da, "section.follow a");
    assert!(
        links.iter().any(|l| l.ends_with("/openapi.yaml")),
        "{links:?}"
    );
    assert!(links.iter().any(|l| l.ends_with("/feed.atom")), "{links:?}");
    for link in links.iter().filter(|l| !l.starts_with("mailto:")) {
        let reply = app.send(app.client.get(link)).await;
        assert_eq!(reply.status, 200, "{link}");
    }

    let (_, en) = page(&app, "acme", "en").await;
    assert_eq!(
        texts(&en, "p.contact"),
        ["Questions about this list: contact the processor at dpo@example.com"]
    );
    let en_rows = rows(&en);
    assert_eq!(
        texts(&en, "table.entries thead th")
            .last()
            .map(String::as_str),
        Some("In use since")
    );
    assert_eq!(en_rows["Qbox ApS"].last(), Some(&day(&added_at, false)));
    assert!(en_rows["Salesforce, Inc."][5].starts_with(
        "Adequacy decision (Art. 45): Commission Implementing Decision (EU) 2023/1795 of 10 July \
         2023"
    ));
    let follow = texts(&en, "section.follow").join("\n");
    for expected in [
        "Follow changes",
        "A feed is an address that a feed reader checks for you",
        "In Outlook for Windows (classic Outlook): right-click the folder RSS Subscriptions",
        "Follow changes by e-mail",
        "These e-mails are not notices under a data processing agreement",
        "ask the processor: dpo@example.com.",
        "a signed message (a webhook) to a receiving address (endpoint)",
    ] {
        assert!(
            follow.contains(expected),
            "{expected:?} missing from {follow}"
        );
    }
}

/// Without an e-mail address, the page still says whom to ask and links to no empty mailto.
async fn without_an_e_mail_address_the_page_links_no_mailto(app: TestApp) {
    let mut body = processor_body("acme");
    body["contact_email"] = Value::Null;
    let reply = app.post("/v1/processors", Some(&admin()), &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let (html, doc) = page(&app, "acme", "da").await;
    assert!(texts(&doc, "p.contact").is_empty());
    assert!(!html.contains("mailto:"));
    assert!(texts(&doc, "section.follow")[0].contains("så spørg databehandleren."));
}

fn run_demo(database_url: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_subreg"))
        .arg("demo")
        .env("SUBREG_DATABASE_URL", database_url)
        .env("SUBREG_JWT_SECRET", SECRET)
        .env("SUBREG_LOG", "warn")
        .output()
        .expect("subreg demo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A company as the API shows it: registration number, name, and address where it has one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Company {
    number: String,
    name: String,
    address: Option<String>,
}

fn company(item: &Value) -> Option<Company> {
    Some(Company {
        number: item["registration"]["number"].as_str()?.to_string(),
        name: item["name"].as_str().expect("name").to_string(),
        address: item["address"].as_str().map(str::to_string),
    })
}

/// Every company of the demo (processors, controllers, the entries on the lists and those
/// announced) has a registration number no other demo company has. The one number on several
/// entries is Microsoft's: seed 000 lists two of its services, at one address.
async fn demo_companies_have_numbers_of_their_own(app: TestApp) {
    run_demo(&app.database_url);
    let mut companies = Vec::new();
    let processors = app.get("/v1/processors", None).await.json();
    let controllers = app.get("/v1/controllers", Some(&admin())).await.json();
    for item in processors["items"]
        .as_array()
        .into_iter()
        .chain(controllers["items"].as_array())
        .flatten()
    {
        companies.push(company(item).expect("every demo organisation is registered"));
    }
    for pid in ["timengo-dpg", "eg-netblanket", "roskilde-hosting"] {
        let list = app
            .get(&format!("/v1/processors/{pid}/subprocessors"), None)
            .await
            .json();
        let changes = app
            .get(&format!("/v1/processors/{pid}/changes"), None)
            .await
            .json();
        let announced = changes["items"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|c| &c["subprocessor"]);
        companies.extend(
            list["items"]
                .as_array()
                .expect("entries")
                .iter()
                .chain(announced)
                .filter_map(company),
        );
    }
    assert_eq!(companies.len(), 10, "{companies:#?}");
    let mut by_number: BTreeMap<&str, BTreeSet<&Company>> = BTreeMap::new();
    for c in &companies {
        by_number.entry(&c.number).or_default().insert(c);
    }
    assert_eq!(by_number.len(), 8, "{by_number:#?}");
    for (number, group) in &by_number {
        let addresses: BTreeSet<_> = group.iter().filter_map(|c| c.address.as_ref()).collect();
        assert!(
            addresses.len() <= 1,
            "{number} at several addresses: {group:?}"
        );
        let names: BTreeSet<&str> = group.iter().map(|c| c.name.as_str()).collect();
        if *number == "13612870" {
            let microsoft = BTreeSet::from(["Microsoft Azure", "Office 365"]);
            assert_eq!(names, microsoft, "{group:?}");
        } else {
            assert_eq!(
                names.len(),
                1,
                "{number} names several companies: {group:?}"
            );
        }
    }
}

/// Seed 000 B.1 word for word, in Azure's North Europe region (C.5); seed 004 lists no
/// sub-processors at the agreement's conclusion.
async fn demo_follows_the_seeds(app: TestApp) {
    run_demo(&app.database_url);
    let timengo = app
        .get("/v1/processors/timengo-dpg/subprocessors", None)
        .await
        .json();
    let entries: Vec<(String, String, String, Value)> = timengo["items"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_string(),
                e["address"].as_str().expect("address").to_string(),
                e["purpose"].as_str().expect("purpose").to_string(),
                e["processing_locations"].clone(),
            )
        })
        .collect();
    let lyngby = "Kanalvej 7, 2800 Kgs. Lyngby".to_string();
    assert_eq!(
        entries,
        [
            (
                "Microsoft Azure".to_string(),
                lyngby.clone(),
                "Cloud platform der hoster DPG løsningen (inden for EU)".to_string(),
                json!(["IE"])
            ),
            (
                "Office 365".to_string(),
                lyngby,
                "Microsoft cloud baseret Office platform. DPG kan benytte OME/AIP \
                 krypteringsfunktionen"
                    .to_string(),
                json!(["IE"])
            ),
        ]
    );
    let hosting = app
        .get("/v1/processors/roskilde-hosting/subprocessors", None)
        .await
        .json();
    assert_eq!(hosting["items"], json!([]));
    let (_, doc) = page(&app, "timengo-dpg", "da").await;
    assert_eq!(
        texts(&doc, "p.contact"),
        ["Spørgsmål om listen: kontakt databehandleren på dpo@timengo.example"]
    );
}

on_both_backends!(
    the_page_speaks_to_people,
    without_an_e_mail_address_the_page_links_no_mailto,
    demo_companies_have_numbers_of_their_own,
    demo_follows_the_seeds,
);
