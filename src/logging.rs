//! Log output: env_logger with a text or a JSON line format (`SUBREG_LOG_FORMAT`). The id of
//! the request being handled rides along on every line written while handling it, and the
//! access line carries the request's fields (method, route template, status, latency).
//!
//! Nothing here decides what is secret: callers log no secret (the access line's request line
//! comes from `http::log_line`, which redacts the feed token; headers are never logged).

use crate::config::LogFormat;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::future::Future;
use std::io::Write;

/// The target of access lines, one per request.
pub const ACCESS_TARGET: &str = "subreg::access";

tokio::task_local! {
    static REQUEST_ID: String;
}

thread_local! {
    /// The fields of the access line being written on this thread, set only around that call.
    static ACCESS: RefCell<Option<AccessFields>> = const { RefCell::new(None) };
}

/// Runs `work` as the handling of request `id`: log lines written inside carry the id, and
/// problems rendered inside name it.
pub async fn in_request<F: Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request being handled by the current task, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// What the access line says about a request besides its message.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessFields {
    pub request_id: String,
    pub method: String,
    /// The route template (`/v1/processors/{pid}`); `None` when no route matched.
    pub route: Option<String>,
    pub status: u16,
    pub latency_ms: f64,
}

/// Writes the access line of one request.
pub fn access(fields: AccessFields, message: &str) {
    let _ = ACCESS.try_with(|slot| slot.replace(Some(fields)));
    log::info!(target: ACCESS_TARGET, "{message}");
    let _ = ACCESS.try_with(|slot| slot.replace(None));
}

fn current_access() -> Option<AccessFields> {
    ACCESS
        .try_with(|slot| slot.try_borrow().ok().and_then(|fields| fields.clone()))
        .ok()
        .flatten()
}

/// One JSON log line (without the newline), members in a fixed order (time first); serde_json
/// escapes every string, so a message with quotes or line breaks stays one line.
pub fn json_line(
    time: DateTime<Utc>,
    level: log::Level,
    target: &str,
    message: &str,
    request_id: Option<&str>,
    access: Option<&AccessFields>,
) -> String {
    let mut members: Vec<(&str, Value)> = vec![
        (
            "time",
            json!(time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        ),
        ("level", json!(level.as_str())),
        ("target", json!(target)),
        ("message", json!(message)),
    ];
    if let Some(id) = access.map(|a| a.request_id.as_str()).or(request_id) {
        members.push(("request_id", json!(id)));
    }
    if let Some(access) = access {
        members.push(("method", json!(access.method)));
        members.push(("route", json!(access.route)));
        members.push(("status", json!(access.status)));
        members.push((
            "latency_ms",
            json!((access.latency_ms * 1000.0).round() / 1000.0),
        ));
    }
    let members: Vec<String> = members
        .into_iter()
        .map(|(name, value)| format!("{}:{value}", json!(name)))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// Installs the global logger: `filter` is an env_logger filter (`SUBREG_LOG`).
pub fn init(filter: &str, format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filter);
    match format {
        LogFormat::Json => {
            builder.format(|buf, record| {
                let access = (record.target() == ACCESS_TARGET)
                    .then(current_access)
                    .flatten();
                let line = json_line(
                    Utc::now(),
                    record.level(),
                    record.target(),
                    &record.args().to_string(),
                    request_id().as_deref(),
                    access.as_ref(),
                );
                writeln!(buf, "{line}")
            });
            // A panic's message would otherwise be the one line of stderr that is not JSON.
            std::panic::set_hook(Box::new(|info| {
                log::error!(target: "panic", "{info}");
            }));
        }
        LogFormat::Text => {
            builder.format(|buf, record| {
                let id = match (record.target() == ACCESS_TARGET)
                    .then(current_access)
                    .flatten()
                {
                    Some(access) => Some(access.request_id),
                    None => request_id(),
                };
                let suffix = id.map(|id| format!(" request_id={id}")).unwrap_or_default();
                writeln!(
                    buf,
                    "[{} {:<5} {}] {}{suffix}",
                    buf.timestamp(),
                    record.level(),
                    record.target(),
                    record.args()
                )
            });
        }
    }
    builder.init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_the_request_and_escape_everything() {
        let time = DateTime::from_timestamp(1_790_000_000, 123_000_000).unwrap_or_default();
        let access = AccessFields {
            request_id: "req-1".into(),
            method: "GET".into(),
            route: Some("/v1/processors/{pid}".into()),
            status: 404,
            latency_ms: 1.234_567,
        };
        let line = json_line(
            time,
            log::Level::Info,
            ACCESS_TARGET,
            "GET /x \"quoted\"\nnext",
            None,
            Some(&access),
        );
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("{\"time\":\"2026-09-21T14:13:20.123Z\",\"level\""),
            "{line}"
        );
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(value["time"], "2026-09-21T14:13:20.123Z");
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["target"], ACCESS_TARGET);
        assert_eq!(value["message"], "GET /x \"quoted\"\nnext");
        assert_eq!(value["request_id"], "req-1");
        assert_eq!(value["route"], "/v1/processors/{pid}");
        assert_eq!(value["status"], 404);
        assert_eq!(value["latency_ms"], 1.235);
        let other = json_line(
            time,
            log::Level::Error,
            "subreg::http::error",
            "internal error: x",
            Some("req-2"),
            None,
        );
        let value: Value = serde_json::from_str(&other).unwrap_or_default();
        assert_eq!(value["request_id"], "req-2");
        assert!(value.get("status").is_none());
    }

    #[actix_web::test]
    async fn the_request_id_is_known_inside_the_request_only() {
        assert_eq!(request_id(), None);
        let inside = in_request("abc".into(), async { request_id() }).await;
        assert_eq!(inside.as_deref(), Some("abc"));
        assert_eq!(request_id(), None);
    }
}
