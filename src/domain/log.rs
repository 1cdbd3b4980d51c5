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
    /// The leaf: the canonical JSON bytes, what `serde_jcs::to_string(self)` gives (a test
    /// holds them to it), written directly: serde_jcs allocates for every key and fragment,
    /// which made it the largest cost of a sweep.
    pub fn canonical(&self) -> Result<String, LogError> {
        self.canonical_with(None)
    }

    /// [`canonical`](Self::canonical) with one more member of `data`, given as its canonical
    /// JSON (it replaces a member of that name): what a batch of events shares (a window
    /// event's change) is serialised once, not copied into every event's data.
    pub fn canonical_with(&self, shared: Option<Shared<'_>>) -> Result<String, LogError> {
        let mut out = Vec::with_capacity(1024);
        // The members in JCS order (UTF-16 code units of ASCII names: byte order).
        out.extend_from_slice(b"{\"controller_id\":");
        match self.controller_id {
            Some(id) => write_string(&mut out, id)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"data\":");
        match (self.data, shared) {
            (serde_json::Value::Object(members), Some(shared)) => {
                write_object(&mut out, members, Some(shared))?
            }
            _ => write_canonical(&mut out, self.data)?,
        }
        out.extend_from_slice(b",\"id\":");
        write_string(&mut out, self.id)?;
        out.extend_from_slice(b",\"index\":");
        write_number(&mut out, &self.index.into())?;
        out.extend_from_slice(b",\"occurred_at\":");
        serde_json::to_writer(&mut out, &self.occurred_at).map_err(canonical_error)?;
        out.extend_from_slice(b",\"processor_id\":");
        write_string(&mut out, self.processor_id)?;
        out.extend_from_slice(b",\"type\":");
        write_string(&mut out, self.event_type)?;
        out.extend_from_slice(b",\"visibility\":");
        write_string(&mut out, self.visibility)?;
        out.push(b'}');
        String::from_utf8(out).map_err(canonical_error)
    }
}

fn canonical_error(error: impl std::fmt::Display) -> LogError {
    LogError::Canonical(error.to_string())
}

/// RFC 8785 canonical JSON of `value`: object members sorted by the UTF-16 code units of
/// their names, strings escaped as JSON.stringify does (which is how serde_json escapes),
/// numbers as ECMAScript writes them.
pub fn write_canonical(out: &mut Vec<u8>, value: &serde_json::Value) -> Result<(), LogError> {
    use serde_json::Value;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(out, number)?,
        Value::String(text) => write_string(out, text)?,
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_canonical(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(members) => write_object(out, members, None)?,
    }
    Ok(())
}

/// A member given as canonical JSON text (see [`LeafEvent::canonical_with`]).
#[derive(Debug, Clone, Copy)]
pub struct Shared<'a> {
    pub name: &'a str,
    pub canonical: &'a str,
}

