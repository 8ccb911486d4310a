//! Password hashing with argon2id.
//!
//! Hashes run on tokio's blocking pool, never on the async threads, and a semaphore bounds
//! how many run at once (each takes `m_kib` KiB of memory and a core for tens of ms).
//! Unknown accounts are verified against a dummy hash with the same parameters, so a login
//! takes as long whether or not the account exists.
//!
//! argon2's working memory is pooled: each permit's hash borrows one buffer of the current
//! parameters' size and gives it back, so hashing holds at most `max_concurrent × m_kib` KiB
//! however many attempts arrive (allocating and freeing ~19 MiB per hash left the freed
//! blocks resident in the allocator's per-thread arenas). Only a stored hash with a larger
//! memory cost than the current parameters allocates memory for its own verification.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{self, Output, ParamsString, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// argon2 working memory not in use right now, `pool_blocks` blocks each. A buffer is
    /// created the first time every permit is busy and kept for reuse, so there are never
    /// more buffers than permits.
    pool: Mutex<Vec<Vec<Block>>>,
    /// Blocks the current parameters need (0 for invalid parameters).
    pool_blocks: usize,
}

impl Inner {
    /// Runs `work` with `blocks` blocks of argon2 memory: a prefix of a pooled buffer, or,
    /// for a stored hash costing more memory than the current parameters, a buffer
    /// allocated for this call only.
    fn with_memory<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if blocks > self.pool_blocks {
            return work(&mut vec![Block::default(); blocks]);
        }
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut memory = pooled.unwrap_or_else(|| vec![Block::default(); self.pool_blocks]);
        let result = work(&mut memory[..blocks]);
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(memory);
        result
    }
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
        let pool_blocks = params.to_argon2().map_or(0, |p| p.block_count());
        PasswordHasher {
            inner: Arc::new(Inner {
                params,
                semaphore: Arc::new(Semaphore::new(max_concurrent.max(1))),
                dummy,
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                pool: Mutex::new(Vec::new()),
                pool_blocks,
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
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T> {
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
            work(&inner)
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
            .run(move |inner| {
                let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
                inner.with_memory(params.block_count(), |memory| {
                    argon.hash_password_into_with_memory(&password, &salt, &mut output, memory)
                })?;
                let salt = SaltString::encode_b64(&salt)?;
                let phc = password_hash::PasswordHash {
                    algorithm: argon2::ARGON2ID_IDENT,
                    version: Some(Version::V0x13.into()),
                    params: ParamsString::try_from(&params)?,
                    salt: Some(salt.as_salt()),
                    hash: Some(Output::new(&output)?),
                };
                Ok::<_, password_hash::Error>(phc.to_string())
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
            .run(move |inner| verify_phc(inner, &password, &phc))
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

/// Recomputes a PHC hash (algorithm, version, parameters and salt as stored) for `password`
/// with pooled memory and compares the outputs in constant time. A PHC string without salt
/// or output matches nothing.
fn verify_phc(inner: &Inner, password: &[u8], phc: &str) -> password_hash::Result<bool> {
    let parsed = password_hash::PasswordHash::new(phc)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(&parsed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut output = Zeroizing::new([0u8; Output::MAX_LENGTH]);
    let output = &mut output[..expected.len()];
    inner.with_memory(params.block_count(), |memory| {
        argon.hash_password_into_with_memory(password, salt, output, memory)
    })?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(output)? == expected)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    const SMALL: Argon2Params = Argon2Params {
        m_kib: 256,
        t: 1,
        p: 1,
    };

    fn pooled(hasher: &PasswordHasher) -> Vec<usize> {
        let pool = hasher
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pool.iter().map(Vec::len).collect()
    }

    /// A PHC string made by argon2's own allocating implementation.
    fn reference(algorithm: Algorithm, params: Argon2Params, password: &str) -> PasswordHash {
        let params = params.to_argon2().expect("params");
        let salt = SaltString::encode_b64(b"sixteen byte slt").expect("salt");
        let phc = Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string();
        PasswordHash(phc)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_is_pooled_one_buffer_per_permit() {
        let hasher = PasswordHasher::new(SMALL, 2);
        assert!(
            pooled(&hasher).is_empty(),
            "nothing allocated before the first hash"
        );
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        hasher.hash("pw").await.map(|_| ())
                    } else {
                        hasher.verify("pw", None).await.map(|_| ())
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("hash");
        }
        let pool = pooled(&hasher);
        assert!((1..=2).contains(&pool.len()), "{pool:?}");
        assert!(pool.iter().all(|&len| len == 256), "{pool:?}");
    }

    #[tokio::test]
    async fn matches_argon2s_own_hashing() {
        let hasher = PasswordHasher::new(SMALL, 1);
        // Ours verifies with argon2's verifier, several times over reused memory.
        for password in ["correct horse", "", "pw"] {
            let ours = hasher.hash(password).await.expect("hash");
            let parsed = password_hash::PasswordHash::new(ours.as_str()).expect("parse");
            assert!(
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            );
        }
        // Argon2's hashes verify with ours: same parameters (pooled buffer), smaller memory
        // (a prefix of it), larger memory (allocated for the call), other variants, longer
        // output.
        let cases = [
            (Algorithm::Argon2id, SMALL),
            (Algorithm::Argon2id, Argon2Params { m_kib: 64, ..SMALL }),
            (
                Algorithm::Argon2id,
                Argon2Params {
                    m_kib: 1024,
                    t: 2,
                    p: 2,
                },
            ),
            (Algorithm::Argon2i, SMALL),
            (Algorithm::Argon2d, SMALL),
        ];
        for (algorithm, params) in cases {
            let stored = reference(algorithm, params, "hunter2");
            assert!(
                hasher
                    .verify("hunter2", Some(&stored))
                    .await
                    .expect("verify")
            );
            assert!(
                !hasher
                    .verify("hunter3", Some(&stored))
                    .await
                    .expect("verify")
            );
        }
        let long = PasswordHash(
            "$argon2id$v=19$m=256,t=1,p=1$c2l4dGVlbiBieXRlIHNsdA$".to_string()
                + &STANDARD_NO_PAD.encode({
                    let mut out = [0u8; 64];
                    Argon2::new(
                        Algorithm::Argon2id,
                        Version::V0x13,
                        Params::new(256, 1, 1, Some(64)).expect("params"),
                    )
                    .hash_password_into(b"pw", b"sixteen byte slt", &mut out)
                    .expect("hash");
                    out
                }),
        );
        assert!(hasher.verify("pw", Some(&long)).await.expect("verify"));
        assert!(!hasher.verify("pW", Some(&long)).await.expect("verify"));
        // Only buffers of the current size stay pooled.
        assert_eq!(pooled(&hasher), vec![256]);
    }

    #[tokio::test]
    async fn invalid_parameters_error_without_pooling() {
        let hasher = PasswordHasher::new(
            Argon2Params {
                m_kib: 1,
                t: 1,
                p: 1,
            },
            1,
        );
        assert!(hasher.hash("pw").await.is_err());
        assert!(pooled(&hasher).iter().all(|&len| len == 0));
    }
}
