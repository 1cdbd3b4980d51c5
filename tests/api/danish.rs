//! Danish throughout: a Danish page names every country in Danish, as CLDR has it.

use crate::helpers::*;
use crate::on_both_backends;
use scraper::{Html, Selector};
use serde_json::json;

use subreg::domain::geography::{check_country, is_eea};
use subreg::domain::language::Lang;

/// Every code ISO 3166-1 assigns, as the API accepts them.
fn assigned() -> Vec<String> {
    let letters = || 'A'..='Z';
    letters()
        .flat_map(|a| letters().map(move |b| format!("{a}{b}")))
        .filter(|code| check_country(code).is_ok())
        .collect()
}

/// The location cell of every row of the current list, by entry name.
fn locations_by_name(html: &str) -> Vec<(String, String)> {
    let doc = Html::parse_document(html);
    let row = Selector::parse("table.entries tbody tr").expect("selector");
    let cell = Selector::parse("th, td").expect("selector");
    doc.select(&row)
        .filter_map(|r| {
            let cells: Vec<String> = r
                .select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect();
            Some((cells.first()?.clone(), cells.get(3)?.clone()))
        })
        .collect()
}

async fn no_english_country_name_on_a_danish_page(app: TestApp) {
    app.processor("acme").await;
    let codes = assigned();
    assert!(codes.len() > 240, "{}", codes.len());
    for code in &codes {
        let mut entry = json!({
            "name": format!("Entry {code}"), "country": "DK",
            "address": "Kanalvej 7, 2800 Kgs. Lyngby",
            "processing_locations": [code], "purpose": "Hosting"
        });
        if !is_eea(code) {
            entry["transfer_basis"] = json!("standard_contractual_clauses");
            entry["transfer_basis_note"] = json!("SCCs 2021/914 module 3");
        }
        app.seed("acme", &entry).await;
    }
    let danish = app.get("/processors/acme?lang=da", None).await;
    assert_eq!(danish.status, 200);
    let english = app.get("/processors/acme?lang=en", None).await;
    let da_rows = locations_by_name(&danish.text);
    let en_rows = locations_by_name(&english.text);
    assert_eq!(da_rows.len(), codes.len(), "one row per country");
    let mut differ = 0;
    for code in &codes {
        let name = format!("Entry {code}");
        let da = &da_rows.iter().find(|(n, _)| *n == name).expect("da row").1;
        let en = &en_rows.iter().find(|(n, _)| *n == name).expect("en row").1;
        // ISO's own English short name, a source independent of the server's.
        let iso_english = isocountry::CountryCode::for_alpha2(code)
            .map(|c| c.name())
            .unwrap_or_default();
        assert_ne!(da, code, "{code} has no Danish name");
        assert_ne!(en, code, "{code} has no English name");
        if da != en {
            differ += 1;
        }
        // Every cell is CLDR's Danish name (the unit tests hold CLDR to known names), never
        // ISO's English one where the two differ.
        let cldr_danish = Lang::Da.country(code);
        assert_eq!(da, &cldr_danish, "{code}");
        if cldr_danish != iso_english {
            assert_ne!(
                da, iso_english,
                "{code}: the English name on the Danish page"
            );
        }
    }
    assert!(
        differ > 100,
        "only {differ} names differ between the languages"
    );
    for (code, expected) in [
        ("FO", "Færøerne"),
        ("KR", "Sydkorea"),
        ("BR", "Brasilien"),
        ("CZ", "Tjekkiet"),
        ("IN", "Indien"),
    ] {
        let name = format!("Entry {code}");
        let da = &da_rows.iter().find(|(n, _)| *n == name).expect("row").1;
        assert_eq!(da, expected);
    }
}

on_both_backends!(no_english_country_name_on_a_danish_page);

