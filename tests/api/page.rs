//! The public processor page, the index and the controller's annex: HTML parsed with a real
//! parser (scraper), the language switch, escaping of hostile names, CSP and conditional GETs.

use crate::helpers::*;
use crate::on_both_backends;
use scraper::{Html, Selector};
use serde_json::{json, Value};

const HOSTILE: [&str; 3] = ["<script>alert(1)</script>", "A & B", "\"quoted\" 'single'"];

fn select(doc: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

fn attr(doc: &Html, css: &str, name: &str) -> Vec<String> {
    let selector = Selector::parse(css).expect("selector");
    doc.select(&selector)
        .filter_map(|e| e.value().attr(name).map(str::to_string))
        .collect()
}

/// The current-list rows as (name, registration, locations, EEA marker, basis cell).
fn rows(doc: &Html) -> Vec<Vec<String>> {
    let row = Selector::parse("table.entries tbody tr").expect("selector");
    let cell = Selector::parse("th, td").expect("selector");
    doc.select(&row)
        .map(|r| {
            r.select(&cell)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect()
        })
        .collect()
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_strict_headers(reply: &Reply) {
    let csp = header(reply, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(reply, "x-content-type-options"), "nosniff");
    assert!(!header(reply, "referrer-policy").is_empty());
}

async fn timengo(app: &TestApp) {
    app.processor("timengo-dpg").await;
    app.seed(
        "timengo-dpg",
        &json!([azure(), us_with_sccs("Zendesk Inc.")]),
    )
    .await;
}

async fn page(app: &TestApp, query: &str, accept_language: Option<&str>) -> (Reply, Html) {
    let mut request = app
        .client
        .get(app.url(&format!("/processors/timengo-dpg{query}")));
    if let Some(lang) = accept_language {
        request = request.header("accept-language", lang);
    }
    let reply = app.send(request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.content_type(), "text/html; charset=utf-8");
    let doc = Html::parse_document(&reply.text);
    (reply, doc)
}

async fn page_shows_the_list_and_autodiscovery(app: TestApp) {
    timengo(&app).await;
    let (reply, doc) = page(&app, "", None).await;
    assert_strict_headers(&reply);
    assert_eq!(attr(&doc, "html", "lang"), ["en"]);
    assert!(!attr(&doc, "meta[name=viewport]", "content").is_empty());
    let rows = rows(&doc);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][0], "Microsoft Azure");
    assert_eq!(rows[0][1], "CVR 13612870");
    assert_eq!(rows[0][2], "Kanalvej 7, 2800 Kgs. Lyngby");
    assert_eq!(rows[0][3], "Ireland, Netherlands");
    assert_eq!(rows[0][4], "Within the EEA");
    assert_eq!(rows[1][0], "Zendesk Inc.");
    assert_eq!(rows[1][3], "United States");
    assert_eq!(rows[1][4], "Outside the EEA");
    assert!(
        rows[1][5].contains("Standard contractual clauses"),
        "{:?}",
        rows[1]
    );
    assert!(
        rows[1][5].contains("SCCs 2021/914 module 3"),
        "the note is shown"
    );
    assert_eq!(rows[1][6], "Support tickets");

    // Feed readers find the feed from the page URL.
    let feeds = attr(
        &doc,
        "head link[rel=alternate][type=\"application/atom+xml\"]",
        "href",
    );
    assert_eq!(feeds.len(), 1, "{feeds:?}");
    assert!(feeds[0].ends_with("/v1/processors/timengo-dpg/feed.atom"));
    let atom = app.client.get(&feeds[0]).send().await.expect("feed");
    assert_eq!(atom.status(), 200);
    let links = attr(&doc, "a", "href");
    for target in ["/feed.atom", "/subprocessors", "/subprocessors.csv"] {
        assert!(links.iter().any(|l| l.ends_with(target)), "{target} link");
    }
    assert!(
        links.iter().any(|l| l.ends_with("/openapi.yaml")) && reply.text.contains("(a webhook)"),
        "says where webhooks are documented"
    );
    assert_eq!(select(&doc, "script").len(), 0, "no JavaScript");

    // The stylesheet the CSP allows is served from 'self'.
    let css = app.get("/static/subreg.css", None).await;
    assert_eq!(css.status, 200);
    assert!(css.content_type().starts_with("text/css"));

    // Unknown processor: an HTML 404 with the same headers, the path escaped.
    let missing = app.get("/processors/no-such-one", None).await;
    assert_eq!(missing.status, 404);
    assert!(missing.content_type().starts_with("text/html"));
    assert_strict_headers(&missing);
    let hostile = app
        .get("/processors/%3Cscript%3Ealert(1)%3C%2Fscript%3E", None)
        .await;
    assert_eq!(hostile.status, 404);
    assert!(!hostile.text.contains("<script>"), "{}", hostile.text);
}

