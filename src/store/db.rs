use super::error::StoreError;
use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionManager,
};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

/// One connection type for both backends; SQLite last, as diesel's derive expects.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<Connector>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where the database lives, parsed from `SUBREG_DATABASE_URL` by scheme.
///
/// Parsing ourselves matters: diesel's multi-connection would fall back to SQLite and create a
/// file named after a PostgreSQL URL whose server is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Postgres(String),
    Sqlite(String),
}

impl DatabaseTarget {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_string()));
        }
        if url == "sqlite::memory:" {
            return Ok(DatabaseTarget::Sqlite(":memory:".into()));
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            // The message reaches stderr: a password in the URL must not.
            return Err(StoreError::Config(format!(
                "SUBREG_DATABASE_URL `{}` is neither postgres://... nor sqlite://PATH",
                crate::config::redact_url(url)
            )));
        }
        Ok(DatabaseTarget::Sqlite(path.to_string()))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, DatabaseTarget::Sqlite(_))
    }
}

/// r2d2 manager that opens the backend the URL names and sets SQLite up for concurrent use.
#[derive(Debug, Clone)]
pub struct Connector {
    target: DatabaseTarget,
}

impl ManageConnection for Connector {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.target {
            DatabaseTarget::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseTarget::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // The busy timeout makes writers queue instead of failing; foreign keys are
                // off by default in SQLite. A 32 MiB page cache keeps large sweeps from
                // turning into one pread per page. No memory-mapped I/O: mapped pages count in
                // the process's RSS (89 MB after announcing to 100,000 agreements) and made the
                // announcement and the sweep slower, not faster (benches/sweeper.rs).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -32768; PRAGMA mmap_size = 0;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// Before each checkout on PostgreSQL only (see `connect_observed`).
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    /// Asked as a connection goes back to the pool: one that lost its server (noted by
    /// `StoreError::from` on this thread), whose transaction manager is broken, or that was
    /// in use when its thread panicked is closed instead of being handed out again.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        let lost = CONNECTION_LOST.with(|lost| lost.replace(false));
        lost || std::thread::panicking()
            || match conn {
                DbConnection::Postgresql(pg) => {
                    AnsiTransactionManager::is_broken_transaction_manager(pg)
                }
                DbConnection::Sqlite(sqlite) => {
                    AnsiTransactionManager::is_broken_transaction_manager(sqlite)
                }
            }
    }
}

thread_local! {
    /// Set when a query on this thread failed because the connection itself was lost (a
    /// PostgreSQL restart or a terminated backend), so that the connection this thread holds is
    /// dropped when it goes back to the pool.
    static CONNECTION_LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Called by `StoreError::from` when the connection, not the statement, failed.
pub(crate) fn note_connection_lost() {
    CONNECTION_LOST.with(|lost| lost.set(true));
}

/// Opens a pool and brings the schema up to date.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, StoreError> {
    connect_observed(url, max_size, None)
}

