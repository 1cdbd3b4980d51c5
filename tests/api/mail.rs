//! E-mail notices through a real SMTP server (aiosmtpd on 127.0.0.1, tests/api/smtp.rs):
//! notice contacts, the window notice in Danish and English with both MIME parts, proof of
//! dispatch on the evidence log, objections to the processor's contacts, a 5xx refusal
//! recorded as `notice.failed`, an SMTP outage retried, and a crash that loses nothing.

use crate::helpers::*;
use crate::smtp::{delivered, free_port, wait_for_delivered, SmtpServer};
use crate::{for_both_backends, on_both_backends};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PID: &str = "timengo-dpg";
const CID: &str = "roskilde";
const PUBLIC_URL: &str = "https://subreg.test";
const FROM: &str = "subreg <notices@subreg.test>";

const DA_MONTHS: [&str; 12] = [
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
const EN_MONTHS: [&str; 12] = [
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

impl TestApp {
    pub(crate) async fn put(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .put(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// The processor's events of one type, oldest first.
    pub(crate) async fn events_of(&self, pid: &str, event_type: &str) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/v1/processors/{pid}/events?limit=500"),
                Some(&processor(pid)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["type"] == event_type)
            .cloned()
            .collect()
    }

    /// Waits until the processor's log holds `count` events of a type.
    pub(crate) async fn wait_for_events(
        &self,
        pid: &str,
        event_type: &str,
        count: usize,
    ) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let found = self.events_of(pid, event_type).await;
            if found.len() >= count {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} {event_type} event(s), {count} expected",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An app that sends through the SMTP server on `port` (running or not), retrying fast.
pub(crate) async fn mail_app(backend: Backend, port: u16) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.mail.from = FROM.into();
        s.mail.retry_schedule = vec![Duration::from_millis(200); 50];
        s.public_url = PUBLIC_URL.into();
    })
    .await
}

/// Processor, controller and an active agreement (general authorisation, 30 days).
async fn parties(app: &TestApp) -> String {
    app.processor(PID).await;
    app.controller(CID).await;
    let agreement = app.agreement(CID, PID, general_terms(30)).await;
    agreement["id"].as_str().expect("agreement id").to_string()
}

pub(crate) fn contact(name: &str, email: &str, language: &str) -> Value {
    json!({"name": name, "email": email, "language": language})
}

/// A delivered message, parsed.
pub(crate) struct Mail {
    pub(crate) queue_id: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) content_type: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

impl Mail {
    fn parse(queue_id: &str, raw: &[u8]) -> Mail {
        let parsed = mailparse::parse_mail(raw).expect("a MIME message");
        let headers = parsed
            .headers
            .iter()
            .map(|h| (h.get_key(), h.get_value()))
            .collect();
        let part = |mime: &str| {
            parsed
                .subparts
                .iter()
                .find(|p| p.ctype.mimetype == mime)
                .unwrap_or_else(|| panic!("no {mime} part"))
                .get_body()
                .expect("decodable part")
        };
        Mail {
            queue_id: queue_id.to_string(),
            headers,
            content_type: parsed.ctype.mimetype.clone(),
            text: part("text/plain"),
            html: part("text/html"),
        }
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }
}

pub(crate) fn parse_all(raw: &[(String, Vec<u8>)]) -> Vec<Mail> {
    raw.iter()
        .map(|(key, bytes)| Mail::parse(key, bytes))
        .collect()
}

fn to<'a>(mails: &'a [Mail], address: &str) -> &'a Mail {
    mails
        .iter()
        .find(|m| m.header("To").contains(address))
        .unwrap_or_else(|| panic!("no message to {address}"))
}

/// "1. december 2026" / "1 December 2026" for a `YYYY-MM-DD` date.
pub(crate) fn written_date(date: &str, danish: bool) -> String {
    let parts: Vec<usize> = date.split('-').map(|p| p.parse().expect("date")).collect();
    let (year, month, day) = (parts[0], parts[1], parts[2]);
    if danish {
        format!("{day}. {} {year}", DA_MONTHS[month - 1])
    } else {
        format!("{day} {} {year}", EN_MONTHS[month - 1])
    }
}

