//! Public e-mail subscriptions to a processor's changes (issue 13 item 4): double opt-in, then a
//! message per public change or a daily digest, each with a one-click unsubscribe (RFC 8058).
//!
//! Pure: the rules (address, frequency, how long a confirmation link lives, how often one is
//! sent), the signed links, and what each message says in Danish or English. The links are
//! `c.<id>.<expiry>.<mac>` (confirm) and `u.<id>.<mac>` (unsubscribe): an HMAC-SHA256, cut to
//! 128 bits, under a key derived from the instance's log key (`DecideKey`), so no token is
//! stored and every instance with the same key accepts the same links. A subscriber's mail is
//! not a contractual notice: nothing here reaches the evidence log.

use super::contact::MAX_EMAIL;
use super::decide::DecideKey;
use super::language::Lang;
use super::mail::Notice;
use super::notice;
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long an unconfirmed subscription and its confirmation link live.
pub const CONFIRM_TTL: Duration = Duration::hours(48);
/// At most one confirmation message per address and processor in this period (so the form
/// cannot be used to flood a third party's mailbox).
pub const RESEND_AFTER: Duration = Duration::hours(1);
/// Bytes of the HMAC kept in a link.
const MAC_BYTES: usize = 16;

/// The public events a subscriber is told of: what the public feed shows.
pub const PUBLIC_EVENTS: [&str; 6] = [
    "subprocessor.added",
    "change.announced",
    "change.postponed",
    "change.blocked",
    "change.effective",
    "change.withdrawn",
];

/// Whether an event of this type and visibility goes to subscribers.
pub fn is_public_change(event_type: &str, visibility: &str) -> bool {
    visibility == "public" && PUBLIC_EVENTS.contains(&event_type)
}

/// How often a subscriber is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// A message per public change.
    #[default]
    Immediate,
    /// One message per day that had changes, sent when the day (Copenhagen time) is over.
    Daily,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Immediate => "immediate",
            Frequency::Daily => "daily",
        }
    }

    pub fn parse(text: &str) -> Option<Frequency> {
        match text {
            "immediate" => Some(Frequency::Immediate),
            "daily" => Some(Frequency::Daily),
            _ => None,
        }
    }
}

/// Why an address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProblem {
    Missing,
    TooLong,
    Invalid,
}

/// The address as given (trimmed), if it is one: `local@domain`, at most 254 characters.
pub fn parse_email(input: &str) -> Result<String, EmailProblem> {
    let email = input.trim();
    if email.is_empty() {
        return Err(EmailProblem::Missing);
    }
    if email.chars().count() > MAX_EMAIL {
        return Err(EmailProblem::TooLong);
    }
    if email.parse::<lettre::Address>().is_err() {
        return Err(EmailProblem::Invalid);
    }
    Ok(email.to_string())
}

/// The key one address has per processor (addresses compare without case).
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a subscription link of this site")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

fn mac(key: &DecideKey, message: &str) -> Option<hmac::Hmac<sha2::Sha256>> {
    key.subscription_mac(message.as_bytes())
}

fn tag(key: &DecideKey, message: &str) -> String {
    mac(key, message)
        .map(|m| {
            let full = m.finalize().into_bytes();
            URL_SAFE_NO_PAD.encode(full.get(..MAC_BYTES).unwrap_or_default())
        })
        .unwrap_or_default()
}

fn tag_ok(key: &DecideKey, message: &str, tag: &str) -> bool {
    let (Some(m), Ok(bytes)) = (mac(key, message), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    bytes.len() == MAC_BYTES && m.verify_truncated_left(&bytes).is_ok()
}

/// A subscription id is a UUID: no dots, nothing a URL must escape.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The confirmation token of subscription `id`, valid until `expires_at`.
pub fn confirm_token(key: &DecideKey, id: &str, expires_at: DateTime<Utc>) -> String {
    let exp = expires_at.timestamp();
    let tag = tag(key, &format!("confirm\n{id}\n{exp}"));
    format!("c.{id}.{exp}.{tag}")
}

/// The unsubscribe token of subscription `id` (valid while the subscription exists).
pub fn unsubscribe_token(key: &DecideKey, id: &str) -> String {
    let tag = tag(key, &format!("unsubscribe\n{id}"));
    format!("u.{id}.{tag}")
}

/// The subscription a confirmation token names, if it is ours and not expired at `now`.
pub fn verify_confirm(
    key: &DecideKey,
    token: &str,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some("c"), Some(id), Some(exp), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Invalid);
    };
    let Ok(expires) = exp.parse::<i64>() else {
        return Err(TokenError::Invalid);
    };
    if !plausible_id(id) || !tag_ok(key, &format!("confirm\n{id}\n{expires}"), tag) {
        return Err(TokenError::Invalid);
    }
    if now.timestamp() >= expires {
        return Err(TokenError::Expired);
    }
    Ok(id.to_string())
}

