//! A controller's evidence bundle (DESIGN §4b) and its offline check: what `GET
//! /v1/controllers/{cid}/evidence` serves and `subreg verify-evidence` verifies with no server.

use super::log::{self as tree, from_hex};
use serde::{Deserialize, Serialize};
use signed_note::{Note, StandardVerifier, Verifier, VerifierList};

/// The controller's events of one processor's log, each with its inclusion proof to the
/// latest signed checkpoint, and the keys that verify it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bundle {
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    #[schema(value_type = crate::domain::party::Slug)]
    pub controller_id: String,
    /// C2SP verifier keys of the instance, current first.
    pub verifier_keys: Vec<String>,
    /// The latest checkpoint as a C2SP signed note.
    pub checkpoint: String,
    /// The checkpoint's tree size.
    #[schema(minimum = 0)]
    pub size: u64,
    /// The public events and those naming the controller, oldest first.
    pub events: Vec<BundleEvent>,
    /// Proofs that the trees the controller may hold are prefixes of this one: from the
    /// checkpoint each of its events' receipts carried, and from every size asked for with
    /// `consistency_from`.
    #[serde(default)]
    pub consistency: Vec<ConsistencyStep>,
}

/// A consistency proof from an older size to the bundle's size (RFC 9162 §2.1.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyStep {
    #[schema(minimum = 1)]
    pub from: u64,
    #[schema(value_type = Vec<crate::domain::event::Sha256Hex>)]
    pub proof: Vec<String>,
}

/// What a webhook body or a private feed entry carries besides the event: its place in the
/// log and a signed checkpoint that includes it. Held by a controller, it is a receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogReceipt {
    #[schema(minimum = 0)]
    pub index: u64,
    /// The checkpoint signed by the transaction that appended the event (C2SP signed note);
    /// null only for an event the instance has not checkpointed yet.
    #[schema(required = true)]
    pub checkpoint: Option<String>,
}

impl LogReceipt {
    /// The body a webhook sends: the event (the leaf's object) with this receipt as `log`.
    /// Removing `log` gives back the leaf's members.
    pub fn attach(&self, leaf: &str) -> Result<String, serde_json::Error> {
        let mut body: serde_json::Map<String, serde_json::Value> = serde_json::from_str(leaf)?;
        body.insert("log".into(), serde_json::to_value(self)?);
        serde_json::to_string(&body)
    }
}

/// Something a controller held before: an older bundle, or receipts (webhook bodies).
#[derive(Debug, Clone, PartialEq)]
pub enum Held {
    Bundle(Bundle),
    /// Each an event object (the leaf's members) and the receipt that came with it.
    Receipts(Vec<(serde_json::Value, LogReceipt)>),
}

