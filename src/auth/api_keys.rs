//! API keys: creating (shown once), authenticating a bearer key, revoking.
//!
//! A key acts for its user in one workspace. Each use checks, at that moment, that the key is
//! neither revoked nor expired, that its user is enabled and still a member of the workspace:
//! a key never grants more than its user has, and stops working at once.

use super::Auth;
use crate::domain::provider::validate_models;
use crate::domain::{ApiKey, ApiKeyId, ApiSecret, NewAuditEvent, Role, User, WorkspaceId};
use crate::error::{Error, Result};

/// Who is calling `/v1`: the key, its user and the user's role in the key's workspace now.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    /// The user the key belongs to.
    pub user: User,
    /// The key.
    pub key: ApiKey,
    /// The user's current role in the key's workspace.
    pub role: Role,
}

/// How stale `last_used_at` may get before a use writes it again.
const TOUCH_EVERY: time::Duration = time::Duration::minutes(1);

impl Auth {
    /// Creates a key for `user` in `workspace` (where they must be a member); returns the
    /// stored key and the secret, which is shown once and never again.
    pub async fn create_api_key(
        &self,
        user: &User,
        workspace: WorkspaceId,
        name: &str,
        expires_in_days: Option<i64>,
        models: &[String],
        ip: Option<String>,
    ) -> Result<(ApiKey, ApiSecret)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "a key name is 1 to 80 characters"));
        }
        if self.store.find_member(workspace, user.id).await?.is_none() {
            return Err(Error::NotFound);
        }
        if let Some(d) = expires_in_days
            && !(1..=3650).contains(&d)
        {
            return Err(Error::invalid(
                "expires_in_days",
                "a key lasts 1 to 3650 days",
            ));
        }
        let secret = ApiSecret::generate()?;
        let now = self.clock.now();
        let key = ApiKey {
            id: ApiKeyId::new(),
            user_id: user.id,
            workspace_id: workspace,
            name: name.to_owned(),
            prefix: secret.prefix(),
            key_hash: secret.hash(),
            models: validate_models(models)?,
            expires_at: expires_in_days.map(|d| now + time::Duration::days(d)),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let audit = NewAuditEvent::new(Some(user.id), "api_key.create")
            .ip(ip)
            .workspace(key.workspace_id)
            .detail(format!("{} ({})", key.name, key.prefix));
        let key = self.store.create_api_key(key, audit).await?;
        Ok((key, secret))
    }

    /// The caller behind `Authorization: Bearer <key>`; `Unauthenticated` for anything that
    /// is not a working key of an enabled member.
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<ApiCaller> {
        let secret = ApiSecret::parse(presented).ok_or(Error::Unauthenticated)?;
        let (key, user, member) = self
            .store
            .find_api_caller(secret.hash())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let now = self.clock.now();
        if !key.is_active(now) {
            return Err(Error::Unauthenticated);
        }
        let user = match user {
            Some(u) if !u.disabled => u,
            _ => return Err(Error::Unauthenticated),
        };
        let role = member.map(|m| m.role).ok_or(Error::Unauthenticated)?;
        if key.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            self.store.touch_api_key(key.id, now).await?;
        }
        Ok(ApiCaller { user, key, role })
    }

    /// Revokes one of `user`'s keys; it stops working at once.
    pub async fn revoke_api_key(
        &self,
        user: &User,
        id: ApiKeyId,
        ip: Option<String>,
    ) -> Result<ApiKey> {
        let audit = NewAuditEvent::new(Some(user.id), "api_key.revoke").ip(ip);
        self.store
            .revoke_api_key(user.id, id, self.clock.now(), audit)
            .await
    }
}
