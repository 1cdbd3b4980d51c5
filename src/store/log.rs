//! The evidence log as stored: leaf hashes on the events, signed checkpoints in
//! `log_checkpoints`, the instance's signing key, and the check that recomputes it all.

use super::schema::{events, log_checkpoints, processors};
use super::{from_db, to_db, DbConnection, StoreError};
use crate::domain::log::{self as tree, LeafEvent, Tree, Visibility};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use signed_note::{Note, Signer, StandardSigner, StandardVerifier, VerifierList};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The instance's log key: signs every checkpoint. `host` makes the origin lines.
pub struct LogSigner {
    signer: StandardSigner,
    vkey: String,
    host: String,
    /// Verifier keys of earlier signing keys, still listed so old checkpoints verify.
    previous: Vec<String>,
    /// The keys of notice decision links, derived from the same private key.
    decide: crate::domain::decide::DecideKey,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner")
            .field("vkey", &self.vkey)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// From a signed-note private key (`PRIVATE+KEY+<name>+<id>+<base64>`, what `keygen`
    /// writes) and the public host of this instance.
    pub fn new(skey: &str, host: &str, previous: Vec<String>) -> Result<LogSigner, String> {
        let skey = skey.trim();
        let signer = StandardSigner::new(skey)
            .map_err(|e| format!("not a signed-note Ed25519 private key: {e}"))?;
        let vkey = vkey_of(skey)?;
        for key in &previous {
            StandardVerifier::new(key).map_err(|e| format!("`{key}`: {e}"))?;
        }
        Ok(LogSigner {
            signer,
            vkey,
            host: host.to_string(),
            previous,
            decide: crate::domain::decide::DecideKey::from_log_key(skey),
        })
    }

    /// The key of the decision links in notices (`domain::decide`).
    pub fn decide_key(&self) -> &crate::domain::decide::DecideKey {
        &self.decide
    }

    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The current verifier key first, then the earlier ones.
    pub fn vkeys(&self) -> Vec<String> {
        std::iter::once(self.vkey.clone())
            .chain(self.previous.iter().filter(|k| **k != self.vkey).cloned())
            .collect()
    }

    pub fn origin(&self, processor_id: &str) -> String {
        tree::origin(&self.host, processor_id)
    }

