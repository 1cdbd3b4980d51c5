//! Webhook rules that need no I/O: owners, event-type filters, the retry schedule.

use super::event::EventType;
use super::{DomainError, FieldError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Who owns a webhook endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    Processor,
    Controller,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Processor => "processor",
            OwnerKind::Controller => "controller",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "processor" => Some(OwnerKind::Processor),
            "controller" => Some(OwnerKind::Controller),
            _ => None,
        }
    }
}

/// State of one delivery of one event to one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }
}

/// Parses an endpoint's event-type filter; `[]` means every type. Unknown names are refused,
/// each named.
pub fn parse_event_types(names: &[String]) -> Result<Vec<EventType>, DomainError> {
    let mut types = Vec::with_capacity(names.len());
    let mut errors = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match EventType::parse(name) {
            Some(t) if !types.contains(&t) => types.push(t),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("event_types[{i}]"),
                format!(
                    "`{name}` is not an event type; use one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(types)
    } else {
        Err(DomainError::Invalid(errors))
    }
}

/// Whether an endpoint with this filter (as stored: a JSON array of names) wants an event type.
pub fn wants(filter_json: &str, event_type: &str) -> bool {
    match serde_json::from_str::<Vec<String>>(filter_json) {
        Ok(names) => names.is_empty() || names.iter().any(|n| n == event_type),
        // An unreadable filter sends everything rather than silently dropping notices.
        Err(_) => true,
    }
}

/// Bytes of a receiver's answer, and of an error, that the delivery log keeps.
pub const STORED_TEXT_MAX: usize = 512;

/// What the delivery log may store of a receiver's answer or of an error: invalid UTF-8 and
/// every control character but tab, line feed and carriage return (NUL included, which
/// PostgreSQL refuses in text) become U+FFFD, and the text is cut to `max` bytes on a
/// character boundary.
pub fn storable_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut kept = String::with_capacity(text.len().min(max));
    for ch in text.chars() {
        let ch = if unstorable(ch) { '\u{fffd}' } else { ch };
        if kept.len().saturating_add(ch.len_utf8()) > max {
            break;
        }
        kept.push(ch);
    }
    kept
}

fn unstorable(ch: char) -> bool {
    matches!(
        ch,
        '\u{0}'..='\u{8}'
            | '\u{b}'
            | '\u{c}'
            | '\u{e}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{fffe}'
            | '\u{ffff}'
    )
}

/// What happened to one attempt, as the dispatcher classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Success,
    /// 410 Gone: the receiver says the endpoint is gone for good.
    Gone,
    /// Anything else: 3xx (no redirects), 4xx, 5xx, timeouts, connection errors.
    Failure,
}

pub fn classify(status: Option<u16>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Success,
        Some(410) => Outcome::Gone,
        _ => Outcome::Failure,
    }
}

/// The delay before the next attempt after `attempts` failed attempts (1 = the first try
/// failed), or `None` when the schedule is used up and the delivery has failed. A receiver's
/// `Retry-After` lengthens the delay, never shortens it, and is capped at the longest step.
/// `jitter` in [0, 1) adds up to 20 % so retries of many deliveries spread out.
pub fn retry_delay(
    attempts: u32,
    schedule: &[Duration],
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let base = *schedule.get(index)?;
    let with_jitter = base.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
    let cap = schedule.iter().max().copied().unwrap_or(base);
    Some(match retry_after {
        Some(wanted) if wanted > with_jitter => wanted.min(cap.max(with_jitter)),
        _ => with_jitter,
    })
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP date read against
/// `now` (a date in the past means "now"). Anything else is ignored.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok();
        let Some(now) = now else {
            panic!("test instant parses");
        };
        assert_eq!(parse_retry_after(" 120 ", now), Some(ms(120_000)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:30 GMT", now),
            Some(ms(150_000))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn schedule_runs_out_into_failure() {
        let schedule = [ms(5_000), ms(300_000)];
        assert_eq!(retry_delay(1, &schedule, None, 0.0), Some(ms(5_000)));
        assert_eq!(retry_delay(2, &schedule, None, 0.0), Some(ms(300_000)));
        assert_eq!(retry_delay(3, &schedule, None, 0.0), None);
        assert_eq!(retry_delay(0, &schedule, None, 0.0), None);
        let jittered = retry_delay(1, &schedule, None, 0.99).expect("retry");
        assert!(jittered > ms(5_000) && jittered < ms(6_000));
    }

    #[test]
    fn retry_after_lengthens_but_is_capped() {
        let schedule = [ms(5_000), ms(300_000)];
        assert_eq!(
            retry_delay(1, &schedule, Some(ms(60_000)), 0.0),
            Some(ms(60_000))
        );
        assert_eq!(
            retry_delay(1, &schedule, Some(ms(1_000)), 0.0),
            Some(ms(5_000))
        );
        assert_eq!(
            retry_delay(1, &schedule, Some(ms(10_000_000)), 0.0),
            Some(ms(300_000))
        );
    }

    #[test]
    fn stored_text_has_no_nul_no_controls_and_at_most_max_bytes() {
        assert_eq!(storable_text(b"ok\0\0done", 512), "ok\u{fffd}\u{fffd}done");
        assert_eq!(
            storable_text(b"a\tb\nc\r\x1b[31m\x7f", 512),
            "a\tb\nc\r\u{fffd}[31m\u{fffd}"
        );
        assert_eq!(storable_text(b"\xff\xfe bad", 512), "\u{fffd}\u{fffd} bad");
        assert_eq!(
            storable_text("\u{85}\u{ffff}".as_bytes(), 512),
            "\u{fffd}\u{fffd}"
        );
        // Cut on a character boundary: 'é' is two bytes and does not fit in 5.
        assert_eq!(storable_text("abcdé".as_bytes(), 5), "abcd");
        assert_eq!(storable_text("ééé".as_bytes(), 5), "éé");
        let long = "€".repeat(400);
        let kept = storable_text(long.as_bytes(), STORED_TEXT_MAX);
        assert!(kept.len() <= STORED_TEXT_MAX && kept.chars().all(|c| c == '€'));
        // A body cut inside a character by the reader ends without a broken character.
        let cut = long.as_bytes().get(..STORED_TEXT_MAX).unwrap_or_default();
        assert!(storable_text(cut, STORED_TEXT_MAX)
            .chars()
            .all(|c| c == '€'));
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(Some(200)), Outcome::Success);
        assert_eq!(classify(Some(204)), Outcome::Success);
        assert_eq!(classify(Some(301)), Outcome::Failure);
        assert_eq!(classify(Some(410)), Outcome::Gone);
        assert_eq!(classify(Some(503)), Outcome::Failure);
        assert_eq!(classify(None), Outcome::Failure);
    }

    #[test]
    fn filters_name_unknown_types() {
        assert!(parse_event_types(&["change.announced".into()]).is_ok());
        let Err(DomainError::Invalid(errors)) =
            parse_event_types(&["change.announced".into(), "bogus.type".into()])
        else {
            panic!("bogus type accepted");
        };
        assert_eq!(errors[0].field, "event_types[1]");
        assert!(errors[0].message.contains("bogus.type"));
        assert!(wants("[]", "window.opened"));
        assert!(wants("[\"window.opened\"]", "window.opened"));
        assert!(!wants("[\"window.opened\"]", "change.announced"));
    }
}
