//! The test SMTP sink (`tests/support/smtp_sink.py`, started by `scripts/test`): where it
//! listens, settings that point the server at it, and reading the messages it saved as
//! `<maildir>/<timestamp>-<n>.eml` files.
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! let Some(sink) = casevault_tests::mail_sink::smtp_sink() else { return };
//! let subject = casevault_tests::mail_sink::unique("hello");
//! // … make the server send a message with this subject, then:
//! let mail = sink.wait_for_subject(&subject, Duration::from_secs(10)).await;
//! assert!(mail.body().contains("Hello"));
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use casevault_server::config::{SmtpSettings, SmtpTls};

/// The sender address the test settings use.
pub const TEST_FROM: &str = "casevault <noreply@casevault.test>";

/// The SMTP sink described by `CASEVAULT_TEST_SMTP_{HOST,PORT}` and
/// `CASEVAULT_TEST_MAILDIR`.
#[derive(Debug, Clone)]
pub struct SmtpSink {
    /// Host the sink listens on.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Where it saves each message.
    pub maildir: PathBuf,
}

/// The sink from the environment; `None` with a note when a variable is missing, a panic
/// when `CASEVAULT_TEST_REQUIRE_SERVICES=1`.
pub fn smtp_sink() -> Option<SmtpSink> {
    let [host, port, maildir] = crate::service_vars(
        [
            "CASEVAULT_TEST_SMTP_HOST",
            "CASEVAULT_TEST_SMTP_PORT",
            "CASEVAULT_TEST_MAILDIR",
        ],
        "the SMTP part",
        "an SMTP sink",
    )?;
    Some(SmtpSink {
        host,
        port: port
            .parse()
            .expect("CASEVAULT_TEST_SMTP_PORT is a port number"),
        maildir: PathBuf::from(maildir),
    })
}

/// `[smtp]` settings for `host:port` without TLS, with retries after 1 s (at most 2 s) so
/// that tests see several attempts quickly.
pub fn smtp_settings(host: &str, port: u16) -> SmtpSettings {
    SmtpSettings {
        host: host.to_owned(),
        port,
        from: TEST_FROM.to_owned(),
        tls: SmtpTls::None,
        timeout: Duration::from_secs(5),
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(2),
        ..SmtpSettings::default()
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A string no other test (or earlier run) uses: `prefix` and a unique suffix.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

impl SmtpSink {
    /// The `[smtp]` settings that deliver to this sink.
    pub fn settings(&self) -> SmtpSettings {
        smtp_settings(&self.host, self.port)
    }

    /// Every message saved so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        paths.iter().filter_map(|p| ReceivedMail::read(p)).collect()
    }

    /// The messages whose `Subject` is exactly `subject`.
    pub fn with_subject(&self, subject: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.header("Subject").as_deref() == Some(subject))
            .collect()
    }

    /// Waits (polling every 50 ms) for a message with this subject; panics after `timeout`.
    pub async fn wait_for_subject(&self, subject: &str, timeout: Duration) -> ReceivedMail {
        let started = Instant::now();
        loop {
            if let Some(mail) = self.with_subject(subject).into_iter().next() {
                return mail;
            }
            assert!(
                started.elapsed() < timeout,
                "no message with subject {subject:?} in {} after {timeout:?}",
                self.maildir.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One message as the sink saved it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The `.eml` file.
    pub path: PathBuf,
    /// The raw message (RFC 5322), as received after DATA.
    pub raw: String,
}

impl ReceivedMail {
    fn read(path: &Path) -> Option<ReceivedMail> {
        let raw = std::fs::read(path).ok()?;
        Some(ReceivedMail {
            path: path.to_owned(),
            raw: String::from_utf8_lossy(&raw).into_owned(),
        })
    }

    fn split(&self) -> (&str, &str) {
        self.raw
            .split_once("\r\n\r\n")
            .or_else(|| self.raw.split_once("\n\n"))
            .unwrap_or((&self.raw, ""))
    }

    /// The first header named `name` (any case), unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let mut found: Option<String> = None;
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = found.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.trim().eq_ignore_ascii_case(name)
            {
                found = Some(value.trim().to_owned());
            }
        }
        found
    }

    /// The body, with CRLF line endings turned into LF.
    pub fn body(&self) -> String {
        self.split().1.replace("\r\n", "\n")
    }

    /// The body as text: decoded from quoted-printable when the message says so.
    pub fn text(&self) -> String {
        let body = self.body();
        let quoted = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if !quoted {
            return body;
        }
        let joined = body.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let escaped = (bytes[i] == b'=')
                .then(|| bytes.get(i + 1..i + 3))
                .flatten()
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok());
            match escaped {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The first file under `dir` (recursively) whose bytes contain `needle`.
pub fn find_in_files(dir: &Path, needle: &str) -> Option<PathBuf> {
    let needle = needle.as_bytes();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
            {
                return Some(path);
            }
        }
    }
    None
}
