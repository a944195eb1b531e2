//! The store conformance suite: one set of cases that both backends must pass.
//!
//! Each case gets a fresh, empty store from its backend's factory and asserts on what is stored
//! afterwards, so cases never depend on each other. redb always runs; Postgres runs when
//! `PROMPTYARD_TEST_POSTGRES_URL` points at a server where the test may create databases (each
//! case gets its own `promptyard_test_<uuid>` database, dropped at the end).

mod community;
mod gateway;
mod identity;
mod log;
mod sessions;
mod templates;
mod usage;
mod users;
mod workspaces;

use std::io::Write;
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
        // Written straight to stderr: the test harness captures println!, and a skip must show.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: set PROMPTYARD_TEST_POSTGRES_URL to run the Postgres conformance suite"
        );
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
    let _ = writeln!(
        std::io::stderr(),
        "conformance_postgres: running the store conformance suite against Postgres ({})",
        redact(&server)
    );
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

    users::create_get_find(fresh().await).await;
    users::duplicate_email(fresh().await).await;
    users::first_user_race(fresh().await).await;
    users::update_user_rules(fresh().await).await;
    users::last_admin_stays(fresh().await).await;
    sessions::sessions(fresh().await).await;
    log::audit_events(fresh().await).await;
    identity::identities(fresh().await).await;
    identity::audit_filters(fresh().await).await;
    users::list_users_paging(fresh().await).await;
    log::change_log(fresh().await).await;
    workspaces::personal_workspace(fresh().await).await;
    workspaces::shared_workspaces(fresh().await).await;
    workspaces::members(fresh().await).await;
    workspaces::invites(fresh().await).await;
    workspaces::delete_workspace(fresh().await).await;
    gateway::connections(fresh().await).await;
    gateway::runs(fresh().await).await;
    gateway::api_keys(fresh().await).await;
    gateway::governance(fresh().await).await;
    gateway::outbound_allowlist(fresh().await).await;
    usage::usage(fresh().await).await;
    usage::retention(fresh().await).await;
    templates::versions(fresh().await).await;
    templates::labels_move_delete(fresh().await).await;
    templates::import(fresh().await).await;
    templates::system_templates(fresh().await).await;
    templates::change_log_entries(fresh().await).await;
    community::prompts_visibility_and_moderation(fresh().await).await;
    community::ratings_sorting_and_uses(fresh().await).await;
    community::comments_and_flags(fresh().await).await;
}

pub(super) fn new_user(email: &str, name: &str) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        name: DisplayName::parse(name).unwrap(),
        role: InstanceRole::User,
        password_hash: Some("x".into()),
    }
}

pub(super) fn audit(action: &str) -> NewAuditEvent {
    NewAuditEvent::new(None, action)
}

pub(super) fn now() -> OffsetDateTime {
    Clock::system().now()
}

pub(super) fn session_for(user: UserId, created_at: OffsetDateTime) -> Session {
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
pub(super) const RACERS: usize = 8;

/// Makes a pooled backend open several connections (by reading concurrently), so racers really
/// overlap instead of queueing behind one connection; returns the barrier they start from.
pub(super) async fn warm_up(store: &Arc<dyn Store>) -> Arc<Barrier> {
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

pub(super) async fn all_audit(store: &dyn Store) -> Vec<AuditEvent> {
    store
        .list_audit_events(&Default::default(), None, 200)
        .await
        .unwrap()
        .items
}

/// The server URL without its password, for the log line.
fn redact(server: &str) -> String {
    match url::Url::parse(server) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "an unparsable URL".to_owned(),
    }
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
