//! A practice on a running server: users with sessions, organisations, and one-line helpers
//! for the case API (cases, folders, uploads, downloads, trees, quotas), plus what the tests
//! need to check that a failed request left nothing behind.
//!
//! ```no_run
//! # async fn example() {
//! use casevault_tests::{Backend, Practice};
//! let practice = Practice::spawn_on(Backend::Local).await.expect("local always runs");
//! let ann = practice.user("ann").await;
//! let case = practice.create_case(&ann, serde_json::json!({ "patient_ref": "P-1" })).await;
//! let id = case["id"].as_str().expect("an id");
//! let file = practice.upload(&ann, id, "scan.stl", b"solid jaw").await;
//! assert_eq!(file["size"], 9);
//! # }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use casevault_server::AppState;
use casevault_server::admin::storage::{OrgId, OrgRecord, OrgRole, QuotaAccount, Timestamp};
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{Backend, Session, TestApp, login, spawn_app_with_state_on};

/// The password of every user a [`Practice`] creates.
pub const USER_PASSWORD: &str = "a long practice passphrase";

/// The quota of a new account, 50 GiB.
pub const DEFAULT_QUOTA: u64 = 50 << 30;

/// How long a test waits for a condition the server reaches in the background (the clean-up
/// of a broken upload, the audit entry of a finished download).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);

/// A running server, its state, and the backend it stores objects in.
pub struct Practice {
    /// The server.
    pub app: TestApp,
    /// Its application state (storage, accounts), to set quotas and create organisations.
    pub state: AppState,
    /// Where the encrypted objects go.
    pub backend: Backend,
}

/// A user with a signed-in session.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The e-mail address (`<name>@example-clinic.org`).
    pub email: String,
    /// The user's id.
    pub id: String,
    /// The session (cookie and CSRF token).
    pub session: Session,
}

/// One quota account's figures as `GET /api/v1/quota` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Quota {
    /// Bytes of stored files.
    pub used: u64,
    /// Bytes held by uploads in progress.
    pub reserved: u64,
    /// The limit.
    pub limit: u64,
}

/// What a user can see of the server's state: their quotas (personal and organisations'),
/// a case's tree, and (on the local backend) the object files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The whole `GET /api/v1/quota` answer.
    pub quota: Value,
    /// The whole `GET /api/v1/cases/{case}/tree` answer.
    pub tree: Value,
    /// Every file under the local object folder (empty on S3).
    pub objects: BTreeSet<PathBuf>,
}

impl Practice {
    /// A server on the local backend.
    pub async fn spawn() -> Practice {
        Self::spawn_on(Backend::Local)
            .await
            .expect("the local backend always runs")
    }

