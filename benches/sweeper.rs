//! How long the sweeper takes to close 100,000 expired windows, and how much memory announcing
//! the change that opened them took, on SQLite and (when SUBREG_TEST_POSTGRES_URL is set)
//! PostgreSQL. Run: `cargo bench --bench sweeper`.
//! Prints figures; it asserts nothing, so a noisy machine cannot make it flaky.

#[path = "support/proc.rs"]
mod proc;

use diesel::prelude::*;
use diesel::Connection;
use proc::{cpu_of, load_average, own_cpu_ms};
use std::time::Instant;
use subreg::clock::Clock;
use subreg::domain::change::{ChangeKind, ChangeSpec};
use subreg::domain::event::EventType;
use subreg::domain::party::ProcessorSpec;
use subreg::domain::subprocessor::{self, SubprocessorInput};
use subreg::store::schema::{agreement_versions, agreements, controllers};
use subreg::store::{self, lifecycle, organisations, DbConnection};

fn windows() -> usize {
    std::env::var("SUBREG_BENCH_WINDOWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

fn setup(conn: &mut DbConnection, count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let now = Clock::System.now();
    let processor = ProcessorSpec {
        id: "bench-processor".into(),
        name: "Bench ApS".into(),
        registration: None,
        address: "Benchvej 1".into(),
        country: "DK".into(),
        contact_email: None,
    };
    organisations::create_processor(conn, &processor, now)?;
    let signed = store::to_naive(now);
    for chunk_start in (0..count).step_by(500) {
        let ids: Vec<String> = (chunk_start..(chunk_start + 500).min(count))
            .map(|i| format!("c{i:06}"))
            .collect();
        let controller_rows: Vec<_> = ids
            .iter()
            .map(|id| {
                (
                    controllers::id.eq(id.clone()),
                    controllers::name.eq(id.clone()),
                    controllers::created_at.eq(signed),
                )
            })
            .collect();
        subreg::insert_rows!(conn, controllers::table, &controller_rows)?;
        let agreement_rows: Vec<_> = ids
            .iter()
            .map(|id| {
                (
                    agreements::id.eq(format!("a-{id}")),
                    agreements::controller_id.eq(id.clone()),
                    agreements::processor_id.eq("bench-processor"),
                    agreements::authorisation.eq("general"),
                    agreements::notice_days.eq(7),
                    agreements::objection_requires_reason.eq(false),
                    agreements::third_country_transfers.eq("allowed_with_basis"),
                    agreements::signed_at.eq(signed),
                    agreements::created_at.eq(signed),
                    agreements::in_force_from.eq(Some(signed)),
                )
            })
            .collect();
        subreg::insert_rows!(conn, agreements::table, &agreement_rows)?;
        let version_rows: Vec<_> = ids
            .iter()
            .map(|id| {
                (
                    (
                        agreement_versions::agreement_id.eq(format!("a-{id}")),
                        agreement_versions::version.eq(1),
                        agreement_versions::authorisation.eq("general"),
                        agreement_versions::notice_days.eq(7),
                        agreement_versions::objection_requires_reason.eq(false),
                        agreement_versions::third_country_transfers.eq("allowed_with_basis"),
                        agreement_versions::time_zone.eq("Europe/Copenhagen"),
                    ),
                    (
                        agreement_versions::annex_name.eq("Bilag B"),
                        agreement_versions::state.eq("confirmed"),
                        agreement_versions::proposed_by_party.eq("admin"),
                        agreement_versions::proposed_at.eq(signed),
                    ),
                )
            })
            .collect();
        subreg::insert_rows!(conn, agreement_versions::table, &version_rows)?;
        // Each agreement on the log as the API would have written it, so the replay in
        // `verify` finds the rows it vouches for.
        let after = chunk_start
            .checked_sub(1)
            .map(|last| format!("a-c{last:06}"));
        let on_file = store::agreements::for_processor_page(
            conn,
            "bench-processor",
            after.as_deref(),
            ids.len() as i64,
        )?;
        let events = on_file
            .iter()
            .map(|agreement| {
                Ok(store::events::NewEvent {
                    event_type: EventType::AgreementConfirmed,
                    processor_id: agreement.processor_id.clone(),
                    controller_id: Some(agreement.controller_id.clone()),
                    data: serde_json::to_value(agreement)?,
                })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        store::write_transaction(conn, |conn| {
            store::events::append_batch(conn, now, "bench-processor", events)
        })?;
    }
    let entry: SubprocessorInput = serde_json::from_value(serde_json::json!({
        "name": "Qbox ApS", "address": "Nørregade 10, København", "country": "DK",
        "processing_locations": ["DK"], "purpose": "Logging"
    }))?;
    let change = ChangeSpec {
        modifies: None,
        kind: ChangeKind::Addition,
        subprocessor: Some(subprocessor::validate(&entry)?),
        replaces: None,
        summary: "Qbox".into(),
        summary_en: None,
        planned_from: None,
        announce: true,
    };
    let peak_reset = reset_peak_rss();
    let before = memory();
    let started = Instant::now();
    let announced = lifecycle::create_change(
        conn,
        "bench-processor",
        &change,
        now,
        chrono::Duration::days(1),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let windows = announced.windows.as_ref().map_or(0, Vec::len);
    let total = announced.windows_total.unwrap_or(0);
    let peak = memory();
    drop(announced);
    let after = memory();
    println!(
        "  announce to {count} agreements ({total} windows + window.opened events, the first \
         {windows} answered): {seconds:.2} s; load average {}",
        load_average()
    );
    println!(
        "  RSS before {} MB; peak {} MB ({}); holding the answer {} MB (anonymous {} MB, \
         file {} MB); after {} MB (anonymous {} MB, file {} MB)",
        before.rss_kb / 1024,
        peak.hwm_kb / 1024,
        if peak_reset {
            "since announcing began"
        } else {
            "of the whole process: /proc/self/clear_refs was refused"
        },
        peak.rss_kb / 1024,
        peak.anon_kb / 1024,
        peak.file_kb / 1024,
        after.rss_kb / 1024,
        after.anon_kb / 1024,
        after.file_kb / 1024,
    );
    Ok(())
}

/// Resident set figures from /proc/self/status, in kB (0 where the kernel gives none).
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
    anon_kb: u64,
    file_kb: u64,
}

fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
        anon_kb: field("RssAnon:"),
        file_kb: field("RssFile:"),
    }
}

/// Resets VmHWM to the current RSS ("5" to clear_refs), so the peak is the announcement's.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn run(label: &str, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let count = windows();
    println!("{label}: {count} expired windows");
    let pool = store::connect(url, 2)?;
    let mut conn = pool.get()?;
    setup(&mut conn, count)?;
    let after_deadline = Clock::System.now() + chrono::Duration::days(8);
    let (skey, _) = store::log::generate_key("bench")?;
    let signer = std::sync::Arc::new(store::log::LogSigner::new(&skey, "bench", vec![])?);
    let (own, server) = (own_cpu_ms(), cpu_of("postgres").unwrap_or(0.0));
    let started = Instant::now();
    let closed = store::log::with_signer(&signer, || {
        lifecycle::close_due_windows(&mut conn, after_deadline, lifecycle::DEFAULT_SWEEP_BATCH)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let (own, server) = (
        own_cpu_ms() - own,
        cpu_of("postgres").unwrap_or(0.0) - server,
    );
    println!(
        "  sweeper closed {closed} windows in {seconds:.2} s ({:.0} windows/s), CPU {:.2} s \
         here{}; load average {}",
        closed as f64 / seconds,
        own / 1000.0,
        if url.starts_with("postgres") {
            format!(" + {:.2} s PostgreSQL", server / 1000.0)
        } else {
            String::new()
        },
        load_average()
    );
    let verified = store::log::verify(
        &mut conn,
        &signer,
        "bench-processor",
        &store::events::Reader::Everything,
        after_deadline,
    )?;
    println!(
        "  evidence log of {} events valid: {}{}",
        verified.events,
        verified.valid,
        verified
            .problem
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    );
    Ok(())
}

fn sqlite() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    run(
        "SQLite",
        &format!("sqlite://{}", dir.path().join("bench.db").display()),
    )
}

fn postgres() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(admin_url) = std::env::var("SUBREG_TEST_POSTGRES_URL") else {
        println!("PostgreSQL: skipped (set SUBREG_TEST_POSTGRES_URL)");
        return Ok(());
    };
    let name = format!("subreg_bench_{}", std::process::id());
    let mut admin = diesel::PgConnection::establish(&admin_url)?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    let result = run("PostgreSQL", &format!("{base}/{name}"));
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)?;
    result
}

/// Each database runs in a process of its own, so that what one run left in the allocator
/// does not count in the other's memory figures.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("SUBREG_BENCH_DATABASE").as_deref() {
        Ok("sqlite") => return sqlite(),
        Ok("postgres") => return postgres(),
        _ => {}
    }
    for database in ["sqlite", "postgres"] {
        let status = std::process::Command::new(std::env::current_exe()?)
            .env("SUBREG_BENCH_DATABASE", database)
            .status()?;
        if !status.success() {
            return Err(format!("the {database} run failed: {status}").into());
        }
    }
    Ok(())
}
