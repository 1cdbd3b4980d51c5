//! Public e-mail subscriptions through a real SMTP server (aiosmtpd on 127.0.0.1): double
//! opt-in, a message per public change with RFC 8058 one-click unsubscribe, the address gone
//! with the row, no notice events, the same answer for a known address, one confirmation an
//! hour, unconfirmed subscriptions expiring, used and expired links, and daily digests.

use crate::for_both_backends;
use crate::helpers::*;
use crate::smtp::{delivered, free_port, wait_for_delivered, SmtpServer};
use diesel::prelude::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use subreg::store::schema::{events, mail_outbox, subscriptions};

const PID: &str = "timengo-dpg";
const PUBLIC_URL: &str = "https://subreg.test";
const FROM: &str = "subreg <notices@subreg.test>";
const WAIT: Duration = Duration::from_secs(20);

async fn mail_app(backend: Backend, port: u16) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.mail.from = FROM.into();
        s.mail.retry_schedule = vec![Duration::from_millis(200); 50];
        s.public_url = PUBLIC_URL.into();
    })
    .await
}

struct Mail {
    headers: Vec<(String, String)>,
    text: String,
    html: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> Mail {
        let parsed = mailparse::parse_mail(raw).expect("a MIME message");
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
            headers: parsed
                .headers
                .iter()
                .map(|h| (h.get_key(), h.get_value()))
                .collect(),
            text: part("text/plain"),
            html: part("text/html"),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    /// The first link in the text part that starts with `prefix`.
    fn link(&self, prefix: &str) -> String {
        let start = self
            .text
            .find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in {}", self.text));
        self.text[start..]
            .split_whitespace()
            .next()
            .expect("a link")
            .to_string()
    }
}

/// Waits for message number `count` (1-based) and returns it.
async fn nth_mail(maildir: &Path, count: usize) -> Mail {
    let all = wait_for_delivered(maildir, count, WAIT).await;
    Mail::parse(&all[count - 1].1)
}

/// Gives the mailer time to send anything wrongly queued, then checks the count.
async fn still_delivered(maildir: &Path, count: usize) {
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        delivered(maildir).len(),
        count,
        "no further message expected"
    );
}

/// The path of a link in a message (the test server is not at the public URL).
fn local(_app: &TestApp, url: &str) -> String {
    url.strip_prefix(PUBLIC_URL)
        .expect("a link of the public URL")
        .to_string()
}

impl TestApp {
    async fn subscribe_form(
        &self,
        pid: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(self.url(&format!("/processors/{pid}/subscribe")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).expect("form"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        self.send(request).await
    }

    async fn subscribe(&self, email: &str, frequency: &str, lang: &str) -> Reply {
        let reply = self
            .subscribe_form(
                PID,
                &[("email", email), ("frequency", frequency), ("lang", lang)],
                Some(&self.address),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.content_type().starts_with("text/html"));
        reply
    }

    async fn post_form(&self, path: &str, body: &str) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.to_string()),
        )
        .await
    }

    fn with_conn<T>(&self, work: impl FnOnce(&mut subreg::store::DbConnection) -> T) -> T {
        let pool = subreg::store::connect(&self.database_url, 1).expect("pool");
        let mut conn = pool.get().expect("connection");
        work(&mut conn)
    }

    fn subscription_count(&self) -> i64 {
        self.with_conn(|conn| subreg::store::subscriptions::count(conn, PID).expect("count"))
    }

    /// The outbox rows of subscribers (sent or not).
    fn subscriber_rows(&self) -> i64 {
        self.with_conn(|conn| {
            mail_outbox::table
                .filter(mail_outbox::kind.like("subscription.%"))
                .count()
                .get_result(conn)
                .expect("outbox")
        })
    }

    /// Rows anywhere an address could linger that hold it (as typed or lower-cased).
    fn traces_of(&self, address: &str) -> i64 {
        self.with_conn(|conn| {
            let mut found = 0;
            for form in [address.to_string(), address.to_lowercase()] {
                let pattern = format!("%{form}%");
                let in_outbox: i64 = mail_outbox::table
                    .filter(
                        mail_outbox::recipient
                            .like(&pattern)
                            .or(mail_outbox::last_error.like(&pattern)),
                    )
                    .count()
                    .get_result(conn)
                    .expect("outbox");
                let in_events: i64 = events::table
                    .filter(events::payload.like(&pattern))
                    .count()
                    .get_result(conn)
                    .expect("events");
                let in_subscriptions: i64 = subscriptions::table
                    .filter(subscriptions::email.like(&pattern))
                    .count()
                    .get_result(conn)
                    .expect("subscriptions");
                found += in_outbox + in_events + in_subscriptions;
            }
            found
        })
    }

    async fn event_types_of(&self) -> Vec<String> {
        let reply = self
            .get(
                &format!("/v1/processors/{PID}/events?limit=500"),
                Some(&processor(PID)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["type"].as_str().expect("type").to_string())
            .collect()
    }
}

