//! The evidence log of a processor (DESIGN §4b): who may see an event, the canonical bytes of
//! its leaf, and the RFC 9162 Merkle tree over the leaves with its proofs and checkpoints.
//! The tree arithmetic is `tlog_tiles` (Go's tlog, as Certificate Transparency logs use it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tlog_tiles::{Hash, HashReader};

/// Who may see an event; part of its leaf, so it cannot be changed unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone: the processor-wide events of its public list.
    Public,
    /// The controller the event names, and the processor.
    Controller,
    /// The processor only (its own endpoint being disabled).
    Processor,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Controller => "controller",
            Visibility::Processor => "processor",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Visibility::Public,
            Visibility::Controller,
            Visibility::Processor,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }

    /// An event that names a controller is that controller's; of the others only the
    /// processor's own endpoint being disabled and the e-mails to its own contacts are kept
    /// from the public.
    pub fn of(event_type: &str, controller_id: Option<&str>) -> Self {
        if controller_id.is_some() {
            Visibility::Controller
        } else if event_type == super::event::EventType::EndpointDisabled.as_str()
            || event_type == super::event::EventType::NoticeDispatched.as_str()
            || event_type == super::event::EventType::NoticeFailed.as_str()
        {
            Visibility::Processor
        } else {
            Visibility::Public
        }
    }
}

/// The object a leaf is made of: its RFC 8785 (JCS) canonical JSON is the leaf. `event_type`
/// and `visibility` are text, so an altered row is hashed as it is stored.
#[derive(Debug, Clone, Serialize)]
pub struct LeafEvent<'a> {
    pub id: &'a str,
    pub index: u64,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub occurred_at: DateTime<Utc>,
    pub processor_id: &'a str,
    pub controller_id: Option<&'a str>,
    pub visibility: &'a str,
    pub data: &'a serde_json::Value,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error("the event cannot be written as canonical JSON: {0}")]
    Canonical(String),
    #[error("{0}")]
    Tree(String),
    #[error("{0}")]
    Size(String),
}

impl LeafEvent<'_> {
    /// The leaf: the canonical JSON bytes.
    pub fn canonical(&self) -> Result<String, LogError> {
        serde_jcs::to_string(self).map_err(|e| LogError::Canonical(e.to_string()))
    }
}

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    tlog_tiles::record_hash(leaf)
}

pub fn to_hex(hash: &Hash) -> String {
    hex::encode(hash.0)
}

pub fn from_hex(text: &str) -> Option<Hash> {
    let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    Some(Hash(bytes))
}

/// A processor's tree, held in memory: every stored hash of tlog's layout, computed from the
/// leaf hashes in order. A log of a processor is thousands of events, so this is cheap.
#[derive(Debug, Default)]
pub struct Tree {
    stored: Vec<Hash>,
    size: u64,
}

impl HashReader for Tree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.stored.get(i))
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Tree {
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Result<Tree, LogError> {
        let mut tree = Tree::default();
        for leaf in leaves {
            tree.push(leaf)?;
        }
        Ok(tree)
    }

    pub fn push(&mut self, leaf: Hash) -> Result<(), LogError> {
        let new = tlog_tiles::stored_hashes_for_record_hash(self.size, leaf, self)
            .map_err(|e| LogError::Tree(e.to_string()))?;
        self.stored.extend(new);
        self.size += 1;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, LogError> {
        self.check_size("size", size)?;
        tlog_tiles::tree_hash(size, self).map_err(|e| LogError::Tree(e.to_string()))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size("size", size)?;
        if index >= size {
            return Err(LogError::Size(format!(
                "`size` must be greater than the event's index {index}: the tree of {size} \
                 leaves does not hold it yet"
            )));
        }
        tlog_tiles::prove_record(size, index, self).map_err(|e| LogError::Tree(e.to_string()))
    }

    /// The proof that the tree of `from` leaves is a prefix of the tree of `to` leaves.
    pub fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size("to", to)?;
        if from == 0 || from > to {
            return Err(LogError::Size(format!(
                "`from` must be between 1 and `to` ({to}); it is {from}"
            )));
        }
        tlog_tiles::prove_tree(to, from, self).map_err(|e| LogError::Tree(e.to_string()))
    }

    fn check_size(&self, name: &str, size: u64) -> Result<(), LogError> {
        if size > self.size {
            return Err(LogError::Size(format!(
                "`{name}` is {size}, but the log holds {} events",
                self.size
            )));
        }
        Ok(())
    }
}

