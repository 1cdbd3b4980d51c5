//! Persistence: diesel on SQLite or PostgreSQL through one connection type. Every function
//! takes a `&mut DbConnection`; functions that write more than one row run in one transaction,
//! and every write that the evidence log must show appends its event in that same transaction.

pub mod activation;
pub mod agreement_annex;
pub mod agreement_versions;
pub mod agreements;
pub mod authorised;
pub mod clock;
pub mod contacts;
pub mod db;
pub mod decide;
pub mod error;
pub mod events;
pub mod feeds;
pub mod idempotency;
pub mod lifecycle;
pub mod log;
pub mod mail;
pub mod metrics;
pub mod notified;
pub mod organisations;
pub mod page;
pub mod pages;
mod replay;
pub mod resolutions;
pub mod revocations;
pub mod schema;
pub(crate) mod signal;
pub mod subprocessors;
pub mod subscriptions;
pub mod webhooks;

pub use db::{connect, write_transaction, DbConnection, Pool};
pub use error::StoreError;
pub use page::{Page, PageRequest};

use chrono::{DateTime, NaiveDateTime, Utc};

/// Timestamps are stored as UTC without a zone, the one type both backends share.
pub fn to_naive(time: DateTime<Utc>) -> NaiveDateTime {
    to_db(time)
}

pub(crate) fn to_db(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc()
}

pub(crate) fn from_db(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}
