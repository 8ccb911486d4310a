//! Logical backup of the metadata: every tree, record by record, in a versioned stream that
//! does not depend on sled's own file format, so that a damaged database can be rebuilt.
//!
//! The stream (all integers big-endian):
//!
//! ```text
//! magic       8 bytes  "CVMETABK"
//! version     u32      FORMAT_VERSION
//! records     repeated: tag u8 = 1, name u32-length-prefixed, key u32-lp, value u32-lp
//! end         tag u8 = 0, then the record count as u64
//! checksum    32 bytes SHA-256 over every byte before it
//! ```
//!
//! Every tree is written, including trees added by later releases: the list comes from
//! sled's tree names, not from [`super::Trees`]. Values are copied as stored (each already
//! carries its own record version byte).

use std::io::{Read, Write};

use casevault_crypto::{Sha256, ct_eq};

use super::Meta;
use crate::error::{Result, StorageError};

/// The first bytes of a metadata backup.
pub const BACKUP_MAGIC: &[u8; 8] = b"CVMETABK";

/// The version of the backup stream this release writes and reads.
pub const BACKUP_FORMAT_VERSION: u32 = 1;

const TAG_RECORD: u8 = 1;
const TAG_END: u8 = 0;

/// What an export wrote or an import read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// Trees in the stream (empty trees included).
    pub trees: usize,
    /// Records (key/value pairs).
    pub records: u64,
    /// Length of the stream in bytes.
    pub bytes: u64,
    /// The stream's SHA-256 (its last 32 bytes).
    pub sha256: [u8; 32],
}

/// Hashes and counts everything written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write_all(data)?;
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn put_field(&mut self, data: &[u8]) -> Result<()> {
        let len = u32::try_from(data.len())
            .map_err(|_| StorageError::Invalid("metadata value larger than 4 GiB".into()))?;
        self.put(&len.to_be_bytes())?;
        self.put(data)
    }
}

impl Meta {
    /// Writes every tree of the database to `writer` in the backup format above. Blocking:
    /// call it from `spawn_blocking`. Writes that happen meanwhile may or may not be
    /// included, so run it while nothing else uses the database.
    pub fn export<W: Write>(&self, writer: W) -> Result<BackupSummary> {
        let mut out = HashingWriter {
            inner: writer,
            hasher: Sha256::new(),
            bytes: 0,
        };
        out.put(BACKUP_MAGIC)?;
        out.put(&BACKUP_FORMAT_VERSION.to_be_bytes())?;
        let mut names = self.db.tree_names();
        names.sort();
        let mut records = 0u64;
        for name in &names {
            let tree = self.db.open_tree(name)?;
            for entry in tree.iter() {
                let (key, value) = entry?;
                out.put(&[TAG_RECORD])?;
                out.put_field(name)?;
                out.put_field(&key)?;
                out.put_field(&value)?;
                records += 1;
            }
        }
        out.put(&[TAG_END])?;
        out.put(&records.to_be_bytes())?;
        let HashingWriter {
            mut inner,
            hasher,
            bytes,
        } = out;
        let sha256 = hasher.finish();
        inner.write_all(&sha256)?;
        inner.flush()?;
        Ok(BackupSummary {
            trees: names.len(),
            records,
            bytes: bytes + 32,
            sha256,
        })
    }

