//! When notice counts (issue 13 item 7): under `notice_starts: dispatch` a window has no
//! deadline until its notice reaches the controller (an e-mail accepted by the SMTP server, or a
//! webhook answered 2xx by the controller's own endpoint); the deadline is then counted from
//! that dispatch, `window.notified` records it, and the change waits for such a window even
//! past its `planned_from`.

use crate::helpers::*;
use crate::mail::{contact, mail_app, parse_all, written_date};
use crate::smtp::{free_port, wait_for_delivered, SmtpServer};
use crate::webhooks::Receiver;
use crate::{for_both_backends, on_both_backends};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{json, Value};
use std::time::Duration;

const PID: &str = "timengo-dpg";
const CID: &str = "roskilde";

fn dispatch_terms(notice_days: u32) -> Value {
    let mut terms = general_terms(notice_days);
    terms["notice_starts"] = json!("dispatch");
    terms
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("an instant"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// The calendar day of an instant in Copenhagen.
fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive()
}

fn day(value: &Value) -> NaiveDate {
    value.as_str().expect("a date").parse().expect("YYYY-MM-DD")
}

/// The SMTP server is down for a day after the announcement: the window waits with no deadline
/// (and the sweeper leaves it alone), then runs 30 days from the day the e-mail was accepted,
/// one day later than it would have from the announcement. The e-mail states that deadline.
async fn an_smtp_outage_of_a_day_moves_the_deadline_by_a_day(backend: Backend) {
    smtp_outage(backend, 1).await;
}

/// Down for three days: the window now closes after the change's `planned_from` (which the
/// deadline from the announcement allowed); the change waits for it and starts once it closed.
async fn a_change_waits_for_a_window_that_started_late(backend: Backend) {
    smtp_outage(backend, 3).await;
}

async fn smtp_outage(backend: Backend, days: u64) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    app.processor(PID).await;
    app.controller(CID).await;
    let agreement = app.agreement(CID, PID, dispatch_terms(30)).await;
    assert_eq!(agreement["notice_starts"], "dispatch", "{agreement}");
    let aid = agreement["id"].as_str().expect("id");
    let path = format!("/v1/controllers/{CID}/agreements/{aid}/notice-contacts");
    let contacts = json!([contact("Mette Hansen", "dpo@roskilde.test", "da")]);
    assert_eq!(
        app.put(&path, &controller(CID), &contacts).await.status,
        200
    );

    let change = app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    let chid = change["id"].as_str().expect("change id");
    let window = app.windows(CID).await[0].clone();
    let wid = window["id"].as_str().expect("window id").to_string();
    assert_eq!(window["state"], "open", "{window}");
    assert_eq!(window["closes_at"], Value::Null, "not started: {window}");
    assert_eq!(window["closes_on_local_date"], Value::Null, "{window}");
    assert_eq!(window["notified_at"], Value::Null, "{window}");
    // The processor sees the same: the window has not started.
    let seen = app
        .get(
            &format!("/v1/processors/{PID}/changes/{chid}"),
            Some(&processor(PID)),
        )
        .await
        .json();
    assert_eq!(seen["windows"][0]["closes_at"], Value::Null, "{seen}");
    let announced_day = local_day(instant(&window["opened_at"]));

    // A day without a mail server: attempts fail, nothing is dispatched, nothing closes.
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.advance(&format!("P{days}D")).await;
    assert!(app.events_of(PID, "notice.dispatched").await.is_empty());
    assert_eq!(app.window(CID, &wid).await["closes_at"], Value::Null);

    let _smtp = SmtpServer::start_on(port, maildir.path());
    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    let notified = app.wait_for_events(PID, "window.notified", 1).await;
    let dispatched = app.events_of(PID, "notice.dispatched").await;
    assert_eq!(dispatched.len(), 1);
    let window = app.window(CID, &wid).await;
    assert_eq!(window["notified_via"], "email", "{window}");
    assert_eq!(
        window["notified_at"], dispatched[0]["data"]["accepted_at"],
        "the window runs from the SMTP server's acceptance: {window}"
    );
    let last_day = day(&window["closes_on_local_date"]);
    assert_eq!(
        last_day,
        local_day(instant(&window["notified_at"]))
            .checked_add_days(Days::new(30))
            .expect("date"),
        "{window}"
    );
    assert_eq!(
        last_day,
        announced_day
            .checked_add_days(Days::new(30 + days))
            .expect("date"),
        "{days} day(s) later than from the announcement"
    );
    assert_eq!(notified[0]["data"]["closes_at"], window["closes_at"]);
    assert_eq!(notified[0]["data"]["notified_via"], "email");
    assert_eq!(notified[0]["controller_id"], CID);
    // The notice says the deadline that runs from its own dispatch.
    let fristen = format!(
        "Indsigelsesfristen udløber ved udgangen af {}.",
        written_date(&last_day.to_string(), true)
    );
    assert!(mails[0].text.contains(&fristen), "{}", mails[0].text);

    // `planned_from` came from the deadline as it would have run from the announcement (plus a
    // day to react): after a longer outage the change waits for the window that started late.
    let planned_from = change["planned_from"].clone();
    if days == 1 {
        app.assert_logs_replay().await;
        return;
    }
    assert!(instant(&planned_from) < instant(&window["closes_at"]));
    app.advance_to(&planned_from, 3_600).await;
    let waiting = app
        .get(
            &format!("/v1/processors/{PID}/changes/{chid}"),
            Some(&processor(PID)),
        )
        .await
        .json();
    assert_eq!(waiting["state"], "announced", "{waiting}");
    assert_eq!(app.window(CID, &wid).await["state"], "open");

    app.advance_to(&window["closes_at"], 60).await;
    let closed = app.window(CID, &wid).await;
    assert_eq!(closed["state"], "tacit_consent", "{closed}");
    let effective = app
        .get(
            &format!("/v1/processors/{PID}/changes/{chid}"),
            Some(&processor(PID)),
        )
        .await
        .json();
    assert_eq!(effective["state"], "effective", "{effective}");
    assert!(
        instant(&effective["effective_at"]) >= instant(&window["closes_at"]),
        "in use only after the window closed: {effective}"
    );
    app.assert_logs_replay().await;
}

