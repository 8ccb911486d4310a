//! Users, organisations and memberships.

use sled::Transactional;

use super::{Meta, abort, get, key, tx_put};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{OrgId, UserId};
use crate::records::{OrgRecord, OrgRole, UserRecord};

impl Meta {
    /// Creates a user; the e-mail (normalised to lower case) must be unused.
    pub async fn create_user(&self, mut user: UserRecord) -> Result<UserRecord> {
        user.email = normalise_email(&user.email)?;
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.users, &t.users_by_email).transaction(|(users, by_email)| {
                if by_email.get(user.email.as_bytes())?.is_some() {
                    return abort(StorageError::NameConflict);
                }
                by_email.insert(user.email.as_bytes(), user.id.as_bytes())?;
                tx_put(users, user.id.as_bytes(), &user)?;
                Ok(())
            })?;
            Ok(user)
        })
        .await
    }

    /// Replaces a user record (same id and e-mail).
    pub async fn update_user(&self, user: UserRecord) -> Result<()> {
        self.run_durable(move |m| {
            m.trees.users.transaction(|users| {
                let Some(old) = users.get(user.id.as_bytes())? else {
                    return abort(StorageError::NotFound("user"));
                };
                let old: UserRecord = codec::decode(&old)
                    .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                if old.email != user.email {
                    return abort(StorageError::Invalid(
                        "e-mail change through update_user".into(),
                    ));
                }
                tx_put(users, user.id.as_bytes(), &user)
            })?;
            Ok(())
        })
        .await
    }

    /// A user by id.
    pub async fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.run(move |m| get(&m.trees.users, id.as_bytes())).await
    }

    /// A user by e-mail (case-insensitive).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let Ok(email) = normalise_email(email) else {
            return Ok(None);
        };
        self.run(move |m| {
            let Some(id) = m.trees.users_by_email.get(email.as_bytes())? else {
                return Ok(None);
            };
            get(&m.trees.users, &id)
        })
        .await
    }

    /// Every user, in id order.
    pub async fn users(&self) -> Result<Vec<UserRecord>> {
        self.run(|m| {
            m.trees
                .users
                .iter()
                .values()
                .map(|v| codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Creates an organisation.
    pub async fn create_org(&self, org: OrgRecord) -> Result<OrgRecord> {
        self.run_durable(move |m| {
            m.trees
                .orgs
                .insert(org.id.as_bytes(), codec::encode(&org)?)?;
            Ok(org)
        })
        .await
    }

    /// An organisation by id.
    pub async fn org(&self, id: OrgId) -> Result<Option<OrgRecord>> {
        self.run(move |m| get(&m.trees.orgs, id.as_bytes())).await
    }

    /// Every organisation, in id order.
    pub async fn orgs(&self) -> Result<Vec<OrgRecord>> {
        self.run(|m| {
            m.trees
                .orgs
                .iter()
                .values()
                .map(|v| codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Adds a member or changes their role.
    pub async fn set_membership(&self, org: OrgId, user: UserId, role: OrgRole) -> Result<()> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.orgs, &t.users, &t.memberships, &t.memberships_by_user).transaction(
                |(orgs, users, by_org, by_user)| {
                    if orgs.get(org.as_bytes())?.is_none() {
                        return abort(StorageError::NotFound("organisation"));
                    }
                    if users.get(user.as_bytes())?.is_none() {
                        return abort(StorageError::NotFound("user"));
                    }
                    tx_put(by_org, &key(&[org.as_bytes(), user.as_bytes()]), &role)?;
                    tx_put(by_user, &key(&[user.as_bytes(), org.as_bytes()]), &role)?;
                    Ok(())
                },
            )?;
            Ok(())
        })
        .await
    }

    /// Removes a member.
    pub async fn remove_membership(&self, org: OrgId, user: UserId) -> Result<()> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.memberships, &t.memberships_by_user).transaction(|(by_org, by_user)| {
                by_org.remove(key(&[org.as_bytes(), user.as_bytes()]))?;
                by_user.remove(key(&[user.as_bytes(), org.as_bytes()]))?;
                Ok(())
            })?;
            Ok(())
        })
        .await
    }

    /// The user's role in the organisation, if a member.
    pub async fn membership(&self, org: OrgId, user: UserId) -> Result<Option<OrgRole>> {
        self.run(move |m| {
            get(
                &m.trees.memberships,
                key(&[org.as_bytes(), user.as_bytes()]),
            )
        })
        .await
    }

    /// The organisations a user belongs to, with their role.
    pub async fn orgs_of(&self, user: UserId) -> Result<Vec<(OrgId, OrgRole)>> {
        self.run(move |m| {
            let mut out = Vec::new();
            for entry in m.trees.memberships_by_user.scan_prefix(user.as_bytes()) {
                let (k, v) = entry?;
                let org = OrgId::from_slice(&k[16..])
                    .map_err(|_| StorageError::Codec("membership key".into()))?;
                out.push((org, codec::decode(&v)?));
            }
            Ok(out)
        })
        .await
    }

    /// The members of an organisation, with their role.
    pub async fn members_of(&self, org: OrgId) -> Result<Vec<(UserId, OrgRole)>> {
        self.run(move |m| {
            let mut out = Vec::new();
            for entry in m.trees.memberships.scan_prefix(org.as_bytes()) {
                let (k, v) = entry?;
                let user = UserId::from_slice(&k[16..])
                    .map_err(|_| StorageError::Codec("membership key".into()))?;
                out.push((user, codec::decode(&v)?));
            }
            Ok(out)
        })
        .await
    }
}

/// Lower-cases and trims an e-mail address and checks its basic shape.
pub fn normalise_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(StorageError::Invalid("e-mail address".into()))
    }
}
