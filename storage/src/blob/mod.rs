//! Encrypted objects in an object store: the local filesystem by default, any S3-compatible
//! service by configuration.
//!
//! Object keys are `blobs/<random id>`: they carry no name, no case and no patient data.
//! Large objects go up through multipart uploads with back-pressure; a transfer holds at most
//! `part_size × (parts_in_flight + 1)` bytes of ciphertext in memory, whatever the object's
//! size (see [`BlobWriter`]).

mod writer;

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt};

use crate::config::{BlobBackend, StorageConfig};
use crate::error::{Result, StorageError};
use crate::ids::BlobId;
use crate::records::MultipartState;
use crate::time::Timestamp;

pub use writer::BlobWriter;

const PREFIX: &str = "blobs";

/// An object as listed by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its id.
    pub id: BlobId,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: Timestamp,
}

#[derive(Clone, Debug)]
enum Backend {
    /// Multipart staging files live beside the object as `<object>#<n>`.
    Local { root: PathBuf },
    /// Multipart uploads are driven through the S3 API so their ids can be recorded.
    S3 { s3: Arc<AmazonS3> },
}

/// The object store holding encrypted case files.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    backend: Backend,
    part_size: usize,
    parts_in_flight: usize,
}

impl BlobStore {
    /// Opens the store the configuration names.
    pub fn open(config: &StorageConfig) -> Result<BlobStore> {
        let (store, backend): (Arc<dyn ObjectStore>, Backend) = match &config.backend {
            BlobBackend::Local => {
                let root = config.data_dir.join("objects");
                std::fs::create_dir_all(&root)?;
                let local = LocalFileSystem::new_with_prefix(&root)?.with_fsync(true);
                (Arc::new(local), Backend::Local { root })
            }
            BlobBackend::S3(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(s3.secret_access_key.expose())
                    .with_allow_http(s3.allow_http)
                    .with_virtual_hosted_style_request(s3.virtual_hosted_style);
                if let Some(endpoint) = &s3.endpoint {
                    if endpoint.starts_with("http://") && !s3.allow_http {
                        return Err(StorageError::Invalid(
                            "storage.s3.endpoint: plain http needs storage.s3.allow_http = true"
                                .into(),
                        ));
                    }
                    builder = builder.with_endpoint(endpoint);
                }
                let s3 = Arc::new(builder.build()?);
                (s3.clone(), Backend::S3 { s3 })
            }
        };
        let (default_part, min_part) = match backend {
            Backend::Local { .. } => (1024 * 1024, 64 * 1024),
            Backend::S3 { .. } => (8 * 1024 * 1024, 5 * 1024 * 1024),
        };
        let prefix = match &config.key_prefix {
            Some(p) => Path::parse(format!("{p}/{PREFIX}"))
                .map_err(|_| StorageError::Invalid("storage key prefix".into()))?,
            None => Path::from(PREFIX),
        };
        let blobs = BlobStore {
            store,
            prefix,
            backend,
            part_size: config.part_size.unwrap_or(default_part).max(min_part),
            parts_in_flight: config.parts_in_flight.max(1),
        };
        if let Backend::Local { root } = &blobs.backend {
            std::fs::create_dir_all(blobs.local_dir(root))?;
        }
        Ok(blobs)
    }

    /// The object key of a blob.
    pub fn path(&self, id: BlobId) -> Path {
        self.prefix.clone().join(id.to_string())
    }

    /// Bytes of ciphertext one transfer may hold in memory at most.
    pub fn transfer_memory_bound(&self) -> usize {
        self.part_size * (self.parts_in_flight + 1)
    }

    /// Starts writing a new object. The returned state must be recorded before any part is
    /// written, so that recovery can abort the upload after a crash.
    pub async fn start(&self, id: BlobId) -> Result<(BlobWriter, MultipartState)> {
        let path = self.path(id);
        match &self.backend {
            Backend::Local { .. } => {
                let upload = self.store.put_multipart(&path).await?;
                Ok((
                    BlobWriter::local(upload, self.part_size, self.parts_in_flight),
                    MultipartState::Local,
                ))
            }
            Backend::S3 { s3 } => {
                let upload_id = s3.create_multipart(&path).await?;
                let state = MultipartState::S3 {
                    upload_id: upload_id.clone(),
                };
                Ok((
                    BlobWriter::s3(
                        s3.clone(),
                        path,
                        upload_id,
                        self.part_size,
                        self.parts_in_flight,
                    ),
                    state,
                ))
            }
        }
    }