    fn sign(
        &self,
        processor_id: &str,
        size: u64,
        root: tlog_tiles::Hash,
    ) -> Result<String, StoreError> {
        let text = tree::checkpoint_text(&self.origin(processor_id), size, root)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut note = Note::new(&text, &[]).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        note.add_sigs(&[&self.signer as &dyn Signer])
            .map_err(|e| StoreError::Corrupt(format!("cannot sign a checkpoint: {e}")))?;
        String::from_utf8(note.to_bytes()).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn verifiers(&self) -> VerifierList {
        VerifierList::new(
            self.vkeys()
                .iter()
                .filter_map(|k| StandardVerifier::new(k).ok())
                .map(|v| Box::new(v) as Box<dyn signed_note::Verifier>)
                .collect(),
        )
    }
}

/// The verifier key (`<name>+<hex id>+<base64(0x01 || public key)>`) of a private key.
fn vkey_of(skey: &str) -> Result<String, String> {
    let mut parts = skey.splitn(5, '+');
    let (name, encoded) = match (parts.next(), parts.next(), parts.next(), parts.nth(1)) {
        (Some("PRIVATE"), Some("KEY"), Some(name), Some(encoded)) => (name, encoded),
        _ => return Err("not a signed-note private key".into()),
    };
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| e.to_string())?;
    let seed: [u8; 32] = match bytes.split_first() {
        Some((1, seed)) => seed.try_into().map_err(|_| "an Ed25519 key is 32 bytes")?,
        _ => return Err("not an Ed25519 key".into()),
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok(signed_note::new_ed25519_verifier_key(
        name,
        &key.verifying_key(),
    ))
}

/// A new key named `name`: (private key text, verifier key).
pub fn generate_key(name: &str) -> Result<(String, String), String> {
    if !signed_note::is_key_name_valid(name) {
        return Err(format!("`{name}` cannot name a key: no spaces or `+`"));
    }
    let seed: [u8; 32] = rand::random();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let vkey = signed_note::new_ed25519_verifier_key(name, &key.verifying_key());
    let mut public = vec![1u8];
    public.extend(key.verifying_key().to_bytes());
    let mut private = vec![1u8];
    private.extend(seed);
    use base64::Engine;
    let skey = format!(
        "PRIVATE+KEY+{name}+{:08x}+{}",
        signed_note::key_id(name, &public),
        base64::engine::general_purpose::STANDARD.encode(private)
    );
    Ok((skey, vkey))
}

thread_local! {
    /// The signer of the work running on this thread (see [`with_signer`]).
    static SIGNER: RefCell<Option<Arc<LogSigner>>> = const { RefCell::new(None) };
    /// Processors that got events in the transaction now open, with the newest event's time.
    static APPENDED: RefCell<BTreeMap<String, DateTime<Utc>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Runs `work` so that every write transaction in it that appends events ends with a signed
/// checkpoint of each log it touched, written in the same transaction.
pub fn with_signer<T>(signer: &Arc<LogSigner>, work: impl FnOnce() -> T) -> T {
    let before = SIGNER.with(|s| s.replace(Some(signer.clone())));
    let result = work();
    SIGNER.with(|s| *s.borrow_mut() = before);
    result
}

pub(crate) fn appended(processor_id: &str, at: DateTime<Utc>) {
    APPENDED.with(|a| {
        a.borrow_mut().insert(processor_id.to_string(), at);
    });
}

/// Called by `write_transaction` before its commit: signs a checkpoint of every log this
/// transaction appended to. Without a signer in scope (the CLI's `demo`) the checkpoint is
/// left to the next signed write or to `serve`'s start.
pub(crate) fn seal(conn: &mut DbConnection) -> Result<(), StoreError> {
    let touched = APPENDED.with(|a| std::mem::take(&mut *a.borrow_mut()));
    let Some(signer) = SIGNER.with(|s| s.borrow().clone()) else {
        return Ok(());
    };
    for (processor_id, at) in touched {
        checkpoint_now(conn, &signer, &processor_id, at)?;
    }
    Ok(())
}

/// Forgets what a transaction that did not commit appended.
pub(crate) fn transaction_finished() {
    APPENDED.with(|a| a.borrow_mut().clear());
}

/// Signs and stores a checkpoint of the processor's log as it is now, unless one of that size
/// exists. Returns the size. Caller holds the chain lock.
fn checkpoint_now(
    conn: &mut DbConnection,
    signer: &LogSigner,
    processor_id: &str,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let frontier = extended_frontier(conn, processor_id)?;
    let size = frontier.size();
    let Some(root) = frontier.root() else {
        return Ok(size);
    };
    let exists = log_checkpoints::table
        .find((processor_id, size_db(size)))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(size);
    }
    let note = signer.sign(processor_id, size, root)?;
    diesel::insert_into(log_checkpoints::table)
        .values((
            log_checkpoints::processor_id.eq(processor_id),
            log_checkpoints::size.eq(size_db(size)),
            log_checkpoints::root.eq(tree::to_hex(&root)),
            log_checkpoints::note.eq(note),
            log_checkpoints::created_at.eq(to_db(at)),
        ))
        .execute(conn)?;
    Ok(size)
}

/// The processor's stored frontier extended with the leaves appended since, and stored back:
/// a checkpoint reads the new leaves only, not the whole log (which made every sweep
/// transaction read every leaf again). Caller holds the chain lock.
fn extended_frontier(
    conn: &mut DbConnection,
    processor_id: &str,
) -> Result<tree::Frontier, StoreError> {
    let (stored_size, peaks): (i64, String) = processors::table
        .find(processor_id)
        .select((processors::log_frontier_size, processors::log_frontier))
        .first(conn)?;
    // A frontier that does not fit its size is rebuilt from the first leaf.
    let mut frontier = u64::try_from(stored_size)
        .ok()
        .and_then(|size| tree::Frontier::from_stored(size, &peaks))
        .unwrap_or_default();
    let hashes: Vec<String> = events::table
        .filter(events::processor_id.eq(processor_id))
        .filter(events::log_index.ge(size_db(frontier.size())))
        .order(events::log_index)
        .select(events::leaf_hash)
        .load(conn)?;
    if hashes.is_empty() {
        return Ok(frontier);
    }
    for hash in &hashes {
        frontier.push(tree::from_hex(hash).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "a leaf hash of `{processor_id}` is not SHA-256 hex"
            ))
        })?);
    }
    diesel::update(processors::table.find(processor_id))
        .set((
            processors::log_frontier.eq(frontier.peaks_hex()),
            processors::log_frontier_size.eq(size_db(frontier.size())),
        ))
        .execute(conn)?;
    Ok(frontier)
}

