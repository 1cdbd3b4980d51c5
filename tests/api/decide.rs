//! Deciding from a notice's link: the page shows the change, the terms and a form; the POST
//! needs its CSRF field and this site's Origin; it records the decision like the API does,
//! with `via: email_link` and the mailbox; used and expired links say so.

use crate::helpers::*;
use crate::on_both_backends;
use scraper::{Html, Selector};
use serde_json::{json, Value};
use subreg::domain::decide::{links, DecideKey, DecideLinks};

const MAILBOX: &str = "dpo@roskilde.dk";

/// The test server's link key: derived from the log key every test instance signs with.
fn key() -> DecideKey {
    DecideKey::from_log_key(&std::fs::read_to_string(log_key_path()).expect("log key"))
}

async fn now(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    let clock = app.get("/v1/admin/clock", Some(&admin())).await.json();
    chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().expect("now"))
        .expect("RFC 3339")
        .with_timezone(&chrono::Utc)
}

/// A processor, a controller whose agreement requires a reason for an objection, an announced
/// addition; returns (change id, window id, the links for the DPO).
async fn setup(app: &TestApp) -> (String, String, DecideLinks) {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "acme", hosting_terms()).await;
    let change = app.announce_addition("acme", &eea_entry("Qbox ApS")).await;
    let chid = change["id"].as_str().expect("id").to_string();
    let wid = app.windows("roskilde").await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let valid_until = now(app).await + chrono::Duration::days(60);
    let links = links(&app.address, &key(), &wid, MAILBOX, valid_until).expect("links");
    (chid, wid, links)
}

/// Opens a link like a browser: the page, its CSRF field and the nonce cookie.
pub(crate) async fn open(app: &TestApp, url: &str) -> (Reply, String, String) {
    let reply = app
        .send(app.client.get(url).header("accept-language", "da"))
        .await;
    let cookie = reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let csrf = {
        let doc = Html::parse_document(&reply.text);
        let selector = Selector::parse("input[name=csrf]").expect("selector");
        doc.select(&selector)
            .next()
            .and_then(|i| i.value().attr("value"))
            .unwrap_or("")
            .to_string()
    };
    let nonce = cookie.split(';').next().unwrap_or("").to_string();
    (reply, csrf, nonce)
}

