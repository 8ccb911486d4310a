//! Authorization: the one function, [`authorize`], that decides whether a principal may do
//! an action on a case. Every handler that touches a case goes through it and works with the
//! [`CaseAccess`] it returns, which carries the case record and its unwrapped key.
//!
//! Who may do what on a case:
//!
//! | relation to the case                    | read, upload, edit files and fields | delete, history |
//! |-----------------------------------------|-------------------------------------|-----------------|
//! | its practitioner (a personal case)      | yes                                 | yes             |
//! | an organisation admin (a group case)    | yes                                 | yes             |
//! | an organisation member (a group case)   | yes                                 | no (403)        |
//! | a colleague with a read or edit grant   | within the grant: read; edit also writes | no (403) |
//! | a colleague or link with a drop grant   | upload only, sees nothing           | no (403)        |
//! | anyone else                             | 404                                 | 404             |
//!
//! A principal with no relation to the case gets the same 404 as for an unknown id, so ids
//! of other practices' cases cannot be probed. Server administrators get no access to
//! patient data by being administrators.

use std::collections::HashMap;

use casevault_crypto::CaseKey;
use casevault_storage::{
    CaseId, CaseRecord, CaseStatus, FileId, FileRecord, FolderId, FolderRecord, GrantId,
    GrantRecord, GrantRole, GrantStatus, GrantTarget, OrgRole, QuotaAccount, Timestamp, UserId,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user or an API token's owner.
    User(UserId),
    /// Someone holding a share link whose password they gave (a recipient session).
    Link(GrantId),
}

impl From<&AuthUser> for Principal {
    fn from(user: &AuthUser) -> Self {
        Principal::User(user.id)
    }
}

/// What the principal wants to do with a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// See the case, its fields, folders and files; download.
    Read,
    /// Upload files and create folders (refused while archived).
    Upload,
    /// Rename, move and delete files and folders (refused while archived).
    WriteFiles,
    /// Change the case's fields, archive or reopen it.
    Edit,
    /// Delete the whole case (destroys its key).
    Delete,
    /// Read the case's audit history.
    ReadHistory,
    /// Share the case or part of it, and manage its shares.
    Share,
}

/// How the principal relates to a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The practitioner of a personal case, or an admin of the organisation of a group case.
    Owner,
    /// A member of the organisation of a group case.
    Member,
    /// A colleague or a link holder with a share grant on (part of) the case.
    Grantee {
        /// The grant used.
        grant: GrantId,
        /// What it allows.
        role: GrantRole,
    },
}

impl Relation {
    /// The grant the access goes through, if any.
    pub fn grant(&self) -> Option<GrantId> {
        match self {
            Relation::Grantee { grant, .. } => Some(*grant),
            Relation::Owner | Relation::Member => None,
        }
    }
}

/// The part of a case an access covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole case.
    Case,
    /// A folder and everything under it.
    Folder(FolderId),
    /// One file.
    File(FileId),
}

/// Permission to act on a case: the case, its key, how the principal relates to it, and the
/// part of the case the permission covers.
pub struct CaseAccess {
    /// The case record.
    pub case: CaseRecord,
    /// The case key, to open and seal the case's values.
    pub key: CaseKey,
    /// The principal's relation to the case.
    pub relation: Relation,
    /// What part of the case the access covers.
    pub scope: Scope,
}

impl std::fmt::Debug for CaseAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseAccess")
            .field("case", &self.case.id)
            .field("relation", &self.relation)
            .finish_non_exhaustive()
    }
}