async fn language_follows_accept_language_and_lang(app: TestApp) {
    timengo(&app).await;
    let (_, en) = page(&app, "", Some("de-DE,de;q=0.9")).await;
    assert_eq!(attr(&en, "html", "lang"), ["en"]);
    assert_eq!(select(&en, "table.entries thead th")[0], "Name");

    let (reply, da) = page(&app, "", Some("da-DK,da;q=0.9,en;q=0.8")).await;
    assert!(header(&reply, "vary").contains("Accept-Language"));
    assert_eq!(attr(&da, "html", "lang"), ["da"]);
    assert_eq!(select(&da, "table.entries thead th")[0], "Navn");
    assert_eq!(select(&da, "h2")[0], "Nuværende underdatabehandlere");
    let rows = rows(&da);
    assert_eq!(rows[0][3], "Irland, Nederlandene");
    assert_eq!(rows[0][4], "Inden for EØS");
    assert_eq!(rows[1][4], "Uden for EØS");
    assert_eq!(rows[0][1], "CVR 13612870", "CVR reads the same in Danish");

    let (_, forced_en) = page(&app, "?lang=en", Some("da")).await;
    assert_eq!(attr(&forced_en, "html", "lang"), ["en"]);
    let (_, forced_da) = page(&app, "?lang=da", None).await;
    assert_eq!(attr(&forced_da, "html", "lang"), ["da"]);
    // Dates in Copenhagen time as Danes write them ("kl. 07.02"), month names in the
    // reader's language.
    let updated = select(&forced_da, "p.muted time")[0].clone();
    let clock = updated
        .split(" kl. ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" (dansk tid)"))
        .unwrap_or_else(|| panic!("no \"kl. HH.MM (dansk tid)\" in {updated}"));
    assert!(clock.len() == 5 && clock.as_bytes()[2] == b'.', "{updated}");
    let updated_en = select(&forced_en, "p.muted time")[0].clone();
    assert!(
        updated_en.ends_with("CET") || updated_en.ends_with("CEST"),
        "{updated_en}"
    );
}

async fn hostile_names_render_as_text(app: TestApp) {
    app.processor("timengo-dpg").await;
    let entries: Vec<Value> = HOSTILE
        .iter()
        .map(|name| {
            let mut entry = azure();
            entry["name"] = json!(name);
            entry["purpose"] = json!(format!("purpose of {name}"));
            entry
        })
        .collect();
    app.seed("timengo-dpg", &Value::Array(entries)).await;
    let (reply, doc) = page(&app, "", None).await;
    assert!(
        !reply.text.contains("<script>alert(1)"),
        "raw markup leaked"
    );
    assert_eq!(select(&doc, "script").len(), 0);
    let mut names: Vec<String> = rows(&doc).into_iter().map(|r| r[0].clone()).collect();
    names.sort();
    let mut expected: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "each name is exactly its text");
}