pub(crate) async fn post(
    app: &TestApp,
    url: &str,
    origin: Option<&str>,
    cookie: &str,
    form: &[(&str, &str)],
) -> Reply {
    let mut request = app
        .client
        .post(url)
        .header("accept-language", "da")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(
            form.iter()
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        );
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    app.send(request).await
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn has_form(text: &str) -> bool {
    Html::parse_document(text)
        .select(&Selector::parse("form.decide").expect("selector"))
        .next()
        .is_some()
}

async fn window(app: &TestApp, wid: &str) -> Value {
    app.window("roskilde", wid).await
}

async fn object_from_the_link(app: TestApp) {
    let (_, wid, links) = setup(&app).await;
    let (page, csrf, cookie) = open(&app, &links.object).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(has_form(&page.text));
    assert!(!csrf.is_empty() && cookie.starts_with("subreg_decide="));
    let set_cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("SameSite=Strict") && set_cookie.contains("HttpOnly"));
    // The page shows the change and the terms, in Danish.
    assert!(page.text.contains("Tilføjelse af Qbox ApS"));
    assert!(page
        .text
        .contains("påkrævet (en konkret og saglig begrundelse)"));
    assert!(page.text.contains("ikke tilladt efter aftalen"));
    assert!(page.text.contains(MAILBOX));
    let reason = Html::parse_document(&page.text)
        .select(&Selector::parse("textarea[name=reason][required]").unwrap())
        .count();
    assert_eq!(reason, 1, "the reason is required by these terms");

    let origin = app.address.clone();
    let person = [("name", "Mette Hansen"), ("role", "DPO")];
    // Without the CSRF field, with a wrong one, cross-site or without the cookie: refused.
    let refused = post(&app, &links.object, Some(&origin), &cookie, &person).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let wrong = [("csrf", "00ff"), ("name", "Mette Hansen"), ("reason", "x")];
    assert_eq!(
        post(&app, &links.object, Some(&origin), &cookie, &wrong)
            .await
            .status,
        403
    );
    let good = [
        ("csrf", csrf.as_str()),
        ("name", "Mette Hansen"),
        ("role", "DPO"),
        (
            "reason",
            "Vi kan ikke godkende logning hos en ny leverandør",
        ),
    ];
    assert_eq!(
        post(
            &app,
            &links.object,
            Some("http://evil.example"),
            &cookie,
            &good
        )
        .await
        .status,
        403
    );
    assert_eq!(
        post(&app, &links.object, None, &cookie, &good).await.status,
        403
    );
    assert_eq!(
        post(&app, &links.object, Some(&origin), "", &good)
            .await
            .status,
        403
    );
    // The CSRF field of one link does not work for another.
    assert_eq!(
        post(&app, &links.approve, Some(&origin), &cookie, &good)
            .await
            .status,
        403
    );
    assert_eq!(window(&app, &wid).await["state"], "open");

    // The terms need a reason: 422 with the form again, nothing recorded.
    let no_reason = [("csrf", csrf.as_str()), ("name", "Mette Hansen")];
    let missing = post(&app, &links.object, Some(&origin), &cookie, &no_reason).await;
    assert_eq!(missing.status, 422, "{}", missing.text);
    assert!(missing.text.contains("begrundelse") && has_form(&missing.text));
    assert_eq!(window(&app, &wid).await["state"], "open");

    let recorded = post(&app, &links.object, Some(&origin), &cookie, &good).await;
    assert_eq!(recorded.status, 200, "{}", recorded.text);
    assert!(recorded.text.contains("Jeres indsigelse er registreret."));
    let window = window(&app, &wid).await;
    assert_eq!(window["state"], "objected");
    let objection = &window["objection"];
    assert_eq!(
        objection["reason"],
        "Vi kan ikke godkende logning hos en ny leverandør"
    );
    assert_eq!(
        objection["by"],
        json!({"decided_by": {"name": "Mette Hansen", "role": "DPO"},
               "sub": format!("mailto:{MAILBOX}"), "via": "email_link", "mailbox": MAILBOX})
    );
    // The event on the log says the same.
    assert!(app
        .event_types("acme")
        .await
        .contains(&"objection.raised".to_string()));

    // Used: the link says so plainly (200, no form), and a resubmission records nothing new.
    let (again, _, _) = open(&app, &links.object).await;
    assert_eq!(again.status, 200);
    assert!(again
        .text
        .contains("Linket er allerede brugt: indsigelsen er registreret."));
    assert!(!has_form(&again.text));
    let resubmitted = post(&app, &links.object, Some(&origin), &cookie, &good).await;
    assert_eq!(resubmitted.status, 200);
    assert!(resubmitted.text.contains("allerede brugt"));
    let objections = app
        .event_types("acme")
        .await
        .iter()
        .filter(|t| *t == "objection.raised")
        .count();
    assert_eq!(objections, 1);

    // The view link shows the page without a form.
    let (view, _, _) = open(&app, &links.view).await;
    assert_eq!(view.status, 200);
    assert!(!has_form(&view.text));
    assert!(view.text.contains("Mette Hansen"), "who objected is shown");
}

async fn expired_and_foreign_links(app: TestApp) {
    let (chid, wid, links) = setup(&app).await;
    // Not a link of this site: 404; past its validity: 410.
    let foreign = DecideKey::from_log_key("PRIVATE+KEY+someone-else+00000000+AAAA");
    let other = subreg::domain::decide::links(
        &app.address,
        &foreign,
        &wid,
        MAILBOX,
        now(&app).await + chrono::Duration::days(1),
    )
    .unwrap();
    assert_eq!(open(&app, &other.object).await.0.status, 404);
    assert_eq!(app.get("/decide/not-a-token", None).await.status, 404);
    let stale = subreg::domain::decide::links(
        &app.address,
        &key(),
        &wid,
        MAILBOX,
        now(&app).await - chrono::Duration::seconds(1),
    )
    .unwrap();
    let (gone, _, _) = open(&app, &stale.object).await;
    assert_eq!(gone.status, 410);
    assert!(gone.text.contains("Linket er udløbet"));

    // The processor withdraws the change: every link of the window is expired.
    let withdrawn = app
        .post(
            &format!("/v1/processors/acme/changes/{chid}/withdraw"),
            Some(&processor("acme")),
            &json!({}),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    for link in [&links.object, &links.approve] {
        let (page, _, _) = open(&app, link).await;
        assert_eq!(page.status, 410, "{}", page.text);
        assert!(page.text.contains("trukket ændringen tilbage"));
        assert!(!has_form(&page.text));
    }
}

async fn approve_from_the_link(app: TestApp) {
    let (_, wid, links) = setup(&app).await;
    let (page, csrf, cookie) = open(&app, &links.approve).await;
    assert_eq!(page.status, 200);
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Jens Jensen"),
        ("note", "OK"),
    ];
    let reply = post(&app, &links.approve, Some(&app.address), &cookie, &form).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let window = window(&app, &wid).await;
    assert_eq!(window["state"], "approved");
    assert_eq!(window["approval"]["by"]["via"], "email_link");
    assert_eq!(
        window["approval"]["by"]["decided_by"]["name"],
        "Jens Jensen"
    );
    // The object link of an approved window can no longer object.
    let (late, _, _) = open(&app, &links.object).await;
    assert_eq!(late.status, 410);
}

