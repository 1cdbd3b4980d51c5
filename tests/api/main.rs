//! Integration tests: the real app over HTTP, on SQLite and (when configured) PostgreSQL.
// A failed expectation in a test is a test failure, which is what a panic reports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::panic
)]

mod agreement_lifecycle;
mod annex_at_signing;
mod annex_print;
mod auth;
mod browser;
mod calendar;
mod change_page;
mod cli;
mod compression;
mod consent;
mod cors;
mod crash;
mod danish;
mod decide;
mod evidence_log;
mod feeds;
mod hardening;
mod helpers;
mod idempotency;
mod jwks;
mod lifecycle;
mod mail;
mod metrics;
mod modifications;
mod notice_journey;
mod notice_starts;
mod notify_e2e;
mod openapi;
mod page;
mod public_page;
mod public_reads;
mod query_plans;
mod registry;
mod request_ids;
mod resolutions;
mod smtp;
mod subscriptions;
mod tokens;
mod transfers;
mod validation;
mod visibility;
mod webhook_crash;
mod webhooks;