enum Member<'a> {
    Value(&'a serde_json::Value),
    Canonical(&'a str),
}

fn write_object(
    out: &mut Vec<u8>,
    members: &serde_json::Map<String, serde_json::Value>,
    shared: Option<Shared<'_>>,
) -> Result<(), LogError> {
    let mut sorted: Vec<(&str, Member<'_>)> = members
        .iter()
        .filter(|(name, _)| shared.is_none_or(|s| s.name != name.as_str()))
        .map(|(name, value)| (name.as_str(), Member::Value(value)))
        .chain(shared.map(|s| (s.name, Member::Canonical(s.canonical))))
        .collect();
    // The map is in code point order already; UTF-16 order differs from it only where a
    // name holds a character from U+E000 up (UTF-8 lead byte 0xEE or more).
    if shared.is_some()
        || sorted
            .iter()
            .any(|(name, _)| name.bytes().any(|b| b >= 0xEE))
    {
        sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    out.push(b'{');
    for (n, (name, member)) in sorted.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_string(out, name)?;
        out.push(b':');
        match member {
            Member::Value(value) => write_canonical(out, value)?,
            Member::Canonical(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
    out.push(b'}');
    Ok(())
}

fn write_string(out: &mut Vec<u8>, text: &str) -> Result<(), LogError> {
    serde_json::to_writer(out, text).map_err(canonical_error)
}

/// Integers an f64 holds exactly are written as they are; any other number as serde_jcs
/// writes it (ECMAScript's number to string).
fn write_number(out: &mut Vec<u8>, number: &serde_json::Number) -> Result<(), LogError> {
    const EXACT: u64 = 1 << 53;
    match (number.as_u64(), number.as_i64()) {
        (Some(n), _) if n <= EXACT => serde_json::to_writer(out, &n).map_err(canonical_error),
        (_, Some(n)) if n.unsigned_abs() <= EXACT => {
            serde_json::to_writer(out, &n).map_err(canonical_error)
        }
        _ => serde_jcs::to_writer(out, number).map_err(canonical_error),
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

/// The right edge of a log's tree: the roots of its perfect subtrees, largest first (one per
/// bit of the size). Enough to append leaves and compute the root without the earlier leaves,
/// so a checkpoint costs the new leaves, not the whole log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        // Each trailing one bit of the old size is a subtree of the new leaf's height to merge.
        let mut size = self.size;
        while size & 1 == 1 {
            let Some(left) = self.peaks.pop() else {
                break;
            };
            hash = tlog_tiles::node_hash(left, hash);
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The RFC 9162 root: the peaks folded from the right; `None` for the empty log.
    pub fn root(&self) -> Option<Hash> {
        let mut peaks = self.peaks.iter().rev();
        let last = *peaks.next()?;
        Some(peaks.fold(last, |right, left| tlog_tiles::node_hash(*left, right)))
    }

    /// The peaks in hex, concatenated (how they are stored).
    pub fn peaks_hex(&self) -> String {
        self.peaks.iter().map(to_hex).collect()
    }

    /// A stored frontier; `None` when the peaks do not fit the size (one per bit).
    pub fn from_stored(size: u64, peaks_hex: &str) -> Option<Frontier> {
        let bytes = hex::decode(peaks_hex).ok()?;
        let peaks: Vec<Hash> = bytes
            .chunks_exact(32)
            .map(|chunk| chunk.try_into().ok().map(Hash))
            .collect::<Option<_>>()?;
        (bytes.len() % 32 == 0 && peaks.len() == size.count_ones() as usize)
            .then_some(Frontier { size, peaks })
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

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
            "[a-zA-Z\\u{0}-\\u{1f}\"\\\\/\\u{7f}\\u{e9}\\u{2028}\\u{10437}\\u{ff5e}]{0,6}"
                .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    "[a-zA-Z_\\u{e9}\\u{10437}\\u{ff5e}\\u{1f}]{0,4}",
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The leaf written by hand is serde_jcs's canonical JSON of the same event.
        #[test]
        fn the_leaf_is_what_serde_jcs_writes(
            data in json_value(),
            id in ".{0,8}",
            index in proptest::prelude::any::<u64>(),
            controller in proptest::option::of(".{0,8}"),
            nanos in 0u32..1_000_000_000,
        ) {
            let occurred_at = DateTime::from_timestamp(1_790_000_000, nanos).unwrap_or_default();
            let leaf = LeafEvent {
                id: &id,
                index,
                event_type: "window.closed",
                occurred_at,
                processor_id: "p\u{e9}",
                controller_id: controller.as_deref(),
                visibility: "controller",
                data: &data,
            };
            let expected = serde_jcs::to_string(&leaf).ok();
            proptest::prop_assert_eq!(leaf.canonical().ok(), expected);
        }

        /// A shared member written into the data gives the leaf of the data holding it.
        #[test]
        fn a_shared_member_is_written_into_the_data(
            data in proptest::collection::btree_map("[a-z\\u{ff5e}\\u{10437}]{0,3}", json_value(), 0..6),
            name in "[a-z\\u{ff5e}\\u{10437}]{0,3}",
            member in json_value(),
        ) {
            let mut data: serde_json::Map<String, serde_json::Value> = data.into_iter().collect();
            let canonical = serde_jcs::to_string(&member).unwrap_or_default();
            let occurred_at = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
            let without = serde_json::Value::Object(data.clone());
            data.insert(name.clone(), member);
            let with = serde_json::Value::Object(data);
            let leaf = |data| LeafEvent {
                id: "e",
                index: 1,
                event_type: "window.opened",
                occurred_at,
                processor_id: "p",
                controller_id: Some("c"),
                visibility: "controller",
                data,
            };
            let shared = Shared { name: &name, canonical: &canonical };
            proptest::prop_assert_eq!(
                leaf(&without).canonical_with(Some(shared)).ok(),
                serde_jcs::to_string(&leaf(&with)).ok()
            );
        }
    }

    /// The frontier gives the tree's root at every size, and survives being stored.
    #[test]
    fn the_frontier_gives_the_root_of_every_size() {
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), None);
        let tree = Tree::from_leaves((0..70).map(leaf)).unwrap_or_default();
        for n in 0..70u8 {
            frontier.push(leaf(n));
            let size = u64::from(n) + 1;
            assert_eq!(frontier.size(), size);
            assert_eq!(frontier.root(), tree.root(size).ok(), "size {size}");
            let stored = Frontier::from_stored(size, &frontier.peaks_hex());
            assert_eq!(stored.as_ref(), Some(&frontier));
        }
        assert_eq!(Frontier::from_stored(3, &to_hex(&leaf(0))), None);
        assert_eq!(Frontier::from_stored(1, "zz"), None);
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
