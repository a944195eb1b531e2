//! Conformance cases for user accounts: create, find, uniqueness, the first-user race,
//! updates and paging.

use super::*;

pub(super) async fn create_get_find(store: Arc<dyn Store>) {
    let mut new = new_user("  Ann.Lee@Example.ORG ", "Ann Lee");
    new.role = InstanceRole::Admin;
    let ann = store.create_user(new, audit("user.create")).await.unwrap();
    assert_eq!(ann.email.as_str(), "Ann.Lee@Example.ORG");
    assert_eq!(ann.name.as_str(), "Ann Lee");
    assert_eq!(ann.role, InstanceRole::Admin);
    assert!(!ann.disabled);
    assert_eq!(ann.password_hash.as_deref(), Some("x"));
    assert_eq!(ann.created_at, ann.updated_at);

    let mut no_password = new_user("bo@example.org", "Bo");
    no_password.password_hash = None;
    let bo = store
        .create_user(no_password, audit("user.create"))
        .await
        .unwrap();

    // Struct equality also proves that timestamps round-trip exactly.
    assert_eq!(store.get_user(ann.id).await.unwrap(), ann);
    assert_eq!(store.get_user(bo.id).await.unwrap(), bo);
    assert_eq!(store.get_user(bo.id).await.unwrap().password_hash, None);
    assert!(matches!(
        store.get_user(UserId::new()).await,
        Err(Error::NotFound)
    ));

    let key = "ANN.LEE@example.org".to_lowercase();
    assert_eq!(store.find_user_by_email(&key).await.unwrap(), Some(ann));
    assert_eq!(
        store.find_user_by_email("bo@example.org").await.unwrap(),
        Some(bo)
    );
    assert_eq!(
        store
            .find_user_by_email("nobody@example.org")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count_users().await.unwrap(), 2);
}

pub(super) async fn duplicate_email(store: Arc<dyn Store>) {
    let first = store
        .create_user(new_user("cy@example.org", "Cy"), audit("user.create"))
        .await
        .unwrap();
    let err = store
        .create_user(new_user("CY@Example.org", "Other Cy"), audit("user.create"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(err.field(), Some("email"));

    // Racing sign-ups with one address (in different cases): one account, clean conflicts.
    let start = warm_up(&store).await;
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        racers.spawn(async move {
            let email = if i % 2 == 0 {
                "Dee@Example.org"
            } else {
                "dee@example.ORG"
            };
            start.wait().await;
            store
                .create_user(new_user(email, &format!("Dee {i}")), audit("user.create"))
                .await
        });
    }
    let mut created = 0;
    while let Some(joined) = racers.join_next().await {
        match joined.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert_eq!(e.field(), Some("email"), "{e:?}"),
        }
    }
    assert_eq!(created, 1);

    // Nothing from the refused attempts was stored.
    assert_eq!(store.count_users().await.unwrap(), 2);
    assert_eq!(
        store.find_user_by_email("cy@example.org").await.unwrap(),
        Some(first)
    );
    assert_eq!(all_audit(&*store).await.len(), 2);
    assert_eq!(store.list_changes(0, 100).await.unwrap().len(), 2);
}

