//! The scale-out store: Postgres through sqlx, with the same behaviour as the redb store.
//!
//! The schema is relational (`migrations/*.sql`, compiled into the binary and run at connect;
//! sqlx's migrator takes an advisory lock, so several nodes starting together is safe). Queries
//! are plain `sqlx::query` with binds, never the compile-time-checked macros, since no database
//! exists at build time. Every multi-row write runs in one transaction; a taken email becomes a
//! field conflict, never a 500. Connection errors name the host and database, never the password.

mod api_keys;
mod audit;
mod community;
mod gateway;
mod governance;
mod identities;
mod rows;
mod sessions;
mod templates;
mod usage;
mod users;
mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use time::OffsetDateTime;

use super::{ChangeLog, Store};
use crate::clock::Clock;
use crate::domain::{Change, ChangeKind, NewAuditEvent};
use crate::error::{Error, Result};

/// The schema migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Transaction-scoped advisory lock taken right before appending to `change_log`.
///
/// Identity values are assigned at insert but become visible at commit, so two concurrent
/// writers could commit seqs out of order and an indexer tailing `seq > watermark` would skip
/// one forever. Holding this lock from the append to the commit serializes appends, so seqs
/// become visible in increasing order. The value is ASCII "PYCHANGE".
const CHANGE_LOG_LOCK: i64 = 0x5059_4348_414e_4745;

/// Connections kept at most; enough for request handlers plus background jobs on one node.
const MAX_CONNECTIONS: u32 = 16;

/// How long a query waits for a free connection (or the first connect) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Postgres-backed store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    clock: Clock,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// brings its schema up to date. Errors name the host, port, database and user, never the
    /// password.
    pub async fn connect(url: &str, clock: Clock) -> Result<Self> {
        // The parse error never echoes the URL, which may hold a password.
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            Error::internal(format!("storage.url is not a valid Postgres URL: {e}"))
        })?;
        let place = describe(&options);
        // One direct connection first: the pool retries until its timeout and then reports only
        // "timed out", while this surfaces the cause (refused, unknown host, bad credentials).
        let probe = options
            .connect()
            .await
            .map_err(|e| Error::internal(format!("cannot connect to Postgres {place}: {e}")))?;
        // The probe did its job; a failure to say goodbye changes nothing.
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| Error::internal(format!("cannot connect to Postgres {place}: {e}")))?;
        MIGRATOR.run(&pool).await.map_err(|e| {
            Error::internal(format!("cannot migrate the Postgres schema {place}: {e}"))
        })?;
        usage::backfill(&pool).await?;
        Ok(Self { pool, clock })
    }

    /// Closes every connection; later calls fail. For orderly shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// "at host:port, database D, user U" (or the socket path), for error messages.
fn describe(options: &PgConnectOptions) -> String {
    let at = match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let database = options.get_database().unwrap_or(options.get_username());
    format!(
        "at {at} (database `{database}`, user `{}`)",
        options.get_username()
    )
}

/// Appends a change-log entry inside the caller's transaction. Call it as the last write before
/// the commit: it takes [`CHANGE_LOG_LOCK`], held until the transaction ends.
async fn append_change(conn: &mut PgConnection, kind: ChangeKind, id: String) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHANGE_LOG_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO change_log (kind, record_id) VALUES ($1, $2)")
        .bind(kind.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The end of a write transaction: records `audit` (if any), appends `changes` (last, as
/// [`append_change`] wants) and commits.
async fn finish(
    mut tx: Transaction<'static, Postgres>,
    now: OffsetDateTime,
    audit: Option<NewAuditEvent>,
    changes: Vec<(ChangeKind, String)>,
) -> Result<()> {
    if let Some(audit) = audit {
        audit::insert_audit(&mut tx, now, audit).await?;
    }
    for (kind, id) in changes {
        append_change(&mut tx, kind, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Converts a page size or count to the `bigint` Postgres expects.
fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Converts a `bigint` count from Postgres; counts are never negative.
fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl ChangeLog for PostgresStore {
    async fn last_change_seq(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM change_log")
            .fetch_one(&self.pool)
            .await?;
        Ok(to_u64(row.try_get::<i64, _>("seq")?))
    }

    async fn list_changes(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let limit = limit.max(1);
        let rows = sqlx::query(
            "SELECT seq, kind, record_id FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let kind: String = row.try_get("kind")?;
                let kind = ChangeKind::parse(&kind).ok_or_else(|| {
                    Error::internal(format!("change log entry {seq} has unknown kind `{kind}`"))
                })?;
                Ok(Change {
                    seq: to_u64(seq),
                    kind,
                    id: row.try_get("record_id")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn with_writes_paused(&self, f: crate::store::PausedWork) -> Result<()> {
        tokio::task::spawn_blocking(move || f(None))
            .await
            .map_err(Error::internal)?
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::internal(e)
    }
}