/// An entry with a Danish and an English text, and Annex IV's delimitation of responsibilities.
fn bilingual_entry() -> serde_json::Value {
    json!({
        "name": "Microsoft Azure", "registration": {"scheme": "cvr", "number": "13612870"},
        "address": "Kanalvej 7, 2800 Kgs. Lyngby", "country": "DK",
        "processing_locations": ["IE", "NL"],
        "purpose": "Cloud-platform til drift af DPG-løsningen",
        "purpose_en": "Cloud platform hosting the DPG service",
        "responsibilities": "Azure driver servere og lager; Qbox ApS står for logning",
        "responsibilities_en": "Azure runs servers and storage; Qbox ApS does the logging"
    })
}

async fn each_reader_gets_the_processors_text_in_their_language(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    let london = json!({
        "name": "London Backup Ltd", "address": "1 King Street, London", "country": "GB",
        "processing_locations": ["GB"], "transfer_basis": "adequacy_decision",
        "purpose": "Sikkerhedskopier"
    });
    app.seed("timengo-dpg", &json!([bilingual_entry(), london]))
        .await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    // The change's summary in Danish only: English readers fall back to it.
    let change = app
        .post(
            "/v1/processors/timengo-dpg/changes",
            Some(&processor("timengo-dpg")),
            &json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"),
                    "summary": "Qbox ApS overtager logningen",
                    "announce": true}),
        )
        .await;
    assert_eq!(change.status, 201, "{}", change.text);
    assert_eq!(change.json()["summary_en"], serde_json::Value::Null);

    let danish = app.get("/processors/timengo-dpg?lang=da", None).await.text;
    let english = app.get("/processors/timengo-dpg?lang=en", None).await.text;
    assert!(danish.contains("Cloud-platform til drift af DPG-løsningen"));
    assert!(!danish.contains("Cloud platform hosting the DPG service"));
    assert!(english.contains("Cloud platform hosting the DPG service"));
    assert!(!english.contains("Cloud-platform til drift af DPG-løsningen"));
    assert!(danish.contains("Qbox ApS overtager logningen"));
    // Inside brackets in lower case, as DANISH.md has it.
    assert!(danish.contains("Danmark (inden for EØS)"), "{danish}");
    assert!(
        english.contains("Qbox ApS overtager logningen"),
        "falls back"
    );

    // The annex carries the delimitation of responsibilities in the description cell.
    let annex =
        |lang: &str| format!("/v1/controllers/roskilde/annex?processor=timengo-dpg&lang={lang}");
    let da_annex = app.get(&annex("da"), Some(&controller("roskilde"))).await;
    assert_eq!(da_annex.status, 200, "{}", da_annex.text);
    assert!(da_annex
        .text
        .contains("Ansvarsfordeling: Azure driver servere og lager; Qbox ApS står for logning"));
    // Legal text names GB as the adequacy decisions do; the page uses the everyday name.
    assert!(da_annex
        .text
        .contains("1 King Street, London, Det Forenede Kongerige"));
    assert!(danish.contains("Storbritannien"));
    let en_annex = app.get(&annex("en"), Some(&controller("roskilde"))).await;
    assert!(en_annex.text.contains(
        "Delimitation of responsibilities: Azure runs servers and storage; Qbox ApS does the logging"
    ));
    assert!(en_annex
        .text
        .contains("Cloud platform hosting the DPG service"));

    // The feed: an English reader gets the English purpose of the seeded entry.
    let en_feed = app
        .get("/v1/processors/timengo-dpg/feed.atom?lang=en", None)
        .await
        .text;
    assert!(en_feed.contains("Purpose: Cloud platform hosting the DPG service"));
    let da_feed = app
        .get("/v1/processors/timengo-dpg/feed.atom?lang=da", None)
        .await
        .text;
    assert!(
        da_feed.contains("Beskrivelse af behandlingen: Cloud-platform til drift af DPG-løsningen")
    );

    // The English text is checked like the main one.
    let mut too_long = bilingual_entry();
    too_long["name"] = json!("Other");
    too_long["purpose_en"] = json!("x".repeat(1001));
    let refused = app
        .post(
            "/v1/processors/timengo-dpg/subprocessors",
            Some(&processor("timengo-dpg")),
            &too_long,
        )
        .await
        .problem(422);
    assert_eq!(refused["errors"][0]["field"], "purpose_en", "{refused}");
}

on_both_backends!(each_reader_gets_the_processors_text_in_their_language);
