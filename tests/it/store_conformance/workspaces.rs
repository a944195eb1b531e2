//! Conformance cases for workspaces: personal and shared workspaces, members and the last-owner
//! rule, invites, and deleting a workspace with everything in it.

use promptyard::domain::{
    ChangeKind, Invite, InviteId, NewTemplate, Role, TemplateContent, User, Workspace, WorkspaceId,
    WorkspaceName,
};

use super::*;

pub(super) fn ws_name(name: &str) -> WorkspaceName {
    WorkspaceName::parse(name).unwrap()
}

pub(super) async fn user(store: &Arc<dyn Store>, email: &str, name: &str) -> User {
    store
        .create_user(new_user(email, name), audit("user.create"))
        .await
        .unwrap()
}

pub(super) async fn shared(store: &Arc<dyn Store>, name: &str, owner: UserId) -> Workspace {
    store
        .create_workspace(ws_name(name), owner, audit("workspace.create"))
        .await
        .unwrap()
}

/// An open invite to `workspace` with `role`, made `age` ago and valid for a week from now.
fn invite(workspace: WorkspaceId, role: Role, by: UserId, age: Duration) -> Invite {
    let t = now();
    Invite {
        id: InviteId::new(),
        workspace_id: workspace,
        token_hash: SessionToken::generate().unwrap().hash(),
        role,
        created_by: by,
        created_at: t - age,
        expires_at: t + Duration::days(7),
        accepted_by: None,
        accepted_at: None,
    }
}

/// Makes `user` a member of `workspace` with `role` through an invite.
pub(super) async fn join(store: &Arc<dyn Store>, workspace: WorkspaceId, user: UserId, role: Role) {
    let inv = invite(workspace, role, user, Duration::ZERO);
    store
        .create_invite(inv.clone(), audit("invite.create"))
        .await
        .unwrap();
    store
        .accept_invite(inv.token_hash, user, now(), audit("invite.accept"))
        .await
        .unwrap();
}

async fn changes_of(store: &Arc<dyn Store>, kind: ChangeKind) -> Vec<String> {
    let all = store.list_changes(0, 1000).await.unwrap();
    all.into_iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.id)
        .collect()
}

async fn owners(store: &Arc<dyn Store>, ws: WorkspaceId) -> usize {
    let members = store.list_members(ws).await.unwrap();
    members
        .iter()
        .filter(|m| m.member.role == Role::Owner)
        .count()
}

fn assert_last_owner(err: &Error) {
    let expected = "a workspace needs at least one owner; make someone else owner first";
    assert!(
        matches!(err, Error::Conflict { field: Some(f), message }
            if f == "role" && message == expected),
        "{err:?}"
    );
}

pub(super) async fn personal_workspace(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let ws = store
        .ensure_personal_workspace(ann.id, ws_name("Ann's space"))
        .await
        .unwrap();
    assert!(ws.personal);
    assert_eq!(ws.created_by, ann.id);
    assert_eq!(ws.name.as_str(), "Ann's space");
    assert_eq!(store.get_workspace(ws.id).await.unwrap(), ws);
    // Idempotent: the second call returns the first workspace, name and all.
    let again = store
        .ensure_personal_workspace(ann.id, ws_name("Other name"))
        .await
        .unwrap();
    assert_eq!(again, ws);
    assert_eq!(
        store.list_workspaces_for(ann.id).await.unwrap(),
        vec![(ws.clone(), Role::Owner)]
    );
    let member = store.find_member(ws.id, ann.id).await.unwrap().unwrap();
    assert_eq!(member.role, Role::Owner);
    assert_eq!(member.joined_at, ws.created_at);

    // Racing first calls for one user make exactly one.
    let bo = user(&store, "bo@example.org", "Bo").await;
    let start = warm_up(&store).await;
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        racers.spawn(async move {
            start.wait().await;
            store
                .ensure_personal_workspace(bo.id, ws_name(&format!("Racer {i}")))
                .await
                .unwrap()
        });
    }
    let mut seen = Vec::new();
    while let Some(joined) = racers.join_next().await {
        seen.push(joined.unwrap());
    }
    assert!(seen.iter().all(|w| *w == seen[0]), "{seen:?}");
    assert_eq!(
        store.list_workspaces_for(bo.id).await.unwrap(),
        vec![(seen[0].clone(), Role::Owner)]
    );
    assert_eq!(store.list_members(seen[0].id).await.unwrap().len(), 1);
    assert_eq!(
        changes_of(&store, ChangeKind::Workspace).await,
        [ws.id.to_string(), seen[0].id.to_string()]
    );

    // Once deleted, the next call makes a new one.
    store
        .delete_workspace(ws.id, audit("workspace.delete"))
        .await
        .unwrap();
    let fresh = store
        .ensure_personal_workspace(ann.id, ws_name("New space"))
        .await
        .unwrap();
    assert_ne!(fresh.id, ws.id);
    assert_eq!(fresh.name.as_str(), "New space");
}

