use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kinds of event in the evidence log; the strings are the contract of feeds and webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "change.announced")]
    ChangeAnnounced,
    #[serde(rename = "window.opened")]
    WindowOpened,
    #[serde(rename = "objection.raised")]
    ObjectionRaised,
    #[serde(rename = "objection.withdrawn")]
    ObjectionWithdrawn,
    #[serde(rename = "approval.given")]
    ApprovalGiven,
    #[serde(rename = "window.closed")]
    WindowClosed,
    #[serde(rename = "change.effective")]
    ChangeEffective,
    #[serde(rename = "change.withdrawn")]
    ChangeWithdrawn,
    #[serde(rename = "subprocessor.added")]
    SubprocessorAdded,
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled,
    #[serde(rename = "change.blocked")]
    ChangeBlocked,
    #[serde(rename = "change.postponed")]
    ChangePostponed,
    #[serde(rename = "window.resolved")]
    WindowResolved,
    #[serde(rename = "agreement.proposed")]
    AgreementProposed,
    #[serde(rename = "agreement.confirmed")]
    AgreementConfirmed,
    #[serde(rename = "agreement.amended")]
    AgreementAmended,
    #[serde(rename = "agreement.terminated")]
    AgreementTerminated,
    #[serde(rename = "notice.dispatched")]
    NoticeDispatched,
    #[serde(rename = "notice.failed")]
    NoticeFailed,
    #[serde(rename = "window.notified")]
    WindowNotified,
}

impl EventType {
    pub const ALL: [EventType; 20] = [
        EventType::ChangeAnnounced,
        EventType::WindowOpened,
        EventType::ObjectionRaised,
        EventType::ObjectionWithdrawn,
        EventType::ApprovalGiven,
        EventType::WindowClosed,
        EventType::ChangeEffective,
        EventType::ChangeWithdrawn,
        EventType::SubprocessorAdded,
        EventType::EndpointDisabled,
        EventType::ChangeBlocked,
        EventType::ChangePostponed,
        EventType::WindowResolved,
        EventType::AgreementProposed,
        EventType::AgreementConfirmed,
        EventType::AgreementAmended,
        EventType::AgreementTerminated,
        EventType::NoticeDispatched,
        EventType::NoticeFailed,
        EventType::WindowNotified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ChangeAnnounced => "change.announced",
            EventType::WindowOpened => "window.opened",
            EventType::ObjectionRaised => "objection.raised",
            EventType::ObjectionWithdrawn => "objection.withdrawn",
            EventType::ApprovalGiven => "approval.given",
            EventType::WindowClosed => "window.closed",
            EventType::ChangeEffective => "change.effective",
            EventType::ChangeWithdrawn => "change.withdrawn",
            EventType::SubprocessorAdded => "subprocessor.added",
            EventType::EndpointDisabled => "endpoint.disabled",
            EventType::ChangeBlocked => "change.blocked",
            EventType::ChangePostponed => "change.postponed",
            EventType::WindowResolved => "window.resolved",
            EventType::AgreementProposed => "agreement.proposed",
            EventType::AgreementConfirmed => "agreement.confirmed",
            EventType::AgreementAmended => "agreement.amended",
            EventType::AgreementTerminated => "agreement.terminated",
            EventType::NoticeDispatched => "notice.dispatched",
            EventType::NoticeFailed => "notice.failed",
            EventType::WindowNotified => "window.notified",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An event as its leaf in the evidence log holds it and a webhook sends it: the RFC 8785
/// canonical JSON of these members is the leaf (see domain::log). The schema of the webhook
/// body; `GET /v1/processors/{pid}/events/{eid}` shows the same members plus `leaf_hash`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// The event's id (a UUIDv7); a webhook sends it as `webhook-id` too.
    #[schema(format = "uuid", example = "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub id: String,
    /// The event's position in its processor's log, from 0.
    #[schema(minimum = 0)]
    pub index: u64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// RFC 3339 in UTC, to the microsecond.
    pub occurred_at: DateTime<Utc>,
    /// The processor whose evidence log holds the event.
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    /// The controller the event concerns, or null for a processor-wide event.
    #[schema(required = true, example = "roskilde-kommune")]
    pub controller_id: Option<String>,
    /// Who may see the event: `public`, `controller` (the one it names, and the processor) or
    /// `processor`.
    pub visibility: crate::domain::log::Visibility,
    /// By event type:
    ///
    /// - `change.announced`, `change.effective`, `change.withdrawn`: the Change (without
    ///   `windows`).
    /// - `window.opened`, `objection.raised`, `objection.withdrawn`, `approval.given`,
    ///   `window.closed`, `window.notified`: the ObjectionWindow with its `change` embedded;
    ///   `window.closed` adds `outcome`, the terminal WindowState it closed in.
    ///   `window.notified` (agreements with `notice_starts: dispatch`): the notice reached the
    ///   controller (`notified_at`, `notified_via`) and the window's deadline now runs from it.
    /// - `subprocessor.added`: the Subprocessor entry.
    /// - `endpoint.disabled`: `endpoint_id`, `owner_kind` (`processor` or `controller`),
    ///   `owner_id`, `reason`, `failing_since` (date-time or null) and `disabled_at`.
    /// - `notice.dispatched`: the SMTP server accepted an e-mail notice: `notice_event_id` (the
    ///   event it tells of), `recipient`, `channel` (`email`), `message_id`, `smtp_reply`
    ///   `{code, text}` (the text holds the server's queue id) and `accepted_at`.
    /// - `notice.failed`: the SMTP server refused it for good: the same members, `failed_at`
    ///   instead of `accepted_at`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// The schema of a hash in the evidence log: SHA-256 in lowercase hex.
pub struct Sha256Hex;

impl utoipa::PartialSchema for Sha256Hex {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A SHA-256 hash in lowercase hex (64 characters)."))
            .pattern(Some("^[0-9a-f]{64}$"))
            .into()
    }
}

impl utoipa::ToSchema for Sha256Hex {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
