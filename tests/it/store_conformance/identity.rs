//! Conformance cases for linked identities, profile pictures on the user record, and audit
//! log filters.

use promptyard::domain::{AuditFilter, Identity, WorkspaceId};

use super::*;

fn identity(provider: &str, subject: &str, user: UserId) -> Identity {
    Identity {
        provider: provider.into(),
        subject: subject.into(),
        user_id: user,
        email: Some(format!("{subject}@corp.test")),
        created_at: now(),
        last_login_at: None,
    }
}

fn conflict_field(e: Error) -> Option<String> {
    match e {
        Error::Conflict { field, .. } => field,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub(super) async fn identities(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann@corp.test", "Ann"), audit("user.create"))
        .await
        .unwrap();
    let bo = store
        .create_user(new_user("bo@corp.test", "Bo"), audit("user.create"))
        .await
        .unwrap();
    assert!(
        store
            .find_identity("corp", "ann-1")
            .await
            .unwrap()
            .is_none()
    );

    let linked = store
        .create_identity(identity("corp", "ann-1", ann.id), audit("identity.link"))
        .await
        .unwrap();
    let found = store.find_identity("corp", "ann-1").await.unwrap().unwrap();
    assert_eq!(found, linked);
    assert_eq!(found.user_id, ann.id);
    // Subjects are per provider: the same subject at another provider is another account.
    assert!(
        store
            .find_identity("mail", "ann-1")
            .await
            .unwrap()
            .is_none()
    );

    // One provider account links to one user, and a user links one account per provider.
    let taken = store
        .create_identity(identity("corp", "ann-1", bo.id), audit("identity.link"))
        .await
        .unwrap_err();
    assert_eq!(conflict_field(taken).as_deref(), Some("identity"));
    let second = store
        .create_identity(identity("corp", "ann-2", ann.id), audit("identity.link"))
        .await
        .unwrap_err();
    assert_eq!(conflict_field(second).as_deref(), Some("identity"));
    let missing = store
        .create_identity(
            identity("corp", "ghost", UserId::new()),
            audit("identity.link"),
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound), "{missing:?}");

    store
        .create_identity(identity("mail", "ann-m", ann.id), audit("identity.link"))
        .await
        .unwrap();
    let mine = store.list_identities(ann.id).await.unwrap();
    let providers: Vec<&str> = mine.iter().map(|i| i.provider.as_str()).collect();
    assert_eq!(providers, ["corp", "mail"]);
    assert!(store.list_identities(bo.id).await.unwrap().is_empty());

    // A login updates the time and the email the provider reports.
    let at = now();
    store
        .touch_identity("corp", "ann-1", Some("ann.new@corp.test".into()), at)
        .await
        .unwrap();
    let touched = store.find_identity("corp", "ann-1").await.unwrap().unwrap();
    assert_eq!(touched.last_login_at, Some(at));
    assert_eq!(touched.email.as_deref(), Some("ann.new@corp.test"));

    // An account made through a provider has no password, so its only identity stays linked.
    let cy = store
        .create_user_with_identity(
            NewUser {
                password_hash: None,
                ..new_user("cy@corp.test", "Cy")
            },
            identity("corp", "cy-1", UserId::new()),
            audit("user.register"),
        )
        .await
        .unwrap();
    let cy_link = store.find_identity("corp", "cy-1").await.unwrap().unwrap();
    assert_eq!(cy_link.user_id, cy.id);
    assert_eq!(cy.password_hash, None);
    let last = store
        .delete_identity(cy.id, "corp", true, audit("identity.unlink"))
        .await
        .unwrap_err();
    assert_eq!(conflict_field(last).as_deref(), Some("identity"));
    assert!(store.find_identity("corp", "cy-1").await.unwrap().is_some());
    // A taken email makes neither the account nor the link.
    let dup = store
        .create_user_with_identity(
            new_user("CY@corp.test", "Cy again"),
            identity("corp", "cy-2", UserId::new()),
            audit("user.register"),
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_field(dup).as_deref(), Some("email"));
    assert!(store.find_identity("corp", "cy-2").await.unwrap().is_none());

    // Ann has a password and two identities: one may go; with password login turned off, the
    // password does not count, so the last identity stays.
    store
        .delete_identity(ann.id, "mail", false, audit("identity.unlink"))
        .await
        .unwrap();
    let refused = store
        .delete_identity(ann.id, "corp", false, audit("identity.unlink"))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }));
    store
        .delete_identity(ann.id, "corp", true, audit("identity.unlink"))
        .await
        .unwrap();
    assert!(store.list_identities(ann.id).await.unwrap().is_empty());
    assert!(
        store
            .find_identity("corp", "ann-1")
            .await
            .unwrap()
            .is_none()
    );
    let gone = store
        .delete_identity(ann.id, "corp", true, audit("identity.unlink"))
        .await
        .unwrap_err();
    assert!(matches!(gone, Error::NotFound));
    // The subject is free again for someone else.
    store
        .create_identity(identity("corp", "ann-1", bo.id), audit("identity.link"))
        .await
        .unwrap();

    // The profile picture is kept on the user and can be removed.
    let with = store
        .update_user(
            bo.id,
            UserUpdate {
                avatar: Some(Some("avatars/bo/1.png".into())),
                ..UserUpdate::default()
            },
            audit("user.avatar"),
        )
        .await
        .unwrap();
    assert_eq!(with.avatar.as_deref(), Some("avatars/bo/1.png"));
    assert_eq!(store.get_user(bo.id).await.unwrap().avatar, with.avatar);
    let renamed = store
        .update_user(
            bo.id,
            UserUpdate {
                name: Some(DisplayName::parse("Bo B").unwrap()),
                ..UserUpdate::default()
            },
            audit("user.rename"),
        )
        .await
        .unwrap();
    assert_eq!(
        renamed.avatar, with.avatar,
        "other updates keep the picture"
    );
    let without = store
        .update_user(
            bo.id,
            UserUpdate {
                avatar: Some(None),
                ..UserUpdate::default()
            },
            audit("user.avatar"),
        )
        .await
        .unwrap();
    assert_eq!(without.avatar, None);
    assert_eq!(store.get_user(bo.id).await.unwrap().avatar, None);
}

