//! The browser harness itself: a headless Chromium opens the real server over HTTPS (its
//! self-signed certificate accepted), then drives a fixture page served in plain HTTP by the
//! test (forms, clicks, scripts, file and folder choices, a download), and ends its
//! processes whether or not the test closes it.

use std::path::Path;
use std::sync::Arc;

use casevault_tests::browser::{Browser, process_group_alive};
use casevault_tests::{pseudo_random, spawn_app};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[tokio::test(flavor = "multi_thread")]
async fn browser_opens_the_health_endpoint_over_https() {
    let app = spawn_app().await;
    let Some(browser) = Browser::launch("en").await else {
        return;
    };
    browser.goto(&app.url("/api/v1/health")).await;
    browser.wait_text("body", "\"status\"").await;
    // Chromium shows a JSON document's text in a <pre> (a pretty-print switch may sit above).
    let raw = browser
        .eval("return document.querySelector('pre').textContent", vec![])
        .await;
    let body: Value =
        serde_json::from_str(raw.as_str().expect("the text is a string")).expect("JSON text");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let url = browser.current_url().await;
    assert!(url.starts_with(&app.address), "{url}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_fills_clicks_attaches_and_evaluates_on_a_fixture_page() {
    let Some(browser) = Browser::launch("en").await else {
        return;
    };
    let fixture = Fixture::start().await;
    browser.goto(&fixture.url("/")).await;
    assert_eq!(browser.text("#title").await, "Browser fixture");

    // The banner hides itself after a moment.
    browser.wait_gone("#banner").await;

    // fill clears what the field held; the form's script answers the submit.
    browser.fill("#name", "Ann Example").await;
    browser.click("#send").await;
    browser.wait_text("#greeting", "Hello, Ann Example!").await;

    // The script changes the text a little after the click.
    assert_eq!(browser.text("#status").await, "waiting");
    browser.click("#change").await;
    browser.wait_text("#status", "changed by script").await;

    // Several files at once, as the page's script reads them.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let scan = write(dir.path(), "jaw scan.stl", &pseudo_random(1, 12_345));
    let note = write(dir.path(), "notes.txt", b"upper left 6");
    browser.attach("#files", &[&scan, &note]).await;
    browser.wait_for("#chosen li").await;
    assert_eq!(
        browser.texts("#chosen li").await,
        ["jaw scan.stl:12345", "notes.txt:12"]
    );
    let chosen = browser
        .eval(
            "return Array.from(document.querySelector(arguments[0]).files, f => [f.name, f.size])",
            vec![json!("#files")],
        )
        .await;
    assert_eq!(chosen, json!([["jaw scan.stl", 12345], ["notes.txt", 12]]));

    // Scripts run even though the page's CSP forbids inline ones.
    let sum = browser
        .eval(
            "return arguments[0] + arguments[1].length",
            vec![json!(40), json!([1, 2])],
        )
        .await;
    assert_eq!(sum, json!(42));
    assert_eq!(
        browser
            .eval("return [window.outerWidth, window.outerHeight]", vec![])
            .await,
        json!([1280, 900])
    );
    assert!(browser.texts("#absent").await.is_empty());

    let png = browser.screenshot("browser-fixture").await;
    let bytes = std::fs::read(&png).expect("read the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        png.display()
    );
    assert!(png.ends_with("screenshots/browser-fixture.png"), "{png:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_downloads_land_in_their_own_folder() {
    let Some(browser) = Browser::launch("en").await else {
        return;
    };
    let fixture = Fixture::start().await;
    browser.goto(&fixture.url("/")).await;
    browser.click("#download").await;
    let path = browser.wait_download("report.bin").await;
    assert_eq!(path.parent(), Some(browser.downloads()));
    let bytes = std::fs::read(&path).expect("read the download");
    assert!(
        bytes == report(),
        "the downloaded bytes are the served ones"
    );
    // The page stays where it was: the attachment did not navigate.
    assert_eq!(browser.current_url().await, fixture.url("/"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_chooses_a_whole_folder() {
    let Some(browser) = Browser::launch("en").await else {
        return;
    };
    let fixture = Fixture::start().await;
    let root = tempfile::tempdir().expect("a temporary folder");
    let case = root.path().join("case-42");
    std::fs::create_dir_all(case.join("scans/lower")).expect("create the folders");
    write(&case, "intake.pdf", &pseudo_random(2, 2_000));
    write(&case.join("scans"), "upper.stl", &pseudo_random(3, 3_000));
    write(
        &case.join("scans/lower"),
        "lower.stl",
        &pseudo_random(4, 4_000),
    );

    browser.goto(&fixture.url("/")).await;
    // The folder input is hidden, as styled upload buttons often hide theirs.
    browser.attach_dir("#folder", &case).await;
    browser.wait_for("#tree li").await;
    let mut tree = browser.texts("#tree li").await;
    tree.sort();
    assert_eq!(
        tree,
        [
            "case-42/intake.pdf:2000",
            "case-42/scans/lower/lower.stl:4000",
            "case-42/scans/upper.stl:3000",
        ]
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_sends_the_chosen_language() {
    let fixture = Fixture::start().await;
    for lang in ["fr", "de"] {
        let Some(browser) = Browser::launch(lang).await else {
            return;
        };
        browser.goto(&fixture.url("/lang")).await;
        let header = browser.text("body").await;
        assert!(header.starts_with(lang), "Accept-Language: {header}");
        let language = browser.eval("return navigator.language", vec![]).await;
        assert_eq!(language, json!(lang));
        browser.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_processes_end_with_or_without_close() {
    let Some(browser) = Browser::launch("en").await else {
        return;
    };
    let group = browser.driver_pid();
    assert!(process_group_alive(group));
    browser.close().await;
    assert!(!process_group_alive(group), "close ends every process");

    // A failing test drops its browser without closing it.
    let Some(browser) = Browser::launch("en").await else {
        return;
    };
    let group = browser.driver_pid();
    browser.goto("about:blank").await;
    drop(browser);
    assert!(!process_group_alive(group), "drop ends every process");
}

/// The bytes `/report.bin` serves.
fn report() -> Vec<u8> {
    pseudo_random(7, 300_000)
}

/// Writes `bytes` to `dir/name` and hands back the path.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a fixture file");
    path
}

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Fixture</title><script src="/app.js" defer></script></head>
<body>
<h1 id="title">Browser fixture</h1>
<div id="banner">Loading…</div>
<form id="greet"><input id="name" name="name" value="placeholder"> <button id="send" type="submit">Send</button></form>
<p id="greeting"></p>
<button id="change" type="button">Change</button>
<p id="status">waiting</p>
<input id="files" type="file" multiple>
<ul id="chosen"></ul>
<input id="folder" type="file" webkitdirectory hidden>
<ul id="tree"></ul>
<a id="download" href="/report.bin">Download the report</a>
</body>
</html>
"#;

const APP_JS: &str = r#"'use strict';
const $ = (id) => document.getElementById(id);
$('greet').addEventListener('submit', (event) => {
  event.preventDefault();
  $('greeting').textContent = 'Hello, ' + $('name').value + '!';
});
$('change').addEventListener('click', () => {
  setTimeout(() => { $('status').textContent = 'changed by script'; }, 300);
});
setTimeout(() => { $('banner').hidden = true; }, 500);
function listFiles(input, list, describe) {
  input.addEventListener('change', () => {
    $(list).replaceChildren(...Array.from(input.files, (file) => {
      const item = document.createElement('li');
      item.textContent = describe(file);
      return item;
    }));
  });
}
listFiles($('files'), 'chosen', (file) => file.name + ':' + file.size);
listFiles($('folder'), 'tree', (file) => file.webkitRelativePath + ':' + file.size);
"#;

/// A throwaway plain-HTTP server for the fixture page, one request per connection.
struct Fixture {
    base: String,
    task: JoinHandle<()>,
}

impl Fixture {
    async fn start() -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fixture server");
        let port = listener.local_addr().expect("its address").port();
        let report = Arc::new(report());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, report.clone()));
            }
        });
        Fixture {
            base: format!("http://127.0.0.1:{port}"),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers one request: the page, its script, the attachment, or the `Accept-Language`.
async fn serve(mut stream: TcpStream, report: Arc<Vec<u8>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let header = |name: &str| {
        request
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default()
    };
    let csp = "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; \
               form-action 'self'\r\n";
    let (status, headers, body): (&str, String, Vec<u8>) = match path.as_str() {
        "/" => (
            "200 OK",
            format!("Content-Type: text/html; charset=utf-8\r\n{csp}"),
            INDEX_HTML.into(),
        ),
        "/app.js" => (
            "200 OK",
            "Content-Type: text/javascript; charset=utf-8\r\n".into(),
            APP_JS.into(),
        ),
        "/report.bin" => (
            "200 OK",
            "Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"report.bin\"\r\n"
                .into(),
            report.as_ref().clone(),
        ),
        "/lang" => (
            "200 OK",
            "Content-Type: text/plain; charset=utf-8\r\n".into(),
            header("accept-language").into_bytes(),
        ),
        _ => (
            "404 Not Found",
            "Content-Type: text/plain\r\n".into(),
            b"not found".to_vec(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}
