//! The transactional outbox of e-mail notices: rows written with their events
//! (`enqueue_batch`, called by `events::append_batch`), claimed with a real-clock lease
//! (`claim`), and the SMTP server's answer written back with the evidence of it (`record`:
//! `notice.dispatched` on acceptance, `notice.failed` on a permanent refusal).
//!
//! Without `SUBREG_SMTP_URL` rows are still written: they wait, and are sent once a server is
//! configured (a notice owed is never dropped silently).

use super::contacts::{self, Owner};
use super::events::{self, NewEvent};
use super::schema::{
    controllers, events as events_table, mail_outbox, objection_windows, processors,
};
use super::signal::CommitSignal;
use super::webhooks::OutboxEvent;
use super::{from_db, to_db, DbConnection, StoreError};
use crate::domain::contact::NoticeContact;
use crate::domain::event::EventType;
use crate::domain::language::Lang;
use crate::domain::mail::Context;
use crate::domain::window::NoticeChannel;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::cell::Cell;

const BATCH: usize = 500;
/// The kind of a row: the notice of its event (reminders would be other kinds).
pub const KIND_NOTICE: &str = "notice";

static MAIL: CommitSignal = CommitSignal::new();

thread_local! {
    /// Set when this thread wrote mail rows in the transaction now open.
    static DIRTY: Cell<bool> = const { Cell::new(false) };
}

/// Called by `write_transaction` after its commit (or rollback): wakes the mailer.
pub(crate) fn transaction_finished(committed: bool) {
    MAIL.finished(&DIRTY, committed);
}

/// Notes that this thread wrote mail rows in the transaction now open (the mailer wakes at
/// its commit).
pub(crate) fn mark_written() {
    DIRTY.with(|d| d.set(true));
}

/// A counter that moves whenever mail rows were committed in this process.
pub fn generation() -> u64 {
    MAIL.generation()
}

/// Resolves when mail rows are committed after the call (pair it with `generation`).
pub fn written() -> tokio::sync::futures::Notified<'static> {
    MAIL.written()
}

/// The controller's organisation contact (its `contact_email`), in Danish.
fn controller_contact(
    conn: &mut DbConnection,
    controller_id: Option<&str>,
) -> Result<Option<NoticeContact>, StoreError> {
    let Some(cid) = controller_id else {
        return Ok(None);
    };
    let found: Option<(String, Option<String>)> = controllers::table
        .find(cid)
        .select((controllers::name, controllers::contact_email))
        .first(conn)
        .optional()?;
    Ok(found.and_then(|(name, email)| {
        Some(NoticeContact {
            name,
            email: email.filter(|e| !e.trim().is_empty())?,
            language: Lang::Da,
        })
    }))
}

/// Who receives the notice of an event, with the controller each speaks for.
fn recipients(
    conn: &mut DbConnection,
    processor_id: &str,
    event: &OutboxEvent<'_>,
) -> Result<Vec<(Option<String>, NoticeContact)>, StoreError> {
    let controller = event.controller_id.map(str::to_string);
    let agreement = |key: &str| event.data[key].as_str().map(str::to_string);
    let found = match event.event_type {
        EventType::WindowOpened | EventType::WindowClosed => match agreement("agreement_id") {
            Some(aid) => contacts::list(conn, Owner::Agreement, &aid)?
                .into_iter()
                .map(|c| (controller.clone(), c))
                .collect(),
            None => Vec::new(),
        },
        EventType::AgreementProposed | EventType::AgreementAmended => match agreement("id") {
            Some(aid) => {
                let mut found = contacts::list(conn, Owner::Agreement, &aid)?;
                if found.is_empty() {
                    // A proposed agreement has no notice contacts yet (the controller sets
                    // them on an agreement of its own): the proposal goes to the controller's
                    // contact address, so that someone there learns of it.
                    found.extend(controller_contact(conn, event.controller_id)?);
                }
                found.into_iter().map(|c| (controller.clone(), c)).collect()
            }
            None => Vec::new(),
        },
        EventType::ChangeEffective => {
            let Some(change_id) = event.data["id"].as_str() else {
                return Ok(Vec::new());
            };
            let windows: Vec<(String, String)> = objection_windows::table
                .filter(objection_windows::change_id.eq(change_id))
                .select((
                    objection_windows::agreement_id,
                    objection_windows::controller_id,
                ))
                .load(conn)?;
            let controller_of: std::collections::HashMap<String, String> =
                windows.into_iter().collect();
            let ids: Vec<String> = controller_of.keys().cloned().collect();
            contacts::list_many(conn, Owner::Agreement, &ids)?
                .into_iter()
                .map(|(aid, c)| (controller_of.get(&aid).cloned(), c))
                .collect()
        }
        EventType::ChangeBlocked | EventType::ObjectionRaised | EventType::ApprovalGiven => {
            contacts::list(conn, Owner::Processor, processor_id)?
                .into_iter()
                .map(|c| (controller.clone(), c))
                .collect()
        }
        _ => Vec::new(),
    };
    Ok(found)
}

