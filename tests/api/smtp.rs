//! The tests' SMTP server: aiosmtpd (PyPI) running tests/fixtures/smtp_server.py on
//! 127.0.0.1, delivering to a Maildir in a temporary directory. The first test that needs it
//! installs it into target/venv-smtp (`.ci/run` does so before the tests).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has_aiosmtpd(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Python that has aiosmtpd: SUBREG_TEST_SMTP_PYTHON, else target/venv-smtp, which the
/// first test that needs it creates from PyPI (so the README's one test command does all the
/// setup on a fresh machine). Fails the test, saying how to install it, when that fails.
fn python() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(python) = std::env::var_os("SUBREG_TEST_SMTP_PYTHON").map(PathBuf::from) {
        assert!(
            has_aiosmtpd(&python),
            "SUBREG_TEST_SMTP_PYTHON={} has no aiosmtpd: `pip install aiosmtpd` into it",
            python.display()
        );
        return python;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv-smtp");
    let python = venv.join("bin/python");
    let _installing = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !has_aiosmtpd(&python) {
        eprintln!("installing aiosmtpd from PyPI into {}", venv.display());
        let installed = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "aiosmtpd"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            installed && has_aiosmtpd(&python),
            "the e-mail tests need aiosmtpd, and installing it failed: run \
             `python3 -m venv target/venv-smtp && target/venv-smtp/bin/pip install aiosmtpd` \
             (Debian: apt-get install python3-venv first), or set SUBREG_TEST_SMTP_PYTHON to a \
             Python that has it"
        );
    }
    python
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl SmtpServer {
    /// Starts the server on `port`, delivering to `maildir`; returns once it listens.
    pub fn start_on(port: u16, maildir: &Path) -> SmtpServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp_server.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .arg(maildir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the SMTP server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the SMTP server says it is ready");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        SmtpServer { child }
    }
}

/// The messages delivered to `maildir`, by Maildir key (the queue id the server answered).
pub fn delivered(maildir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut found: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("message readable"),
            )
        })
        .collect();
    found.sort();
    found
}

/// Waits until at least `count` messages are delivered (fails after `timeout`).
pub async fn wait_for_delivered(
    maildir: &Path,
    count: usize,
    timeout: Duration,
) -> Vec<(String, Vec<u8>)> {
    let start = Instant::now();
    loop {
        let found = delivered(maildir);
        if found.len() >= count {
            return found;
        }
        assert!(
            start.elapsed() < timeout,
            "{} message(s) delivered after {timeout:?}, {count} expected",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
