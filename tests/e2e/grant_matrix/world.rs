//! The practice the grant matrix runs in: an owner, a colleague who receives the grants, a
//! watcher (to check what a drop leaves visible) and a stranger; a fresh case per call,
//! shared with the principal under test; link recipients with clients of their own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use casevault_tests::{Practice, TestUser, expect_json, id_of};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

use super::{Place, Role, Who};

/// How far ahead an expiring grant expires when it is created, in milliseconds.
const EXPIRES_IN_MS: i64 = 2_000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_millis()).expect("a representable time")
}

/// A recipient without an account: their own client, so that cookies never mix.
pub struct Recipient {
    client: Client,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Recipient {
    /// A recipient with no session yet.
    pub fn new(practice: &Practice) -> Recipient {
        Recipient {
            client: casevault_tests::client_builder(&practice.app.cert_pem)
                .build()
                .expect("a client"),
            cookie: None,
            csrf: None,
        }
    }

    /// A request with the session cookie and the CSRF token, when there are some.
    pub fn request(&self, practice: &Practice, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.client.request(method, practice.app.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request
    }

    /// `POST /api/v1/links/{token}/session` with `password`; the raw answer (the session is
    /// not kept: see [`Recipient::open`]).
    pub async fn try_password(&self, practice: &Practice, token: &str, password: &str) -> Response {
        self.request(
            practice,
            Method::POST,
            &format!("/api/v1/links/{token}/session"),
        )
        .json(&json!({ "password": password }))
        .send()
        .await
        .expect("a password attempt")
    }

    /// Opens the link with `password`, asserting 201, and keeps the session.
    pub async fn open(&mut self, practice: &Practice, token: &str, password: &str) -> Value {
        let response = self.try_password(practice, token, password).await;
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|value| value.to_str().expect("an ASCII cookie").to_owned());
        let body = expect_json(response, 201).await;
        let cookie = cookie.expect("a session cookie");
        self.cookie = Some(cookie.split(';').next().expect("a pair").to_owned());
        self.csrf = body["csrf_token"].as_str().map(str::to_owned);
        body
    }
}

/// The token at the end of a share link.
pub fn token_of(created: &Value) -> String {
    let link = created["link"].as_str().expect("a link");
    link.rsplit('/').next().expect("a token").to_owned()
}

/// `POST /api/v1/grants` as `owner`, asserting 201.
pub async fn share(practice: &Practice, owner: &TestUser, form: Value) -> Value {
    let response = practice
        .send(owner, Method::POST, "/api/v1/grants", Some(form))
        .await;
    expect_json(response, 201).await
}

/// The server and its users.
pub struct World {
    pub practice: Practice,
    /// Owns every case.
    pub ann: TestUser,
    /// Receives the colleague grants.
    pub carol: TestUser,
    /// Gets a read grant after a drop, to check that dropped files stay hidden.
    pub dave: TestUser,
    /// Has no relation to any case.
    pub bob: TestUser,
}

/// A fresh case, shared with one principal:
///
/// ```text
/// Shared/            ← the folder of folder-scoped grants
///   Scans/           ← the "inside" folder
///     scan.stl
/// Private/           ← the "outside" folder
///   scan.stl
/// ```
pub struct Fixture {
    pub case: String,
    pub inside_folder: String,
    pub inside_file: String,
    pub outside_folder: String,
    pub outside_file: String,
    /// Whether the principal's calls name the outside folder and file.
    pub outside: bool,
    /// The link session of a link principal.
    pub recipient: Option<Recipient>,
    /// When the grant expires, for expiring principals.
    pub expires_at: Option<i64>,
}

/// The name of both existing files.
pub const TAKEN_NAME: &str = "scan.stl";

impl Fixture {
    /// The folder the call names.
    pub fn folder(&self) -> &str {
        if self.outside {
            &self.outside_folder
        } else {
            &self.inside_folder
        }
    }

