//! Settings from `SUBREG_*` environment variables, with the defaults the README documents.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

/// Every setting, typed. Secrets are kept out of `Debug` output.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: SocketAddr,
    pub jwt_secret: Option<String>,
    pub jwt_public_key_pem: Option<String>,
    pub jwt_issuer: String,
    /// The longest token lifetime (`exp - iat`) accepted, and minted by `subreg token`.
    pub jwt_max_lifetime_secs: i64,
    /// Tokens from an identity provider: RS256/ES256 verified against this JWKS.
    pub jwt: IdentityProviderSettings,
    pub test_clock: bool,
    pub pool_size: u32,
    pub public_url: String,
    pub sweep_interval: Duration,
    pub sweep_batch: i64,
    /// `SUBREG_REACTION_TIME_SECS`: how long after the last window of a change closes its
    /// `planned_from` may come at the earliest, so the processor can answer a refusal.
    pub reaction_time: Duration,
    pub webhooks: WebhookSettings,
    pub mail: MailSettings,
    /// `SUBREG_LOG_FORMAT`: `text` (default) or `json`, one object per line.
    pub log_format: LogFormat,
    /// `SUBREG_METRICS_BIND`: serve /metrics on this address only (not on the public port).
    pub metrics_bind: Option<SocketAddr>,
    /// `SUBREG_METRICS_TOKEN`: /metrics needs `Authorization: Bearer <token>`; without
    /// SUBREG_METRICS_BIND this also turns /metrics on on the public port.
    pub metrics_token: Option<String>,
    /// `SUBREG_LOG_KEY`: the file with the evidence log's signing key (`subreg keygen`).
    pub log_key: Option<std::path::PathBuf>,
    /// `SUBREG_LOG_PREVIOUS_KEYS`: verifier keys of earlier log keys, comma-separated; still
    /// published so checkpoints they signed verify.
    pub log_previous_keys: Vec<String>,
}

/// How log lines are written (`SUBREG_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(text: &str) -> Option<LogFormat> {
        match text {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Tokens from an identity provider (the `SUBREG_JWT_JWKS_*`, `SUBREG_JWT_*_CLAIM` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProviderSettings {
    /// The JWKS URL: https, or http to a loopback address (tests). When set, tokens are
    /// verified only against its keys (RS256, ES256).
    pub jwks_url: Option<String>,
    /// The keys are fetched again this often.
    pub jwks_refresh: Duration,
    /// A token naming an unknown `kid` fetches the keys again, at most once per this interval.
    pub jwks_min_refresh: Duration,
    /// The `aud` a token must carry.
    pub audience: String,
    /// The claim with the role: a name, or a dotted path such as `realm_access.roles`.
    pub role_claim: String,
    /// Role values are `<prefix>admin`, `<prefix>processor`, `<prefix>controller`.
    pub role_prefix: String,
    /// The claim with the org: a name or a dotted path.
    pub org_claim: String,
}

/// How webhooks are delivered (the `SUBREG_WEBHOOK_*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Run the dispatcher in `serve` (SUBREG_WEBHOOK_DISPATCHER=0 turns it off).
    pub dispatcher: bool,
    /// Accept `http://` endpoint URLs (on-premise or tests); https only by default.
    pub allow_http: bool,
    /// Lift the SSRF address check (loopback, private, link-local, ...): tests and on-premise.
    pub allow_private: bool,
    /// Delay before each retry; after the last one the delivery is `failed`.
    pub retry_schedule: Vec<Duration>,
    pub timeout: Duration,
    /// Requests in flight at once per process.
    pub concurrency: usize,
    /// Requests in flight at once per process to one endpoint, so a hanging receiver cannot
    /// take every slot.
    pub per_endpoint_concurrency: usize,
    /// Endpoints one processor or controller may register.
    pub max_endpoints: usize,
    /// At shutdown, how long sends in flight may take to finish before they are cancelled and
    /// their deliveries handed back (due again at once).
    pub shutdown_grace: Duration,
    /// Deliveries claimed per claim transaction.
    pub batch_size: i64,
    /// How long a claim holds a delivery; a crashed instance's claims come due again after it.
    pub lease: Duration,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
}

/// How e-mail notices are sent (`SUBREG_SMTP_URL`, `SUBREG_MAIL_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// `SUBREG_SMTP_URL`: lettre's URL form, `smtp://host:port` (plain), `smtp://...?tls=required`
    /// (STARTTLS), `smtps://host` (TLS), `user:password@` for AUTH. Without it no e-mail is
    /// sent: the outbox rows wait until a server is configured. Never logged (it may hold a
    /// password).
    pub smtp_url: Option<String>,
    /// `SUBREG_MAIL_FROM`: the From address, e.g. `subreg <notices@example.com>`.
    pub from: String,
    /// `SUBREG_MAIL_RETRY_SCHEDULE_MS`: delay before each retry of a transient failure (4xx,
    /// no connection); after the last one the notice is recorded as failed.
    pub retry_schedule: Vec<Duration>,
    /// `SUBREG_MAIL_LEASE_MS`: how long a claim holds a message (real time).
    pub lease: Duration,
    /// `SUBREG_MAIL_TIMEOUT_MS`: the SMTP conversation's timeout.
    pub timeout: Duration,
    /// `SUBREG_REMINDER_DAYS`: reminders go this many days before an open window's deadline
    /// (default 7 and 1; `none` turns them off).
    pub reminder_days: Vec<u32>,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("from", &self.from)
            .field("retry_schedule", &self.retry_schedule)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .field("reminder_days", &self.reminder_days)
            .finish()
    }
}