impl Held {
    /// An evidence bundle, a webhook body (an event with `log`), a JSON array of webhook bodies,
    /// or webhook bodies one per line.
    pub fn parse(text: &str) -> Result<Held, String> {
        if let Ok(bundle) = serde_json::from_str::<Bundle>(text) {
            return Ok(Held::Bundle(bundle));
        }
        let values: Vec<serde_json::Value> = match serde_json::from_str(text) {
            Ok(serde_json::Value::Array(items)) => items,
            Ok(single @ serde_json::Value::Object(_)) => vec![single],
            _ => text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .enumerate()
                .map(|(n, line)| {
                    serde_json::from_str(line)
                        .map_err(|e| format!("line {}: not JSON: {e}", n.saturating_add(1)))
                })
                .collect::<Result<_, _>>()?,
        };
        let receipts = values
            .into_iter()
            .enumerate()
            .map(|(n, mut body)| {
                let log = body
                    .as_object_mut()
                    .and_then(|o| o.remove("log"))
                    .ok_or_else(|| {
                        format!(
                            "item {n}: neither an evidence bundle nor a webhook body with `log`"
                        )
                    })?;
                let receipt: LogReceipt = serde_json::from_value(log)
                    .map_err(|e| format!("item {n}: `log` is not a receipt: {e}"))?;
                Ok((body, receipt))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Held::Receipts(receipts))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BundleEvent {
    /// The leaf's object: its RFC 8785 canonical JSON is the leaf.
    #[schema(value_type = crate::domain::event::EventBody)]
    pub event: serde_json::Value,
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub leaf_hash: String,
    /// The audit path to the checkpoint's root, each SHA-256 in hex.
    #[schema(value_type = Vec<crate::domain::event::Sha256Hex>)]
    pub inclusion_proof: Vec<String>,
}

/// A member of an event object, null when missing (a bundle is untrusted input).
fn member<'a>(event: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    event.get(name).unwrap_or(&serde_json::Value::Null)
}

/// What the check found: `checked` lines to print, and every failure.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub checked: Vec<String>,
    pub failures: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The checkpoint's size and root once its signature verifies with one of `keys`.
fn signed_checkpoint(note: &str, keys: &[String]) -> Result<(u64, tlog_tiles::Hash), String> {
    let verifiers = VerifierList::new(
        keys.iter()
            .filter_map(|k| StandardVerifier::new(k).ok())
            .map(|v| Box::new(v) as Box<dyn Verifier>)
            .collect(),
    );
    let note = Note::from_bytes(note.as_bytes()).map_err(|e| format!("not a signed note: {e}"))?;
    note.verify(&verifiers)
        .map_err(|e| format!("the checkpoint's signature does not verify: {e}"))?;
    let checkpoint = tlog_tiles::Checkpoint::from_bytes(note.text())
        .map_err(|e| format!("not a checkpoint: {e}"))?;
    Ok((checkpoint.size(), *checkpoint.hash()))
}

/// The leaf hash of each event, checked against its stated hash and its inclusion proof.
fn check_events(bundle: &Bundle, root: tlog_tiles::Hash, report: &mut Report) {
    for (n, item) in bundle.events.iter().enumerate() {
        let id = member(&item.event, "id")
            .as_str()
            .unwrap_or("?")
            .to_string();
        let leaf = match serde_jcs::to_string(&item.event) {
            Ok(leaf) => leaf,
            Err(e) => {
                report.failures.push(format!("event {n} ({id}): {e}"));
                continue;
            }
        };
        let hash = tree::leaf_hash(leaf.as_bytes());
        if tree::to_hex(&hash) != item.leaf_hash {
            report.failures.push(format!(
                "event {id}: its leaf hash is not that of its content"
            ));
            continue;
        }
        let proof: Option<Vec<_>> = item.inclusion_proof.iter().map(|h| from_hex(h)).collect();
        let index = member(&item.event, "index").as_u64();
        let included = match (proof, index) {
            (Some(proof), Some(index)) => {
                tlog_tiles::check_record(&proof, bundle.size, root, index, hash).is_ok()
            }
            _ => false,
        };
        if !included {
            report.failures.push(format!(
                "event {id}: not in the signed tree of {} events",
                bundle.size
            ));
        }
    }
    report.checked.push(format!(
        "{} events: leaves and inclusion proofs checked",
        bundle.events.len()
    ));
}

/// Checks a bundle offline: the checkpoint's signature, every leaf and inclusion proof; and,
/// with what was held before (older bundles, webhook receipts), that the log only grew: every
/// checkpoint held then verifies and is a prefix of this one (by the bundle's consistency
/// proofs), and every event held then is still there, unchanged, in the same place.
///
/// `pinned` are the verifier keys the checker trusts (from `/.well-known/subreg/log-keys` or
/// an earlier bundle): the checkpoint must be signed by one of them. Without any, the keys the
/// bundle names are used, and the report says that nothing ties them to the instance.
pub fn verify(bundle: &Bundle, held: &[Held], pinned: &[String]) -> Report {
    let mut report = Report::default();
    let trusted = if pinned.is_empty() {
        &bundle.verifier_keys
    } else {
        pinned
    };
    let root = match signed_checkpoint(&bundle.checkpoint, trusted) {
        Ok((size, root)) if size == bundle.size => {
            if pinned.is_empty() {
                report.checked.push(format!(
                    "checkpoint of {size} events signed by {} (a key the bundle itself names: \
                     pin the instance's key with --key to tie it to the instance)",
                    bundle.verifier_keys.join(", ")
                ));
            } else {
                report.checked.push(format!(
                    "checkpoint of {size} events signed by a pinned key ({})",
                    pinned.join(", ")
                ));
            }
            root
        }
        Ok((size, _)) => {
            report.failures.push(format!(
                "the checkpoint signs {size} events, the bundle says {}",
                bundle.size
            ));
            return report;
        }
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    check_events(bundle, root, &mut report);
    let mut keys: Vec<String> = trusted.to_vec();
    for item in held {
        if let (Held::Bundle(older), true) = (item, pinned.is_empty()) {
            keys.extend(older.verifier_keys.iter().cloned());
        }
    }
    keys.extend(bundle.verifier_keys.iter().cloned());
    keys.sort();
    keys.dedup();
    let now = Current { bundle, root };
    for item in held {
        match item {
            Held::Bundle(older) => now.against_bundle(older, &keys, &mut report),
            Held::Receipts(receipts) => now.against_receipts(receipts, &keys, &mut report),
        }
    }
    report
}

/// The bundle being checked, once its checkpoint verified.
struct Current<'a> {
    bundle: &'a Bundle,
    root: tlog_tiles::Hash,
}

impl Current<'_> {
    /// Whether the signed tree of `size` leaves with `old_root` is a prefix of this one.
    fn extends(&self, size: u64, old_root: tlog_tiles::Hash) -> Result<(), String> {
        let rewritten = || {
            format!(
                "the log of {size} events held before is not a prefix of this one of {}: \
                 the past was rewritten",
                self.bundle.size
            )
        };
        if size > self.bundle.size {
            return Err(format!(
                "a checkpoint of {size} events was held before, this one has {}: events were \
                 removed",
                self.bundle.size
            ));
        }
        if size == self.bundle.size {
            return if old_root == self.root {
                Ok(())
            } else {
                Err(rewritten())
            };
        }
        let step = self
            .bundle
            .consistency
            .iter()
            .find(|c| c.from == size)
            .ok_or_else(|| {
                format!(
                    "the bundle carries no consistency proof from the {size} events held before: \
                     take a bundle with ?consistency_from={size}"
                )
            })?;
        let proof: Option<Vec<_>> = step.proof.iter().map(|h| from_hex(h)).collect();
        let proof = proof.ok_or_else(rewritten)?;
        // A proof of RFC 9162 is at most two hashes per level of a 64-bit tree.
        if size == 0 || proof.len() > 128 {
            return Err(rewritten());
        }
        tlog_tiles::check_tree(&proof, self.bundle.size, self.root, size, old_root)
            .map_err(|_| rewritten())
    }

    /// The event with this id in the bundle, if it holds it.
    fn event(&self, id: &serde_json::Value) -> Option<&BundleEvent> {
        self.bundle
            .events
            .iter()
            .find(|e| member(&e.event, "id") == id)
    }

    fn still_there(&self, id: &serde_json::Value, leaf_hash: &str, report: &mut Report) {
        match self.event(id) {
            Some(now) if now.leaf_hash == leaf_hash => {}
            Some(_) => report.failures.push(format!(
                "event {id}: changed since it was held: the past was rewritten"
            )),
            None => report
                .failures
                .push(format!("event {id}: held before, missing now")),
        }
    }

    fn against_bundle(&self, older: &Bundle, keys: &[String], report: &mut Report) {
        let (size, old_root) = match signed_checkpoint(&older.checkpoint, keys) {
            Ok(signed) => signed,
            Err(e) => {
                report.failures.push(format!("the older bundle: {e}"));
                return;
            }
        };
        if let Err(e) = self.extends(size, old_root) {
            report.failures.push(e);
        }
        let mut older_report = Report::default();
        check_events(older, old_root, &mut older_report);
        report.failures.extend(
            older_report
                .failures
                .into_iter()
                .map(|f| format!("the older bundle: {f}")),
        );
        for held in &older.events {
            self.still_there(member(&held.event, "id"), &held.leaf_hash, report);
        }
        report.checked.push(format!(
            "against the older bundle of {size} events: {} events held before compared",
            older.events.len()
        ));
    }

    fn against_receipts(
        &self,
        receipts: &[(serde_json::Value, LogReceipt)],
        keys: &[String],
        report: &mut Report,
    ) {
        let mut sizes = std::collections::BTreeSet::new();
        for (event, receipt) in receipts {
            let id = member(event, "id");
            let hash = match serde_jcs::to_string(event) {
                Ok(leaf) => tree::to_hex(&tree::leaf_hash(leaf.as_bytes())),
                Err(e) => {
                    report.failures.push(format!("receipt of event {id}: {e}"));
                    continue;
                }
            };
            if member(event, "index").as_u64() != Some(receipt.index) {
                report.failures.push(format!(
                    "receipt of event {id}: its index is not the event's"
                ));
            }
            self.still_there(id, &hash, report);
            let Some(note) = &receipt.checkpoint else {
                continue;
            };
            match signed_checkpoint(note, keys) {
                Err(e) => report.failures.push(format!("receipt of event {id}: {e}")),
                Ok((size, _)) if size <= receipt.index => report.failures.push(format!(
                    "receipt of event {id}: its checkpoint of {size} events does not include it"
                )),
                Ok((size, old_root)) => {
                    if sizes.insert(size) {
                        if let Err(e) = self.extends(size, old_root) {
                            report.failures.push(e);
                        }
                    }
                }
            }
        }
        report.checked.push(format!(
            "against {} receipts: {} checkpoints held before and their events compared",
            receipts.len(),
            sizes.len()
        ));
    }
}