    /// A server on `backend`; `None` (with a note) when S3 is not configured.
    pub async fn spawn_on(backend: Backend) -> Option<Practice> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server on `backend` after `configure` adjusted its settings (e.g. `[smtp]`).
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut casevault_server::Settings),
    ) -> Option<Practice> {
        let (app, state) = spawn_app_with_state_on(backend, configure).await?;
        Some(Practice {
            app,
            state,
            backend,
        })
    }

    /// Creates the account `<name>@example-clinic.org` and signs it in.
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!("{name}@example-clinic.org");
        casevault_server::auth::create_account(&self.state, &email, name, USER_PASSWORD, false)
            .await
            .expect("create an account");
        let session = login(&self.app, &email, USER_PASSWORD).await;
        TestUser {
            email,
            id: session.user_id.clone(),
            session,
        }
    }

    /// Creates an organisation with these members and a 50 GiB quota (an organisation made
    /// through storage starts with none); returns its id.
    pub async fn org(&self, name: &str, members: &[(&TestUser, OrgRole)]) -> String {
        let meta = self.state.storage.meta();
        let org = meta
            .create_org(OrgRecord {
                id: OrgId::random(),
                name: name.to_owned(),
                created_at: Timestamp::now(),
            })
            .await
            .expect("create an organisation");
        for (user, role) in members {
            let id = user.id.parse().expect("a user id");
            meta.set_membership(org.id, id, *role)
                .await
                .expect("add a member");
        }
        self.set_quota(QuotaAccount::Org(org.id), DEFAULT_QUOTA)
            .await;
        org.id.to_string()
    }

    /// Sets a user's quota limit.
    pub async fn set_user_quota(&self, user: &TestUser, limit: u64) {
        let id = user.id.parse().expect("a user id");
        self.set_quota(QuotaAccount::User(id), limit).await;
    }

    /// Sets a quota account's limit.
    pub async fn set_quota(&self, account: QuotaAccount, limit: u64) {
        self.state
            .storage
            .meta()
            .set_quota_limit(account, limit)
            .await
            .expect("set a quota limit");
    }

    /// A request as `user` (`None`: anonymous), with the session cookie and the CSRF token.
    pub fn request(&self, user: Option<&TestUser>, method: Method, path: &str) -> RequestBuilder {
        self.request_with(&self.app.client, user, method, path)
    }

    /// Like [`Practice::request`], over `client` (e.g. one forced to HTTP/1.1).
    pub fn request_with(
        &self,
        client: &reqwest::Client,
        user: Option<&TestUser>,
        method: Method,
        path: &str,
    ) -> RequestBuilder {
        let builder = client.request(method, self.app.url(path));
        match user {
            Some(user) => builder
                .header("cookie", user.session.cookie())
                .header("x-csrf-token", &user.session.csrf),
            None => builder,
        }
    }

    /// Sends a request as `user`, with a JSON body when `body` is given.
    pub async fn send(
        &self,
        user: &TestUser,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let request = self.request(Some(user), method.clone(), path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"))
    }

    /// `POST /api/v1/cases`, asserting 201; the case view.
    pub async fn create_case(&self, user: &TestUser, form: Value) -> Value {
        let response = self
            .send(user, Method::POST, "/api/v1/cases", Some(form))
            .await;
        expect_json(response, 201).await
    }

    /// A personal case with only a patient reference; its id.
    pub async fn new_case(&self, user: &TestUser) -> String {
        let case = self
            .create_case(user, json!({ "patient_ref": "P-0001" }))
            .await;
        id_of(&case)
    }

    /// `GET /api/v1/cases/{case}`, asserting 200.
    pub async fn case(&self, user: &TestUser, case: &str) -> Value {
        let response = self
            .send(user, Method::GET, &format!("/api/v1/cases/{case}"), None)
            .await;
        expect_json(response, 200).await
    }

    /// `POST /api/v1/cases/{case}/folders`, asserting 201; the folder view.
    pub async fn folder(
        &self,
        user: &TestUser,
        case: &str,
        name: &str,
        parent: Option<&str>,
    ) -> Value {
        let path = format!("/api/v1/cases/{case}/folders");
        let body = json!({ "name": name, "parent": parent });
        let response = self.send(user, Method::POST, &path, Some(body)).await;
        expect_json(response, 201).await
    }

    /// An upload request into `case` (with `query`, e.g. `"?folder=…"`, or `""`), the name
    /// percent-encoded in the `x-file-name` header; the body is left to the caller.
    pub fn upload_request(
        &self,
        user: &TestUser,
        case: &str,
        query: &str,
        name: &str,
    ) -> RequestBuilder {
        self.request(
            Some(user),
            Method::POST,
            &format!("/api/v1/cases/{case}/files{query}"),
        )
        .header("x-file-name", percent_encode(name))
    }

    /// Uploads `bytes` as `name` with `query`; the raw answer.
    pub async fn try_upload(
        &self,
        user: &TestUser,
        case: &str,
        query: &str,
        name: &str,
        bytes: &[u8],
    ) -> Response {
        self.upload_request(user, case, query, name)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload request")
    }

    /// Uploads `bytes` as `name` at the case root, asserting 201; the file view.
    pub async fn upload(&self, user: &TestUser, case: &str, name: &str, bytes: &[u8]) -> Value {
        self.upload_to(user, case, "", name, bytes).await
    }

    /// Uploads with `query` (e.g. `"?folder=…"`), asserting 201; the file view.
    pub async fn upload_to(
        &self,
        user: &TestUser,
        case: &str,
        query: &str,
        name: &str,
        bytes: &[u8],
    ) -> Value {
        let response = self.try_upload(user, case, query, name, bytes).await;
        expect_json(response, 201).await
    }

    /// Downloads a file's contents, asserting 200.
    pub async fn download(&self, user: &TestUser, case: &str, file: &str) -> Vec<u8> {
        let path = format!("/api/v1/cases/{case}/files/{file}/content");
        let response = self.send(user, Method::GET, &path, None).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.bytes().await.expect("download body").to_vec()
    }

    /// `GET /api/v1/cases/{case}/tree`, asserting 200.
    pub async fn tree(&self, user: &TestUser, case: &str) -> Value {
        let path = format!("/api/v1/cases/{case}/tree");
        let response = self.send(user, Method::GET, &path, None).await;
        expect_json(response, 200).await
    }

    /// `GET /api/v1/cases/{case}/history`, asserting 200; the entries.
    pub async fn history(&self, user: &TestUser, case: &str) -> Vec<Value> {
        let path = format!("/api/v1/cases/{case}/history");
        let response = self.send(user, Method::GET, &path, None).await;
        let body = expect_json(response, 200).await;
        body["entries"].as_array().expect("entries").clone()
    }

    /// The whole `GET /api/v1/quota` answer.
    pub async fn quotas(&self, user: &TestUser) -> Value {
        let response = self.send(user, Method::GET, "/api/v1/quota", None).await;
        expect_json(response, 200).await
    }

    /// The user's personal quota as `GET /api/v1/quota` shows it.
    pub async fn quota_of(&self, user: &TestUser) -> Quota {
        serde_json::from_value(self.quotas(user).await["user"].clone()).expect("a quota")
    }

    /// An organisation's quota as `GET /api/v1/quota` shows it to `user`, a member.
    pub async fn org_quota(&self, user: &TestUser, org: &str) -> Quota {
        let quotas = self.quotas(user).await;
        let entry = quotas["orgs"]
            .as_array()
            .expect("orgs")
            .iter()
            .find(|o| o["id"] == org)
            .unwrap_or_else(|| panic!("organisation {org} in {quotas}"))
            .clone();
        serde_json::from_value(entry).expect("a quota")
    }

    /// The object folder of the local backend.
    pub fn objects_dir(&self) -> PathBuf {
        self.app.data_path("objects")
    }

    /// What `user` sees of `case` and of their quotas, and the local object files.
    pub async fn snapshot(&self, user: &TestUser, case: &str) -> Snapshot {
        Snapshot {
            quota: self.quotas(user).await,
            tree: self.tree(user, case).await,
            objects: match self.backend {
                Backend::Local => files_under(&self.objects_dir()).into_iter().collect(),
                Backend::S3 => BTreeSet::new(),
            },
        }
    }

    /// Waits (polling) until what `user` sees of `case` is `before` again: a failed request
    /// left no file, no used or reserved quota, and no object behind. Panics with the
    /// difference after [`SETTLE_TIMEOUT`].
    pub async fn assert_left_as(&self, user: &TestUser, case: &str, before: &Snapshot) {
        let start = Instant::now();
        loop {
            let now = self.snapshot(user, case).await;
            if &now == before {
                return;
            }
            if start.elapsed() > SETTLE_TIMEOUT {
                assert_eq!(&now, before, "something was left behind");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops the server, flushes the metadata database and closes it; the data directory.
    pub async fn stop(self) -> TempDir {
        let Practice { app, state, .. } = self;
        let dir = app.stop().await;
        state
            .storage
            .meta()
            .flush()
            .await
            .expect("flush the database");
        drop(state);
        dir
    }
}

/// The body of `response` as JSON, asserting its status.
pub async fn expect_json(response: Response, status: u16) -> Value {
    let url = response.url().clone();
    let got = response.status();
    let text = response.text().await.expect("a response body");
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{url}: {err}: {text}"))
}

/// The `error.code` of a JSON error answer, asserting its status.
pub async fn expect_error(response: Response, status: u16) -> String {
    let body = expect_json(response, status).await;
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code in {body}"))
        .to_owned()
}

/// The `id` field of a view.
pub fn id_of(view: &Value) -> String {
    view["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id in {view}"))
        .to_owned()
}

/// Percent-encodes every byte of `name` outside `A-Z a-z 0-9 - . _ ~`.
pub fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` bytes from a seeded generator: no 8-byte window repeats in practice, so a range
/// read from the wrong offset cannot match.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngExt, SeedableRng};
    let mut out = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill(&mut out[..]);
    out
}

/// Every regular file under `dir`, recursively (empty when `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("a directory entry");
            let kind = entry.file_type().expect("a file type");
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}
