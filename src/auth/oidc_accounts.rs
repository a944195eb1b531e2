//! What a verified OpenID sign-in means for accounts: log in through a linked identity, link a
//! provider account to the logged-in user, match an existing account by verified email (only
//! when the operator allows it), or make a new account (when registration allows it), and keep
//! the instance admin role in step with a configured claim.

use super::oidc::{Provider, Verified};
use super::{Auth, ClientInfo};
use crate::domain::{
    DisplayName, Email, Identity, InstanceRole, NewAuditEvent, NewUser, SessionToken, User, UserId,
    UserUpdate,
};
use crate::error::{Error, Result};

/// How a sign-in ended.
#[derive(Debug)]
pub enum OidcOutcome {
    /// Logged in (`created` when the account was made now).
    LoggedIn {
        /// The user.
        user: User,
        /// The new session.
        token: SessionToken,
        /// Whether the account is new.
        created: bool,
    },
    /// The provider account was linked to the logged-in user.
    Linked(User),
}

impl Auth {
    /// Acts on a verified sign-in. `may_register` is whether the registration policy lets this
    /// visitor make a new account (the caller checks invites). Refusals are `Error::Denied` with
    /// a sentence, and each is in the audit log.
    pub async fn oidc_login(
        &self,
        provider: &Provider,
        verified: Verified,
        may_register: bool,
        client: &ClientInfo,
    ) -> Result<OidcOutcome> {
        let result = self
            .oidc_login_inner(provider, &verified, may_register, client)
            .await;
        if let Err(Error::Denied(why)) = &result {
            let event = NewAuditEvent::new(verified.intent.link, "login.failed")
                .target(format!("oidc:{}:{}", provider.id(), verified.subject))
                .ip(Some(client.ip.clone()))
                .detail(format!("via {}: {why}", provider.label()));
            self.store.create_audit_event(event).await?;
        }
        result
    }

