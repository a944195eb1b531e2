//! Workspaces, members and invites in redb. Memberships are kept twice, by workspace and by
//! user, always in the same transaction.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{
    API_KEYS, API_KEYS_BY_USER, CONNECTIONS, INVITES, INVITES_BY_TOKEN, INVITES_BY_WORKSPACE,
    MEMBERS, MEMBERSHIPS, PERSONAL_WORKSPACES, RUNS, RUNS_BY_WORKSPACE, RedbStore,
    TEMPLATES_BY_WORKSPACE, USERS, WORKSPACES, append_change, audit::insert_audit, decode, encode,
    templates::delete_template_in,
};
use crate::domain::{
    ChangeKind, Invite, InviteId, Member, MemberView, NewAuditEvent, Role, TemplateId, TokenHash,
    User, UserId, Workspace, WorkspaceId, WorkspaceName,
};
use crate::error::{Error, Result};
use crate::store::WorkspaceStore;

fn last_owner() -> Error {
    Error::conflict(
        "role",
        "a workspace needs at least one owner; make someone else owner first",
    )
}

fn read_workspace(txn: &WriteTransaction, id: WorkspaceId) -> Result<Workspace> {
    let table = txn.open_table(WORKSPACES)?;
    let value = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
    decode(value.value())
}

fn insert_workspace(
    txn: &WriteTransaction,
    name: WorkspaceName,
    owner: UserId,
    personal: bool,
    now: OffsetDateTime,
) -> Result<Workspace> {
    let ws = Workspace {
        id: WorkspaceId::new(),
        name,
        personal,
        created_by: owner,
        created_at: now,
        updated_at: now,
    };
    txn.open_table(WORKSPACES)?
        .insert(ws.id.0.as_u128(), encode(&ws)?.as_slice())?;
    put_member(
        txn,
        &Member {
            workspace_id: ws.id,
            user_id: owner,
            role: Role::Owner,
            joined_at: now,
        },
    )?;
    append_change(txn, ChangeKind::Workspace, ws.id.to_string())?;
    Ok(ws)
}

fn put_member(txn: &WriteTransaction, m: &Member) -> Result<()> {
    let (w, u) = (m.workspace_id.0.as_u128(), m.user_id.0.as_u128());
    txn.open_table(MEMBERS)?
        .insert((w, u), encode(m)?.as_slice())?;
    txn.open_table(MEMBERSHIPS)?.insert((u, w), ())?;
    Ok(())
}

fn get_member(txn: &WriteTransaction, ws: WorkspaceId, user: UserId) -> Result<Option<Member>> {
    let members = txn.open_table(MEMBERS)?;
    let found = members.get((ws.0.as_u128(), user.0.as_u128()))?;
    found.map(|v| decode(v.value())).transpose()
}

fn members_of(txn: &WriteTransaction, ws: WorkspaceId) -> Result<Vec<Member>> {
    let members = txn.open_table(MEMBERS)?;
    let w = ws.0.as_u128();
    let mut out = Vec::new();
    for entry in members.range((w, 0)..=(w, u128::MAX))? {
        out.push(decode(entry?.1.value())?);
    }
    Ok(out)
}

fn owner_count(txn: &WriteTransaction, ws: WorkspaceId) -> Result<usize> {
    Ok(members_of(txn, ws)?
        .iter()
        .filter(|m| m.role == Role::Owner)
        .count())
}

fn ids_in<K: Copy>(
    txn: &WriteTransaction,
    table: redb::TableDefinition<(u128, u128), ()>,
    prefix: u128,
    wrap: impl Fn(u128) -> K,
) -> Result<Vec<K>> {
    let t = txn.open_table(table)?;
    let mut out = Vec::new();
    for entry in t.range((prefix, 0)..=(prefix, u128::MAX))? {
        out.push(wrap(entry?.0.value().1));
    }
    Ok(out)
}

