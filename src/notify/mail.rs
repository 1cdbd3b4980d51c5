//! The mailer: claims due messages from the mail outbox, writes each in the recipient's
//! language (`domain::mail`), hands it to the SMTP server (`SUBREG_SMTP_URL`), and records the
//! server's answer: acceptance is `notice.dispatched` on the evidence log (proof of dispatch),
//! a permanent refusal `notice.failed`; a transient failure (4xx, no connection) is retried
//! on the schedule (`SUBREG_MAIL_RETRY_SCHEDULE_MS`, the webhooks' backoff and jitter).
//!
//! Claims take a lease on the real clock, as the webhook dispatcher's do: a crashed process's
//! messages come due again, so every notice is sent at least once. The Message-ID is made
//! from the outbox row, so a message sent twice carries the same Message-ID both times.

use crate::clock::Clock;
use crate::config::MailSettings;
use crate::domain::mail::{self, Link, LinkKind};
use crate::domain::subscription;
use crate::domain::webhook::retry_delay;
use crate::store::mail::{self as outbox, ClaimedMail, MailOutcome};
use crate::store::subscriptions::{SubscriberKind, SubscriberMail};
use crate::store::{Pool, StoreError};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Messages claimed at once.
const CLAIM: i64 = 16;

/// `Auto-Submitted: auto-generated` (RFC 3834): no auto-replies, no vacation answers.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// `List-Unsubscribe: <https://.../subscriptions/unsubscribe/{token}>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(text.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a POST to the
/// `List-Unsubscribe` URL unsubscribes at once, without a page in between.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

pub struct Mailer {
    pool: Pool,
    clock: Clock,
    settings: MailSettings,
    public_url: String,
    poll: Duration,
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    log: Option<Arc<crate::store::log::LogSigner>>,
}

