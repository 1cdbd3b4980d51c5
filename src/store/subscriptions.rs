//! Public e-mail subscriptions: the `subscriptions` rows and the mail they cause.
//!
//! Mail to subscribers goes through the mail outbox (`store::mail`: its lease, retry and
//! crash safety) as rows of three kinds: `subscription.confirm` (the double opt-in message;
//! no event, so `event_id` holds the row's own id and `event_seq` 0), `subscription.event` (a
//! public event, written in the event's transaction) and `subscription.digest` (a day's
//! events, written by the sweeper once the day is over; `event_id` names the day's last
//! event). Such a row's `recipient` is the subscription's id, never the address: the address
//! lives only in `subscriptions`, and leaves with its row (unsubscribe, expiry). Their
//! sending writes no event (`store::mail::record`): a subscriber's mail is not a notice.

use super::schema::{events as events_table, mail_outbox, processors, subscriptions};
use super::webhooks::OutboxEvent;
use super::{from_db, to_db, DbConnection, StoreError};
use crate::domain::deadline::{start_of_day, DEFAULT_TIME_ZONE};
use crate::domain::language::Lang;
use crate::domain::subscription::{
    self as rules, email_key, Frequency, CONFIRM_TTL, PUBLIC_EVENTS, RESEND_AFTER,
};
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;

pub const KIND_CONFIRM: &str = "subscription.confirm";
pub const KIND_EVENT: &str = "subscription.event";
pub const KIND_DIGEST: &str = "subscription.digest";
/// Every kind of a subscriber's row starts so.
pub const KIND_PREFIX: &str = "subscription.";
const BATCH: usize = 500;

/// 00:00 of `day` in Copenhagen, where digests' days begin and end.
fn day_start(day: NaiveDate) -> Result<DateTime<Utc>, StoreError> {
    start_of_day(day, DEFAULT_TIME_ZONE)
        .ok_or_else(|| StoreError::Corrupt(format!("no start of day {day}")))
}

/// The day (Copenhagen time) an instant falls on.
fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&DEFAULT_TIME_ZONE).date_naive()
}

#[allow(clippy::too_many_arguments)]
fn outbox_row(
    conn: &mut DbConnection,
    event_id: Option<(&str, i64)>,
    processor_id: &str,
    subscription_id: &str,
    language: &str,
    kind: &str,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let (event_id, seq) = match event_id {
        Some((event_id, seq)) => (event_id.to_string(), seq),
        None => (id.clone(), 0),
    };
    let row = (
        mail_outbox::id.eq(id),
        mail_outbox::event_id.eq(event_id),
        mail_outbox::event_seq.eq(seq),
        mail_outbox::processor_id.eq(processor_id.to_string()),
        mail_outbox::controller_id.eq(None::<String>),
        mail_outbox::kind.eq(kind.to_string()),
        mail_outbox::recipient_name.eq(String::new()),
        mail_outbox::recipient.eq(subscription_id.to_string()),
        mail_outbox::language.eq(language.to_string()),
        mail_outbox::state.eq("pending"),
        mail_outbox::attempts.eq(0),
        mail_outbox::next_attempt_at.eq(now),
        mail_outbox::created_at.eq(now),
        mail_outbox::updated_at.eq(now),
        mail_outbox::window_id.eq(None::<String>),
    );
    crate::insert_rows!(conn, mail_outbox::table, &row)?;
    super::mail::mark_written();
    Ok(())
}

