//! The controller's deadlines as iCalendar: parsed with a separate parser (the `ical` crate),
//! and followed as the window changes (SEQUENCE up, then CANCELLED).

use crate::helpers::*;
use crate::on_both_backends;
use ical::parser::ical::component::IcalEvent;
use serde_json::json;

fn prop(event: &IcalEvent, name: &str) -> String {
    event
        .properties
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.clone())
        .unwrap_or_else(|| panic!("no {name} in {:?}", event.properties))
}

/// Fetches and parses the calendar; returns its only event and the ETag.
async fn calendar(app: &TestApp, path: &str) -> (IcalEvent, String) {
    let reply = app.get(path, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.content_type().starts_with("text/calendar"));
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(reply.text.as_bytes()));
    let cal = parser
        .next()
        .expect("one calendar")
        .unwrap_or_else(|e| panic!("parses ({e}):\n{}", reply.text));
    assert!(parser.next().is_none());
    assert_eq!(cal.events.len(), 1, "{}", reply.text);
    let etag = reply.headers["etag"].to_str().expect("etag").to_string();
    (cal.events.into_iter().next().expect("event"), etag)
}

fn utc(value: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .and_utc()
}

async fn deadlines_follow_the_window(app: TestApp) {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    let change = app
        .announce_addition("acme", &us_with_sccs("Zendesk, Inc."))
        .await;
    let chid = change["id"].as_str().expect("id").to_string();
    let window = app.windows("roskilde").await.remove(0);
    let wid = window["id"].as_str().expect("id").to_string();
    let rotate = "/v1/controllers/roskilde/feed-token";
    let token = app
        .post(rotate, Some(&controller("roskilde")), &json!({}))
        .await
        .json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let path = format!("/v1/controllers/roskilde/deadlines.ics?token={token}");

    // Without a token, with a wrong one, or for an unknown controller: the same 404.
    app.get("/v1/controllers/roskilde/deadlines.ics", None)
        .await
        .problem(404);
    app.get("/v1/controllers/roskilde/deadlines.ics?token=nope", None)
        .await
        .problem(404);
    app.get(
        &format!("/v1/controllers/nobody/deadlines.ics?token={token}"),
        None,
    )
    .await
    .problem(404);

    let (event, etag) = calendar(&app, &path).await;
    assert_eq!(prop(&event, "UID"), format!("window-{wid}@127.0.0.1"));
    assert_eq!(prop(&event, "SEQUENCE"), "0");
    assert_eq!(prop(&event, "STATUS"), "CONFIRMED");
    let closes_at = chrono::DateTime::parse_from_rfc3339(window["closes_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(utc(&prop(&event, "DTSTART")), closes_at, "at the deadline");
    // No Accept-Language and no ?lang: Danish.
    assert_eq!(
        prop(&event, "SUMMARY"),
        "Indsigelsesfrist: Tilføjelse af Zendesk\\, Inc. (acme A/S)"
    );
    let description = prop(&event, "DESCRIPTION");
    assert!(
        description.contains("Fristen udløber ved udgangen af "),
        "{description}"
    );
    assert!(prop(&event, "URL").ends_with(&format!("/processors/acme/changes/{chid}?lang=da")));
    let mut triggers: Vec<String> = event
        .alarms
        .iter()
        .map(|a| {
            a.properties
                .iter()
                .find(|p| p.name == "TRIGGER")
                .and_then(|p| p.value.clone())
                .expect("trigger")
        })
        .collect();
    triggers.sort();
    assert_eq!(triggers, ["-P1D", "-P7D"]);

    // Unchanged: 304 on the ETag.
    let again = app
        .send(
            app.client
                .get(app.url(&path))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);

    // English on request.
    let (english, _) = calendar(&app, &format!("{path}&lang=en")).await;
    assert!(prop(&english, "SUMMARY").starts_with("Objection deadline: Addition of Zendesk"));

    // An objection changes the window: SEQUENCE 1, still confirmed, a new ETag.
    assert_eq!(
        app.object("roskilde", &wid, Some("No US")).await.status,
        200
    );
    let (event, changed) = calendar(&app, &path).await;
    assert_eq!(prop(&event, "SEQUENCE"), "1");
    assert_eq!(prop(&event, "STATUS"), "CONFIRMED");
    assert_ne!(changed, etag);

    // The processor withdraws the change: the window is withdrawn, the event cancelled.
    let withdrawn = app
        .post(
            &format!("/v1/processors/acme/changes/{chid}/withdraw"),
            Some(&processor("acme")),
            &json!({}),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    let (event, _) = calendar(&app, &path).await;
    assert_eq!(prop(&event, "STATUS"), "CANCELLED");
    assert!(prop(&event, "SEQUENCE").parse::<u32>().unwrap() >= 2);
    assert_eq!(prop(&event, "UID"), format!("window-{wid}@127.0.0.1"));

    // Sixty days on, the cancelled window has left the calendar.
    app.advance("P61D").await;
    let reply = app.get(&path, None).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.text.contains("BEGIN:VEVENT"), "{}", reply.text);
}

on_both_backends!(deadlines_follow_the_window);