#[async_trait]
impl WorkspaceStore for RedbStore {
    async fn create_workspace(
        &self,
        name: WorkspaceName,
        owner: UserId,
        audit: NewAuditEvent,
    ) -> Result<Workspace> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let now = clock.now();
            let ws = insert_workspace(&txn, name, owner, false, now)?;
            let audit = NewAuditEvent {
                target: Some(format!("workspace:{}", ws.id)),
                workspace: Some(ws.id),
                ..audit
            };
            insert_audit(&txn, now, audit)?;
            txn.commit()?;
            Ok(ws)
        })
        .await
    }

    async fn ensure_personal_workspace(
        &self,
        user: UserId,
        name: WorkspaceName,
    ) -> Result<Workspace> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let existing = txn
                .open_table(PERSONAL_WORKSPACES)?
                .get(user.0.as_u128())?
                .map(|v| v.value());
            let ws = match existing {
                Some(id) => read_workspace(&txn, WorkspaceId(uuid::Uuid::from_u128(id)))?,
                None => {
                    let ws = insert_workspace(&txn, name, user, true, clock.now())?;
                    txn.open_table(PERSONAL_WORKSPACES)?
                        .insert(user.0.as_u128(), ws.id.0.as_u128())?;
                    ws
                }
            };
            txn.commit()?;
            Ok(ws)
        })
        .await
    }

    async fn get_workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(WORKSPACES)?;
            let value = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(value.value())
        })
        .await
    }

    async fn list_workspaces_for(&self, user: UserId) -> Result<Vec<(Workspace, Role)>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let memberships = txn.open_table(MEMBERSHIPS)?;
            let members = txn.open_table(MEMBERS)?;
            let workspaces = txn.open_table(WORKSPACES)?;
            let u = user.0.as_u128();
            let mut out: Vec<(Workspace, Role)> = Vec::new();
            for entry in memberships.range((u, 0)..=(u, u128::MAX))? {
                let w = entry?.0.value().1;
                let (Some(m), Some(ws)) = (members.get((w, u))?, workspaces.get(w)?) else {
                    continue;
                };
                let m: Member = decode(m.value())?;
                out.push((decode(ws.value())?, m.role));
            }
            out.sort_by(|(a, _), (b, _)| {
                b.personal.cmp(&a.personal).then_with(|| {
                    a.name
                        .as_str()
                        .to_lowercase()
                        .cmp(&b.name.as_str().to_lowercase())
                })
            });
            Ok(out)
        })
        .await
    }

    async fn rename_workspace(
        &self,
        id: WorkspaceId,
        name: WorkspaceName,
        audit: NewAuditEvent,
    ) -> Result<Workspace> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut ws = read_workspace(&txn, id)?;
            let now = clock.now();
            let detail = format!("renamed from {} to {}", ws.name, name);
            ws.name = name;
            ws.updated_at = now;
            txn.open_table(WORKSPACES)?
                .insert(id.0.as_u128(), encode(&ws)?.as_slice())?;
            insert_audit(&txn, now, audit.detail(detail))?;
            append_change(&txn, ChangeKind::Workspace, id.to_string())?;
            txn.commit()?;
            Ok(ws)
        })
        .await
    }

    async fn delete_workspace(&self, id: WorkspaceId, audit: NewAuditEvent) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let ws = read_workspace(&txn, id)?;
            let w = id.0.as_u128();
            for template in ids_in(&txn, TEMPLATES_BY_WORKSPACE, w, |t| {
                TemplateId(uuid::Uuid::from_u128(t))
            })? {
                delete_template_in(&txn, template)?;
            }
            for invite in ids_in(&txn, INVITES_BY_WORKSPACE, w, |i| i)? {
                delete_invite_in(&txn, w, invite)?;
            }
            super::governance::delete_for_workspace(&txn, w)?;
            super::usage::delete_for_workspace(&txn, w)?;
            // Runs and the workspace's own provider connections go with it.
            for run in ids_in(&txn, RUNS_BY_WORKSPACE, w, |r| r)? {
                txn.open_table(RUNS)?.remove(run)?;
                txn.open_table(RUNS_BY_WORKSPACE)?.remove((w, run))?;
            }
            let doomed: Vec<u128> = {
                let conns = txn.open_table(CONNECTIONS)?;
                let mut ids = Vec::new();
                for entry in conns.iter()? {
                    let (k, v) = entry?;
                    let c: crate::domain::Connection = decode(v.value())?;
                    if c.workspace_id == Some(id) {
                        ids.push(k.value());
                    }
                }
                ids
            };
            for c in doomed {
                txn.open_table(CONNECTIONS)?.remove(c)?;
            }
            // So do the API keys that act in it.
            let keys: Vec<(Vec<u8>, u128, u128)> = {
                let table = txn.open_table(API_KEYS)?;
                let mut found = Vec::new();
                for entry in table.iter()? {
                    let (k, v) = entry?;
                    let key: crate::domain::ApiKey = decode(v.value())?;
                    if key.workspace_id == id {
                        found.push((
                            k.value().to_vec(),
                            key.user_id.0.as_u128(),
                            key.id.0.as_u128(),
                        ));
                    }
                }
                found
            };
            for (hash, user, key) in keys {
                txn.open_table(API_KEYS)?.remove(hash.as_slice())?;
                txn.open_table(API_KEYS_BY_USER)?.remove((user, key))?;
            }
            for m in members_of(&txn, id)? {
                let u = m.user_id.0.as_u128();
                txn.open_table(MEMBERS)?.remove((w, u))?;
                txn.open_table(MEMBERSHIPS)?.remove((u, w))?;
                if ws.personal {
                    txn.open_table(PERSONAL_WORKSPACES)?.remove(u)?;
                }
            }
            txn.open_table(WORKSPACES)?.remove(w)?;
            insert_audit(
                &txn,
                clock.now(),
                audit.detail(format!("deleted {}", ws.name)),
            )?;
            append_change(&txn, ChangeKind::Workspace, id.to_string())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn find_member(&self, workspace: WorkspaceId, user: UserId) -> Result<Option<Member>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let members = txn.open_table(MEMBERS)?;
            let found = members.get((workspace.0.as_u128(), user.0.as_u128()))?;
            found.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn list_members(&self, workspace: WorkspaceId) -> Result<Vec<MemberView>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let members = txn.open_table(MEMBERS)?;
            let users = txn.open_table(USERS)?;
            let w = workspace.0.as_u128();
            let mut out = Vec::new();
            for entry in members.range((w, 0)..=(w, u128::MAX))? {
                let member: Member = decode(entry?.1.value())?;
                let Some(u) = users.get(member.user_id.0.as_u128())? else {
                    continue;
                };
                let user: User = decode(u.value())?;
                out.push(MemberView {
                    member,
                    email: user.email.to_string(),
                    name: user.name.to_string(),
                });
            }
            out.sort_by(|a, b| {
                b.member
                    .role
                    .cmp(&a.member.role)
                    .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            });
            Ok(out)
        })
        .await
    }

    async fn update_member_role(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
        audit: NewAuditEvent,
    ) -> Result<Member> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut member = get_member(&txn, workspace, user)?.ok_or(Error::NotFound)?;
            if member.role == Role::Owner
                && role != Role::Owner
                && owner_count(&txn, workspace)? <= 1
            {
                return Err(last_owner());
            }
            let detail = format!("role {} -> {}", member.role, role);
            member.role = role;
            put_member(&txn, &member)?;
            insert_audit(&txn, clock.now(), audit.detail(detail))?;
            txn.commit()?;
            Ok(member)
        })
        .await
    }

    async fn remove_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        audit: NewAuditEvent,
    ) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let member = get_member(&txn, workspace, user)?.ok_or(Error::NotFound)?;
            if member.role == Role::Owner && owner_count(&txn, workspace)? <= 1 {
                return Err(last_owner());
            }
            let (w, u) = (workspace.0.as_u128(), user.0.as_u128());
            txn.open_table(MEMBERS)?.remove((w, u))?;
            txn.open_table(MEMBERSHIPS)?.remove((u, w))?;
            insert_audit(
                &txn,
                clock.now(),
                audit.detail(format!("was {}", member.role)),
            )?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn create_invite(&self, invite: Invite, audit: NewAuditEvent) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            read_workspace(&txn, invite.workspace_id)?;
            let id = invite.id.0.as_u128();
            txn.open_table(INVITES)?
                .insert(id, encode(&invite)?.as_slice())?;
            txn.open_table(INVITES_BY_TOKEN)?
                .insert(invite.token_hash.0.as_slice(), id)?;
            txn.open_table(INVITES_BY_WORKSPACE)?
                .insert((invite.workspace_id.0.as_u128(), id), ())?;
            let audit = audit.detail(format!("role {}", invite.role));
            insert_audit(&txn, clock.now(), audit)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn find_invite(&self, token_hash: TokenHash) -> Result<Option<Invite>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let Some(id) = txn
                .open_table(INVITES_BY_TOKEN)?
                .get(token_hash.0.as_slice())?
                .map(|v| v.value())
            else {
                return Ok(None);
            };
            let invites = txn.open_table(INVITES)?;
            let found = invites.get(id)?;
            found.map(|v| decode(v.value())).transpose()
        })
        .await
    }

    async fn list_open_invites(
        &self,
        workspace: WorkspaceId,
        now: OffsetDateTime,
    ) -> Result<Vec<Invite>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let by_ws = txn.open_table(INVITES_BY_WORKSPACE)?;
            let invites = txn.open_table(INVITES)?;
            let w = workspace.0.as_u128();
            let mut out: Vec<Invite> = Vec::new();
            for entry in by_ws.range((w, 0)..=(w, u128::MAX))? {
                if let Some(v) = invites.get(entry?.0.value().1)? {
                    let invite: Invite = decode(v.value())?;
                    if invite.is_open(now) {
                        out.push(invite);
                    }
                }
            }
            out.sort_by_key(|i| std::cmp::Reverse(i.created_at));
            Ok(out)
        })
        .await
    }

    async fn delete_invite(
        &self,
        workspace: WorkspaceId,
        id: InviteId,
        audit: NewAuditEvent,
    ) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let w = workspace.0.as_u128();
            let exists = txn
                .open_table(INVITES_BY_WORKSPACE)?
                .get((w, id.0.as_u128()))?
                .is_some();
            if !exists {
                return Err(Error::NotFound);
            }
            delete_invite_in(&txn, w, id.0.as_u128())?;
            insert_audit(&txn, clock.now(), audit)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn accept_invite(
        &self,
        token_hash: TokenHash,
        user: UserId,
        now: OffsetDateTime,
        audit: NewAuditEvent,
    ) -> Result<Member> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let id = txn
                .open_table(INVITES_BY_TOKEN)?
                .get(token_hash.0.as_slice())?
                .map(|v| v.value())
                .ok_or(Error::NotFound)?;
            let mut invite: Invite = {
                let invites = txn.open_table(INVITES)?;
                let v = invites.get(id)?.ok_or(Error::NotFound)?;
                decode(v.value())?
            };
            if !invite.is_open(now) {
                return Err(Error::NotFound);
            }
            if get_member(&txn, invite.workspace_id, user)?.is_some() {
                let ws = read_workspace(&txn, invite.workspace_id)?;
                return Err(Error::conflict(
                    "invite",
                    format!("you are already a member of {}", ws.name),
                ));
            }
            invite.accepted_by = Some(user);
            invite.accepted_at = Some(now);
            txn.open_table(INVITES)?
                .insert(id, encode(&invite)?.as_slice())?;
            let member = Member {
                workspace_id: invite.workspace_id,
                user_id: user,
                role: invite.role,
                joined_at: now,
            };
            put_member(&txn, &member)?;
            let audit = audit
                .target(format!("workspace:{}", invite.workspace_id))
                .detail(format!("joined as {} by invite {}", invite.role, invite.id));
            insert_audit(&txn, clock.now(), audit)?;
            txn.commit()?;
            Ok(member)
        })
        .await
    }
}

fn delete_invite_in(txn: &WriteTransaction, w: u128, id: u128) -> Result<()> {
    let removed = txn
        .open_table(INVITES)?
        .remove(id)?
        .map(|v| v.value().to_vec());
    if let Some(bytes) = removed {
        let invite: Invite = decode(&bytes)?;
        txn.open_table(INVITES_BY_TOKEN)?
            .remove(invite.token_hash.0.as_slice())?;
    }
    txn.open_table(INVITES_BY_WORKSPACE)?.remove((w, id))?;
    Ok(())
}
