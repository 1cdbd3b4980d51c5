//! The sweeper as a real `subreg serve` process: killed mid-sweep, and two at once.

use crate::helpers::*;
use chrono::Duration;
use diesel::prelude::*;
use std::process::Child;
use subreg::clock::Clock;
use subreg::domain::agreement::{
    AgreementSpec, AgreementTerms, Authorisation, ThirdCountryTransfers,
};
use subreg::domain::change::{ChangeKind, ChangeSpec};
use subreg::domain::party::{ControllerSpec, ProcessorSpec};
use subreg::domain::subprocessor;
use subreg::store::{self, agreements, lifecycle, organisations, DbConnection};

const WINDOWS: usize = 1_000;

/// A processor with `WINDOWS` agreements and one announced addition, and the test clock
/// moved past the 7-day deadline: every window is due.
fn thousand_due_windows(conn: &mut DbConnection) {
    let now = Clock::System.now();
    let processor = ProcessorSpec {
        id: "eg-netblanket".into(),
        name: "EG Digital Welfare ApS".into(),
        registration: None,
        address: "Østerbro 5B, 5000 Odense C".into(),
        country: "DK".into(),
        contact_email: None,
    };
    organisations::create_processor(conn, &processor, now).unwrap();
    for i in 0..WINDOWS {
        let id = format!("controller-{i:04}");
        let spec = ControllerSpec {
            id: id.clone(),
            name: id.clone(),
            registration: None,
            contact_email: None,
        };
        organisations::create_controller(conn, &spec, now).unwrap();
        let terms = AgreementTerms {
            authorisation: if i % 2 == 0 {
                Authorisation::General
            } else {
                Authorisation::Specific
            },
            notice_days: 7,
            objection_requires_reason: false,
            third_country_transfers: ThirdCountryTransfers::AllowedWithBasis,
            time_zone: subreg::domain::deadline::DEFAULT_TIME_ZONE,
            notice_starts: Default::default(),
        };
        let agreement = AgreementSpec {
            controller_id: id,
            processor_id: "eg-netblanket".into(),
            terms,
            signed_at: now,
            reference: None,
            authorised_at_signing: None,
            allowed_locations: None,
            annex_name: "Bilag B".into(),
        };
        agreements::create(
            conn,
            &agreement,
            agreements::Recorded::Active { by: None },
            now,
        )
        .unwrap();
    }
    let entry: subprocessor::SubprocessorInput =
        serde_json::from_value(eea_entry("Qbox ApS")).unwrap();
    let change = ChangeSpec {
        kind: ChangeKind::Addition,
        subprocessor: Some(subprocessor::validate(&entry).unwrap()),
        replaces: None,
        modifies: None,
        summary: "Qbox".into(),
        summary_en: None,
        planned_from: None,
        announce: true,
    };
    lifecycle::create_change(conn, "eg-netblanket", &change, now, Duration::days(1)).unwrap();
    store::clock::advance_offset(conn, Duration::days(8).num_milliseconds()).unwrap();
}

fn serve(database_url: &str) -> Child {
    serve_process(
        database_url,
        // Small batches: a kill can land between transactions as well as inside one.
        &[("SUBREG_TEST_CLOCK", "1"), ("SUBREG_SWEEP_BATCH", "50")],
    )
}

fn live_windows(conn: &mut DbConnection) -> i64 {
    use subreg::store::schema::objection_windows::dsl::*;
    objection_windows
        .filter(closed_at.is_null())
        .count()
        .get_result(conn)
        .unwrap()
}

/// Waits until no window is live, or panics after a minute.
fn wait_until_all_closed(conn: &mut DbConnection) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while live_windows(conn) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "windows still open after a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Every window closed, in the state its terms give, with exactly one `window.closed` event.
fn assert_closed_exactly_once(conn: &mut DbConnection) {
    use subreg::store::schema::{events, objection_windows};
    let states: Vec<String> = objection_windows::table
        .select(objection_windows::state)
        .load(conn)
        .unwrap();
    assert_eq!(states.len(), WINDOWS);
    assert_eq!(
        states.iter().filter(|s| *s == "tacit_consent").count(),
        WINDOWS / 2
    );
    assert_eq!(
        states.iter().filter(|s| *s == "not_approved").count(),
        WINDOWS / 2
    );
    let payloads: Vec<String> = events::table
        .filter(events::event_type.eq("window.closed"))
        .select(events::payload)
        .load(conn)
        .unwrap();
    let mut closed_ids: Vec<String> = payloads
        .iter()
        .map(|p| {
            serde_json::from_str::<serde_json::Value>(p).unwrap()["data"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        closed_ids.len(),
        WINDOWS,
        "one window.closed event per window"
    );
    closed_ids.sort();
    closed_ids.dedup();
    assert_eq!(closed_ids.len(), WINDOWS, "no window closed twice");
    let verification = store::log::verify(
        conn,
        &log_signer(),
        "eg-netblanket",
        &store::events::Reader::Everything,
        chrono::Utc::now(),
    )
    .unwrap();
    assert!(verification.valid, "{verification:?}");
}

fn killed_mid_sweep(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let pool = store::connect(&url, 2).unwrap();
    let mut conn = pool.get().unwrap();
    thousand_due_windows(&mut conn);
    // Kill at growing delays until a run has closed everything; every run may die mid-sweep.
    let mut kills = 0;
    for delay_ms in [100u64, 200, 300, 400, 500, 600, 800, 1_000, 2_000, 4_000] {
        let mut child = serve(&url);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        kills += 1;
        let live = live_windows(&mut conn);
        eprintln!("killed after {delay_ms} ms: {live} of {WINDOWS} windows still live");
        if live == 0 {
            break;
        }
    }
    assert!(kills >= 1);
    let mut child = serve(&url);
    wait_until_all_closed(&mut conn);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_closed_exactly_once(&mut conn);
}

#[test]
fn sweeper_killed_mid_sweep_closes_each_window_once_on_sqlite() {
    killed_mid_sweep(Backend::Sqlite);
}

#[test]
fn sweeper_killed_mid_sweep_closes_each_window_once_on_postgres() {
    killed_mid_sweep(Backend::Postgres);
}

#[test]
fn two_sweepers_on_one_postgres_close_each_window_once() {
    let Some((_db, url)) = TestDb::create(Backend::Postgres) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let pool = store::connect(&url, 2).unwrap();
    let mut conn = pool.get().unwrap();
    thousand_due_windows(&mut conn);
    let mut first = serve(&url);
    let mut second = serve(&url);
    wait_until_all_closed(&mut conn);
    for child in [&mut first, &mut second] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_closed_exactly_once(&mut conn);
}
