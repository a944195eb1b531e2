//! The domain error and result type shared by every layer below the HTTP edge.
//!
//! Library modules return these typed errors; only `main`, start-up and jobs use `anyhow`.
//! The HTTP edge (`http::error`) renders them once per face: an HTML page for the UI and the
//! JSON shape `{"error":{"code","message","field"}}` for `/api` and `/v1`. Internal errors keep
//! their cause for the log and never show it to a client.

use std::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a request, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not acceptable; `field` names the form or JSON field when there is one.
    #[error("{message}")]
    Invalid {
        /// The offending field, if the problem is tied to one.
        field: Option<String>,
        /// A sentence a user can act on.
        message: String,
    },
    /// The thing asked for does not exist, or the actor may not know that it exists.
    #[error("there is nothing at this address")]
    NotFound,
    /// The request conflicts with what is stored (a taken email, setup already done).
    #[error("{message}")]
    Conflict {
        /// The offending field, if any.
        field: Option<String>,
        /// A sentence a user can act on.
        message: String,
    },
    /// Login failed: unknown email, wrong password, or a disabled account (not told apart).
    #[error("Wrong email or password.")]
    BadCredentials,
    /// The path exists but not for this method.
    #[error("this address does not accept that kind of request")]
    MethodNotAllowed,
    /// The request body is larger than the configured limit.
    #[error("the request is larger than {limit_kib} KiB")]
    TooLarge {
        /// The limit in KiB.
        limit_kib: usize,
    },
    /// No valid session or API key.
    #[error("you need to log in")]
    Unauthenticated,
    /// Not allowed, with a reason the caller can act on.
    #[error("{0}")]
    Denied(String),
    /// Not found, saying what was looked for.
    #[error("{0}")]
    Missing(String),
    /// Logged in, but not allowed to do this.
    #[error("you are not allowed to do that")]
    Forbidden,
    /// The request came from another origin and would change state.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// Too many attempts; the client should wait.
    #[error("too many attempts, try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt can succeed.
        retry_after_secs: u64,
    },
    /// A configured rate limit on model calls was reached.
    #[error("rate limit reached: {what}; try again in {retry_after_secs} s")]
    RateLimitedOn {
        /// Which limit.
        what: String,
        /// Seconds until the call can succeed.
        retry_after_secs: u64,
    },
    /// A monthly budget is used up; the message names it and says when it renews.
    #[error("{0}")]
    OverBudget(String),
    /// The store is held by another process (a running server).
    #[error("{0}")]
    Locked(String),
    /// Something broke on our side; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] InternalError),
}

/// The hidden cause of an [`Error::Internal`].
#[derive(Debug)]
pub struct InternalError(pub Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InternalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

impl Error {
    /// An input error tied to one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// A conflict tied to one field.
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    /// Wraps any error as an internal one.
    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(InternalError(err.into()))
    }

    /// A stable machine-readable code for the JSON face.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::NotFound | Self::Missing(_) => "not_found",
            Self::Denied(_) => "forbidden",
            Self::BadCredentials => "bad_credentials",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "too_large",
            Self::Conflict { .. } => "conflict",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::CrossOrigin => "cross_origin",
            Self::RateLimited { .. } | Self::RateLimitedOn { .. } => "rate_limited",
            Self::OverBudget(_) => "budget_exceeded",
            Self::Locked(_) => "locked",
            Self::Internal(_) => "internal",
        }
    }

    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}
