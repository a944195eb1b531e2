//! The store conformance suite: one set of cases that both backends must pass.
//!
//! Each case gets a fresh, empty store from its backend's factory and asserts on what is stored
//! afterwards, so cases never depend on each other. redb always runs; Postgres runs when
//! `PROMPTYARD_TEST_POSTGRES_URL` points at a server where the test may create databases (each
//! case gets its own `promptyard_test_<uuid>` database, dropped at the end).

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use promptyard::clock::Clock;
use promptyard::domain::{
    AuditEvent, DisplayName, Email, InstanceRole, NewAuditEvent, NewUser, Session, SessionId,
    SessionToken, UserId, UserUpdate,
};
use promptyard::error::Error;
use promptyard::store::Store;
use promptyard::store::postgres::PostgresStore;
use promptyard::store::redb::RedbStore;
use sqlx::Connection;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use uuid::Uuid;

const POSTGRES_ENV: &str = "PROMPTYARD_TEST_POSTGRES_URL";

/// Makes a fresh, empty store of one backend.
type Fresh = Arc<dyn Fn() -> BoxFuture<'static, Arc<dyn Store>> + Send + Sync>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_redb() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let fresh: Fresh = Arc::new(move || {
        let path = dir.path().join(format!("{}.redb", Uuid::new_v4().simple()));
        async move {
            let store =
                tokio::task::spawn_blocking(move || RedbStore::open(&path, Clock::system()))
                    .await
                    .unwrap()
                    .unwrap();
            Arc::new(store) as Arc<dyn Store>
        }
        .boxed()
    });
    run_all(fresh, "redb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_postgres() {
    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        println!("skipped: set PROMPTYARD_TEST_POSTGRES_URL to run the Postgres conformance suite");
        return;
    };
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let fresh: Fresh = {
        let (server, created) = (server.clone(), created.clone());
        Arc::new(move || {
            let (server, created) = (server.clone(), created.clone());
            async move {
                let name = format!("promptyard_test_{}", Uuid::new_v4().simple());
                admin_sql(&server, &format!("CREATE DATABASE \"{name}\"")).await;
                created.lock().unwrap().push(name.clone());
                let mut url = url::Url::parse(&server).unwrap();
                url.set_path(&format!("/{name}"));
                let store = PostgresStore::connect(url.as_str(), Clock::system())
                    .await
                    .unwrap();
                Arc::new(store) as Arc<dyn Store>
            }
            .boxed()
        })
    };
    // Run in a task so a failing case still lets us drop the databases before re-panicking.
    let outcome = tokio::spawn(run_all(fresh, "postgres")).await;
    let names = std::mem::take(&mut *created.lock().unwrap());
    for name in names {
        admin_sql(
            &server,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        )
        .await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs one statement on the server's maintenance database (outside any transaction).
async fn admin_sql(server: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::Executor::execute(&mut conn, sql).await.unwrap();
    conn.close().await.unwrap();
}

/// Every case, each on a fresh store.
async fn run_all(fresh: Fresh, backend: &'static str) {
    let store = fresh().await;
    assert_eq!(store.backend(), backend);
    store.ping().await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 0);

    create_get_find(fresh().await).await;
    duplicate_email(fresh().await).await;
    first_user_race(fresh().await).await;
    update_user_rules(fresh().await).await;
    sessions(fresh().await).await;
    audit_events(fresh().await).await;
    list_users_paging(fresh().await).await;
    change_log(fresh().await).await;
}

fn new_user(email: &str, name: &str) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        name: DisplayName::parse(name).unwrap(),
        role: InstanceRole::User,
        password_hash: Some("x".into()),
    }
}

fn audit(action: &str) -> NewAuditEvent {
    NewAuditEvent::new(None, action)
}

fn now() -> OffsetDateTime {
    Clock::system().now()
}

fn session_for(user: UserId, created_at: OffsetDateTime) -> Session {
    Session {
        id: SessionId::new(),
        token_hash: SessionToken::generate().unwrap().hash(),
        user_id: user,
        created_at,
        last_seen_at: created_at,
        expires_at: created_at + Duration::days(30),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("conformance/1.0".into()),
    }
}

/// How many tasks race in the concurrency cases.
const RACERS: usize = 8;

/// Makes a pooled backend open several connections (by reading concurrently), so racers really
/// overlap instead of queueing behind one connection; returns the barrier they start from.
async fn warm_up(store: &Arc<dyn Store>) -> Arc<Barrier> {
    let mut readers = JoinSet::new();
    for _ in 0..RACERS {
        let store = store.clone();
        readers.spawn(async move { store.count_users().await.unwrap() });
    }
    while let Some(joined) = readers.join_next().await {
        joined.unwrap();
    }
    Arc::new(Barrier::new(RACERS))
}

async fn all_audit(store: &dyn Store) -> Vec<AuditEvent> {
    store.list_audit_events(None, 200).await.unwrap().items
}

async fn create_get_find(store: Arc<dyn Store>) {
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

async fn duplicate_email(store: Arc<dyn Store>) {
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

async fn first_user_race(store: Arc<dyn Store>) {
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

async fn update_user_rules(store: Arc<dyn Store>) {
    let user = store
        .create_user(new_user("eve@example.org", "Eve"), audit("user.create"))
        .await
        .unwrap();
    let other = store
        .create_user(new_user("fay@example.org", "Fay"), audit("user.create"))
        .await
        .unwrap();
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

    // Re-enabling does not end a session made since.
    let s3 = session_for(user.id, now());
    store.create_session(s3.clone()).await.unwrap();
    let enabled = store
        .update_user(
            user.id,
            update(|u| u.disabled = Some(false)),
            by_user("user.enable"),
        )
        .await
        .unwrap();
    assert!(!enabled.disabled);
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

async fn sessions(store: Arc<dyn Store>) {
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
    for s in [&expired, &at_edge, &live] {
        store.create_session(s.clone()).await.unwrap();
    }
    assert_eq!(store.delete_expired_sessions(t).await.unwrap(), 2);
    assert_eq!(store.find_session(expired.token_hash).await.unwrap(), None);
    assert_eq!(store.find_session(at_edge.token_hash).await.unwrap(), None);
    assert_eq!(store.list_sessions(ann.id).await.unwrap(), vec![live]);
    assert_eq!(store.list_sessions(bob.id).await.unwrap(), vec![bobs]);
    assert_eq!(store.delete_expired_sessions(t).await.unwrap(), 0);
}

async fn audit_events(store: Arc<dyn Store>) {
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
        let page = store.list_audit_events(before, 2).await.unwrap();
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
    let exact = store.list_audit_events(None, 5).await.unwrap();
    assert_eq!(exact.items, all);
    assert_eq!(exact.next, None);
}

async fn list_users_paging(store: Arc<dyn Store>) {
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

async fn change_log(store: Arc<dyn Store>) {
    assert!(store.list_changes(0, 100).await.unwrap().is_empty());
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

#[tokio::test]
async fn postgres_connect_error_names_host_not_password() {
    // Port 1 on loopback refuses connections; no server is needed.
    let url = "postgres://ann:hunter2secret@127.0.0.1:1/promptyard";
    let Err(err) = PostgresStore::connect(url, Clock::system()).await else {
        panic!("connected to port 1");
    };
    let mut text = format!("{err:?}");
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        text.push_str(&format!(" | {e}"));
        source = e.source();
    }
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(text.contains("promptyard"), "{text}");
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(text.contains("refused"), "{text}");
}
