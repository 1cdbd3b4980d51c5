use clap::{Parser, Subcommand};
use std::process::ExitCode;
use subreg::config::{LogFormat, Settings};
use subreg::http::auth::{mint_for, Role};
use subreg::{demo, store, Application};

/// subreg: sub-processor registry with a change-notification feed.
///
/// Configuration comes from SUBREG_* environment variables (see README).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (migrations run first).
    Serve {
        /// Load the demo data before serving.
        #[arg(long)]
        demo: bool,
    },
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Print a signed JWT for a role and organisation (HS256 with SUBREG_JWT_SECRET).
    Token {
        #[arg(long, value_enum)]
        role: Role,
        /// The processor or controller id the token acts for (any value for admin).
        #[arg(long, default_value = "subreg")]
        org: String,
        /// Lifetime in seconds; at most SUBREG_JWT_MAX_LIFETIME_SECS (default 86400).
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Load the demo data (the three seed agreements); loading twice changes nothing.
    Demo,
    /// Write a new Ed25519 key for signing the evidence log's checkpoints to PATH (never over
    /// an existing file) and print its verifier key; `serve` reads it from SUBREG_LOG_KEY.
    /// Check an evidence bundle (GET /v1/controllers/{cid}/evidence) offline: the checkpoint's
    /// signature, every leaf and inclusion proof, and with --against that the log only grew
    /// since an older bundle. Prints a report; exits non-zero on any failure.
    VerifyEvidence {
        bundle: std::path::PathBuf,
        /// What was held before (repeatable): an older bundle, a webhook body, a JSON array of
        /// webhook bodies, or one body per line. Each must still be in the bundle, unchanged,
        /// and every checkpoint it carries a prefix of the bundle's.
        #[arg(long)]
        against: Vec<std::path::PathBuf>,
        /// A verifier key to trust (repeatable), e.g. from /.well-known/subreg/log-keys: the
        /// checkpoint must be signed by one of them, not merely by a key the bundle names.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
    Keygen {
        path: std::path::PathBuf,
        /// The key's name; by default the host of SUBREG_PUBLIC_URL.
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("SUBREG_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    // An unknown format is reported by Settings::from_env below; until then, text.
    let format = std::env::var("SUBREG_LOG_FORMAT")
        .ok()
        .and_then(|text| LogFormat::parse(&text))
        .unwrap_or_default();
    subreg::logging::init(&filter, format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("subreg: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve { demo } => {
            if demo {
                load_demo(&settings)?;
            }
            serve(settings)
        }
        Command::Migrate => {
            store::connect(&settings.database_url, 1).map_err(|e| e.to_string())?;
            log::info!("schema is up to date");
            Ok(())
        }
        Command::Token { role, org, ttl } => {
            let secret = settings
                .jwt_secret
                .as_deref()
                .ok_or("set SUBREG_JWT_SECRET (at least 32 characters) to mint tokens")?;
            let max = settings.jwt_max_lifetime_secs;
            if ttl <= 0 || ttl > max {
                return Err(format!(
                    "--ttl {ttl} is outside 1..={max} seconds: the server refuses tokens that \
                     live longer than SUBREG_JWT_MAX_LIFETIME_SECS ({max})"
                ));
            }
            let token = mint_for(
                secret,
                &settings.jwt_issuer,
                &settings.jwt.audience,
                role,
                &org,
                ttl,
            )
            .map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
        Command::Demo => load_demo(&settings),
        Command::VerifyEvidence {
            bundle,
            against,
            keys,
        } => {
            let read = |path: &std::path::Path| -> Result<String, String> {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
            };
            let bundle: subreg::domain::evidence::Bundle = serde_json::from_str(&read(&bundle)?)
                .map_err(|e| format!("`{}` is not an evidence bundle: {e}", bundle.display()))?;
            let held = against
                .iter()
                .map(|path| {
                    subreg::domain::evidence::Held::parse(&read(path)?)
                        .map_err(|e| format!("`{}`: {e}", path.display()))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let report = subreg::domain::evidence::verify(&bundle, &held, &keys);
            for line in &report.checked {
                println!("ok: {line}");
            }
            for failure in &report.failures {
                println!("FAILED: {failure}");
            }
            if report.ok() {
                println!(
                    "evidence of `{}` in the log of `{}` verifies",
                    bundle.controller_id, bundle.processor_id
                );
                Ok(())
            } else {
                Err(format!("{} check(s) failed", report.failures.len()))
            }
        }
        Command::Keygen { path, name } => {
            let name = name.unwrap_or_else(|| store::log::public_host(&settings.public_url));
            let vkey = store::log::write_new_key(&path, &name)?;
            println!("{vkey}");
            Ok(())
        }
    }
}

fn load_demo(settings: &Settings) -> Result<(), String> {
    let pool = store::connect(&settings.database_url, 2).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let summary =
        demo::load(&mut conn, subreg::clock::Clock::System.now()).map_err(|e| e.to_string())?;
    log::info!("demo data: {summary}");
    Ok(())
}

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind;
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        // The port actually bound: with port 0 the system picked it.
        log::info!("subreg listening on http://{}:{}", bind.ip(), app.port());
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}