/// The processor with one customer, so an announced change stays announced (its window is
/// open for 30 days) and each announcement is one public event.
async fn with_customer(app: &TestApp) {
    app.processor(PID).await;
    app.controller("roskilde").await;
    app.agreement("roskilde", PID, general_terms(30)).await;
}

/// Subscribe, confirm by the mailed link, get a change with the RFC 8058 headers, unsubscribe
/// with the one-click POST a mail client sends: the row and the address are gone and the next
/// change is not mailed. Nothing of it reaches the evidence log.
async fn double_opt_in_and_one_click_unsubscribe(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    with_customer(&app).await;
    let page = app.get(&format!("/processors/{PID}?lang=da"), None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Følg ændringer på e-mail"),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains(&format!("action=\"/processors/{PID}/subscribe\"")));

    let address = "Reader@Example.test";
    let first = app.subscribe(address, "immediate", "en").await;
    assert!(first.text.contains("Look for an e-mail"), "{}", first.text);
    let confirmation = nth_mail(maildir.path(), 1).await;
    assert!(confirmation.header("To").contains("Reader@Example.test"));
    assert!(
        confirmation
            .header("Subject")
            .starts_with("Confirm your subscription"),
        "{}",
        confirmation.header("Subject")
    );
    assert_eq!(confirmation.header("Auto-Submitted"), "auto-generated");
    assert!(
        confirmation.get("List-Unsubscribe").is_none(),
        "not subscribed yet"
    );
    let confirm_url = confirmation.link(&format!("{PUBLIC_URL}/subscriptions/confirm/"));
    assert!(confirmation.html.contains(&confirm_url));

    // Before confirmation nothing is sent, and asking again answers the same and sends nothing.
    app.announce_addition(PID, &eea_entry("Early ApS")).await;
    let again = app.subscribe(address, "immediate", "en").await;
    assert_eq!(
        again.text, first.text,
        "the same answer for a known address"
    );
    still_delivered(maildir.path(), 1).await;

    // Opening the link (as a person, or a mail scanner fetching it) confirms nothing: the
    // page names the address and asks, with a button.
    for _ in 0..2 {
        let shown = app.get_owned(local(&app, &confirm_url)).await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert!(shown.text.contains("Reader@Example.test"), "{}", shown.text);
        assert!(
            shown
                .text
                .contains(r#"<input type="hidden" name="confirm" value="yes">"#)
                && shown.text.contains("Confirm the subscription"),
            "{}",
            shown.text
        );
    }
    let confirmed = app
        .post_form(&local(&app, &confirm_url), "confirm=yes")
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert!(
        confirmed.text.contains("Your subscription is confirmed"),
        "{}",
        confirmed.text
    );
    let reused = app
        .post_form(&local(&app, &confirm_url), "confirm=yes")
        .await;
    assert_eq!(reused.status, 200);
    assert!(
        reused.text.contains("This link has been used"),
        "{}",
        reused.text
    );
    let shown = app.get_owned(local(&app, &confirm_url)).await;
    assert!(
        shown.text.contains("This link has been used") && !shown.text.contains("<form"),
        "{}",
        shown.text
    );
    // Confirmed: subscribing again is still the same answer, and sends nothing.
    assert_eq!(
        app.subscribe(address, "immediate", "en").await.text,
        first.text
    );

    app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    let update = nth_mail(maildir.path(), 2).await;
    assert!(update.header("To").contains("Reader@Example.test"));
    assert!(
        update.header("Subject").contains("Qbox ApS"),
        "{}",
        update.header("Subject")
    );
    assert!(update.text.contains("Qbox ApS"));
    assert!(update
        .text
        .contains(&format!("{PUBLIC_URL}/processors/{PID}/changes/")));
    let list_unsubscribe = update.header("List-Unsubscribe");
    let unsubscribe_url = list_unsubscribe
        .strip_prefix('<')
        .and_then(|u| u.strip_suffix('>'))
        .unwrap_or_else(|| panic!("List-Unsubscribe: {list_unsubscribe}"))
        .to_string();
    assert!(unsubscribe_url.starts_with(&format!("{PUBLIC_URL}/subscriptions/unsubscribe/")));
    assert_eq!(
        update.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(update.header("Auto-Submitted"), "auto-generated");
    assert!(update.header("Message-ID").contains("@subreg.test>"));
    assert!(update
        .text
        .contains(&format!("Unsubscribe: {unsubscribe_url}")));
    assert!(update.html.contains(&format!("href=\"{unsubscribe_url}\"")));
    // Not a notice: no proof of dispatch, no address on the log.
    let types = app.event_types_of().await;
    assert!(!types.iter().any(|t| t.starts_with("notice.")), "{types:?}");
    assert_eq!(app.subscriber_rows(), 2, "the confirmation and the change");

    // GET shows a button and changes nothing (scanners prefetch links).
    let shown = app.get_owned(local(&app, &unsubscribe_url)).await;
    assert_eq!(shown.status, 200);
    assert!(
        shown
            .text
            .contains("name=\"List-Unsubscribe\" value=\"One-Click\""),
        "{}",
        shown.text
    );
    assert!(shown.text.contains("Reader@Example.test"));
    assert_eq!(app.subscription_count(), 1);
    // A POST without the one-click field changes nothing either.
    let refused = app.post_form(&local(&app, &unsubscribe_url), "x=1").await;
    assert_eq!(refused.status, 422);
    assert_eq!(app.subscription_count(), 1);

    // The mail client's RFC 8058 POST: no cookie, no Origin, no CSRF field.
    let gone = app
        .post_form(&local(&app, &unsubscribe_url), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert!(gone.text.contains("You are unsubscribed"), "{}", gone.text);
    assert_eq!(app.subscription_count(), 0);
    assert_eq!(app.traces_of(address), 0, "the address is gone");
    assert_eq!(app.subscriber_rows(), 0, "its outbox rows are gone too");

    app.announce_addition(PID, &eea_entry("Late ApS")).await;
    still_delivered(maildir.path(), 2).await;

    // Used and foreign links: a page saying so, never an error.
    let twice = app
        .post_form(&local(&app, &unsubscribe_url), "List-Unsubscribe=One-Click")
        .await;
    assert_eq!(twice.status, 200);
    assert!(twice.text.contains("not subscribed"), "{}", twice.text);
    let shown = app.get_owned(local(&app, &unsubscribe_url)).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.text.contains("One-Click"));
    let stale = app.get_owned(local(&app, &confirm_url)).await;
    assert_eq!(stale.status, 410, "{}", stale.text);
    for path in [
        "/subscriptions/confirm/c.abc.1.xyz",
        "/subscriptions/unsubscribe/garbage",
    ] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(reply.content_type().starts_with("text/html"));
    }
    let forged = app
        .post_form(
            "/subscriptions/unsubscribe/u.0192f0c8-7a6b-7c3d-9e2f-0123456789ab.AAAAAAAAAAAAAAAAAAAAAA",
            "List-Unsubscribe=One-Click",
        )
        .await;
    assert_eq!(forged.status, 404);
    app.assert_logs_replay().await;
}

