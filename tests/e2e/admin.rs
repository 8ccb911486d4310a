//! The administration commands, run in-process against a temporary data folder: users,
//! organisations, quotas, key rotation, the integrity check, backup and restore, and the
//! refusal to open a database another process holds.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use casevault_server::Settings;
use casevault_server::admin::Console;
use casevault_server::admin::crypto::{Argon2Params, PasswordHasher};
use casevault_server::admin::storage::{
    Actor, BlobId, CaseRecord, NewCase, NewFile, OnConflict, QuotaAccount, Storage, UserRecord,
};
use casevault_server::cli::{Cli, run_with};
use clap::Parser;
use tempfile::TempDir;

/// A data folder and the environment that points the commands at it.
struct Admin {
    dir: TempDir,
}

/// What a command printed and how it ended.
struct Outcome {
    result: Result<(), String>,
    output: String,
}

impl Outcome {
    fn ok(self) -> String {
        match self.result {
            Ok(()) => self.output,
            Err(err) => panic!("command failed: {err}\noutput:\n{}", self.output),
        }
    }

    fn err(self) -> String {
        match self.result {
            Ok(()) => panic!(
                "command succeeded, expected a failure; output:\n{}",
                self.output
            ),
            Err(err) => err,
        }
    }
}

impl Admin {
    fn new() -> Admin {
        Admin {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![(
            "CASEVAULT__DATA_DIR".to_owned(),
            self.path().display().to_string(),
        )]
    }

    fn settings(&self) -> Settings {
        Settings::load(None, self.env()).expect("settings")
    }

    /// Runs `casevault ARGS` with an empty standard input.
    fn run(&self, args: &[&str]) -> Outcome {
        self.run_stdin(args, "")
    }

    /// Runs `casevault ARGS` with `stdin` as standard input.
    fn run_stdin(&self, args: &[&str], stdin: &str) -> Outcome {
        self.run_env(args, stdin, self.env())
    }

    fn run_env(&self, args: &[&str], stdin: &str, env: Vec<(String, String)>) -> Outcome {
        let cli = Cli::try_parse_from(std::iter::once("casevault").chain(args.iter().copied()))
            .expect("valid command line");
        let mut input = stdin.as_bytes();
        let mut output = Vec::new();
        let result = run_with(
            cli,
            env,
            &mut Console {
                input: &mut input,
                output: &mut output,
            },
        );
        Outcome {
            result,
            output: String::from_utf8(output).expect("utf-8 output"),
        }
    }

    /// Runs `work` with storage open (the commands must not run meanwhile).
    fn with_storage<T>(&self, work: impl AsyncFnOnce(&Storage) -> T) -> T {
        let settings = self.settings();
        runtime().block_on(async {
            let storage = casevault_server::backend::open(&settings)
                .await
                .expect("open storage");
            work(&storage).await
        })
    }

    fn user(&self, email: &str) -> UserRecord {
        self.with_storage(async |s| s.meta().user_by_email(email).await)
            .expect("read user")
            .expect("user exists")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn verifies(user: &UserRecord, password: &str) -> bool {
    let hasher = PasswordHasher::new(Argon2Params::default(), 1);
    runtime()
        .block_on(hasher.verify(password, user.password.as_ref()))
        .expect("verify")
}

/// The value after `label` on its line of `output`.
fn field<'a>(output: &'a str, label: &str) -> &'a str {
    let start = output.find(label).expect(label) + label.len();
    output[start..]
        .split(|c: char| c.is_whitespace() || c == ')' || c == ',')
        .next()
        .expect("value")
}

#[test]
fn admin_user_commands() {
    let admin = Admin::new();
    let out = admin
        .run(&[
            "user",
            "create",
            "--email",
            "Ann@Clinic.example",
            "--name",
            "Dr Ann",
            "--admin",
        ])
        .ok();
    let password = field(&out, "password: ").to_owned();
    assert_eq!(password.len(), 20, "{out}");
    let ann = admin.user("ann@clinic.example");
    assert!(ann.is_admin && !ann.disabled);
    assert!(verifies(&ann, &password));

    let chosen = "correct horse battery staple";
    let out = admin
        .run_stdin(
            &[
                "user",
                "create",
                "--email",
                "bob@clinic.example",
                "--name",
                "Bob",
                "--quota",
                "2GiB",
                "--password-stdin",
            ],
            &format!("{chosen}\n"),
        )
        .ok();
    assert!(!out.contains("password:"), "{out}");
    let bob = admin.user("bob@clinic.example");
    assert!(!bob.is_admin);
    assert!(verifies(&bob, chosen));
    let quota = admin
        .with_storage(async |s| s.meta().quota(QuotaAccount::User(bob.id)).await)
        .expect("quota");
    assert_eq!(quota.limit, 2 << 30);

    let err = admin
        .run(&[
            "user",
            "create",
            "--email",
            "BOB@clinic.example",
            "--name",
            "Bob again",
        ])
        .err();
    assert!(err.contains("already exists"), "{err}");
    let err = admin
        .run_stdin(
            &[
                "user",
                "create",
                "--email",
                "eve@clinic.example",
                "--name",
                "Eve",
                "--password-stdin",
            ],
            "short\n",
        )
        .err();
    assert!(err.contains("at least 12 characters"), "{err}");

    let list = admin.run(&["user", "list"]).ok();
    assert!(
        list.contains("ann@clinic.example") && list.contains("Dr Ann"),
        "{list}"
    );
    assert!(
        list.contains("bob@clinic.example") && list.contains("0 B / 2.0 GiB"),
        "{list}"
    );

    admin
        .run(&["user", "disable", "--email", "bob@clinic.example"])
        .ok();
    assert!(admin.user("bob@clinic.example").disabled);
    admin
        .run(&["user", "enable", "--email", "bob@clinic.example"])
        .ok();
    assert!(!admin.user("bob@clinic.example").disabled);
    let err = admin
        .run(&["user", "disable", "--email", "nobody@clinic.example"])
        .err();
    assert!(err.contains("no user"), "{err}");

    let out = admin
        .run(&["user", "reset-password", "--email", "bob@clinic.example"])
        .ok();
    let new_password = field(&out, "password: ").to_owned();
    let bob = admin.user("bob@clinic.example");
    assert!(verifies(&bob, &new_password));
    assert!(!verifies(&bob, chosen));

    admin
        .run(&[
            "quota",
            "set",
            "--email",
            "bob@clinic.example",
            "--limit",
            "500MiB",
        ])
        .ok();
    let quota = admin
        .with_storage(async |s| s.meta().quota(QuotaAccount::User(bob.id)).await)
        .expect("quota");
    assert_eq!(quota.limit, 500 << 20);

    let actions: Vec<String> = admin
        .with_storage(async |s| s.meta().recent_audit(100).await)
        .expect("audit")
        .into_iter()
        .filter(|e| e.event.actor == Actor::System)
        .map(|e| e.event.action)
        .collect();
    for action in [
        "admin.user.create",
        "admin.user.disable",
        "admin.user.enable",
        "admin.user.reset_password",
        "admin.quota.set",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[test]
fn admin_org_commands() {
    let admin = Admin::new();
    admin
        .run(&[
            "user",
            "create",
            "--email",
            "carol@clinic.example",
            "--name",
            "Carol",
        ])
        .ok();
    let out = admin.run(&["org", "create", "--name", "Smile Dental"]).ok();
    let org = field(&out, "(id ").to_owned();
    admin
        .run(&[
            "org",
            "add-member",
            "--org",
            &org,
            "--email",
            "carol@clinic.example",
            "--admin",
        ])
        .ok();
    let carol = admin.user("carol@clinic.example");
    let org_id = org.parse().expect("org id");
    let members = admin
        .with_storage(async |s| s.meta().members_of(org_id).await)
        .expect("members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].0, carol.id);

    let list = admin.run(&["org", "list"]).ok();
    assert!(
        list.contains("Smile Dental") && list.contains(&org),
        "{list}"
    );
    assert!(
        list.contains("carol@clinic.example (admin)") && list.contains("200.0 GiB"),
        "{list}"
    );

    admin
        .run(&["quota", "set", "--org", &org, "--limit", "1TB"])
        .ok();
    let quota = admin
        .with_storage(async |s| s.meta().quota(QuotaAccount::Org(org_id)).await)
        .expect("quota");
    assert_eq!(quota.limit, 1_000_000_000_000);

    let err = admin
        .run(&[
            "org",
            "add-member",
            "--org",
            "not-an-id",
            "--email",
            "carol@clinic.example",
        ])
        .err();
    assert!(err.contains("not an organisation id"), "{err}");
}

fn new_case(admin: &Admin, owner: &UserRecord, title: &str) -> CaseRecord {
    admin
        .with_storage(async |s| {
            s.create_case(NewCase {
                account: QuotaAccount::User(owner.id),
                created_by: owner.id,
                patient_ref: "P-1".into(),
                title: title.into(),
                comments: String::new(),
                labels: Vec::new(),
                expires_at: None,
            })
            .await
        })
        .expect("create case")
}

fn key_ids_in_file(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("key file")
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("cvk1:"))
        .map(|rest| rest.split(':').next().expect("id").to_owned())
        .collect()
}

#[test]
fn admin_rotate_key_rewraps_case_keys() {
    let admin = Admin::new();
    admin
        .run(&[
            "user",
            "create",
            "--email",
            "dan@clinic.example",
            "--name",
            "Dan",
        ])
        .ok();
    let dan = admin.user("dan@clinic.example");
    let case = new_case(&admin, &dan, "Implant planning");
    let key_file = admin.path().join("master.key");
    let before = key_ids_in_file(&key_file);
    assert_eq!(before.len(), 1);

    let out = admin.run(&["rotate-key"]).ok();
    assert!(out.contains("1 case keys re-wrapped"), "{out}");
    let after = key_ids_in_file(&key_file);
    assert_eq!(after.len(), 1, "only the new key is kept");
    assert_ne!(after, before);
    let title = admin.with_storage(async |s| {
        let (record, _) = s.case_with_key(case.id).await.expect("case key opens");
        assert_eq!(record.wrapped_key.kek_id.to_string(), after[0]);
        s.case_details(&record).expect("details").title
    });
    assert_eq!(title, "Implant planning");

    let mut env = admin.env();
    let ring = std::fs::read_to_string(&key_file).expect("key file");
    env.push(("CASEVAULT__SECURITY__MASTER_KEY".into(), ring.trim().into()));
    let err = admin.run_env(&["rotate-key"], "", env).err();
    assert!(err.contains("CASEVAULT__SECURITY__MASTER_KEY"), "{err}");
}

#[test]
fn admin_fsck_reports_and_repairs_an_orphan() {
    let admin = Admin::new();
    let err = admin.run(&["fsck"]).err();
    assert!(err.contains("no casevault database"), "{err}");
    admin
        .run(&[
            "user",
            "create",
            "--email",
            "eli@clinic.example",
            "--name",
            "Eli",
        ])
        .ok();
    let out = admin.run(&["fsck"]).ok();
    assert!(out.contains("no problems found"), "{out}");

    let orphan = BlobId::random();
    admin.with_storage(async |s| {
        let (mut writer, _) = s.blobs().start(orphan).await.expect("start");
        writer.write(b"left behind").await.expect("write");
        writer.finish().await.expect("finish");
    });
    let checked = admin.run(&["fsck", "--deep"]);
    assert!(
        checked
            .output
            .contains(&format!("problem: object {orphan}")),
        "{}",
        checked.output
    );
    let err = checked.err();
    assert!(err.contains("problems"), "{err}");

    let out = admin.run(&["fsck", "--repair"]).ok();
    assert!(out.contains("1 orphan objects deleted"), "{out}");
    assert!(out.contains("no problems found"), "{out}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn admin_backup_and_restore() {
    let source = Admin::new();
    source
        .run_stdin(
            &[
                "user",
                "create",
                "--email",
                "fay@clinic.example",
                "--name",
                "Fay",
                "--password-stdin",
            ],
            "fay's long password\n",
        )
        .ok();
    let fay = source.user("fay@clinic.example");
    let case = new_case(&source, &fay, "Orthodontics");
    // A file with real contents: the bytes of a health response from a running server.
    let file = runtime().block_on(async {
        let app = casevault_tests::spawn_app().await;
        let body = app.get("/api/v1/health").await.bytes_stream();
        let storage = casevault_server::backend::open(&source.settings())
            .await
            .expect("open");
        storage
            .upload(
                NewFile {
                    case: case.id,
                    folder: None,
                    name: "xray.json".into(),
                    uploaded_by: Actor::User(fay.id),
                    expected_size: None,
                    on_conflict: OnConflict::Fail,
                    owner_only: false,
                    grant: None,
                    uploader: None,
                },
                Box::pin(body),
            )
            .await
            .expect("upload")
    });

    let backups = tempfile::tempdir().expect("tempdir");
    let out_dir = backups.path().join("nightly");
    let out_arg = out_dir.display().to_string();
    let out = source.run(&["backup", "--out", &out_arg]).ok();
    assert!(
        out.contains("WARNING") && out.contains("not part of this backup"),
        "{out}"
    );
    assert_eq!(mode(&out_dir.join("metadata.cvbackup")), 0o600);
    assert_eq!(mode(&out_dir.join("master.key")), 0o600);
    let err = source.run(&["backup", "--out", &out_arg]).err();
    assert!(err.contains("not empty"), "{err}");

    // A tampered backup is refused and leaves no key behind.
    let tampered_dir = backups.path().join("tampered");
    copy_dir(&out_dir, &tampered_dir);
    let metadata = tampered_dir.join("metadata.cvbackup");
    let mut bytes = std::fs::read(&metadata).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&metadata, bytes).expect("write");
    let elsewhere = Admin::new();
    let err = elsewhere
        .run(&["restore", "--from", &tampered_dir.display().to_string()])
        .err();
    assert!(err.contains("checksum"), "{err}");
    assert!(!elsewhere.path().join("master.key").exists());

    // The object store is restored separately, then the metadata and the key.
    let target = Admin::new();
    copy_dir(
        &source.path().join("objects"),
        &target.path().join("objects"),
    );
    let out = target.run(&["restore", "--from", &out_arg]).ok();
    assert!(out.contains("no problems found"), "{out}");
    assert_eq!(mode(&target.path().join("master.key")), 0o600);
    let restored = target.user("fay@clinic.example");
    assert_eq!(restored.id, fay.id);
    assert!(verifies(&restored, "fay's long password"));
    target.with_storage(async |s| {
        let (record, key) = s.case_with_key(case.id).await.expect("case key opens");
        assert_eq!(
            s.case_details(&record).expect("details").title,
            "Orthodontics"
        );
        let files = s.meta().files_of(case.id).await.expect("files");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].id, file.id);
        assert_eq!(s.file_name(&key, &files[0]).expect("name"), "xray.json");
        let report = s.fsck(true).await.expect("fsck");
        assert!(report.is_clean() && report.files == 1, "{report:?}");
    });

    let err = target.run(&["restore", "--from", &out_arg]).err();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn admin_commands_refuse_a_database_in_use() {
    let admin = Admin::new();
    admin
        .run(&[
            "user",
            "create",
            "--email",
            "gus@clinic.example",
            "--name",
            "Gus",
        ])
        .ok();
    let settings = admin.settings();
    let runtime = runtime();
    let held = runtime
        .block_on(casevault_server::backend::open(&settings))
        .expect("open");
    let err = admin.run(&["user", "list"]).err();
    assert!(
        err.contains("the metadata database is in use: stop the server first"),
        "{err}"
    );
    drop(held);
    admin.run(&["user", "list"]).ok();
}
