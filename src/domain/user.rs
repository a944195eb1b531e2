//! User accounts and the validated inputs that make them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{UserId, has_control_chars};
use crate::error::{Error, Result};

/// The instance-wide role of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceRole {
    /// Manages users and instance settings.
    Admin,
    /// Everyone else.
    User,
}

impl InstanceRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "admin" => Ok(Self::Admin),
            "user" => Ok(Self::User),
            _ => Err(Error::invalid("role", format!("unknown role `{s}`"))),
        }
    }
}

/// An email address as the user typed it (trimmed); uniqueness ignores case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Longest address RFC 5321 allows through.
    pub const MAX_LEN: usize = 254;

    /// Validates an address: one `@`, a non-empty local part, a domain with a dot, no spaces.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("email", "enter an email address"));
        }
        if s.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                "email",
                format!("an email address has at most {} characters", Self::MAX_LEN),
            ));
        }
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err(Error::invalid(
                "email",
                "that does not look like an email address (name@example.com)",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The address as entered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lookup key: lower case, so `Ann@X.org` and `ann@x.org` are one account.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Longest name kept.
    pub const MAX_CHARS: usize = 100;

    /// Validates a name: 1 to 100 characters after trimming, no control characters.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Error::invalid("name", "enter a name"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Error::invalid(
                "name",
                format!("a name has at most {} characters", Self::MAX_CHARS),
            ));
        }
        if has_control_chars(s, false) {
            return Err(Error::invalid(
                "name",
                "a name cannot contain control characters",
            ));
        }
        if s.contains('\u{FFFD}') {
            return Err(Error::invalid("name", "the name is not valid UTF-8 text"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password as typed; never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest password accepted (NIST SP 800-63B minimum).
    pub const MIN_CHARS: usize = 8;
    /// Longest password accepted; bounds hashing work.
    pub const MAX_BYTES: usize = 1024;

    /// Validates length only, as NIST advises; composition rules do not help.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(Error::invalid(
                field,
                format!("a password needs at least {} characters", Self::MIN_CHARS),
            ));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(Error::invalid(
                field,
                format!("a password has at most {} bytes", Self::MAX_BYTES),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A stored user account.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Email as entered; unique ignoring case.
    pub email: Email,
    /// Display name.
    pub name: DisplayName,
    /// Instance role.
    pub role: InstanceRole,
    /// A disabled user cannot log in and has no sessions.
    pub disabled: bool,
    /// argon2id PHC string; `None` for accounts that cannot log in with a password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// The blob key of the profile picture (re-encoded PNG), if one was uploaded.
    #[serde(default)]
    pub avatar: Option<String>,
    /// When the account was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The profile picture's version, for cache-busting URLs (the blob key's file name).
    pub fn avatar_version(&self) -> Option<&str> {
        self.avatar
            .as_deref()
            .map(|k| k.rsplit('/').next().unwrap_or(k).trim_end_matches(".png"))
    }

    /// Whether the user manages the instance.
    pub fn is_admin(&self) -> bool {
        self.role == InstanceRole::Admin
    }
}

/// What it takes to create a user; the store fills in id and times.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Email.
    pub email: Email,
    /// Name.
    pub name: DisplayName,
    /// Role.
    pub role: InstanceRole,
    /// Password hash, already computed off the runtime.
    pub password_hash: Option<String>,
}

/// The refusal to demote or disable the last enabled administrator.
pub fn last_admin() -> Error {
    Error::conflict(
        "user",
        "this is the last active administrator; make someone else an administrator first",
    )
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    /// New name.
    pub name: Option<DisplayName>,
    /// New role.
    pub role: Option<InstanceRole>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// New profile picture: `Some(None)` removes it.
    pub avatar: Option<Option<String>>,
}

impl UserUpdate {
    /// Whether applying this update takes an enabled admin out of service (demotion or disable);
    /// the store refuses that for the last one.
    pub fn removes_admin(&self, user: &User) -> bool {
        user.is_admin()
            && !user.disabled
            && (self.role == Some(InstanceRole::User) || self.disabled == Some(true))
    }

    /// Whether applying this update must end the user's sessions: a new password or a disable.
    pub fn ends_sessions(&self) -> bool {
        self.password_hash.is_some() || self.disabled == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert!(Email::parse(" Ann@Example.org ").is_ok());
        assert_eq!(
            Email::parse("Ann@Example.org").map(|e| e.normalized()).ok(),
            Some("ann@example.org".to_owned())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.org",
            "a b@x.org",
            "a@x",
            "a@@x.org",
            "a@.x",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@x.org", "a".repeat(300))).is_err());
    }

    #[test]
    fn name_and_password_rules() {
        assert!(DisplayName::parse("  ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
        assert!(DisplayName::parse("a\u{FFFD}b").is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
        assert!(Password::parse("short", "password").is_err());
        assert!(Password::parse(&"x".repeat(1025), "password").is_err());
        let p = Password::parse("long enough", "password");
        assert_eq!(
            p.map(|p| format!("{p:?}")).ok(),
            Some("Password(***)".to_owned())
        );
    }
}
