//! The master key file: its text format, and safe loading, creation and atomic saving.
//!
//! Format (also accepted from the environment): lines starting with `#` are comments; the
//! rest is whitespace-separated entries `cvk1:<32 hex digit id>:<base64url 32-byte key>`,
//! the current key first, previous keys after it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::{KeyId, Keyring, MasterKey};
use crate::aead;
use crate::error::{CryptoError, Result};

const PREFIX: &str = "cvk1:";
const COMMENT: &str = "# casevault master keyring. Secret: keep it mode 0600 and back it up apart from the data.\n\
# The first key is the current one; the others are kept only to unwrap during rotation.\n";
/// Length of one entry and its newline: `cvk1:` ‖ 32 hex ‖ `:` ‖ 43 base64url ‖ `\n`.
const ENTRY_LEN: usize = PREFIX.len() + 32 + 1 + 43 + 1;
/// Upper bound on a key file's size: far above any real keyring.
const MAX_FILE_LEN: u64 = 64 * 1024;

fn key_file_error(path: &Path, reason: impl Into<String>) -> CryptoError {
    CryptoError::KeyFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parses the text format.
pub(super) fn parse(text: &str) -> std::result::Result<Keyring, String> {
    let mut keys: Vec<MasterKey> = Vec::new();
    let entries = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace);
    for (n, entry) in entries.enumerate() {
        let key = parse_entry(entry).map_err(|e| format!("entry {}: {e}", n + 1))?;
        if keys.iter().any(|k| k.id() == key.id()) {
            return Err(format!("entry {}: duplicate key id {}", n + 1, key.id()));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err("no key found".into());
    }
    let current = keys.remove(0);
    Ok(Keyring::from_keys(current, keys))
}

fn parse_entry(entry: &str) -> std::result::Result<MasterKey, &'static str> {
    let rest = entry
        .strip_prefix(PREFIX)
        .ok_or("expected cvk1:<id>:<key>")?;
    let (id, key) = rest.split_once(':').ok_or("expected cvk1:<id>:<key>")?;
    let id: KeyId = id.parse().map_err(|_| "key id is not 32 hex digits")?;
    let decoded = Zeroizing::new(
        URL_SAFE_NO_PAD
            .decode(key)
            .map_err(|_| "key is not base64url")?,
    );
    MasterKey::from_slice(id, &decoded).ok_or("key is not 32 bytes")
}

/// Formats the text format.
pub(super) fn format(ring: &Keyring) -> Zeroizing<String> {
    // Sized up front: growing would leave copies of the keys in freed memory.
    let keys = 1 + ring.previous().len();
    let mut text = Zeroizing::new(String::with_capacity(COMMENT.len() + keys * ENTRY_LEN));
    text.push_str(COMMENT);
    for key in std::iter::once(ring.current()).chain(ring.previous()) {
        let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(key.secret()));
        text.push_str(PREFIX);
        text.push_str(&key.id().to_string());
        text.push(':');
        text.push_str(&encoded);
        text.push('\n');
    }
    text
}

/// Opens an existing key file, checks its type and mode on the open descriptor, parses it.
fn load(path: &Path, file: File) -> Result<Keyring> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(key_file_error(path, "not a regular file"));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(key_file_error(
            path,
            format!(
                "mode {:04o} gives group or others access; run chmod 600",
                mode & 0o7777
            ),
        ));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(key_file_error(path, "file too large"));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(|e| key_file_error(path, format!("cannot read: {e}")))?;
    parse(&text).map_err(|reason| key_file_error(path, reason))
}

pub(super) fn load_or_create(path: &Path) -> Result<Keyring> {
    match File::open(path) {
        Ok(file) => return load(path, file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(key_file_error(path, format!("cannot open: {e}"))),
    }
    let ring = Keyring::generate();
    match write_new(path, &ring) {
        Ok(()) => {
            sync_parent(path)?;
            Ok(ring)
        }
        // Someone else created it meanwhile: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let file =
                File::open(path).map_err(|e| key_file_error(path, format!("cannot open: {e}")))?;
            load(path, file)
        }
        Err(e) => Err(key_file_error(path, format!("cannot create: {e}"))),
    }
}

/// Creates `path` (which must not exist) with mode 0600 and writes the keyring, fsynced.
/// A partial file is removed on failure.
fn write_new(path: &Path, ring: &Keyring) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let result = file
        .write_all(format(ring).as_bytes())
        .and_then(|()| file.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

pub(super) fn save(ring: &Keyring, path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| key_file_error(path, "no file name"))?;
    let mut suffix = [0u8; 8];
    aead::fill_random(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{suffix}"));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    write_new(&tmp, ring).map_err(|e| key_file_error(&tmp, format!("cannot write: {e}")))?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(key_file_error(
            path,
            format!("cannot rename into place: {e}"),
        ));
    }
    sync_parent(path)
}

/// Fsyncs the directory holding `path` so a creation or rename survives a crash.
fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()?;
    Ok(())
}
