//! Secrets at rest: provider API keys are sealed with XChaCha20-Poly1305 under the instance's
//! master key, with associated data that binds each ciphertext to the row it belongs to, so a
//! ciphertext copied onto another connection does not open.
//!
//! The master key lives outside the data directory: in the configuration or environment, or in
//! a key file (created on first start with mode 0600). This module knows nothing of where keys
//! are used; it imports only `error` (and logs a warning about a loosely readable key file).

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};

/// Format marker at the start of every sealed value; a future scheme gets a new one.
/// Whether two secrets are equal, in time that depends only on their lengths (for tokens a
/// caller shows: OIDC state, the metrics and backup tokens).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The 256-bit master key. Never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// What happened when the key was loaded, for the start-up log.
#[derive(Debug, PartialEq, Eq)]
pub enum KeySource {
    /// From the configuration or environment.
    Config,
    /// Read from this existing file.
    File,
    /// Generated now and written to the file.
    Generated,
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| Error::internal(e.to_string()))?;
        Ok(Self(k))
    }

    /// Parses the base64 form (as in config and key files).
    pub fn parse(text: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| Error::invalid("master_key", "the master key is not base64"))?;
        let k: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::invalid(
                "master_key",
                "the master key must be 32 bytes (44 base64 characters)",
            )
        })?;
        Ok(Self(k))
    }

    /// The base64 form, for writing the key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the key file, or creates it (mode 0600) with a new key if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<(Self, KeySource)> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    if let Ok(meta) = std::fs::metadata(path)
                        && meta.permissions().mode() & 0o077 != 0
                    {
                        tracing::warn!(
                            path = %path.display(),
                            "the master key file is readable by other users; chmod 600 it"
                        );
                    }
                }
                let key = Self::parse(&text).map_err(|e| {
                    Error::internal(format!("the master key file {}: {e}", path.display()))
                })?;
                Ok((key, KeySource::File))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                key.write_file(path)?;
                Ok((key, KeySource::Generated))
            }
            Err(e) => Err(Error::internal(format!(
                "cannot read the master key file {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes the key to `path` with mode 0600, replacing it atomically.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("key.tmp");
        // A leftover temporary file could carry loose permissions; start from nothing.
        let _ = std::fs::remove_file(&tmp);
        let err = |e: std::io::Error| {
            Error::internal(format!(
                "cannot write the master key file {}: {e}",
                path.display()
            ))
        };
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&tmp).map_err(err)?;
            f.write_all(format!("{}\n", self.to_base64()).as_bytes())
                .map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals `plaintext`, bound to `context` (such as "provider:<id>").
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::internal(e.to_string()))?;
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed for `context`; fails for another context, key or tampered bytes.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let fail = || {
            Error::internal(format!(
                "cannot decrypt the secret of {context} (wrong master key or damaged data)"
            ))
        };
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(fail());
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_in_their_context() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("provider:a", b"sk-canary").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"sk-canary"));
        assert_eq!(key.open("provider:a", &sealed).unwrap(), b"sk-canary");
        assert!(key.open("provider:b", &sealed).is_err(), "bound to its row");
        let other = MasterKey::generate().unwrap();
        assert!(other.open("provider:a", &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open("provider:a", &tampered).is_err());
        assert_ne!(
            sealed,
            key.seal("provider:a", b"sk-canary").unwrap(),
            "fresh nonce"
        );
        assert_eq!(format!("{key:?}"), "MasterKey(***)");
    }

    #[test]
    fn key_files_are_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("promptyard.key");
        let (k1, src) = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(src, KeySource::Generated);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (k2, src) = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(src, KeySource::File);
        assert_eq!(k1.to_base64(), k2.to_base64());
        assert!(MasterKey::parse("not base64!").is_err());
        assert!(MasterKey::parse("AAAA").is_err());
    }
}