pub(super) async fn shared_workspaces(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let bo = user(&store, "bo@example.org", "Bo").await;
    let beta = shared(&store, "beta", ann.id).await;
    let alpha = shared(&store, "Alpha", ann.id).await;
    let personal = store
        .ensure_personal_workspace(ann.id, ws_name("Zed"))
        .await
        .unwrap();
    assert!(!alpha.personal);
    assert_eq!(alpha.created_by, ann.id);
    assert_eq!(alpha.created_at, alpha.updated_at);
    assert_eq!(store.get_workspace(alpha.id).await.unwrap(), alpha);
    assert!(matches!(
        store.get_workspace(WorkspaceId::new()).await,
        Err(Error::NotFound)
    ));
    let member = store.find_member(alpha.id, ann.id).await.unwrap().unwrap();
    assert_eq!(member.role, Role::Owner);
    assert_eq!(store.find_member(alpha.id, bo.id).await.unwrap(), None);
    let created = all_audit(&*store).await;
    assert_eq!(created[0].action, "workspace.create");
    assert_eq!(created[0].target, Some(format!("workspace:{}", alpha.id)));

    // Personal first, then by name ignoring case; each with the user's role.
    assert_eq!(
        store.list_workspaces_for(ann.id).await.unwrap(),
        vec![
            (personal.clone(), Role::Owner),
            (alpha.clone(), Role::Owner),
            (beta.clone(), Role::Owner)
        ]
    );
    join(&store, beta.id, bo.id, Role::Editor).await;
    join(&store, alpha.id, bo.id, Role::Viewer).await;
    assert_eq!(
        store.list_workspaces_for(bo.id).await.unwrap(),
        vec![(alpha.clone(), Role::Viewer), (beta.clone(), Role::Editor)]
    );

    let renamed = store
        .rename_workspace(alpha.id, ws_name("Gamma"), audit("workspace.rename"))
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Gamma");
    assert_eq!(renamed.created_at, alpha.created_at);
    assert!(renamed.updated_at >= alpha.updated_at);
    assert_eq!(store.get_workspace(alpha.id).await.unwrap(), renamed);
    let listed: Vec<WorkspaceId> = store
        .list_workspaces_for(ann.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(w, _)| w.id)
        .collect();
    assert_eq!(listed, [personal.id, beta.id, alpha.id]);
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "workspace.rename");
    assert_eq!(event.detail, "renamed from Alpha to Gamma");
    assert!(matches!(
        store
            .rename_workspace(WorkspaceId::new(), ws_name("X"), audit("workspace.rename"))
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        changes_of(&store, ChangeKind::Workspace).await,
        [
            beta.id.to_string(),
            alpha.id.to_string(),
            personal.id.to_string(),
            alpha.id.to_string()
        ]
    );
}

