//! Who may call what: every case endpoint, called by every kind of principal, against a
//! table of expected statuses. A principal with no relation to a case gets the same 404 as
//! for an unknown id; anonymous callers get 401; organisation members work on a group case
//! but neither delete it nor read its history. A refused call changes nothing.

use casevault_server::admin::storage::OrgRole;
use casevault_tests::{Practice, TestUser, expect_json, id_of};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// Who calls, and on which case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// The practitioner, on their personal case, with a session cookie and CSRF token.
    Owner,
    /// The practitioner, on their personal case, with a personal API token.
    OwnerByToken,
    /// The practitioner's cookie without the CSRF token (a forged cross-site request).
    OwnerWithoutCsrf,
    /// An organisation admin, on a group case a member opened.
    OrgAdmin,
    /// An organisation member, on a group case the admin opened.
    Member,
    /// Another practitioner, on the personal case.
    Other,
    /// Another practitioner outside the organisation, on a group case.
    Outsider,
    /// No credentials, on the personal case.
    Anonymous,
}

const EVERYONE: [Who; 8] = [
    Who::Owner,
    Who::OwnerByToken,
    Who::OwnerWithoutCsrf,
    Who::OrgAdmin,
    Who::Member,
    Who::Other,
    Who::Outsider,
    Who::Anonymous,
];