/// 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, 24 h, 24 h: about three days.
pub const DEFAULT_MAIL_RETRY_SCHEDULE_MS: [u64; 11] = [
    30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 43_200_000,
    86_400_000, 86_400_000,
];

/// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_RETRY_SCHEDULE_MS: [u64; 7] = [
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field(
                "jwt_public_key",
                &self.jwt_public_key_pem.as_ref().map(|_| "<set>"),
            )
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_max_lifetime_secs", &self.jwt_max_lifetime_secs)
            .field("jwt", &self.jwt)
            .field("test_clock", &self.test_clock)
            .field("pool_size", &self.pool_size)
            .field("public_url", &self.public_url)
            .field("sweep_interval", &self.sweep_interval)
            .field("sweep_batch", &self.sweep_batch)
            .field("reaction_time", &self.reaction_time)
            .field("webhooks", &self.webhooks)
            .field("mail", &self.mail)
            .field("log_format", &self.log_format)
            .field("metrics_bind", &self.metrics_bind)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

/// Hides a password in a database URL before it reaches a log.
pub(crate) fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Minimum length of an HS256 secret: shorter ones can be brute-forced offline from one token.
pub const MIN_SECRET_LEN: usize = 32;

/// Minimum length of the metrics bearer token.
pub const MIN_METRICS_TOKEN_LEN: usize = 16;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://subreg.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// One day: a leaked token is of use for a day at most.
pub const DEFAULT_JWT_MAX_LIFETIME_SECS: u64 = 86_400;

/// One day for the processor to answer a refusal before its change may become effective.
pub const DEFAULT_REACTION_TIME_SECS: u64 = 86_400;
const MAX_REACTION_TIME_SECS: u64 = 31_536_000;

