//! The records kept in the metadata database.
//!
//! Every value that could identify a patient (file and folder names, patient references,
//! titles, comments, notes, checksums of contents) is a [`Sealed`] box opened only with the
//! case key. Records are encoded with a version byte (see [`crate::codec`]) so that later
//! releases can add fields.

use casevault_crypto::{PasswordHash, Sealed, WrappedKey};
use serde::{Deserialize, Serialize};

use crate::ids::{BlobId, CaseId, FileId, FolderId, GrantId, OrgId, UploadId, UserId};
use crate::quota::QuotaAccount;
use crate::time::Timestamp;

mod grants;

pub use grants::{GrantAudience, GrantRecord, GrantRole, GrantStatus, GrantTarget};

/// A user account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserRecord {
    /// The account's id.
    pub id: UserId,
    /// Login e-mail, normalised to lower case; unique.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// argon2id hash; `None` until the user has set a password (e.g. first-admin setup).
    pub password: Option<PasswordHash>,
    /// Server administrator.
    pub is_admin: bool,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// An organisation (a clinic): members share group folders charged to its quota.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrgRecord {
    /// The organisation's id.
    pub id: OrgId,
    /// Its name (not patient data).
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A member's role in an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrgRole {
    /// May manage members, quotas and group folders.
    Admin,
    /// May read and write the organisation's group folders.
    Member,
}

/// Lifecycle state of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaseStatus {
    /// In use.
    Active,
    /// Kept, read-only in daily views.
    Archived,
}

/// A case folder: one patient's files, with its own encryption key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The case's id.
    pub id: CaseId,
    /// Whose quota the case's files use.
    pub account: QuotaAccount,
    /// The practitioner who created it.
    pub created_by: UserId,
    /// The case key, wrapped by the master key. Deleting this record shreds the case.
    pub wrapped_key: WrappedKey,
    /// Sealed patient reference.
    pub patient_ref: Sealed,
    /// Sealed title.
    pub title: Sealed,
    /// Sealed free-text comments.
    pub comments: Sealed,
    /// Lifecycle state.
    pub status: CaseStatus,
    /// Label ids chosen by the owner (names and colours live with the owner's settings).
    pub labels: Vec<u32>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Optional expiry date chosen by the owner.
    pub expires_at: Option<Timestamp>,
    /// Last change to the record.
    pub updated_at: Timestamp,
}

/// A folder inside a case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FolderRecord {
    /// The folder's id.
    pub id: FolderId,
    /// The case it belongs to.
    pub case: CaseId,
    /// Parent folder; `None` for a folder at the case root.
    pub parent: Option<FolderId>,
    /// Sealed name.
    pub name: Sealed,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Who caused a change: a user, or an external recipient acting through a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Actor {
    /// A signed-in user or an API token's owner.
    User(UserId),
    /// Someone holding a share link.
    Grant(GrantId),
    /// The server itself (recovery, expiry, administration commands).
    System,
}

/// A stored file: one complete, committed encrypted object.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileRecord {
    /// The file's id.
    pub id: FileId,
    /// The case it belongs to.
    pub case: CaseId,
    /// The folder it is in; `None` for the case root.
    pub folder: Option<FolderId>,
    /// Sealed name.
    pub name: Sealed,
    /// Keyed tag of the name, for the uniqueness index (see [`crate::meta::name_key`]).
    pub name_tag: [u8; 32],
    /// The encrypted object holding the contents.
    pub blob: BlobId,
    /// Plaintext size in bytes (what the quota counts).
    pub size: u64,
    /// Size of the stored object, header included.
    pub object_size: u64,
    /// Sealed SHA-256 of the plaintext.
    pub sha256: Sealed,
    /// What the contents look like, from their first bytes (see [`crate::kind`]).
    pub kind: crate::kind::FileKind,
    /// The object's encryption header (also stored in the object), kept here so that a
    /// ranged read needs one request to the object store.
    pub header: Vec<u8>,
    /// Plaintext bytes per chunk of the object.
    pub chunk_size: u32,
    /// Whose quota the file uses.
    pub account: QuotaAccount,
    /// Who uploaded it.
    pub uploaded_by: Actor,
    /// Visible to the case owner only (files dropped through a drop-only grant).
    pub owner_only: bool,
    /// When it was committed.
    pub created_at: Timestamp,
}

/// How an in-progress object upload can be cancelled after a crash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultipartState {
    /// Nothing started in the object store yet.
    NotStarted,
    /// Local filesystem: staging files next to the object's path.
    Local,
    /// An S3 multipart upload with this upload id.
    S3 {
        /// The id the S3 service returned.
        upload_id: String,
    },
}

/// An upload between its first byte and its commit (or abort). Recovery finds these.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingUpload {
    /// The upload's id.
    pub id: UploadId,
    /// The object being written.
    pub blob: BlobId,
    /// The account whose quota holds the reservation.
    pub account: QuotaAccount,
    /// Bytes reserved so far.
    pub reserved: u64,
    /// How to abort it in the object store.
    pub multipart: MultipartState,
    /// When it started.
    pub started_at: Timestamp,
}

/// How a user's interface is set up: their case labels and which e-mails they want. Holds
/// no patient data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// The user's labels for cases, in display order.
    pub labels: Vec<Label>,
    /// Which notifications the user receives.
    pub notify: Notifications,
}

/// A case label: the id cases store, a name and a colour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Stable id, referenced by cases.
    pub id: u32,
    /// Shown name.
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
}

/// The e-mails a user wants about their shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifications {
    /// Files dropped into a share.
    pub drops: bool,
    /// A recipient downloaded from a link.
    pub downloads: bool,
    /// A share is about to expire.
    pub expiry: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            drops: true,
            downloads: false,
            expiry: true,
        }
    }
}

/// An invitation for someone without an account to join an organisation. Only the hash of
/// its token is stored (it is the key of the record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRecord {
    /// The invitation's id (to list and withdraw it).
    pub id: crate::ids::InvitationId,
    /// The organisation to join.
    pub org: OrgId,
    /// Who is invited (normalised).
    pub email: String,
    /// Their role once they join.
    pub role: OrgRole,
    /// The administrator who invited them.
    pub invited_by: UserId,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}
