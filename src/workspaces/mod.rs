//! Workspaces as a feature: the personal workspace every user gets, shared workspaces, members
//! and their roles, and invite links.
//!
//! It holds the rules that go beyond the route's permission (a personal workspace cannot be
//! shared, left or deleted; only owners grant or take away ownership; an invite never grants
//! more than its maker has) and writes an audit event for every change. It never imports axum
//! or maud.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{
    Invite, InviteId, Member, NewAuditEvent, Role, SessionToken, User, UserId, Workspace,
    WorkspaceName,
};
use crate::error::{Error, Result};
use crate::store::Store;

/// How long an invite link works, by default.
pub const INVITE_DAYS: i64 = 7;

/// The workspace rules over the store; cheap to clone.
#[derive(Clone)]
pub struct Workspaces {
    store: Arc<dyn Store>,
    clock: Clock,
    /// Held while an account is registered with an invite, so one single-use link cannot
    /// register several accounts (the invite is checked again inside the lock).
    registration: Arc<tokio::sync::Mutex<()>>,
}

/// A new invite: the stored record and the token for the link (shown once).
#[derive(Debug)]
pub struct CreatedInvite {
    /// The stored invite.
    pub invite: Invite,
    /// The secret for the link; only its hash is stored.
    pub token: SessionToken,
}