/// Asks for a subscription of `email` to `processor_id`'s public changes. The answer is the
/// same whether or not the address is known: a new address gets a pending row and a
/// confirmation message; a pending one gets a new confirmation only when the last was asked
/// for more than `RESEND_AFTER` ago (and its language and frequency are updated then); a
/// confirmed one gets nothing. `NotFound` when the processor does not exist.
pub fn subscribe(
    conn: &mut DbConnection,
    processor_id: &str,
    email: &str,
    language: Lang,
    frequency: Frequency,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now_db = to_db(now);
    let key = email_key(email);
    super::write_transaction(conn, |conn| {
        let exists: i64 = processors::table
            .filter(processors::id.eq(processor_id))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StoreError::not_found("processor", processor_id));
        }
        let found: Option<(String, Option<NaiveDateTime>, NaiveDateTime)> = subscriptions::table
            .filter(subscriptions::processor_id.eq(processor_id))
            .filter(subscriptions::email_key.eq(&key))
            .select((
                subscriptions::id,
                subscriptions::confirmed_at,
                subscriptions::confirm_sent_at,
            ))
            .first(conn)
            .optional()?;
        let expires = to_db(now + CONFIRM_TTL);
        let id = match found {
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                let row = (
                    subscriptions::id.eq(&id),
                    subscriptions::processor_id.eq(processor_id),
                    subscriptions::email.eq(email),
                    subscriptions::email_key.eq(&key),
                    subscriptions::language.eq(language.code()),
                    subscriptions::frequency.eq(frequency.as_str()),
                    subscriptions::created_at.eq(now_db),
                    subscriptions::confirm_sent_at.eq(now_db),
                    subscriptions::expires_at.eq(Some(expires)),
                );
                // A concurrent request for the same address wins; this one changes nothing.
                let inserted = match conn {
                    DbConnection::Postgresql(pg) => diesel::insert_into(subscriptions::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .execute(pg)?,
                    DbConnection::Sqlite(sqlite) => diesel::insert_into(subscriptions::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .execute(sqlite)?,
                };
                if inserted == 0 {
                    return Ok(());
                }
                id
            }
            Some((_, Some(_), _)) => return Ok(()),
            Some((id, None, sent)) => {
                if from_db(sent) + RESEND_AFTER > now {
                    return Ok(());
                }
                diesel::update(subscriptions::table.find(&id))
                    .set((
                        subscriptions::language.eq(language.code()),
                        subscriptions::frequency.eq(frequency.as_str()),
                        subscriptions::confirm_sent_at.eq(now_db),
                        subscriptions::expires_at.eq(Some(expires)),
                    ))
                    .execute(conn)?;
                id
            }
        };
        outbox_row(
            conn,
            None,
            processor_id,
            &id,
            language.code(),
            KIND_CONFIRM,
            now_db,
        )
    })
}

/// What a confirmation link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Confirmed now.
    Now { processor_id: String },
    /// Confirmed before (the link was used).
    Already { processor_id: String },
    /// No such subscription: it expired and was deleted, or was unsubscribed.
    Gone,
}

/// Confirms subscription `id`: from now on it is written to. A daily subscription's first
/// digest covers the whole day of the confirmation.
pub fn confirm(
    conn: &mut DbConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Confirmed, StoreError> {
    let digest_from = to_db(day_start(local_day(now))?);
    super::write_transaction(conn, |conn| {
        let found: Option<(String, Option<NaiveDateTime>, Option<NaiveDateTime>)> =
            subscriptions::table
                .find(id)
                .select((
                    subscriptions::processor_id,
                    subscriptions::confirmed_at,
                    subscriptions::expires_at,
                ))
                .first(conn)
                .optional()?;
        match found {
            None => Ok(Confirmed::Gone),
            Some((processor_id, Some(_), _)) => Ok(Confirmed::Already { processor_id }),
            // Lapsed, and not swept yet.
            Some((_, None, Some(expires))) if from_db(expires) <= now => Ok(Confirmed::Gone),
            Some((processor_id, None, _)) => {
                diesel::update(subscriptions::table.find(id))
                    .set((
                        subscriptions::confirmed_at.eq(Some(to_db(now))),
                        subscriptions::expires_at.eq(None::<NaiveDateTime>),
                        subscriptions::digest_through.eq(Some(digest_from)),
                    ))
                    .execute(conn)?;
                Ok(Confirmed::Now { processor_id })
            }
        }
    })
}

/// A subscription as its own pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub processor_id: String,
    pub processor_name: String,
    pub email: String,
    pub confirmed: bool,
}