    /// Reads a backup written by [`Meta::export`] into this database, which must be empty
    /// (every tree). The whole stream is read and its checksum verified before anything is
    /// written; a stream that fails verification changes nothing. Blocking: call it from
    /// `spawn_blocking`.
    pub fn import<R: Read>(&self, mut reader: R) -> Result<BackupSummary> {
        let mut data = Vec::new();
        reader.read_to_end(&mut data)?;
        let bad = |what: &str| StorageError::Invalid(format!("metadata backup: {what}"));
        if data.len() < BACKUP_MAGIC.len() + 4 + 1 + 8 + 32 || &data[..8] != BACKUP_MAGIC {
            return Err(bad("not a casevault metadata backup"));
        }
        let (body, checksum) = data.split_at(data.len() - 32);
        let sha256 = casevault_crypto::sha256(body);
        if !ct_eq(&sha256, checksum) {
            return Err(bad("checksum mismatch: the file is damaged or was altered"));
        }
        let version = u32::from_be_bytes(body[8..12].try_into().expect("4 bytes"));
        if version != BACKUP_FORMAT_VERSION {
            return Err(bad(&format!(
                "format version {version} is not supported by this release (expected {BACKUP_FORMAT_VERSION})"
            )));
        }
        let mut cursor = Cursor {
            data: &body[12..],
            at: 0,
        };
        let mut entries: Vec<(&[u8], &[u8], &[u8])> = Vec::new();
        loop {
            match cursor.take(1).ok_or_else(|| bad("truncated"))?[0] {
                TAG_RECORD => {
                    let name = cursor.field().ok_or_else(|| bad("truncated record"))?;
                    let key = cursor.field().ok_or_else(|| bad("truncated record"))?;
                    let value = cursor.field().ok_or_else(|| bad("truncated record"))?;
                    entries.push((name, key, value));
                }
                TAG_END => break,
                _ => return Err(bad("unknown record tag")),
            }
        }
        let count = cursor.take(8).ok_or_else(|| bad("truncated end"))?;
        let count = u64::from_be_bytes(count.try_into().expect("8 bytes"));
        if count != entries.len() as u64 || cursor.at != cursor.data.len() {
            return Err(bad("record count does not match"));
        }

        for name in self.db.tree_names() {
            if !self.db.open_tree(&name)?.is_empty() {
                return Err(StorageError::Invalid(
                    "restore target: the metadata database is not empty".into(),
                ));
            }
        }
        let mut trees: Vec<&[u8]> = Vec::new();
        let mut batch: Option<(&[u8], sled::Batch)> = None;
        for (name, key, value) in entries {
            if batch.as_ref().is_none_or(|(current, _)| *current != name) {
                if let Some((current, done)) = batch.take() {
                    self.db.open_tree(current)?.apply_batch(done)?;
                }
                if !trees.contains(&name) {
                    trees.push(name);
                }
                batch = Some((name, sled::Batch::default()));
            }
            if let Some((_, b)) = batch.as_mut() {
                b.insert(key, value);
            }
        }
        if let Some((current, done)) = batch.take() {
            self.db.open_tree(current)?.apply_batch(done)?;
        }
        self.db.flush()?;
        Ok(BackupSummary {
            trees: trees.len(),
            records: count,
            bytes: data.len() as u64,
            sha256,
        })
    }
}

/// Reads length-prefixed fields from a verified stream.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let piece = self.data.get(self.at..end)?;
        self.at = end;
        Some(piece)
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?);
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use crate::meta::temp_meta;

    #[test]
    fn export_import_round_trip_and_tamper_check() {
        let (_a, source) = temp_meta();
        source.db.insert(b"root", b"value").expect("insert");
        source
            .db
            .open_tree("added_later")
            .expect("tree")
            .insert(b"k", b"v")
            .expect("insert");
        source.trees.users.insert(b"u1", b"x").expect("insert");
        let mut stream = Vec::new();
        let summary = source.export(&mut stream).expect("export");
        assert_eq!(summary.records, 3);
        assert_eq!(summary.bytes, stream.len() as u64);

        let (_b, target) = temp_meta();
        let mut tampered = stream.clone();
        tampered[20] ^= 1;
        assert!(target.import(&tampered[..]).is_err());
        assert!(target.trees.users.is_empty());

        let read = target.import(&stream[..]).expect("import");
        assert_eq!(read.records, 3);
        assert_eq!(
            target.trees.users.get(b"u1").expect("get").as_deref(),
            Some(&b"x"[..])
        );
        let later = target.db.open_tree("added_later").expect("tree");
        assert_eq!(later.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
        assert!(target.import(&stream[..]).is_err(), "non-empty database");
    }
}