on_both_backends!(
    object_from_the_link,
    expired_and_foreign_links,
    approve_from_the_link
);

/// Opens `url` in headless Chromium (driven over the DevTools protocol), checks the page's
/// heading, types each `(selector, text)` into the form and submits it, and returns the answer
/// page's HTML. `None`, saying so, where /usr/bin/chromium is missing (.ci/run installs it).
pub(crate) async fn submit_in_chromium(
    url: &str,
    heading: &str,
    fields: &[(&str, &str)],
) -> Option<String> {
    use chromiumoxide::browser::{Browser, BrowserConfig};
    use futures_util::StreamExt;
    let chromium = crate::browser::CHROMIUM;
    if !std::path::Path::new(chromium).exists() {
        eprintln!("{chromium} is missing: browser test skipped (.ci/run installs it)");
        return None;
    }
    let profile = tempfile::tempdir().expect("profile");
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .user_data_dir(profile.path())
        .no_sandbox()
        .arg("--disable-gpu")
        .arg("--disable-background-networking")
        .arg("--disable-component-update")
        .arg("--no-first-run")
        .build()
        .expect("browser config");
    let (mut browser, mut handler) = Browser::launch(config).await.expect("chromium starts");
    let events = actix_web::rt::spawn(async move { while handler.next().await.is_some() {} });

    let page = browser.new_page(url).await.expect("page opens");
    page.wait_for_navigation().await.expect("loaded");
    let shown = page
        .find_element("h1")
        .await
        .expect("h1")
        .inner_text()
        .await
        .expect("text")
        .unwrap_or_default();
    assert_eq!(shown, heading);
    for (selector, text) in fields {
        page.find_element(*selector)
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .click()
            .await
            .expect("focus")
            .type_str(*text)
            .await
            .expect("typed");
    }
    page.find_element("button[type=submit]")
        .await
        .expect("submit button")
        .click()
        .await
        .expect("clicked");
    // The answer page replaces the form once the POST is answered.
    let mut answer = String::new();
    for _ in 0..100 {
        answer = page.content().await.unwrap_or_default();
        if answer.contains("</main>") && !answer.contains("<form") {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browser.close().await.expect("closed");
    let _ = browser.wait().await;
    events.abort();
    Some(answer)
}

/// A person in a real browser opens the object link, types into the form and submits it; the
/// API then shows the window objected with that person's name.
async fn object_in_headless_chromium(app: TestApp) {
    let (_, wid, links) = setup(&app).await;
    let Some(answer) = submit_in_chromium(
        &links.object,
        "Objection to a change of sub-processors",
        &[
            ("input[name=name]", "Mette Hansen"),
            ("input[name=role]", "DPO"),
            (
                "textarea[name=reason]",
                "No new log storage without our review",
            ),
        ],
    )
    .await
    else {
        return;
    };
    assert!(answer.contains("Your objection is recorded."), "{answer}");

    let window = window(&app, &wid).await;
    assert_eq!(window["state"], "objected");
    assert_eq!(
        window["objection"]["by"]["decided_by"]["name"],
        "Mette Hansen"
    );
    assert_eq!(window["objection"]["by"]["via"], "email_link");
    assert_eq!(
        window["objection"]["reason"],
        "No new log storage without our review"
    );
}

on_both_backends!(object_in_headless_chromium);
