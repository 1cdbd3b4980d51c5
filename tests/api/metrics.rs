//! /metrics as an operator's scraper sees it: where it is served, who may read it, and what
//! it says, parsed with a real Prometheus/OpenMetrics text parser.

use crate::for_both_backends;
use crate::helpers::*;
use crate::on_both_backends;
use crate::webhooks::Receiver;
use diesel::{ExpressionMethods, RunQueryDsl};
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use serde_json::json;
use std::time::Duration;

const METRICS_TOKEN: &str = "metrics-token-for-the-tests-0123";

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

async fn scrape(app: &TestApp, base: &str, token: Option<&str>, accept: Option<&str>) -> Reply {
    let mut request = app.client.get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    app.send(request).await
}

/// A 200 scrape in the Prometheus text format, parsed.
fn parsed(reply: &Reply) -> Exposition {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .content_type()
            .starts_with("text/plain; version=0.0.4"),
        "{}",
        reply.content_type()
    );
    openmetrics_parser::prometheus::parse_prometheus(&reply.text)
        .unwrap_or_else(|e| panic!("not Prometheus text ({e:?}):\n{}", reply.text))
}

/// The value of the sample of `family` with these labels (a histogram's count).
fn value(exposition: &Exposition, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let family = exposition.families.get(family)?;
    family.iter_samples().find_map(|sample| {
        let set = sample.get_labelset().ok()?;
        let matches = labels
            .iter()
            .all(|(name, want)| set.get_label_value(name) == Some(*want));
        if !matches {
            return None;
        }
        Some(match &sample.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            PrometheusValue::Histogram(h) => h.count.map_or(0.0, |c| c as f64),
            PrometheusValue::Summary(s) => s.count.map_or(0.0, |c| c as f64),
        })
    })
}

fn family_type(exposition: &Exposition, family: &str) -> Option<PrometheusType> {
    exposition
        .families
        .get(family)
        .map(|f| f.family_type.clone())
}

/// Webhook deliveries by state, read from the database.
fn outbox_in_db(app: &TestApp) -> Vec<(String, i64)> {
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("conn");
    subreg::store::webhooks::count_by_state(&mut conn).expect("count")
}

fn in_db(counts: &[(String, i64)], state: &str) -> f64 {
    counts
        .iter()
        .find(|(s, _)| s == state)
        .map_or(0.0, |(_, n)| *n as f64)
}

const GET_PROCESSOR: [(&str, &str); 3] = [
    ("route", "/v1/processors/{pid}"),
    ("method", "GET"),
    ("status", "200"),
];

