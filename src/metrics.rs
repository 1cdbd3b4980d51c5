//! Prometheus metrics, with `prometheus-client` (the Prometheus project's Rust client).
//!
//! One `Metrics` per `Application` (no global registry, so several apps in one process, as in
//! the tests, count apart). In-process metrics are updated where things happen: the `observe`
//! middleware counts requests by route template, the dispatcher counts webhook attempts, the
//! pool's event handler times every connection checkout. What lives in the database (outbox
//! depth, windows, the sweeper's lag) is read at scrape time (`store::metrics::snapshot`) and
//! rendered only when that read succeeded; `subreg_metrics_database_up` says whether it did.

use crate::store::metrics::Snapshot;
use crate::store::Pool;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// Latency buckets in seconds, for requests and webhook sends.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Buckets for the wait for a pooled connection: mostly none, sometimes up to the timeout.
const POOL_WAIT_BUCKETS: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// The route label of a request no route matched: never the raw path (unbounded).
pub const UNMATCHED_ROUTE: &str = "unmatched";

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// How one webhook attempt ended, as the dispatcher decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Sent,
    /// The attempt failed and another is scheduled.
    Retried,
    /// The attempt failed and none follows (410 Gone, or the schedule is used up).
    Failed,
}

impl DeliveryOutcome {
    fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Retried => "retried",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// The in-process metrics and the registry they are encoded from.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_latency: HistogramFamily<RouteLabels>,
    deliveries: Family<OutcomeLabels, Counter>,
    delivery_latency: Histogram,
    pool_wait: Histogram,
    pool_timeouts: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Histograms carry the unit in their name and no `# UNIT` line: some OpenMetrics parsers
    /// accept units on counters and gauges only.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("subreg");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let http_latency: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            http_latency.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook attempts by outcome: sent (2xx), retried (failed, another attempt scheduled), failed (failed for good)",
            deliveries.clone(),
        );
        let delivery_latency = latency_histogram();
        registry.register(
            "webhook_attempt_duration_seconds",
            "Time of one webhook attempt, from the address check to the answer",
            delivery_latency.clone(),
        );
        let pool_wait = Histogram::new(POOL_WAIT_BUCKETS);
        registry.register(
            "db_pool_wait_seconds",
            "Time spent waiting for a database connection from the pool, per checkout (timed-out waits included)",
            pool_wait.clone(),
        );
        let pool_timeouts = Counter::default();
        registry.register(
            "db_pool_timeouts",
            "Waits for a database connection that timed out",
            pool_timeouts.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_latency,
            deliveries,
            delivery_latency,
            pool_wait,
            pool_timeouts,
        }
    }

    /// One answered request. `route` is the template the router matched (`None`: no route).
    pub fn request(&self, method: &str, route: Option<&str>, status: u16, latency: Duration) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED_ROUTE).to_string();
        self.http_requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.http_latency
            .get_or_create(&RouteLabels { method, route })
            .observe(latency.as_secs_f64());
    }

    /// One webhook attempt, counted by the dispatcher.
    pub fn delivery(&self, outcome: DeliveryOutcome, latency: Duration) {
        self.deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
        self.delivery_latency.observe(latency.as_secs_f64());
    }

    /// The text of a scrape: the in-process metrics, the pool's state, and the database's part
    /// when `db` holds one (`Err`: the read failed, and only `database_up 0` says so).
    pub fn render(
        &self,
        pool: &Pool,
        db: Result<&Snapshot, ()>,
        now: DateTime<Utc>,
        format: Format,
    ) -> String {
        let mut scrape = Registry::with_prefix("subreg");
        let state = pool.state();
        let connections = Family::<StateLabels, Gauge>::default();
        let in_use = state.connections.saturating_sub(state.idle_connections);
        connections
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(in_use));
        connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(i64::from(state.idle_connections));
        scrape.register(
            "db_pool_connections",
            "Database connections open in the pool, in use or idle",
            connections,
        );
        let max = Gauge::<i64>::default();
        max.set(i64::from(pool.max_size()));
        scrape.register(
            "db_pool_max_connections",
            "Most connections the pool opens",
            max,
        );
        let up = Gauge::<i64>::default();
        up.set(i64::from(db.is_ok()));
        scrape.register(
            "metrics_database_up",
            "1 when this scrape read the database's metrics, 0 when that failed (they are left out)",
            up,
        );
        if let Ok(snapshot) = db {
            register_snapshot(&mut scrape, snapshot, now);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut text, &self.registry);
        let _ = encode_registry(&mut text, &scrape);
        let _ = encode_eof(&mut text);
        match format {
            Format::OpenMetrics => text,
            Format::Prometheus => to_prometheus_text(&text),
        }
    }
}

