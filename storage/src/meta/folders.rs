//! Folders: creating, listing, moving (renaming included) and deleting them with everything
//! in them.
//!
//! A folder record holds its name only sealed, so its own entry in the name index is found
//! by scanning its parent's entries, and a deletion plans what to remove by scanning the
//! case's indexes. Scans cannot run inside a sled transaction, so they run just before it;
//! the transaction checks that every record it was planned from is still as read, and the
//! change is planned again when one is not.

use std::collections::{HashMap, HashSet};

use casevault_crypto::Sealed;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::{IVec, Transactional};

use super::cases::{NAME_FOLDER, check_folder_in_case, name_value};
use super::files::FileTrees;
use super::grants::{GrantTrees, grant_ids_of_case, prune_grants};
use super::{Meta, abort, get, join_index, key, name_key, name_prefix, tx_get, tx_put};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, CaseId, FolderId, GrantId};
use crate::records::{FileRecord, FolderRecord, GrantTarget};

/// How many times a change is planned again when other requests keep changing its folders.
const ATTEMPTS: usize = 8;

/// What deleting a folder removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderDeletion {
    /// Folders removed, the deleted folder included.
    pub folders: usize,
    /// Files removed.
    pub files: usize,
    /// Plaintext bytes released from the quota.
    pub bytes: u64,
    /// The removed files' objects, queued for deletion; [`crate::Storage::delete_folder`]
    /// deletes them (what it cannot delete is left to the recovery sweep).
    pub objects: Vec<BlobId>,
}

