//! Conformance cases for the audit log and the change log.

use super::*;

pub(super) async fn audit_events(store: Arc<dyn Store>) {
    let user = store
        .create_user(new_user("ida@example.org", "Ida"), audit("user.create"))
        .await
        .unwrap();
    store
        .update_user(
            user.id,
            UserUpdate {
                name: Some(DisplayName::parse("Ida B").unwrap()),
                ..UserUpdate::default()
            },
            NewAuditEvent::new(Some(user.id), "user.rename")
                .target(format!("user:{}", user.id))
                .detail("renamed"),
        )
        .await
        .unwrap();
    let mut own = Vec::new();
    for i in 0..3 {
        let event = store
            .create_audit_event(
                NewAuditEvent::new(None, &format!("login.failed{i}"))
                    .ip(Some("198.51.100.4".into()))
                    .detail(format!("attempt {i}")),
            )
            .await
            .unwrap();
        own.push(event);
    }

    let all = all_audit(&*store).await;
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "login.failed2",
            "login.failed1",
            "login.failed0",
            "user.rename",
            "user.create"
        ]
    );
    // Returned events round-trip exactly (ids, times, optional fields).
    assert_eq!(all[0], own[2]);
    assert_eq!(all[2], own[0]);
    assert_eq!(own[0].target, None);
    assert_eq!(own[0].ip.as_deref(), Some("198.51.100.4"));
    // create_user fills in the target; update_user keeps the caller's.
    let create = &all[4];
    assert_eq!(create.target, Some(format!("user:{}", user.id)));
    assert_eq!(create.actor, None);
    assert_eq!(create.at, user.created_at);
    let rename = &all[3];
    assert_eq!(rename.actor, Some(user.id));
    assert_eq!(rename.detail, "renamed");
    assert_eq!(rename.at, store.get_user(user.id).await.unwrap().updated_at);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));

    // Paging newest first with a `before` cursor.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_audit_events(&Default::default(), before, 2)
            .await
            .unwrap();
        pages.push(page.items.clone());
        match page.next {
            Some(cursor) => {
                assert_eq!(Some(cursor), page.items.last().map(|e| e.id));
                before = Some(cursor);
            }
            None => break,
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(pages.concat(), all);
    let exact = store
        .list_audit_events(&Default::default(), None, 5)
        .await
        .unwrap();
    assert_eq!(exact.items, all);
    assert_eq!(exact.next, None);
}

pub(super) async fn change_log(store: Arc<dyn Store>) {
    assert!(store.list_changes(0, 100).await.unwrap().is_empty());
    assert_eq!(store.last_change_seq().await.unwrap(), 0);
    let a = store
        .create_user(new_user("jo@example.org", "Jo"), audit("user.create"))
        .await
        .unwrap();
    let b = store
        .create_user(new_user("kim@example.org", "Kim"), audit("user.create"))
        .await
        .unwrap();
    store
        .update_user(
            a.id,
            UserUpdate {
                disabled: Some(true),
                ..UserUpdate::default()
            },
            audit("user.disable"),
        )
        .await
        .unwrap();

    let changes = store.list_changes(0, 100).await.unwrap();
    let ids: Vec<String> = changes.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, [a.id.to_string(), b.id.to_string(), a.id.to_string()]);
    assert!(
        changes
            .iter()
            .all(|c| c.kind == promptyard::domain::ChangeKind::User)
    );
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.last_change_seq().await.unwrap(), changes[2].seq);

    assert_eq!(
        store.list_changes(changes[0].seq, 100).await.unwrap(),
        changes[1..]
    );
    assert_eq!(store.list_changes(0, 1).await.unwrap(), changes[..1]);
    assert!(
        store
            .list_changes(changes[2].seq, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Concurrent writers: every entry appears once, seqs strictly increasing.
    let start = warm_up(&store).await;
    let mut writers = JoinSet::new();
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        writers.spawn(async move {
            start.wait().await;
            store
                .create_user(
                    new_user(&format!("w{i}@example.org"), "Writer"),
                    audit("user.create"),
                )
                .await
                .unwrap()
                .id
        });
    }
    let mut written = Vec::new();
    while let Some(joined) = writers.join_next().await {
        written.push(joined.unwrap().to_string());
    }
    // Tail with a small page size, as the indexer does.
    let mut tailed = Vec::new();
    let mut after = changes[2].seq;
    loop {
        let batch = store.list_changes(after, 3).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = last.seq;
        tailed.extend(batch);
    }
    assert!(tailed.windows(2).all(|w| w[0].seq < w[1].seq));
    let mut tailed_ids: Vec<String> = tailed.into_iter().map(|c| c.id).collect();
    tailed_ids.sort();
    written.sort();
    assert_eq!(tailed_ids, written);
}
