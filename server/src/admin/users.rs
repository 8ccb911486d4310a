//! `casevault user …`: create, list, disable, enable, reset-password.

use casevault_crypto::{Argon2Params, PasswordHasher, Token};
use casevault_storage::{QuotaAccount, StorageError, Timestamp, UserId, UserRecord};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use super::size::{format_size, parse_size};
use super::{Console, Open, audit, block_on, failed, open};
use crate::cli::ConfigArg;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Characters in a generated password (base64url: 120 random bits).
pub const GENERATED_PASSWORD_CHARS: usize = 20;

/// The default personal quota of a new user.
pub const DEFAULT_USER_QUOTA: &str = "50GiB";

/// `casevault user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    ///
    /// Without --password-stdin a strong password is generated and shown once: hand it to
    /// the person securely (not by e-mail) and ask them to change it.
    Create(CreateArgs),
    /// List every account with its quota use.
    List(ConfigArg),
    /// Block an account from signing in and end its sessions (its cases and files are kept).
    Disable(EmailArgs),
    /// Allow a disabled account to sign in again.
    Enable(EmailArgs),
    /// Set a new password for an account and end its sessions.
    ///
    /// Without --password-stdin a strong password is generated and shown once.
    ResetPassword(PasswordArgs),
}

/// `user create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Login e-mail address.
    #[arg(long)]
    pub email: String,
    /// Name shown to colleagues, e.g. "Dr. Jane Smith".
    #[arg(long)]
    pub name: String,
    /// Make the account a server administrator.
    #[arg(long)]
    pub admin: bool,
    /// Storage allowed for the user's own cases, e.g. 50GiB, 500MiB, 1TB.
    #[arg(long, value_name = "SIZE", default_value = DEFAULT_USER_QUOTA)]
    pub quota: String,
    /// Read the password from the first line of standard input instead of generating one
    /// (at least 12 characters).
    #[arg(long)]
    pub password_stdin: bool,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// An account chosen by e-mail.
