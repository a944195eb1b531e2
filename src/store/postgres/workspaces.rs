//! Workspaces, members and invites in Postgres: the `workspaces`, `workspace_members` and
//! `workspace_invites` tables, with the same behaviour as the redb store.
//!
//! Invariants are held by Postgres under concurrency: the partial unique index on
//! `workspaces (created_by) WHERE personal` lets racing `ensure_personal_workspace` calls create
//! exactly one workspace (the losers' `ON CONFLICT DO NOTHING` waits for the winner, then they
//! read its row); every change that could remove the last owner first locks all member rows of
//! the workspace in user order, so racing demotions queue and the later one counts the earlier
//! one's result; an invite row is locked while it is used. Deleting a workspace cascades to its
//! members, invites, templates, versions and labels. Audit events and change-log entries are
//! written in the same transaction as the change, where the redb store writes them.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{
    INVITE_COLUMNS, InviteRow, MEMBER_COLUMNS, MemberRow, MemberViewRow, WORKSPACE_COLUMNS,
    WorkspaceRoleRow, WorkspaceRow,
};
use super::{PostgresStore, finish};
use crate::domain::{
    ChangeKind, Invite, InviteId, Member, MemberView, NewAuditEvent, Role, TokenHash, UserId,
    Workspace, WorkspaceId, WorkspaceName,
};
use crate::error::{Error, Result};
use crate::store::WorkspaceStore;

fn last_owner() -> Error {
    Error::conflict(
        "role",
        "a workspace needs at least one owner; make someone else owner first",
    )
}

/// The workspace `id`, locked for update when `lock` is set.
async fn read_workspace(conn: &mut PgConnection, id: WorkspaceId, lock: bool) -> Result<Workspace> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let row: Option<WorkspaceRow> = sqlx::query_as(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1{suffix}"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound)?.try_into()
}

fn new_workspace(
    name: WorkspaceName,
    owner: UserId,
    personal: bool,
    now: OffsetDateTime,
) -> Workspace {
    Workspace {
        id: WorkspaceId::new(),
        name,
        personal,
        created_by: owner,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts `ws` with its creator as owner. Returns `false` (and writes nothing) if it is
/// personal and its creator already has a personal workspace.
async fn insert_workspace(conn: &mut PgConnection, ws: &Workspace) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO workspaces (id, name, personal, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (created_by) WHERE personal DO NOTHING",
    )
    .bind(ws.id.0)
    .bind(ws.name.as_str())
    .bind(ws.personal)
    .bind(ws.created_by.0)
    .bind(ws.created_at)
    .bind(ws.updated_at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        insert_member(
            conn,
            &Member {
                workspace_id: ws.id,
                user_id: ws.created_by,
                role: Role::Owner,
                joined_at: ws.created_at,
            },
        )
        .await?;
    }
    Ok(inserted)
}

/// Adds a membership; `false` (and nothing written) if the user is already a member.
async fn insert_member(conn: &mut PgConnection, m: &Member) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO workspace_members (workspace_id, user_id, role, joined_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, user_id) DO NOTHING",
    )
    .bind(m.workspace_id.0)
    .bind(m.user_id.0)
    .bind(m.role.as_str())
    .bind(m.joined_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks every member row of `workspace`, in user order so that lockers queue rather than
/// deadlock, and returns `user`'s membership (or `NotFound`) with the number of owners.
async fn lock_members(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    user: UserId,
) -> Result<(Member, usize)> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM workspace_members m WHERE m.workspace_id = $1 \
         ORDER BY m.user_id FOR UPDATE"
    ))
    .bind(workspace.0)
    .fetch_all(&mut *conn)
    .await?;
    let members = rows
        .into_iter()
        .map(Member::try_from)
        .collect::<Result<Vec<_>>>()?;
    let owners = members.iter().filter(|m| m.role == Role::Owner).count();
    let member = members
        .into_iter()
        .find(|m| m.user_id == user)
        .ok_or(Error::NotFound)?;
    Ok((member, owners))
}

impl PostgresStore {
    async fn find_personal_workspace(&self, user: UserId) -> Result<Option<Workspace>> {
        let row: Option<WorkspaceRow> = sqlx::query_as(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.created_by = $1 AND w.personal"
        ))
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Workspace::try_from).transpose()
    }
}

#[async_trait]
impl WorkspaceStore for PostgresStore {
    async fn create_workspace(
        &self,
        name: WorkspaceName,
        owner: UserId,
        audit: NewAuditEvent,
    ) -> Result<Workspace> {
        let now = self.clock.now();
        let ws = new_workspace(name, owner, false, now);
        let mut tx = self.pool.begin().await?;
        insert_workspace(&mut tx, &ws).await?;
        let audit = audit
            .target(format!("workspace:{}", ws.id))
            .workspace(ws.id);
        let change = (ChangeKind::Workspace, ws.id.to_string());
        finish(tx, now, Some(audit), vec![change]).await?;
        Ok(ws)
    }

