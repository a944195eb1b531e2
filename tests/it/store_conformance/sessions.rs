//! Conformance cases for sessions.

use super::*;

pub(super) async fn sessions(store: Arc<dyn Store>) {
    let ann = store
        .create_user(new_user("gus@example.org", "Gus"), audit("user.create"))
        .await
        .unwrap();
    let bob = store
        .create_user(new_user("hal@example.org", "Hal"), audit("user.create"))
        .await
        .unwrap();
    let t = now();
    let oldest = session_for(ann.id, t - Duration::hours(2));
    let middle = session_for(ann.id, t - Duration::hours(1));
    let mut newest = session_for(ann.id, t);
    newest.ip = None;
    newest.user_agent = None;
    let bobs = session_for(bob.id, t);
    for s in [&middle, &oldest, &newest, &bobs] {
        store.create_session(s.clone()).await.unwrap();
    }

    // Find round-trips every field; an unknown hash is None.
    assert_eq!(
        store.find_session(middle.token_hash).await.unwrap(),
        Some(middle.clone())
    );
    assert_eq!(
        store.find_session(newest.token_hash).await.unwrap(),
        Some(newest.clone())
    );
    let unknown = SessionToken::generate().unwrap().hash();
    assert_eq!(store.find_session(unknown).await.unwrap(), None);

    // Touch moves last_seen_at only; touching an unknown session is not an error.
    let seen = t + Duration::seconds(30);
    store.touch_session(oldest.token_hash, seen).await.unwrap();
    let oldest = Session {
        last_seen_at: seen,
        ..oldest
    };
    assert_eq!(
        store.find_session(oldest.token_hash).await.unwrap(),
        Some(oldest.clone())
    );
    store.touch_session(unknown, seen).await.unwrap();

    assert_eq!(
        store.list_sessions(ann.id).await.unwrap(),
        vec![newest.clone(), middle.clone(), oldest.clone()]
    );
    assert!(store.list_sessions(UserId::new()).await.unwrap().is_empty());

    // Another user's session id is NotFound for ann, and nothing is deleted.
    assert!(matches!(
        store.delete_session(ann.id, bobs.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.list_sessions(ann.id).await.unwrap().len(), 3);
    assert_eq!(
        store.list_sessions(bob.id).await.unwrap(),
        vec![bobs.clone()]
    );

    store.delete_session(ann.id, middle.id).await.unwrap();
    assert_eq!(store.find_session(middle.token_hash).await.unwrap(), None);
    assert_eq!(
        store.list_sessions(ann.id).await.unwrap(),
        vec![newest.clone(), oldest.clone()]
    );
    assert!(matches!(
        store.delete_session(ann.id, middle.id).await,
        Err(Error::NotFound)
    ));

    // Ending all but one, then all.
    assert_eq!(
        store
            .delete_user_sessions(ann.id, Some(newest.id))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.list_sessions(ann.id).await.unwrap(),
        vec![newest.clone()]
    );
    assert_eq!(store.delete_user_sessions(ann.id, None).await.unwrap(), 1);
    assert!(store.list_sessions(ann.id).await.unwrap().is_empty());
    assert_eq!(store.delete_user_sessions(ann.id, None).await.unwrap(), 0);
    assert_eq!(
        store.list_sessions(bob.id).await.unwrap(),
        vec![bobs.clone()]
    );

    // Expiry purge removes exactly the sessions expired at `now` (inclusive).
    let mut expired = session_for(ann.id, t - Duration::days(31));
    expired.expires_at = t - Duration::minutes(1);
    let mut at_edge = session_for(bob.id, t - Duration::days(30));
    at_edge.expires_at = t;
    let mut live = session_for(ann.id, t - Duration::minutes(5));
    live.expires_at = t + Duration::minutes(1);
    // Idle: not expired, but last seen two hours ago with a one-hour idle cut-off.
    let mut idle = session_for(ann.id, t - Duration::hours(2));
    idle.expires_at = t + Duration::days(1);
    for s in [&expired, &at_edge, &live, &idle] {
        store.create_session(s.clone()).await.unwrap();
    }
    let idle_before = t - Duration::hours(1);
    assert_eq!(
        store.delete_expired_sessions(t, idle_before).await.unwrap(),
        3
    );
    assert_eq!(store.find_session(expired.token_hash).await.unwrap(), None);
    assert_eq!(store.find_session(at_edge.token_hash).await.unwrap(), None);
    assert_eq!(store.find_session(idle.token_hash).await.unwrap(), None);
    assert_eq!(store.list_sessions(ann.id).await.unwrap(), vec![live]);
    assert_eq!(store.list_sessions(bob.id).await.unwrap(), vec![bobs]);
    assert_eq!(
        store.delete_expired_sessions(t, idle_before).await.unwrap(),
        0
    );

    // A session for a disabled or unknown user is refused, so a login racing a disable loses.
    let off = UserUpdate {
        disabled: Some(true),
        ..UserUpdate::default()
    };
    store
        .update_user(bob.id, off, audit("user.disable"))
        .await
        .unwrap();
    for user in [bob.id, UserId::new()] {
        assert!(matches!(
            store.create_session(session_for(user, t)).await,
            Err(Error::Conflict { .. })
        ));
    }
    assert!(store.list_sessions(bob.id).await.unwrap().is_empty());
}