/// The form's refusals, one confirmation an hour, and an unconfirmed subscription that expires
/// (deleted by the sweeper; its link answers 410).
async fn unconfirmed_subscriptions_expire(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    app.processor(PID).await;
    // What to fix, in the page's language.
    let bad = app
        .subscribe_form(PID, &[("email", "x@@example.test"), ("lang", "da")], None)
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.text.contains("Det er ikke en e-mailadresse"),
        "{}",
        bad.text
    );
    let missing = app.subscribe_form(PID, &[("lang", "en")], None).await;
    assert_eq!(missing.status, 422);
    assert!(missing.text.contains("Give your e-mail address"));
    let frequency = app
        .subscribe_form(
            PID,
            &[("email", "a@example.test"), ("frequency", "hourly")],
            None,
        )
        .await;
    assert_eq!(frequency.status, 422);
    let cross_site = app
        .subscribe_form(
            PID,
            &[("email", "victim@example.test")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(cross_site.status, 403);
    let unknown = app
        .subscribe_form("nobody", &[("email", "a@example.test")], None)
        .await;
    assert_eq!(unknown.status, 404);
    still_delivered(maildir.path(), 0).await;
    assert_eq!(app.subscription_count(), 0);

    // Without Origin (not a browser) the form is accepted; no second mail within the hour.
    let address = "later@example.test";
    let fields = [("email", address), ("frequency", "daily")];
    assert_eq!(app.subscribe_form(PID, &fields, None).await.status, 200);
    let first = nth_mail(maildir.path(), 1).await;
    assert_eq!(app.subscribe_form(PID, &fields, None).await.status, 200);
    still_delivered(maildir.path(), 1).await;
    app.advance("PT2H").await;
    assert_eq!(app.subscribe_form(PID, &fields, None).await.status, 200);
    let second = nth_mail(maildir.path(), 2).await;
    assert!(second.text.contains("daily digest"), "{}", second.text);
    let prefix = format!("{PUBLIC_URL}/subscriptions/confirm/");
    let (first_url, second_url) = (first.link(&prefix), second.link(&prefix));
    assert_ne!(first_url, second_url);
    assert_eq!(app.subscription_count(), 1);

    // 48 hours after the second request: expired, and the sweeper deletes it.
    app.advance("PT48H").await;
    let start = Instant::now();
    while app.subscription_count() != 0 {
        assert!(
            start.elapsed() < WAIT,
            "the unconfirmed subscription was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.traces_of(address), 0);
    assert_eq!(app.subscriber_rows(), 0);
    for url in [&first_url, &second_url] {
        let expired = app.get_owned(local(&app, url)).await;
        assert_eq!(expired.status, 410, "{}", expired.text);
        assert!(expired.text.contains("expired"), "{}", expired.text);
    }
    assert_eq!(app.subscription_count(), 0);
}

/// The next 00:00 in Copenhagen after the test clock's now, as RFC 3339.
async fn next_midnight(app: &TestApp) -> Value {
    let clock = app.get("/v1/admin/clock", Some(&admin())).await.json();
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().expect("now"))
        .expect("RFC 3339")
        .with_timezone(&chrono_tz::Europe::Copenhagen);
    let tomorrow = now.date_naive().succ_opt().expect("a next day");
    let midnight = tomorrow
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(chrono_tz::Europe::Copenhagen)
        .earliest()
        .expect("a local midnight");
    Value::String(midnight.with_timezone(&chrono::Utc).to_rfc3339())
}

/// A daily subscriber gets nothing while the day runs, one message listing the day's changes
/// once it is over, and nothing for a quiet day.
async fn daily_digest_coalesces_a_day(backend: Backend) {
    let maildir = tempfile::tempdir().expect("maildir");
    let port = free_port();
    let _smtp = SmtpServer::start_on(port, maildir.path());
    let Some(app) = mail_app(backend, port).await else {
        return;
    };
    with_customer(&app).await;
    app.subscribe("digest@example.test", "daily", "da").await;
    let confirmation = nth_mail(maildir.path(), 1).await;
    assert!(confirmation
        .header("Subject")
        .starts_with("Bekræft din tilmelding"));
    assert!(confirmation.text.contains("daglig oversigt"));
    let confirm_url = confirmation.link(&format!("{PUBLIC_URL}/subscriptions/confirm/"));
    let confirmed = app
        .post_form(&local(&app, &confirm_url), "confirm=yes")
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);

    // Tomorrow 10:00: two changes, and nothing sent while the day runs.
    app.advance_to(&next_midnight(&app).await, 10 * 3600).await;
    app.announce_addition(PID, &eea_entry("Qbox ApS")).await;
    app.announce_addition(PID, &eea_entry("Zbox ApS")).await;
    still_delivered(maildir.path(), 1).await;

    // Just after midnight: one digest with both.
    app.advance_to(&next_midnight(&app).await, 30 * 60).await;
    let digest = nth_mail(maildir.path(), 2).await;
    let subject = digest.header("Subject");
    assert!(
        subject.contains("2 ændringer af underdatabehandlere"),
        "{subject}"
    );
    assert!(
        digest.text.contains("Qbox ApS") && digest.text.contains("Zbox ApS"),
        "{}",
        digest.text
    );
    assert!(digest.html.contains("Qbox ApS") && digest.html.contains("Zbox ApS"));
    assert!(digest
        .text
        .contains("Afmeld: https://subreg.test/subscriptions/unsubscribe/"));
    assert_eq!(
        digest.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    still_delivered(maildir.path(), 2).await;

    // A quiet day: no message.
    app.advance_to(&next_midnight(&app).await, 30 * 60).await;
    still_delivered(maildir.path(), 2).await;
    let types = app.event_types_of().await;
    assert!(!types.iter().any(|t| t.starts_with("notice.")), "{types:?}");
}

for_both_backends!(
    double_opt_in_and_one_click_unsubscribe,
    unconfirmed_subscriptions_expire,
    daily_digest_coalesces_a_day,
);
