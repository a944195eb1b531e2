//! Login, session lookup with idle and absolute expiry, and logout.

use super::Auth;
use crate::domain::{NewAuditEvent, Session, SessionId, SessionToken, User};
use crate::error::{Error, Result};

/// Where a request came from, for sessions, limits and audit events.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Client address.
    pub ip: String,
    /// Browser, if it said.
    pub user_agent: Option<String>,
}

/// A request's logged-in user and the session that proves it.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The user, as stored now (not as at login).
    pub user: User,
    /// The session.
    pub session: Session,
}

/// How stale `last_seen_at` may get before a request writes it again.
const TOUCH_EVERY: time::Duration = time::Duration::minutes(1);

impl Auth {
    /// Checks credentials (limited per address and account) and starts a session.
    /// Unknown email, wrong password and disabled account all answer `BadCredentials`.
    #[tracing::instrument(skip_all, fields(ip = %client.ip))]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(User, SessionToken)> {
        if !self.password_login {
            return Err(Error::Denied(
                "Password login is turned off on this server; use one of the sign-in buttons."
                    .to_owned(),
            ));
        }
        // An input no account can have (too long, control characters) is looked up nowhere and
        // kept nowhere: it shares one limiter key and one audit target, so it cannot grow either.
        let key = email.trim().to_lowercase();
        let plausible =
            key.len() <= crate::domain::Email::MAX_LEN && !key.chars().any(char::is_control);
        let key = if plausible {
            key
        } else {
            "(invalid)".to_owned()
        };
        self.limiter.check(&client.ip, &key)?;
        let user = match plausible {
            true => self.store.find_user_by_email(&key).await?,
            false => None,
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let password_ok = password.len() <= crate::domain::Password::MAX_BYTES
            && self.hasher.verify(hash, password).await?;
        match user {
            Some(user) if password_ok && !user.disabled => {
                let token = self.start_session(&user, client).await?;
                self.record_login(&user, "with password", client).await?;
                Ok((user, token))
            }
            user => {
                let detail = match &user {
                    Some(u) if u.disabled && password_ok => "account disabled",
                    Some(_) => "wrong password",
                    None => "unknown email",
                };
                let event = NewAuditEvent::new(user.as_ref().map(|u| u.id), "login.failed")
                    .target(format!("email:{key}"))
                    .ip(Some(client.ip.clone()))
                    .detail(detail);
                self.store.create_audit_event(event).await?;
                Err(Error::BadCredentials)
            }
        }
    }

    /// Starts a session for `user` and returns the token for the cookie.
    pub(super) async fn start_session(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<SessionToken> {
        let token = SessionToken::generate()?;
        let now = self.clock.now();
        let session = Session {
            id: SessionId::new(),
            token_hash: token.hash(),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.absolute,
            ip: Some(client.ip.clone()),
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(200).collect()),
        };
        match self.store.create_session(session).await {
            Ok(()) => Ok(token),
            // Disabled (or deleted) while the password was being checked.
            Err(Error::Conflict { .. }) => Err(Error::BadCredentials),
            Err(e) => Err(e),
        }
    }

    /// The user behind a session token, if the session is live and the user enabled.
    /// An expired session is removed on sight.
    pub async fn authenticate(&self, token: &SessionToken) -> Result<Option<Authenticated>> {
        let Some(session) = self.store.find_session(token.hash()).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if !session.is_live(now, self.idle) {
            match self.store.delete_session(session.user_id, session.id).await {
                Ok(()) | Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
            return Ok(None);
        }
        let user = match self.store.get_user(session.user_id).await {
            Ok(user) => user,
            Err(Error::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        if user.disabled {
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            self.store.touch_session(session.token_hash, now).await?;
        }
        Ok(Some(Authenticated { user, session }))
    }

    /// The user's sessions that are still live, newest first.
    pub async fn list_live_sessions(&self, user: crate::domain::UserId) -> Result<Vec<Session>> {
        let now = self.clock.now();
        let mut sessions = self.store.list_sessions(user).await?;
        sessions.retain(|s| s.is_live(now, self.idle));
        Ok(sessions)
    }

    /// Removes sessions past their absolute or idle expiry; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        let now = self.clock.now();
        self.store
            .delete_expired_sessions(now, now - self.idle)
            .await
    }

    /// Ends the session behind `token`, if any.
    pub async fn logout(&self, token: &SessionToken) -> Result<()> {
        if let Some(session) = self.store.find_session(token.hash()).await? {
            match self.store.delete_session(session.user_id, session.id).await {
                Ok(()) | Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
