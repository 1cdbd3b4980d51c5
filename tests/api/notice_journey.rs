//! Issue 13's "done when", end to end with a real SMTP server and a real browser: a DPO who
//! never touches the API receives the notice in Danish, finds the deadline in the calendar,
//! objects from the e-mail with a reason, and the processor's compliance officer receives that
//! objection by e-mail; the evidence log shows when each message was accepted for delivery.

use crate::decide::{open, post, submit_in_chromium};
use crate::for_both_backends;
use crate::helpers::*;
use crate::mail::{contact, parse_all, written_date, Mail};
use crate::smtp::{free_port, wait_for_delivered, SmtpServer};
use serde_json::json;
use std::time::Duration;

const PID: &str = "timengo-dpg";
const CID: &str = "roskilde";
// ASCII: the DevTools key events chromiumoxide types with know no "å".
const REASON: &str = "Supportdata skal blive i EU";

async fn a_dpo_objects_from_the_notice_email(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    // The links in the e-mails point at this app itself: its public URL is its address.
    let app_port = free_port();
    let Some(app) = spawn_app_with(backend, |s| {
        s.bind = std::net::SocketAddr::from(([127, 0, 0, 1], app_port));
        s.public_url = format!("http://127.0.0.1:{app_port}");
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.mail.from = "subreg <notices@subreg.test>".into();
        s.mail.retry_schedule = vec![Duration::from_millis(200); 50];
    })
    .await
    else {
        return;
    };
    app.processor(PID).await;
    app.controller(CID).await;
    let mut terms = general_terms(30);
    terms["objection_requires_reason"] = json!(true);
    let agreement = app.agreement(CID, PID, terms).await;
    let aid = agreement["id"].as_str().expect("id");
    let dpo = json!([contact("Mette Hansen", "dpo@roskilde.test", "da")]);
    let compliance = json!([contact("Lars Jensen", "compliance@timengo.test", "da")]);
    for (path, token, body) in [
        (
            format!("/v1/controllers/{CID}/agreements/{aid}/notice-contacts"),
            controller(CID),
            dpo,
        ),
        (
            format!("/v1/processors/{PID}/contacts"),
            processor(PID),
            compliance,
        ),
    ] {
        let put = app.put(&path, &token, &body).await;
        assert_eq!(put.status, 200, "{}", put.text);
    }
    app.announce_addition(PID, &us_with_sccs("Zendesk, Inc."))
        .await;
    let window = app.windows(CID).await.remove(0);
    let wid = window["id"].as_str().expect("id").to_string();
    let deadline = written_date(window["closes_on_local_date"].as_str().expect("date"), true);

    // The notice, in Danish, with the deadline as people write it.
    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    let notice = &mails[0];
    assert!(notice.header("To").contains("dpo@roskilde.test"));
    assert!(
        notice.header("Subject").starts_with("Varsel"),
        "{}",
        notice.header("Subject")
    );
    assert!(
        notice.text.contains(&format!(
            "Indsigelsesfristen udløber ved udgangen af {deadline}."
        )),
        "{}",
        notice.text
    );

    // The same deadline in the calendar the DPO subscribed to with the feed token.
    let token = app
        .post(
            &format!("/v1/controllers/{CID}/feed-token"),
            Some(&controller(CID)),
            &json!({}),
        )
        .await
        .json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let ics = app
        .get(
            &format!("/v1/controllers/{CID}/deadlines.ics?token={token}&lang=da"),
            None,
        )
        .await;
    assert_eq!(ics.status, 200, "{}", ics.text);
    let unfolded = ics.text.replace("\r\n ", "");
    assert!(
        unfolded.contains(&format!("UID:window-{wid}@")),
        "{unfolded}"
    );
    assert!(
        unfolded.contains(&format!("Fristen udløber ved udgangen af {deadline}.")),
        "{unfolded}"
    );

    // The object link from the e-mail, in a real browser, in Danish.
    let object = notice
        .text
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{}/decide/", app.address)))
        .nth(1)
        .expect("the object link")
        .to_string();
    assert!(object.ends_with("?lang=da"), "{object}");
    let Some(answer) = submit_in_chromium(
        &object,
        "Indsigelse mod ændring af underdatabehandlere",
        &[
            ("input[name=name]", "Mette Hansen"),
            ("input[name=role]", "DPO"),
            ("textarea[name=reason]", REASON),
        ],
    )
    .await
    else {
        return;
    };
    assert!(
        answer.contains("Jeres indsigelse er registreret."),
        "{answer}"
    );
    let objected = app.window(CID, &wid).await;
    assert_eq!(objected["state"], "objected", "{objected}");
    assert_eq!(objected["objection"]["reason"], REASON);
    assert_eq!(objected["objection"]["by"]["mailbox"], "dpo@roskilde.test");

    // The processor's compliance officer receives the objection, with the reason and who.
    let mails = parse_all(&wait_for_delivered(maildir.path(), 2, Duration::from_secs(20)).await);
    let told: &Mail = mails
        .iter()
        .find(|m| m.header("To").contains("compliance@timengo.test"))
        .expect("the objection reaches the processor");
    assert!(
        told.header("Subject").starts_with("Indsigelse gjort"),
        "{}",
        told.header("Subject")
    );
    assert!(
        told.text
            .contains("har gjort indsigelse mod ændringen (Mette Hansen)"),
        "{}",
        told.text
    );
    assert!(told.text.contains(REASON), "{}", told.text);

    // Proof of dispatch for both messages.
    let dispatched = app.wait_for_events(PID, "notice.dispatched", 2).await;
    let recipients: Vec<&str> = dispatched
        .iter()
        .map(|e| e["data"]["recipient"].as_str().expect("recipient"))
        .collect();
    assert_eq!(recipients, ["dpo@roskilde.test", "compliance@timengo.test"]);
    app.assert_logs_replay().await;
}