/// What a request carries.
#[derive(Clone, Copy, Debug)]
enum Payload {
    Nothing,
    Json(&'static str),
    Upload,
}

/// One endpoint and the answers it gives.
#[derive(Clone, Copy, Debug)]
struct Endpoint {
    method: &'static str,
    /// With `{case}` and `{file}` standing for the fixture's ids.
    path: &'static str,
    payload: Payload,
    /// The status when allowed.
    ok: u16,
    /// The status for an organisation member on a group case.
    member: u16,
    /// Whether the endpoint names a case (then strangers get 404, not `ok`).
    scoped: bool,
}

const fn endpoint(
    method: &'static str,
    path: &'static str,
    payload: Payload,
    ok: u16,
    member: u16,
) -> Endpoint {
    Endpoint {
        method,
        path,
        payload,
        ok,
        member,
        scoped: true,
    }
}

/// Every endpoint of the case API.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        scoped: false,
        ..endpoint("GET", "/api/v1/cases", Payload::Nothing, 200, 200)
    },
    Endpoint {
        scoped: false,
        ..endpoint(
            "POST",
            "/api/v1/cases",
            Payload::Json(r#"{"patient_ref":"P-9"}"#),
            201,
            201,
        )
    },
    Endpoint {
        scoped: false,
        ..endpoint("GET", "/api/v1/quota", Payload::Nothing, 200, 200)
    },
    endpoint("GET", "/api/v1/cases/{case}", Payload::Nothing, 200, 200),
    endpoint(
        "PATCH",
        "/api/v1/cases/{case}",
        Payload::Json(r#"{"title":"changed"}"#),
        200,
        200,
    ),
    endpoint("DELETE", "/api/v1/cases/{case}", Payload::Nothing, 204, 403),
    endpoint(
        "GET",
        "/api/v1/cases/{case}/history",
        Payload::Nothing,
        200,
        403,
    ),
    endpoint(
        "GET",
        "/api/v1/cases/{case}/tree",
        Payload::Nothing,
        200,
        200,
    ),
    endpoint(
        "POST",
        "/api/v1/cases/{case}/folders",
        Payload::Json(r#"{"name":"New folder"}"#),
        201,
        201,
    ),
    endpoint(
        "POST",
        "/api/v1/cases/{case}/files",
        Payload::Upload,
        201,
        201,
    ),
    endpoint(
        "GET",
        "/api/v1/cases/{case}/files/{file}",
        Payload::Nothing,
        200,
        200,
    ),
    endpoint(
        "PATCH",
        "/api/v1/cases/{case}/files/{file}",
        Payload::Json(r#"{"name":"renamed.txt"}"#),
        200,
        200,
    ),
    endpoint(
        "DELETE",
        "/api/v1/cases/{case}/files/{file}",
        Payload::Nothing,
        204,
        204,
    ),
    endpoint(
        "GET",
        "/api/v1/cases/{case}/files/{file}/content",
        Payload::Nothing,
        200,
        200,
    ),
    endpoint(
        "HEAD",
        "/api/v1/cases/{case}/files/{file}/content",
        Payload::Nothing,
        200,
        200,
    ),
];

impl Endpoint {
    fn method(&self) -> Method {
        self.method.parse().expect("an HTTP method")
    }

    /// The status `who` must get.
    fn expected(&self, who: Who) -> u16 {
        let safe = matches!(self.method, "GET" | "HEAD");
        match who {
            Who::Anonymous => 401,
            Who::Owner | Who::OwnerByToken | Who::OrgAdmin => self.ok,
            Who::OwnerWithoutCsrf if safe => self.ok,
            Who::OwnerWithoutCsrf => 403,
            Who::Member => self.member,
            Who::Other | Who::Outsider if self.scoped => 404,
            Who::Other | Who::Outsider => self.ok,
        }
    }
}

/// The server, its users and their organisation.
struct World {
    practice: Practice,
    /// The practitioner; admin of the organisation.
    ann: TestUser,
    /// A member of the organisation.
    carl: TestUser,
    /// A practitioner outside it.
    bob: TestUser,
    org: String,
    /// Ann's personal API token.
    token: String,
}

/// A case with one file, set up for one call.
struct Fixture {
    case: String,
    file: String,
}

impl World {
    async fn new() -> World {
        let practice = Practice::spawn().await;
        let ann = practice.user("ann").await;
        let carl = practice.user("carl").await;
        let bob = practice.user("bob").await;
        let org = practice
            .org("Group", &[(&ann, OrgRole::Admin), (&carl, OrgRole::Member)])
            .await;
        let response = practice
            .send(
                &ann,
                Method::POST,
                "/api/v1/tokens",
                Some(json!({ "name": "matrix" })),
            )
            .await;
        let token = expect_json(response, 201).await["token"]
            .as_str()
            .expect("a token")
            .to_owned();
        World {
            practice,
            ann,
            carl,
            bob,
            org,
            token,
        }
    }

    /// A fresh case for a call by `who`: personal, or a group case opened by someone else.
    async fn fixture(&self, who: Who) -> Fixture {
        let (creator, org) = match who {
            Who::OrgAdmin => (&self.carl, Some(&self.org)),
            Who::Member | Who::Outsider => (&self.ann, Some(&self.org)),
            _ => (&self.ann, None),
        };
        let case = self
            .practice
            .create_case(creator, json!({ "patient_ref": "P-1", "org_id": org }))
            .await;
        let case = id_of(&case);
        let file = self
            .practice
            .upload(creator, &case, "file.txt", b"file contents")
            .await;
        Fixture {
            case,
            file: id_of(&file),
        }
    }

    fn request(&self, who: Who, method: Method, path: &str) -> RequestBuilder {
        let practice = &self.practice;
        match who {
            Who::Owner | Who::OrgAdmin => practice.request(Some(&self.ann), method, path),
            Who::OwnerByToken => practice
                .request(None, method, path)
                .bearer_auth(&self.token),
            Who::OwnerWithoutCsrf => practice
                .request(None, method, path)
                .header("cookie", self.ann.session.cookie()),
            Who::Member => practice.request(Some(&self.carl), method, path),
            Who::Other | Who::Outsider => practice.request(Some(&self.bob), method, path),
            Who::Anonymous => practice.request(None, method, path),
        }
    }

    async fn call(&self, who: Who, endpoint: &Endpoint, fixture: &Fixture) -> Response {
        let path = endpoint
            .path
            .replace("{case}", &fixture.case)
            .replace("{file}", &fixture.file);
        let request = self.request(who, endpoint.method(), &path);
        let request = match endpoint.payload {
            Payload::Nothing => request,
            Payload::Json(text) => request
                .header("content-type", "application/json")
                .body(text),
            Payload::Upload => request
                .header("x-file-name", "upload.txt")
                .body(&b"uploaded"[..]),
        };
        request.send().await.expect("request")
    }

    /// What the case's owner sees of it: the case, its tree and the quotas.
    async fn state_of(&self, fixture: &Fixture) -> (Value, Value, Value) {
        let ann = &self.ann;
        (
            self.practice.case(ann, &fixture.case).await,
            self.practice.tree(ann, &fixture.case).await,
            self.practice.quotas(ann).await,
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_each_principal_as_the_table_says() {
    let world = World::new().await;
    let mut failures = Vec::new();
    for endpoint in ENDPOINTS {
        for who in EVERYONE {
            let fixture = world.fixture(who).await;
            let before = world.state_of(&fixture).await;
            let response = world.call(who, endpoint, &fixture).await;
            let status = response.status().as_u16();
            let expected = endpoint.expected(who);
            let head = endpoint.method == "HEAD";
            let body = response.bytes().await.expect("a body");
            let label = format!("{} {} as {who:?}", endpoint.method, endpoint.path);
            if status != expected {
                failures.push(format!(
                    "{label}: expected {expected}, got {status} {}",
                    String::from_utf8_lossy(&body)
                ));
                continue;
            }
            if status >= 400 {
                if !head {
                    let error: Value = serde_json::from_slice(&body).expect("a JSON error");
                    let code = error["error"]["code"].as_str().unwrap_or_default();
                    let want = match status {
                        401 => vec!["unauthorized"],
                        403 => vec!["forbidden", "csrf_failed"],
                        _ => vec!["not_found"],
                    };
                    assert!(want.contains(&code), "{label}: {error}");
                }
                let after = world.state_of(&fixture).await;
                assert_eq!(after, before, "{label}: a refused call changed the case");
            } else if !endpoint.scoped {
                // Collection endpoints never show a stranger's case.
                let text = String::from_utf8_lossy(&body);
                let stranger = matches!(who, Who::Other | Who::Outsider);
                assert_eq!(
                    text.contains(&fixture.case),
                    !stranger && endpoint.path == "/api/v1/cases" && endpoint.method == "GET",
                    "{label}: {text}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn files_of_one_case_are_not_reachable_through_another() {
    let world = World::new().await;
    let own = world.fixture(Who::Owner).await;
    let group = world.fixture(Who::Member).await;
    // Carl may see the group case and Ann's personal case is not his: naming the personal
    // file under the group case must not reveal it.
    for endpoint in ENDPOINTS.iter().filter(|e| e.path.contains("{file}")) {
        let mixed = Fixture {
            case: group.case.clone(),
            file: own.file.clone(),
        };
        let before = world.state_of(&own).await;
        let response = world.call(Who::Member, endpoint, &mixed).await;
        assert_eq!(
            response.status(),
            404,
            "{} {}",
            endpoint.method,
            endpoint.path
        );
        assert_eq!(world.state_of(&own).await, before);
    }
}
