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
/// with what was held before (an older bundle), that the log only grew: the older checkpoint
/// verifies, is not larger, and every event held then is still there, unchanged, in the same
/// place.
///
/// `pinned` are the verifier keys the checker trusts (from `/.well-known/subreg/log-keys` or
/// an earlier bundle): the checkpoint must be signed by one of them. Without any, the keys the
/// bundle names are used, and the report says that nothing ties them to the instance.
pub fn verify(bundle: &Bundle, older: Option<&Bundle>, pinned: &[String]) -> Report {
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
    if let Some(older) = older {
        let mut keys: Vec<String> = bundle.verifier_keys.clone();
        for key in &older.verifier_keys {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        match signed_checkpoint(&older.checkpoint, &keys) {
            Err(e) => report.failures.push(format!("the older bundle: {e}")),
            Ok((size, old_root)) => {
                if size > bundle.size || (size == bundle.size && old_root != root) {
                    report.failures.push(format!(
                        "the log of {size} events held before is not a prefix of this one: the past was rewritten"
                    ));
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
                    let now = bundle
                        .events
                        .iter()
                        .find(|e| member(&e.event, "id") == member(&held.event, "id"));
                    match now {
                        Some(now) if now.leaf_hash == held.leaf_hash => {}
                        Some(_) => report.failures.push(format!(
                            "event {}: changed since the older bundle: the past was rewritten",
                            member(&held.event, "id")
                        )),
                        None => report.failures.push(format!(
                            "event {}: held before, missing now",
                            member(&held.event, "id")
                        )),
                    }
                }
                report.checked.push(format!(
                    "against the older bundle of {size} events: {} events held before compared",
                    older.events.len()
                ));
            }
        }
    }
    report
}