/// `connect`, with `events` told of every checkout (and its wait) and every timeout: the
/// pool's wait metrics cover every place a connection is taken.
pub fn connect_observed(
    url: &str,
    max_size: u32,
    events: Option<Box<dyn r2d2::HandleEvent>>,
) -> Result<Pool, StoreError> {
    let target = DatabaseTarget::parse(url)?;
    if let DatabaseTarget::Sqlite(path) = &target {
        // WAL (readers beside the writer) is a property of the file. Switching needs an
        // exclusive lock, so it is done once here, before the pool opens connections at once.
        let mut conn = SqliteConnection::establish(path).map_err(|e| {
            StoreError::Config(format!("cannot open the SQLite database `{path}`: {e}"))
        })?;
        conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")?;
        if !query_plans_are_stable(&mut conn) {
            log::warn!(
                "SQLite was built without SQLITE_ENABLE_QPSG (.cargo/config.toml sets it): \
                 statements with a bound LIMIT are prepared again on every use"
            );
        }
    }
    // SQLite: no `SELECT 1` before every checkout (about 5 % of a cheap read); a connection
    // to a local file cannot lose its server. PostgreSQL keeps the test: a connection can die
    // while idle (a restart, a terminated backend), and without the test the first request to
    // take it would fail with 503 instead of getting a fresh one. On both, a connection that
    // lost its server while in use is dropped by `has_broken` instead of being handed out again.
    let test_on_check_out = !target.is_sqlite();
    let mut builder = r2d2::Pool::builder()
        .max_size(max_size)
        .test_on_check_out(test_on_check_out)
        .connection_timeout(Duration::from_secs(10));
    if let Some(events) = events {
        builder = builder.event_handler(events);
    }
    let pool = builder
        .build(Connector { target })
        .map_err(|e| StoreError::Config(format!("cannot open the database: {e}")))?;
    let mut conn = pool.get()?;
    run_migrations(&mut conn)?;
    Ok(pool)
}

/// Whether SQLite keeps a statement's plan whatever values are bound (the query planner
/// stability guarantee, compiled in by .cargo/config.toml), so that diesel's cached statements
/// are not prepared again on every use.
pub fn query_plans_are_stable(conn: &mut SqliteConnection) -> bool {
    use diesel::RunQueryDsl;
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG')",
    ))
    .get_result::<bool>(conn)
    .unwrap_or(false)
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<(), StoreError> {
    let applied = match conn {
        DbConnection::Postgresql(pg) => pg
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
        DbConnection::Sqlite(sqlite) => sqlite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.len()),
    }
    .map_err(|e| StoreError::Config(format!("migration failed: {e}")))?;
    if applied > 0 {
        log::info!("applied {applied} migration(s)");
    }
    Ok(())
}

/// Multi-row INSERT. diesel's multi-connection cannot express batch inserts, so this runs
/// the same statement on the concrete backend connection.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::store::db::DbConnection::Postgresql(pg) => {
                diesel::insert_into($table).values($rows).execute(pg)
            }
            $crate::store::db::DbConnection::Sqlite(sqlite) => {
                diesel::insert_into($table).values($rows).execute(sqlite)
            }
        }
    };
}

/// Readiness: the database answers a trivial query.
pub fn ping(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1").map_err(StoreError::from)
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a deferred transaction that reads and then writes fails at once with
/// SQLITE_BUSY if another writer committed in between; `BEGIN IMMEDIATE` queues instead.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error> + From<super::StoreError>,
{
    match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgresql(pg) => AnsiTransactionManager::begin_transaction(pg)?,
    }
    type Manager = <DbConnection as Connection>::TransactionManager;
    // A write that appended events ends with the signed checkpoints of the logs it touched.
    let result = match f(conn).and_then(|value| {
        super::log::seal(conn)?;
        Ok(value)
    }) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                // The commit failed: undo what is left so the connection goes back clean.
                let _ = Manager::rollback_transaction(conn);
                Err(commit_error.into())
            }
        },
        Err(error) => {
            let _ = Manager::rollback_transaction(conn);
            Err(error)
        }
    };
    // Wakes the webhook dispatcher once deliveries written here are visible to it.
    super::webhooks::transaction_finished(result.is_ok());
    analyze_after_bulk(conn, result.is_ok());
    // Wakes the mailer likewise.
    super::mail::transaction_finished(result.is_ok());
    // Lets the feeds trust their cached versions until events are committed here.
    super::events::transaction_finished(result.is_ok());
    super::log::transaction_finished();
    result
}

