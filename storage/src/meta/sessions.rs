//! Login sessions, API tokens and the first-administrator setup token.
//!
//! Only the SHA-256 of a token ([`TokenHash`]) is stored: a copy of the database does not
//! let anyone sign in. Each kind has a by-user index (`UserId ‖ …`) so that "sign out
//! everywhere" and a password change can end every session of one account.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use casevault_crypto::TokenHash;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::accounts::normalise_email;
use super::{Meta, abort, get, key, tx_get, tx_put};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{InvalidId, UserId};
use crate::records::UserRecord;
use crate::time::Timestamp;

/// Key of the setup token's hash in the `state` tree.
const SETUP_KEY: &[u8] = b"setup_token";

/// A signed-in browser session, stored under the hash of its cookie token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Whose session it is.
    pub user: UserId,
    /// When the user signed in (for the absolute timeout).
    pub created_at: Timestamp,
    /// Last request seen (for the idle timeout); updated at most about once a minute.
    pub last_seen: Timestamp,
    /// The address the user signed in from.
    pub ip: Option<IpAddr>,
}

/// The id of an API token: 128 random bits, 32 hex digits; not a secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ApiTokenId(pub [u8; 16]);

impl ApiTokenId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(rand::rng().random())
    }
}

impl fmt::Display for ApiTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ApiTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiTokenId({self})")
    }
}

impl FromStr for ApiTokenId {
    type Err = InvalidId;

    fn from_str(s: &str) -> std::result::Result<Self, InvalidId> {
        let user: UserId = s.parse()?;
        Ok(Self(user.0))
    }
}

/// A long-lived token for scripts (`Authorization: Bearer …`), stored under its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// The token's id (shown in lists, used to revoke it).
    pub id: ApiTokenId,
    /// Whose token it is.
    pub user: UserId,
    /// The owner's label for it (not patient data).
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Last use, updated at most about once a minute.
    pub last_used: Option<Timestamp>,
}

impl Meta {
    /// Whether any user account exists.
    pub async fn has_users(&self) -> Result<bool> {
        self.run(|m| Ok(m.trees.users.first()?.is_some())).await
    }

