//! The webhook dispatcher: claims due deliveries from the outbox, sends them concurrently
//! outside any transaction, and records each attempt.
//!
//! Claims take a lease (`leased_until`, on the real clock); a crashed process's leases run out
//! and its rows come due again, so every delivery is sent at least once. Sends run under a
//! semaphore of `concurrency` permits and the process claims only as many rows as it has free
//! permits. No endpoint gets more than `per_endpoint_concurrency` sends in flight and claims
//! take endpoints round-robin, so a slow or hanging receiver holds up only its own deliveries.
//! Results go through a channel to one recorder that writes them back in batches.
//!
//! On shutdown (`stop`) the dispatcher claims nothing more, lets the sends in flight finish
//! for up to `shutdown_grace`, gives back the leases of those still running (due again, for
//! any dispatcher), and records what finished.

use super::{signing, ssrf};
use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::domain::webhook::{
    classify, parse_retry_after, retry_delay, storable_text, Outcome, STORED_TEXT_MAX,
};
use crate::metrics::DeliveryOutcome;
use crate::store::webhooks::{self, AttemptRecord, ClaimRequest, Claimed};
use crate::store::{Pool, StoreError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::AbortHandle;

/// Bytes of a receiver's answer kept in the delivery log.
pub const RESPONSE_KEEP: usize = STORED_TEXT_MAX;
const CLIENT_CACHE_MAX: usize = 1024;
/// Most attempts recorded in one transaction.
const RECORD_BATCH: usize = 1024;
/// How long the recorder gathers results before writing what it has.
const RECORD_GATHER: Duration = Duration::from_millis(5);

type ClientKey = (String, Vec<SocketAddr>);

/// Tells a running dispatcher to stop: `send(true)` (or drop the sender).
pub type StopSender = watch::Sender<bool>;

/// A stop signal for `Dispatcher::run_until_stopped` and the sender that raises it.
pub fn stop_signal() -> (StopSender, watch::Receiver<bool>) {
    watch::channel(false)
}

/// This process's sends in flight.
#[derive(Default)]
struct InFlight {
    /// By endpoint id: how many.
    per_endpoint: HashMap<String, usize>,
    /// By delivery id: the endpoint and the task sending it.
    tasks: HashMap<String, (String, AbortHandle)>,
}

pub struct Dispatcher {
    pool: Pool,
    /// Signs the checkpoint when a disabled endpoint appends `endpoint.disabled`.
    log: Option<Arc<crate::store::log::LogSigner>>,
    clock: Clock,
    settings: WebhookSettings,
    poll: Duration,
    policy: ssrf::Policy,
    /// For URLs whose host is an address literal: nothing to resolve, nothing to pin.
    direct: reqwest::Client,
    /// Clients with a host pinned to its vetted addresses, by (host, addresses).
    pinned: Mutex<HashMap<ClientKey, reqwest::Client>>,
    in_flight: Mutex<InFlight>,
    /// Raised when a send ends for an endpoint that was at its cap: its rows may be claimed.
    freed: Notify,
    /// Counts each attempt by outcome (`with_metrics`; a private set otherwise).
    metrics: Arc<crate::metrics::Metrics>,
}

fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("subreg-webhooks/", env!("CARGO_PKG_VERSION")))
}

impl Dispatcher {
    pub fn new(
        pool: Pool,
        clock: Clock,
        settings: WebhookSettings,
        poll: Duration,
    ) -> Result<Self, String> {
        let direct = client_builder(settings.timeout)
            .build()
            .map_err(|e| format!("webhook HTTP client: {e}"))?;
        Ok(Dispatcher {
            log: None,
            policy: ssrf::Policy {
                allow_http: settings.allow_http,
                allow_private: settings.allow_private,
            },
            pool,
            clock,
            settings,
            poll,
            direct,
            pinned: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(InFlight::default()),
            freed: Notify::new(),
            metrics: Arc::default(),
        })
    }

    /// Counts attempts in `metrics` (the application's, served at /metrics).
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_log_signer(mut self, log: Arc<crate::store::log::LogSigner>) -> Self {
        self.log = Some(log);
        self
    }

