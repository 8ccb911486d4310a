//! Invitations to join an organisation, keyed by the hash of their token.

use casevault_crypto::TokenHash;

use super::{Meta, get};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{InvitationId, OrgId};
use crate::records::InvitationRecord;
use crate::time::Timestamp;

impl Meta {
    /// Stores an invitation under its token's hash. An earlier invitation of the same
    /// address to the same organisation is replaced (its link stops working).
    pub async fn create_invitation(
        &self,
        token: TokenHash,
        invitation: InvitationRecord,
    ) -> Result<InvitationRecord> {
        self.run_durable(move |m| {
            let tree = &m.trees.invitations;
            for entry in tree.iter() {
                let (key, value) = entry?;
                let old: InvitationRecord = codec::decode(&value)?;
                if old.org == invitation.org && old.email == invitation.email {
                    tree.remove(key)?;
                }
            }
            tree.insert(token.0, codec::encode(&invitation)?)?;
            Ok(invitation)
        })
        .await
    }

    /// The pending invitations of an organisation, expired ones left out.
    pub async fn invitations_of(&self, org: OrgId) -> Result<Vec<InvitationRecord>> {
        let now = Timestamp::now();
        self.run(move |m| {
            let mut out = Vec::new();
            for value in m.trees.invitations.iter().values() {
                let invitation: InvitationRecord = codec::decode(&value?)?;
                if invitation.org == org && invitation.expires_at.0 > now.0 {
                    out.push(invitation);
                }
            }
            out.sort_by_key(|i| i.created_at.0);
            Ok(out)
        })
        .await
    }

    /// Withdraws an invitation of `org`; false when there is no such invitation.
    pub async fn delete_invitation(&self, org: OrgId, id: InvitationId) -> Result<bool> {
        self.run_durable(move |m| {
            let tree = &m.trees.invitations;
            for entry in tree.iter() {
                let (key, value) = entry?;
                let invitation: InvitationRecord = codec::decode(&value)?;
                if invitation.org == org && invitation.id == id {
                    tree.remove(key)?;
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
    }

    /// The invitation of a token, while it has not expired (without using it up).
    pub async fn invitation(&self, token: TokenHash) -> Result<Option<InvitationRecord>> {
        let now = Timestamp::now();
        self.run(move |m| {
            let invitation: Option<InvitationRecord> = get(&m.trees.invitations, token.0)?;
            Ok(invitation.filter(|i| i.expires_at.0 > now.0))
        })
        .await
    }

    /// Uses up the invitation of a token: it is removed and returned, once. An expired
    /// invitation is removed and reported as not found.
    pub async fn take_invitation(&self, token: TokenHash) -> Result<InvitationRecord> {
        let now = Timestamp::now();
        self.run_durable(move |m| {
            let Some(value) = m.trees.invitations.remove(token.0)? else {
                return Err(StorageError::NotFound("invitation"));
            };
            let invitation: InvitationRecord = codec::decode(&value)?;
            if invitation.expires_at.0 <= now.0 {
                return Err(StorageError::NotFound("invitation"));
            }
            Ok(invitation)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use casevault_crypto::Token;

    use crate::ids::{InvitationId, OrgId, UserId};
    use crate::meta::Meta;
    use crate::records::{InvitationRecord, OrgRole};
    use crate::time::Timestamp;

    fn invitation(org: OrgId, email: &str, expires_in_ms: i64) -> InvitationRecord {
        let now = Timestamp::now().0;
        InvitationRecord {
            id: InvitationId::random(),
            org,
            email: email.into(),
            role: OrgRole::Member,
            invited_by: UserId::random(),
            created_at: Timestamp(now),
            expires_at: Timestamp(now + expires_in_ms),
        }
    }

    #[tokio::test]
    async fn an_invitation_is_used_once_and_replaced_by_a_new_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(dir.path()).expect("open");
        let org = OrgId::random();
        let (first, second) = (Token::generate(), Token::generate());
        meta.create_invitation(first.hash(), invitation(org, "a@example.org", 60_000))
            .await
            .expect("create");
        let kept = meta
            .create_invitation(second.hash(), invitation(org, "a@example.org", 60_000))
            .await
            .expect("create again");
        assert!(
            meta.invitation(first.hash()).await.expect("read").is_none(),
            "replaced"
        );
        assert_eq!(
            meta.invitations_of(org).await.expect("list"),
            vec![kept.clone()]
        );
        assert_eq!(
            meta.take_invitation(second.hash()).await.expect("take"),
            kept
        );
        assert!(
            meta.take_invitation(second.hash()).await.is_err(),
            "only once"
        );
        assert!(meta.invitations_of(org).await.expect("list").is_empty());

        let expired = Token::generate();
        meta.create_invitation(expired.hash(), invitation(org, "b@example.org", -1))
            .await
            .expect("create");
        assert!(meta.invitations_of(org).await.expect("list").is_empty());
        assert!(
            meta.invitation(expired.hash())
                .await
                .expect("read")
                .is_none()
        );
        assert!(meta.take_invitation(expired.hash()).await.is_err());

        let withdrawn = meta
            .create_invitation(
                Token::generate().hash(),
                invitation(org, "c@example.org", 60_000),
            )
            .await
            .expect("create");
        assert!(
            !meta
                .delete_invitation(OrgId::random(), withdrawn.id)
                .await
                .expect("other org")
        );
        assert!(
            meta.delete_invitation(org, withdrawn.id)
                .await
                .expect("delete")
        );
        assert!(meta.invitations_of(org).await.expect("list").is_empty());
    }
}
