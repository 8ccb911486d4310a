//! A headless Chromium driven through chromedriver (WebDriver), for tests that use the server
//! as a person would: open pages, fill forms, click, upload files and folders, download.
//!
//! [`Browser::launch`] starts its own chromedriver on a free port (`--port=0`) with a fresh
//! profile, a download folder of its own, the window at 1280×900, the given language as
//! `Accept-Language` and `navigator.language`, and the server's self-signed certificate
//! accepted. It needs `CASEVAULT_TEST_CHROMIUM` and `CASEVAULT_TEST_CHROMEDRIVER` (which
//! `scripts/test` exports): without them it returns `None` with a note, or panics when
//! `CASEVAULT_TEST_REQUIRE_SERVICES=1` (see [`service_vars`](crate::service_vars)).
//!
//! Every helper panics with the selector, the page's address and the start of its text when
//! the page does not get there within [`BROWSER_TIMEOUT`]. chromedriver runs in a process
//! group of its own, with the browser under it: [`Browser::close`] ends the session and the
//! group, and so does dropping the [`Browser`] (a failed test).
//!
//! What chromedriver does with files:
//! - [`Browser::attach`] sets several files at once on an `<input type=file multiple>` (a
//!   hidden input too: file inputs need not be visible).
//! - [`Browser::attach_dir`] hands a whole folder to an `<input type=file webkitdirectory>`:
//!   the input then lists every file under it, recursively, each with its
//!   `webkitRelativePath` (`folder/sub/file`), as a person's folder choice would.
//! - Downloads land in [`Browser::downloads`] without a prompt (profile preferences, plus
//!   `Browser.setDownloadBehavior` through chromedriver's CDP endpoint); Chromium writes
//!   `NAME.crdownload` first and renames it when done, which [`Browser::wait_download`] waits
//!   for.
//!
//! ```no_run
//! # async fn example() {
//! use casevault_tests::browser::Browser;
//! let app = casevault_tests::spawn_app().await;
//! let Some(browser) = Browser::launch("en").await else { return };
//! browser.goto(&app.url("/api/v1/health")).await;
//! browser.wait_text("body", "ok").await;
//! browser.close().await;
//! # }
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::service_vars;

pub use fantoccini::elements::Element;

/// How long the helpers wait for the page to get where a test expects it.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long [`Browser::wait_download`] waits for a download to complete.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The window size every browser starts with.
pub const WINDOW_SIZE: (u32, u32) = (1280, 900);

/// How often the helpers look at the page again while they wait.
const POLL: Duration = Duration::from_millis(100);

/// A headless Chromium session with its own chromedriver, profile and download folder.
pub struct Browser {
    client: Client,
    // Field order is drop order: the driver (and the browser under it) ends before its
    // profile and download folders are deleted.
    driver: Driver,
    downloads: TempDir,
    _profile: TempDir,
}