impl Meta {
    /// Creates a folder; its name must be unused in the parent.
    pub async fn create_folder(
        &self,
        folder: FolderRecord,
        name_tag: [u8; 32],
    ) -> Result<FolderRecord> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.cases, &t.folders, &t.folders_by_case, &t.names).transaction(
                |(cases, folders, by_case, names)| {
                    if cases.get(folder.case.as_bytes())?.is_none() {
                        return abort(StorageError::NotFound("case"));
                    }
                    if let Some(parent) = folder.parent {
                        check_folder_in_case(folders, parent, folder.case)?;
                    }
                    let name = name_key(folder.case, folder.parent, &name_tag);
                    if names.get(&name)?.is_some() {
                        return abort(StorageError::NameConflict);
                    }
                    names.insert(name, name_value(NAME_FOLDER, folder.id.as_bytes()))?;
                    tx_put(folders, folder.id.as_bytes(), &folder)?;
                    by_case.insert(key(&[folder.case.as_bytes(), folder.id.as_bytes()]), &[])?;
                    Ok(())
                },
            )?;
            Ok(folder)
        })
        .await
    }

    /// A folder by id.
    pub async fn folder(&self, id: FolderId) -> Result<Option<FolderRecord>> {
        self.run(move |m| get(&m.trees.folders, id.as_bytes()))
            .await
    }

    /// Every folder of a case.
    pub async fn folders_of(&self, case: CaseId) -> Result<Vec<FolderRecord>> {
        self.run(move |m| join_index(&m.trees.folders_by_case, case.as_bytes(), &m.trees.folders))
            .await
    }

    /// Renames and/or moves a folder within its case: `name` is the new sealed name and tag.
    /// The parent must be in the same case and must not be the folder itself or lie below it.
    pub async fn move_folder(
        &self,
        id: FolderId,
        parent: Option<FolderId>,
        name: Sealed,
        name_tag: [u8; 32],
    ) -> Result<FolderRecord> {
        self.run_durable(move |m| {
            replan(|| {
                let Some(placed) = Placed::read(m, id)? else {
                    return Err(StorageError::NotFound("folder"));
                };
                let t = &m.trees;
                let moved = (&t.folders, &t.names).transaction(|(folders, names)| {
                    if !placed.unchanged(folders, names)? {
                        return Ok(None);
                    }
                    let mut folder = placed.record.clone();
                    if let Some(parent) = parent {
                        check_folder_in_case(folders, parent, folder.case)?;
                        check_outside(folders, parent, id)?;
                    }
                    let new_key = name_key(folder.case, parent, &name_tag);
                    if placed.name_key.as_deref() != Some(new_key.as_slice()) {
                        if names.get(&new_key)?.is_some() {
                            return abort(StorageError::NameConflict);
                        }
                        if let Some(old_key) = &placed.name_key {
                            names.remove(old_key)?;
                        }
                        names.insert(new_key, name_value(NAME_FOLDER, id.as_bytes()))?;
                    }
                    folder.parent = parent;
                    folder.name = name.clone();
                    tx_put(folders, id.as_bytes(), &folder)?;
                    Ok(Some(folder))
                })?;
                Ok(moved)
            })
        })
        .await
    }

    /// Deletes a folder with every folder and file below it in one transaction: the files'
    /// quota is released, their objects are queued for deletion, every name-index entry
    /// inside the folders goes with the folder's own, and so do the grants pointing at any
    /// of them.
    pub async fn delete_folder(&self, id: FolderId) -> Result<FolderDeletion> {
        self.run_durable(move |m| {
            replan(|| {
                let Some(tree) = Subtree::read(m, id)? else {
                    return Err(StorageError::NotFound("folder"));
                };
                let case = tree.root.record.case;
                let t = &m.trees;
                let mut trees = vec![
                    &t.folders,
                    &t.folders_by_case,
                    &t.files,
                    &t.files_by_case,
                    &t.files_by_blob,
                    &t.names,
                    &t.quota,
                    &t.garbage,
                    &t.file_uploaders,
                ];
                trees.extend(t.grant_trees());
                let deletion = trees[..].transaction(|tx| {
                    let [
                        folders,
                        folders_by_case,
                        files,
                        by_case,
                        by_blob,
                        names,
                        quota,
                        garbage,
                        uploaders,
                        grant_trees @ ..,
                    ] = &tx[..]
                    else {
                        return abort(StorageError::Invalid("transaction trees".into()));
                    };
                    if !tree.root.unchanged(folders, names)? {
                        return Ok(None);
                    }
                    for (folder, raw) in &tree.folders {
                        if folders.get(folder.as_bytes())?.as_ref() != Some(raw) {
                            return Ok(None);
                        }
                    }
                    for (file, raw) in &tree.files {
                        if files.get(file.id.as_bytes())?.as_ref() != Some(raw) {
                            return Ok(None);
                        }
                    }
                    let file_trees = FileTrees {
                        files,
                        by_case,
                        by_blob,
                        quota,
                        garbage,
                        uploaders,
                    };
                    let mut deletion = FolderDeletion::default();
                    for (file, _) in &tree.files {
                        file_trees.remove(file)?;
                        deletion.files += 1;
                        deletion.bytes += file.size;
                        deletion.objects.push(file.blob);
                    }
                    for (folder, _) in &tree.folders {
                        folders.remove(folder.as_bytes())?;
                        folders_by_case.remove(key(&[case.as_bytes(), folder.as_bytes()]))?;
                        deletion.folders += 1;
                    }
                    for name in tree.names.iter().chain(&tree.root.name_key) {
                        names.remove(name)?;
                    }
                    GrantTrees::new(grant_trees)?
                        .remove_where(&tree.grants, |target| tree.contains(target))?;
                    Ok(Some(deletion))
                })?;
                if deletion.is_some() {
                    prune_grants(m, case)?;
                }
                Ok(deletion)
            })
        })
        .await
    }
}

/// Plans a change and applies it in one transaction, which answers `None` when a record the
/// plan was made from has changed since; then the change is planned again.
fn replan<T>(mut attempt: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    for _ in 0..ATTEMPTS {
        if let Some(done) = attempt()? {
            return Ok(done);
        }
    }
    Err(StorageError::Invalid(
        "folder change: the folders kept changing during the change; try again".into(),
    ))
}

/// A folder as read before a transaction: its stored bytes and its own name-index key.
struct Placed {
    record: FolderRecord,
    raw: IVec,
    name_key: Option<IVec>,
}

impl Placed {
    fn read(m: &Meta, id: FolderId) -> Result<Option<Placed>> {
        let Some(raw) = m.trees.folders.get(id.as_bytes())? else {
            return Ok(None);
        };
        let record: FolderRecord = codec::decode(&raw)?;
        let own = name_value(NAME_FOLDER, id.as_bytes());
        let mut name_key = None;
        for entry in m
            .trees
            .names
            .scan_prefix(name_prefix(record.case, record.parent))
        {
            let (key, value) = entry?;
            if value == own {
                name_key = Some(key);
                break;
            }
        }
        Ok(Some(Placed {
            record,
            raw,
            name_key,
        }))
    }