/// Decides whether `principal` may do `action` on the case `id`: the case and its key when
/// allowed; 404 when the case does not exist or the principal has no relation to it; 403
/// when the relation does not allow the action; 409 for file changes in an archived case.
/// Grants are read at every call, so a revoked or expired grant stops at the next request.
pub async fn authorize(
    state: &AppState,
    principal: Principal,
    action: Action,
    id: CaseId,
) -> Result<CaseAccess, ApiError> {
    let case = state
        .storage
        .meta()
        .case(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (relation, scope) = relation(state, principal, &case, action)
        .await?
        .ok_or(ApiError::NotFound)?;
    let allowed = match (relation, action) {
        (Relation::Owner, _) => true,
        (Relation::Member, Action::Delete | Action::ReadHistory | Action::Share) => false,
        (Relation::Member, _) => true,
        (Relation::Grantee { role, .. }, Action::Read) => role != GrantRole::Drop,
        (Relation::Grantee { role, .. }, Action::Upload) => role != GrantRole::Read,
        (Relation::Grantee { role, .. }, Action::WriteFiles) => role == GrantRole::Edit,
        (
            Relation::Grantee { .. },
            Action::Edit | Action::Delete | Action::ReadHistory | Action::Share,
        ) => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    if matches!(action, Action::Upload | Action::WriteFiles) && case.status == CaseStatus::Archived
    {
        return Err(ApiError::Conflict(
            "The case is archived; reopen it to change its files.".into(),
        ));
    }
    let key = state.storage.case_key(&case)?;
    Ok(CaseAccess {
        case,
        key,
        relation,
        scope,
    })
}

/// The principal's relation to a case and the part of it the relation covers, if any.
async fn relation(
    state: &AppState,
    principal: Principal,
    case: &CaseRecord,
    action: Action,
) -> Result<Option<(Relation, Scope)>, ApiError> {
    let meta = state.storage.meta();
    let user = match principal {
        Principal::User(user) => user,
        Principal::Link(grant) => {
            let Some(grant) = meta.grant(grant).await? else {
                return Ok(None);
            };
            if grant.token_hash().is_none() || grant.target.case() != case.id {
                return Ok(None);
            }
            return Ok(usable(&grant, action).then(|| grantee(&grant)));
        }
    };
    let direct = match case.account {
        QuotaAccount::User(owner) => (owner == user).then_some(Relation::Owner),
        QuotaAccount::Org(org) => match meta.membership(org, user).await? {
            Some(OrgRole::Admin) => Some(Relation::Owner),
            Some(OrgRole::Member) if case.created_by == user => Some(Relation::Owner),
            Some(OrgRole::Member) => Some(Relation::Member),
            None => None,
        },
    };
    if let Some(relation) = direct {
        return Ok(Some((relation, Scope::Case)));
    }
    // A colleague's grants on this case: the widest usable one decides.
    let mut grants: Vec<GrantRecord> = meta
        .grants_for(user)
        .await?
        .into_iter()
        .filter(|grant| grant.target.case() == case.id && usable(grant, action))
        .collect();
    grants.sort_by_key(|grant| (breadth(grant.target), role_rank(grant.role)));
    Ok(grants.last().map(grantee))
}

/// Whether a grant can be used for `action` now: downloads and listings need an active
/// grant; uploads go on after the download limit is used up.
fn usable(grant: &GrantRecord, action: Action) -> bool {
    let now = Timestamp::now();
    match action {
        Action::Upload | Action::WriteFiles => grant.accepts_uploads(now),
        _ => grant.status(now) == GrantStatus::Active,
    }
}

fn grantee(grant: &GrantRecord) -> (Relation, Scope) {
    let scope = match grant.target {
        GrantTarget::Case(_) => Scope::Case,
        GrantTarget::Folder(_, folder) => Scope::Folder(folder),
        GrantTarget::File(_, file) => Scope::File(file),
    };
    let relation = Relation::Grantee {
        grant: grant.id,
        role: grant.role,
    };
    (relation, scope)
}

fn breadth(target: GrantTarget) -> u8 {
    match target {
        GrantTarget::File(..) => 0,
        GrantTarget::Folder(..) => 1,
        GrantTarget::Case(_) => 2,
    }
}

fn role_rank(role: GrantRole) -> u8 {
    match role {
        GrantRole::Drop => 0,
        GrantRole::Read => 1,
        GrantRole::Edit => 2,
    }
}

impl CaseAccess {
    /// A file of this case within the scope (404 for a file of another case or outside the
    /// scope, an unknown id, or a dropped file the principal may not see).
    pub async fn file(&self, state: &AppState, id: FileId) -> Result<FileRecord, ApiError> {
        match state.storage.meta().file(id).await? {
            Some(file)
                if file.case == self.case.id
                    && self.sees(&file)
                    && self.file_in_scope(state, &file).await? =>
            {
                Ok(file)
            }
            _ => Err(ApiError::NotFound),
        }
    }

    async fn file_in_scope(&self, state: &AppState, file: &FileRecord) -> Result<bool, ApiError> {
        match self.scope {
            Scope::Case => Ok(true),
            Scope::File(id) => Ok(file.id == id),
            Scope::Folder(root) => within(state, file.folder, root).await,
        }
    }

    /// Whether a destination folder (`None`: the case root) lies within the scope.
    pub async fn folder_in_scope(
        &self,
        state: &AppState,
        folder: Option<FolderId>,
    ) -> Result<bool, ApiError> {
        match self.scope {
            Scope::Case => Ok(true),
            Scope::File(_) => Ok(false),
            Scope::Folder(root) => within(state, folder, root).await,
        }
    }

    /// Where an upload goes when it names no folder: the scope's folder, else the root.
    pub fn default_folder(&self) -> Option<FolderId> {
        match self.scope {
            Scope::Folder(root) => Some(root),
            Scope::Case | Scope::File(_) => None,
        }
    }

    /// The folders and files the principal may see, in scope: for a folder scope the folder
    /// itself and everything under it.
    pub async fn visible(
        &self,
        state: &AppState,
    ) -> Result<(Vec<FolderRecord>, Vec<FileRecord>), ApiError> {
        let meta = state.storage.meta();
        let folders = meta.folders_of(self.case.id).await?;
        let files = meta.files_of(self.case.id).await?;
        let files = files.into_iter().filter(|file| self.sees(file));
        Ok(match self.scope {
            Scope::Case => (folders, files.collect()),
            Scope::File(id) => (Vec::new(), files.filter(|f| f.id == id).collect()),
            Scope::Folder(root) => {
                let parents: HashMap<FolderId, Option<FolderId>> =
                    folders.iter().map(|f| (f.id, f.parent)).collect();
                let inside = |folder: Option<FolderId>| within_map(&parents, folder, root);
                let files = files.filter(|file| inside(file.folder)).collect();
                let folders = folders.into_iter().filter(|f| inside(Some(f.id))).collect();
                (folders, files)
            }
        })
    }

    /// Whether the access goes through a drop-only grant.
    pub fn is_drop(&self) -> bool {
        matches!(
            self.relation,
            Relation::Grantee {
                role: GrantRole::Drop,
                ..
            }
        )
    }

    /// Whether the principal may see a file of this case: files dropped through a drop-only
    /// grant are for the case's owner alone.
    pub fn sees(&self, file: &FileRecord) -> bool {
        !file.owner_only || self.relation == Relation::Owner
    }

    /// A folder of this case within the scope (404 for a folder of another case or outside
    /// the scope, or an unknown id).
    pub async fn folder(&self, state: &AppState, id: FolderId) -> Result<FolderRecord, ApiError> {
        match state.storage.meta().folder(id).await? {
            Some(folder)
                if folder.case == self.case.id
                    && self.folder_in_scope(state, Some(folder.id)).await? =>
            {
                Ok(folder)
            }
            _ => Err(ApiError::NotFound),
        }
    }
}

/// Deepest folder nesting walked when checking ancestry (storage refuses cycles; this
/// bounds the walk whatever the records say).
const MAX_DEPTH: usize = 1024;

/// Whether `folder` (`None`: the case root) is `root` or lies under it.
async fn within(
    state: &AppState,
    folder: Option<FolderId>,
    root: FolderId,
) -> Result<bool, ApiError> {
    let meta = state.storage.meta();
    let mut current = folder;
    for _ in 0..MAX_DEPTH {
        match current {
            None => return Ok(false),
            Some(id) if id == root => return Ok(true),
            Some(id) => current = meta.folder(id).await?.and_then(|f| f.parent),
        }
    }
    Ok(false)
}

/// [`within`] over a map of each folder's parent.
fn within_map(
    parents: &HashMap<FolderId, Option<FolderId>>,
    folder: Option<FolderId>,
    root: FolderId,
) -> bool {
    let mut current = folder;
    for _ in 0..MAX_DEPTH {
        match current {
            None => return false,
            Some(id) if id == root => return true,
            Some(id) => current = parents.get(&id).copied().flatten(),
        }
    }
    false
}

/// The cases a user may see: their personal cases and the cases of their organisations.
pub async fn visible_cases(state: &AppState, user: UserId) -> Result<Vec<CaseRecord>, ApiError> {
    let meta = state.storage.meta();
    let mut cases = meta.cases_of(QuotaAccount::User(user)).await?;
    for (org, _) in meta.orgs_of(user).await? {
        cases.extend(meta.cases_of(QuotaAccount::Org(org)).await?);
    }
    Ok(cases)
}
