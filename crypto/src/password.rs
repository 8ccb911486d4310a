//! Password hashing with argon2id.
//!
//! Hashes run on tokio's blocking pool, never on the async threads, and a semaphore bounds
//! how many run at once (each takes `m_kib` KiB of memory and a core for tens of ms).
//! Unknown accounts are verified against a dummy hash with the same parameters, so a login
//! takes as long whether or not the account exists.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{self, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::aead::fill_random;
use crate::error::{CryptoError, Result};

/// Longest accepted password, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Largest memory cost accepted in a stored hash (4 GiB).
pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
/// Largest time cost accepted in a stored hash.
pub const MAX_T: u32 = 1000;
/// Largest parallelism accepted in a stored hash.
pub const MAX_P: u32 = 255;

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory, in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Argon2Params {
            m_kib: 19_456,
            t: 2,
            p: 1,
        }
    }
}

impl Argon2Params {
    fn to_argon2(self) -> Result<Params> {
        Params::new(self.m_kib, self.t, self.p, Some(Params::DEFAULT_OUTPUT_LEN))
            .map_err(|e| CryptoError::PasswordHash(format!("invalid argon2 parameters: {e}")))
    }
}

/// An argon2id hash in PHC string form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
/// `Debug` does not print it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Validates a stored PHC string: it must parse and name argon2id.
    pub fn from_phc(phc: String) -> Result<PasswordHash> {
        let parsed = password_hash::PasswordHash::new(&phc)
            .map_err(|e| CryptoError::PasswordHash(format!("malformed PHC string: {e}")))?;
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return Err(CryptoError::PasswordHash("not an argon2id hash".into()));
        }
        let params = Params::try_from(&parsed)
            .map_err(|e| CryptoError::PasswordHash(format!("invalid argon2 parameters: {e}")))?;
        // Verifying allocates m KiB: refuse absurd costs rather than abort on allocation.
        if params.m_cost() > MAX_M_KIB || params.t_cost() > MAX_T || params.p_cost() > MAX_P {
            return Err(CryptoError::PasswordHash(
                "argon2 parameters too large".into(),
            ));
        }
        Ok(PasswordHash(phc))
    }
}

impl TryFrom<String> for PasswordHash {
    type Error = CryptoError;
    fn try_from(phc: String) -> Result<Self> {
        PasswordHash::from_phc(phc)
    }
}

impl From<PasswordHash> for String {
    fn from(hash: PasswordHash) -> String {
        hash.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// Hashes and verifies passwords with argon2id, a bounded number at a time.
/// Cheap to clone: clones share the bound.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Argon2Params,
    semaphore: Arc<Semaphore>,
    /// A PHC string with the current parameters, a random salt and a random output.
    dummy: String,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .finish_non_exhaustive()
    }
}

/// Counts a running hash for [`PasswordHasher::in_flight`], also on panic.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn check_len(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(CryptoError::InvalidInput("password longer than 1024 bytes"));
    }
    Ok(())
}

impl PasswordHasher {
    /// A hasher with these parameters running at most `max_concurrent` hashes at once
    /// (0 counts as 1). Invalid parameters surface as errors from [`PasswordHasher::hash`].
    pub fn new(params: Argon2Params, max_concurrent: usize) -> PasswordHasher {
        let mut random = [0u8; 48];
        fill_random(&mut random);
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_kib,
            params.t,
            params.p,
            STANDARD_NO_PAD.encode(&random[..16]),
            STANDARD_NO_PAD.encode(&random[16..]),
        );
        PasswordHasher {
            inner: Arc::new(Inner {
                params,
                semaphore: Arc::new(Semaphore::new(max_concurrent.max(1))),
                dummy,
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
            }),
        }
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.inner.params
    }

    /// Hashes running right now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Most hashes that ever ran at once (for metrics and tests).
    pub fn peak_in_flight(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit moves into the
    /// blocking task, so a cancelled caller cannot let more hashes run than the bound.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = Arc::clone(&self.inner.semaphore)
            .acquire_owned()
            .await
            .map_err(|_| CryptoError::PasswordHash("hasher closed".into()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let _guard = InFlight(&inner.in_flight);
            inner.peak.fetch_max(now, Ordering::SeqCst);
            work()
        })
        .await
        .map_err(|e| CryptoError::PasswordHash(format!("hashing task failed: {e}")))
    }

    /// Hashes a password with a fresh random salt. [`CryptoError::InvalidInput`] for a
    /// password over [`MAX_PASSWORD_LEN`] bytes.
    pub async fn hash(&self, password: &str) -> Result<PasswordHash> {
        check_len(password)?;
        let params = self.inner.params.to_argon2()?;
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        let phc = self
            .run(move || {
                let salt = SaltString::encode_b64(&salt)?;
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                argon.hash_password(&password, &salt).map(|h| h.to_string())
            })
            .await?
            .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
        Ok(PasswordHash(phc))
    }

    /// Checks a password. `None` (unknown account) runs a dummy verification with the same
    /// parameters and returns `false`, so both cases take the same time.
    /// [`CryptoError::InvalidInput`] for a password over [`MAX_PASSWORD_LEN`] bytes.
    pub async fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> Result<bool> {
        check_len(password)?;
        let known = hash.is_some();
        let phc = hash.map_or_else(|| self.inner.dummy.clone(), |h| h.0.clone());
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let matched = self
            .run(move || {
                let parsed = password_hash::PasswordHash::new(&phc)?;
                match Argon2::default().verify_password(&password, &parsed) {
                    Ok(()) => Ok(true),
                    Err(password_hash::Error::Password) => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await?
            .map_err(|e| CryptoError::PasswordHash(e.to_string()))?;
        Ok(matched && known)
    }

    /// Whether `hash` should be recomputed at the next successful login: it is not argon2id
    /// v19, or its memory or time cost is below the current parameters.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = password_hash::PasswordHash::new(&hash.0) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() < self.inner.params.m_kib
            || params.t_cost() < self.inner.params.t
    }
}