/// The checkpoint body (C2SP tlog-checkpoint): `<origin>\n<size>\n<base64 root>\n`.
pub fn checkpoint_text(origin: &str, size: u64, root: Hash) -> Result<Vec<u8>, LogError> {
    tlog_tiles::Checkpoint::new(origin, size, root, "")
        .map(|c| c.to_bytes())
        .map_err(|e| LogError::Tree(e.to_string()))
}

/// The log's origin line: the public host and the processor (DESIGN §4b).
pub fn origin(host: &str, processor_id: &str) -> String {
    format!("{host}/processors/{processor_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: u8) -> Hash {
        leaf_hash(&[n])
    }

    /// RFC 9162 §2.1.1 by hand for three leaves: MTH = H(1 || H(1 || l0 || l1) || l2).
    #[test]
    fn root_follows_rfc_9162() {
        let tree = Tree::from_leaves((0..3).map(leaf)).unwrap_or_default();
        let node = |l: Hash, r: Hash| tlog_tiles::node_hash(l, r);
        assert_eq!(
            tree.root(3).ok(),
            Some(node(node(leaf(0), leaf(1)), leaf(2)))
        );
        assert_eq!(tree.root(1).ok(), Some(leaf(0)));
        let mut bytes = vec![1u8];
        bytes.extend(leaf(0).0);
        bytes.extend(leaf(1).0);
        assert_eq!(node(leaf(0), leaf(1)).0.to_vec(), {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes).to_vec()
        });
    }

    #[test]
    fn proofs_check_and_sizes_are_refused() {
        let tree = Tree::from_leaves((0..7).map(leaf)).unwrap_or_default();
        for size in 1..=7 {
            let root = tree.root(size).unwrap_or(tlog_tiles::EMPTY_HASH);
            for index in 0..size {
                let proof = tree.inclusion(index, size).unwrap_or_default();
                assert!(
                    tlog_tiles::check_record(&proof, size, root, index, leaf(index as u8)).is_ok()
                );
            }
            for from in 1..=size {
                let proof = tree.consistency(from, size).unwrap_or_default();
                let old = tree.root(from).unwrap_or(tlog_tiles::EMPTY_HASH);
                assert!(tlog_tiles::check_tree(&proof, size, root, from, old).is_ok());
            }
        }
        assert!(matches!(tree.inclusion(3, 3), Err(LogError::Size(_))));
        assert!(matches!(tree.root(8), Err(LogError::Size(_))));
        assert!(matches!(tree.consistency(0, 3), Err(LogError::Size(_))));
        assert!(matches!(tree.consistency(4, 3), Err(LogError::Size(_))));
    }

    #[test]
    fn the_leaf_is_canonical_json() {
        let data = serde_json::json!({"b": 1, "a": "å"});
        let at = DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap_or_default();
        let text = LeafEvent {
            id: "e1",
            index: 0,
            event_type: "change.announced",
            occurred_at: at,
            processor_id: "p",
            controller_id: None,
            visibility: "public",
            data: &data,
        }
        .canonical()
        .unwrap_or_default();
        assert_eq!(
            text,
            r#"{"controller_id":null,"data":{"a":"å","b":1},"id":"e1","index":0,"occurred_at":"2026-09-21T14:13:20.123456Z","processor_id":"p","type":"change.announced","visibility":"public"}"#
        );
    }

    #[test]
    fn visibility_follows_the_event() {
        assert_eq!(
            Visibility::of("objection.raised", Some("c")),
            Visibility::Controller
        );
        assert_eq!(
            Visibility::of("endpoint.disabled", None),
            Visibility::Processor
        );
        assert_eq!(Visibility::of("change.announced", None), Visibility::Public);
    }
}