/// A processor proposes an agreement: the controller's contact receives it with a link to the
/// proposed terms and a form to confirm them; the agreement is then active, confirmed by that
/// person through the link, and the link says it was used.
async fn a_controller_confirms_a_proposal_from_the_email(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let app_port = free_port();
    let Some(app) = spawn_app_with(backend, |s| {
        s.bind = std::net::SocketAddr::from(([127, 0, 0, 1], app_port));
        s.public_url = format!("http://127.0.0.1:{app_port}");
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.mail.from = "subreg <notices@subreg.test>".into();
        s.mail.retry_schedule = vec![Duration::from_millis(200); 50];
    })
    .await
    else {
        return;
    };
    app.processor(PID).await;
    app.controller(CID).await;
    let mut body = general_terms(21);
    body["controller_id"] = json!(CID);
    body["processor_id"] = json!(PID);
    let proposed = app
        .post("/v1/agreements", Some(&processor(PID)), &body)
        .await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    let aid = proposed.json()["id"].as_str().expect("id").to_string();

    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    let mail = &mails[0];
    assert!(
        mail.header("To").contains("dpo@example.dk"),
        "{}",
        mail.header("To")
    );
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/confirm/", app.address)))
        .unwrap_or_else(|| panic!("a confirmation link: {}", mail.text))
        .to_string();
    assert!(mail.html.contains("Se og bekræft aftalen"), "{}", mail.html);
    assert!(link.ends_with("?lang=da"), "{link}");

    let (page, csrf, cookie) = open(&app, &link).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("Bekræftelse af databehandleraftale"),
        "{}",
        page.text
    );
    assert!(page.text.contains("21 kalenderdage"), "{}", page.text);
    assert!(page.text.contains("dpo@example.dk"), "{}", page.text);
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Mette Hansen"),
        ("role", "DPO"),
    ];
    // Another site's form is refused and confirms nothing.
    let foreign = post(&app, &link, Some("https://evil.example"), &cookie, &form).await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);
    let agreement = app
        .get(&format!("/v1/agreements/{aid}"), Some(&controller(CID)))
        .await
        .json();
    assert_eq!(agreement["state"], "proposed", "{agreement}");

    let done = post(&app, &link, Some(&app.address), &cookie, &form).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.text.contains("Aftalen er bekræftet."), "{}", done.text);
    let agreement = app
        .get(&format!("/v1/agreements/{aid}"), Some(&controller(CID)))
        .await
        .json();
    assert_eq!(agreement["state"], "active", "{agreement}");
    let by = &agreement["confirmed_by"];
    assert_eq!(by["decided_by"]["name"], "Mette Hansen", "{agreement}");
    assert_eq!(by["via"], "email_link");
    assert_eq!(by["mailbox"], "dpo@example.dk");

    let (again, _, _) = open(&app, &link).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(again.text.contains("allerede brugt"), "{}", again.text);
    assert!(!again.text.contains("<form"), "{}", again.text);
    let (forged, _, _) = open(&app, &format!("{}/confirm/not-a-token", app.address)).await;
    assert_eq!(forged.status, 404, "{}", forged.text);
    app.assert_logs_replay().await;
}

for_both_backends!(
    a_dpo_objects_from_the_notice_email,
    a_controller_confirms_a_proposal_from_the_email,
);