fn size_db(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

/// At start: computes the leaves of events written before the log existed (in their order),
/// and signs a checkpoint of every log whose newest events none covers yet.
pub fn catch_up(
    conn: &mut DbConnection,
    signer: &LogSigner,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let pending: Vec<String> = events::table
        .filter(events::leaf_hash.eq(""))
        .select(events::processor_id)
        .distinct()
        .load(conn)?;
    for processor_id in pending {
        super::db::write_transaction(conn, |conn| {
            super::events::lock_chain(conn, &processor_id)?;
            let rows: Vec<LeafRow> = events::table
                .filter(events::processor_id.eq(&processor_id))
                .filter(events::leaf_hash.eq(""))
                .select(LeafRow::as_select())
                .load(conn)?;
            for row in rows {
                let hash = tree::to_hex(&tree::leaf_hash(row.leaf()?.as_bytes()));
                diesel::update(events::table.filter(events::id.eq(&row.id)))
                    .set(events::leaf_hash.eq(hash))
                    .execute(conn)?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    let processors: Vec<String> = processors::table.select(processors::id).load(conn)?;
    for processor_id in processors {
        super::db::write_transaction(conn, |conn| {
            super::events::lock_chain(conn, &processor_id)?;
            // At start the frontier is derived again from the leaves as they are stored, as
            // every checkpoint once was: what was edited behind the server's back since is
            // what it signs now, like the leaf hashes above.
            diesel::update(processors::table.find(&processor_id))
                .set((
                    processors::log_frontier.eq(""),
                    processors::log_frontier_size.eq(0),
                ))
                .execute(conn)?;
            checkpoint_now(conn, signer, &processor_id, now).map(|_| ())
        })?;
    }
    Ok(())
}

/// What a leaf is made of, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct LeafRow {
    pub id: String,
    pub log_index: i64,
    pub event_type: String,
    pub occurred_at: NaiveDateTime,
    pub processor_id: String,
    pub controller_id: Option<String>,
    pub visibility: String,
    pub payload: String,
    pub leaf_hash: String,
}

impl LeafRow {
    /// The leaf, recomputed from the columns and the stored `data`.
    pub fn leaf(&self) -> Result<String, StoreError> {
        let payload: serde_json::Value = serde_json::from_str(&self.payload)
            .map_err(|e| StoreError::Corrupt(format!("event `{}`: {e}", self.id)))?;
        let data = payload
            .get("data")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        LeafEvent {
            id: &self.id,
            index: u64::try_from(self.log_index).unwrap_or(u64::MAX),
            event_type: &self.event_type,
            occurred_at: from_db(self.occurred_at),
            processor_id: &self.processor_id,
            controller_id: self.controller_id.as_deref(),
            visibility: &self.visibility,
            data: &data,
        }
        .canonical()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// The tree of the stored leaf hashes, in log order.
pub fn stored_tree(conn: &mut DbConnection, processor_id: &str) -> Result<Tree, StoreError> {
    let hashes: Vec<String> = events::table
        .filter(events::processor_id.eq(processor_id))
        .order(events::log_index)
        .select(events::leaf_hash)
        .load(conn)?;
    let leaves = hashes
        .iter()
        .map(|h| {
            tree::from_hex(h).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "a leaf hash of `{processor_id}` is not SHA-256 hex"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Tree::from_leaves(leaves).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = log_checkpoints)]
pub struct StoredCheckpoint {
    pub processor_id: String,
    pub size: i64,
    pub root: String,
    pub note: String,
    pub created_at: NaiveDateTime,
}

/// The newest checkpoint of a processor's log, if it has one.
pub fn latest_checkpoint(
    conn: &mut DbConnection,
    processor_id: &str,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    Ok(log_checkpoints::table
        .filter(log_checkpoints::processor_id.eq(processor_id))
        .order(log_checkpoints::size.desc())
        .select(StoredCheckpoint::as_select())
        .first(conn)
        .optional()?)
}

/// The result of recomputing a processor's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogVerification {
    pub valid: bool,
    /// Every event of the log, whoever asks.
    #[schema(minimum = 0)]
    pub events: i64,
    /// The size of the newest signed checkpoint (0 without one).
    #[schema(minimum = 0)]
    pub checkpoint_size: i64,
    /// The root recomputed from the stored events for that size, in hex (null without a
    /// checkpoint).
    #[schema(required = true, value_type = Option<crate::domain::event::Sha256Hex>)]
    pub root: Option<String>,
    /// The first event whose stored row does not give its leaf; left out (null) for a reader
    /// who may not see that event, who still learns `valid: false`.
    #[schema(required = true)]
    pub first_broken: Option<String>,
    /// What is wrong, for the processor and admins (null when valid or for a controller).
    #[schema(required = true)]
    pub problem: Option<String>,
    /// Rows that are not what the log says (replayed from the newest event of each window,
    /// change and agreement); a controller sees only its own windows and agreements, and the
    /// changes.
    pub disagreements: Vec<crate::domain::replay::Disagreement>,
}

/// Recomputes every leaf from its row and the tree from the leaves, and holds them against
/// every signed checkpoint: an edited column, a removed event or a rewritten hash shows. Then
/// replays the log against the rows it vouches for: a window flipped in SQL shows too.
pub fn verify(
    conn: &mut DbConnection,
    signer: &LogSigner,
    processor_id: &str,
    reader: &super::events::Reader,
    now: DateTime<Utc>,
) -> Result<LogVerification, StoreError> {
    super::db::read_snapshot(conn, |conn| {
        verify_snapshot(conn, signer, processor_id, reader, now)
    })
}

fn verify_snapshot(
    conn: &mut DbConnection,
    signer: &LogSigner,
    processor_id: &str,
    reader: &super::events::Reader,
    now: DateTime<Utc>,
) -> Result<LogVerification, StoreError> {
    processors::table
        .find(processor_id)
        .select(processors::id)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("processor", processor_id))?;
    let rows: Vec<LeafRow> = events::table
        .filter(events::processor_id.eq(processor_id))
        .order((events::log_index, events::seq))
        .select(LeafRow::as_select())
        .load(conn)?;
    let checkpoints: Vec<StoredCheckpoint> = log_checkpoints::table
        .filter(log_checkpoints::processor_id.eq(processor_id))
        .order(log_checkpoints::size)
        .select(StoredCheckpoint::as_select())
        .load(conn)?;
    let mut broken: Option<(String, String)> = None;
    let mut leaves = Vec::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        let recomputed = tree::leaf_hash(row.leaf()?.as_bytes());
        let problem = if row.log_index != position as i64 {
            Some(format!(
                "event at index {} found where index {position} belongs: an event is missing",
                row.log_index
            ))
        } else if Visibility::parse(&row.visibility)
            != Some(Visibility::of(
                &row.event_type,
                row.controller_id.as_deref(),
            ))
        {
            Some(format!(
                "visibility `{}` does not follow from its type and controller",
                row.visibility
            ))
        } else if tree::to_hex(&recomputed) != row.leaf_hash {
            Some("the stored row does not give its leaf hash: the event was altered".into())
        } else {
            None
        };
        if let (None, Some(problem)) = (&broken, problem) {
            broken = Some((row.id.clone(), problem));
        }
        leaves.push(recomputed);
    }
    let tree = Tree::from_leaves(leaves).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let verifiers = signer.verifiers();
    let mut root = None;
    let mut log_problem = None;
    for checkpoint in &checkpoints {
        let size = u64::try_from(checkpoint.size).unwrap_or(u64::MAX);
        let signed = Note::from_bytes(checkpoint.note.as_bytes())
            .ok()
            .and_then(|note| note.verify(&verifiers).ok().map(|_| note))
            .and_then(|note| tlog_tiles::Checkpoint::from_bytes(note.text()).ok());
        let recomputed = tree.root(size).ok();
        root = recomputed.map(|r| tree::to_hex(&r));
        let problem = match (signed, recomputed) {
            (None, _) => Some(format!(
                "the checkpoint of size {size} does not carry a valid signature of this instance"
            )),
            (Some(_), None) => Some(format!(
                "a checkpoint signed {size} events, the log holds {}: events were removed",
                tree.size()
            )),
            // The host part of the origin may have moved with SUBREG_PUBLIC_URL; the
            // processor part may not.
            (Some(c), Some(r))
                if c.size() != size
                    || *c.hash() != r
                    || !c.origin().ends_with(&format!("/processors/{processor_id}")) =>
            {
                Some(format!(
                    "the events do not give the signed root of size {size}: the log was rewritten"
                ))
            }
            _ => None,
        };
        if log_problem.is_none() {
            log_problem = problem;
        }
    }
    if tree.size() > 0 && checkpoints.is_empty() {
        log_problem = Some("no signed checkpoint covers the log".into());
    }
    let all_rows = super::replay::disagreements(conn, processor_id, &rows, None, now)?;
    let everything = *reader == super::events::Reader::Everything;
    let disagreements = match reader {
        super::events::Reader::Controller(controller) if !all_rows.is_empty() => {
            super::replay::disagreements(conn, processor_id, &rows, Some(controller), now)?
        }
        _ => all_rows.clone(),
    };
    let valid = broken.is_none() && log_problem.is_none() && all_rows.is_empty();
    let first_broken = match &broken {
        Some((id, _)) if !everything => {
            match super::events::get_visible(conn, processor_id, id, reader) {
                Ok(_) => Some(id.clone()),
                Err(StoreError::NotFound { .. }) => None,
                Err(other) => return Err(other),
            }
        }
        other => other.as_ref().map(|(id, _)| id.clone()),
    };
    let problem = if everything {
        broken
            .map(|(_, p)| p)
            .or(log_problem)
            .or(all_rows.first().map(|d| d.to_string()))
    } else {
        None
    };
    Ok(LogVerification {
        valid,
        events: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        checkpoint_size: checkpoints.last().map(|c| c.size).unwrap_or(0),
        root,
        first_broken,
        problem,
        disagreements,
    })
}

/// The host part of the public URL: the key name and the origin lines use it.
pub fn public_host(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(public_url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// Writes a new key to `path` (never over an existing file) and returns its verifier key.
pub fn write_new_key(path: &std::path::Path, name: &str) -> Result<String, String> {
    use std::io::Write;
    let (skey, vkey) = generate_key(name)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    file.write_all(format!("{skey}\n").as_bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(vkey)
}

/// The instance's signer: `SUBREG_LOG_KEY` when set; else on SQLite `subreg-log.key` beside
/// the database, made at the first start; on PostgreSQL no default, since every instance
/// must sign with the same key.
pub fn load_signer(
    key_path: Option<&std::path::Path>,
    database: &super::db::DatabaseTarget,
    public_url: &str,
    previous: Vec<String>,
) -> Result<LogSigner, String> {
    let host = public_host(public_url);
    let path = match (key_path, database) {
        (Some(path), _) => path.to_path_buf(),
        (None, super::db::DatabaseTarget::Postgres(_)) => {
            return Err(
                "SUBREG_LOG_KEY is not set: on PostgreSQL every instance must sign the \
                        evidence log with the same key; make one with `subreg keygen PATH` and \
                        set SUBREG_LOG_KEY=PATH"
                    .into(),
            )
        }
        (None, super::db::DatabaseTarget::Sqlite(db)) if db == ":memory:" => {
            let (skey, _) = generate_key(&host)?;
            return LogSigner::new(&skey, &host, previous);
        }
        (None, super::db::DatabaseTarget::Sqlite(db)) => {
            let path = std::path::Path::new(db)
                .parent()
                .map(|dir| dir.join("subreg-log.key"))
                .unwrap_or_else(|| "subreg-log.key".into());
            if !path.exists() {
                let vkey = write_new_key(&path, &host)?;
                log::info!(
                    "made the evidence log key {} (verifier key {vkey})",
                    path.display()
                );
            }
            path
        }
    };
    let skey = std::fs::read_to_string(&path)
        .map_err(|e| format!("SUBREG_LOG_KEY: cannot read `{}`: {e}", path.display()))?;
    LogSigner::new(&skey, &host, previous)
        .map_err(|e| format!("SUBREG_LOG_KEY: `{}`: {e}", path.display()))
}

/// The newest checkpoint signed by `at`, if there is one: the log as it stood then.
pub fn checkpoint_at(
    conn: &mut DbConnection,
    processor_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    Ok(log_checkpoints::table
        .filter(log_checkpoints::processor_id.eq(processor_id))
        .filter(log_checkpoints::created_at.le(to_db(at)))
        .order(log_checkpoints::size.desc())
        .select(StoredCheckpoint::as_select())
        .first(conn)
        .optional()?)
}

/// The checkpoint signed at exactly this size, if there is one.
pub fn checkpoint_of_size(
    conn: &mut DbConnection,
    processor_id: &str,
    size: u64,
) -> Result<Option<StoredCheckpoint>, StoreError> {
    Ok(log_checkpoints::table
        .find((processor_id, size_db(size)))
        .select(StoredCheckpoint::as_select())
        .first(conn)
        .optional()?)
}

/// The receipt of the event at `index`: its index and the checkpoint signed by the transaction
/// that appended it (the smallest that includes it). Webhook bodies and private feed entries
/// carry it.
pub fn receipt(
    conn: &mut DbConnection,
    processor_id: &str,
    index: i64,
) -> Result<crate::domain::evidence::LogReceipt, StoreError> {
    let checkpoint = log_checkpoints::table
        .filter(log_checkpoints::processor_id.eq(processor_id))
        .filter(log_checkpoints::size.gt(index))
        .order(log_checkpoints::size)
        .select(log_checkpoints::note)
        .first::<String>(conn)
        .optional()?;
    Ok(crate::domain::evidence::LogReceipt {
        index: u64::try_from(index).unwrap_or(0),
        checkpoint,
    })
}

/// The controller's evidence bundle for one processor: its visible events, each with its
/// inclusion proof to the latest checkpoint, and consistency proofs from the checkpoint of each
/// event's receipt and from the sizes in `consistency_from`. `NotFound` while the log has no
/// checkpoint.
pub fn bundle(
    conn: &mut DbConnection,
    signer: &LogSigner,
    processor_id: &str,
    controller_id: &str,
    consistency_from: &[u64],
) -> Result<crate::domain::evidence::Bundle, StoreError> {
    use crate::domain::evidence::{Bundle, BundleEvent, ConsistencyStep};
    let checkpoint = latest_checkpoint(conn, processor_id)?
        .ok_or_else(|| StoreError::not_found("checkpoint of processor", processor_id))?;
    let size = u64::try_from(checkpoint.size).unwrap_or(0);
    let tree = stored_tree(conn, processor_id)?;
    let mut problems = crate::domain::error::Problems::default();
    for (n, from) in consistency_from.iter().enumerate() {
        if *from == 0 || *from > size {
            problems.push(
                format!("consistency_from[{n}]"),
                format!("{from} is not a size of this log's tree: from 1 to {size}"),
            );
        }
    }
    problems.finish(())?;
    let signed_sizes: Vec<u64> = log_checkpoints::table
        .filter(log_checkpoints::processor_id.eq(processor_id))
        .order(log_checkpoints::size)
        .select(log_checkpoints::size)
        .load::<i64>(conn)?
        .into_iter()
        .filter_map(|s| u64::try_from(s).ok())
        .collect();
    let mut from_sizes: std::collections::BTreeSet<u64> =
        consistency_from.iter().copied().collect();
    let reader = super::events::Reader::Controller(controller_id.to_string());
    let mut events = Vec::new();
    let mut page = super::PageRequest::first(super::page::MAX_LIMIT);
    loop {
        let found = super::events::list_for_processor(conn, processor_id, &reader, &page)?;
        for event in &found.items {
            let index = u64::try_from(event.log_index).unwrap_or(u64::MAX);
            if index >= size {
                continue;
            }
            let proof = tree
                .inclusion(index, size)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let receipt_size = signed_sizes.partition_point(|s| *s <= index);
            if let Some(signed) = signed_sizes.get(receipt_size) {
                from_sizes.insert(*signed);
            }
            let mut leaf = event.to_json();
            let leaf_hash = leaf
                .as_object_mut()
                .and_then(|o| o.remove("leaf_hash"))
                .and_then(|h| h.as_str().map(String::from))
                .unwrap_or_default();
            events.push(BundleEvent {
                event: leaf,
                leaf_hash,
                inclusion_proof: proof.iter().map(tree::to_hex).collect(),
            });
        }
        match found.next_cursor {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    Ok(Bundle {
        processor_id: processor_id.to_string(),
        controller_id: controller_id.to_string(),
        verifier_keys: signer.vkeys(),
        checkpoint: checkpoint.note,
        size,
        events,
        consistency: from_sizes
            .into_iter()
            .filter(|from| *from < size)
            .map(|from| {
                Ok(ConsistencyStep {
                    from,
                    proof: tree
                        .consistency(from, size)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?
                        .iter()
                        .map(tree::to_hex)
                        .collect(),
                })
            })
            .collect::<Result<_, StoreError>>()?,
    })
}