async fn contacts_are_managed_by_their_owners(app: TestApp) {
    let aid = parties(&app).await;
    app.controller("greve").await;
    let path = format!("/v1/processors/{PID}/contacts");
    let bad = app
        .put(
            &path,
            &processor(PID),
            &json!([
                contact("Lars Jensen", "x@@example.com", "da"),
                contact("", "it@example.com", "en"),
                contact("Lars Jensen", "not an address", "da"),
            ]),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert_eq!(bad.error_fields(), ["[0].email", "[1].name", "[2].email"]);
    let too_many: Vec<Value> = (0..21)
        .map(|i| contact("N", &format!("n{i}@example.com"), "da"))
        .collect();
    let refused = app.put(&path, &processor(PID), &json!(too_many)).await;
    assert_eq!(refused.status, 422, "{}", refused.text);

    let list = json!([contact("Lars Jensen", "compliance@timengo.test", "da")]);
    let saved = app.put(&path, &processor(PID), &list).await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.json(), list);
    assert_eq!(app.get(&path, Some(&processor(PID))).await.json(), list);
    assert_eq!(app.put(&path, &processor("other"), &list).await.status, 403);
    assert_eq!(app.get(&path, Some(&controller(CID))).await.status, 403);

    let path = format!("/v1/controllers/{CID}/agreements/{aid}/notice-contacts");
    let list = json!([
        contact("Mette Hansen", "dpo@roskilde.test", "da"),
        contact("John Smith", "it@roskilde.test", "en"),
    ]);
    assert_eq!(
        app.put(&path, &controller("greve"), &list).await.status,
        403
    );
    let elsewhere = format!("/v1/controllers/greve/agreements/{aid}/notice-contacts");
    assert_eq!(
        app.put(&elsewhere, &controller("greve"), &list)
            .await
            .status,
        404
    );
    let saved = app.put(&path, &controller(CID), &list).await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(app.get(&path, Some(&controller(CID))).await.json(), list);
    let agreement = app
        .get(&format!("/v1/agreements/{aid}"), Some(&controller(CID)))
        .await;
    assert_eq!(agreement.json()["notice_contacts"], list);
}

on_both_backends!(contacts_are_managed_by_their_owners);