    /// Whether the folder and its name entry are, inside the transaction, as they were read.
    fn unchanged(
        &self,
        folders: &TransactionalTree,
        names: &TransactionalTree,
    ) -> ConflictableTransactionResult<bool, StorageError> {
        if folders.get(self.record.id.as_bytes())?.as_ref() != Some(&self.raw) {
            return Ok(false);
        }
        let Some(name_key) = &self.name_key else {
            return Ok(true);
        };
        let own = name_value(NAME_FOLDER, self.record.id.as_bytes());
        Ok(names.get(name_key)?.is_some_and(|value| value == own))
    }
}

/// A folder and everything below it, as read before the deleting transaction.
struct Subtree {
    root: Placed,
    /// The folder and every folder below it, with their stored bytes.
    folders: Vec<(FolderId, IVec)>,
    /// Every file in those folders, with its stored bytes.
    files: Vec<(FileRecord, IVec)>,
    /// Every name-index entry inside those folders.
    names: Vec<IVec>,
    /// Every grant of the case (those pointing inside are removed with the folder).
    grants: Vec<GrantId>,
}

impl Subtree {
    fn read(m: &Meta, id: FolderId) -> Result<Option<Subtree>> {
        let Some(root) = Placed::read(m, id)? else {
            return Ok(None);
        };
        let t = &m.trees;
        let case = root.record.case;
        let mut children: HashMap<FolderId, Vec<(FolderId, IVec)>> = HashMap::new();
        for raw in records(&t.folders_by_case, case, &t.folders)? {
            let folder: FolderRecord = codec::decode(&raw)?;
            if let Some(parent) = folder.parent {
                children.entry(parent).or_default().push((folder.id, raw));
            }
        }
        let mut folders = vec![(id, root.raw.clone())];
        let mut next = 0;
        while let Some((folder, _)) = folders.get(next) {
            let below = children.remove(folder).unwrap_or_default();
            folders.extend(below);
            next += 1;
        }
        let inside: HashSet<FolderId> = folders.iter().map(|(folder, _)| *folder).collect();
        let mut files = Vec::new();
        for raw in records(&t.files_by_case, case, &t.files)? {
            let file: FileRecord = codec::decode(&raw)?;
            if file.folder.is_some_and(|folder| inside.contains(&folder)) {
                files.push((file, raw));
            }
        }
        let mut names = Vec::new();
        for folder in &inside {
            for name in t.names.scan_prefix(name_prefix(case, Some(*folder))).keys() {
                names.push(name?);
            }
        }
        Ok(Some(Subtree {
            root,
            folders,
            files,
            names,
            grants: grant_ids_of_case(m, case)?,
        }))
    }

    /// Whether a grant's target is one of the folders or files of the subtree.
    fn contains(&self, target: &GrantTarget) -> bool {
        match *target {
            GrantTarget::Case(_) => false,
            GrantTarget::Folder(_, folder) => self.folders.iter().any(|(f, _)| *f == folder),
            GrantTarget::File(_, file) => self.files.iter().any(|(f, _)| f.id == file),
        }
    }
}

/// The stored bytes of every record a case index lists. The index keys are collected before
/// any record is read (see [`super::join_index`]).
fn records(index: &sled::Tree, case: CaseId, records: &sled::Tree) -> Result<Vec<IVec>> {
    let keys: Vec<IVec> = index
        .scan_prefix(case.as_bytes())
        .keys()
        .collect::<std::result::Result<_, _>>()?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(raw) = records.get(&key[case.as_bytes().len()..])? {
            out.push(raw);
        }
    }
    Ok(out)
}

/// Fails the transaction if `parent` is the folder being moved or lies below it.
fn check_outside(
    folders: &TransactionalTree,
    parent: FolderId,
    moved: FolderId,
) -> ConflictableTransactionResult<(), StorageError> {
    let mut seen = HashSet::new();
    let mut current = Some(parent);
    while let Some(folder) = current {
        if folder == moved {
            return abort(StorageError::Invalid(
                "folder move: a folder cannot be moved into itself or a folder inside it".into(),
            ));
        }
        if !seen.insert(folder) {
            return abort(StorageError::Codec("folder ancestry loops".into()));
        }
        current = tx_get::<FolderRecord>(folders, folder.as_bytes())?.and_then(|f| f.parent);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
