//! The webhook dispatcher: claims due deliveries from the outbox, sends them concurrently
//! outside any transaction, and records each attempt.
//!
//! Claims take a lease (`leased_until`); a crashed process's leases run out and its rows come
//! due again, so every delivery is sent at least once. Sends run under a semaphore of
//! `concurrency` permits and the process claims only as many rows as it has free permits, so a
//! slow receiver holds up only its own requests. Results go through a channel to one recorder
//! that writes them back in batches.

use super::{signing, ssrf};
use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::domain::webhook::{classify, parse_retry_after, retry_delay, Outcome};
use crate::store::webhooks::{self, AttemptRecord, Claimed};
use crate::store::{Pool, StoreError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Bytes of a receiver's answer kept in the delivery log.
pub const RESPONSE_KEEP: usize = 512;
const CLIENT_CACHE_MAX: usize = 1024;

type ClientKey = (String, Vec<SocketAddr>);

pub struct Dispatcher {
    pool: Pool,
    clock: Clock,
    settings: WebhookSettings,
    poll: Duration,
    policy: ssrf::Policy,
    /// For URLs whose host is an address literal: nothing to resolve, nothing to pin.
    direct: reqwest::Client,
    /// Clients with a host pinned to its vetted addresses, by (host, addresses).
    pinned: Mutex<HashMap<ClientKey, reqwest::Client>>,
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
        })
    }

    /// Runs until the runtime stops: claim, send, record; sleep when nothing is due until
    /// deliveries are written in this process or the poll interval passes.
    pub async fn run_until_stopped(self) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.settings.concurrency.max(1)));
        let (results, inbox) = mpsc::unbounded_channel();
        actix_web::rt::spawn(Arc::clone(&this).record_results(inbox));
        let batch = this.settings.batch_size.max(1) as usize;
        // Claim in batches: while sends are in flight, wait until a quarter of the permits
        // (or of a batch) is free rather than paying one claim transaction per finished send.
        let refill = (this.settings.concurrency.max(1).min(batch) / 4).max(1) as u32;
        loop {
            let seen = webhooks::outbox_generation();
            let free = permits.available_permits().min(batch);
            if (free as u32) < refill {
                if let Ok(permits) = permits.acquire_many(refill).await {
                    drop(permits);
                }
                continue;
            }
            match this.claim(free as i64).await {
                Ok(claimed) if !claimed.is_empty() => {
                    for delivery in claimed {
                        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                            return;
                        };
                        let this = Arc::clone(&this);
                        let results = results.clone();
                        actix_web::rt::spawn(async move {
                            let record = this.send(delivery).await;
                            let _ = results.send(record);
                            drop(permit);
                        });
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
                _ = tokio::time::sleep(self_poll(&this)) => {}
            }
        }
    }

    async fn claim(&self, limit: i64) -> Result<Vec<Claimed>, StoreError> {
        let pool = self.pool.clone();
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            webhooks::claim(&mut conn, now, now + lease, limit)
        })
        .await
        .map_err(|e| StoreError::Config(format!("claim task: {e}")))?
    }

    /// Writes results back in batches: whatever has arrived since the last write.
    async fn record_results(self: Arc<Self>, mut inbox: mpsc::UnboundedReceiver<AttemptRecord>) {
        let disable_after = chrono::Duration::from_std(self.settings.disable_after)
            .unwrap_or_else(|_| chrono::Duration::days(5));
        let mut batch = Vec::new();
        loop {
            if inbox.recv_many(&mut batch, 1024).await == 0 {
                return;
            }
            let mut tries = 0;
            loop {
                let pool = self.pool.clone();
                let now = self.clock.now();
                let records = batch.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get()?;
                    webhooks::record(&mut conn, &records, now, disable_after)
                })
                .await;
                match result {
                    Ok(Ok(disabled)) => {
                        for endpoint in disabled {
                            log::warn!("webhook endpoint {endpoint} disabled");
                        }
                        break;
                    }
                    Ok(Err(e)) if tries < 5 => {
                        tries += 1;
                        log::warn!("webhook dispatcher: recording attempts failed, retrying: {e}");
                        tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                    }
                    Ok(Err(e)) => {
                        // The leases run out and the deliveries are sent again: at least once.
                        log::error!(
                            "webhook dispatcher: {} attempts not recorded: {e}",
                            batch.len()
                        );
                        break;
                    }
                    Err(e) => {
                        log::error!("webhook dispatcher: record task failed: {e}");
                        break;
                    }
                }
            }
            batch.clear();
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
        Ok((
            status,
            retry_after,
            String::from_utf8_lossy(&body).into_owned(),
        ))
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

fn self_poll(this: &Dispatcher) -> Duration {
    this.poll
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