    /// Undoes whatever an interrupted upload left: its multipart state and, if it was
    /// completed but never committed, the object itself.
    pub async fn abort(&self, id: BlobId, state: &MultipartState) -> Result<()> {
        match (&self.backend, state) {
            (Backend::S3 { s3 }, MultipartState::S3 { upload_id }) => {
                match s3.abort_multipart(&self.path(id), upload_id).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => {
                        tracing::warn!(blob = %id, error = %e, "aborting multipart upload failed")
                    }
                }
            }
            (Backend::Local { root }, _) => remove_local_staging(&self.local_dir(root), id)?,
            _ => {}
        }
        self.delete(id).await
    }

    /// Deletes an object; a missing object is not an error.
    pub async fn delete(&self, id: BlobId) -> Result<()> {
        match self.store.delete(&self.path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's size, or `None` if it does not exist.
    pub async fn size(&self, id: BlobId) -> Result<Option<u64>> {
        match self.store.head(&self.path(id)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams a byte range of an object.
    pub async fn read(
        &self,
        id: BlobId,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let result = match self.store.get_opts(&self.path(id), options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StorageError::MissingObject(id));
            }
            Err(e) => return Err(e.into()),
        };
        match result.payload {
            GetResultPayload::File(file, _) => Ok(file_stream(file, result.range)),
            GetResultPayload::Stream(stream) => Ok(stream.map_err(StorageError::from).boxed()),
        }
    }

    /// Every object under the blob prefix (ignoring anything that is not a blob).
    pub async fn list(&self) -> Result<Vec<BlobInfo>> {
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&self.prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let Ok(id) = name.parse::<BlobId>() else {
                continue;
            };
            out.push(BlobInfo {
                id,
                size: meta.size,
                modified: Timestamp(meta.last_modified.timestamp_millis()),
            });
        }
        Ok(out)
    }

    /// Local staging files whose upload is not in `pending` (left by a crash before the
    /// upload was recorded). Always empty for S3, whose incomplete uploads are aborted by id.
    pub fn local_staging_orphans(&self, pending: &[BlobId]) -> Result<Vec<BlobId>> {
        let Backend::Local { root } = &self.backend else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.local_dir(root))? {
            let name = entry?.file_name();
            let Some((id, _)) = name.to_str().and_then(|n| n.split_once('#')) else {
                continue;
            };
            if let Ok(id) = id.parse::<BlobId>()
                && !pending.contains(&id)
                && !out.contains(&id)
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Removes a local blob's staging files (no-op for S3).
    pub fn remove_staging(&self, id: BlobId) -> Result<()> {
        match &self.backend {
            Backend::Local { root } => remove_local_staging(&self.local_dir(root), id),
            Backend::S3 { .. } => Ok(()),
        }
    }

    /// The local folder holding the blobs.
    fn local_dir(&self, root: &FsPath) -> PathBuf {
        self.prefix
            .parts()
            .fold(root.to_path_buf(), |dir, part| dir.join(part.as_ref()))
    }
}

fn remove_local_staging(dir: &FsPath, id: BlobId) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let prefix = format!("{id}#");
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix))
        {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Bytes read from a local object file per blocking call. object_store's own file stream
/// reads 8 KiB per call, which costs a thread hop every 8 KiB and caps downloads far below
/// what the disk and the cipher can do.
const FILE_READ_SIZE: u64 = 1024 * 1024;

/// Streams `range` of a local object file in [`FILE_READ_SIZE`] pieces, each read on the
/// blocking pool. A file shorter than the range ends the stream with an error.
fn file_stream(file: std::fs::File, range: Range<u64>) -> BoxStream<'static, Result<Bytes>> {
    let file = Arc::new(file);
    futures::stream::try_unfold(range.start, move |position| {
        let file = Arc::clone(&file);
        let end = range.end;
        async move {
            if position >= end {
                return Ok(None);
            }
            let len = (end - position).min(FILE_READ_SIZE) as usize;
            let piece = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, position)?;
                Ok(buf)
            })
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
            .map_err(StorageError::Io)?;
            Ok(Some((Bytes::from(piece), position + len as u64)))
        }
    })
    .boxed()
}