async fn metrics_with_a_token_on_the_public_port(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.metrics_token = Some(METRICS_TOKEN.into());
    })
    .await
    else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    // Only the token opens it.
    let none = scrape(&app, &app.address, None, None).await;
    none.problem(401);
    assert!(none.headers.contains_key("www-authenticate"));
    let wrong = scrape(
        &app,
        &app.address,
        Some("metrics-token-for-the-tests-9999"),
        None,
    )
    .await;
    wrong.problem(401);
    let jwt = scrape(&app, &app.address, Some(&admin()), None).await;
    jwt.problem(401);
    assert!(!wrong.text.contains(METRICS_TOKEN) && !wrong.text.contains("9999"));

    // Some requests, and one webhook delivery to a receiver on loopback.
    let receiver = Receiver::start().await;
    app.processor("p1").await;
    let hook = app
        .post(
            "/v1/processors/p1/webhooks",
            Some(&processor("p1")),
            &json!({"url": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let whid = hook.json()["id"].as_str().expect("id").to_string();
    app.seed("p1", &json!([azure()])).await;
    receiver
        .wait_for("one delivery", |all| {
            all.iter().any(|r| (200..300).contains(&r.answered))
        })
        .await;
    let mut recorded = false;
    for _ in 0..200 {
        let log = app
            .get(
                &format!("/v1/processors/p1/webhooks/{whid}/deliveries"),
                Some(&processor("p1")),
            )
            .await
            .json();
        if log["items"][0]["state"] == "succeeded" {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recorded, "the delivery was recorded as succeeded");
    for _ in 0..2 {
        assert_eq!(app.get("/v1/processors/p1", None).await.status, 200);
    }
    assert_eq!(app.get("/no/such/path-4711", None).await.status, 404);

    let first = scrape(&app, &app.address, Some(METRICS_TOKEN), None).await;
    let metrics = parsed(&first);
    for (family, kind) in [
        ("subreg_http_requests_total", PrometheusType::Counter),
        (
            "subreg_http_request_duration_seconds",
            PrometheusType::Histogram,
        ),
        ("subreg_webhook_deliveries_total", PrometheusType::Counter),
        (
            "subreg_webhook_attempt_duration_seconds",
            PrometheusType::Histogram,
        ),
        ("subreg_webhook_outbox_deliveries", PrometheusType::Gauge),
        (
            "subreg_webhook_outbox_oldest_due_age_seconds",
            PrometheusType::Gauge,
        ),
        ("subreg_windows_open", PrometheusType::Gauge),
        ("subreg_windows_closing_within_24h", PrometheusType::Gauge),
        ("subreg_sweeper_lag_seconds", PrometheusType::Gauge),
        ("subreg_db_pool_connections", PrometheusType::Gauge),
        ("subreg_db_pool_max_connections", PrometheusType::Gauge),
        ("subreg_db_pool_wait_seconds", PrometheusType::Histogram),
        ("subreg_db_pool_timeouts_total", PrometheusType::Counter),
        ("subreg_metrics_database_up", PrometheusType::Gauge),
    ] {
        assert_eq!(
            family_type(&metrics, family),
            Some(kind),
            "{family} in\n{}",
            first.text
        );
    }
    // Requests by route template; an unmatched path is counted under a fixed label.
    let before = value(&metrics, "subreg_http_requests_total", &GET_PROCESSOR).expect("counted");
    assert!(before >= 2.0, "{before}");
    let latency = value(
        &metrics,
        "subreg_http_request_duration_seconds",
        &[("route", "/v1/processors/{pid}"), ("method", "GET")],
    );
    assert!(latency.is_some_and(|n| n >= 2.0), "{latency:?}");
    assert_eq!(
        value(
            &metrics,
            "subreg_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert!(!first.text.contains("4711"), "no raw path as a label");
    assert!(!first.text.contains(METRICS_TOKEN));
    // The delivery, counted by the dispatcher; the outbox as the database has it.
    assert_eq!(
        value(
            &metrics,
            "subreg_webhook_deliveries_total",
            &[("outcome", "sent")]
        ),
        Some(1.0)
    );
    let db = outbox_in_db(&app);
    assert_eq!(in_db(&db, "succeeded"), 1.0, "{db:?}");
    let outbox = |state| {
        value(
            &metrics,
            "subreg_webhook_outbox_deliveries",
            &[("state", state)],
        )
    };
    assert_eq!(outbox("succeeded"), Some(in_db(&db, "succeeded")));
    assert_eq!(outbox("failed"), Some(in_db(&db, "failed")));
    assert_eq!(
        outbox("pending").zip(outbox("leased")).map(|(a, b)| a + b),
        Some(in_db(&db, "pending"))
    );
    assert_eq!(
        value(&metrics, "subreg_metrics_database_up", &[]),
        Some(1.0)
    );
    assert_eq!(value(&metrics, "subreg_windows_open", &[]), Some(0.0));
    assert_eq!(
        value(&metrics, "subreg_sweeper_lag_seconds", &[]),
        Some(0.0)
    );
    assert!(value(&metrics, "subreg_db_pool_wait_seconds", &[]).is_some_and(|n| n > 0.0));
    assert_eq!(
        value(&metrics, "subreg_db_pool_max_connections", &[]),
        Some(4.0)
    );

    // The counter for the route went up by the one request made since.
    assert_eq!(app.get("/v1/processors/p1", None).await.status, 200);
    let second = parsed(&scrape(&app, &app.address, Some(METRICS_TOKEN), None).await);
    assert_eq!(
        value(&second, "subreg_http_requests_total", &GET_PROCESSOR),
        Some(before + 1.0)
    );

    // Prometheus asks for OpenMetrics first, and gets it.
    let open = scrape(
        &app,
        &app.address,
        Some(METRICS_TOKEN),
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(open.status, 200);
    assert!(
        open.content_type()
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        open.content_type()
    );
    let open_metrics = openmetrics_parser::openmetrics::parse_openmetrics(&open.text)
        .unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{}", open.text));
    assert!(open_metrics.families.contains_key("subreg_http_requests"));
    assert!(open_metrics
        .families
        .contains_key("subreg_webhook_outbox_deliveries"));

    // The database's part fails (a table it reads is gone): the scrape still answers, with the
    // in-process metrics and `database_up 0`.
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("conn");
    diesel::sql_query("ALTER TABLE objection_windows RENAME TO objection_windows_away")
        .execute(&mut conn)
        .expect("rename");
    let down = scrape(&app, &app.address, Some(METRICS_TOKEN), None).await;
    let down_metrics = parsed(&down);
    assert_eq!(
        value(&down_metrics, "subreg_metrics_database_up", &[]),
        Some(0.0)
    );
    assert!(value(&down_metrics, "subreg_http_requests_total", &GET_PROCESSOR).is_some());
    assert_eq!(family_type(&down_metrics, "subreg_windows_open"), None);
    assert_eq!(
        family_type(&down_metrics, "subreg_webhook_outbox_deliveries"),
        None
    );
}

async fn metrics_on_their_own_listener(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.metrics_bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await
    else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let listener = app.metrics_address.clone().expect("a metrics listener");
    assert_ne!(listener, app.address);
    // Not on the public port, with or without a token.
    app.get("/metrics", None).await.problem(404);
    scrape(&app, &app.address, Some(METRICS_TOKEN), None)
        .await
        .problem(404);
    // Only /metrics on the listener.
    let other = app
        .send(app.client.get(format!("{listener}/v1/processors")))
        .await;
    other.problem(404);

    app.processor("p1").await;
    assert_eq!(app.get("/v1/processors/p1", None).await.status, 200);
    let metrics = parsed(&scrape(&app, &listener, None, None).await);
    assert_eq!(
        value(&metrics, "subreg_http_requests_total", &GET_PROCESSOR),
        Some(1.0)
    );
    assert_eq!(
        value(
            &metrics,
            "subreg_http_requests_total",
            &[
                ("route", "/v1/processors"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics, "subreg_metrics_database_up", &[]),
        Some(1.0)
    );
    let db = outbox_in_db(&app);
    assert_eq!(
        value(
            &metrics,
            "subreg_webhook_outbox_deliveries",
            &[("state", "succeeded")]
        ),
        Some(in_db(&db, "succeeded"))
    );

    // Windows: one opens with a 7-day notice; 12 hours before its deadline it closes within 24 hours.
    app.controller("c1").await;
    app.agreement("c1", "p1", general_terms(7)).await;
    app.announce_addition("p1", &eea_entry("Logging ApS")).await;
    let windows = |m: &Exposition| {
        (
            value(m, "subreg_windows_open", &[]),
            value(m, "subreg_windows_closing_within_24h", &[]),
        )
    };
    let opened = parsed(&scrape(&app, &listener, None, None).await);
    assert_eq!(windows(&opened), (Some(1.0), Some(0.0)));
    // To 12 hours before the deadline.
    let closes_at = app.windows("c1").await[0]["closes_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("closes_at");
    let now = app.get("/v1/admin/clock", Some(&admin())).await.json()["now"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("now");
    let ahead = (closes_at - now).num_seconds() - 12 * 3600;
    app.advance(&format!("PT{ahead}S")).await;
    let week_later = parsed(&scrape(&app, &listener, None, None).await);
    assert_eq!(windows(&week_later), (Some(1.0), Some(1.0)));
    assert_eq!(
        value(&week_later, "subreg_sweeper_lag_seconds", &[]),
        Some(0.0)
    );
}

/// Work waiting: deliveries no dispatcher sends, and a window whose deadline passed while the
/// sweeper sleeps. The gauges say how long the oldest has waited.
async fn waiting_work_shows_as_age_and_lag(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.metrics_token = Some(METRICS_TOKEN.into());
        s.webhooks.dispatcher = false;
        s.sweep_interval = Duration::from_secs(3600);
    })
    .await
    else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    app.processor("p1").await;
    let hook = app
        .post(
            "/v1/processors/p1/webhooks",
            Some(&processor("p1")),
            &json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    app.controller("c1").await;
    app.agreement("c1", "p1", general_terms(7)).await;
    app.announce_addition("p1", &eea_entry("Logging ApS")).await;
    // The announcement woke the sweeper; let it finish that pass (nothing is due yet) before
    // the deadline is moved behind its back, or a late pass would close the window between
    // the scrape and the database read below.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The deadline passed an hour ago; the oldest delivery has been due for two.
    let now = chrono::Utc::now().naive_utc();
    {
        use subreg::store::schema::{objection_windows, webhook_deliveries};
        let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
        let mut conn = pool.get().expect("conn");
        diesel::update(objection_windows::table)
            .set(objection_windows::closes_at.eq(now - chrono::Duration::hours(1)))
            .execute(&mut conn)
            .expect("deadline moved");
        diesel::update(webhook_deliveries::table)
            .set(webhook_deliveries::next_attempt_at.eq(now - chrono::Duration::hours(2)))
            .execute(&mut conn)
            .expect("due time moved");
    }
    let metrics = parsed(&scrape(&app, &app.address, Some(METRICS_TOKEN), None).await);
    let db = outbox_in_db(&app);
    assert!(in_db(&db, "pending") >= 1.0, "{db:?}");
    let outbox = |state| {
        value(
            &metrics,
            "subreg_webhook_outbox_deliveries",
            &[("state", state)],
        )
    };
    assert_eq!(outbox("pending"), Some(in_db(&db, "pending")));
    assert_eq!(outbox("leased"), Some(0.0));
    let within = |family: &str, seconds: f64| {
        let v = value(&metrics, family, &[]).unwrap_or(-1.0);
        assert!((seconds..seconds + 120.0).contains(&v), "{family} = {v}");
    };
    within("subreg_webhook_outbox_oldest_due_age_seconds", 7200.0);
    within("subreg_sweeper_lag_seconds", 3600.0);
    assert_eq!(value(&metrics, "subreg_windows_open", &[]), Some(1.0));
}

for_both_backends!(waiting_work_shows_as_age_and_lag);

/// Both settings: the listener serves /metrics, and asks for the token there too.
async fn a_token_guards_the_listener_too(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.metrics_bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        s.metrics_token = Some(METRICS_TOKEN.into());
    })
    .await
    else {
        eprintln!("SUBREG_TEST_POSTGRES_URL not set: PostgreSQL run skipped");
        return;
    };
    let listener = app.metrics_address.clone().expect("a metrics listener");
    scrape(&app, &listener, None, None).await.problem(401);
    scrape(
        &app,
        &listener,
        Some("metrics-token-for-the-tests-9999"),
        None,
    )
    .await
    .problem(401);
    scrape(&app, &app.address, Some(METRICS_TOKEN), None)
        .await
        .problem(404);
    let metrics = parsed(&scrape(&app, &listener, Some(METRICS_TOKEN), None).await);
    assert_eq!(
        value(&metrics, "subreg_metrics_database_up", &[]),
        Some(1.0)
    );
}

for_both_backends!(a_token_guards_the_listener_too);

/// Neither setting: /metrics is not served at all.
async fn no_metrics_without_a_setting(app: TestApp) {
    assert!(app.metrics_address.is_none());
    app.get("/metrics", None).await.problem(404);
}

on_both_backends!(no_metrics_without_a_setting);

for_both_backends!(metrics_with_a_token_on_the_public_port);

for_both_backends!(metrics_on_their_own_listener);