    /// The file the call names.
    pub fn file(&self) -> &str {
        if self.outside {
            &self.outside_file
        } else {
            &self.inside_file
        }
    }

    /// `text` with `{case}`, `{file}` and `{folder}` replaced.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{case}", &self.case)
            .replace("{file}", self.file())
            .replace("{folder}", self.folder())
    }
}

impl World {
    pub async fn new() -> World {
        let practice = Practice::spawn().await;
        let ann = practice.user("ann").await;
        let carol = practice.user("carol").await;
        let dave = practice.user("dave").await;
        let bob = practice.user("bob").await;
        World {
            practice,
            ann,
            carol,
            dave,
            bob,
        }
    }

    /// A fresh case with its grant for `who`. Revoked and expiring grants are first shown to
    /// work, so that what refuses them later is the revocation or the expiry.
    pub async fn fixture(&self, who: Who) -> Fixture {
        let practice = &self.practice;
        let ann = &self.ann;
        let case = practice.new_case(ann).await;
        let shared = id_of(&practice.folder(ann, &case, "Shared", None).await);
        let inside_folder = id_of(&practice.folder(ann, &case, "Scans", Some(&shared)).await);
        let outside_folder = id_of(&practice.folder(ann, &case, "Private", None).await);
        let inside = format!("?folder={inside_folder}");
        let inside_file = id_of(
            &practice
                .upload_to(ann, &case, &inside, TAKEN_NAME, b"solid inside")
                .await,
        );
        let outside = format!("?folder={outside_folder}");
        let outside_file = id_of(
            &practice
                .upload_to(ann, &case, &outside, TAKEN_NAME, b"solid outside")
                .await,
        );
        let mut fixture = Fixture {
            case,
            inside_folder,
            inside_file,
            outside_folder,
            outside_file,
            outside: matches!(who, Who::FolderColleague(_, Place::Outside)),
            recipient: None,
            expires_at: None,
        };
        let carol = json!(self.carol.email);
        let form = match who {
            Who::Owner | Who::Other | Who::Anonymous => return fixture,
            Who::Colleague(role) => json!({ "role": role.name(), "colleague": carol }),
            Who::FolderColleague(role, _) => {
                json!({ "role": role.name(), "colleague": carol, "folder": shared })
            }
            Who::RevokedColleague | Who::ExpiredColleague => {
                json!({ "role": "edit", "colleague": carol })
            }
            Who::Link(role) => json!({ "role": role.name(), "no_password": true }),
            Who::RevokedLink | Who::ExpiredLink => json!({ "role": "edit", "no_password": true }),
        };
        let mut form = form;
        form["case"] = json!(fixture.case);
        if matches!(who, Who::ExpiredColleague | Who::ExpiredLink) {
            let at = now_ms() + EXPIRES_IN_MS;
            form["expires_at"] = json!(at);
            fixture.expires_at = Some(at);
        }
        let created = share(practice, ann, form).await;
        if created["link"].is_string() {
            let mut recipient = Recipient::new(practice);
            recipient.open(practice, &token_of(&created), "").await;
            fixture.recipient = Some(recipient);
        }
        if matches!(
            who,
            Who::RevokedColleague | Who::ExpiredColleague | Who::RevokedLink | Who::ExpiredLink
        ) {
            self.assert_works(&fixture).await;
        }
        if matches!(who, Who::RevokedColleague | Who::RevokedLink) {
            let grant = created["grant"]["id"].as_str().expect("a grant id");
            let path = format!("/api/v1/grants/{grant}");
            let revoke = practice.send(ann, Method::DELETE, &path, None).await;
            assert_eq!(revoke.status(), 204, "revoke {grant}");
        }
        fixture
    }