/// A webhook answered 2xx by the controller's own endpoint starts the window; the processor's
/// endpoint taking the same event does not, nor does a failed delivery. Under `announcement`
/// the first dispatch is recorded too, and the deadline stays where it was.
async fn a_webhook_answered_2xx_starts_the_window(app: TestApp) {
    let ours = Receiver::start().await;
    let theirs = Receiver::start().await;
    ours.answer(500);
    app.processor(PID).await;
    app.controller(CID).await;
    app.controller("lejre").await;
    app.agreement(CID, PID, dispatch_terms(14)).await;
    app.agreement("lejre", PID, general_terms(14)).await;
    for (owner, receiver, path) in [
        (
            controller(CID),
            &ours,
            format!("/v1/controllers/{CID}/webhooks"),
        ),
        (
            processor(PID),
            &theirs,
            format!("/v1/processors/{PID}/webhooks"),
        ),
        (
            controller("lejre"),
            &theirs,
            "/v1/controllers/lejre/webhooks".to_string(),
        ),
    ] {
        let hook = app
            .post(&path, Some(&owner), &json!({"url": receiver.url("/hook")}))
            .await;
        assert_eq!(hook.status, 201, "{}", hook.text);
    }
    let hooks = app
        .get(
            &format!("/v1/controllers/{CID}/webhooks"),
            Some(&controller(CID)),
        )
        .await
        .json();
    let whid = hooks["items"][0]["id"]
        .as_str()
        .expect("webhook id")
        .to_string();
    app.announce_addition(PID, &eea_entry("Qbox ApS")).await;

    // The processor's and lejre's endpoints took window.opened; ours failed every attempt.
    theirs
        .wait_for("window.opened to the processor and lejre", |all| {
            all.iter()
                .filter(|r| r.json()["type"] == "window.opened")
                .count()
                >= 3
        })
        .await;
    let opened = app.events_of(PID, "window.opened").await;
    let ours_opened = opened
        .iter()
        .find(|e| e["controller_id"] == CID)
        .expect("our window.opened")["id"]
        .clone();
    let deliveries = format!("/v1/controllers/{CID}/webhooks/{whid}/deliveries");
    let mut failed = None;
    for _ in 0..200 {
        let log = app.get(&deliveries, Some(&controller(CID))).await.json();
        failed = log["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|d| d["state"] == "failed" && d["event_id"] == ours_opened)
            .cloned();
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = failed.expect("the window.opened delivery to us fails");
    let window = app.windows(CID).await[0].clone();
    let wid = window["id"].as_str().expect("id").to_string();
    assert_eq!(window["closes_at"], Value::Null, "not started: {window}");
    assert_eq!(window["notified_at"], Value::Null, "{window}");
    let lejre = app.windows("lejre").await[0].clone();
    assert_eq!(lejre["notified_via"], "webhook", "{lejre}");
    assert!(lejre["closes_at"].is_string(), "{lejre}");
    assert_eq!(
        day(&lejre["closes_on_local_date"]),
        local_day(instant(&lejre["opened_at"]))
            .checked_add_days(Days::new(14))
            .expect("date"),
        "under `announcement` the deadline stays: {lejre}"
    );

    ours.answer(204);
    let did = failed["id"].as_str().expect("delivery id");
    let retry = app
        .post(
            &format!("{deliveries}/{did}/retry"),
            Some(&controller(CID)),
            &json!({}),
        )
        .await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    let mut started = Value::Null;
    for _ in 0..200 {
        started = app.window(CID, &wid).await;
        if started["notified_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(started["notified_via"], "webhook", "{started}");
    assert_eq!(
        day(&started["closes_on_local_date"]),
        local_day(instant(&started["notified_at"]))
            .checked_add_days(Days::new(14))
            .expect("date"),
        "{started}"
    );
    let notified = app.events_of(PID, "window.notified").await;
    assert_eq!(
        notified.len(),
        1,
        "only the dispatch-mode window: {notified:?}"
    );
    assert_eq!(notified[0]["data"]["id"], wid.as_str());
    app.assert_logs_replay().await;
}

/// The term is validated and amended like the others.
async fn notice_starts_is_a_term(app: TestApp) {
    app.processor(PID).await;
    app.controller(CID).await;
    let mut bad = dispatch_terms(30);
    bad["controller_id"] = json!(CID);
    bad["processor_id"] = json!(PID);
    bad["notice_starts"] = json!("delivery");
    let reply = app.post("/v1/agreements", Some(&admin()), &bad).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(
        reply.text.contains("`announcement` or `dispatch`"),
        "{}",
        reply.text
    );
    let agreement = app.agreement(CID, PID, general_terms(30)).await;
    assert_eq!(agreement["notice_starts"], "announcement");
    assert_eq!(agreement["versions"][0]["notice_starts"], "announcement");
}

for_both_backends!(
    an_smtp_outage_of_a_day_moves_the_deadline_by_a_day,
    a_change_waits_for_a_window_that_started_late,
);
on_both_backends!(
    a_webhook_answered_2xx_starts_the_window,
    notice_starts_is_a_term
);
