//! Password hashing with argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane).
//!
//! Hashing runs on the blocking pool behind a semaphore, so a login flood queues instead of
//! exhausting memory. Checking an unknown email verifies against a dummy hash so that it costs
//! the same as a wrong password and response times do not reveal which emails exist.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::Password;
use crate::error::{Error, Result};

/// Memory cost in KiB (19 MiB).
const M_COST: u32 = 19 * 1024;
/// Passes.
const T_COST: u32 = 2;

fn argon2() -> Result<Argon2<'static>> {
    let params =
        Params::new(M_COST, T_COST, 1, None).map_err(|e| Error::internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::internal(e.to_string()))?
        .to_string())
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Verify with the parameters stored in the hash, so old hashes keep working.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Hashes and verifies passwords off the async runtime, a bounded number at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    dummy: Arc<str>,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> Result<Self> {
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: hash_blocking("promptyard dummy password")?.into(),
        })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(f))
            .await
            .map_err(Error::internal)
    }

    /// A PHC string for `password`.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let password = password.expose().to_owned();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and says no.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> Result<bool> {
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let password = password.to_owned();
        let ok = self.run(move || verify_blocking(&hash, &password)).await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
