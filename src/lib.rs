//! subreg: a sub-processor registry with a change-notification feed (GDPR Art. 28).
//!
//! Layers point one way: `http` → `domain` ← `store`; `http` calls `store` for persistence.

pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
/// Property tests of every validator and parser a request reaches (no panic, field errors).
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod store;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{middleware, web, App, HttpServer};
use clock::Clock;
use config::Settings;
use std::net::TcpListener;

/// A built, bound, not yet running server; `port()` tells tests where it listens.
pub struct Application {
    port: u16,
    server: Server,
    /// The webhook dispatcher's stop signal and task, stopped after the server.
    dispatcher: Option<(
        notify::dispatcher::StopSender,
        actix_web::rt::task::JoinHandle<()>,
    )>,
    /// The mailer's stop signal and task (with SUBREG_SMTP_URL), stopped after the server.
    mailer: Option<(
        notify::dispatcher::StopSender,
        actix_web::rt::task::JoinHandle<()>,
    )>,
    /// The separate /metrics listener (SUBREG_METRICS_BIND), stopped after the server.
    metrics_server: Option<Server>,
    metrics_port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

impl Application {
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        let verifier =
            http::auth::TokenVerifier::from_settings(&settings).map_err(StartError::Config)?;
        let metrics = std::sync::Arc::new(metrics::Metrics::new());
        let pool = store::db::connect_observed(
            &settings.database_url,
            settings.pool_size,
            Some(Box::new(metrics::PoolEvents(metrics.clone()))),
        )?;
        let clock = if settings.test_clock {
            log::warn!("SUBREG_TEST_CLOCK is on: POST /v1/admin/clock moves time; never use this in production");
            let mut conn = pool.get().map_err(store::StoreError::from)?;
            Clock::test(store::clock::load_offset(&mut conn)?)
        } else {
            Clock::System
        };
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartError::Bind {
            bind: settings.bind.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                bind: settings.bind.to_string(),
                source,
            })?
            .port();
        let public_url = if settings.bind.port() == 0 {
            format!("http://{}:{port}", settings.bind.ip())
        } else {
            settings.public_url.clone()
        };
        let log_signer = std::sync::Arc::new(
            store::log::load_signer(
                settings.log_key.as_deref(),
                &store::db::DatabaseTarget::parse(&settings.database_url)?,
                &public_url,
                settings.log_previous_keys.clone(),
            )
            .map_err(StartError::Config)?,
        );
        {
            // Events written without a key (`subreg demo`) or before the log existed get their
            // leaves and a signed checkpoint now.
            let mut conn = pool.get().map_err(store::StoreError::from)?;
            store::log::catch_up(&mut conn, &log_signer, clock.now())?;
        }
        let wake = std::sync::Arc::new(tokio::sync::Notify::new());
        actix_web::rt::spawn(
            notify::sweeper::Sweeper {
                pool: pool.clone(),
                clock: clock.clone(),
                interval: settings.sweep_interval,
                batch: settings.sweep_batch,
                wake: wake.clone(),
                log: log_signer.clone(),
                reminder_days: settings.mail.reminder_days.clone(),
            }
            .run_until_stopped(),
        );
        let dispatcher = if settings.webhooks.dispatcher {
            let dispatcher = notify::Dispatcher::new(
                pool.clone(),
                clock.clone(),
                settings.webhooks.clone(),
                settings.sweep_interval,
            )
            .map_err(StartError::Config)?
            .with_metrics(metrics.clone())
            .with_log_signer(log_signer.clone());
            let (stop, stopped) = notify::dispatcher::stop_signal();
            Some((
                stop,
                actix_web::rt::spawn(dispatcher.run_until_stopped(stopped)),
            ))
        } else {
            None
        };
        let mailer = match notify::mail::Mailer::new(
            pool.clone(),
            clock.clone(),
            settings.mail.clone(),
            settings.public_url.clone(),
            settings.sweep_interval,
        )
        .map_err(StartError::Config)?
        {
            Some(mailer) => {
                let (stop, stopped) = notify::dispatcher::stop_signal();
                let mailer = mailer.with_log_signer(log_signer.clone());
                Some((
                    stop,
                    actix_web::rt::spawn(mailer.run_until_stopped(stopped)),
                ))
            }
            None => None,
        };
        let webhook_settings = web::Data::new(settings.webhooks.clone());
        let webhook_policy = web::Data::new(notify::ssrf::Policy {
            allow_http: settings.webhooks.allow_http,
            allow_private: settings.webhooks.allow_private,
        });
        let state = web::Data::new(http::AppState {
            pool,
            clock,
            public_url,
            sweeper: wake,
            sweep_batch: settings.sweep_batch,
            reaction_time: settings.reaction(),
            feed_cache: http::feeds::cache(),
            write_gate: store::db::DatabaseTarget::parse(&settings.database_url)?
                .is_sqlite()
                .then(http::gate::sqlite_writers),
            metrics,
            log: log_signer,
        });
        let (metrics_server, metrics_port) = match settings.metrics_bind {
            Some(bind) => {
                let bound = |source| StartError::Bind {
                    bind: bind.to_string(),
                    source,
                };
                let listener = TcpListener::bind(bind).map_err(bound)?;
                let port = listener.local_addr().map_err(bound)?.port();
                let server = http::metrics::listener_server(
                    listener,
                    state.clone(),
                    settings.metrics_token.clone(),
                )
                .map_err(bound)?;
                (Some(server), Some(port))
            }
            None => (None, None),
        };
        let metrics_exposure = web::Data::new(http::metrics::Exposure::public_port(
            settings.metrics_bind.is_some(),
            settings.metrics_token.clone(),
        ));
        if let Some(jwks) = verifier.jwks() {
            actix_web::rt::spawn(jwks.run_until_stopped());
        }
        let verifier = web::Data::new(verifier);
        let idempotency = web::Data::new(http::idempotency::Idempotency::default());
        let test_clock = settings.test_clock;
        let server = HttpServer::new(move || {
            // The last `wrap` is the outermost: observe (request id, access log) sees all.
            App::new()
                .wrap(middleware::from_fn(http::gate::gate))
                // Before the gate: a retry of a running request is told so at once.
                .wrap(middleware::from_fn(http::idempotency::idempotency))
                .wrap(middleware::from_fn(http::guard::guard))
                .wrap(middleware::from_fn(http::cors::cors))
                .wrap(
                    middleware::DefaultHeaders::new()
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
                )
                .wrap(middleware::from_fn(http::encoding::small_bodies))
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(http::encoding::etags))
                .wrap(middleware::from_fn(http::observe::observe))
                .app_data(state.clone())
                .app_data(verifier.clone())
                .app_data(idempotency.clone())
                .app_data(webhook_policy.clone())
                .app_data(webhook_settings.clone())
                .app_data(metrics_exposure.clone())
                .configure(|cfg| {
                    http::register(cfg, test_clock);
                })
                .default_service(web::to(http::no_route))
        })
        .listen(listener)
        .map_err(|source| StartError::Bind {
            bind: settings.bind.to_string(),
            source,
        })?
        .run();
        Ok(Application {
            port,
            server,
            dispatcher,
            mailer,
            metrics_server,
            metrics_port,
        })
    }

    /// Stops the server from elsewhere (tests stop theirs when they end).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate /metrics listener, when SUBREG_METRICS_BIND set one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until the server stops (SIGTERM, SIGINT or `handle().stop`), then stops the
    /// webhook dispatcher: no new claims, sends in flight finished or handed back.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|server| {
            let handle = server.handle();
            (handle, actix_web::rt::spawn(server))
        });
        let served = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        if let Some((stop, task)) = self.dispatcher {
            let _ = stop.send(true);
            let _ = task.await;
        }
        if let Some((stop, task)) = self.mailer {
            let _ = stop.send(true);
            let _ = task.await;
        }
        served
    }
}
