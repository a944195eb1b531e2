//! Authentication and authorization: password hashing, login limits, sessions, account
//! operations, and the `authorize()` policy.
//!
//! This is a feature module: it combines the store with the rules of accounts and never imports
//! axum or maud; the HTTP edge turns its results into responses.

mod accounts;
mod api_keys;
mod limiter;
pub mod oidc;
mod oidc_accounts;
mod password;
mod policy;
mod sessions;

use std::sync::Arc;

pub use accounts::{NewAccount, PasswordChange};
pub use api_keys::ApiCaller;
pub use limiter::LoginLimiter;
pub use oidc::Oidc;
pub use oidc_accounts::OidcOutcome;
pub use password::Hasher;
pub use policy::{Action, Actor, Resource, authorize};
pub use sessions::{Authenticated, ClientInfo};

use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::store::Store;

/// Everything account-related a request may need; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    store: Arc<dyn Store>,
    hasher: Hasher,
    limiter: Arc<LoginLimiter>,
    clock: Clock,
    idle: time::Duration,
    absolute: time::Duration,
    password_login: bool,
}

impl Auth {
    /// Builds the service from the `[auth]` configuration.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        config: &AuthConfig,
    ) -> crate::error::Result<Self> {
        Ok(Self {
            store,
            hasher: Hasher::new(config.max_concurrent_hashes)?,
            limiter: Arc::new(LoginLimiter::new(
                config.login_attempts_per_ip,
                config.login_attempts_per_account,
            )),
            clock,
            idle: time::Duration::minutes(
                i64::try_from(config.session_idle_minutes).unwrap_or(i64::MAX / 120),
            ),
            absolute: time::Duration::hours(
                i64::try_from(config.session_absolute_hours).unwrap_or(i64::MAX / 7200),
            ),
            password_login: config.password_login,
        })
    }

    /// The store behind this service.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether local accounts may log in with a password.
    pub fn password_login(&self) -> bool {
        self.password_login
    }

    /// The login limiter, for periodic clean-up.
    pub fn limiter(&self) -> &LoginLimiter {
        &self.limiter
    }
}