/// Runs `f` on one consistent snapshot of the database and writes nothing: a check that reads
/// several tables (the log, then the rows it vouches for) must not see a write commit halfway.
pub fn read_snapshot<T, F>(conn: &mut DbConnection, f: F) -> Result<T, super::StoreError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, super::StoreError>,
{
    match conn {
        // In WAL mode a deferred transaction reads one snapshot from its first read on.
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN DEFERRED")?
        }
        DbConnection::Postgresql(pg) => AnsiTransactionManager::begin_transaction_sql(
            pg,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
    }
    type Manager = <DbConnection as Connection>::TransactionManager;
    let result = f(conn);
    // Nothing was written: ending it either way releases the snapshot.
    let ended = Manager::rollback_transaction(conn);
    let value = result?;
    ended?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_is_built_with_the_query_planner_stability_guarantee() {
        assert!(SqliteConnection::establish(":memory:")
            .is_ok_and(|mut conn| query_plans_are_stable(&mut conn)));
    }

    #[test]
    fn database_urls_are_parsed_by_scheme() {
        assert_eq!(
            DatabaseTarget::parse("sqlite://subreg.db").ok(),
            Some(DatabaseTarget::Sqlite("subreg.db".into()))
        );
        assert_eq!(
            DatabaseTarget::parse("/var/lib/subreg.db").ok(),
            Some(DatabaseTarget::Sqlite("/var/lib/subreg.db".into()))
        );
        assert!(matches!(
            DatabaseTarget::parse("postgresql://u@h/db"),
            Ok(DatabaseTarget::Postgres(_))
        ));
        assert!(DatabaseTarget::parse("mysql://u@h/db").is_err());
        let refusal = DatabaseTarget::parse("mysql://u:hunter2@h/db")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            refusal.contains("mysql://***@h/db") && !refusal.contains("hunter2"),
            "{refusal}"
        );
    }
}

/// Tables written in bulk whose plans depend on fresh statistics (PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BulkTable {
    /// Without statistics the claim query reads and sorts every pending delivery instead of
    /// walking the partial index in due order.
    WebhookDeliveries,
    /// Without statistics open windows look rare, and the sweeper's conditional UPDATE scans
    /// every open window for each of its ids instead of finding them by primary key.
    ObjectionWindows,
}

impl BulkTable {
    const ALL: [BulkTable; 2] = [BulkTable::WebhookDeliveries, BulkTable::ObjectionWindows];

    fn name(self) -> &'static str {
        match self {
            BulkTable::WebhookDeliveries => "webhook_deliveries",
            BulkTable::ObjectionWindows => "objection_windows",
        }
    }
}

thread_local! {
    /// Rows written per [`BulkTable`] by the transaction now open on this thread.
    static BULK_ROWS: std::cell::Cell<[usize; 2]> = const { std::cell::Cell::new([0; 2]) };
}

/// A transaction that wrote at least this many rows to a [`BulkTable`] has it analysed after
/// its commit (PostgreSQL).
pub const ANALYZE_AFTER_ROWS: usize = 1000;

/// Counts rows the open transaction wrote to `table`.
pub(crate) fn note_bulk_write(table: BulkTable, rows: usize) {
    BULK_ROWS.with(|counts| {
        let mut now = counts.get();
        if let Some(count) = now.get_mut(table as usize) {
            *count = count.saturating_add(rows);
        }
        counts.set(now);
    });
}

/// After a write transaction: on PostgreSQL, a bulk write updates the planner's statistics of
/// the tables it filled at once, as autovacuum may do late or not at all.
fn analyze_after_bulk(conn: &mut DbConnection, committed: bool) {
    use diesel::RunQueryDsl;
    let written = BULK_ROWS.with(|counts| counts.replace([0; 2]));
    if !committed {
        return;
    }
    let DbConnection::Postgresql(pg) = conn else {
        return;
    };
    for (table, rows) in BulkTable::ALL.into_iter().zip(written) {
        if rows < ANALYZE_AFTER_ROWS {
            continue;
        }
        if let Err(e) = diesel::sql_query(format!("ANALYZE {}", table.name())).execute(pg) {
            log::warn!(
                "could not analyse {} after {rows} new rows: {e}",
                table.name()
            );
        }
    }
}
