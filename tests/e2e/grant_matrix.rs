//! Who may call what through a share: every case endpoint and every link endpoint, called
//! by the owner, by a colleague holding each grant role (on the whole case, or on a folder
//! for things inside and outside it), by link holders of each role, through a revoked or
//! expired grant, by a stranger and anonymously; checked against the rules of
//! `server/src/access.rs`. A drop sees nothing, a read grant writes nothing, an edit grant
//! writes within its scope only, and a refused call changes nothing.

mod flood;
mod world;

use casevault_tests::SETTLE_TIMEOUT;
use reqwest::{Method, Response};
use serde_json::Value;

use self::world::{Fixture, TAKEN_NAME, World};

/// A grant's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Read,
    Edit,
    Drop,
}

/// Where a folder-scoped grantee's call points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// At the shared folder's subfolder and the file in it.
    Inside,
    /// At another folder and its file.
    Outside,
}

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The practitioner whose case it is.
    Owner,
    /// A colleague with a grant on the whole case.
    Colleague(Role),
    /// A colleague with a grant on one folder.
    FolderColleague(Role, Place),
    /// A recipient session of a link to the whole case.
    Link(Role),
    /// A colleague whose edit grant was revoked.
    RevokedColleague,
    /// A colleague whose edit grant expired.
    ExpiredColleague,
    /// A recipient session of an edit link that was revoked.
    RevokedLink,
    /// A recipient session of an edit link that expired.
    ExpiredLink,
    /// A signed-in practitioner with no relation to the case.
    Other,
    /// No credentials at all.
    Anonymous,
}

const PRINCIPALS: [Who; 17] = [
    Who::Owner,
    Who::Colleague(Role::Read),
    Who::Colleague(Role::Edit),
    Who::Colleague(Role::Drop),
    Who::FolderColleague(Role::Read, Place::Inside),
    Who::FolderColleague(Role::Read, Place::Outside),
    Who::FolderColleague(Role::Edit, Place::Inside),
    Who::FolderColleague(Role::Edit, Place::Outside),
    Who::Link(Role::Read),
    Who::Link(Role::Edit),
    Who::Link(Role::Drop),
    Who::RevokedColleague,
    Who::ExpiredColleague,
    Who::RevokedLink,
    Who::ExpiredLink,
    Who::Other,
    Who::Anonymous,
];

/// What an endpoint asks of the case (the server's `access::Action`, plus what a link
/// session may always see about itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// The link's own description.
    Info,
    Read,
    Upload,
    /// Creating a folder directly: an upload right, but not for a drop (a taken name would
    /// tell it what the folder holds; drops make folders silently through uploads).
    MakeFolder,
    WriteFiles,
    Edit,
    Delete,
    History,
    Share,
}

/// Which API an endpoint belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    /// `/api/v1/cases/…` and `/api/v1/grants`: a user session.
    Case,
    /// `/api/v1/link/…`: a recipient session.
    Link,
}