async fn window_notice_reaches_each_contact_in_their_language(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    let aid = parties(&app).await;
    let contacts = json!([
        contact("Mette Hansen", "dpo@roskilde.test", "da"),
        contact("John Smith", "it@roskilde.test", "en"),
    ]);
    let path = format!("/v1/controllers/{CID}/agreements/{aid}/notice-contacts");
    assert_eq!(
        app.put(&path, &controller(CID), &contacts).await.status,
        200
    );

    let change = app
        .announce_addition(PID, &us_with_sccs("Zendesk, Inc."))
        .await;
    let chid = change["id"].as_str().expect("change id");
    let window = &app.windows(CID).await[0];
    let deadline = window["closes_on_local_date"].as_str().expect("local date");
    let mails = parse_all(&wait_for_delivered(maildir.path(), 2, Duration::from_secs(20)).await);
    assert_eq!(mails.len(), 2);
    let link = format!("{PUBLIC_URL}/processors/{PID}/changes/{chid}");

    let da = to(&mails, "dpo@roskilde.test");
    assert_eq!(da.header("From"), FROM);
    assert!(
        da.header("To").contains("Mette Hansen"),
        "{}",
        da.header("To")
    );
    assert_eq!(da.header("Auto-Submitted"), "auto-generated");
    assert!(da.header("Message-ID").ends_with("@subreg.test>"));
    assert_eq!(da.content_type, "multipart/alternative");
    let subject = da.header("Subject");
    assert!(subject.contains("Zendesk, Inc."), "{subject}");
    assert!(subject.contains(&written_date(deadline, true)), "{subject}");
    let fristen = format!(
        "Indsigelsesfristen udløber ved udgangen af {}.",
        written_date(deadline, true)
    );
    for text in [&da.text, &da.html] {
        assert!(text.contains(&fristen), "{text}");
        assert!(text.contains("stiltiende samtykke"), "{text}");
        assert!(text.contains("uden for EØS"), "{text}");
        assert!(text.contains("timengo-dpg A/S har varslet"), "{text}");
        assert!(text.contains(&link), "{text}");
    }
    assert!(
        da.html
            .contains(&format!("<a href=\"{link}\">Se ændringen</a>")),
        "{}",
        da.html
    );

    let en = to(&mails, "it@roskilde.test");
    assert!(en
        .header("Subject")
        .contains(&written_date(deadline, false)));
    assert!(
        en.text.contains(&format!(
            "The deadline for objections is the end of {}.",
            written_date(deadline, false)
        )),
        "{}",
        en.text
    );
    assert!(en.text.contains("tacit consent"), "{}", en.text);
    assert!(en
        .html
        .contains(&format!("<a href=\"{link}\">View the change</a>")));

    // The notice carries the recipient's own decision links; the object link opens the form.
    let decide: Vec<&str> = da
        .text
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{PUBLIC_URL}/decide/")))
        .collect();
    assert_eq!(decide.len(), 3, "view, object, approve: {}", da.text);
    let object = decide[1].trim_start_matches(PUBLIC_URL);
    let page = app
        .send(
            app.client
                .get(app.url(object))
                .header("accept-language", "da"),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Zendesk, Inc."), "{}", page.text);
    assert!(page.text.contains("<form"), "{}", page.text);
    let others = to(&mails, "it@roskilde.test");
    assert!(
        !others.text.contains(decide[1]),
        "each mailbox gets its own links"
    );

    // Proof of dispatch: one event per recipient with the server's reply and queue id.
    let opened = app.events_of(PID, "window.opened").await;
    let dispatched = app.wait_for_events(PID, "notice.dispatched", 2).await;
    assert_eq!(dispatched.len(), 2);
    for mail in [da, en] {
        let address = if std::ptr::eq(mail, da) {
            "dpo@roskilde.test"
        } else {
            "it@roskilde.test"
        };
        let event = dispatched
            .iter()
            .find(|e| e["data"]["recipient"] == address)
            .expect("a dispatch event per recipient");
        assert_eq!(event["visibility"], "controller");
        assert_eq!(event["controller_id"], CID);
        assert_eq!(event["data"]["channel"], "email");
        assert_eq!(event["data"]["notice_event_id"], opened[0]["id"]);
        assert_eq!(event["data"]["message_id"], mail.header("Message-ID"));
        assert_eq!(event["data"]["smtp_reply"]["code"], 250);
        let reply = event["data"]["smtp_reply"]["text"].as_str().expect("reply");
        assert!(
            reply.contains(&mail.queue_id),
            "{reply} / {}",
            mail.queue_id
        );
        assert!(event["data"]["accepted_at"].is_string());
    }
    // The controller sees its proof of dispatch; the public does not.
    let seen = app
        .get(
            &format!("/v1/processors/{PID}/events?limit=500"),
            Some(&controller(CID)),
        )
        .await
        .json();
    let theirs = seen["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["type"] == "notice.dispatched")
        .count();
    assert_eq!(theirs, 2);
}

async fn objections_reach_the_processor_and_refusals_are_recorded(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    parties(&app).await;
    let contacts = json!([
        contact("Lars Jensen", "compliance@timengo.test", "da"),
        contact("Nobody", "refuse@timengo.test", "en"),
    ]);
    let path = format!("/v1/processors/{PID}/contacts");
    assert_eq!(app.put(&path, &processor(PID), &contacts).await.status, 200);
    app.announce_addition(PID, &us_with_sccs("Zendesk, Inc."))
        .await;
    let wid = app.windows(CID).await[0]["id"]
        .as_str()
        .expect("window id")
        .to_string();
    let objected = app
        .object(CID, &wid, Some("Behandling i USA accepteres ikke"))
        .await;
    assert_eq!(objected.status, 200, "{}", objected.text);

    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    let mail = to(&mails, "compliance@timengo.test");
    assert!(
        mail.header("Subject").contains("Indsigelse"),
        "{}",
        mail.header("Subject")
    );
    assert!(mail.header("Subject").contains("roskilde Kommune"));
    assert!(
        mail.text.contains("Behandling i USA accepteres ikke"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("roskilde Kommune har gjort indsigelse"),
        "{}",
        mail.text
    );

    let failed = app.wait_for_events(PID, "notice.failed", 1).await;
    assert_eq!(failed[0]["data"]["recipient"], "refuse@timengo.test");
    assert_eq!(failed[0]["data"]["smtp_reply"]["code"], 550);
    let text = failed[0]["data"]["smtp_reply"]["text"]
        .as_str()
        .expect("text");
    assert!(text.contains("User unknown"), "{text}");
    let listed = app
        .get(
            &format!("/v1/processors/{PID}/notices/failed"),
            Some(&processor(PID)),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let listed = listed.json();
    assert_eq!(listed.as_array().expect("list").len(), 1, "{listed}");
    assert_eq!(listed[0]["recipient"], "refuse@timengo.test");
    assert_eq!(listed[0]["state"], "failed");
    let dispatched = app.wait_for_events(PID, "notice.dispatched", 1).await;
    assert_eq!(
        dispatched[0]["data"]["recipient"],
        "compliance@timengo.test"
    );
    assert_eq!(delivered(maildir.path()).len(), 1);
}

async fn an_smtp_outage_is_retried(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    let aid = parties(&app).await;
    let path = format!("/v1/controllers/{CID}/agreements/{aid}/notice-contacts");
    let contacts = json!([contact("Mette Hansen", "dpo@roskilde.test", "da")]);
    assert_eq!(
        app.put(&path, &controller(CID), &contacts).await.status,
        200
    );
    app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    // The server is down: attempts fail and nothing is recorded as dispatched.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(app.events_of(PID, "notice.dispatched").await.is_empty());
    assert!(app.events_of(PID, "notice.failed").await.is_empty());
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    assert!(mails[0].header("Subject").contains("Qbox ApS"));
    app.wait_for_events(PID, "notice.dispatched", 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(delivered(maildir.path()).len(), 1, "sent once");
    assert_eq!(app.events_of(PID, "notice.dispatched").await.len(), 1);
}

/// `subreg serve` is SIGKILLed after the event was committed and before the message could be
/// sent (its SMTP server is down); a new process sends it once the server is up.
async fn a_crash_before_the_send_loses_no_message(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let settings = [
        ("SUBREG_SMTP_URL", smtp_url.as_str()),
        (
            "SUBREG_MAIL_RETRY_SCHEDULE_MS",
            "200,200,200,200,200,200,200,200,200,200",
        ),
        ("SUBREG_MAIL_TIMEOUT_MS", "1000"),
        ("SUBREG_MAIL_LEASE_MS", "1500"),
        ("SUBREG_PUBLIC_URL", PUBLIC_URL),
    ];
    let client = reqwest::Client::new();
    let first = LoggedServe::start(&url, &settings);
    let base = format!("http://127.0.0.1:{}", first.port);
    let call = |method: reqwest::Method, path: &str, token: String, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{}", r.status());
        r
    };
    ok(call(
        reqwest::Method::POST,
        "/v1/processors",
        admin(),
        processor_body(PID),
    )
    .await
    .unwrap());
    ok(call(
        reqwest::Method::POST,
        "/v1/controllers",
        admin(),
        controller_body(CID),
    )
    .await
    .unwrap());
    let mut terms = general_terms(30);
    terms["controller_id"] = json!(CID);
    terms["processor_id"] = json!(PID);
    let agreement: Value = ok(
        call(reqwest::Method::POST, "/v1/agreements", admin(), terms)
            .await
            .unwrap(),
    )
    .json()
    .await
    .unwrap();
    let aid = agreement["id"].as_str().unwrap();
    ok(call(
        reqwest::Method::PUT,
        &format!("/v1/controllers/{CID}/agreements/{aid}/notice-contacts"),
        controller(CID),
        json!([contact("Mette Hansen", "dpo@roskilde.test", "da")]),
    )
    .await
    .unwrap());
    ok(call(
        reqwest::Method::POST,
        &format!("/v1/processors/{PID}/changes"),
        processor(PID),
        json!({"kind": "addition", "subprocessor": eea_entry("Qbox ApS"),
               "summary": "New sub-processor", "announce": true}),
    )
    .await
    .unwrap());
    first.stop();

    let _smtp = SmtpServer::start_on(port, maildir.path());
    let second = LoggedServe::start(&url, &settings);
    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    assert!(mails[0].header("To").contains("dpo@roskilde.test"));
    let base = format!("http://127.0.0.1:{}", second.port);
    let start = Instant::now();
    loop {
        let events: Value = client
            .get(format!("{base}/v1/processors/{PID}/events?limit=500"))
            .bearer_auth(processor(PID))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let dispatched = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "notice.dispatched")
            .count();
        if dispatched == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no dispatch event"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered(maildir.path()).len(), 1);
    second.stop();
}

/// Reminders 7 and 1 days before the deadline (the default), each once, only while the window
/// is open; a decided window gets no more.
async fn reminders_come_before_the_deadline_once_each(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    let aid = parties(&app).await;
    app.controller("greve").await;
    let greve = app.agreement("greve", PID, general_terms(30)).await;
    for (cid, aid, address) in [
        (CID, aid.as_str(), "dpo@roskilde.test"),
        ("greve", greve["id"].as_str().expect("id"), "dpo@greve.test"),
    ] {
        let path = format!("/v1/controllers/{cid}/agreements/{aid}/notice-contacts");
        let contacts = json!([contact("DPO", address, "da")]);
        assert_eq!(
            app.put(&path, &controller(cid), &contacts).await.status,
            200
        );
    }
    app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    wait_for_delivered(maildir.path(), 2, Duration::from_secs(20)).await;
    let window = app.windows(CID).await[0].clone();
    // Greve approves: its window is no longer open and it is not reminded.
    let greve_window = app.windows("greve").await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(app.approve("greve", &greve_window).await.status, 200);

    let reminders = |mails: &[Mail]| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m.header("Subject").starts_with("Påmindelse"))
            .map(|m| m.header("To").to_string())
            .collect()
    };
    app.advance_to(&window["closes_at"], -8 * 86_400).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = delivered(maildir.path()).len();
    assert!(
        reminders(&parse_all(&delivered(maildir.path()))).is_empty(),
        "no reminder 8 days before"
    );
    app.advance_to(&window["closes_at"], -6 * 86_400).await;
    let mails =
        parse_all(&wait_for_delivered(maildir.path(), before + 1, Duration::from_secs(20)).await);
    let sent = reminders(&mails);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("dpo@roskilde.test"), "{sent:?}");
    let first = mails
        .iter()
        .find(|m| m.header("Subject").starts_with("Påmindelse"))
        .expect("reminder");
    assert!(first
        .text
        .contains("fristen for at gøre indsigelse nærmer sig"));
    assert!(first
        .text
        .contains("Indsigelsesfristen udløber ved udgangen af"));
    app.advance_to(&window["closes_at"], -12 * 3_600).await;
    wait_for_delivered(maildir.path(), before + 2, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sent = reminders(&parse_all(&delivered(maildir.path())));
    assert_eq!(sent.len(), 2, "each reminder once: {sent:?}");
    assert!(
        sent.iter().all(|to| to.contains("dpo@roskilde.test")),
        "{sent:?}"
    );
}

/// A processor proposes an agreement: the controller has set no notice contacts on it yet, so
/// the proposal goes to the controller's contact address, in Danish, with proof of dispatch.
async fn a_proposal_reaches_the_controller_before_it_named_contacts(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    app.processor(PID).await;
    app.controller(CID).await;
    let mut body = general_terms(30);
    body["controller_id"] = json!(CID);
    body["processor_id"] = json!(PID);
    let proposed = app
        .post("/v1/agreements", Some(&processor(PID)), &body)
        .await;
    assert_eq!(proposed.status, 201, "{}", proposed.text);
    assert_eq!(proposed.json()["notice_contacts"], json!([]));
    let mails = parse_all(&wait_for_delivered(maildir.path(), 1, Duration::from_secs(20)).await);
    let mail = to(&mails, "dpo@example.dk");
    assert!(
        mail.header("To").contains("roskilde Kommune"),
        "{}",
        mail.header("To")
    );
    let subject = mail.header("Subject");
    assert!(
        subject.contains("Databehandleraftale foreslået"),
        "{subject}"
    );
    let dispatched = app.wait_for_events(PID, "notice.dispatched", 1).await;
    assert_eq!(dispatched[0]["data"]["recipient"], "dpo@example.dk");
    assert_eq!(dispatched[0]["controller_id"], CID);
}

for_both_backends!(
    a_proposal_reaches_the_controller_before_it_named_contacts,
    reminders_come_before_the_deadline_once_each,
    window_notice_reaches_each_contact_in_their_language,
    objections_reach_the_processor_and_refusals_are_recorded,
    an_smtp_outage_is_retried,
    a_crash_before_the_send_loses_no_message,
);