/// The subscription an unsubscribe token names, if it is ours.
pub fn verify_unsubscribe(key: &DecideKey, token: &str) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some("u"), Some(id), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    if !plausible_id(id) || !tag_ok(key, &format!("unsubscribe\n{id}"), tag) {
        return Err(TokenError::Invalid);
    }
    Ok(id.to_string())
}

fn base(public_url: &str) -> &str {
    public_url.trim_end_matches('/')
}

pub fn confirm_url(public_url: &str, token: &str) -> String {
    format!("{}/subscriptions/confirm/{token}", base(public_url))
}

pub fn unsubscribe_url(public_url: &str, token: &str) -> String {
    format!("{}/subscriptions/unsubscribe/{token}", base(public_url))
}

pub fn processor_page(public_url: &str, processor_id: &str) -> String {
    format!("{}/processors/{processor_id}", base(public_url))
}

/// What the confirmation message says.
#[derive(Debug, Clone)]
pub struct Confirmation<'a> {
    pub processor_name: &'a str,
    pub page_url: &'a str,
    pub confirm_url: &'a str,
    pub expires_at: DateTime<Utc>,
    pub frequency: Frequency,
}

/// One change in an update message.
struct Item {
    title: String,
    facts: Vec<(String, String)>,
    link: String,
}

#[derive(Template)]
#[template(path = "mail/subscription.html")]
struct Html<'a> {
    lang: &'a str,
    subject: &'a str,
    paragraphs: &'a [String],
    items: &'a [Item],
    action_label: &'a str,
    action_url: &'a str,
    change_label: &'a str,
    footer: &'a [String],
    unsubscribe_label: &'a str,
    unsubscribe_url: &'a str,
}

fn frequency_words(lang: Lang, frequency: Frequency) -> &'static str {
    match (lang, frequency) {
        (Lang::Da, Frequency::Immediate) => "en e-mail ved hver ændring",
        (Lang::Da, Frequency::Daily) => "en daglig oversigt over dagens ændringer",
        (Lang::En, Frequency::Immediate) => "an e-mail for every change",
        (Lang::En, Frequency::Daily) => "a daily digest of the day's changes",
    }
}

/// The double opt-in message: a link that confirms, and what happens if nobody follows it.
pub fn confirmation(c: &Confirmation<'_>, lang: Lang) -> Notice {
    let da = lang == Lang::Da;
    let (processor, until) = (c.processor_name, lang.datetime(c.expires_at));
    let subject = if da {
        format!("Bekræft din tilmelding: ændringer i underdatabehandlere anvendt af {processor}")
    } else {
        format!("Confirm your subscription: changes of sub-processors used by {processor}")
    };
    let paragraphs = if da {
        vec![
            format!(
                "Der er bedt om at få ændringer i underdatabehandlere anvendt af {processor} \
                 tilsendt til denne adresse ({}).",
                frequency_words(lang, c.frequency)
            ),
            format!("Bekræft tilmeldingen med linket herunder. Linket udløber {until}."),
            "Har du ikke bedt om det, så ignorér denne e-mail: uden bekræftelse sendes der \
             intet mere, og adressen slettes, når linket udløber."
                .to_string(),
        ]
    } else {
        vec![
            format!(
                "Someone asked for changes of the sub-processors used by {processor} to be sent \
                 to this address ({}).",
                frequency_words(lang, c.frequency)
            ),
            format!("Confirm the subscription with the link below. The link expires {until}."),
            "If you did not ask for this, ignore this e-mail: without confirmation nothing more \
             is sent, and the address is deleted when the link expires."
                .to_string(),
        ]
    };
    let action_label = if da {
        "Bekræft tilmeldingen"
    } else {
        "Confirm the subscription"
    };
    let footer = vec![if da {
        format!("Sendt automatisk af subreg fra {}.", c.page_url)
    } else {
        format!("Sent automatically by subreg from {}.", c.page_url)
    }];
    let mut body = String::new();
    for p in &paragraphs {
        body.push_str(p);
        body.push_str("\n\n");
    }
    body.push_str(&format!("{action_label}: {}\n", c.confirm_url));
    body.push_str("\n-- \n");
    body.push_str(&footer.join("\n"));
    body.push('\n');
    let html = Html {
        lang: lang.code(),
        subject: &subject,
        paragraphs: &paragraphs,
        items: &[],
        action_label,
        action_url: c.confirm_url,
        change_label: "",
        footer: &footer,
        unsubscribe_label: "",
        unsubscribe_url: "",
    }
    .render()
    .unwrap_or_default();
    Notice {
        subject,
        text: body,
        html,
    }
}