/// What a request carries.
#[derive(Clone, Copy, Debug)]
enum Payload {
    Nothing,
    /// JSON with `{case}` and `{folder}` filled in.
    Json(&'static str),
    /// A few bytes under this name.
    Upload(&'static str),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
struct Endpoint {
    api: Api,
    method: &'static str,
    /// With `{case}`, `{file}` and `{folder}` standing for the fixture's ids.
    path: &'static str,
    payload: Payload,
    action: Action,
    /// Whether the call names a file or folder, so that a folder scope decides.
    targeted: bool,
    /// Whether it uses a name already taken in the target folder (409 for those who may
    /// see the folder; a drop must not learn it).
    taken: bool,
    /// The status when allowed.
    ok: u16,
}

const fn case(
    method: &'static str,
    path: &'static str,
    payload: Payload,
    action: Action,
    ok: u16,
) -> Endpoint {
    Endpoint {
        api: Api::Case,
        method,
        path,
        payload,
        action,
        targeted: false,
        taken: false,
        ok,
    }
}

const fn link(
    method: &'static str,
    path: &'static str,
    payload: Payload,
    action: Action,
    ok: u16,
) -> Endpoint {
    Endpoint {
        api: Api::Link,
        ..case(method, path, payload, action, ok)
    }
}

impl Endpoint {
    /// The row names a file or folder.
    const fn targeted(self) -> Endpoint {
        Endpoint {
            targeted: true,
            ..self
        }
    }

    /// The row uses a name already taken.
    const fn taken(self) -> Endpoint {
        Endpoint {
            taken: true,
            ..self
        }
    }
}

const NONE: Payload = Payload::Nothing;
const UPLOAD: Payload = Payload::Upload("report.pdf");
const UPLOAD_TAKEN: Payload = Payload::Upload(TAKEN_NAME);
const FOLDER: Payload = Payload::Json(r#"{"name":"New folder","parent":"{folder}"}"#);
const FOLDER_TAKEN: Payload = Payload::Json(r#"{"name":"scan.stl","parent":"{folder}"}"#);
const RENAME: Payload = Payload::Json(r#"{"name":"renamed.stl"}"#);
const TITLE: Payload = Payload::Json(r#"{"title":"changed"}"#);
const SHARE: Payload = Payload::Json(r#"{"case":"{case}","role":"read","no_password":true}"#);

/// Every endpoint a grant can reach.
#[rustfmt::skip]
const ENDPOINTS: &[Endpoint] = &[
    case("GET", "/api/v1/cases/{case}", NONE, Action::Read, 200),
    case("GET", "/api/v1/cases/{case}/tree", NONE, Action::Read, 200),
    case("GET", "/api/v1/cases/{case}/files/{file}", NONE, Action::Read, 200).targeted(),
    case("GET", "/api/v1/cases/{case}/files/{file}/content", NONE, Action::Read, 200).targeted(),
    case("GET", "/api/v1/cases/{case}/zip", NONE, Action::Read, 200),
    case("GET", "/api/v1/cases/{case}/folders/{folder}/zip", NONE, Action::Read, 200).targeted(),
    case("POST", "/api/v1/cases/{case}/files?folder={folder}", UPLOAD, Action::Upload, 201)
        .targeted(),
    case("POST", "/api/v1/cases/{case}/files?folder={folder}", UPLOAD_TAKEN, Action::Upload, 201)
        .targeted()
        .taken(),
    case("POST", "/api/v1/cases/{case}/folders", FOLDER, Action::MakeFolder, 201).targeted(),
    case("POST", "/api/v1/cases/{case}/folders", FOLDER_TAKEN, Action::MakeFolder, 201)
        .targeted()
        .taken(),
    case("PATCH", "/api/v1/cases/{case}/files/{file}", RENAME, Action::WriteFiles, 200).targeted(),
    case("DELETE", "/api/v1/cases/{case}/files/{file}", NONE, Action::WriteFiles, 204).targeted(),
    case("DELETE", "/api/v1/cases/{case}/folders/{folder}", NONE, Action::WriteFiles, 204)
        .targeted(),
    case("PATCH", "/api/v1/cases/{case}", TITLE, Action::Edit, 200),
    case("DELETE", "/api/v1/cases/{case}", NONE, Action::Delete, 204),
    case("GET", "/api/v1/cases/{case}/history", NONE, Action::History, 200),
    case("POST", "/api/v1/grants", SHARE, Action::Share, 201),
    link("GET", "/api/v1/link", NONE, Action::Info, 200),
    link("GET", "/api/v1/link/tree", NONE, Action::Read, 200),
    link("GET", "/api/v1/link/files/{file}/content", NONE, Action::Read, 200),
    link("GET", "/api/v1/link/zip", NONE, Action::Read, 200),
    link("POST", "/api/v1/link/files?folder={folder}", UPLOAD, Action::Upload, 201),
    link("POST", "/api/v1/link/files?folder={folder}", UPLOAD_TAKEN, Action::Upload, 201).taken(),
    link("POST", "/api/v1/link/receipt", NONE, Action::Upload, 200),
];

/// An expected answer: the status and, for a refusal, the error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expect {
    status: u16,
    code: Option<&'static str>,
}

const fn allowed(status: u16) -> Expect {
    Expect { status, code: None }
}

const fn refused(status: u16, code: &'static str) -> Expect {
    Expect {
        status,
        code: Some(code),
    }
}

impl Endpoint {
    fn method(&self) -> Method {
        self.method.parse().expect("an HTTP method")
    }

    /// What the owner, or a grantee whose role allows the action, gets.
    fn allowed(&self, drop: bool) -> Expect {
        if self.taken && !drop {
            refused(409, "conflict")
        } else {
            allowed(self.ok)
        }
    }

    /// What a grantee with `role` gets; `outside` when the call names something outside its
    /// folder.
    fn for_grantee(&self, role: Role, outside: bool) -> Expect {
        let permitted = match self.action {
            Action::Info => true,
            Action::Read => role != Role::Drop,
            Action::Upload => role != Role::Read,
            Action::MakeFolder | Action::WriteFiles => role == Role::Edit,
            Action::Edit | Action::Delete | Action::History | Action::Share => false,
        };
        if !permitted {
            refused(403, "forbidden")
        } else if self.targeted && outside {
            refused(404, "not_found")
        } else {
            self.allowed(role == Role::Drop)
        }
    }

    /// The answer `who` must get, per the rules of `access.rs`.
    fn expected(&self, who: Who) -> Expect {
        match (self.api, who) {
            (Api::Case, Who::Owner) => self.allowed(false),
            (Api::Case, Who::Colleague(role)) => self.for_grantee(role, false),
            (Api::Case, Who::FolderColleague(role, place)) => {
                self.for_grantee(role, place == Place::Outside)
            }
            (Api::Case, Who::RevokedColleague | Who::ExpiredColleague | Who::Other) => {
                refused(404, "not_found")
            }
            (Api::Case, Who::Link(_) | Who::RevokedLink | Who::ExpiredLink | Who::Anonymous) => {
                refused(401, "unauthorized")
            }
            (Api::Link, Who::Link(role)) => self.for_grantee(role, false),
            (Api::Link, _) => refused(404, "link_unavailable"),
        }
    }
}

impl World {
    async fn call(&self, who: Who, endpoint: &Endpoint, fixture: &Fixture) -> Response {
        let path = fixture.fill(endpoint.path);
        let request = self.request(who, fixture, endpoint.method(), &path);
        let request = match endpoint.payload {
            Payload::Nothing => request,
            Payload::Json(text) => request
                .header("content-type", "application/json")
                .body(fixture.fill(text)),
            Payload::Upload(name) => request
                .header("x-file-name", name)
                .body(&b"dropped bytes"[..]),
        };
        request.send().await.expect("a request")
    }
}

/// Calls every endpoint of `api` as every principal, each on a fresh case, and checks the
/// answers against [`Endpoint::expected`]; a refused call must leave the case, the quotas
/// and the stored objects as they were. Returns the mismatches.
async fn run_matrix(api: Api) -> Vec<String> {
    let world = World::new().await;
    let practice = &world.practice;
    let endpoints: Vec<&Endpoint> = ENDPOINTS.iter().filter(|e| e.api == api).collect();
    let mut failures = Vec::new();
    for who in PRINCIPALS {
        let mut fixtures = Vec::with_capacity(endpoints.len());
        for _ in &endpoints {
            fixtures.push(world.fixture(who).await);
        }
        if let Some(last) = fixtures.last() {
            World::wait_for_expiry(last).await;
        }
        for (endpoint, fixture) in endpoints.iter().zip(&fixtures) {
            let taken = if endpoint.taken { " (name taken)" } else { "" };
            let label = format!("{} {}{taken} as {who:?}", endpoint.method, endpoint.path);
            let before = practice.snapshot(&world.ann, &fixture.case).await;
            let response = world.call(who, endpoint, fixture).await;
            let status = response.status().as_u16();
            let body = response.bytes().await.expect("a body");
            let text = String::from_utf8_lossy(&body);
            let expected = endpoint.expected(who);
            let code = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
            if status != expected.status || code.as_deref() != expected.code {
                failures.push(format!(
                    "{label}: expected {} {}, got {status} {text}",
                    expected.status,
                    expected.code.unwrap_or("(success)"),
                ));
            }
            if status >= 400 {
                if practice.snapshot(&world.ann, &fixture.case).await != before {
                    eprintln!(
                        "{label}: the refused call changed something; waiting up to {SETTLE_TIMEOUT:?}"
                    );
                }
                practice
                    .assert_left_as(&world.ann, &fixture.case, &before)
                    .await;
                continue;
            }
            let drop = matches!(who, Who::Colleague(Role::Drop) | Who::Link(Role::Drop));
            if let (true, Payload::Upload(name)) = (drop, endpoint.payload) {
                let view: Value = serde_json::from_slice(&body).expect("a file view");
                world.check_drop(who, fixture, &view, name).await;
            }
            if matches!(who, Who::FolderColleague(..)) && endpoint.path.ends_with("/tree") {
                assert!(
                    !text.contains(&fixture.outside_file)
                        && !text.contains(&fixture.outside_folder),
                    "{label}: a folder grant shows only its folder: {text}"
                );
            }
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread")]
async fn case_endpoints_answer_every_grant_as_the_rules_say() {
    let failures = run_matrix(Api::Case).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn link_endpoints_answer_every_grant_as_the_rules_say() {
    let failures = run_matrix(Api::Link).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