impl Settings {
    /// The reaction time as the domain counts it.
    pub fn reaction(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.reaction_time).unwrap_or(chrono::Duration::days(1))
    }

    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let bind_text = get("SUBREG_BIND").unwrap_or_else(|| DEFAULT_BIND.into());
        let bind: SocketAddr = bind_text.parse().map_err(|_| ConfigError {
            name: "SUBREG_BIND",
            message: format!("`{bind_text}` is not host:port, e.g. 127.0.0.1:8080"),
        })?;
        let jwt_secret = get("SUBREG_JWT_SECRET");
        if let Some(secret) = &jwt_secret {
            if secret.len() < MIN_SECRET_LEN {
                return Err(ConfigError {
                    name: "SUBREG_JWT_SECRET",
                    message: format!("must be at least {MIN_SECRET_LEN} characters"),
                });
            }
        }
        let jwt_public_key_pem = match get("SUBREG_JWT_PUBLIC_KEY") {
            None => None,
            Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| ConfigError {
                name: "SUBREG_JWT_PUBLIC_KEY",
                message: format!("cannot read the PEM file `{path}`: {e}"),
            })?),
        };
        let jwt_max_lifetime = parse_number(
            &get,
            "SUBREG_JWT_MAX_LIFETIME_SECS",
            DEFAULT_JWT_MAX_LIFETIME_SECS,
        )?;
        let pool_size = parse_number(&get, "SUBREG_POOL_SIZE", 8)?;
        let sweep_ms = parse_number(&get, "SUBREG_SWEEP_INTERVAL_MS", 1_000)?;
        let sweep_batch = parse_number(
            &get,
            "SUBREG_SWEEP_BATCH",
            crate::store::lifecycle::DEFAULT_SWEEP_BATCH as u64,
        )?;
        let reaction_secs = parse_number(
            &get,
            "SUBREG_REACTION_TIME_SECS",
            DEFAULT_REACTION_TIME_SECS,
        )?;
        if reaction_secs > MAX_REACTION_TIME_SECS {
            return Err(ConfigError {
                name: "SUBREG_REACTION_TIME_SECS",
                message: format!("must be at most {MAX_REACTION_TIME_SECS} (one year)"),
            });
        }
        let public_url = get("SUBREG_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_string();
        let log_format = match get("SUBREG_LOG_FORMAT") {
            None => LogFormat::default(),
            Some(text) => LogFormat::parse(&text).ok_or(ConfigError {
                name: "SUBREG_LOG_FORMAT",
                message: format!("`{text}` is neither `text` nor `json`"),
            })?,
        };
        let metrics_bind = match get("SUBREG_METRICS_BIND") {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| ConfigError {
                name: "SUBREG_METRICS_BIND",
                message: format!("`{text}` is not host:port, e.g. 127.0.0.1:9464"),
            })?),
        };
        let metrics_token = get("SUBREG_METRICS_TOKEN");
        if metrics_token
            .as_ref()
            .is_some_and(|t| t.len() < MIN_METRICS_TOKEN_LEN)
        {
            return Err(ConfigError {
                name: "SUBREG_METRICS_TOKEN",
                message: format!("must be at least {MIN_METRICS_TOKEN_LEN} characters"),
            });
        }
        Ok(Settings {
            database_url: get("SUBREG_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            bind,
            jwt_secret,
            jwt_public_key_pem,
            jwt_issuer: get("SUBREG_JWT_ISSUER").unwrap_or_else(|| "subreg".into()),
            jwt_max_lifetime_secs: i64::try_from(jwt_max_lifetime).unwrap_or(i64::MAX),
            jwt: identity_provider_settings(&get)?,
            test_clock: matches!(get("SUBREG_TEST_CLOCK").as_deref(), Some("1" | "true")),
            pool_size: pool_size as u32,
            public_url,
            sweep_interval: Duration::from_millis(sweep_ms),
            sweep_batch: sweep_batch.min(i64::MAX as u64) as i64,
            reaction_time: Duration::from_secs(reaction_secs),
            webhooks: webhook_settings(&get)?,
            mail: mail_settings(&get)?,
            log_format,
            metrics_bind,
            metrics_token,
            log_key: get("SUBREG_LOG_KEY").map(std::path::PathBuf::from),
            log_previous_keys: get("SUBREG_LOG_PREVIOUS_KEYS")
                .map(|keys| {
                    keys.split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &str, default: bool) -> bool {
    match get(name).as_deref() {
        None => default,
        Some(v) => matches!(v, "1" | "true" | "yes" | "on"),
    }
}

fn identity_provider_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<IdentityProviderSettings, ConfigError> {
    let jwks_url = get("SUBREG_JWT_JWKS_URL");
    if let Some(url) = &jwks_url {
        check_jwks_url(url).map_err(|message| ConfigError {
            name: "SUBREG_JWT_JWKS_URL",
            message,
        })?;
    }
    let claim = |name: &'static str, default: &str| -> Result<String, ConfigError> {
        let value = get(name).unwrap_or_else(|| default.into());
        if value.split('.').any(str::is_empty) {
            return Err(ConfigError {
                name,
                message: format!(
                    "`{value}` is not a claim name or a dotted path such as realm_access.roles"
                ),
            });
        }
        Ok(value)
    };
    Ok(IdentityProviderSettings {
        jwks_url,
        jwks_refresh: Duration::from_secs(parse_number(get, "SUBREG_JWT_JWKS_REFRESH_SECS", 300)?),
        jwks_min_refresh: Duration::from_secs(parse_number(
            get,
            "SUBREG_JWT_JWKS_MIN_REFRESH_SECS",
            10,
        )?),
        audience: get("SUBREG_JWT_AUDIENCE").unwrap_or_else(|| "subreg".into()),
        role_claim: claim("SUBREG_JWT_ROLE_CLAIM", "role")?,
        role_prefix: get("SUBREG_JWT_ROLE_PREFIX").unwrap_or_default(),
        org_claim: claim("SUBREG_JWT_ORG_CLAIM", "org")?,
    })
}

/// https anywhere; plain http only to a loopback address (a test IdP on 127.0.0.1).
fn check_jwks_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "`{text}` must use https (plain http only to 127.0.0.1, ::1 or localhost)"
        )),
        _ => Err(format!("`{text}` must be an https URL")),
    }
}