    /// Stores a new session.
    pub async fn create_session(&self, hash: TokenHash, record: SessionRecord) -> Result<()> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
                tx_put(sessions, &hash.0, &record)?;
                by_user.insert(key(&[record.user.as_bytes(), &hash.0]), &[])?;
                Ok(())
            })?;
            Ok(())
        })
        .await
    }

    /// A session by the hash of its token.
    pub async fn session(&self, hash: TokenHash) -> Result<Option<SessionRecord>> {
        self.run(move |m| get(&m.trees.sessions, hash.0)).await
    }

    /// Records activity on a session (not flushed: losing it only shortens the session).
    /// Does nothing when the session is gone.
    pub async fn touch_session(&self, hash: TokenHash, at: Timestamp) -> Result<()> {
        self.run(move |m| {
            m.trees.sessions.transaction(|sessions| {
                if let Some(mut record) = tx_get::<SessionRecord>(sessions, &hash.0)? {
                    record.last_seen = record.last_seen.max(at);
                    tx_put(sessions, &hash.0, &record)?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .await
    }

    /// Ends one session; `false` when it did not exist.
    pub async fn delete_session(&self, hash: TokenHash) -> Result<bool> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let removed =
                (&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
                    let Some(record) = tx_get::<SessionRecord>(sessions, &hash.0)? else {
                        return Ok(false);
                    };
                    sessions.remove(&hash.0)?;
                    by_user.remove(key(&[record.user.as_bytes(), &hash.0]))?;
                    Ok(true)
                })?;
            Ok(removed)
        })
        .await
    }

    /// Ends every session of `user` except `keep`; returns how many ended.
    pub async fn delete_user_sessions(
        &self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> Result<usize> {
        self.run_durable(move |m| {
            let t = &m.trees;
            // Keys first: no read may happen while a sled iterator is alive.
            let keys: Vec<sled::IVec> = t
                .sessions_by_user
                .scan_prefix(user.as_bytes())
                .keys()
                .collect::<std::result::Result<_, _>>()?;
            let mut ended = 0;
            for index_key in keys {
                let hash = &index_key[16..];
                if keep.is_some_and(|k| k.0[..] == *hash) {
                    continue;
                }
                (&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
                    sessions.remove(hash)?;
                    by_user.remove(&index_key)?;
                    Ok(())
                })?;
                ended += 1;
            }
            Ok(ended)
        })
        .await
    }

    /// Stores a new API token.
    pub async fn create_api_token(&self, hash: TokenHash, record: ApiTokenRecord) -> Result<()> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.api_tokens, &t.api_tokens_by_user).transaction(|(tokens, by_user)| {
                tx_put(tokens, &hash.0, &record)?;
                by_user.insert(key(&[record.user.as_bytes(), &record.id.0]), &hash.0)?;
                Ok(())
            })?;
            Ok(())
        })
        .await
    }

    /// An API token by the hash of its secret.
    pub async fn api_token(&self, hash: TokenHash) -> Result<Option<ApiTokenRecord>> {
        self.run(move |m| get(&m.trees.api_tokens, hash.0)).await
    }

    /// Records a use of an API token (not flushed). Does nothing when the token is gone.
    pub async fn touch_api_token(&self, hash: TokenHash, at: Timestamp) -> Result<()> {
        self.run(move |m| {
            m.trees.api_tokens.transaction(|tokens| {
                if let Some(mut record) = tx_get::<ApiTokenRecord>(tokens, &hash.0)? {
                    record.last_used = Some(at);
                    tx_put(tokens, &hash.0, &record)?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .await
    }

    /// The API tokens of a user, in id order.
    pub async fn api_tokens_of(&self, user: UserId) -> Result<Vec<ApiTokenRecord>> {
        self.run(move |m| {
            let hashes: Vec<sled::IVec> = m
                .trees
                .api_tokens_by_user
                .scan_prefix(user.as_bytes())
                .values()
                .collect::<std::result::Result<_, _>>()?;
            let mut out = Vec::with_capacity(hashes.len());
            for hash in hashes {
                if let Some(record) = get(&m.trees.api_tokens, &hash)? {
                    out.push(record);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Revokes one of `user`'s API tokens; `false` when the user has no token with that id.
    pub async fn delete_api_token(&self, user: UserId, id: ApiTokenId) -> Result<bool> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let index_key = key(&[user.as_bytes(), &id.0]);
            let removed =
                (&t.api_tokens, &t.api_tokens_by_user).transaction(|(tokens, by_user)| {
                    let Some(hash) = by_user.remove(index_key.as_slice())? else {
                        return Ok(false);
                    };
                    tokens.remove(hash)?;
                    Ok(true)
                })?;
            Ok(removed)
        })
        .await
    }

    /// Revokes every API token of `user`; returns how many.
    pub async fn delete_user_api_tokens(&self, user: UserId) -> Result<usize> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let entries: Vec<(sled::IVec, sled::IVec)> = t
                .api_tokens_by_user
                .scan_prefix(user.as_bytes())
                .collect::<std::result::Result<_, _>>()?;
            for (index_key, hash) in &entries {
                (&t.api_tokens, &t.api_tokens_by_user).transaction(|(tokens, by_user)| {
                    tokens.remove(hash)?;
                    by_user.remove(index_key)?;
                    Ok(())
                })?;
            }
            Ok(entries.len())
        })
        .await
    }

    /// Stores the hash of the first-administrator setup token, replacing any earlier one;
    /// `None` removes it.
    pub async fn set_setup_token(&self, hash: Option<TokenHash>) -> Result<()> {
        self.run_durable(move |m| {
            match hash {
                Some(hash) => m.trees.state.insert(SETUP_KEY, codec::encode(&hash)?)?,
                None => m.trees.state.remove(SETUP_KEY)?,
            };
            Ok(())
        })
        .await
    }

    /// Ends the sessions idle for longer than `idle` or older than `absolute` at `now`;
    /// returns how many ended.
    pub async fn delete_expired_sessions(
        &self,
        now: Timestamp,
        idle: std::time::Duration,
        absolute: std::time::Duration,
    ) -> Result<usize> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let expired = |record: &SessionRecord| {
                record.last_seen.plus(idle) < now || record.created_at.plus(absolute) < now
            };
            // Collected first: no write may happen while a sled iterator is alive.
            let mut doomed = Vec::new();
            for entry in t.sessions.iter() {
                let (hash, value) = entry?;
                let record: SessionRecord = codec::decode(&value)?;
                if expired(&record) {
                    doomed.push((hash, record.user));
                }
            }
            for (hash, user) in &doomed {
                (&t.sessions, &t.sessions_by_user).transaction(|(sessions, by_user)| {
                    sessions.remove(hash)?;
                    by_user.remove(key(&[user.as_bytes(), hash]))?;
                    Ok(())
                })?;
            }
            Ok(doomed.len())
        })
        .await
    }

    /// Consumes the setup token if `hash` matches it (constant-time); `true` at most once.
    pub async fn take_setup_token(&self, hash: TokenHash) -> Result<bool> {
        self.run_durable(move |m| {
            let taken = m.trees.state.transaction(|state| {
                match tx_get::<TokenHash>(state, SETUP_KEY)? {
                    Some(stored) if stored.ct_eq(&hash) => {
                        state.remove(SETUP_KEY)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            })?;
            Ok(taken)
        })
        .await
    }

    /// Creates the first administrator: in one transaction, consumes the setup token (which
    /// must match `hash`) and creates `user`. [`StorageError::NotFound`] ("setup token")
    /// when the token does not match or was already used, or when an account exists.
    pub async fn complete_setup(
        &self,
        hash: TokenHash,
        mut user: UserRecord,
    ) -> Result<UserRecord> {
        user.email = normalise_email(&user.email)?;
        self.run_durable(move |m| {
            let t = &m.trees;
            if t.users.first()?.is_some() {
                return Err(StorageError::NotFound("setup token"));
            }
            (&t.state, &t.users, &t.users_by_email).transaction(|(state, users, by_email)| {
                match tx_get::<TokenHash>(state, SETUP_KEY)? {
                    Some(stored) if stored.ct_eq(&hash) => {}
                    _ => return abort(StorageError::NotFound("setup token")),
                }
                if by_email.get(user.email.as_bytes())?.is_some() {
                    return abort(StorageError::NameConflict);
                }
                state.remove(SETUP_KEY)?;
                by_email.insert(user.email.as_bytes(), user.id.as_bytes())?;
                tx_put(users, user.id.as_bytes(), &user)
            })?;
            Ok(user)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::meta::temp_meta;
    use std::time::Duration;

    use casevault_crypto::Token;

    use super::*;

    fn session(user: UserId, at: Timestamp) -> SessionRecord {
        SessionRecord {
            user,
            created_at: at,
            last_seen: at,
            ip: None,
        }
    }

    #[tokio::test]
    async fn sessions_of_a_user_end_together_except_the_kept_one() {
        let (_dir, meta) = temp_meta();
        let (alice, bob) = (UserId::random(), UserId::random());
        let now = Timestamp::now();
        let hashes: Vec<TokenHash> = (0..3).map(|_| Token::generate().hash()).collect();
        for hash in &hashes {
            meta.create_session(*hash, session(alice, now))
                .await
                .expect("create");
        }
        let bobs = Token::generate().hash();
        meta.create_session(bobs, session(bob, now))
            .await
            .expect("create");
        let ended = meta
            .delete_user_sessions(alice, Some(hashes[0]))
            .await
            .expect("delete");
        assert_eq!(ended, 2);
        assert!(meta.session(hashes[0]).await.expect("get").is_some());
        assert!(meta.session(hashes[1]).await.expect("get").is_none());
        assert!(meta.session(bobs).await.expect("get").is_some());
        assert!(meta.delete_session(hashes[0]).await.expect("delete"));
        assert!(!meta.delete_session(hashes[0]).await.expect("delete"));
    }

    #[tokio::test]
    async fn expired_sessions_are_swept() {
        let (_dir, meta) = temp_meta();
        let user = UserId::random();
        let now = Timestamp::now();
        let (old, fresh) = (Token::generate().hash(), Token::generate().hash());
        meta.create_session(old, session(user, Timestamp(now.0 - 3_600_000)))
            .await
            .expect("create");
        meta.create_session(fresh, session(user, now))
            .await
            .expect("create");
        let hour = Duration::from_secs(1800);
        let ended = meta
            .delete_expired_sessions(now, hour, hour * 24)
            .await
            .expect("sweep");
        assert_eq!(ended, 1);
        assert!(meta.session(fresh).await.expect("get").is_some());
        assert_eq!(
            meta.delete_user_sessions(user, None).await.expect("delete"),
            1
        );
    }

    #[tokio::test]
    async fn the_setup_token_is_taken_once() {
        let (_dir, meta) = temp_meta();
        let token = Token::generate();
        assert!(!meta.take_setup_token(token.hash()).await.expect("take"));
        meta.set_setup_token(Some(token.hash())).await.expect("set");
        assert!(
            !meta
                .take_setup_token(Token::generate().hash())
                .await
                .expect("take")
        );
        assert!(meta.take_setup_token(token.hash()).await.expect("take"));
        assert!(!meta.take_setup_token(token.hash()).await.expect("take"));
    }

    #[tokio::test]
    async fn api_tokens_are_listed_and_revoked_per_user() {
        let (_dir, meta) = temp_meta();
        let user = UserId::random();
        let hash = Token::generate().hash();
        let record = ApiTokenRecord {
            id: ApiTokenId::random(),
            user,
            name: "script".into(),
            created_at: Timestamp::now(),
            last_used: None,
        };
        meta.create_api_token(hash, record.clone())
            .await
            .expect("create");
        assert_eq!(
            meta.api_tokens_of(user).await.expect("list"),
            vec![record.clone()]
        );
        assert!(
            !meta
                .delete_api_token(UserId::random(), record.id)
                .await
                .expect("delete")
        );
        assert!(
            meta.delete_api_token(user, record.id)
                .await
                .expect("delete")
        );
        assert!(meta.api_token(hash).await.expect("get").is_none());
        assert!(meta.api_tokens_of(user).await.expect("list").is_empty());
    }
}