async fn conditional_get_answers_304_until_the_list_changes(app: TestApp) {
    timengo(&app).await;
    let (first, _) = page(&app, "?lang=en", None).await;
    let etag = header(&first, "etag").to_string();
    assert!(etag.starts_with('"'), "{etag}");
    let again = app
        .send(
            app.client
                .get(app.url("/processors/timengo-dpg?lang=en"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());
    assert_strict_headers(&again);
    assert_eq!(header(&again, "etag"), etag);

    let (danish, _) = page(&app, "?lang=da", None).await;
    assert_ne!(
        header(&danish, "etag"),
        etag,
        "the language is part of the key"
    );

    app.seed("timengo-dpg", &json!([eea_entry("Qbox ApS")]))
        .await;
    let changed = app
        .send(
            app.client
                .get(app.url("/processors/timengo-dpg?lang=en"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_ne!(header(&changed, "etag"), etag);
    assert_eq!(rows(&Html::parse_document(&changed.text)).len(), 3);
}

async fn announced_changes_then_history(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.seed("timengo-dpg", &json!([azure()])).await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    app.announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let (_, doc) = page(&app, "?lang=en", None).await;
    let announced = Selector::parse("table.changes tbody tr").expect("selector");
    let cells: Vec<Vec<String>> = doc
        .select(&announced)
        .map(|r| r.text().collect::<String>())
        .map(|t| {
            t.split('\n')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(cells.len(), 1, "{cells:?}");
    let row = cells[0].join(" | ");
    assert!(row.contains("Addition: Qbox ApS"), "{row}");
    assert!(row.contains("CVR 27720102"), "{row}");
    let deadline = select(
        &doc,
        "table.changes tbody td[data-label=\"Latest objection deadline (each controller's follows from its agreement)\"]",
    );
    assert!(
        deadline[0].ends_with("CET") || deadline[0].ends_with("CEST"),
        "{deadline:?}"
    );
    assert!(select(&doc, "ol.history li").is_empty());
    assert_eq!(rows(&doc).len(), 1, "announced is not yet on the list");

    app.advance("P32D").await;
    let (_, doc) = page(&app, "?lang=en", None).await;
    assert!(
        select(&doc, "table.changes").is_empty(),
        "nothing announced any more"
    );
    let history = select(&doc, "ol.history li");
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].contains("Addition: Qbox ApS"), "{history:?}");
    let names: Vec<String> = rows(&doc).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, ["Microsoft Azure", "Qbox ApS"]);
    assert!(
        attr(&doc, "a[rel=next]", "href").is_empty(),
        "one page of history"
    );

    // A page past the end of the history is not rendered (nor cached): 404.
    let past_end = app
        .get("/processors/timengo-dpg?lang=en&page=2", None)
        .await;
    assert_eq!(past_end.status, 404, "{}", past_end.text);
}

async fn index_searches_by_name_and_cvr(app: TestApp) {
    app.processor("timengo-dpg").await;
    let mut other = processor_body("eg-netblanket");
    other["name"] = json!("EG Digital Welfare ApS");
    other["registration"] = json!({"scheme": "cvr", "number": "27720102"});
    let reply = app.post("/v1/processors", Some(&admin()), &other).await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    let names = |reply: &Reply| select(&Html::parse_document(&reply.text), "tbody th a");
    let all = app.get("/processors", None).await;
    assert_eq!(all.status, 200);
    assert_strict_headers(&all);
    assert_eq!(names(&all), ["EG Digital Welfare ApS", "timengo-dpg A/S"]);
    let by_name = app.get("/processors?q=welfare", None).await;
    assert_eq!(names(&by_name), ["EG Digital Welfare ApS"]);
    let by_cvr = app.get("/processors?q=35833684", None).await;
    assert_eq!(names(&by_cvr), ["timengo-dpg A/S"]);
    let links = attr(&Html::parse_document(&by_cvr.text), "tbody th a", "href");
    assert!(links[0].starts_with("/processors/timengo-dpg"), "{links:?}");
    let none = app.get("/processors?q=%3Cscript%3E", None).await;
    assert!(names(&none).is_empty());
    assert!(
        !none.text.contains("<script>"),
        "the search term is escaped"
    );
    // The search term goes back into the form as text.
    assert_eq!(
        attr(&Html::parse_document(&none.text), "input#q", "value"),
        ["<script>"]
    );
}

async fn annex_lists_what_the_controller_authorised(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.seed("timengo-dpg", &json!([azure()])).await;
    app.controller("roskilde").await;
    app.controller("greve").await;
    let agreement = app
        .agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    app.agreement("greve", "timengo-dpg", specific_terms())
        .await;
    app.announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    // Greve's silence blocks the change; the processor takes it live over it.
    app.advance("P32D").await;
    assert_eq!(app.go_live_blocked("timengo-dpg").await, 1);

    let path = "/v1/controllers/roskilde/annex.json?processor=timengo-dpg";
    let reply = app.get(path, Some(&controller("roskilde"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let annex = reply.json();
    assert_eq!(annex["controller"]["id"], "roskilde");
    assert_eq!(annex["processor"]["id"], "timengo-dpg");
    let items = annex["items"].as_array().expect("items");
    let by_name = |name: &str| {
        items
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {items:?}"))
            .clone()
    };
    let azure = by_name("Microsoft Azure");
    assert_eq!(azure["authorised_by"], "agreement");
    assert_eq!(azure["authorised_at"], agreement["signed_at"]);
    assert_eq!(
        azure["description_of_processing"],
        "Cloud platform hosting the DPG service"
    );
    assert_eq!(azure["address"], "Kanalvej 7, 2800 Kgs. Lyngby");
    assert_eq!(azure["processing_locations"], json!(["IE", "NL"]));
    let qbox = by_name("Qbox ApS");
    assert_eq!(qbox["authorised_by"], "tacit_consent");
    assert!(qbox["window"]["opened_at"].is_string());
    assert!(qbox["window"]["closes_at"].is_string());
    assert_eq!(annex["not_authorised"], json!([]));

    // The hash ties the annex to the newest event of the evidence log.
    let events = app
        .get(
            "/v1/processors/timengo-dpg/events?limit=500",
            Some(&controller("roskilde")),
        )
        .await
        .json();
    let newest = events["items"]
        .as_array()
        .and_then(|e| e.last())
        .expect("events")
        .clone();
    assert_eq!(annex["last_event"]["hash"], newest["leaf_hash"]);
    assert_eq!(annex["last_event"]["id"], newest["id"]);
    assert!(annex["verify_url"]
        .as_str()
        .unwrap_or("")
        .ends_with("/v1/processors/timengo-dpg/events/verify"));

    // An earlier as_of reflects an earlier event and leaves out Qbox.
    let before = app
        .get(
            &format!(
                "{path}&as_of={}",
                agreement["signed_at"].as_str().expect("signed_at")
            ),
            Some(&controller("roskilde")),
        )
        .await
        .json();
    assert_ne!(before["last_event"]["hash"], newest["leaf_hash"]);
    assert_eq!(before["items"].as_array().map(Vec::len), Some(1));

    // The signed checkpoint of the log as it stood at as_of, and where the bundle is.
    let size = annex["checkpoint"]["size"]
        .as_i64()
        .expect("checkpoint size");
    assert!(size >= 1, "{}", annex["checkpoint"]);
    let note = annex["checkpoint"]["note"].as_str().expect("note");
    let root = annex["checkpoint"]["root"].as_str().expect("root");
    let mut lines = note.lines();
    assert!(lines
        .next()
        .is_some_and(|origin| origin.ends_with("/processors/timengo-dpg")));
    assert_eq!(lines.next(), Some(size.to_string().as_str()));
    // The note carries the root in base64; the JSON in hex.
    let root_base64 = lines.next().expect("root line");
    assert_eq!(root.len(), 64, "{root}");
    assert!(note.contains("\n\n\u{2014} "), "a signed note: {note}");
    let earlier = before["checkpoint"]["size"].as_i64().expect("earlier size");
    assert!(earlier < size, "{earlier} < {size}");
    assert!(annex["evidence_url"]
        .as_str()
        .unwrap_or("")
        .ends_with("/v1/controllers/roskilde/evidence?processor=timengo-dpg"));
    let html = app
        .get(
            "/v1/controllers/roskilde/annex?processor=timengo-dpg&lang=da",
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(html.status, 200);
    assert!(html.text.contains("Signeret kontrolpunkt"));
    assert!(
        html.text.contains(root_base64),
        "the signed note in the printed annex"
    );
    assert!(html
        .text
        .contains("/v1/controllers/roskilde/evidence?processor=timengo-dpg"));

    // Greve (specific authorisation, no approval) has Qbox on its alarm list: in use over its
    // refusal.
    let greve = app
        .get(
            "/v1/controllers/greve/annex.json?processor=timengo-dpg",
            Some(&controller("greve")),
        )
        .await
        .json();
    assert_eq!(greve["not_authorised"][0]["name"], "Qbox ApS");
    assert_eq!(
        greve["not_authorised"][0]["reason"],
        "in_use_without_authorisation"
    );

    // The printable HTML says the same.
    let html = app
        .get(
            "/v1/controllers/greve/annex?processor=timengo-dpg&lang=en",
            Some(&controller("greve")),
        )
        .await;
    assert_eq!(html.status, 200, "{}", html.text);
    // Its stylesheet is inlined (a saved copy prints styled), allowed by its hash alone.
    let csp = header(&html, "content-security-policy");
    assert!(csp.contains("style-src 'sha256-"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let doc = Html::parse_document(&html.text);
    assert_eq!(
        select(&doc, "section.in-use tr.entry th"),
        ["Microsoft Azure"]
    );
    let alarm = select(&doc, "section.alarm tr.entry");
    assert_eq!(alarm.len(), 1);
    assert!(alarm[0].contains("Qbox ApS"), "{alarm:?}");
    assert_eq!(
        select(&doc, "code.hash"),
        [newest["leaf_hash"].as_str().expect("hash")]
    );
    let roskilde = app
        .get(
            "/v1/controllers/roskilde/annex?processor=timengo-dpg&lang=da",
            Some(&controller("roskilde")),
        )
        .await;
    let how = select(&Html::parse_document(&roskilde.text), "td.status");
    assert!(
        how.iter()
            .any(|h| h.starts_with("Bilag B ved aftalens indgåelse den")),
        "{how:?}"
    );
    assert!(
        how.iter().any(|h| h.starts_with("Stiltiende samtykke")),
        "{how:?}"
    );
}

async fn annex_is_for_the_controller_only(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.processor("eg-netblanket").await;
    app.controller("roskilde").await;
    app.controller("greve").await;
    app.agreement("roskilde", "timengo-dpg", general_terms(30))
        .await;
    for path in [
        "/v1/controllers/roskilde/annex?processor=timengo-dpg",
        "/v1/controllers/roskilde/annex.json?processor=timengo-dpg",
    ] {
        app.get(path, None).await.problem(401);
        app.get(path, Some(&controller("greve"))).await.problem(403);
        app.get(path, Some(&processor("timengo-dpg")))
            .await
            .problem(403);
        assert_eq!(app.get(path, Some(&admin())).await.status, 200);
    }
    // No agreement between them: 404.
    app.get(
        "/v1/controllers/roskilde/annex.json?processor=eg-netblanket",
        Some(&controller("roskilde")),
    )
    .await
    .problem(404);
    app.get(
        "/v1/controllers/roskilde/annex.json",
        Some(&controller("roskilde")),
    )
    .await
    .problem(422);
}

/// Under specific authorisation silence is not approval: the page does not invite objections
/// there, it says that each controller's prior approval is needed; with customers under both
/// kinds it gives the deadline and says so.
async fn the_deadline_column_follows_the_terms(app: TestApp) {
    app.processor("timengo-dpg").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "timengo-dpg", specific_terms())
        .await;
    app.announce_addition("timengo-dpg", &eea_entry("Qbox ApS"))
        .await;
    let column = |lang: &str| {
        match lang {
        "da" => "table.changes tbody td[data-label=\"Seneste indsigelsesfrist (den enkelte dataansvarliges frist følger af dennes aftale)\"]",
        _ => "table.changes tbody td[data-label=\"Latest objection deadline (each controller's follows from its agreement)\"]",
    }
    };
    let (_, doc) = page(&app, "?lang=da", None).await;
    assert_eq!(
        select(&doc, column("da")),
        ["Kræver forudgående specifik skriftlig godkendelse fra hver dataansvarlig"]
    );
    let (_, doc) = page(&app, "?lang=en", None).await;
    assert_eq!(
        select(&doc, column("en")),
        ["Each controller's prior specific written approval is required"]
    );

    app.agreement("lejre", "timengo-dpg", general_terms(7))
        .await;
    app.announce_addition("timengo-dpg", &eea_entry("Netic A/S"))
        .await;
    let (_, doc) = page(&app, "?lang=en", None).await;
    let cells = select(&doc, column("en"));
    let mixed = cells
        .iter()
        .find(|c| c.contains(';'))
        .expect("a deadline with a note");
    assert!(
        mixed.ends_with(
            "; controllers under specific authorisation: their prior specific written approval is required"
        ),
        "{cells:?}"
    );
}

on_both_backends!(
    the_deadline_column_follows_the_terms,
    page_shows_the_list_and_autodiscovery,
    language_follows_accept_language_and_lang,
    hostile_names_render_as_text,
    conditional_get_answers_304_until_the_list_changes,
    announced_changes_then_history,
    index_searches_by_name_and_cvr,
    annex_lists_what_the_controller_authorised,
    annex_is_for_the_controller_only,
);