    async fn ensure_personal_workspace(
        &self,
        user: UserId,
        name: WorkspaceName,
    ) -> Result<Workspace> {
        // A racer whose insert conflicts has waited for the winner's commit, so its next read
        // sees the winner's row; another round only happens if that row was deleted meanwhile.
        for _ in 0..3 {
            if let Some(ws) = self.find_personal_workspace(user).await? {
                return Ok(ws);
            }
            let now = self.clock.now();
            let ws = new_workspace(name.clone(), user, true, now);
            let mut tx = self.pool.begin().await?;
            if insert_workspace(&mut tx, &ws).await? {
                let change = (ChangeKind::Workspace, ws.id.to_string());
                finish(tx, now, None, vec![change]).await?;
                return Ok(ws);
            }
        }
        Err(Error::internal(format!(
            "the personal workspace of user {user} keeps disappearing"
        )))
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        let mut conn = self.pool.acquire().await?;
        read_workspace(&mut conn, id, false).await
    }

    async fn list_workspaces_for(&self, user: UserId) -> Result<Vec<(Workspace, Role)>> {
        let rows: Vec<WorkspaceRoleRow> = sqlx::query_as(&format!(
            "SELECT {WORKSPACE_COLUMNS}, m.role FROM workspaces w \
             JOIN workspace_members m ON m.workspace_id = w.id WHERE m.user_id = $1 ORDER BY w.id"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .into_iter()
            .map(<(Workspace, Role)>::try_from)
            .collect::<Result<Vec<_>>>()?;
        // Sorted here, not in SQL, so that "by name, ignoring case" means exactly what it means
        // in the redb store (Rust's Unicode lower-casing, not the database's collation).
        out.sort_by_cached_key(|(ws, _)| (!ws.personal, ws.name.as_str().to_lowercase()));
        Ok(out)
    }

    async fn rename_workspace(
        &self,
        id: WorkspaceId,
        name: WorkspaceName,
        audit: NewAuditEvent,
    ) -> Result<Workspace> {
        let mut tx = self.pool.begin().await?;
        let mut ws = read_workspace(&mut tx, id, true).await?;
        let now = self.clock.now();
        let audit = audit.detail(format!("renamed from {} to {}", ws.name, name));
        ws.name = name;
        ws.updated_at = now;
        sqlx::query("UPDATE workspaces SET name = $2, updated_at = $3 WHERE id = $1")
            .bind(id.0)
            .bind(ws.name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let change = (ChangeKind::Workspace, id.to_string());
        finish(tx, now, Some(audit), vec![change]).await?;
        Ok(ws)
    }

    async fn delete_workspace(&self, id: WorkspaceId, audit: NewAuditEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let ws = read_workspace(&mut tx, id, true).await?;
        let templates: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM templates WHERE workspace_id = $1 ORDER BY id")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await?;
        // Members, invites, templates, their versions and labels go by ON DELETE CASCADE.
        sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        // Its roll-ups (the instance-wide rows keep its history).
        for table in ["usage_daily", "usage_latency"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE workspace_id = $1"))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        // As in the redb store: one entry per deleted template, then the workspace's.
        let mut changes: Vec<_> = templates
            .into_iter()
            .map(|t| (ChangeKind::Template, t.to_string()))
            .collect();
        changes.push((ChangeKind::Workspace, id.to_string()));
        let audit = audit.detail(format!("deleted {}", ws.name));
        finish(tx, self.clock.now(), Some(audit), changes).await
    }

    async fn find_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Option<Member>> {
        let row: Option<MemberRow> = sqlx::query_as(&format!(
            "SELECT {MEMBER_COLUMNS} FROM workspace_members m \
             WHERE m.workspace_id = $1 AND m.user_id = $2"
        ))
        .bind(workspace.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Member::try_from).transpose()
    }

    async fn list_members(&self, workspace: WorkspaceId) -> Result<Vec<MemberView>> {
        let rows: Vec<MemberViewRow> = sqlx::query_as(&format!(
            "SELECT {MEMBER_COLUMNS}, u.email, u.name FROM workspace_members m \
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY m.user_id"
        ))
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .into_iter()
            .map(MemberView::try_from)
            .collect::<Result<Vec<_>>>()?;
        // As in the redb store: owners first, then by name with Rust's lower-casing.
        out.sort_by_cached_key(|v| (std::cmp::Reverse(v.member.role), v.name.to_lowercase()));
        Ok(out)
    }

    async fn update_member_role(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        audit: NewAuditEvent,
    ) -> Result<Member> {
        let mut tx = self.pool.begin().await?;
        let (mut member, owners) = lock_members(&mut tx, workspace, user).await?;
        if member.role == Role::Owner && role != Role::Owner && owners <= 1 {
            return Err(last_owner());
        }
        let audit = audit.detail(format!("role {} -> {}", member.role, role));
        member.role = role;
        sqlx::query(
            "UPDATE workspace_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace.0)
        .bind(user.0)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        finish(tx, self.clock.now(), Some(audit), vec![]).await?;
        Ok(member)
    }

    async fn remove_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        audit: NewAuditEvent,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let (member, owners) = lock_members(&mut tx, workspace, user).await?;
        if member.role == Role::Owner && owners <= 1 {
            return Err(last_owner());
        }
        sqlx::query("DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        let audit = audit.detail(format!("was {}", member.role));
        finish(tx, self.clock.now(), Some(audit), vec![]).await
    }

    async fn create_invite(&self, invite: Invite, audit: NewAuditEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // FOR KEY SHARE keeps the workspace from being deleted before the insert below.
        let exists: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM workspaces WHERE id = $1 FOR KEY SHARE")
                .bind(invite.workspace_id.0)
                .fetch_optional(&mut *tx)
                .await?;
        exists.ok_or(Error::NotFound)?;
        sqlx::query(&format!(
            "INSERT INTO workspace_invites ({INVITE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(invite.id.0)
        .bind(invite.workspace_id.0)
        .bind(invite.token_hash.0.as_slice())
        .bind(invite.role.as_str())
        .bind(invite.created_by.0)
        .bind(invite.created_at)
        .bind(invite.expires_at)
        .bind(invite.accepted_by.map(|u| u.0))
        .bind(invite.accepted_at)
        .execute(&mut *tx)
        .await?;
        let audit = audit.detail(format!("role {}", invite.role));
        finish(tx, self.clock.now(), Some(audit), vec![]).await
    }

    async fn find_invite(&self, token_hash: TokenHash) -> Result<Option<Invite>> {
        let row: Option<InviteRow> = sqlx::query_as(&format!(
            "SELECT {INVITE_COLUMNS} FROM workspace_invites WHERE token_hash = $1"
        ))
        .bind(token_hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Invite::try_from).transpose()
    }

    async fn list_open_invites(
        &self,
        workspace: WorkspaceId,
        now: OffsetDateTime,
    ) -> Result<Vec<Invite>> {
        // Open as in `Invite::is_open`: not accepted, and `now` before the expiry.
        let rows: Vec<InviteRow> = sqlx::query_as(&format!(
            "SELECT {INVITE_COLUMNS} FROM workspace_invites WHERE workspace_id = $1 \
             AND accepted_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id"
        ))
        .bind(workspace.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Invite::try_from).collect()
    }

    async fn delete_invite(
        &self,
        workspace: WorkspaceId,
        id: InviteId,
        audit: NewAuditEvent,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM workspace_invites WHERE id = $1 AND workspace_id = $2")
            .bind(id.0)
            .bind(workspace.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        finish(tx, self.clock.now(), Some(audit), vec![]).await
    }

    async fn accept_invite(
        &self,
        token_hash: TokenHash,
        user: UserId,
        now: OffsetDateTime,
        audit: NewAuditEvent,
    ) -> Result<Member> {
        let mut tx = self.pool.begin().await?;
        // Locked, so of two racing acceptances the second sees the first one's `accepted_at`.
        let row: Option<InviteRow> = sqlx::query_as(&format!(
            "SELECT {INVITE_COLUMNS} FROM workspace_invites WHERE token_hash = $1 FOR UPDATE"
        ))
        .bind(token_hash.0.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        let invite = Invite::try_from(row.ok_or(Error::NotFound)?)?;
        if !invite.is_open(now) {
            return Err(Error::NotFound);
        }
        let member = Member {
            workspace_id: invite.workspace_id,
            user_id: user,
            role: invite.role,
            joined_at: now,
        };
        // The primary key also settles a race with another invite to the same workspace.
        if !insert_member(&mut tx, &member).await? {
            let ws = read_workspace(&mut tx, invite.workspace_id, false).await?;
            let message = format!("you are already a member of {}", ws.name);
            return Err(Error::conflict("invite", message));
        }
        sqlx::query(
            "UPDATE workspace_invites SET accepted_by = $2, accepted_at = $3 WHERE id = $1",
        )
        .bind(invite.id.0)
        .bind(user.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let audit = audit
            .target(format!("workspace:{}", invite.workspace_id))
            .detail(format!("joined as {} by invite {}", invite.role, invite.id));
        finish(tx, self.clock.now(), Some(audit), vec![]).await?;
        Ok(member)
    }
}