/// Subscription `id`, if it exists.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Found>, StoreError> {
    let found: Option<(String, String, String, Option<NaiveDateTime>)> = subscriptions::table
        .inner_join(processors::table.on(processors::id.eq(subscriptions::processor_id)))
        .filter(subscriptions::id.eq(id))
        .select((
            subscriptions::processor_id,
            processors::name,
            subscriptions::email,
            subscriptions::confirmed_at,
        ))
        .first(conn)
        .optional()?;
    Ok(
        found.map(|(processor_id, processor_name, email, confirmed)| Found {
            processor_id,
            processor_name,
            email,
            confirmed: confirmed.is_some(),
        }),
    )
}

/// Deletes subscription `id` (the address goes with it) and its outbox rows, sent or not (a
/// refusal's SMTP reply may quote the address); `None` when there was none (unsubscribed
/// before).
pub fn unsubscribe(conn: &mut DbConnection, id: &str) -> Result<Option<String>, StoreError> {
    super::write_transaction(conn, |conn| {
        let processor_id: Option<String> = subscriptions::table
            .find(id)
            .select(subscriptions::processor_id)
            .first(conn)
            .optional()?;
        if processor_id.is_none() {
            return Ok(None);
        }
        drop_messages(conn, &[id.to_string()])?;
        diesel::delete(subscriptions::table.find(id)).execute(conn)?;
        Ok(processor_id)
    })
}

