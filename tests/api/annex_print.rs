//! The annex a DPO files: titled from the agreement's `annex_name`, every section the
//! controller must know with each entry in one row, no internal ids, both languages; and
//! printed by headless Chromium to A4 PDFs (1-2 pages) and PNGs kept under target/annex-print.

use crate::browser::{chromium, CHROMIUM};
use crate::helpers::*;
use crate::on_both_backends;
use scraper::{Html, Selector};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const PID: &str = "timengo-dpg";

fn select(doc: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
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

const INSTRUCTION: &str = "Qbox må kun behandle logfiler på servere i Danmark.";

/// Azure from the agreement; Qbox excluded for Roskilde (objected, then resolved by exclusion)
/// and approved by Greve with an instruction; Mailgun taken live over Roskilde's objection (its
/// alarm); Backblaze announced: pending for Roskilde, approved but not yet in use for Greve;
/// Zendesk (US) announced: pending for both, a conflict with Greve's transfer ban.
async fn scenario(app: &TestApp) -> Value {
    app.processor(PID).await;
    app.seed(PID, &json!([azure()])).await;
    app.controller("roskilde").await;
    app.controller("greve").await;
    app.agreement("roskilde", PID, general_terms(30)).await;
    app.agreement("greve", PID, specific_terms()).await;
    let qbox = app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    let mailgun = app
        .announce_addition(PID, &eea_entry("Mailgun Technologies ApS"))
        .await;
    for change in [&qbox, &mailgun] {
        let reply = app
            .object("roskilde", &window_id(change, "roskilde"), None)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let approved = app
        .post(
            &format!(
                "/v1/controllers/greve/windows/{}/approval",
                window_id(&qbox, "greve")
            ),
            Some(&controller("greve")),
            &json!({"note": "DPO", "instruction": INSTRUCTION}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let reply = app.approve("greve", &window_id(&mailgun, "greve")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.advance_to(&mailgun["planned_from"], 1).await;
    let chid = qbox["id"].as_str().expect("id");
    let resolved = app
        .post(
            &format!("/v1/processors/{PID}/changes/{chid}/resolutions"),
            Some(&processor(PID)),
            &json!({"window_id": window_id(&qbox, "roskilde"), "resolution": "excluded",
                    "note": "Roskildes logfiler bliver på egne servere"}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(app.go_live_blocked(PID).await, 1);
    let backblaze = app
        .announce_addition(PID, &eea_entry("Backblaze ApS"))
        .await;
    let reply = app.approve("greve", &window_id(&backblaze, "greve")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.announce_addition(PID, &us_with_sccs("Zendesk Inc."))
        .await;
    backblaze
}

async fn annex(app: &TestApp, cid: &str, lang: &str) -> String {
    let reply = app
        .get(
            &format!("/v1/controllers/{cid}/annex?processor={PID}&lang={lang}"),
            Some(&controller(cid)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.text
}

/// "2027-01-25" as "25. januar 2027".
fn danish_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
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
    let parts: Vec<usize> = iso
        .split('-')
        .map(|p| p.parse().expect("a number"))
        .collect();
    format!("{}. {} {}", parts[2], MONTHS[parts[1] - 1], parts[0])
}

/// The entry names of a section's rows.
fn rows(doc: &Html, section: &str) -> Vec<String> {
    select(doc, &format!("section#{section} tr.entry th"))
}

fn assert_once(html: &str, text: &str) {
    assert_eq!(html.matches(text).count(), 1, "{text:?} once in {html}");
}

/// No uuid (agreement, window, change, entry, event ids) anywhere in the HTML.
fn assert_no_uuids(html: &str) {
    let uuid = html.as_bytes().windows(36).find(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    });
    assert!(
        uuid.is_none(),
        "uuid {:?} in {html}",
        uuid.map(String::from_utf8_lossy)
    );
}

async fn the_annex_has_every_section_once(app: TestApp) {
    let backblaze = scenario(&app).await;
    let html = annex(&app, "roskilde", "da").await;
    let doc = Html::parse_document(&html);
    assert_eq!(
        select(&doc, "h1"),
        ["Bilag B – Liste over godkendte underdatabehandlere"]
    );
    assert!(
        html.contains("Datatilsynets standardkontraktbestemmelser, bilag B"),
        "{html}"
    );
    assert!(!html.contains("2021/915"), "{html}");
    assert_eq!(
        select(&doc, "section#in-use thead th"),
        [
            "Navn",
            "CVR-nr.",
            "Adresse",
            "Beskrivelse af behandlingen",
            "Kontaktperson (navn, stilling, kontaktoplysninger)",
            "Lokalitet(er) for behandling og overførselsgrundlag",
            "Godkendelse / status"
        ]
    );
    assert_eq!(rows(&doc, "in-use"), ["Microsoft Azure"]);
    assert_eq!(rows(&doc, "excluded"), ["Qbox ApS"]);
    assert_eq!(rows(&doc, "alarm"), ["Mailgun Technologies ApS"]);
    assert_eq!(rows(&doc, "pending"), ["Backblaze ApS", "Zendesk Inc."]);
    assert_eq!(rows(&doc, "not-yet-in-use"), Vec::<String>::new());
    assert_eq!(select(&doc, "section#conflicts li"), Vec::<String>::new());
    for name in [
        "Microsoft Azure",
        "Qbox ApS",
        "Mailgun Technologies ApS",
        "Backblaze ApS",
    ] {
        assert_once(&html, &format!(">{name}<"));
    }
    // The deadline as the end of its last day, without a time of day.
    let deadline = backblaze["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .find(|w| w["controller_id"] == "roskilde")
        .expect("roskilde's window")["closes_on_local_date"]
        .as_str()
        .expect("closes_on_local_date")
        .to_string();
    let pending = select(&doc, "section#pending td.status").join(" ");
    assert!(
        pending.contains(&format!(
            "fristen udløber ved udgangen af {}",
            danish_date(&deadline)
        )),
        "{pending} ({deadline})"
    );
    assert!(!pending.contains("kl."), "{pending}");
    let azure = select(&doc, "section#in-use td.status").join(" ");
    assert!(
        azure.starts_with("Bilag B ved aftalens indgåelse den "),
        "{azure}"
    );
    assert!(!azure.contains("kl."), "{azure}");
    let alarm = select(&doc, "section#alarm td.status").join(" ");
    assert!(
        alarm.contains("trods den dataansvarliges afvisning"),
        "{alarm}"
    );
    assert!(
        html.contains("Roskildes logfiler bliver på egne servere"),
        "{html}"
    );
    // The evidence checkpoint closes the annex.
    let evidence = select(&doc, "main > section:last-of-type h2");
    assert_eq!(evidence, ["Dokumentation"]);
    assert_eq!(select(&doc, "code.hash").len(), 1);
    assert!(
        html.contains("hændelsesloggen kan efterprøves på"),
        "{html}"
    );
    assert_no_uuids(&html);
    // The stylesheet is inlined with the print layout; no navigation.
    assert!(html.contains("@media print"), "{html}");
    assert!(html.contains("size: A4"), "{html}");
    assert!(select(&doc, "nav").is_empty());
    assert!(!html.contains("/static/subreg.css"));

    // Greve: Qbox in use with its instruction (once), Backblaze approved but not yet in use.
    let html = annex(&app, "greve", "da").await;
    let doc = Html::parse_document(&html);
    let mut in_use = rows(&doc, "in-use");
    in_use.sort();
    assert_eq!(
        in_use,
        ["Mailgun Technologies ApS", "Microsoft Azure", "Qbox ApS"]
    );
    assert_eq!(rows(&doc, "not-yet-in-use"), ["Backblaze ApS"]);
    assert_eq!(rows(&doc, "pending"), ["Zendesk Inc."]);
    assert_eq!(
        select(&doc, "section#conflicts li"),
        ["Zendesk Inc.: behandling uden for EØS, som aftalen ikke tillader"]
    );
    let zendesk = select(&doc, "section#pending td.status").join(" ");
    assert!(
        zendesk.starts_with("Kræver forudgående specifik skriftlig godkendelse"),
        "{zendesk}"
    );
    assert_eq!(rows(&doc, "alarm"), Vec::<String>::new());
    assert_once(&html, INSTRUCTION);
    assert_eq!(
        select(&doc, "section#in-use span.instruction"),
        [format!("Dokumenteret instruks: {INSTRUCTION}")]
    );
    assert_no_uuids(&html);

    // English: the same rows, English headings.
    let html = annex(&app, "roskilde", "en").await;
    let doc = Html::parse_document(&html);
    assert_eq!(
        select(&doc, "h1"),
        ["Bilag B – List of authorised sub-processors"]
    );
    assert_eq!(rows(&doc, "pending"), ["Backblaze ApS", "Zendesk Inc."]);
    assert!(
        select(&doc, "section#pending td.status")
            .join(" ")
            .contains("the deadline ends at the end of"),
        "{html}"
    );
    assert_no_uuids(&html);

    // The JSON has the new sections, with ids.
    let json = app
        .get(
            &format!("/v1/controllers/greve/annex.json?processor={PID}"),
            Some(&controller("greve")),
        )
        .await
        .json();
    assert_eq!(
        json["authorised_not_in_use"][0]["change"]["subprocessor"]["name"],
        "Backblaze ApS"
    );
    assert_eq!(
        json["pending"][0]["change"]["subprocessor"]["name"],
        "Zendesk Inc."
    );
    assert_eq!(
        json["pending"][0]["conflicts"],
        json!(["third_country_forbidden"])
    );
    let json = app
        .get(
            &format!("/v1/controllers/roskilde/annex.json?processor={PID}"),
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_eq!(json["excluded"][0]["name"], "Qbox ApS");
    assert_eq!(
        json["pending"][0]["change"]["subprocessor"]["name"],
        "Backblaze ApS"
    );
    assert!(json["pending"][0]["closes_at"].is_string());
}

on_both_backends!(the_annex_has_every_section_once);

/// Counts the pages of a PDF Chromium wrote (uncompressed page objects: `/Type /Page`, not
/// `/Type /Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let compact = text.replace("/Type /", "/Type/");
    compact.matches("/Type/Page").count() - compact.matches("/Type/Pages").count()
}

#[actix_web::test]
async fn the_annex_prints_on_a4_in_both_languages() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("{CHROMIUM} is missing: annex print test skipped (.ci/run installs it)");
        return;
    }
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("sqlite always runs");
    scenario(&app).await;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/annex-print");
    std::fs::create_dir_all(&out).expect("output dir");
    // Fetched first: Chromium blocks this thread, which also serves the app.
    let pages = [
        ("da", annex(&app, "roskilde", "da").await),
        ("en", annex(&app, "roskilde", "en").await),
    ];
    for (lang, html) in pages {
        // The saved file prints styled: its stylesheet is inline.
        let file = out.join(format!("annex-{lang}.html"));
        std::fs::write(&file, &html).expect("annex saved");
        let url = format!("file://{}", file.display());
        let pdf = out.join(format!("annex-{lang}.pdf"));
        let _ = std::fs::remove_file(&pdf);
        let profile = tempfile::tempdir().expect("profile");
        let printed = chromium(
            profile.path(),
            &[
                &format!("--print-to-pdf={}", pdf.display()),
                "--no-pdf-header-footer",
            ],
            &url,
        );
        assert!(printed.status.success(), "chromium failed: {printed:?}");
        let bytes = std::fs::read(&pdf).expect("PDF written");
        assert!(bytes.starts_with(b"%PDF"), "not a PDF");
        let pages = pdf_pages(&bytes);
        assert!((1..=2).contains(&pages), "{lang}: {pages} pages");
        eprintln!("{}: {pages} page(s)", pdf.display());
        let png = out.join(format!("annex-{lang}.png"));
        let profile = tempfile::tempdir().expect("profile");
        let shot = chromium(
            profile.path(),
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=794,1123",
                "--hide-scrollbars",
            ],
            &url,
        );
        assert!(shot.status.success(), "chromium failed: {shot:?}");
        assert!(std::fs::metadata(&png).expect("PNG written").len() > 0);

        // What was printed: the title, and each entry in one row.
        let doc = Html::parse_document(&html);
        if lang == "da" {
            assert_eq!(
                select(&doc, "h1"),
                ["Bilag B – Liste over godkendte underdatabehandlere"]
            );
        }
        let mut names = select(&doc, "tr.entry th");
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all, "duplicate rows: {names:?}");
    }
}