pub(super) async fn first_user_race(store: Arc<dyn Store>) {
    let start = warm_up(&store).await;
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        racers.spawn(async move {
            let new = new_user(&format!("admin{i}@example.org"), "Admin");
            start.wait().await;
            store.create_first_user(new, audit("setup")).await
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = racers.join_next().await {
        match joined.unwrap() {
            Ok(user) => winners.push(user),
            Err(Error::Conflict { field, message }) => {
                assert_eq!(field, None);
                assert_eq!(message, "setup is already done");
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
    let listed = store.list_users(None, 10).await.unwrap();
    assert_eq!(listed.items, winners);

    let again = store
        .create_first_user(new_user("late@example.org", "Late"), audit("setup"))
        .await;
    assert!(
        matches!(&again, Err(Error::Conflict { field: None, message }) if message == "setup is already done")
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(all_audit(&*store).await.len(), 1);
    assert_eq!(store.list_changes(0, 100).await.unwrap().len(), 1);
}

pub(super) async fn update_user_rules(store: Arc<dyn Store>) {
    let user = store
        .create_user(new_user("eve@example.org", "Eve"), audit("user.create"))
        .await
        .unwrap();
    // Fay is an admin, so Eve (promoted below) is never the last one and can be disabled.
    let fay = NewUser {
        role: InstanceRole::Admin,
        ..new_user("fay@example.org", "Fay")
    };
    let other = store.create_user(fay, audit("user.create")).await.unwrap();
    let t = now();
    let s1 = session_for(user.id, t - Duration::minutes(2));
    let s2 = session_for(user.id, t - Duration::minutes(1));
    let theirs = session_for(other.id, t);
    for s in [&s1, &s2, &theirs] {
        store.create_session(s.clone()).await.unwrap();
    }
    let count = |id: UserId| {
        let store = store.clone();
        async move { store.list_sessions(id).await.unwrap().len() }
    };
    let update = |f: fn(&mut UserUpdate)| {
        let mut u = UserUpdate::default();
        f(&mut u);
        u
    };
    let by_user = |action: &str| NewAuditEvent::new(Some(user.id), action);

    // A new name keeps the sessions.
    let renamed = store
        .update_user(
            user.id,
            update(|u| u.name = Some(DisplayName::parse("Eve Ng").unwrap())),
            by_user("user.rename"),
        )
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Eve Ng");
    assert_eq!(renamed.email, user.email);
    assert_eq!(renamed.created_at, user.created_at);
    assert!(renamed.updated_at >= user.updated_at);
    assert_eq!(store.get_user(user.id).await.unwrap(), renamed);
    assert_eq!(count(user.id).await, 2);

    // So does a new role, and enabling an enabled account.
    let promoted = store
        .update_user(
            user.id,
            update(|u| u.role = Some(InstanceRole::Admin)),
            by_user("user.role"),
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, InstanceRole::Admin);
    assert_eq!(promoted.name.as_str(), "Eve Ng");
    store
        .update_user(
            user.id,
            update(|u| u.disabled = Some(false)),
            by_user("user.enable"),
        )
        .await
        .unwrap();
    assert_eq!(count(user.id).await, 2);

    // Disabling ends all of this user's sessions, and only theirs.
    let disabled = store
        .update_user(
            user.id,
            update(|u| u.disabled = Some(true)),
            by_user("user.disable"),
        )
        .await
        .unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.get_user(user.id).await.unwrap(), disabled);
    assert_eq!(count(user.id).await, 0);
    assert_eq!(store.find_session(s1.token_hash).await.unwrap(), None);
    assert_eq!(
        store.find_session(theirs.token_hash).await.unwrap(),
        Some(theirs.clone())
    );

    // A disabled user gets no session; once enabled again they do.
    let s3 = session_for(user.id, now());
    assert!(matches!(
        store.create_session(s3.clone()).await,
        Err(Error::Conflict { .. })
    ));
    let enabled = store
        .update_user(
            user.id,
            update(|u| u.disabled = Some(false)),
            by_user("user.enable"),
        )
        .await
        .unwrap();
    assert!(!enabled.disabled);
    store.create_session(s3.clone()).await.unwrap();
    assert_eq!(store.list_sessions(user.id).await.unwrap(), vec![s3]);

    // A new password ends them.
    let repassed = store
        .update_user(
            user.id,
            update(|u| u.password_hash = Some("y".into())),
            by_user("user.password"),
        )
        .await
        .unwrap();
    assert_eq!(repassed.password_hash.as_deref(), Some("y"));
    assert!(!repassed.disabled);
    assert_eq!(repassed.role, InstanceRole::Admin);
    assert_eq!(store.get_user(user.id).await.unwrap(), repassed);
    assert_eq!(count(user.id).await, 0);
    assert_eq!(count(other.id).await, 1);
    assert_eq!(store.get_user(other.id).await.unwrap(), other);

    // An unknown user is NotFound and records nothing.
    let events = all_audit(&*store).await.len();
    let changes = store.list_changes(0, 100).await.unwrap().len();
    let missing = store
        .update_user(
            UserId::new(),
            update(|u| u.disabled = Some(true)),
            audit("user.disable"),
        )
        .await;
    assert!(matches!(missing, Err(Error::NotFound)));
    assert_eq!(all_audit(&*store).await.len(), events);
    assert_eq!(store.list_changes(0, 100).await.unwrap().len(), changes);
}

pub(super) async fn list_users_paging(store: Arc<dyn Store>) {
    let mut created = Vec::new();
    for i in 0..5 {
        let user = store
            .create_user(
                new_user(&format!("pager{i}@example.org"), &format!("Pager {i}")),
                audit("user.create"),
            )
            .await
            .unwrap();
        created.push(user);
    }
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_users(after, 2).await.unwrap();
        pages.push(page.items.clone());
        match page.next {
            Some(cursor) => {
                assert_eq!(Some(cursor), page.items.last().map(|u| u.id));
                after = Some(cursor);
            }
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    // Every user once, in creation order, equal to what create returned.
    assert_eq!(pages.concat(), created);

    let exact = store.list_users(None, 5).await.unwrap();
    assert_eq!(exact.items, created);
    assert_eq!(exact.next, None);
    // A zero limit is clamped to one.
    let one = store.list_users(None, 0).await.unwrap();
    assert_eq!(one.items, created[..1]);
    assert_eq!(one.next, Some(created[0].id));
    let past_end = store.list_users(Some(created[4].id), 2).await.unwrap();
    assert!(past_end.items.is_empty());
    assert_eq!(past_end.next, None);
}

pub(super) async fn last_admin_stays(store: Arc<dyn Store>) {
    let admin = |email: &str| NewUser {
        role: InstanceRole::Admin,
        ..new_user(email, "Admin")
    };
    let a = store
        .create_user(admin("a@example.org"), audit("user.create"))
        .await
        .unwrap();
    let demote = || UserUpdate {
        role: Some(InstanceRole::User),
        ..UserUpdate::default()
    };
    let disable = || UserUpdate {
        disabled: Some(true),
        ..UserUpdate::default()
    };
    // The only admin can be neither demoted nor disabled; nothing changes.
    for update in [demote(), disable()] {
        assert!(matches!(
            store.update_user(a.id, update, audit("user.role")).await,
            Err(Error::Conflict { .. })
        ));
    }
    assert_eq!(store.get_user(a.id).await.unwrap(), a);

    // Two admins demoting each other at once leave one admin.
    let b = store
        .create_user(admin("b@example.org"), audit("user.create"))
        .await
        .unwrap();
    let barrier = warm_up(&store).await;
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, barrier) = (store.clone(), barrier.clone());
        let target = if i % 2 == 0 { a.id } else { b.id };
        racers.spawn(async move {
            barrier.wait().await;
            store
                .update_user(target, demote(), audit("user.role"))
                .await
        });
    }
    while let Some(joined) = racers.join_next().await {
        match joined.unwrap() {
            Ok(_) | Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    let mut admins = 0;
    for id in [a.id, b.id] {
        admins += usize::from(store.get_user(id).await.unwrap().is_admin());
    }
    assert_eq!(admins, 1);
}