/// Deletes every outbox row of these subscriptions: none is evidence of anything, the unsent
/// ones have no one to go to, and a failed one's `last_error` may hold the address. A row a
/// mailer is sending right now is then simply not recorded (`store::mail::record`).
fn drop_messages(conn: &mut DbConnection, ids: &[String]) -> Result<usize, StoreError> {
    let mut dropped = 0;
    for chunk in ids.chunks(BATCH) {
        dropped += diesel::delete(
            mail_outbox::table
                .filter(mail_outbox::kind.like(format!("{KIND_PREFIX}%")))
                .filter(mail_outbox::recipient.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(dropped)
}

/// The number of subscriptions (pending and confirmed) of a processor.
pub fn count(conn: &mut DbConnection, processor_id: &str) -> Result<i64, StoreError> {
    Ok(subscriptions::table
        .filter(subscriptions::processor_id.eq(processor_id))
        .count()
        .get_result(conn)?)
}

/// Writes a message per confirmed immediate subscription for each public change in the batch,
/// in the caller's (the events') transaction.
pub(crate) fn enqueue_events(
    conn: &mut DbConnection,
    processor_id: &str,
    batch: &[OutboxEvent<'_>],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let public: Vec<&str> = batch
        .iter()
        .filter(|e| rules::is_public_change(e.event_type.as_str(), e.visibility.as_str()))
        .map(|e| e.id)
        .collect();
    if public.is_empty() {
        return Ok(0);
    }
    let subscribers: Vec<(String, String)> = subscriptions::table
        .filter(subscriptions::processor_id.eq(processor_id))
        .filter(subscriptions::confirmed_at.is_not_null())
        .filter(subscriptions::frequency.eq(Frequency::Immediate.as_str()))
        .select((subscriptions::id, subscriptions::language))
        .load(conn)?;
    if subscribers.is_empty() {
        return Ok(0);
    }
    let mut seqs = Vec::with_capacity(public.len());
    for chunk in public.chunks(BATCH) {
        let found: Vec<(String, i64)> = events_table::table
            .filter(events_table::id.eq_any(chunk))
            .select((events_table::id, events_table::seq))
            .order(events_table::seq)
            .load(conn)?;
        seqs.extend(found);
    }
    let now_db = to_db(now);
    let mut rows = Vec::with_capacity(seqs.len() * subscribers.len());
    for (event_id, seq) in &seqs {
        for (sid, language) in &subscribers {
            rows.push((
                mail_outbox::id.eq(uuid::Uuid::now_v7().to_string()),
                mail_outbox::event_id.eq(event_id.clone()),
                mail_outbox::event_seq.eq(*seq),
                mail_outbox::processor_id.eq(processor_id.to_string()),
                mail_outbox::controller_id.eq(None::<String>),
                mail_outbox::kind.eq(KIND_EVENT),
                mail_outbox::recipient_name.eq(String::new()),
                mail_outbox::recipient.eq(sid.clone()),
                mail_outbox::language.eq(language.clone()),
                mail_outbox::state.eq("pending"),
                mail_outbox::attempts.eq(0),
                mail_outbox::next_attempt_at.eq(now_db),
                mail_outbox::created_at.eq(now_db),
                mail_outbox::updated_at.eq(now_db),
                mail_outbox::window_id.eq(None::<String>),
            ));
        }
    }
    for chunk in rows.chunks(BATCH) {
        crate::insert_rows!(conn, mail_outbox::table, chunk)?;
    }
    if !rows.is_empty() {
        super::mail::mark_written();
    }
    Ok(rows.len())
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionSweep {
    pub expired: usize,
    pub digests: usize,
}

/// Deletes unconfirmed subscriptions whose link has lapsed (with their outbox rows), and
/// writes the digests of the days that are over (Copenhagen time): for every confirmed daily
/// subscription, one message per day since its last digest that had public changes, none for
/// a quiet day. Each subscription's days are claimed by a conditional update, so two sweepers
/// never write the same digest.
pub fn sweep(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<SubscriptionSweep, StoreError> {
    let now_db = to_db(now);
    let expired = super::write_transaction(conn, |conn| {
        let lapsed: Vec<String> = subscriptions::table
            .filter(subscriptions::confirmed_at.is_null())
            .filter(subscriptions::expires_at.le(now_db))
            .select(subscriptions::id)
            .limit(1000)
            .load(conn)?;
        if lapsed.is_empty() {
            return Ok(0);
        }
        drop_messages(conn, &lapsed)?;
        let mut deleted = 0;
        for chunk in lapsed.chunks(BATCH) {
            deleted += diesel::delete(
                subscriptions::table
                    .filter(subscriptions::id.eq_any(chunk))
                    .filter(subscriptions::confirmed_at.is_null()),
            )
            .execute(conn)?;
        }
        Ok::<_, StoreError>(deleted)
    })?;
    let today = to_db(day_start(local_day(now))?);
    let due: Vec<(String, String, String, Option<NaiveDateTime>)> = subscriptions::table
        .filter(subscriptions::frequency.eq(Frequency::Daily.as_str()))
        .filter(subscriptions::confirmed_at.is_not_null())
        .filter(subscriptions::digest_through.lt(today))
        .select((
            subscriptions::id,
            subscriptions::processor_id,
            subscriptions::language,
            subscriptions::digest_through,
        ))
        .limit(1000)
        .load(conn)?;
    let mut digests = 0;
    for (sid, processor_id, language, through) in due {
        let Some(through) = through else { continue };
        digests += super::write_transaction(conn, |conn| {
            let claimed = diesel::update(
                subscriptions::table
                    .find(&sid)
                    .filter(subscriptions::digest_through.eq(through)),
            )
            .set(subscriptions::digest_through.eq(Some(today)))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(0);
            }
            let events: Vec<(i64, String, NaiveDateTime)> = events_table::table
                .filter(events_table::processor_id.eq(&processor_id))
                .filter(events_table::visibility.eq("public"))
                .filter(events_table::event_type.eq_any(PUBLIC_EVENTS))
                .filter(events_table::occurred_at.ge(through))
                .filter(events_table::occurred_at.lt(today))
                .order(events_table::seq)
                .select((
                    events_table::seq,
                    events_table::id,
                    events_table::occurred_at,
                ))
                .load(conn)?;
            // The last event of each day names that day's digest.
            let mut last_of_day: Vec<(NaiveDate, i64, String)> = Vec::new();
            for (seq, id, at) in events {
                let day = local_day(from_db(at));
                match last_of_day.last_mut() {
                    Some(last) if last.0 == day => *last = (day, seq, id),
                    _ => last_of_day.push((day, seq, id)),
                }
            }
            for (_, seq, id) in &last_of_day {
                outbox_row(
                    conn,
                    Some((id, *seq)),
                    &processor_id,
                    &sid,
                    &language,
                    KIND_DIGEST,
                    now_db,
                )?;
            }
            Ok::<_, StoreError>(last_of_day.len())
        })?;
    }
    Ok(SubscriptionSweep { expired, digests })
}

/// What a subscriber's message is.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriberKind {
    /// The double opt-in message, with the link's expiry.
    Confirm {
        expires_at: DateTime<Utc>,
        frequency: Frequency,
    },
    /// One public event.
    Event,
    /// The public events of one day (Copenhagen time).
    Digest { day: NaiveDate },
}

/// A claimed subscriber message with what it takes to write it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriberMail {
    pub subscription_id: String,
    pub kind: SubscriberKind,
    pub processor_name: String,
    /// The events it tells of, oldest first (none for a confirmation).
    pub events: Vec<serde_json::Value>,
}

/// For `store::mail::claim`: the address and content of a subscriber's row, or `None` when
/// there is nothing to send any more (unsubscribed, expired, or confirmed before the
/// confirmation went out).
pub(crate) fn claimed(
    conn: &mut DbConnection,
    kind: &str,
    subscription_id: &str,
    processor_id: &str,
    event_seq: i64,
) -> Result<Option<(String, SubscriberMail)>, StoreError> {
    type Row = (String, String, Option<NaiveDateTime>, Option<NaiveDateTime>);
    let found: Option<Row> = subscriptions::table
        .find(subscription_id)
        .select((
            subscriptions::email,
            subscriptions::frequency,
            subscriptions::confirmed_at,
            subscriptions::expires_at,
        ))
        .first(conn)
        .optional()?;
    let Some((email, frequency, confirmed_at, expires_at)) = found else {
        return Ok(None);
    };
    let processor_name: String = processors::table
        .find(processor_id)
        .select(processors::name)
        .first(conn)?;
    let load = |conn: &mut DbConnection, seq: i64| -> Result<serde_json::Value, StoreError> {
        Ok(events_table::table
            .find(seq)
            .select(super::events::StoredEvent::as_select())
            .first(conn)?
            .to_json())
    };
    let (kind, events) = match (kind, confirmed_at, expires_at) {
        (KIND_CONFIRM, None, Some(expires)) => (
            SubscriberKind::Confirm {
                expires_at: from_db(expires),
                frequency: Frequency::parse(&frequency).unwrap_or_default(),
            },
            Vec::new(),
        ),
        (KIND_EVENT, Some(_), _) => (SubscriberKind::Event, vec![load(conn, event_seq)?]),
        (KIND_DIGEST, Some(_), _) => {
            let last: NaiveDateTime = events_table::table
                .find(event_seq)
                .select(events_table::occurred_at)
                .first(conn)?;
            let day = local_day(from_db(last));
            let from = to_db(day_start(day)?);
            let until = to_db(day_start(
                day.checked_add_days(Days::new(1)).unwrap_or(day),
            )?);
            let stored: Vec<super::events::StoredEvent> = events_table::table
                .filter(events_table::processor_id.eq(processor_id))
                .filter(events_table::visibility.eq("public"))
                .filter(events_table::event_type.eq_any(PUBLIC_EVENTS))
                .filter(events_table::occurred_at.ge(from))
                .filter(events_table::occurred_at.lt(until))
                .filter(events_table::seq.le(event_seq))
                .order(events_table::seq)
                .select(super::events::StoredEvent::as_select())
                .load(conn)?;
            (
                SubscriberKind::Digest { day },
                stored
                    .iter()
                    .map(super::events::StoredEvent::to_json)
                    .collect(),
            )
        }
        _ => return Ok(None),
    };
    Ok(Some((
        email,
        SubscriberMail {
            subscription_id: subscription_id.to_string(),
            kind,
            processor_name,
            events,
        },
    )))
}
