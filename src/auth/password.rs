//! Password hashing with argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane).
//!
//! Memory is bounded by construction: a fixed pool of `max_concurrent_hashes` work buffers is
//! allocated once and reused, and a request must hold a buffer (and its semaphore permit, moved
//! into the blocking task so a client that disconnects cannot free it early) to hash. A login
//! flood therefore queues instead of growing the heap. Checking an unknown email verifies
//! against a dummy hash, so it costs the same as a wrong password.

use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::domain::Password;
use crate::error::{Error, Result};

/// Memory cost in KiB (19 MiB).
const M_COST: u32 = 19 * 1024;
/// Passes.
const T_COST: u32 = 2;
/// Hash length in bytes.
const OUTPUT_LEN: usize = 32;

fn params() -> Result<Params> {
    Params::new(M_COST, T_COST, 1, Some(OUTPUT_LEN)).map_err(|e| Error::internal(e.to_string()))
}

/// argon2id over a preallocated buffer; returns the PHC string.
fn hash_with(buffer: &mut [Block], password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
    let mut salt_bytes = [0u8; 16];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut out = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params()?)
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, buffer)
        .map_err(|e| Error::internal(e.to_string()))?;
    let output = Output::new(&out).map_err(|e| Error::internal(e.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={M_COST},t={T_COST},p=1${}${output}",
        salt.as_str()
    ))
}

/// Verifies `password` against a PHC string, over the buffer when the hash uses our
/// parameters (a hash with other parameters, say from an older build, verifies the slow way).
fn verify_with(buffer: &mut [Block], hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(p), Some(salt), Some(expected)) = (Params::try_from(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let ours = parsed.algorithm.as_str() == "argon2id"
        && p.m_cost() == M_COST
        && p.t_cost() == T_COST
        && p.p_cost() == 1
        && expected.len() == OUTPUT_LEN;
    if !ours {
        return Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = [0u8; OUTPUT_LEN];
    let computed = Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, buffer);
    // `Output` compares in constant time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// Hashes and verifies passwords off the async runtime, a bounded number at a time, each over
/// one of a fixed set of work buffers.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    blocks: usize,
    dummy: Arc<str>,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once. Buffers (19 MiB each) are made
    /// on first need and kept; the semaphore means there are never more than `concurrency`.
    pub fn new(concurrency: usize) -> Result<Self> {
        let blocks = params()?.block_count();
        let mut first = vec![Block::default(); blocks];
        let dummy = hash_with(&mut first, "promptyard dummy password")?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            buffers: Arc::new(Mutex::new(vec![first])),
            blocks,
            dummy: dummy.into(),
        })
    }

    /// Runs `f` over a work buffer on the blocking pool. The permit and the buffer travel into
    /// the blocking task and are given back only when it ends.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        let buffers = self.buffers.clone();
        let blocks = self.blocks;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut buffer = buffers
                .lock()
                .map_err(|_| Error::internal("hash buffers poisoned"))?
                .pop()
                .unwrap_or_else(|| vec![Block::default(); blocks]);
            let result = span.in_scope(|| f(&mut buffer));
            if let Ok(mut free) = buffers.lock() {
                free.push(buffer);
            }
            Ok(result)
        })
        .await
        .map_err(Error::internal)?
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.expose().to_owned();
        self.run(move |buffer| hash_with(buffer, &password)).await?
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and says no.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> Result<bool> {
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let password = password.to_owned();
        let ok = self
            .run(move |buffer| verify_with(buffer, &hash, &password))
            .await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let hasher = Hasher::new(2).unwrap();
        let pw = Password::parse("correct horse", "password").unwrap();
        let hash = hasher.hash(&pw).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify(Some(&hash), "correct horse").await.unwrap());
        assert!(!hasher.verify(Some(&hash), "wrong horse").await.unwrap());
        assert!(
            !hasher
                .verify(None, "promptyard dummy password")
                .await
                .unwrap()
        );
        assert!(!hasher.verify(Some("not a hash"), "x").await.unwrap());
        // Hashes made by the argon2 crate itself (as earlier builds did) still verify.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap());
        let theirs = argon
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify(Some(&theirs), "correct horse").await.unwrap());
        assert!(!hasher.verify(Some(&theirs), "wrong").await.unwrap());
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        );
        let old = other
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify(Some(&old), "correct horse").await.unwrap());
    }

    #[tokio::test]
    async fn many_concurrent_hashes_share_the_fixed_buffers() {
        let hasher = Hasher::new(2).unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let h = hasher.clone();
            tasks.push(tokio::spawn(async move {
                h.verify(None, &format!("pw{i}")).await
            }));
        }
        for t in tasks {
            assert!(!t.await.unwrap().unwrap());
        }
        let kept = hasher.buffers.lock().unwrap().len();
        assert!(
            (1..=2).contains(&kept),
            "never more buffers than permits: {kept}"
        );
    }
}