    /// The grant of `fixture` reads the inside file (before it is revoked or expires).
    async fn assert_works(&self, fixture: &Fixture) {
        let response = match &fixture.recipient {
            Some(recipient) => {
                let path = format!("/api/v1/link/files/{}/content", fixture.inside_file);
                recipient
                    .request(&self.practice, Method::GET, &path)
                    .send()
                    .await
                    .expect("a link download")
            }
            None => {
                let path = format!(
                    "/api/v1/cases/{}/files/{}/content",
                    fixture.case, fixture.inside_file
                );
                self.practice
                    .send(&self.carol, Method::GET, &path, None)
                    .await
            }
        };
        assert_eq!(response.status(), 200, "the grant works before it ends");
        assert_eq!(
            response.bytes().await.expect("a body").as_ref(),
            b"solid inside"
        );
    }

    /// Waits until the grant of `fixture`, if it expires, has expired.
    pub async fn wait_for_expiry(fixture: &Fixture) {
        if let Some(at) = fixture.expires_at {
            let left = at + 100 - now_ms();
            if left > 0 {
                tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
            }
        }
    }

    /// A request as `who`, on `fixture`.
    pub fn request(
        &self,
        who: Who,
        fixture: &Fixture,
        method: Method,
        path: &str,
    ) -> RequestBuilder {
        let practice = &self.practice;
        match who {
            Who::Owner => practice.request(Some(&self.ann), method, path),
            Who::Colleague(_)
            | Who::FolderColleague(..)
            | Who::RevokedColleague
            | Who::ExpiredColleague => practice.request(Some(&self.carol), method, path),
            Who::Link(_) | Who::RevokedLink | Who::ExpiredLink => fixture
                .recipient
                .as_ref()
                .expect("a link session")
                .request(practice, method, path),
            Who::Other => practice.request(Some(&self.bob), method, path),
            Who::Anonymous => practice.request(None, method, path),
        }
    }

    /// After a drop through `who` stored `view` (asked for as `given`): the dropper was told
    /// the name they gave and no folder; the owner sees the file (under a free name when
    /// `given` was taken) beside the one already there; a colleague who reads the case does
    /// not see it, and neither can the dropper.
    pub async fn check_drop(&self, who: Who, fixture: &Fixture, view: &Value, given: &str) {
        let practice = &self.practice;
        let id = id_of(view);
        assert_eq!(view["name"], given, "the dropper sees the name they gave");
        assert!(view["folder"].is_null(), "no folder disclosed: {view}");

        let tree = practice.tree(&self.ann, &fixture.case).await;
        let files = tree["files"].as_array().expect("files");
        let stored = files
            .iter()
            .find(|f| f["id"] == id.as_str())
            .unwrap_or_else(|| panic!("the owner sees the dropped file {id} in {tree}"));
        assert_eq!(stored["folder"], fixture.folder(), "dropped where asked");
        let expected = if given == TAKEN_NAME {
            "scan (2).stl"
        } else {
            given
        };
        assert_eq!(stored["name"], expected);
        assert!(
            files.iter().any(|f| f["id"] == fixture.file()),
            "the file already there is untouched"
        );

        share(
            practice,
            &self.ann,
            json!({ "case": fixture.case, "role": "read", "colleague": self.dave.email }),
        )
        .await;
        let seen = practice.tree(&self.dave, &fixture.case).await;
        assert!(
            !seen.to_string().contains(&id),
            "a reader does not see a dropped file: {seen}"
        );
        let path = format!("/api/v1/cases/{}/files/{id}", fixture.case);
        let response = practice.send(&self.dave, Method::GET, &path, None).await;
        assert_eq!(
            response.status(),
            404,
            "a reader cannot name a dropped file"
        );

        let path = match who {
            Who::Link(_) => format!("/api/v1/link/files/{id}/content"),
            _ => format!("/api/v1/cases/{}/files/{id}/content", fixture.case),
        };
        let response = self.request(who, fixture, Method::GET, &path).send().await;
        let status = response.expect("a download").status();
        assert_eq!(status, 403, "the dropper cannot read what they dropped");
    }
}

impl Role {
    /// The role's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Edit => "edit",
            Role::Drop => "drop",
        }
    }
}
