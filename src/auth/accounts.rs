//! Account operations: first-run setup, registration, admin user management, profile and
//! password changes. Every change records an audit event in the same transaction.

use super::{Auth, ClientInfo};
use crate::domain::{
    DisplayName, Email, InstanceRole, NewAuditEvent, NewUser, Password, SessionToken, User, UserId,
    UserUpdate,
};
use crate::error::{Error, Result};

/// Validated input for a new account.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// Email.
    pub email: Email,
    /// Name.
    pub name: DisplayName,
    /// Password.
    pub password: Password,
}

impl NewAccount {
    /// Validates raw form input, reporting the first bad field.
    pub fn parse(email: &str, name: &str, password: &str) -> Result<Self> {
        Ok(Self {
            email: Email::parse(email)?,
            name: DisplayName::parse(name)?,
            password: Password::parse(password, "password")?,
        })
    }
}

/// A password change by the user: the current password proves it is them.
#[derive(Debug)]
pub struct PasswordChange {
    /// What they typed as the current password.
    pub current: String,
    /// The new password.
    pub new: Password,
}

impl Auth {
    async fn new_user(&self, account: NewAccount, role: InstanceRole) -> Result<NewUser> {
        Ok(NewUser {
            password_hash: Some(self.hasher.hash(&account.password).await?),
            email: account.email,
            name: account.name,
            role,
        })
    }

    /// Whether first-run setup is still open (no account exists).
    pub async fn needs_setup(&self) -> Result<bool> {
        Ok(self.store.count_users().await? == 0)
    }

    /// Creates the first admin and logs them in; `Conflict` once any account exists.
    #[tracing::instrument(skip_all, fields(ip = %client.ip))]
    pub async fn setup(
        &self,
        account: NewAccount,
        client: &ClientInfo,
    ) -> Result<(User, SessionToken)> {
        if !self.needs_setup().await? {
            return Err(Error::Conflict {
                field: None,
                message: "setup is already done".to_owned(),
            });
        }
        let new = self.new_user(account, InstanceRole::Admin).await?;
        let audit = NewAuditEvent::new(None, "setup.admin_created").ip(Some(client.ip.clone()));
        let user = self.store.create_first_user(new, audit).await?;
        let token = self.start_session(&user, client).await?;
        Ok((user, token))
    }

    /// Self-service registration (the caller checks the registration policy).
    pub async fn register(
        &self,
        account: NewAccount,
        client: &ClientInfo,
    ) -> Result<(User, SessionToken)> {
        let new = self.new_user(account, InstanceRole::User).await?;
        let audit = NewAuditEvent::new(None, "user.register").ip(Some(client.ip.clone()));
        let user = self.store.create_user(new, audit).await?;
        let token = self.start_session(&user, client).await?;
        Ok((user, token))
    }

    /// Creates an account on behalf of an admin (`actor`) or the command line (`None`).
    pub async fn create_user(
        &self,
        actor: Option<&User>,
        account: NewAccount,
        role: InstanceRole,
        ip: Option<String>,
    ) -> Result<User> {
        let detail = format!("role {}", role.as_str());
        let new = self.new_user(account, role).await?;
        let audit = NewAuditEvent::new(actor.map(|a| a.id), "user.create")
            .ip(ip)
            .detail(detail);
        self.store.create_user(new, audit).await
    }

    /// Disables or enables `target`. Disabling ends all of the target's sessions at once.
    #[tracing::instrument(skip_all, fields(actor = %actor.id, %target, disabled))]
    pub async fn set_disabled(
        &self,
        actor: &User,
        target: UserId,
        disabled: bool,
        ip: Option<String>,
    ) -> Result<User> {
        if actor.id == target && disabled {
            return Err(Error::invalid(
                "user",
                "you cannot disable your own account",
            ));
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        let audit = NewAuditEvent::new(Some(actor.id), action)
            .target(format!("user:{target}"))
            .ip(ip);
        let update = UserUpdate {
            disabled: Some(disabled),
            ..UserUpdate::default()
        };
        self.store.update_user(target, update, audit).await
    }

    /// Grants or removes the instance admin role. An admin cannot demote themself, so an
    /// instance always keeps the admin who acts.
    pub async fn set_role(
        &self,
        actor: &User,
        target: UserId,
        role: InstanceRole,
        ip: Option<String>,
    ) -> Result<User> {
        if actor.id == target && role != InstanceRole::Admin {
            return Err(Error::invalid(
                "user",
                "you cannot remove your own admin role",
            ));
        }
        let audit = NewAuditEvent::new(Some(actor.id), "user.role")
            .target(format!("user:{target}"))
            .ip(ip)
            .detail(format!("role {}", role.as_str()));
        let update = UserUpdate {
            role: Some(role),
            ..UserUpdate::default()
        };
        self.store.update_user(target, update, audit).await
    }

    /// Changes the user's own display name.
    pub async fn rename(&self, user: &User, name: DisplayName, ip: Option<String>) -> Result<User> {
        let audit = NewAuditEvent::new(Some(user.id), "user.rename")
            .target(format!("user:{}", user.id))
            .ip(ip);
        let update = UserUpdate {
            name: Some(name),
            ..UserUpdate::default()
        };
        self.store.update_user(user.id, update, audit).await
    }

    /// Changes the user's own password after checking the current one. Every session of the
    /// user ends; a fresh one is returned for the browser that made the change.
    #[tracing::instrument(skip_all, fields(user = %user.id))]
    pub async fn change_password(
        &self,
        user: &User,
        change: PasswordChange,
        client: &ClientInfo,
    ) -> Result<SessionToken> {
        // Guessing the current password from a stolen session counts against the same
        // per-account budget as logins.
        self.limiter.check(&client.ip, &user.email.normalized())?;
        let ok = change.current.len() <= Password::MAX_BYTES
            && self
                .hasher
                .verify(user.password_hash.as_deref(), &change.current)
                .await?;
        if !ok {
            let event = NewAuditEvent::new(Some(user.id), "password_change.failed")
                .target(format!("user:{}", user.id))
                .ip(Some(client.ip.clone()))
                .detail("wrong current password");
            self.store.create_audit_event(event).await?;
            return Err(Error::invalid(
                "current_password",
                "the current password is wrong",
            ));
        }
        let hash = self.hasher.hash(&change.new).await?;
        let audit = NewAuditEvent::new(Some(user.id), "user.password_change")
            .target(format!("user:{}", user.id))
            .ip(Some(client.ip.clone()));
        let update = UserUpdate {
            password_hash: Some(hash),
            ..UserUpdate::default()
        };
        let user = self.store.update_user(user.id, update, audit).await?;
        self.start_session(&user, client).await
    }

    /// Sets a new password from the command line; ends the user's sessions.
    pub async fn reset_password(&self, email: &Email, password: Password) -> Result<User> {
        let user = self
            .store
            .find_user_by_email(&email.normalized())
            .await?
            .ok_or_else(|| Error::invalid("email", format!("no account has the email {email}")))?;
        let hash = self.hasher.hash(&password).await?;
        let audit = NewAuditEvent::new(None, "user.password_reset")
            .target(format!("user:{}", user.id))
            .detail("from the command line");
        let update = UserUpdate {
            password_hash: Some(hash),
            ..UserUpdate::default()
        };
        self.store.update_user(user.id, update, audit).await
    }
}