/// A retry schedule in milliseconds, comma-separated, or the default.
fn schedule(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &[u64],
) -> Result<Vec<Duration>, ConfigError> {
    match get(name) {
        None => Ok(default
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect()),
        Some(text) => text
            .split(',')
            .map(|part| part.trim().parse::<u64>().map(Duration::from_millis))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ConfigError {
                name,
                message: format!("`{text}` is not a comma-separated list of milliseconds"),
            }),
    }
}

fn mail_settings(get: &impl Fn(&str) -> Option<String>) -> Result<MailSettings, ConfigError> {
    let smtp_url = get("SUBREG_SMTP_URL");
    if let Some(url) = &smtp_url {
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(ConfigError {
                name: "SUBREG_SMTP_URL",
                message: format!(
                    "`{}` is not smtp://host:port or smtps://host:port",
                    redact_url(url)
                ),
            });
        }
    }
    let from = get("SUBREG_MAIL_FROM").unwrap_or_else(|| "subreg <subreg@localhost>".into());
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError {
            name: "SUBREG_MAIL_FROM",
            message: format!(
                "`{from}` is not an address (`Name <local@domain>` or `local@domain`)"
            ),
        });
    }
    let timeout = Duration::from_millis(parse_number(get, "SUBREG_MAIL_TIMEOUT_MS", 30_000)?);
    let lease = Duration::from_millis(parse_number(get, "SUBREG_MAIL_LEASE_MS", 120_000)?);
    if lease <= timeout {
        return Err(ConfigError {
            name: "SUBREG_MAIL_LEASE_MS",
            message: "must be longer than SUBREG_MAIL_TIMEOUT_MS, or a slow send loses its claim"
                .into(),
        });
    }
    let reminder_days = match get("SUBREG_REMINDER_DAYS") {
        None => vec![7, 1],
        Some(text) if text.trim() == "none" => Vec::new(),
        Some(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| part.parse::<u32>().ok().filter(|d| (1..=365).contains(d)))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| ConfigError {
                name: "SUBREG_REMINDER_DAYS",
                message: format!("`{text}` is not a comma-separated list of days (1 to 365)"),
            })?,
    };
    Ok(MailSettings {
        reminder_days,
        smtp_url,
        from,
        retry_schedule: schedule(
            get,
            "SUBREG_MAIL_RETRY_SCHEDULE_MS",
            &DEFAULT_MAIL_RETRY_SCHEDULE_MS,
        )?,
        lease,
        timeout,
    })
}