/// What an update (one event, or a day's digest) needs beyond the events.
#[derive(Debug, Clone)]
pub struct Update<'a> {
    pub public_url: &'a str,
    pub processor_id: &'a str,
    pub processor_name: &'a str,
    pub unsubscribe_url: &'a str,
    /// The day a digest covers (Copenhagen time); `None` for a message about one event.
    pub digest_day: Option<NaiveDate>,
}

fn item(u: &Update<'_>, event: &Value, lang: Lang) -> Item {
    let described = notice::describe(event, lang);
    let facts = described
        .summary
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match line.split_once(": ") {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (String::new(), line.to_string()),
        })
        .collect();
    let link = match notice::change_id(event) {
        Some(change_id) => super::mail::change_page(u.public_url, u.processor_id, change_id),
        None => processor_page(u.public_url, u.processor_id),
    };
    Item {
        title: described.title,
        facts,
        link,
    }
}

/// The message about one public event, or (with `digest_day`) about the day's events, oldest
/// first, each with its facts and a link to its page, and the unsubscribe link at the end.
pub fn update(u: &Update<'_>, events: &[Value], lang: Lang) -> Notice {
    let da = lang == Lang::Da;
    let processor = u.processor_name;
    let items: Vec<Item> = events.iter().map(|e| item(u, e, lang)).collect();
    let subject = match (u.digest_day, items.first()) {
        (Some(day), _) => {
            let n = items.len();
            match (da, n) {
                (true, 1) => format!(
                    "{processor}: 1 ændring af underdatabehandlere {}",
                    lang.day(day)
                ),
                (true, _) => format!(
                    "{processor}: {n} ændringer af underdatabehandlere {}",
                    lang.day(day)
                ),
                (false, 1) => format!(
                    "{processor}: 1 change of sub-processors on {}",
                    lang.day(day)
                ),
                (false, _) => format!(
                    "{processor}: {n} changes of sub-processors on {}",
                    lang.day(day)
                ),
            }
        }
        (None, Some(first)) => format!("{processor}: {}", first.title),
        (None, None) => processor.to_string(),
    };
    let paragraphs = vec![match (da, u.digest_day) {
        (true, Some(day)) => format!(
            "Ændringer i underdatabehandlere anvendt af {processor} den {}:",
            lang.day(day)
        ),
        (true, None) => format!("Ændring i underdatabehandlere anvendt af {processor}:"),
        (false, Some(day)) => format!(
            "Changes of the sub-processors used by {processor} on {}:",
            lang.day(day)
        ),
        (false, None) => format!("A change of the sub-processors used by {processor}:"),
    }];
    let page = processor_page(u.public_url, u.processor_id);
    let footer = if da {
        vec![format!(
            "Du får denne e-mail, fordi denne adresse er tilmeldt ændringer på {page}. \
                 Den er ikke en underretning efter en databehandleraftale."
        )]
    } else {
        vec![format!(
            "You receive this e-mail because this address subscribed to changes on {page}. \
             It is not a notice under a data processing agreement."
        )]
    };
    let (change_label, unsubscribe_label) = if da {
        ("Se ændringen", "Afmeld")
    } else {
        ("View the change", "Unsubscribe")
    };
    let mut body = String::new();
    for p in &paragraphs {
        body.push_str(p);
        body.push_str("\n\n");
    }
    for item in &items {
        body.push_str(&item.title);
        body.push('\n');
        for (key, value) in &item.facts {
            if key.is_empty() {
                body.push_str(value);
            } else {
                body.push_str(&format!("{key}: {value}"));
            }
            body.push('\n');
        }
        body.push_str(&format!("{change_label}: {}\n\n", item.link));
    }
    body.push_str("-- \n");
    body.push_str(&footer.join("\n"));
    body.push('\n');
    body.push_str(&format!("{unsubscribe_label}: {}\n", u.unsubscribe_url));
    let html = Html {
        lang: lang.code(),
        subject: &subject,
        paragraphs: &paragraphs,
        items: &items,
        action_label: "",
        action_url: "",
        change_label,
        footer: &footer,
        unsubscribe_label,
        unsubscribe_url: u.unsubscribe_url,
    }
    .render()
    .unwrap_or_default();
    Notice {
        subject,
        text: body,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn links_verify_for_their_purpose_and_expire() {
        let key = DecideKey::from_log_key("PRIVATE+KEY+test+abc");
        let id = "0192f0c8-7a6b-7c3d-9e2f-0123456789ab";
        let confirm = confirm_token(&key, id, at("2026-12-01T00:00:00Z"));
        assert_eq!(
            verify_confirm(&key, &confirm, at("2026-11-30T00:00:00Z")),
            Ok(id.to_string())
        );
        assert_eq!(
            verify_confirm(&key, &confirm, at("2026-12-01T00:00:00Z")),
            Err(TokenError::Expired)
        );
        // A confirmation token does not unsubscribe, nor the reverse.
        assert_eq!(verify_unsubscribe(&key, &confirm), Err(TokenError::Invalid));
        let unsubscribe = unsubscribe_token(&key, id);
        assert_eq!(verify_unsubscribe(&key, &unsubscribe), Ok(id.to_string()));
        assert_eq!(
            verify_confirm(&key, &unsubscribe, at("2026-11-30T00:00:00Z")),
            Err(TokenError::Invalid)
        );
        // A longer expiry or another id breaks the MAC; so does another key.
        let exp = at("2026-12-01T00:00:00Z").timestamp();
        let later = confirm.replace(&format!(".{exp}."), &format!(".{}.", exp + 86_400));
        assert_ne!(later, confirm);
        assert_eq!(
            verify_confirm(&key, &later, at("2026-11-30T00:00:00Z")),
            Err(TokenError::Invalid)
        );
        let other = DecideKey::from_log_key("PRIVATE+KEY+other+abc");
        assert_eq!(
            verify_unsubscribe(&other, &unsubscribe),
            Err(TokenError::Invalid)
        );
        assert_eq!(verify_unsubscribe(&key, "u..x"), Err(TokenError::Invalid));
        assert_eq!(
            verify_unsubscribe(&key, "garbage"),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn addresses_are_checked() {
        assert_eq!(parse_email("  a@b.dk "), Ok("a@b.dk".to_string()));
        assert_eq!(parse_email(""), Err(EmailProblem::Missing));
        assert_eq!(parse_email("x@@b.dk"), Err(EmailProblem::Invalid));
        assert_eq!(parse_email("nope"), Err(EmailProblem::Invalid));
        let long = format!("{}@b.dk", "a".repeat(260));
        assert_eq!(parse_email(&long), Err(EmailProblem::TooLong));
        assert_eq!(email_key("A@B.dk"), "a@b.dk");
    }

    #[test]
    fn only_public_changes_go_to_subscribers() {
        assert!(is_public_change("change.announced", "public"));
        assert!(!is_public_change("window.opened", "controller"));
        assert!(!is_public_change("notice.dispatched", "public"));
        assert!(!is_public_change("change.announced", "processor"));
    }
}
