//! The public page in a real browser: `subreg serve --demo` as a child process on a temp SQLite
//! file, loaded in headless Chromium (only 127.0.0.1 is contacted). The rendered DOM must hold
//! the demo rows, the console must show no uncaught error or CSP refusal, and PNG screenshots
//! at 1280 and 390 pixels wide are kept under target/screenshots for review.
//! .ci/run installs Debian's chromium; without it the test says so and passes.

use crate::helpers::SECRET;
use scraper::{Html, Selector};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// Starts the demo server and waits for /healthz; retries on another port if the probed
/// port was taken in between.
fn start(db: &Path) -> (Server, u16) {
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_subreg"))
            .args(["serve", "--demo"])
            .env("SUBREG_DATABASE_URL", db)
            .env("SUBREG_JWT_SECRET", SECRET)
            .env("SUBREG_BIND", format!("127.0.0.1:{port}"))
            .env("SUBREG_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("subreg starts");
        let mut server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if healthy(port) {
                return (server, port);
            }
            if let Ok(Some(_)) = server.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("subreg serve --demo did not become healthy");
}

/// Runs headless Chromium with a fresh profile and console logging on stderr.
pub(crate) fn chromium(profile: &Path, extra: &[&str], url: &str) -> Output {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Read both pipes while it runs so a full pipe cannot stall it.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

/// Console lines that mean the page is broken. Chromium 156 words a CSP block as "...
/// violates the following Content Security Policy directive", older ones as "Refused to ...";
/// the page has no JavaScript, so any console message from it at all is a surprise too.
fn console_errors(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("Content Security Policy")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn console_errors_are_recognised() {
    let csp = b"[1:1:1123/131902.248189:INFO:CONSOLE:1] \"Executing inline script violates the following Content Security Policy directive 'default-src 'none''.\", source: http://127.0.0.1/a (1)\n";
    let uncaught = b"[1:1:1123/131908.990276:INFO:CONSOLE:1] \"Uncaught Error: boom\", source: http://127.0.0.1/b (1)\n";
    let harmless = b"[1:1:1123/131901.896770:WARNING:ui/base/idle/idle_linux.cc:111] None of the known D-Bus ScreenSaver services could be used.\n";
    assert_eq!(console_errors(csp).len(), 1);
    assert_eq!(console_errors(uncaught).len(), 1);
    assert!(console_errors(harmless).is_empty());
    assert_eq!(console_errors(b"Refused to apply inline style").len(), 1);
}

#[test]
fn timengo_page_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("{CHROMIUM} is missing: browser test skipped (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, port) = start(&dir.path().join("subreg.db"));
    let url = format!("http://127.0.0.1:{port}/processors/timengo-dpg");
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot dir");

    let profile = tempfile::tempdir().expect("profile");
    let dom = chromium(profile.path(), &["--dump-dom"], &url);
    assert!(dom.status.success(), "chromium failed: {:?}", dom.status);
    let errors = console_errors(&dom.stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let doc = Html::parse_document(&String::from_utf8_lossy(&dom.stdout));
    let rows = Selector::parse("table.entries tbody th[scope=row]").expect("selector");
    let names: Vec<String> = doc
        .select(&rows)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect();
    for expected in ["Microsoft Azure", "Office 365"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} row in {names:?}"
        );
    }

    for (width, height) in [(1280, 900), (390, 844)] {
        let png = screenshots.join(format!("timengo-{width}.png"));
        let _ = std::fs::remove_file(&png);
        let profile = tempfile::tempdir().expect("profile");
        let shot = chromium(
            profile.path(),
            &[
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={width},{height}"),
            ],
            &url,
        );
        assert!(shot.status.success(), "chromium failed: {:?}", shot.status);
        let errors = console_errors(&shot.stderr);
        assert!(
            errors.is_empty(),
            "console errors at {width}px: {errors:#?}"
        );
        let bytes = std::fs::read(&png).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", png.display());
        eprintln!("screenshot: {}", png.display());
    }
}
