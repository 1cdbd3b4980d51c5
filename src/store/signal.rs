//! Wakes a background worker when rows it claims are committed in this process: the webhook
//! outbox and the mail outbox share this (each keeps its own thread-local "wrote rows" flag,
//! set by the writer and read after the commit by `write_transaction`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::LocalKey;
use tokio::sync::Notify;

pub(crate) struct CommitSignal {
    generation: AtomicU64,
    notify: Notify,
}

impl CommitSignal {
    pub(crate) const fn new() -> Self {
        CommitSignal {
            generation: AtomicU64::new(0),
            notify: Notify::const_new(),
        }
    }

    /// After a transaction: if this thread wrote rows in it (`dirty`, cleared here) and it
    /// committed, the counter moves and the waiters wake.
    pub(crate) fn finished(&self, dirty: &'static LocalKey<Cell<bool>>, committed: bool) {
        if dirty.with(|d| d.replace(false)) && committed {
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.notify.notify_waiters();
        }
    }

    /// A counter that moves whenever rows were committed in this process.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Resolves when rows are committed after the call (pair it with `generation`).
    pub(crate) fn written(&'static self) -> tokio::sync::futures::Notified<'static> {
        self.notify.notified()
    }
}
