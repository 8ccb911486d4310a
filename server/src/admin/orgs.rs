//! `casevault org …` and `casevault quota set`.

use casevault_storage::{OrgId, OrgRecord, OrgRole, QuotaAccount, Timestamp};
use clap::{ArgGroup, Args, Subcommand};

use super::size::{format_size, parse_size};
use super::users::{find_user, print_table};
use super::{Console, Open, audit, block_on, failed, open};
use crate::cli::ConfigArg;

/// The default shared quota of a new organisation.
pub const DEFAULT_ORG_QUOTA: &str = "200GiB";

/// `casevault org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation (a clinic or practice) whose members share group cases and
    /// one storage quota. Prints its id, which the other org commands take.
    Create(OrgCreateArgs),
    /// Add a user to an organisation, or change their role in it.
    AddMember(AddMemberArgs),
    /// List the organisations with their members and quota use.
    List(ConfigArg),
}

/// `org create`.
#[derive(Debug, Args)]
pub struct OrgCreateArgs {
    /// The organisation's name, e.g. "Smile Dental Clinic".
    #[arg(long)]
    pub name: String,
    /// Storage shared by the organisation's group cases, e.g. 200GiB, 1TB.
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_ORG_QUOTA)]
    pub quota: String,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `org add-member`.
#[derive(Debug, Args)]
pub struct AddMemberArgs {
    /// The organisation's id (shown by `org create` and `org list`).
    #[arg(long, value_name = "ID")]
    pub org: String,
    /// The member's login e-mail address.
    #[arg(long)]
    pub email: String,
    /// Let the member manage the organisation (members, quota, group cases).
    #[arg(long)]
    pub admin: bool,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `casevault quota …`.
#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Change how much a user or an organisation may store. A limit below what is already
    /// stored deletes nothing; new uploads are refused until space is freed.
    Set(QuotaSetArgs),
}

/// `quota set`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("account").required(true).args(["email", "org"])))]
pub struct QuotaSetArgs {
    /// The user whose personal quota to change.
    #[arg(long)]
    pub email: Option<String>,
    /// The organisation (id) whose shared quota to change.
    #[arg(long, value_name = "ID")]
    pub org: Option<String>,
    /// The new limit, e.g. 100GiB, 500MiB, 2TB.
    #[arg(long, value_name = "SIZE")]
    pub limit: String,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs an `org` sub-command.
pub fn run(
    command: OrgCommand,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    match command {
        OrgCommand::Create(args) => create(args, env, console),
        OrgCommand::AddMember(args) => add_member(args, env, console),
        OrgCommand::List(config) => list(config, env, console),
    }
}

fn parse_org(id: &str) -> Result<OrgId, String> {
    id.trim().parse().map_err(|_| {
        format!("{id:?} is not an organisation id (32 hex digits, see `casevault org list`)")
    })
}

fn create(
    args: OrgCreateArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let quota = parse_size(&args.quota).map_err(|err| format!("--quota: {err}"))?;
    let name = args.name.trim().to_owned();
    if name.is_empty() {
        return Err("--name must not be empty".into());
    }
    let org = block_on(async {
        let storage = open(&settings, Open::Existing, true).await?;
        let org = storage
            .meta()
            .create_org(OrgRecord {
                id: OrgId::random(),
                name,
                created_at: Timestamp::now(),
            })
            .await
            .map_err(failed)?;
        storage
            .meta()
            .set_quota_limit(QuotaAccount::Org(org.id), quota)
            .await
            .map_err(failed)?;
        audit(&storage, "admin.org.create").await?;
        Ok(org)
    })?;
    console.line(format_args!(
        "created organisation {:?} (id {}), quota {}",
        org.name,
        org.id,
        format_size(quota)
    ))
}

fn add_member(
    args: AddMemberArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let org_id = parse_org(&args.org)?;
    let role = if args.admin {
        OrgRole::Admin
    } else {
        OrgRole::Member
    };
    let (org, email) = block_on(async {
        let storage = open(&settings, Open::Existing, true).await?;
        let org = storage
            .meta()
            .org(org_id)
            .await
            .map_err(failed)?
            .ok_or_else(|| format!("no organisation with id {org_id}"))?;
        let user = find_user(&storage, &args.email).await?;
        storage
            .meta()
            .set_membership(org.id, user.id, role)
            .await
            .map_err(failed)?;
        audit(&storage, "admin.org.add_member").await?;
        Ok((org, user.email))
    })?;
    let role = if args.admin {
        "administrator"
    } else {
        "member"
    };
    console.line(format_args!("{email} is now {role} of {:?}", org.name))
}

fn list(
    config: ConfigArg,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = config.load(env)?;
    let rows = block_on(async {
        let storage = open(&settings, Open::Existing, false).await?;
        let meta = storage.meta();
        let mut rows = Vec::new();
        for org in meta.orgs().await.map_err(failed)? {
            let id = org.id;
            let mut members = Vec::new();
            for (user, role) in meta.members_of(id).await.map_err(failed)? {
                let email = match meta.user(user).await.map_err(failed)? {
                    Some(user) => user.email,
                    None => user.to_string(),
                };
                members.push(match role {
                    OrgRole::Admin => format!("{email} (admin)"),
                    OrgRole::Member => email,
                });
            }
            let quota = meta.quota(QuotaAccount::Org(id)).await.map_err(failed)?;
            rows.push(vec![
                org.id.to_string(),
                org.name,
                format!("{} / {}", format_size(quota.used), format_size(quota.limit)),
                if members.is_empty() {
                    "-".to_owned()
                } else {
                    members.join(", ")
                },
            ]);
        }
        Ok(rows)
    })?;
    if rows.is_empty() {
        return console.line("no organisations yet: create one with `casevault org create`");
    }
    print_table(
        console,
        &["ID", "NAME", "QUOTA USED / LIMIT", "MEMBERS"],
        &rows,
    )
}

/// Runs a `quota` sub-command.
pub fn run_quota(
    command: QuotaCommand,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let QuotaCommand::Set(args) = command;
    let settings = args.config.load(env)?;
    let limit = parse_size(&args.limit).map_err(|err| format!("--limit: {err}"))?;
    let org = args.org.as_deref().map(parse_org).transpose()?;
    let (who, record) = block_on(async {
        let storage = open(&settings, Open::Existing, true).await?;
        let (account, who) = match (org, &args.email) {
            (Some(id), _) => {
                let org = storage
                    .meta()
                    .org(id)
                    .await
                    .map_err(failed)?
                    .ok_or_else(|| format!("no organisation with id {id}"))?;
                (
                    QuotaAccount::Org(id),
                    format!("organisation {:?}", org.name),
                )
            }
            (None, Some(email)) => {
                let user = find_user(&storage, email).await?;
                (QuotaAccount::User(user.id), user.email)
            }
            (None, None) => return Err("give --email or --org".into()),
        };
        let record = storage
            .meta()
            .set_quota_limit(account, limit)
            .await
            .map_err(failed)?;
        audit(&storage, "admin.quota.set").await?;
        Ok((who, record))
    })?;
    console.line(format_args!(
        "quota of {who}: {} used of {}",
        format_size(record.used),
        format_size(record.limit)
    ))?;
    if record.used > record.limit {
        console.line("note: more is stored than the new limit allows; nothing is deleted, but new uploads are refused until space is freed")?;
    }
    Ok(())
}