pub(super) async fn members(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let bo = user(&store, "bo@example.org", "bo").await;
    let cy = user(&store, "cy@example.org", "Cy").await;
    let dee = user(&store, "dee@example.org", "dee").await;
    let abe = user(&store, "abe@example.org", "Abe").await;
    let ws = shared(&store, "Team", ann.id).await;
    join(&store, ws.id, dee.id, Role::Viewer).await;
    join(&store, ws.id, bo.id, Role::Editor).await;
    join(&store, ws.id, cy.id, Role::Viewer).await;
    join(&store, ws.id, abe.id, Role::Viewer).await;

    // Owners first, then by name ignoring case.
    let listed = store.list_members(ws.id).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Ann", "bo", "Abe", "Cy", "dee"]);
    assert_eq!(listed[1].email, "bo@example.org");
    assert_eq!(listed[1].member.role, Role::Editor);
    assert_eq!(
        Some(listed[1].member.clone()),
        store.find_member(ws.id, bo.id).await.unwrap()
    );

    let promoted = store
        .update_member_role(ws.id, bo.id, Role::Admin, audit("member.role"))
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(promoted.user_id, bo.id);
    assert_eq!(
        store.find_member(ws.id, bo.id).await.unwrap(),
        Some(promoted)
    );
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "member.role");
    assert_eq!(event.detail, "role editor -> admin");

    // The last owner can be neither demoted nor removed, and nothing is recorded.
    let events = all_audit(&*store).await.len();
    let err = store
        .update_member_role(ws.id, ann.id, Role::Admin, audit("member.role"))
        .await
        .unwrap_err();
    assert_last_owner(&err);
    let err = store
        .remove_member(ws.id, ann.id, audit("member.remove"))
        .await
        .unwrap_err();
    assert_last_owner(&err);
    assert_eq!(
        store
            .find_member(ws.id, ann.id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Owner
    );
    assert_eq!(all_audit(&*store).await.len(), events);
    // Keeping an owner an owner is fine.
    store
        .update_member_role(ws.id, ann.id, Role::Owner, audit("member.role"))
        .await
        .unwrap();

    store
        .remove_member(ws.id, cy.id, audit("member.remove"))
        .await
        .unwrap();
    assert_eq!(store.find_member(ws.id, cy.id).await.unwrap(), None);
    assert_eq!(all_audit(&*store).await[0].detail, "was viewer");
    assert!(store.list_workspaces_for(cy.id).await.unwrap().is_empty());
    assert!(matches!(
        store
            .remove_member(ws.id, cy.id, audit("member.remove"))
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store
            .update_member_role(ws.id, cy.id, Role::Editor, audit("member.role"))
            .await,
        Err(Error::NotFound)
    ));

    // Two owners demoted by racers: at least one stays owner.
    store
        .update_member_role(ws.id, bo.id, Role::Owner, audit("member.role"))
        .await
        .unwrap();
    assert_eq!(owners(&store, ws.id).await, 2);
    let start = warm_up(&store).await;
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        let target = if i % 2 == 0 { ann.id } else { bo.id };
        racers.spawn(async move {
            start.wait().await;
            if i % 4 < 2 {
                store
                    .update_member_role(ws.id, target, Role::Editor, audit("member.role"))
                    .await
                    .map(|_| ())
            } else {
                store
                    .remove_member(ws.id, target, audit("member.remove"))
                    .await
            }
        });
    }
    let mut refused = 0;
    while let Some(joined) = racers.join_next().await {
        match joined.unwrap() {
            Ok(()) => {}
            // A racer may find its target already removed by another.
            Err(Error::NotFound) => {}
            Err(e) => {
                assert_last_owner(&e);
                refused += 1;
            }
        }
    }
    assert!(refused > 0);
    assert_eq!(owners(&store, ws.id).await, 1);
    // Memberships touch no search index: only the workspace was logged.
    assert_eq!(
        changes_of(&store, ChangeKind::Workspace).await,
        [ws.id.to_string()]
    );
}