impl Workspaces {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self {
            store,
            clock,
            registration: Arc::default(),
        }
    }

    /// Serialises registrations that use an invite link; hold the guard from checking the
    /// invite until it is accepted.
    pub async fn registration_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.registration.lock().await
    }

    /// The user's workspaces with their roles, making their personal one on first need.
    pub async fn list_for(&self, user: &User) -> Result<Vec<(Workspace, Role)>> {
        let list = self.store.list_workspaces_for(user.id).await?;
        if list
            .iter()
            .any(|(w, _)| w.personal && w.created_by == user.id)
        {
            return Ok(list);
        }
        self.personal(user).await?;
        self.store.list_workspaces_for(user.id).await
    }

    /// The user's personal workspace, made on first need.
    pub async fn personal(&self, user: &User) -> Result<Workspace> {
        let name = WorkspaceName::parse(&format!("{}'s workspace", first_name(user)))
            .or_else(|_| WorkspaceName::parse("Personal"))?;
        self.store.ensure_personal_workspace(user.id, name).await
    }

    /// Creates a shared workspace owned by `user`.
    pub async fn create(
        &self,
        user: &User,
        name: WorkspaceName,
        ip: Option<String>,
    ) -> Result<Workspace> {
        let audit = NewAuditEvent::new(Some(user.id), "workspace.create")
            .ip(ip)
            .detail(format!("name {name}"));
        self.store.create_workspace(name, user.id, audit).await
    }

    /// Renames a workspace.
    pub async fn rename(
        &self,
        actor: &User,
        ws: &Workspace,
        name: WorkspaceName,
        ip: Option<String>,
    ) -> Result<Workspace> {
        let audit = NewAuditEvent::new(Some(actor.id), "workspace.rename")
            .target(format!("workspace:{}", ws.id))
            .workspace(ws.id)
            .ip(ip);
        self.store.rename_workspace(ws.id, name, audit).await
    }

    /// Deletes a shared workspace and everything in it, once the owner typed its name.
    pub async fn delete(
        &self,
        actor: &User,
        ws: &Workspace,
        confirmation: &str,
        ip: Option<String>,
    ) -> Result<()> {
        if ws.personal {
            return Err(Error::invalid(
                "confirm",
                "your personal workspace cannot be deleted",
            ));
        }
        if confirmation.trim() != ws.name.as_str() {
            return Err(Error::invalid(
                "confirm",
                format!("type the workspace name, {}, to confirm", ws.name),
            ));
        }
        let audit = NewAuditEvent::new(Some(actor.id), "workspace.delete")
            .target(format!("workspace:{}", ws.id))
            .workspace(ws.id)
            .ip(ip);
        self.store.delete_workspace(ws.id, audit).await
    }

    /// Changes a member's role. Admins manage editors and viewers; only owners grant or take
    /// away admin and owner roles. The store refuses to demote the last owner.
    pub async fn set_role(
        &self,
        actor: &User,
        actor_role: Role,
        ws: &Workspace,
        member: UserId,
        role: Role,
        ip: Option<String>,
    ) -> Result<Member> {
        let current = self
            .store
            .find_member(ws.id, member)
            .await?
            .ok_or(Error::NotFound)?;
        if !may_grant(actor_role, current.role) || !may_grant(actor_role, role) {
            return Err(Error::Forbidden);
        }
        let audit = NewAuditEvent::new(Some(actor.id), "member.role")
            .target(format!("workspace:{}/user:{member}", ws.id))
            .workspace(ws.id)
            .ip(ip);
        self.store
            .update_member_role(ws.id, member, role, audit)
            .await
    }

    /// Removes a member (admins remove editors and viewers; owners anyone but the last owner).
    pub async fn remove(
        &self,
        actor: &User,
        actor_role: Role,
        ws: &Workspace,
        member: UserId,
        ip: Option<String>,
    ) -> Result<()> {
        let current = self
            .store
            .find_member(ws.id, member)
            .await?
            .ok_or(Error::NotFound)?;
        if !may_grant(actor_role, current.role) {
            return Err(Error::Forbidden);
        }
        let audit = NewAuditEvent::new(Some(actor.id), "member.remove")
            .target(format!("workspace:{}/user:{member}", ws.id))
            .workspace(ws.id)
            .ip(ip);
        self.store.remove_member(ws.id, member, audit).await
    }

    /// Leaves a shared workspace (the last owner cannot).
    pub async fn leave(&self, actor: &User, ws: &Workspace, ip: Option<String>) -> Result<()> {
        if ws.personal {
            return Err(Error::invalid(
                "workspace",
                "you cannot leave your personal workspace",
            ));
        }
        let audit = NewAuditEvent::new(Some(actor.id), "member.leave")
            .target(format!("workspace:{}/user:{}", ws.id, actor.id))
            .workspace(ws.id)
            .ip(ip);
        self.store.remove_member(ws.id, actor.id, audit).await
    }

    /// Makes a single-use invite link for `role`, valid for `days`. An invite never grants
    /// more than its maker has, and a personal workspace takes no invites.
    pub async fn invite(
        &self,
        actor: &User,
        actor_role: Role,
        ws: &Workspace,
        role: Role,
        days: i64,
        ip: Option<String>,
    ) -> Result<CreatedInvite> {
        if ws.personal {
            return Err(Error::invalid(
                "role",
                "a personal workspace cannot be shared; create a shared workspace to invite people",
            ));
        }
        if !may_grant(actor_role, role) {
            return Err(Error::invalid(
                "role",
                "admins invite editors and viewers; only owners invite admins and owners",
            ));
        }
        if !(1..=90).contains(&days) {
            return Err(Error::invalid("days", "an invite lasts 1 to 90 days"));
        }
        let token = SessionToken::generate()?;
        let now = self.clock.now();
        let invite = Invite {
            id: InviteId::new(),
            workspace_id: ws.id,
            token_hash: token.hash(),
            role,
            created_by: actor.id,
            created_at: now,
            expires_at: now + time::Duration::days(days),
            accepted_by: None,
            accepted_at: None,
        };
        let audit = NewAuditEvent::new(Some(actor.id), "invite.create")
            .target(format!("workspace:{}", ws.id))
            .workspace(ws.id)
            .ip(ip);
        self.store.create_invite(invite.clone(), audit).await?;
        Ok(CreatedInvite { invite, token })
    }

    /// Revokes an open invite.
    pub async fn revoke_invite(
        &self,
        actor: &User,
        ws: &Workspace,
        invite: InviteId,
        ip: Option<String>,
    ) -> Result<()> {
        let audit = NewAuditEvent::new(Some(actor.id), "invite.revoke")
            .target(format!("workspace:{}", ws.id))
            .workspace(ws.id)
            .ip(ip);
        self.store.delete_invite(ws.id, invite, audit).await
    }

    /// The open invite behind a link token, with its workspace; `NotFound` when the link is
    /// unknown, used or expired.
    pub async fn open_invite(&self, token: &str) -> Result<(Invite, Workspace)> {
        let token = SessionToken::from_cookie(token).ok_or(Error::NotFound)?;
        let invite = self
            .store
            .find_invite(token.hash())
            .await?
            .filter(|i| i.is_open(self.clock.now()))
            .ok_or(Error::NotFound)?;
        let ws = self.store.get_workspace(invite.workspace_id).await?;
        Ok((invite, ws))
    }

    /// Accepts an invite link for `user`. The invite must still be one its maker could make
    /// now (a maker demoted or removed since takes their invites' power with them).
    pub async fn accept(&self, user: &User, token: &str, ip: Option<String>) -> Result<Member> {
        let (invite, _) = self.open_invite(token).await?;
        let maker = self
            .store
            .find_member(invite.workspace_id, invite.created_by)
            .await?
            .map(|m| m.role);
        if !maker.is_some_and(|r| may_grant(r, invite.role)) {
            return Err(Error::NotFound);
        }
        let token = SessionToken::from_cookie(token).ok_or(Error::NotFound)?;
        let audit = NewAuditEvent::new(Some(user.id), "invite.accept")
            .ip(ip)
            .workspace(invite.workspace_id);
        self.store
            .accept_invite(token.hash(), user.id, self.clock.now(), audit)
            .await
    }
}

/// Whether someone with role `actor` may give `role` to another (by invite or role change):
/// admins manage editors and viewers; owners anything.
pub fn may_grant(actor: Role, role: Role) -> bool {
    match actor {
        Role::Owner => true,
        Role::Admin => role < Role::Admin,
        Role::Editor | Role::Viewer => false,
    }
}

fn first_name(user: &User) -> &str {
    user.name.as_str().split_whitespace().next().unwrap_or("My")
}