/// Writes one outbox row per recipient of each event, in the caller's transaction.
pub(crate) fn enqueue_batch(
    conn: &mut DbConnection,
    processor_id: &str,
    batch: &[OutboxEvent<'_>],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    use super::schema::notice_contacts;
    if !batch
        .iter()
        .any(|e| crate::domain::mail::MAILED.contains(&e.event_type.as_str()))
    {
        return Ok(0);
    }
    // Most deployments without contacts pay one cheap query.
    let any: bool = diesel::select(diesel::dsl::exists(
        notice_contacts::table.select(notice_contacts::position),
    ))
    .get_result(conn)?;
    // A proposal goes to the controller's contact address even where nobody set contacts.
    let proposal = batch.iter().any(|e| {
        matches!(
            e.event_type,
            EventType::AgreementProposed | EventType::AgreementAmended
        )
    });
    if !any && !proposal {
        return Ok(0);
    }
    let mut wanted = Vec::new();
    for event in batch {
        let mut seen = std::collections::HashSet::new();
        // A window's notice remembers the window, for its reminders.
        let window_id = (event.event_type == EventType::WindowOpened)
            .then(|| event.data.get("id").and_then(|v| v.as_str()))
            .flatten();
        for (controller_id, contact) in recipients(conn, processor_id, event)? {
            if seen.insert(contact.email.to_ascii_lowercase()) {
                wanted.push((event.id, controller_id, contact, window_id));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = batch.iter().map(|e| e.id).collect();
    let mut seqs = std::collections::HashMap::new();
    for chunk in ids.chunks(BATCH) {
        let found: Vec<(String, i64)> = events_table::table
            .filter(events_table::id.eq_any(chunk))
            .select((events_table::id, events_table::seq))
            .load(conn)?;
        seqs.extend(found);
    }
    let now_db = to_db(now);
    let mut rows = Vec::with_capacity(wanted.len());
    for (event_id, controller_id, contact, window_id) in wanted {
        let seq = *seqs
            .get(event_id)
            .ok_or_else(|| StoreError::not_found("event", event_id))?;
        rows.push((
            mail_outbox::id.eq(uuid::Uuid::now_v7().to_string()),
            mail_outbox::event_id.eq(event_id.to_string()),
            mail_outbox::event_seq.eq(seq),
            mail_outbox::processor_id.eq(processor_id.to_string()),
            mail_outbox::controller_id.eq(controller_id),
            mail_outbox::kind.eq(KIND_NOTICE),
            mail_outbox::recipient_name.eq(contact.name),
            mail_outbox::recipient.eq(contact.email),
            mail_outbox::language.eq(contact.language.code()),
            mail_outbox::state.eq("pending"),
            mail_outbox::attempts.eq(0),
            mail_outbox::next_attempt_at.eq(now_db),
            mail_outbox::created_at.eq(now_db),
            mail_outbox::updated_at.eq(now_db),
            mail_outbox::window_id.eq(window_id.map(str::to_string)),
        ));
    }
    for chunk in rows.chunks(BATCH) {
        crate::insert_rows!(conn, mail_outbox::table, chunk)?;
    }
    DIRTY.with(|d| d.set(true));
    Ok(rows.len())
}

/// The kind of a reminder `days` before the deadline.
fn reminder_kind(days: u32) -> String {
    format!("reminder:{days}")
}

/// Enqueues the reminders that are due: for every recipient of a window's notice, once per
/// number of days in `days`, when the window is still open (undecided) and its deadline is at
/// most that many days away, but only for windows that opened earlier than that (a window
/// opened with less time left gets no reminder at once). Unique per (notice, recipient, kind).
pub fn enqueue_reminders(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    days: &[u32],
) -> Result<usize, StoreError> {
    if days.is_empty() {
        return Ok(0);
    }
    let now_db = to_db(now);
    super::write_transaction(conn, |conn| {
        let mut added = 0;
        for &d in days {
            let lead = chrono::Duration::days(i64::from(d));
            let kind = reminder_kind(d);
            type Candidate = (
                String,
                i64,
                String,
                Option<String>,
                String,
                String,
                String,
                Option<String>,
                NaiveDateTime,
                NaiveDateTime,
            );
            let candidates: Vec<Candidate> = mail_outbox::table
                .inner_join(
                    objection_windows::table
                        .on(mail_outbox::window_id.eq(objection_windows::id.nullable())),
                )
                .filter(mail_outbox::kind.eq(KIND_NOTICE))
                .filter(objection_windows::state.eq("open"))
                .filter(objection_windows::closed_at.is_null())
                .filter(objection_windows::closes_at.gt(now_db))
                .filter(objection_windows::closes_at.le(now_db + lead))
                .select((
                    mail_outbox::event_id,
                    mail_outbox::event_seq,
                    mail_outbox::processor_id,
                    mail_outbox::controller_id,
                    mail_outbox::recipient_name,
                    mail_outbox::recipient,
                    mail_outbox::language,
                    mail_outbox::window_id,
                    objection_windows::opened_at,
                    objection_windows::closes_at,
                ))
                .load(conn)?;
            let candidates: Vec<Candidate> = candidates
                .into_iter()
                .filter(|c| c.8 < c.9 - lead)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let ids: Vec<&str> = candidates.iter().map(|c| c.0.as_str()).collect();
            let mut existing = std::collections::HashSet::new();
            for chunk in ids.chunks(BATCH) {
                let found: Vec<(String, String)> = mail_outbox::table
                    .filter(mail_outbox::kind.eq(&kind))
                    .filter(mail_outbox::event_id.eq_any(chunk))
                    .select((mail_outbox::event_id, mail_outbox::recipient))
                    .load(conn)?;
                existing.extend(found);
            }
            let rows: Vec<_> = candidates
                .into_iter()
                .filter(|c| !existing.contains(&(c.0.clone(), c.5.clone())))
                .map(|c| {
                    (
                        mail_outbox::id.eq(uuid::Uuid::now_v7().to_string()),
                        mail_outbox::event_id.eq(c.0),
                        mail_outbox::event_seq.eq(c.1),
                        mail_outbox::processor_id.eq(c.2),
                        mail_outbox::controller_id.eq(c.3),
                        mail_outbox::kind.eq(kind.clone()),
                        mail_outbox::recipient_name.eq(c.4),
                        mail_outbox::recipient.eq(c.5),
                        mail_outbox::language.eq(c.6),
                        mail_outbox::state.eq("pending"),
                        mail_outbox::attempts.eq(0),
                        mail_outbox::next_attempt_at.eq(now_db),
                        mail_outbox::created_at.eq(now_db),
                        mail_outbox::updated_at.eq(now_db),
                        mail_outbox::window_id.eq(c.7),
                    )
                })
                .collect();
            for chunk in rows.chunks(BATCH) {
                crate::insert_rows!(conn, mail_outbox::table, chunk)?;
            }
            added += rows.len();
        }
        if added > 0 {
            DIRTY.with(|d| d.set(true));
        }
        Ok(added)
    })
}

/// A claimed message with what it takes to write and send it.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub id: String,
    pub event_id: String,
    pub processor_id: String,
    pub controller_id: Option<String>,
    pub recipient_name: String,
    pub recipient: String,
    pub language: Lang,
    pub attempts: i32,
    /// For the notice of a `window.opened` event: the window, whose notice this delivers.
    pub notice_of_window: Option<String>,
    /// For a notice whose dispatch starts its window: how the deadline it states is counted
    /// (from the moment it is written, `state_deadline`).
    pub starts_window: Option<super::notified::DispatchStart>,
    /// The event JSON as the API shows it (null for a subscription's confirmation).
    pub event: serde_json::Value,
    pub context: Context,
    /// A public subscriber's message (`store::subscriptions`): not a notice, so its sending
    /// writes no event; `recipient` is then the subscriber's address.
    pub subscription: Option<super::subscriptions::SubscriberMail>,
}

impl ClaimedMail {
    /// A notice that starts its window states the deadline it starts if sent at `at`: the
    /// mailer calls this as it writes the message, so the text and the deadline recorded when
    /// the server accepts it are counted from the same day (a claim can wait long before its
    /// send).
    pub fn state_deadline(&mut self, at: DateTime<Utc>) {
        let Some(start) = self.starts_window else {
            return;
        };
        let (closes_at, last_day) = start.deadline(at);
        if let Some(data) = self.event.get_mut("data").and_then(|d| d.as_object_mut()) {
            data.insert("closes_at".into(), serde_json::json!(closes_at));
            data.insert("closes_on_local_date".into(), serde_json::json!(last_day));
        }
    }
}

/// Claims up to `limit` due messages by leasing them until `lease_until` (real time), in one
/// short transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite.
pub fn claim(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    wall_now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimedMail>, StoreError> {
    let (now_db, wall_db) = (to_db(now), to_db(wall_now));
    super::write_transaction(conn, |conn| {
        let due = mail_outbox::table
            .filter(mail_outbox::state.eq("pending"))
            .filter(mail_outbox::next_attempt_at.le(now_db))
            .filter(
                mail_outbox::leased_until
                    .is_null()
                    .or(mail_outbox::leased_until.lt(wall_db)),
            )
            .order((mail_outbox::next_attempt_at, mail_outbox::event_seq))
            .select(mail_outbox::id)
            .limit(limit);
        let ids: Vec<String> = match conn {
            DbConnection::Postgresql(pg) => due.for_update().skip_locked().load(pg)?,
            DbConnection::Sqlite(sqlite) => due.load(sqlite)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)))
            .set(mail_outbox::leased_until.eq(to_db(lease_until)))
            .execute(conn)?;
        type Row = (
            String,
            String,
            i64,
            String,
            Option<String>,
            String,
            String,
            String,
            i32,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = mail_outbox::table
            .filter(mail_outbox::id.eq_any(&ids))
            .select((
                mail_outbox::id,
                mail_outbox::event_id,
                mail_outbox::event_seq,
                mail_outbox::processor_id,
                mail_outbox::controller_id,
                mail_outbox::recipient_name,
                mail_outbox::recipient,
                mail_outbox::language,
                mail_outbox::attempts,
                mail_outbox::kind,
                mail_outbox::window_id,
            ))
            .order((mail_outbox::next_attempt_at, mail_outbox::event_seq))
            .load(conn)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for (
            id,
            event_id,
            seq,
            processor_id,
            controller_id,
            name,
            recipient,
            language,
            attempts,
            kind,
            window_id,
        ) in rows
        {
            if kind.starts_with(super::subscriptions::KIND_PREFIX) {
                match super::subscriptions::claimed(conn, &kind, &recipient, &processor_id, seq)? {
                    Some((address, subscription)) => claimed.push(ClaimedMail {
                        id,
                        event_id,
                        processor_id,
                        controller_id: None,
                        recipient_name: String::new(),
                        recipient: address,
                        language: if language == "en" { Lang::En } else { Lang::Da },
                        attempts,
                        notice_of_window: None,
                        starts_window: None,
                        event: serde_json::Value::Null,
                        context: Context::default(),
                        subscription: Some(subscription),
                    }),
                    // Unsubscribed, expired or confirmed since: nothing to send.
                    None => {
                        diesel::update(mail_outbox::table.find(&id))
                            .set((
                                mail_outbox::state.eq("skipped"),
                                mail_outbox::leased_until.eq(None::<NaiveDateTime>),
                                mail_outbox::updated_at.eq(now_db),
                            ))
                            .execute(conn)?;
                    }
                }
                continue;
            }
            let reminder_days = kind
                .strip_prefix("reminder:")
                .and_then(|d| d.parse::<u32>().ok());
            if reminder_days.is_some() && !still_open(conn, window_id.as_deref())? {
                // Decided or closed since: the reminder has nothing left to remind of.
                diesel::update(mail_outbox::table.find(&id))
                    .set((
                        mail_outbox::state.eq("skipped"),
                        mail_outbox::leased_until.eq(None::<NaiveDateTime>),
                        mail_outbox::updated_at.eq(now_db),
                    ))
                    .execute(conn)?;
                continue;
            }
            let event = events_table::table
                .find(seq)
                .select(events::StoredEvent::as_select())
                .first(conn)?
                .to_json();
            let notice_of_window = window_id.filter(|_| kind == KIND_NOTICE);
            let starts_window = match &notice_of_window {
                Some(window_id) => super::notified::start_if_dispatched(conn, window_id)?,
                None => None,
            };
            let mut context = context(conn, &processor_id, controller_id.as_deref(), &event)?;
            context.reminder_days = reminder_days;
            claimed.push(ClaimedMail {
                id,
                event_id,
                processor_id,
                controller_id,
                recipient_name: name,
                recipient,
                language: if language == "en" { Lang::En } else { Lang::Da },
                attempts,
                notice_of_window,
                starts_window,
                event,
                context,
                subscription: None,
            });
        }
        Ok(claimed)
    })
}

/// Whether a window is still open and undecided.
fn still_open(conn: &mut DbConnection, window_id: Option<&str>) -> Result<bool, StoreError> {
    let Some(window_id) = window_id else {
        return Ok(false);
    };
    let open: i64 = objection_windows::table
        .filter(objection_windows::id.eq(window_id))
        .filter(objection_windows::state.eq("open"))
        .filter(objection_windows::closed_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(open > 0)
}

/// Names of the parties and, for window events, the terms the window opened under.
fn context(
    conn: &mut DbConnection,
    processor_id: &str,
    controller_id: Option<&str>,
    event: &serde_json::Value,
) -> Result<Context, StoreError> {
    let processor_name: String = processors::table
        .find(processor_id)
        .select(processors::name)
        .first(conn)?;
    let controller_name: Option<String> = match controller_id {
        Some(cid) => controllers::table
            .find(cid)
            .select(controllers::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    let data = &event["data"];
    let authorisation = match (
        data["agreement_id"].as_str(),
        data["agreement_version"]
            .as_i64()
            .and_then(|v| i32::try_from(v).ok()),
    ) {
        (Some(aid), Some(version)) => {
            super::agreement_versions::authorisations(conn, &[aid.to_string()])?
                .remove(&(aid.to_string(), version))
                .map(|(authorisation, _)| authorisation)
        }
        _ => None,
    };
    let awaiting_confirmation = match (event["type"].as_str(), data["id"].as_str()) {
        (Some("agreement.proposed" | "agreement.amended"), Some(aid)) => {
            super::agreement_versions::awaiting_controller(conn, aid)?
        }
        _ => None,
    };
    Ok(Context {
        processor_name,
        controller_name,
        authorisation,
        reminder_days: None,
        awaiting_confirmation,
    })
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum MailOutcome {
    /// The server accepted the message (2xx): its reply is the proof of dispatch.
    Accepted { code: u16, text: String },
    /// The server refused it for good (5xx), or the retries are used up.
    Refused { code: Option<u16>, text: String },
    /// A transient failure (4xx, no connection): try again at `retry_at`.
    Retry {
        error: String,
        retry_at: DateTime<Utc>,
    },
}

/// Writes back one attempt: the row's new state and, for an acceptance or a refusal, the
/// `notice.dispatched` / `notice.failed` event on the processor's log, in one transaction.
/// A row already settled (another instance sent it after a lapsed lease) is left alone.
pub fn record(
    conn: &mut DbConnection,
    mail: &ClaimedMail,
    message_id: &str,
    outcome: &MailOutcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now_db = to_db(now);
    super::write_transaction(conn, |conn| {
        if mail.subscription.is_none() {
            super::events::lock_chain(conn, &mail.processor_id)?;
        }
        let row = mail_outbox::table
            .find(&mail.id)
            .filter(mail_outbox::state.eq("pending"));
        let (state, next, error) = match outcome {
            MailOutcome::Accepted { .. } => ("sent", now_db, None),
            MailOutcome::Refused { text, .. } => ("failed", now_db, Some(text.clone())),
            MailOutcome::Retry { error, retry_at } => {
                ("pending", to_db(*retry_at), Some(error.clone()))
            }
        };
        let updated = diesel::update(row)
            .set((
                mail_outbox::state.eq(state),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                mail_outbox::next_attempt_at.eq(next),
                mail_outbox::leased_until.eq(None::<NaiveDateTime>),
                mail_outbox::last_error.eq(error),
                mail_outbox::updated_at.eq(now_db),
            ))
            .execute(conn)?;
        // A subscriber's message is not a notice: no evidence, and no address on the log.
        if updated == 0 || mail.subscription.is_some() {
            return Ok(());
        }
        let (event_type, data) = match outcome {
            MailOutcome::Accepted { code, text } => (
                EventType::NoticeDispatched,
                serde_json::json!({
                    "notice_event_id": mail.event_id,
                    "recipient": mail.recipient,
                    "channel": "email",
                    "message_id": message_id,
                    "smtp_reply": {"code": code, "text": text},
                    "accepted_at": now,
                }),
            ),
            MailOutcome::Refused { code, text } => (
                EventType::NoticeFailed,
                serde_json::json!({
                    "notice_event_id": mail.event_id,
                    "recipient": mail.recipient,
                    "channel": "email",
                    "message_id": message_id,
                    "smtp_reply": {"code": code, "text": text},
                    "failed_at": now,
                }),
            ),
            MailOutcome::Retry { .. } => return Ok(()),
        };
        events::append(
            conn,
            now,
            NewEvent {
                event_type,
                processor_id: mail.processor_id.clone(),
                controller_id: mail.controller_id.clone(),
                data,
            },
        )?;
        if let (MailOutcome::Accepted { .. }, Some(window_id)) = (outcome, &mail.notice_of_window) {
            super::notified::record_locked(conn, window_id, NoticeChannel::Email, now)?;
        }
        Ok(())
    })
}

/// Gives claimed messages back unsent (shutdown): due again at once.
pub fn release(conn: &mut DbConnection, ids: &[String]) -> Result<usize, StoreError> {
    let mut released = 0;
    for chunk in ids.chunks(BATCH) {
        released += diesel::update(
            mail_outbox::table
                .filter(mail_outbox::id.eq_any(chunk))
                .filter(mail_outbox::state.eq("pending")),
        )
        .set(mail_outbox::leased_until.eq(None::<NaiveDateTime>))
        .execute(conn)?;
    }
    Ok(released)
}

/// A row of the outbox as the processor sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MailRow {
    pub id: String,
    pub event_id: String,
    pub controller_id: Option<String>,
    pub recipient: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A processor's messages in one state, newest first (at most 500).
pub fn list_for_processor(
    conn: &mut DbConnection,
    processor_id: &str,
    state: &str,
) -> Result<Vec<MailRow>, StoreError> {
    type Row = (
        String,
        String,
        Option<String>,
        String,
        String,
        i32,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = mail_outbox::table
        .filter(mail_outbox::processor_id.eq(processor_id))
        .filter(mail_outbox::state.eq(state))
        // Subscribers' messages are theirs, not the processor's.
        .filter(mail_outbox::kind.not_like(format!("{}%", super::subscriptions::KIND_PREFIX)))
        .order(mail_outbox::updated_at.desc())
        .limit(500)
        .select((
            mail_outbox::id,
            mail_outbox::event_id,
            mail_outbox::controller_id,
            mail_outbox::recipient,
            mail_outbox::state,
            mail_outbox::attempts,
            mail_outbox::last_error,
            mail_outbox::updated_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, event_id, controller_id, recipient, state, attempts, last_error, at)| MailRow {
                id,
                event_id,
                controller_id,
                recipient,
                state,
                attempts,
                last_error,
                updated_at: from_db(at),
            },
        )
        .collect())
}