pub(super) async fn invites(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let bo = user(&store, "bo@example.org", "Bo").await;
    let cy = user(&store, "cy@example.org", "Cy").await;
    let ws = shared(&store, "Team", ann.id).await;
    let other = shared(&store, "Other", ann.id).await;
    let older = invite(ws.id, Role::Editor, ann.id, Duration::minutes(2));
    let newer = invite(ws.id, Role::Viewer, ann.id, Duration::minutes(1));
    let mut expired = invite(ws.id, Role::Admin, ann.id, Duration::days(10));
    expired.expires_at = now() - Duration::minutes(1);
    let elsewhere = invite(other.id, Role::Viewer, ann.id, Duration::ZERO);
    for i in [&older, &newer, &expired, &elsewhere] {
        store
            .create_invite(i.clone(), audit("invite.create"))
            .await
            .unwrap();
    }
    assert_eq!(all_audit(&*store).await[0].detail, "role viewer");
    let lost = invite(WorkspaceId::new(), Role::Viewer, ann.id, Duration::ZERO);
    assert!(matches!(
        store
            .create_invite(lost.clone(), audit("invite.create"))
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.find_invite(lost.token_hash).await.unwrap(), None);
    assert_eq!(
        store.find_invite(older.token_hash).await.unwrap(),
        Some(older.clone())
    );
    assert_eq!(
        store.find_invite(expired.token_hash).await.unwrap(),
        Some(expired.clone())
    );
    let t = now();
    assert_eq!(
        store.list_open_invites(ws.id, t).await.unwrap(),
        vec![newer.clone(), older.clone()]
    );
    // Open means strictly before the expiry.
    assert!(
        store
            .list_open_invites(ws.id, newer.expires_at)
            .await
            .unwrap()
            .is_empty()
    );

    // Accepting adds the member with the invite's role and uses the invite up.
    let joined = store
        .accept_invite(older.token_hash, bo.id, t, audit("invite.accept"))
        .await
        .unwrap();
    assert_eq!(joined.workspace_id, ws.id);
    assert_eq!(joined.user_id, bo.id);
    assert_eq!(joined.role, Role::Editor);
    assert_eq!(joined.joined_at, t);
    assert_eq!(store.find_member(ws.id, bo.id).await.unwrap(), Some(joined));
    let used = store.find_invite(older.token_hash).await.unwrap().unwrap();
    assert_eq!(used.accepted_by, Some(bo.id));
    assert_eq!(used.accepted_at, Some(t));
    assert_eq!(
        store.list_open_invites(ws.id, t).await.unwrap(),
        vec![newer.clone()]
    );
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "invite.accept");
    assert_eq!(event.target, Some(format!("workspace:{}", ws.id)));
    assert_eq!(
        event.detail,
        format!("joined as editor by invite {}", older.id)
    );

    // A used, expired or unknown invite is NotFound and changes nothing.
    let events = all_audit(&*store).await.len();
    for hash in [
        older.token_hash,
        expired.token_hash,
        SessionToken::generate().unwrap().hash(),
    ] {
        assert!(matches!(
            store
                .accept_invite(hash, cy.id, now(), audit("invite.accept"))
                .await,
            Err(Error::NotFound)
        ));
    }
    assert_eq!(store.find_member(ws.id, cy.id).await.unwrap(), None);
    assert_eq!(all_audit(&*store).await.len(), events);

    // An existing member cannot use an invite; it stays open for someone else.
    let err = store
        .accept_invite(newer.token_hash, bo.id, now(), audit("invite.accept"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { field: Some(f), message }
            if f == "invite" && message == "you are already a member of Team"),
        "{err:?}"
    );
    assert_eq!(
        store.find_member(ws.id, bo.id).await.unwrap().unwrap().role,
        Role::Editor
    );
    assert_eq!(
        store.find_invite(newer.token_hash).await.unwrap(),
        Some(newer.clone())
    );
    assert_eq!(all_audit(&*store).await.len(), events);

    // Revoking: only through the invite's own workspace.
    assert!(matches!(
        store
            .delete_invite(other.id, newer.id, audit("invite.delete"))
            .await,
        Err(Error::NotFound)
    ));
    assert!(store.find_invite(newer.token_hash).await.unwrap().is_some());
    store
        .delete_invite(ws.id, newer.id, audit("invite.delete"))
        .await
        .unwrap();
    assert_eq!(store.find_invite(newer.token_hash).await.unwrap(), None);
    assert!(
        store
            .list_open_invites(ws.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store
            .delete_invite(ws.id, newer.id, audit("invite.delete"))
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        store.list_open_invites(other.id, now()).await.unwrap(),
        vec![elsewhere]
    );
    // Invites touch no search index.
    assert_eq!(
        changes_of(&store, ChangeKind::Workspace).await,
        [ws.id.to_string(), other.id.to_string()]
    );
}

pub(super) async fn delete_workspace(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let bo = user(&store, "bo@example.org", "Bo").await;
    let ws = shared(&store, "Doomed", ann.id).await;
    let keep = shared(&store, "Kept", ann.id).await;
    join(&store, ws.id, bo.id, Role::Editor).await;
    let open = invite(ws.id, Role::Viewer, ann.id, Duration::ZERO);
    store
        .create_invite(open.clone(), audit("invite.create"))
        .await
        .unwrap();
    let new = |workspace: WorkspaceId, name: &str| NewTemplate {
        workspace_id: Some(workspace),
        content: TemplateContent {
            name: name.into(),
            ..TemplateContent::default()
        },
        message: String::new(),
        author: Some(ann.id),
    };
    let mut doomed = Vec::new();
    for name in ["One", "Two"] {
        let (t, _) = store
            .create_template(new(ws.id, name), audit("template.create"))
            .await
            .unwrap();
        doomed.push(t.id);
    }
    let t = doomed[0];
    let mut content = store.get_version(t, 1).await.unwrap().content;
    content.name = "One v2".into();
    store
        .save_version(t, 1, content, "v2".into(), Some(ann.id))
        .await
        .unwrap();
    store
        .set_label(t, "production", 2, audit("label.set"))
        .await
        .unwrap();
    let (kept, _) = store
        .create_template(new(keep.id, "Safe"), audit("template.create"))
        .await
        .unwrap();
    let seq = store
        .list_changes(0, 1000)
        .await
        .unwrap()
        .last()
        .unwrap()
        .seq;

    store
        .delete_workspace(ws.id, audit("workspace.delete"))
        .await
        .unwrap();
    assert!(matches!(
        store.get_workspace(ws.id).await,
        Err(Error::NotFound)
    ));
    let listed = store.list_workspaces_for(ann.id).await.unwrap();
    assert_eq!(listed, vec![(keep.clone(), Role::Owner)]);
    assert!(store.list_workspaces_for(bo.id).await.unwrap().is_empty());
    assert_eq!(store.find_member(ws.id, bo.id).await.unwrap(), None);
    assert!(store.list_members(ws.id).await.unwrap().is_empty());
    assert_eq!(store.find_invite(open.token_hash).await.unwrap(), None);
    assert!(
        store
            .list_open_invites(ws.id, now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list_templates(Some(ws.id)).await.unwrap().is_empty());
    for id in &doomed {
        assert!(matches!(
            store.get_template(*id).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            store.list_versions(*id).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            store.get_version(*id, 1).await,
            Err(Error::NotFound)
        ));
    }
    assert_eq!(store.get_template(kept.id).await.unwrap(), kept);
    assert_eq!(
        store.list_templates(Some(keep.id)).await.unwrap(),
        vec![kept]
    );
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "workspace.delete");
    assert_eq!(event.detail, "deleted Doomed");

    // Every template in it was logged, then the workspace.
    let logged: Vec<(ChangeKind, String)> = store
        .list_changes(seq, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.id))
        .collect();
    doomed.sort();
    let mut expected: Vec<(ChangeKind, String)> = doomed
        .iter()
        .map(|id| (ChangeKind::Template, id.to_string()))
        .collect();
    expected.push((ChangeKind::Workspace, ws.id.to_string()));
    assert_eq!(logged, expected);

    assert!(matches!(
        store
            .delete_workspace(ws.id, audit("workspace.delete"))
            .await,
        Err(Error::NotFound)
    ));
}
