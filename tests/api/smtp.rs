//! The tests' SMTP server: aiosmtpd (PyPI) running tests/fixtures/smtp_server.py on
//! 127.0.0.1, delivering to a Maildir in a temporary directory. `.ci/run` installs it into
//! target/venv-smtp and points SUBREG_TEST_SMTP_PYTHON at that interpreter.

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

/// The Python that has aiosmtpd; fails the test, saying how to install it, when there is none.
fn python() -> PathBuf {
    let python = std::env::var_os("SUBREG_TEST_SMTP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv-smtp/bin/python")
        });
    let usable = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        usable,
        "the e-mail tests need aiosmtpd, not found at {}: install it with \
         `python3 -m venv target/venv-smtp && target/venv-smtp/bin/pip install aiosmtpd` \
         (as .ci/run does), or set SUBREG_TEST_SMTP_PYTHON to a Python that has it",
        python.display()
    );
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