fn register_snapshot(scrape: &mut Registry, snapshot: &Snapshot, now: DateTime<Utc>) {
    let outbox = Family::<StateLabels, Gauge>::default();
    for (state, n) in &snapshot.outbox {
        outbox.get_or_create(&StateLabels { state }).set(*n);
    }
    scrape.register(
        "webhook_outbox_deliveries",
        "Webhook deliveries in the outbox by state (pending: waiting; leased: being sent)",
        outbox,
    );
    scrape.register_with_unit(
        "webhook_outbox_oldest_due_age",
        "How long the oldest due, unleased delivery has been due (0 when none is)",
        Unit::Seconds,
        seconds_gauge(age(snapshot.oldest_due_delivery, now)),
    );
    let open = Gauge::<i64>::default();
    open.set(snapshot.windows_open);
    scrape.register("windows_open", "Objection windows not yet closed", open);
    let closing = Gauge::<i64>::default();
    closing.set(snapshot.windows_closing_24h);
    scrape.register(
        "windows_closing_within_24h",
        "Open objection windows whose deadline is within the next 24 hours",
        closing,
    );
    scrape.register_with_unit(
        "sweeper_lag",
        "How long the oldest passed deadline or planned start has waited for the sweeper (0 when none has)",
        Unit::Seconds,
        seconds_gauge(age(snapshot.oldest_unswept, now)),
    );
}

fn seconds_gauge(seconds: f64) -> Gauge<f64, AtomicU64> {
    let gauge = Gauge::<f64, AtomicU64>::default();
    gauge.set(seconds);
    gauge
}

/// Seconds since `since` (0 when none, or when it is in the future).
fn age(since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    since
        .and_then(|t| (now - t).to_std().ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Methods as labels: the standard ones, anything else `OTHER` (a client may send any token).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The two text formats a scraper may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`, the classic Prometheus text format (the default).
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`, what Prometheus asks for first.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it, else the Prometheus text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// OpenMetrics text (what `prometheus-client` writes) as Prometheus text 0.0.4: counters are
/// described under their sample name (`x_total`), `# UNIT` and `# EOF` lines go. Samples are
/// the same in both formats.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "].iter().find_map(|kind| {
            let rest = line.strip_prefix(kind)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{kind}{name}_total {tail}"))
        });
        match described {
            Some(rewritten) => out.push_str(&rewritten),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Tells `Metrics` of every pooled connection checkout and timeout (an r2d2 event handler).
pub struct PoolEvents(pub Arc<Metrics>);

impl std::fmt::Debug for PoolEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolEvents")
    }
}

impl diesel::r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: diesel::r2d2::event::CheckoutEvent) {
        self.0.pool_wait.observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, event: diesel::r2d2::event::TimeoutEvent) {
        self.0.pool_wait.observe(event.timeout().as_secs_f64());
        self.0.pool_timeouts.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_described_under_their_sample_name_in_prometheus_text() {
        let open = "# HELP subreg_x Things.\n# TYPE subreg_x counter\nsubreg_x_total 3\n\
                    # HELP subreg_t_seconds Time.\n# TYPE subreg_t_seconds histogram\n# UNIT subreg_t_seconds seconds\n\
                    subreg_t_seconds_count 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(open),
            "# HELP subreg_x_total Things.\n# TYPE subreg_x_total counter\nsubreg_x_total 3\n\
             # HELP subreg_t_seconds Time.\n# TYPE subreg_t_seconds histogram\nsubreg_t_seconds_count 1\n"
        );
    }

    #[test]
    fn methods_and_routes_are_bounded_labels() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "OTHER");
        let metrics = Metrics::new();
        metrics.request("BREW", None, 404, Duration::from_millis(1));
        let mut text = String::new();
        let _ = encode_registry(&mut text, &metrics.registry);
        assert!(
            text.contains(
                r#"subreg_http_requests_total{method="OTHER",route="unmatched",status="404"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn formats_follow_the_accept_header() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
    }
}
