//! Share grants and their indexes (by owner, by link-token hash).

use casevault_crypto::TokenHash;
use sled::Transactional;

use super::{Meta, abort, get, join_index, key, tx_get, tx_put};
use crate::error::{Result, StorageError};
use crate::ids::{GrantId, UserId};
use crate::records::GrantRecord;

impl Meta {
    /// Stores a new grant.
    pub async fn create_grant(&self, grant: GrantRecord) -> Result<GrantRecord> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.grants, &t.grants_by_owner, &t.grants_by_token).transaction(
                |(grants, by_owner, by_token)| {
                    if let Some(hash) = grant.token_hash {
                        if by_token.get(hash.0)?.is_some() {
                            return abort(StorageError::NameConflict);
                        }
                        by_token.insert(&hash.0, grant.id.as_bytes())?;
                    }
                    by_owner.insert(key(&[grant.owner.as_bytes(), grant.id.as_bytes()]), &[])?;
                    tx_put(grants, grant.id.as_bytes(), &grant)
                },
            )?;
            Ok(grant)
        })
        .await
    }

    /// A grant by id.
    pub async fn grant(&self, id: GrantId) -> Result<Option<GrantRecord>> {
        self.run(move |m| get(&m.trees.grants, id.as_bytes())).await
    }

    /// The grant a link token opens, found by the token's hash.
    pub async fn grant_by_token(&self, hash: TokenHash) -> Result<Option<GrantRecord>> {
        self.run(move |m| {
            let Some(id) = m.trees.grants_by_token.get(hash.0)? else {
                return Ok(None);
            };
            get(&m.trees.grants, &id)
        })
        .await
    }

    /// Every grant an owner created.
    pub async fn grants_of(&self, owner: UserId) -> Result<Vec<GrantRecord>> {
        self.run(move |m| join_index(&m.trees.grants_by_owner, owner.as_bytes(), &m.trees.grants))
            .await
    }

    /// Applies `change` to a grant atomically (e.g. counting a download against its limit,
    /// revoking it) and returns the new record; `change` may refuse with an error.
    pub async fn update_grant<F>(&self, id: GrantId, change: F) -> Result<GrantRecord>
    where
        F: Fn(&mut GrantRecord) -> Result<()> + Send + 'static,
    {
        self.run_durable(move |m| {
            let record = m.trees.grants.transaction(|grants| {
                let Some(mut grant) = tx_get::<GrantRecord>(grants, id.as_bytes())? else {
                    return abort(StorageError::NotFound("grant"));
                };
                if let Err(e) = change(&mut grant) {
                    return abort(e);
                }
                tx_put(grants, id.as_bytes(), &grant)?;
                Ok(grant)
            })?;
            Ok(record)
        })
        .await
    }
}