pub(super) async fn audit_filters(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("ann@corp.test", "Ann"), audit("user.create"))
        .await
        .unwrap();
    let (w1, w2) = (WorkspaceId::new(), WorkspaceId::new());
    let mut all = Vec::new();
    for (i, (actor, action, ws)) in [
        (Some(ann.id), "login", None),
        (None, "login.failed", None),
        (Some(ann.id), "member.role", Some(w1)),
        (Some(ann.id), "invite.create", Some(w2)),
        (None, "member.remove", Some(w1)),
        (Some(ann.id), "loginx", None),
    ]
    .into_iter()
    .enumerate()
    {
        let e = store
            .create_audit_event(
                NewAuditEvent::new(actor, action)
                    .workspace(ws)
                    .detail(format!("event {i}")),
            )
            .await
            .unwrap();
        all.push(e);
    }
    let list = |f: AuditFilter| {
        let store = store.clone();
        async move {
            let page = store.list_audit_events(&f, None, 50).await.unwrap();
            page.items
                .into_iter()
                .map(|e| e.detail)
                .filter(|d| d.starts_with("event"))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(all[2].workspace, Some(w1));
    assert_eq!(
        list(AuditFilter {
            workspace: Some(w1),
            ..AuditFilter::default()
        })
        .await,
        ["event 4", "event 2"]
    );
    assert_eq!(
        list(AuditFilter {
            actor: Some(ann.id),
            ..AuditFilter::default()
        })
        .await,
        ["event 5", "event 3", "event 2", "event 0"]
    );
    // An exact action, and a prefix (a trailing dot) that also takes the bare name.
    assert_eq!(
        list(AuditFilter {
            action: Some("login".into()),
            ..AuditFilter::default()
        })
        .await,
        ["event 0"]
    );
    assert_eq!(
        list(AuditFilter {
            action: Some("login.".into()),
            ..AuditFilter::default()
        })
        .await,
        ["event 1", "event 0"]
    );
    assert_eq!(
        list(AuditFilter {
            action: Some("member.".into()),
            workspace: Some(w1),
            actor: Some(ann.id),
            ..AuditFilter::default()
        })
        .await,
        ["event 2"]
    );
    // A time window: from is inclusive, to exclusive.
    assert_eq!(
        list(AuditFilter {
            from: Some(all[2].at),
            to: Some(all[4].at),
            ..AuditFilter::default()
        })
        .await,
        ["event 3", "event 2"]
    );
    assert!(
        list(AuditFilter {
            to: Some(all[0].at - Duration::days(1)),
            ..AuditFilter::default()
        })
        .await
        .is_empty()
    );
    // Paging under a filter: two a page, the cursor carries on where the last page stopped.
    let f = AuditFilter {
        action: Some("member.".into()),
        ..AuditFilter::default()
    };
    let first = store.list_audit_events(&f, None, 1).await.unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].detail, "event 4");
    let second = store.list_audit_events(&f, first.next, 1).await.unwrap();
    assert_eq!(second.items[0].detail, "event 2");
    assert!(second.next.is_none());
}