    /// Runs until `stop` turns true (or its sender is dropped): claim, send, record; sleep
    /// when nothing is due until deliveries are written in this process, a capped endpoint
    /// frees a slot, or the poll interval passes. Then drains (see the module docs).
    pub async fn run_until_stopped(self, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let concurrency = this.settings.concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        let (results, inbox) = mpsc::unbounded_channel();
        let recorder = actix_web::rt::spawn(Arc::clone(&this).record_results(inbox));
        let batch = this.settings.batch_size.max(1) as usize;
        // Claim in batches: while sends are in flight, wait until a quarter of the permits
        // (or of a batch) is free rather than paying one claim transaction per finished send.
        let refill = (concurrency.min(batch) / 4).max(1) as u32;
        // Stopped when told so, or when nobody is left to tell (the sender is gone).
        let stopped = |stop: &watch::Receiver<bool>| stop.has_changed().is_err() || *stop.borrow();
        'dispatch: loop {
            if stopped(&stop) {
                break;
            }
            let seen = webhooks::outbox_generation();
            let free = permits.available_permits().min(batch);
            if (free as u32) < refill {
                tokio::select! {
                    acquired = permits.acquire_many(refill) => drop(acquired),
                    _ = stop.changed() => {}
                }
                continue;
            }
            match this.claim(free as i64).await {
                Ok(claimed) if !claimed.is_empty() => {
                    for delivery in claimed {
                        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                            break 'dispatch;
                        };
                        this.start(delivery, permit, results.clone());
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => log::warn!("webhook dispatcher: claiming failed: {e}"),
            }
            let written = webhooks::outbox_written();
            tokio::pin!(written);
            written.as_mut().enable();
            if webhooks::outbox_generation() != seen {
                continue;
            }
            tokio::select! {
                _ = written => {}
                _ = this.freed.notified() => {}
                _ = tokio::time::sleep(this.poll) => {}
                _ = stop.changed() => {}
            }
        }
        drop(results);
        this.drain(&permits, concurrency).await;
        // The recorder ends once every result of a finished send is written.
        if tokio::time::timeout(this.settings.shutdown_grace, recorder)
            .await
            .is_err()
        {
            log::warn!("webhook dispatcher: results still being recorded at shutdown");
        }
    }

    /// Sends one claimed delivery in its own task, counted in flight until it is sent.
    fn start(
        self: &Arc<Self>,
        delivery: Claimed,
        permit: tokio::sync::OwnedSemaphorePermit,
        results: mpsc::UnboundedSender<AttemptRecord>,
    ) {
        let (delivery_id, endpoint_id) =
            (delivery.delivery_id.clone(), delivery.endpoint_id.clone());
        // Counted before the task runs, so the next claim sees it.
        if let Ok(mut in_flight) = self.in_flight.lock() {
            *in_flight
                .per_endpoint
                .entry(endpoint_id.clone())
                .or_insert(0) += 1;
        }
        let this = Arc::clone(self);
        let task = actix_web::rt::spawn(async move {
            let record = this.send(delivery).await;
            this.finished(&record.delivery_id, &record.endpoint_id);
            let _ = results.send(record);
            drop(permit);
        });
        if let Ok(mut in_flight) = self.in_flight.lock() {
            if !task.is_finished() {
                in_flight
                    .tasks
                    .insert(delivery_id, (endpoint_id, task.abort_handle()));
            }
        }
    }

