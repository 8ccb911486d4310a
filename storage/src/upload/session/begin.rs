//! Starting an upload session: the checks, the pending record, the announced reservation
//! and the start of the object (steps 1 and 2 of the commit protocol).

use casevault_crypto::{CaseKey, Encryptor, Sha256};

use super::{ObjectInProgress, RESERVE_STEP, UploadSession};
use crate::Storage;
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, UploadId};
use crate::kind::SNIFF_LEN;
use crate::meta::OnConflict;
use crate::names::{name_tag, validate_name};
use crate::records::{MultipartState, PendingUpload};
use crate::time::Timestamp;
use crate::upload::NewFile;
use crate::upload::guard::UploadGuard;

impl Storage {
    /// Starts an upload: checks the name, the grant it comes through (if any: it must still
    /// accept uploads and have room for the announced size), the case and the folder,
    /// refuses a taken name (unless the upload is to replace it), records the upload as
    /// pending, reserves the announced size if there is one and starts the object.
    ///
    /// Nothing is left behind when this fails. The name is checked again when the upload
    /// finishes, since another upload may take it in the meantime.
    pub async fn begin_upload(&self, new: NewFile) -> Result<UploadSession> {
        validate_name(&new.name)?;
        let grant_room = match new.grant {
            Some(grant) => self
                .meta
                .check_grant_upload(grant, new.expected_size.unwrap_or(0))
                .await?
                .upload_available(),
            None => u64::MAX,
        };
        let (case, key) = self.case_with_key(new.case).await?;
        if let Some(folder) = new.folder {
            match self.meta.folder(folder).await? {
                Some(record) if record.case == case.id => {}
                _ => return Err(StorageError::NotFound("folder")),
            }
        }
        let tag = name_tag(&key, &new.name);
        if new.on_conflict == OnConflict::Fail
            && self
                .meta
                .lookup_name(case.id, new.folder, tag)
                .await?
                .is_some()
        {
            return Err(StorageError::NameConflict);
        }

        let upload = PendingUpload {
            id: UploadId::random(),
            blob: BlobId::random(),
            account: case.account,
            reserved: 0,
            multipart: MultipartState::NotStarted,
            started_at: Timestamp::now(),
        };
        self.meta.begin_upload(upload.clone()).await?;
        let mut guard = UploadGuard {
            storage: self.clone(),
            upload: upload.id,
            blob: upload.blob,
            state: MultipartState::NotStarted,
            armed: true,
        };
        match self
            .start_object(&upload, &key, new.expected_size, &mut guard)
            .await
        {
            Ok((object, reserved)) => Ok(UploadSession {
                key,
                new,
                name_tag: tag,
                account: upload.account,
                object: Some(object),
                received: 0,
                reserved,
                grant_room,
                writing: false,
                guard,
            }),
            Err(e) => {
                guard.clean_up().await;
                Err(e)
            }
        }
    }

    /// Reserves the announced size, starts the object, records its multipart state and
    /// writes the stream header. Returns the object and the bytes reserved.
    async fn start_object(
        &self,
        upload: &PendingUpload,
        key: &CaseKey,
        expected_size: Option<u64>,
        guard: &mut UploadGuard,
    ) -> Result<(ObjectInProgress, u64)> {
        let reserved = match expected_size {
            Some(size) => self.meta.reserve(upload.id, size).await?,
            None => 0,
        };
        let (mut writer, state) = self.blobs.start(upload.blob).await?;
        guard.state = state.clone();
        self.meta.set_multipart(upload.id, state).await?;

        let encryptor = Encryptor::new(key, self.config.chunk_size)?;
        let header = encryptor.header_bytes().to_vec();
        writer.write(&header).await?;
        let object = ObjectInProgress {
            writer,
            encryptor,
            header,
            chunk_size: self.config.chunk_size as usize,
            hasher: Sha256::new(),
            head: Vec::with_capacity(SNIFF_LEN),
        };
        Ok((object, reserved))
    }

    /// Grows a reservation to cover `needed` bytes: a whole step when the quota allows, else
    /// exactly what is needed, else the upload fails.
    pub(super) async fn reserve_more(
        &self,
        upload: UploadId,
        reserved: u64,
        needed: u64,
    ) -> Result<u64> {
        match self.meta.reserve(upload, RESERVE_STEP).await {
            Ok(total) => Ok(total),
            Err(StorageError::QuotaExceeded { .. }) => {
                self.meta.reserve(upload, needed - reserved).await
            }
            Err(e) => Err(e),
        }
    }
}