#[derive(Debug, Args)]
pub struct EmailArgs {
    /// The account's login e-mail address.
    #[arg(long)]
    pub email: String,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `user reset-password`.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The account's login e-mail address.
    #[arg(long)]
    pub email: String,
    /// Read the new password from the first line of standard input instead of generating
    /// one (at least 12 characters).
    #[arg(long)]
    pub password_stdin: bool,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs a `user` sub-command.
pub fn run(
    command: UserCommand,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    match command {
        UserCommand::Create(args) => create(args, env, console),
        UserCommand::List(config) => list(config, env, console),
        UserCommand::Disable(args) => set_disabled(args, true, env, console),
        UserCommand::Enable(args) => set_disabled(args, false, env, console),
        UserCommand::ResetPassword(args) => reset_password(args, env, console),
    }
}

/// A password from stdin, or a generated one (the flag says which).
fn choose_password(
    from_stdin: bool,
    console: &mut Console<'_>,
) -> Result<(Zeroizing<String>, bool), String> {
    if !from_stdin {
        let generated = Zeroizing::new(Token::generate().as_str());
        return Ok((
            Zeroizing::new(generated[..GENERATED_PASSWORD_CHARS].to_owned()),
            true,
        ));
    }
    let mut line = Zeroizing::new(String::new());
    console
        .input
        .read_line(&mut line)
        .map_err(|err| format!("cannot read the password from standard input: {err}"))?;
    let password = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > casevault_crypto::password::MAX_PASSWORD_LEN {
        return Err("the password is too long (at most 1024 bytes)".into());
    }
    Ok((password, false))
}

async fn hash(password: &str) -> Result<casevault_crypto::PasswordHash, String> {
    PasswordHasher::new(Argon2Params::default(), 1)
        .hash(password)
        .await
        .map_err(|err| format!("cannot hash the password: {err}"))
}

fn create(
    args: CreateArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let quota = parse_size(&args.quota).map_err(|err| format!("--quota: {err}"))?;
    let email = args.email.trim().to_lowercase();
    let name = args.name.trim().to_owned();
    if name.is_empty() {
        return Err("--name must not be empty".into());
    }
    let (password, generated) = choose_password(args.password_stdin, console)?;
    let user = block_on(async {
        let storage = open(&settings, Open::CreateIfMissing, true).await?;
        if storage
            .meta()
            .user_by_email(&email)
            .await
            .map_err(failed)?
            .is_some()
        {
            return Err(format!(
                "a user with the e-mail address {email} already exists"
            ));
        }
        let record = UserRecord {
            id: UserId::random(),
            email: email.clone(),
            display_name: name,
            password: Some(hash(&password).await?),
            is_admin: args.admin,
            disabled: false,
            created_at: Timestamp::now(),
        };
        let user = match storage.meta().create_user(record).await {
            Err(StorageError::NameConflict) => {
                return Err(format!(
                    "a user with the e-mail address {email} already exists"
                ));
            }
            Err(StorageError::Invalid(_)) => {
                return Err(format!("{email:?} is not a valid e-mail address"));
            }
            other => other.map_err(failed)?,
        };
        storage
            .meta()
            .set_quota_limit(QuotaAccount::User(user.id), quota)
            .await
            .map_err(failed)?;
        audit(&storage, "admin.user.create").await?;
        Ok(user)
    })?;
    let role = if user.is_admin {
        "administrator"
    } else {
        "user"
    };
    console.line(format_args!(
        "created {role} {} (id {}), quota {}",
        user.email,
        user.id,
        format_size(quota)
    ))?;
    if generated {
        print_generated(console, &password)?;
    }
    Ok(())
}

fn print_generated(console: &mut Console<'_>, password: &str) -> Result<(), String> {
    console.line(format_args!("password: {password}"))?;
    console.line(
        "This password is shown only once: hand it to the person securely (not by e-mail) \
         and ask them to change it after signing in.",
    )
}

fn list(
    config: ConfigArg,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = config.load(env)?;
    let rows = block_on(async {
        let storage = open(&settings, Open::Existing, false).await?;
        let mut rows = Vec::new();
        for user in storage.meta().users().await.map_err(failed)? {
            let quota = storage
                .meta()
                .quota(QuotaAccount::User(user.id))
                .await
                .map_err(failed)?;
            rows.push(vec![
                user.id.to_string(),
                user.email,
                user.display_name,
                yes_no(user.is_admin),
                yes_no(user.disabled),
                format!("{} / {}", format_size(quota.used), format_size(quota.limit)),
            ]);
        }
        Ok(rows)
    })?;
    if rows.is_empty() {
        return console.line("no users yet: create one with `casevault user create`");
    }
    print_table(
        console,
        &[
            "ID",
            "E-MAIL",
            "NAME",
            "ADMIN",
            "DISABLED",
            "QUOTA USED / LIMIT",
        ],
        &rows,
    )
}

fn set_disabled(
    args: EmailArgs,
    disabled: bool,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let email = block_on(async {
        let storage = open(&settings, Open::Existing, true).await?;
        let mut user = find_user(&storage, &args.email).await?;
        user.disabled = disabled;
        let (id, email) = (user.id, user.email.clone());
        storage.meta().update_user(user).await.map_err(failed)?;
        if disabled {
            storage
                .meta()
                .delete_user_sessions(id, None)
                .await
                .map_err(failed)?;
        }
        let action = if disabled {
            "admin.user.disable"
        } else {
            "admin.user.enable"
        };
        audit(&storage, action).await?;
        Ok(email)
    })?;
    if disabled {
        console.line(format_args!(
            "disabled {email}: the account cannot sign in and its sessions are ended; its cases and files are kept"
        ))
    } else {
        console.line(format_args!(
            "enabled {email}: the account can sign in again"
        ))
    }
}

fn reset_password(
    args: PasswordArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let (password, generated) = choose_password(args.password_stdin, console)?;
    let (email, ended) = block_on(async {
        let storage = open(&settings, Open::Existing, true).await?;
        let mut user = find_user(&storage, &args.email).await?;
        user.password = Some(hash(&password).await?);
        let (id, email) = (user.id, user.email.clone());
        storage.meta().update_user(user).await.map_err(failed)?;
        let ended = storage
            .meta()
            .delete_user_sessions(id, None)
            .await
            .map_err(failed)?;
        audit(&storage, "admin.user.reset_password").await?;
        Ok((email, ended))
    })?;
    console.line(format_args!(
        "new password set for {email}; {ended} signed-in sessions ended"
    ))?;
    if generated {
        print_generated(console, &password)?;
    }
    Ok(())
}

/// The account with this e-mail, or a clear error.
pub(crate) async fn find_user(
    storage: &casevault_storage::Storage,
    email: &str,
) -> Result<UserRecord, String> {
    storage
        .meta()
        .user_by_email(email)
        .await
        .map_err(failed)?
        .ok_or_else(|| format!("no user with the e-mail address {email}"))
}

pub(crate) fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Prints rows under a header, columns padded to their widest cell.
pub(crate) fn print_table(
    console: &mut Console<'_>,
    header: &[&str],
    rows: &[Vec<String>],
) -> Result<(), String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    console.line(render(header.to_vec()))?;
    for row in rows {
        console.line(render(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
