//! Closes expired objection windows and makes changes effective at `planned_from`.
//!
//! Durable and exactly-once in effect: all state is in the database, every step is a
//! transaction that re-reads under the processor's chain lock and updates conditionally,
//! so a killed process or a second instance on the same PostgreSQL closes nothing twice.

use crate::clock::Clock;
use crate::store::{self, Pool, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub struct Sweeper {
    pub pool: Pool,
    pub clock: Clock,
    pub interval: Duration,
    /// Windows closed per transaction.
    pub batch: i64,
    pub wake: Arc<Notify>,
    /// Signs the checkpoints of the logs a sweep appends to.
    pub log: Arc<store::log::LogSigner>,
    /// Days before an open window's deadline that its notice contacts are reminded.
    pub reminder_days: Vec<u32>,
}

impl Sweeper {
    pub async fn run_until_stopped(self) {
        loop {
            let (pool, clock, batch) = (self.pool.clone(), self.clock.clone(), self.batch);
            let log = self.log.clone();
            let days = self.reminder_days.clone();
            let swept = actix_web::rt::task::spawn_blocking(move || {
                let report = store::log::with_signer(&log, || sweep_once(&pool, &clock, batch))?;
                let mut conn = pool.get()?;
                store::mail::enqueue_reminders(&mut conn, clock.now(), &days)?;
                // Public subscriptions: unconfirmed ones lapse, finished days get their digests.
                store::subscriptions::sweep(&mut conn, clock.now())?;
                Ok::<_, StoreError>(report)
            })
            .await;
            match swept {
                Ok(Ok(report)) if report != store::lifecycle::SweepReport::default() => {
                    log::info!(
                        "sweeper: ended {} agreement(s), closed {} window(s), made {} change(s) effective",
                        report.agreements_terminated,
                        report.windows_closed,
                        report.changes_effective
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(StoreError::Busy)) => log::debug!("sweeper: database busy, retrying"),
                Ok(Err(error)) => log::warn!("sweeper: {error}"),
                Err(error) => log::error!("sweeper task failed: {error}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

/// One pass; with the test clock, first adopt an offset another process may have set.
pub fn sweep_once(
    pool: &Pool,
    clock: &Clock,
    batch: i64,
) -> Result<store::lifecycle::SweepReport, StoreError> {
    let mut conn = pool.get()?;
    if clock.is_test() {
        clock.sync_offset(store::clock::load_offset(&mut conn)?);
    }
    store::lifecycle::sweep(&mut conn, clock.now(), batch)
}