impl Mailer {
    /// A mailer for `settings.smtp_url`; `Ok(None)` without one (the rows wait).
    pub fn new(
        pool: Pool,
        clock: Clock,
        settings: MailSettings,
        public_url: String,
        poll: Duration,
    ) -> Result<Option<Self>, String> {
        let Some(url) = settings.smtp_url.clone() else {
            return Ok(None);
        };
        // lettre's error for a bad URL does not repeat it, so no password reaches a log.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("SUBREG_SMTP_URL: {e}"))?
            .timeout(Some(settings.timeout))
            .build();
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("SUBREG_MAIL_FROM: {e}"))?;
        Ok(Some(Mailer {
            pool,
            clock,
            settings,
            public_url,
            poll,
            from,
            transport,
            log: None,
        }))
    }

    pub fn with_log_signer(mut self, log: Arc<crate::store::log::LogSigner>) -> Self {
        self.log = Some(log);
        self
    }

    /// Runs until `stop` turns true (or its sender is dropped): claim, send, record; sleeps
    /// until rows are written in this process or the poll interval passes.
    pub async fn run_until_stopped(self, mut stop: watch::Receiver<bool>) {
        let stopped = |stop: &watch::Receiver<bool>| stop.has_changed().is_err() || *stop.borrow();
        loop {
            if stopped(&stop) {
                break;
            }
            let seen = outbox::generation();
            match self.claim().await {
                Ok(claimed) if !claimed.is_empty() => {
                    for message in claimed {
                        if stopped(&stop) {
                            self.release(vec![message.id.clone()]).await;
                            continue;
                        }
                        self.deliver(message).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => log::warn!("mailer: claiming failed: {e}"),
            }
            let written = outbox::written();
            tokio::pin!(written);
            written.as_mut().enable();
            if outbox::generation() != seen {
                continue;
            }
            tokio::select! {
                _ = written => {}
                _ = tokio::time::sleep(self.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn claim(&self) -> Result<Vec<ClaimedMail>, StoreError> {
        let pool = self.pool.clone();
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(120));
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let wall_now = Clock::System.now();
            outbox::claim(&mut conn, now, wall_now, wall_now + lease, CLAIM)
        })
        .await
        .map_err(|e| StoreError::Config(format!("claim task: {e}")))?
    }

    async fn release(&self, ids: Vec<String>) {
        let pool = self.pool.clone();
        let released = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            outbox::release(&mut conn, &ids)
        })
        .await;
        if !matches!(released, Ok(Ok(_))) {
            log::warn!("mailer: giving a lease back failed; it runs out on its own");
        }
    }

    /// The Message-ID of an outbox row: the same for every attempt.
    fn message_id(&self, row_id: &str) -> String {
        let domain = self.from.email.domain();
        format!("<{row_id}@{domain}>")
    }

    /// Writes, sends and records one message.
    async fn deliver(&self, mut message: ClaimedMail) {
        message.state_deadline(self.clock.now());
        let message_id = self.message_id(&message.id);
        let outcome = self.send(&message, &message_id).await;
        match &outcome {
            MailOutcome::Accepted { code, .. } => {
                log::info!("mailer: {} accepted ({code})", message_id)
            }
            MailOutcome::Refused { text, .. } => {
                log::warn!("mailer: {} refused: {text}", message_id)
            }
            MailOutcome::Retry { error, retry_at } => {
                log::info!(
                    "mailer: {} not sent ({error}); again at {retry_at}",
                    message_id
                )
            }
        }
        let mut tries: u64 = 0;
        loop {
            let (pool, log) = (self.pool.clone(), self.log.clone());
            let (row, id, result) = (message.clone(), message_id.clone(), outcome.clone());
            let now = self.clock.now();
            let recorded = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                match &log {
                    Some(log) => crate::store::log::with_signer(log, || {
                        outbox::record(&mut conn, &row, &id, &result, now)
                    }),
                    None => outbox::record(&mut conn, &row, &id, &result, now),
                }
            })
            .await;
            match recorded {
                Ok(Ok(())) => return,
                Ok(Err(e @ (StoreError::Busy | StoreError::Pool(_)))) if tries < 5 => {
                    tries += 1;
                    log::warn!("mailer: recording failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                // The lease runs out and the message is sent again: at least once.
                Ok(Err(e)) => return log::error!("mailer: {message_id} not recorded: {e}"),
                Err(e) => return log::error!("mailer: record task failed: {e}"),
            }
        }
    }

    fn links(&self, message: &ClaimedMail) -> Vec<Link> {
        let mut links = match crate::domain::notice::change_id(&message.event) {
            Some(change_id) => vec![Link {
                kind: LinkKind::ChangePage,
                url: mail::change_page(&self.public_url, &message.processor_id, change_id),
            }],
            None => Vec::new(),
        };
        links.extend(self.decide_links(message));
        links.extend(self.confirm_link(message));
        links
    }

    /// A proposal or amendment that awaits the controller's confirmation carries a signed link
    /// to review and confirm exactly those terms, valid for 90 days from the proposal.
    fn confirm_link(&self, message: &ClaimedMail) -> Option<Link> {
        let log = self.log.as_ref()?;
        let version = message.context.awaiting_confirmation?;
        let agreement = message.event.pointer("/data/id")?.as_str()?;
        let proposed_at = message.event.get("occurred_at")?.as_str()?;
        let proposed_at = chrono::DateTime::parse_from_rfc3339(proposed_at).ok()?;
        let valid_until = proposed_at.with_timezone(&chrono::Utc) + chrono::Duration::days(90);
        match crate::domain::decide::confirm_link(
            &self.public_url,
            log.decide_key(),
            agreement,
            version,
            &message.recipient,
            valid_until,
        ) {
            Ok(url) => Some(Link {
                kind: LinkKind::Confirm,
                url: format!("{url}?lang={}", message.language.code()),
            }),
            Err(e) => {
                log::warn!("mailer: no confirmation link for agreement {agreement}: {e}");
                None
            }
        }
    }

    /// A window's notice (and its reminders) to the controller's contact carries signed links
    /// to view, object and approve, bound to that window and that mailbox. They stay valid at
    /// most 60 days past the deadline (a refusal may still be approved late); the server
    /// refuses them sooner once the window can no longer be decided that way.
    fn decide_links(&self, message: &ClaimedMail) -> Vec<Link> {
        let (Some(log), Some("window.opened"), Some(window), Some(closes_at)) = (
            &self.log,
            message.event.get("type").and_then(|t| t.as_str()),
            message.event.pointer("/data/id").and_then(|v| v.as_str()),
            message
                .event
                .pointer("/data/closes_at")
                .and_then(|v| v.as_str())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
        ) else {
            return Vec::new();
        };
        let valid_until = closes_at.with_timezone(&chrono::Utc) + chrono::Duration::days(60);
        // The page opens in the recipient's language whatever their browser asks for.
        let in_language = |url: String| format!("{url}?lang={}", message.language.code());
        match crate::domain::decide::links(
            &self.public_url,
            log.decide_key(),
            window,
            &message.recipient,
            valid_until,
        ) {
            Ok(made) => vec![
                Link {
                    kind: LinkKind::View,
                    url: in_language(made.view),
                },
                Link {
                    kind: LinkKind::Object,
                    url: in_language(made.object),
                },
                Link {
                    kind: LinkKind::Approve,
                    url: in_language(made.approve),
                },
            ],
            Err(e) => {
                log::warn!("mailer: no decision links for window {window}: {e}");
                Vec::new()
            }
        }
    }

    /// A public subscriber's message: the confirmation, or an update with the one-click
    /// unsubscribe headers (RFC 8058) and a visible unsubscribe link.
    fn build_for_subscriber(
        &self,
        message: &ClaimedMail,
        subscriber: &SubscriberMail,
        message_id: &str,
    ) -> Result<Message, String> {
        let key = self
            .log
            .as_ref()
            .ok_or("no key to sign the subscription's links")?
            .decide_key();
        let page = subscription::processor_page(&self.public_url, &message.processor_id);
        let sid = subscriber.subscription_id.as_str();
        let to = Mailbox::new(
            None,
            message
                .recipient
                .parse()
                .map_err(|e| format!("recipient: {e}"))?,
        );
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .message_id(Some(message_id.to_string()))
            .header(AutoSubmitted);
        let (builder, notice) = match &subscriber.kind {
            SubscriberKind::Confirm {
                expires_at,
                frequency,
            } => {
                let token = subscription::confirm_token(key, sid, *expires_at);
                let confirm_url = subscription::confirm_url(&self.public_url, &token);
                let notice = subscription::confirmation(
                    &subscription::Confirmation {
                        processor_name: &subscriber.processor_name,
                        page_url: &page,
                        confirm_url: &confirm_url,
                        expires_at: *expires_at,
                        frequency: *frequency,
                    },
                    message.language,
                );
                (builder, notice)
            }
            SubscriberKind::Event | SubscriberKind::Digest { .. } => {
                let token = subscription::unsubscribe_token(key, sid);
                let unsubscribe_url = subscription::unsubscribe_url(&self.public_url, &token);
                let digest_day = match subscriber.kind {
                    SubscriberKind::Digest { day } => Some(day),
                    _ => None,
                };
                let notice = subscription::update(
                    &subscription::Update {
                        public_url: &self.public_url,
                        processor_id: &message.processor_id,
                        processor_name: &subscriber.processor_name,
                        unsubscribe_url: &unsubscribe_url,
                        digest_day,
                    },
                    &subscriber.events,
                    message.language,
                );
                let builder = builder
                    .header(ListUnsubscribe(unsubscribe_url))
                    .header(ListUnsubscribePost);
                (builder, notice)
            }
        };
        builder
            .subject(notice.subject)
            .multipart(MultiPart::alternative_plain_html(notice.text, notice.html))
            .map_err(|e| format!("message: {e}"))
    }

    fn build(&self, message: &ClaimedMail, message_id: &str) -> Result<Message, String> {
        if let Some(subscriber) = &message.subscription {
            return self.build_for_subscriber(message, subscriber, message_id);
        }
        let notice = mail::compose(
            &message.event,
            &message.context,
            message.language,
            &self.links(message),
        );
        let to = Mailbox::new(
            Some(message.recipient_name.clone()),
            message
                .recipient
                .parse()
                .map_err(|e| format!("recipient: {e}"))?,
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(notice.subject)
            .message_id(Some(message_id.to_string()))
            .header(AutoSubmitted)
            .multipart(MultiPart::alternative_plain_html(notice.text, notice.html))
            .map_err(|e| format!("message: {e}"))
    }

    async fn send(&self, message: &ClaimedMail, message_id: &str) -> MailOutcome {
        let email = match self.build(message, message_id) {
            Ok(email) => email,
            // Nothing a retry could mend.
            Err(text) => return MailOutcome::Refused { code: None, text },
        };
        match self.transport.send(email).await {
            Ok(response) => MailOutcome::Accepted {
                code: u16::from(response.code()),
                text: response.message().collect::<Vec<_>>().join("\n"),
            },
            Err(e) if e.is_permanent() => MailOutcome::Refused {
                code: e.status().map(u16::from),
                text: e.to_string(),
            },
            Err(e) => {
                let done = u32::try_from(message.attempts)
                    .unwrap_or(0)
                    .saturating_add(1);
                let delay = retry_delay(
                    done,
                    &self.settings.retry_schedule,
                    None,
                    rand::random::<f64>(),
                )
                .and_then(|d| chrono::Duration::from_std(d).ok());
                match delay {
                    Some(delay) => MailOutcome::Retry {
                        error: e.to_string(),
                        retry_at: self.clock.now() + delay,
                    },
                    None => MailOutcome::Refused {
                        code: e.status().map(u16::from),
                        text: format!("gave up after {done} attempts: {e}"),
                    },
                }
            }
        }
    }
}
