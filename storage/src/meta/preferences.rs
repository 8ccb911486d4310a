//! Users' interface preferences.

use super::{Meta, get};
use crate::codec;
use crate::error::Result;
use crate::ids::UserId;
use crate::records::Preferences;

impl Meta {
    /// A user's preferences (the defaults until they change any).
    pub async fn preferences(&self, user: UserId) -> Result<Preferences> {
        self.run(move |m| Ok(get(&m.trees.preferences, user.as_bytes())?.unwrap_or_default()))
            .await
    }

    /// Replaces a user's preferences.
    pub async fn set_preferences(&self, user: UserId, preferences: Preferences) -> Result<()> {
        self.run_durable(move |m| {
            m.trees
                .preferences
                .insert(user.as_bytes(), codec::encode(&preferences)?)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::records::{Label, Notifications, Preferences};
    use crate::{ids::UserId, meta::Meta};

    #[tokio::test]
    async fn preferences_default_then_persist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = Meta::open(dir.path()).expect("open");
        let user = UserId::random();
        assert_eq!(
            meta.preferences(user).await.expect("get"),
            Preferences::default()
        );
        let mine = Preferences {
            labels: vec![Label {
                id: 1,
                name: "Implant".into(),
                colour: "#aa3300".into(),
            }],
            notify: Notifications {
                drops: false,
                downloads: true,
                expiry: false,
            },
        };
        meta.set_preferences(user, mine.clone()).await.expect("set");
        drop(meta);
        let meta = Meta::open(dir.path()).expect("reopen");
        assert_eq!(meta.preferences(user).await.expect("get"), mine);
        assert_eq!(
            meta.preferences(UserId::random()).await.expect("other"),
            Preferences::default()
        );
    }
}