    /// A send ended: one fewer in flight for its endpoint; wake the claimer if that endpoint
    /// was at its cap.
    fn finished(&self, delivery_id: &str, endpoint_id: &str) {
        let Ok(mut in_flight) = self.in_flight.lock() else {
            return;
        };
        in_flight.tasks.remove(delivery_id);
        let cap = self.settings.per_endpoint_concurrency.max(1);
        let mut was_capped = false;
        if let Some(n) = in_flight.per_endpoint.get_mut(endpoint_id) {
            was_capped = *n >= cap;
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.per_endpoint.remove(endpoint_id);
            }
        }
        drop(in_flight);
        if was_capped {
            self.freed.notify_one();
        }
    }

    /// Waits up to `shutdown_grace` for the sends in flight; cancels the rest and gives their
    /// leases back so that they are due again at once, here after a restart or elsewhere.
    async fn drain(&self, permits: &Semaphore, concurrency: usize) {
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let grace = self.settings.shutdown_grace;
        if let Ok(Ok(done)) = tokio::time::timeout(grace, permits.acquire_many(all)).await {
            drop(done);
            return;
        }
        let running: Vec<(String, AbortHandle)> = match self.in_flight.lock() {
            Ok(mut in_flight) => in_flight
                .tasks
                .drain()
                .map(|(delivery, (_, task))| (delivery, task))
                .collect(),
            Err(_) => Vec::new(),
        };
        let ids: Vec<String> = running
            .into_iter()
            .map(|(delivery, task)| {
                task.abort();
                delivery
            })
            .collect();
        if ids.is_empty() {
            return;
        }
        let pool = self.pool.clone();
        let count = ids.len();
        let released = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            webhooks::release(&mut conn, &ids)
        })
        .await;
        match released {
            Ok(Ok(n)) => log::info!(
                "webhook dispatcher: shutdown cancelled {count} send(s) in flight; {n} lease(s) given back"
            ),
            Ok(Err(e)) => log::warn!(
                "webhook dispatcher: giving back {count} lease(s) at shutdown failed ({e}); they run out on their own"
            ),
            Err(e) => log::warn!("webhook dispatcher: release task failed: {e}"),
        }
    }

    async fn claim(&self, limit: i64) -> Result<Vec<Claimed>, StoreError> {
        let pool = self.pool.clone();
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        let per_endpoint = self.settings.per_endpoint_concurrency.max(1);
        let in_flight = self
            .in_flight
            .lock()
            .map(|f| f.per_endpoint.clone())
            .unwrap_or_default();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            // Leases are real time, whatever the application clock says.
            let wall_now = Clock::System.now();
            webhooks::claim(
                &mut conn,
                &ClaimRequest {
                    now,
                    wall_now,
                    lease_until: wall_now + lease,
                    limit,
                    per_endpoint,
                    in_flight: &in_flight,
                },
            )
        })
        .await
        .map_err(|e| StoreError::Config(format!("claim task: {e}")))?
    }

    /// Writes results back in batches: whatever has arrived since the last write. A batch the
    /// database refuses is written again one attempt at a time, so one bad row fails only
    /// itself, never the other tenants' attempts recorded with it.
    async fn record_results(self: Arc<Self>, mut inbox: mpsc::UnboundedReceiver<AttemptRecord>) {
        let mut batch = Vec::new();
        loop {
            if inbox.recv_many(&mut batch, RECORD_BATCH).await == 0 {
                return;
            }
            // Results arrive one send at a time: a short wait gathers many into one
            // transaction instead of paying a commit (and on SQLite the write lock, which the
            // claims need too) for every few.
            if batch.len() < RECORD_BATCH {
                tokio::time::sleep(RECORD_GATHER).await;
                while batch.len() < RECORD_BATCH {
                    match inbox.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            match self.record_batch(batch.clone()).await {
                Ok(()) => {}
                Err(e) if batch.len() > 1 => {
                    log::warn!(
                        "webhook dispatcher: recording {} attempts together failed ({e}); \
                         recording each on its own",
                        batch.len()
                    );
                    for attempt in batch.iter() {
                        if let Err(e) = self.record_batch(vec![attempt.clone()]).await {
                            // The lease runs out and the delivery is sent again: at least once.
                            log::error!(
                                "webhook dispatcher: attempt of delivery {} not recorded: {e}",
                                attempt.delivery_id
                            );
                        }
                    }
                }
                Err(e) => log::error!("webhook dispatcher: attempt not recorded: {e}"),
            }
            batch.clear();
        }
    }

    /// Records attempts in one transaction, retrying while the database is busy or out of
    /// connections.
    async fn record_batch(&self, records: Vec<AttemptRecord>) -> Result<(), StoreError> {
        let disable_after = chrono::Duration::from_std(self.settings.disable_after)
            .unwrap_or_else(|_| chrono::Duration::days(5));
        let records = Arc::new(records);
        let mut tries: u64 = 0;
        loop {
            let pool = self.pool.clone();
            let now = self.clock.now();
            let batch = Arc::clone(&records);
            let log = self.log.clone();
            let result = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                match &log {
                    Some(log) => crate::store::log::with_signer(log, || {
                        webhooks::record(&mut conn, &batch, now, disable_after)
                    }),
                    None => webhooks::record(&mut conn, &batch, now, disable_after),
                }
            })
            .await
            .map_err(|e| StoreError::Config(format!("record task: {e}")))?;
            match result {
                Ok(disabled) => {
                    for endpoint in disabled {
                        log::warn!("webhook endpoint {endpoint} disabled");
                    }
                    return Ok(());
                }
                Err(e @ (StoreError::Busy | StoreError::Pool(_))) if tries < 5 => {
                    tries += 1;
                    log::warn!("webhook dispatcher: recording attempts failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one delivery and decides what follows.
    async fn send(&self, delivery: Claimed) -> AttemptRecord {
        let started = Instant::now();
        let answer = self.post(&delivery).await;
        let latency_ms = started.elapsed().as_millis() as i64;
        let (status, retry_after, response, error) = match answer {
            Ok((status, retry_after, body)) => (Some(status), retry_after, Some(body), None),
            Err(error) => (None, None, None, Some(error)),
        };
        let outcome = classify(status);
        let retry_at = match outcome {
            Outcome::Failure => {
                let done = u32::try_from(delivery.attempts)
                    .unwrap_or(0)
                    .saturating_add(1);
                retry_delay(
                    done,
                    &self.settings.retry_schedule,
                    retry_after,
                    rand::random::<f64>(),
                )
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| self.clock.now() + d)
            }
            _ => None,
        };
        let counted = match (outcome, retry_at) {
            (Outcome::Success, _) => DeliveryOutcome::Sent,
            (Outcome::Failure, Some(_)) => DeliveryOutcome::Retried,
            (Outcome::Failure, None) | (Outcome::Gone, _) => DeliveryOutcome::Failed,
        };
        self.metrics.delivery(counted, started.elapsed());
        AttemptRecord {
            delivery_id: delivery.delivery_id,
            endpoint_id: delivery.endpoint_id,
            event_seq: delivery.event_seq,
            outcome,
            status: status.map(i32::from),
            latency_ms,
            response,
            error,
            retry_at,
        }
    }

    /// The HTTP exchange: SSRF check with resolution, signed POST to the pinned addresses,
    /// status, `Retry-After` and the first bytes of the answer.
    async fn post(&self, delivery: &Claimed) -> Result<(u16, Option<Duration>, String), String> {
        let vetted = ssrf::vet(&delivery.url, self.policy)
            .await
            .map_err(|e| format!("refused: {e}"))?;
        let client = self.client_for(&vetted)?;
        // The signature's timestamp is wall-clock time: receivers check it against their own
        // clocks (a test clock moved ahead would make every signature look forged).
        let timestamp = Clock::System.now().timestamp();
        let signature = signing::sign(
            &delivery.secret,
            &delivery.event_id,
            timestamp,
            &delivery.payload,
        )?;
        let mut response = client
            .post(vetted.url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Clock::System.now()));
        let mut body = Vec::new();
        while body.len() < RESPONSE_KEEP {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(RESPONSE_KEEP);
        Ok((status, retry_after, storable_text(&body, RESPONSE_KEEP)))
    }

    fn client_for(&self, vetted: &ssrf::Vetted) -> Result<reqwest::Client, String> {
        let Some(host) = &vetted.host else {
            return Ok(self.direct.clone());
        };
        let key = (host.clone(), vetted.addrs.clone());
        let mut cache = self
            .pinned
            .lock()
            .map_err(|_| "webhook client cache poisoned".to_string())?;
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = client_builder(self.settings.timeout)
            .resolve_to_addrs(host, &vetted.addrs)
            .build()
            .map_err(|e| format!("webhook HTTP client: {e}"))?;
        if cache.len() >= CLIENT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }
}

/// A send error in words for the delivery log.
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        format!("cannot connect: {error}")
    } else {
        error.to_string()
    }
}
