//! Login sessions: an opaque random token in the cookie, only its SHA-256 in the store.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{SessionId, UserId};
use crate::error::{Error, Result};

/// The secret a browser holds; 256 random bits, base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh random token.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts a token from a cookie; anything not shaped like one of ours is refused early.
    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == 43 && URL_SAFE_NO_PAD.decode(value).is_ok()).then(|| Self(value.to_owned()))
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// SHA-256 of a session token: the key a session is stored under.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenHash(#[serde(with = "hex::serde")] pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &hex::encode(self.0)[..8])
    }
}

/// A stored session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// Public handle.
    pub id: SessionId,
    /// Lookup key.
    pub token_hash: TokenHash,
    /// Whose session.
    pub user_id: UserId,
    /// Login time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last request seen (updated at most once a minute).
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// Absolute expiry, fixed at login.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Client address at login.
    #[serde(default)]
    pub ip: Option<String>,
    /// Browser at login, shortened.
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl Session {
    /// Whether the session is still valid at `now` given the idle timeout.
    pub fn is_live(&self, now: OffsetDateTime, idle: time::Duration) -> bool {
        now < self.expires_at && now < self.last_seen_at + idle
    }
}