/// The chromedriver process, its process group (chromedriver and every browser process it
/// starts) and the session, ended on drop unless [`Browser::close`] already did.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a fresh profile,
    /// accepting self-signed certificates, the window at [`WINDOW_SIZE`], `lang` (`"en"`,
    /// `"fr"`, `"de"`, …) as `Accept-Language` and UI language, and downloads going to a
    /// folder of its own without a prompt. `None` (with a note) when the variables naming the
    /// browser and driver are not set, as with other services.
    pub async fn launch(lang: &str) -> Option<Browser> {
        let [chromium, chromedriver] = service_vars(
            ["CASEVAULT_TEST_CHROMIUM", "CASEVAULT_TEST_CHROMEDRIVER"],
            "the browser tests",
            "Chromium and chromedriver",
        )?;
        let profile = tempfile::Builder::new()
            .prefix("casevault-browser-profile-")
            .tempdir()
            .expect("create a temporary browser profile");
        let downloads = tempfile::Builder::new()
            .prefix("casevault-browser-downloads-")
            .tempdir()
            .expect("create a temporary download folder");
        let mut driver = Driver::start(&chromedriver).await;

        let (width, height) = WINDOW_SIZE;
        let download_dir = downloads
            .path()
            .to_str()
            .expect("a UTF-8 temporary path")
            .to_owned();
        let capabilities = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--lang={lang}"),
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-sync",
                    "--disable-search-engine-choice-screen",
                    "--disable-features=Translate,MediaRouter,OptimizationHints",
                    "--password-store=basic",
                    "--use-mock-keychain",
                ],
                "prefs": {
                    "intl.accept_languages": lang,
                    "download.default_directory": download_dir,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                    "profile.default_content_setting_values.automatic_downloads": 1,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("the capabilities are a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| {
                panic!("chromedriver ({chromedriver}) could not start Chromium ({chromium}): {e}")
            });
        driver.session = client
            .session_id()
            .await
            .expect("read the WebDriver session id");
        let browser = Browser {
            client,
            driver,
            downloads,
            _profile: profile,
        };
        browser
            .client
            .set_window_size(width, height)
            .await
            .expect("set the window size");
        // The preferences alone send downloads to the folder; this makes it explicit for
        // headless mode as well (and would fail loudly if chromedriver lost the endpoint).
        browser
            .cdp(
                "Browser.setDownloadBehavior",
                json!({ "behavior": "allow", "downloadPath": download_dir }),
            )
            .await;
        Some(browser)
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Waits up to [`BROWSER_TIMEOUT`] for an element matching `css` to be displayed, and
    /// hands back the first such element.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        loop {
            if let Some(element) = self.first_displayed(css).await {
                return element;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("no visible element matches `{css}`"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to [`BROWSER_TIMEOUT`] until an element matching `css` has a text (as
    /// rendered) containing `contains`.
    pub async fn wait_text(&self, css: &str, contains: &str) {
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        let mut last = Vec::new();
        loop {
            if let Ok(elements) = self.client.find_all(Locator::Css(css)).await {
                last.clear();
                for element in elements {
                    if let Ok(text) = element.text().await {
                        if text.contains(contains) {
                            return;
                        }
                        last.push(text);
                    }
                }
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "no element matching `{css}` has a text containing {contains:?} \
                     (their texts: {last:?})"
                ))
                .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits up to [`BROWSER_TIMEOUT`] until no element matching `css` is displayed (none
    /// left in the page, or all hidden).
    pub async fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        loop {
            if self.first_displayed(css).await.is_none() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("an element matching `{css}` is still visible"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the first visible element matching `css`, waiting for it, and trying again
    /// while something else covers it or it cannot be clicked yet.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        loop {
            let element = self.wait_for(css).await;
            let error = match element.click().await {
                Ok(()) => return,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                self.fail(&format!("clicking `{css}` failed: {error}"))
                    .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clears the first visible field matching `css`, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear `{css}`: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// The rendered text of the first visible element matching `css` (waiting for it).
    pub async fn text(&self, css: &str) -> String {
        let element = self.wait_for(css).await;
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("read the text of `{css}`: {e}"))
    }

    /// The rendered texts of every element matching `css` now, in document order (empty
    /// strings for hidden ones; no waiting: use [`wait_for`](Self::wait_for) first).
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let elements = self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find `{css}`: {e}"));
        let mut texts = Vec::with_capacity(elements.len());
        for element in elements {
            texts.push(
                element
                    .text()
                    .await
                    .unwrap_or_else(|e| panic!("read the text of `{css}`: {e}")),
            );
        }
        texts
    }

    /// Chooses `files` at once on the `<input type=file multiple>` matching `css` (which may
    /// be hidden), as a person's selection in the file dialog would; the input's `change`
    /// event fires.
    pub async fn attach(&self, css: &str, files: &[&Path]) {
        assert!(!files.is_empty(), "attach needs at least one file");
        let paths: Vec<String> = files.iter().map(|file| absolute(file)).collect();
        let input = self.wait_present(css).await;
        input
            .send_keys(&paths.join("\n"))
            .await
            .unwrap_or_else(|e| panic!("attach {paths:?} to `{css}`: {e}"));
    }

    /// Chooses the folder `dir` on the `<input type=file webkitdirectory>` matching `css`:
    /// the input lists every file under it, recursively, each with its `webkitRelativePath`
    /// starting with the folder's name (chromedriver accepts a folder for such inputs only).
    pub async fn attach_dir(&self, css: &str, dir: &Path) {
        assert!(dir.is_dir(), "{} is not a folder", dir.display());
        let path = absolute(dir);
        let input = self.wait_present(css).await;
        input
            .send_keys(&path)
            .await
            .unwrap_or_else(|e| panic!("attach the folder {path} to `{css}`: {e}"));
    }

    /// Runs `js` as the body of a function called with `args` (`arguments[0]`, …) in the
    /// page, and hands back what it returns (`return …;`). Elements passed or returned are
    /// WebDriver element references. Runs even where the page's CSP forbids inline scripts.
    pub async fn eval(&self, js: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(js, args)
            .await
            .unwrap_or_else(|e| panic!("run the script `{js}`: {e}"))
    }

    /// The folder downloads land in.
    pub fn downloads(&self) -> &Path {
        self.downloads.path()
    }

    /// Waits up to [`DOWNLOAD_TIMEOUT`] for the download of the file `name` to complete (the
    /// file is there and its `.crdownload` is gone), and hands back its path.
    pub async fn wait_download(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty() && !name.contains(['/', '\\']),
            "{name:?} is not a file name"
        );
        let path = self.downloads.path().join(name);
        let partial = self.downloads.path().join(format!("{name}.crdownload"));
        let deadline = Instant::now() + DOWNLOAD_TIMEOUT;
        loop {
            if path.is_file() && !partial.exists() {
                return path;
            }
            if Instant::now() >= deadline {
                let found: Vec<String> = std::fs::read_dir(self.downloads.path())
                    .map(|entries| {
                        entries
                            .filter_map(Result::ok)
                            .map(|entry| entry.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                self.fail(&format!(
                    "the download {name:?} did not complete within {DOWNLOAD_TIMEOUT:?} \
                     (the download folder holds {found:?})"
                ))
                .await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG of the window as `target/screenshots/<name>.png` (in `CARGO_TARGET_DIR`
    /// when set) and hands back its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("take the screenshot {name:?}: {e}"));
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// The address of the page now shown.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("read the current address")
            .to_string()
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The process id of chromedriver, which leads the process group of the browser too.
    pub fn driver_pid(&self) -> u32 {
        self.driver.child.id().expect("chromedriver is running")
    }

    /// Ends the session (chromedriver closes the browser), then chromedriver and anything
    /// left in its process group.
    pub async fn close(self) {
        let Browser {
            client,
            mut driver,
            downloads,
            _profile,
        } = self;
        if let Err(e) = client.close().await {
            eprintln!("note: ending the browser session failed: {e}");
        }
        driver.session = None;
        drop(driver);
        drop((downloads, _profile));
    }

    /// Runs the Chrome DevTools Protocol command `cmd` through chromedriver.
    async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(CdpCommand { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("the DevTools command {cmd}: {e}"))
    }

    /// The first displayed element matching `css`, if any now.
    async fn first_displayed(&self, css: &str) -> Option<Element> {
        let elements = self.client.find_all(Locator::Css(css)).await.ok()?;
        for element in elements {
            // A stale element (the page changed under us) counts as not displayed.
            if element.is_displayed().await.unwrap_or(false) {
                return Some(element);
            }
        }
        None
    }

    /// Waits for an element matching `css` to be in the page, visible or not.
    async fn wait_present(&self, css: &str) -> Element {
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                return element;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("no element matches `{css}`")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Panics with `what`, the page's address and the start of its text.
    async fn fail(&self, what: &str) -> ! {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(unknown: {e})"),
        };
        let text = match self
            .client
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
        {
            Ok(Value::String(text)) => text.chars().take(600).collect(),
            Ok(other) => other.to_string(),
            Err(e) => format!("(unreadable: {e})"),
        };
        panic!("{what} after {BROWSER_TIMEOUT:?}, on {url}; the page reads: {text:?}");
    }
}

impl Driver {
    /// Starts chromedriver on a port of its choice in a process group of its own.
    async fn start(chromedriver: &str) -> Driver {
        let mut child = Command::new(chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start chromedriver ({chromedriver}): {e}"));
        let stdout = child.stdout.take().expect("chromedriver's output is piped");
        let mut driver = Driver {
            child,
            port: 0,
            session: None,
        };
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let port = tokio::time::timeout(BROWSER_TIMEOUT, async {
            while let Some(line) = lines.next_line().await.ok()? {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    return rest.trim_end_matches('.').trim().parse::<u16>().ok();
                }
                seen.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(port) = port else {
            panic!("chromedriver ({chromedriver}) did not say which port it listens on: {seen:?}");
        };
        driver.port = port;
        // Keep reading what chromedriver and the browser print, so that they never block on
        // a full pipe; the task ends with the process.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Still a session: the test did not close the browser (it failed, most likely). End
        // the session the plain way, since nothing can be awaited here.
        if let Some(session) = self.session.take() {
            delete_session(self.port, &session);
        }
        let Some(pgid) = self.child.id() else {
            return;
        };
        kill_group(pgid);
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Reap chromedriver; the browser processes are reparented and reaped elsewhere.
            let _ = self.child.try_wait();
            if !process_group_alive(pgid) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `DELETE /session/{id}` to chromedriver on `port`, by hand over a blocking socket, waiting
/// a few seconds at most for the answer.
fn delete_session(port: u16, session: &str) {
    let attempt = || -> std::io::Result<()> {
        let timeout = Duration::from_secs(5);
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        write!(
            stream,
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        // chromedriver keeps the connection open: read the head and the announced body.
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf)?;
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || response_complete(&answer) {
                return Ok(());
            }
        }
    };
    if let Err(e) = attempt() {
        eprintln!("note: ending the browser session on drop failed: {e}");
    }
}

/// Whether `answer` holds a whole HTTP response: its head and `Content-Length` bytes.
fn response_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

/// Sends SIGKILL to the process group `pgid` (chromedriver and the browser processes under
/// it), with `kill(1)` since this crate has no unsafe code for `kill(2)`.
fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether a process of the group `pgid` is still running (zombies do not count), from
/// `/proc/*/stat`.
pub fn process_group_alive(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let group = fields.nth(1).and_then(|g| g.parse::<u32>().ok());
        group == Some(pgid) && state != Some("Z") && state != Some("X")
    })
}

/// The absolute form of `path`, as chromedriver needs it.
fn absolute(path: &Path) -> String {
    let path = std::path::absolute(path)
        .unwrap_or_else(|e| panic!("the absolute path of {}: {e}", path.display()));
    assert!(path.exists(), "{} does not exist", path.display());
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
        .to_owned()
}

/// The workspace's target folder: `CARGO_TARGET_DIR` (relative to the workspace) when set,
/// else `target/` beside the workspace manifest.
fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

/// A command of chromedriver's own: `POST /session/{id}/goog/cdp/execute`, which runs one
/// Chrome DevTools Protocol command in the session's browser.
#[derive(Debug)]
struct CdpCommand {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
