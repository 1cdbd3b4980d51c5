//! The `subreg` binary as a user runs it.

use crate::helpers::*;
use std::process::Command;

fn subreg(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_subreg"))
        .args(args)
        .env("SUBREG_DATABASE_URL", database_url)
        .env("SUBREG_JWT_SECRET", SECRET)
        .env("SUBREG_LOG_KEY", log_key_path())
        .env("SUBREG_LOG", "warn")
        .output()
        .expect("subreg runs")
}

fn demo_loads_once(backend: Backend) {
    let Some((_db, url)) = TestDb::create(backend) else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    for _ in 0..2 {
        let out = subreg(&url, &["demo"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let pool = subreg::store::connect(&url, 1).expect("db");
    let mut conn = pool.get().expect("conn");
    let page = subreg::store::PageRequest::first(50);
    let processors =
        subreg::store::organisations::list_processors(&mut conn, None, &page).expect("list");
    let ids: Vec<&str> = processors.items.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["eg-netblanket", "roskilde-hosting", "timengo-dpg"]);
    let timengo = subreg::store::subprocessors::all(&mut conn, "timengo-dpg", None).expect("list");
    let names: Vec<&str> = timengo.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Microsoft Azure", "Office 365"]);
    assert!(timengo
        .iter()
        .all(|e| e.registration.as_ref().map(|r| r.number.as_str()) == Some("13612870")));
    let agreements =
        subreg::store::agreements::all_for_controller(&mut conn, "roskilde-kommune").expect("list");
    assert_eq!(agreements.len(), 2, "loading twice added nothing");
    for pid in ["timengo-dpg", "eg-netblanket", "roskilde-hosting"] {
        let changes = subreg::store::lifecycle::list_changes(&mut conn, pid, None, true, &page)
            .expect("changes");
        assert_eq!(changes.items.len(), 1, "{pid}: one announced change");
        let change = &changes.items[0];
        assert_eq!(change.state, subreg::domain::change::ChangeState::Announced);
        assert_eq!(
            change.windows.as_ref().map(Vec::len),
            Some(1),
            "{pid}: one window, its agreement's"
        );
    }
    let roskilde =
        subreg::store::lifecycle::list_windows(&mut conn, "roskilde-kommune", None, &page)
            .expect("windows");
    let conflicts: Vec<_> = roskilde.items.iter().map(|w| w.conflicts.clone()).collect();
    assert!(
        conflicts.contains(&vec![
            subreg::domain::change::Conflict::ThirdCountryForbidden
        ]),
        "{conflicts:?}"
    );
}

#[test]
fn demo_loads_once_on_sqlite() {
    demo_loads_once(Backend::Sqlite);
}

#[test]
fn demo_loads_once_on_postgres() {
    demo_loads_once(Backend::Postgres);
}

#[test]
fn token_needs_a_secret_and_mints_a_working_jwt() {
    let out = Command::new(env!("CARGO_BIN_EXE_subreg"))
        .args(["token", "--role", "processor", "--org", "timengo-dpg"])
        .env_remove("SUBREG_JWT_SECRET")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SUBREG_JWT_SECRET"));

    let out = subreg(
        "sqlite::memory:",
        &["token", "--role", "processor", "--org", "timengo-dpg"],
    );
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let verifier = subreg::http::auth::TokenVerifier::from_settings(&settings("sqlite::memory:"))
        .expect("verifier");
    let actor = verifier.verify(&token).expect("valid token");
    assert_eq!(actor.org, "timengo-dpg");
    assert_eq!(actor.role, subreg::http::auth::Role::Processor);
}