fn webhook_settings(get: &impl Fn(&str) -> Option<String>) -> Result<WebhookSettings, ConfigError> {
    let retry_schedule = schedule(
        get,
        "SUBREG_WEBHOOK_RETRY_SCHEDULE_MS",
        &DEFAULT_RETRY_SCHEDULE_MS,
    )?;
    let timeout = Duration::from_millis(parse_number(get, "SUBREG_WEBHOOK_TIMEOUT_MS", 15_000)?);
    let lease = Duration::from_millis(parse_number(get, "SUBREG_WEBHOOK_LEASE_MS", 60_000)?);
    if lease <= timeout {
        return Err(ConfigError {
            name: "SUBREG_WEBHOOK_LEASE_MS",
            message:
                "must be longer than SUBREG_WEBHOOK_TIMEOUT_MS, or a slow send loses its claim"
                    .into(),
        });
    }
    Ok(WebhookSettings {
        dispatcher: flag(get, "SUBREG_WEBHOOK_DISPATCHER", true),
        allow_http: flag(get, "SUBREG_WEBHOOK_ALLOW_HTTP", false),
        allow_private: flag(get, "SUBREG_WEBHOOK_ALLOW_PRIVATE", false),
        retry_schedule,
        timeout,
        concurrency: parse_number(get, "SUBREG_WEBHOOK_CONCURRENCY", 256)? as usize,
        per_endpoint_concurrency: parse_number(get, "SUBREG_WEBHOOK_PER_ENDPOINT_CONCURRENCY", 4)?
            as usize,
        max_endpoints: parse_number(get, "SUBREG_WEBHOOK_MAX_ENDPOINTS", 10)? as usize,
        shutdown_grace: Duration::from_millis(parse_number(
            get,
            "SUBREG_WEBHOOK_SHUTDOWN_GRACE_MS",
            5_000,
        )?),
        batch_size: parse_number(get, "SUBREG_WEBHOOK_BATCH_SIZE", 256)? as i64,
        lease,
        disable_after: Duration::from_secs(
            parse_number(get, "SUBREG_WEBHOOK_DISABLE_AFTER_HOURS", 120)? * 3600,
        ),
    })
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(ConfigError {
                name,
                message: format!("`{text}` is not a positive whole number"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_sane() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.database_url, "sqlite://subreg.db");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.jwt_issuer, "subreg");
        assert_eq!(s.jwt_max_lifetime_secs, 86_400);
        assert!(!s.test_clock);
        assert!(s.webhooks.dispatcher && !s.webhooks.allow_http && !s.webhooks.allow_private);
        assert_eq!(s.webhooks.retry_schedule.len(), 7);
        assert_eq!(s.webhooks.timeout, Duration::from_secs(15));
        assert_eq!(s.webhooks.per_endpoint_concurrency, 4);
        assert_eq!(s.webhooks.max_endpoints, 10);
        assert_eq!(s.webhooks.shutdown_grace, Duration::from_secs(5));
    }

    #[test]
    fn webhook_retry_schedule_is_read_in_milliseconds() {
        let s = settings(&[("SUBREG_WEBHOOK_RETRY_SCHEDULE_MS", "50, 100")]).expect("valid");
        assert_eq!(
            s.webhooks.retry_schedule,
            [Duration::from_millis(50), Duration::from_millis(100)]
        );
        assert!(settings(&[("SUBREG_WEBHOOK_RETRY_SCHEDULE_MS", "5s")]).is_err());
        assert!(settings(&[("SUBREG_WEBHOOK_LEASE_MS", "1000")]).is_err());
    }

    #[test]
    fn jwks_urls_are_https_or_loopback_http() {
        let ok = |url: &str| settings(&[("SUBREG_JWT_JWKS_URL", url)]).is_ok();
        assert!(ok(
            "https://idp.example.com/realms/x/protocol/openid-connect/certs"
        ));
        assert!(ok("http://127.0.0.1:8081/jwks"));
        assert!(ok("http://[::1]:8081/jwks"));
        assert!(ok("http://localhost/jwks"));
        assert!(!ok("http://idp.example.com/jwks"));
        assert!(!ok("http://10.0.0.1/jwks"));
        assert!(!ok("ftp://127.0.0.1/jwks"));
        assert!(!ok("not a url"));
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.jwt.audience, "subreg");
        assert_eq!(
            (s.jwt.role_claim.as_str(), s.jwt.org_claim.as_str()),
            ("role", "org")
        );
        assert!(settings(&[("SUBREG_JWT_ROLE_CLAIM", "realm_access..roles")]).is_err());
    }

    #[test]
    fn short_secrets_and_bad_binds_are_refused() {
        assert!(settings(&[("SUBREG_JWT_SECRET", "short")]).is_err());
        assert!(settings(&[("SUBREG_BIND", "localhost")]).is_err());
        assert!(settings(&[("SUBREG_POOL_SIZE", "0")]).is_err());
        assert!(settings(&[("SUBREG_JWT_MAX_LIFETIME_SECS", "0")]).is_err());
        assert!(settings(&[("SUBREG_JWT_MAX_LIFETIME_SECS", "1d")]).is_err());
        assert!(settings(&[("SUBREG_LOG_FORMAT", "xml")]).is_err());
        assert!(settings(&[("SUBREG_METRICS_BIND", "9464")]).is_err());
        assert!(settings(&[("SUBREG_METRICS_TOKEN", "short")]).is_err());
        assert_eq!(
            settings(&[("SUBREG_LOG_FORMAT", "json")])
                .map(|s| s.log_format)
                .ok(),
            Some(LogFormat::Json)
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = settings(&[
            (
                "SUBREG_JWT_SECRET",
                "a-very-long-secret-that-is-long-enough",
            ),
            ("SUBREG_DATABASE_URL", "postgres://user:pw@db/subreg"),
            ("SUBREG_METRICS_TOKEN", "metrics-token-never-shown"),
        ])
        .expect("valid");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("a-very-long-secret")
                && !shown.contains("pw@")
                && !shown.contains("never-shown"),
            "{shown}"
        );
    }
}