    async fn oidc_login_inner(
        &self,
        provider: &Provider,
        verified: &Verified,
        may_register: bool,
        client: &ClientInfo,
    ) -> Result<OidcOutcome> {
        let label = provider.label();
        let email = verified
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let email_verified = verified.email_verified || provider.config.trust_email;
        let domains = &provider.config.allowed_domains;
        if !domains.is_empty() {
            let domain = email
                .filter(|_| email_verified)
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d.to_lowercase());
            if !domain.is_some_and(|d| domains.iter().any(|a| a.eq_ignore_ascii_case(&d))) {
                return Err(Error::Denied(format!(
                    "Sign-in with {label} is limited to verified email addresses at {}.",
                    domains.join(", ")
                )));
            }
        }
        let identity = Identity {
            provider: provider.id().to_owned(),
            subject: verified.subject.clone(),
            user_id: verified.intent.link.unwrap_or_default(),
            email: email.map(str::to_owned),
            created_at: self.clock.now(),
            last_login_at: None,
        };
        if let Some(user_id) = verified.intent.link {
            let audit = NewAuditEvent::new(Some(user_id), "identity.link")
                .target(format!("user:{user_id}"))
                .ip(Some(client.ip.clone()))
                .detail(format!(
                    "linked {label} account {}",
                    email.unwrap_or("(no email)")
                ));
            return match self.store.create_identity(identity, audit).await {
                Ok(_) => Ok(OidcOutcome::Linked(self.store.get_user(user_id).await?)),
                Err(Error::Conflict { message, .. }) => Err(Error::Denied(format!(
                    "The {label} account was not linked: {message}."
                ))),
                Err(e) => Err(e),
            };
        }
        if let Some(found) = self
            .store
            .find_identity(provider.id(), &verified.subject)
            .await?
        {
            let user = self.store.get_user(found.user_id).await?;
            return self
                .oidc_session(provider, verified, user, false, client)
                .await;
        }
        let existing = match email {
            Some(e) => self.store.find_user_by_email(&e.to_lowercase()).await?,
            None => None,
        };
        if let Some(user) = existing {
            if !email_verified {
                return Err(Error::Denied(format!(
                    "An account with this email exists, but {label} does not say the address \
                     is verified, so it cannot be matched. Log in with your password and link \
                     {label} on your account page."
                )));
            }
            if !provider.config.link_existing_by_email {
                return Err(Error::Denied(format!(
                    "An account with {} already exists. Log in to it (with your password) and \
                     link your {label} account on Account, under Sign-in methods.",
                    user.email
                )));
            }
            let audit = NewAuditEvent::new(Some(user.id), "identity.link")
                .target(format!("user:{}", user.id))
                .ip(Some(client.ip.clone()))
                .detail(format!(
                    "linked {label} account by verified email {}",
                    user.email
                ));
            let identity = Identity {
                user_id: user.id,
                ..identity
            };
            self.store.create_identity(identity, audit).await?;
            return self
                .oidc_session(provider, verified, user, false, client)
                .await;
        }
        if !may_register {
            return Err(Error::Denied(format!(
                "No Promptyard account is linked to this {label} account, and this server does \
                 not let new accounts sign up. Ask an administrator to create your account."
            )));
        }
        let email = email.ok_or_else(|| {
            Error::Denied(format!(
                "{label} did not share an email address, which a new account needs."
            ))
        })?;
        // An unverified address could be someone else's: it would take that email for good.
        if !email_verified {
            return Err(Error::Denied(format!(
                "{label} does not say that {email} is verified, so no account was made for it."
            )));
        }
        let email = Email::parse(email).map_err(|e| {
            Error::Denied(format!(
                "{label} sent an email address that cannot be used: {e}."
            ))
        })?;
        let name = verified
            .name
            .as_deref()
            .and_then(|n| DisplayName::parse(n).ok())
            .or_else(|| {
                let local = email.as_str().split('@').next().unwrap_or("user");
                DisplayName::parse(local).ok()
            })
            .ok_or_else(|| Error::Denied(format!("{label} sent no usable name.")))?;
        let role = match admin_from_claims(provider, verified) {
            Some(true) => InstanceRole::Admin,
            _ => InstanceRole::User,
        };
        let new = NewUser {
            email,
            name,
            role,
            password_hash: None,
        };
        let audit = NewAuditEvent::new(None, "user.register")
            .ip(Some(client.ip.clone()))
            .detail(format!("via {label}, role {}", role.as_str()));
        let user = match self
            .store
            .create_user_with_identity(new, identity, audit)
            .await
        {
            Ok(user) => user,
            Err(Error::Conflict { message, .. }) => {
                return Err(Error::Denied(format!("No account was made: {message}.")));
            }
            Err(e) => return Err(e),
        };
        self.oidc_session(provider, verified, user, true, client)
            .await
    }

    /// Logs `user` in through `provider`: refuses a disabled account, brings the admin role in
    /// step with the claims, records the login.
    async fn oidc_session(
        &self,
        provider: &Provider,
        verified: &Verified,
        mut user: User,
        created: bool,
        client: &ClientInfo,
    ) -> Result<OidcOutcome> {
        if user.disabled {
            return Err(Error::Denied("This account is disabled.".to_owned()));
        }
        self.store
            .touch_identity(
                provider.id(),
                &verified.subject,
                verified.email.clone(),
                self.clock.now(),
            )
            .await?;
        if let Some(admin) = admin_from_claims(provider, verified)
            && admin != user.is_admin()
            && !created
        {
            let role = if admin {
                InstanceRole::Admin
            } else {
                InstanceRole::User
            };
            let audit = NewAuditEvent::new(None, "user.role")
                .target(format!("user:{}", user.id))
                .ip(Some(client.ip.clone()))
                .detail(format!(
                    "role {} from the {} claim of {}",
                    role.as_str(),
                    provider.config.admin_claim,
                    provider.label()
                ));
            let update = UserUpdate {
                role: Some(role),
                ..UserUpdate::default()
            };
            match self.store.update_user(user.id, update, audit).await {
                Ok(updated) => user = updated,
                Err(Error::Conflict { message, .. }) => {
                    tracing::warn!(user = %user.id, %message, "admin role kept");
                }
                Err(e) => return Err(e),
            }
        }
        let token = self
            .start_session(&user, client)
            .await
            .map_err(|e| match e {
                Error::BadCredentials => Error::Denied("This account is disabled.".to_owned()),
                other => other,
            })?;
        self.record_login(&user, &format!("via {}", provider.label()), client)
            .await?;
        Ok(OidcOutcome::LoggedIn {
            user,
            token,
            created,
        })
    }

    /// Records a successful login.
    pub(super) async fn record_login(
        &self,
        user: &User,
        how: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let event = NewAuditEvent::new(Some(user.id), "login")
            .target(format!("user:{}", user.id))
            .ip(Some(client.ip.clone()))
            .detail(how.to_owned());
        self.store.create_audit_event(event).await?;
        Ok(())
    }

    /// A user's linked identities.
    pub async fn identities(&self, user: UserId) -> Result<Vec<Identity>> {
        self.store.list_identities(user).await
    }

    /// Unlinks a user's identity of the provider `id` (shown as `label`), keeping at least one
    /// way to log in.
    pub async fn unlink_identity(
        &self,
        user: &User,
        id: &str,
        label: &str,
        ip: Option<String>,
    ) -> Result<()> {
        let audit = NewAuditEvent::new(Some(user.id), "identity.unlink")
            .target(format!("user:{}", user.id))
            .ip(ip)
            .detail(format!("unlinked {label}"));
        self.store
            .delete_identity(user.id, id, self.password_login, audit)
            .await
    }
}

/// Whether the configured admin claim makes this person an admin; `None` when no claim is
/// configured.
fn admin_from_claims(provider: &Provider, verified: &Verified) -> Option<bool> {
    let claim = provider.config.admin_claim.trim();
    if claim.is_empty() {
        return None;
    }
    let wanted = &provider.config.admin_values;
    let has = |v: &serde_json::Value| v.as_str().is_some_and(|s| wanted.iter().any(|w| w == s));
    Some(match verified.claims.get(claim) {
        Some(serde_json::Value::Array(values)) => values.iter().any(has),
        Some(v) => has(v),
        None => false,
    })
}
