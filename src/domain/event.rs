use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
}

impl EventType {
    pub const ALL: [EventType; 17] = [
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
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An event as the evidence log stores it and a webhook sends it, byte for byte: the input of
/// its chain hash. `GET /v1/processors/{pid}/events/{eid}` shows the same members plus
/// `prev_hash` and `hash` (see Event).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody<'a> {
    /// The event's id (a UUIDv7); a webhook sends it as `webhook-id` too.
    #[schema(format = "uuid", example = "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// RFC 3339 in UTC, to the microsecond.
    pub occurred_at: DateTime<Utc>,
    /// The processor whose evidence log holds the event.
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: &'a str,
    /// The controller the event concerns, or null for a processor-wide event.
    #[schema(required = true, example = "roskilde-kommune")]
    pub controller_id: Option<&'a str>,
    /// By event type:
    ///
    /// - `change.announced`, `change.effective`, `change.withdrawn`: the Change (without
    ///   `windows`).
    /// - `window.opened`, `objection.raised`, `objection.withdrawn`, `approval.given`,
    ///   `window.closed`: the ObjectionWindow with its `change` embedded; `window.closed`
    ///   adds `outcome`, the terminal WindowState it closed in.
    /// - `subprocessor.added`: the Subprocessor entry.
    /// - `endpoint.disabled`: `endpoint_id`, `owner_kind` (`processor` or `controller`),
    ///   `owner_id`, `reason`, `failing_since` (date-time or null) and `disabled_at`.
    #[schema(value_type = Object)]
    pub data: &'a serde_json::Value,
}

/// The first `prev_hash` of every processor's chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `hash = sha256(prev_hash || payload)`, with `prev_hash` as its 64 hex characters.
pub fn chain_hash(prev_hash: &str, payload: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(payload.as_bytes());
    hex::encode(hasher.finalize())
}

/// A link of the chain as stored: enough to recompute it.
pub struct ChainLink<'a> {
    pub id: &'a str,
    pub payload: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// Walks a processor's events in order and returns the id of the first one that does not
/// follow from its predecessor, or `None` when the chain is intact.
pub fn first_broken<'a>(links: impl IntoIterator<Item = ChainLink<'a>>) -> Option<String> {
    let mut expected_prev = GENESIS_HASH.to_string();
    for link in links {
        let recomputed = chain_hash(link.prev_hash, link.payload);
        if link.prev_hash != expected_prev || link.hash != recomputed {
            return Some(link.id.to_string());
        }
        expected_prev = recomputed;
    }
    None
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
    fn chain_detects_an_altered_payload() {
        let h1 = chain_hash(GENESIS_HASH, "{\"a\":1}");
        let h2 = chain_hash(&h1, "{\"b\":2}");
        let intact = [
            ChainLink {
                id: "e1",
                payload: "{\"a\":1}",
                prev_hash: GENESIS_HASH,
                hash: &h1,
            },
            ChainLink {
                id: "e2",
                payload: "{\"b\":2}",
                prev_hash: &h1,
                hash: &h2,
            },
        ];
        assert_eq!(first_broken(intact), None);
        let altered = [
            ChainLink {
                id: "e1",
                payload: "{\"a\":9}",
                prev_hash: GENESIS_HASH,
                hash: &h1,
            },
            ChainLink {
                id: "e2",
                payload: "{\"b\":2}",
                prev_hash: &h1,
                hash: &h2,
            },
        ];
        assert_eq!(first_broken(altered).as_deref(), Some("e1"));
        let removed_first = [ChainLink {
            id: "e2",
            payload: "{\"b\":2}",
            prev_hash: &h1,
            hash: &h2,
        }];
        assert_eq!(first_broken(removed_first).as_deref(), Some("e2"));
    }

    #[test]
    fn event_types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
