//! The embedded store: one redb file under the data directory.
//!
//! One table per entity keyed by id, secondary index tables beside them, values as JSON so a new
//! field needs no rewrite. The schema version lives in `meta` and ordered upgrade steps run at
//! open. Every commit is durable (`Durability::Immediate`) before a write is acknowledged. All
//! redb work runs on the blocking pool, never on the async runtime.

mod api_keys;
mod audit;
mod community;
mod connections;
mod governance;
mod identities;
mod runs;
mod sessions;
mod templates;
mod usage;
mod users;
mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, MultimapTableDefinition, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ChangeLog, Store};
use crate::clock::Clock;
use crate::domain::{ApiKey, Change, ChangeKind, Member, TokenHash, User};
use crate::error::{Error, Result};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Instance-wide settings as JSON, by name.
const INSTANCE: TableDefinition<&str, &[u8]> = TableDefinition::new("instance");
const USERS: TableDefinition<u128, &[u8]> = TableDefinition::new("users");
const USERS_BY_EMAIL: TableDefinition<&str, u128> = TableDefinition::new("users_by_email");
const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
const SESSIONS_BY_USER: MultimapTableDefinition<u128, &[u8]> =
    MultimapTableDefinition::new("sessions_by_user");
const AUDIT: TableDefinition<u128, &[u8]> = TableDefinition::new("audit");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
const WORKSPACES: TableDefinition<u128, &[u8]> = TableDefinition::new("workspaces");
/// user -> their personal workspace.
const PERSONAL_WORKSPACES: TableDefinition<u128, u128> =
    TableDefinition::new("personal_workspaces");
/// (workspace, user) -> membership.
const MEMBERS: TableDefinition<(u128, u128), &[u8]> = TableDefinition::new("members");
/// (user, workspace) -> (), to list a user's workspaces.
const MEMBERSHIPS: TableDefinition<(u128, u128), ()> = TableDefinition::new("memberships");
const INVITES: TableDefinition<u128, &[u8]> = TableDefinition::new("invites");
const INVITES_BY_TOKEN: TableDefinition<&[u8], u128> = TableDefinition::new("invites_by_token");
/// (workspace, invite) -> ().
const INVITES_BY_WORKSPACE: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("invites_by_workspace");
const TEMPLATES: TableDefinition<u128, &[u8]> = TableDefinition::new("templates");
/// (workspace, template) -> (); system templates use workspace 0.
const TEMPLATES_BY_WORKSPACE: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("templates_by_workspace");
/// (template, version) -> the version.
const VERSIONS: TableDefinition<(u128, u32), &[u8]> = TableDefinition::new("template_versions");
const CONNECTIONS: TableDefinition<u128, &[u8]> = TableDefinition::new("connections");
const RUNS: TableDefinition<u128, &[u8]> = TableDefinition::new("runs");
const API_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("api_keys");
/// (user, key id) -> key hash.
const API_KEYS_BY_USER: TableDefinition<(u128, u128), &[u8]> =
    TableDefinition::new("api_keys_by_user");
/// (workspace, run) -> (), newest last.
const RUNS_BY_WORKSPACE: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("runs_by_workspace");

/// workspace -> its gateway settings.
const GATEWAY_SETTINGS: TableDefinition<u128, &[u8]> = TableDefinition::new("gateway_settings");
/// (workspace, month `YYYY-MM`, user) -> USD spent.
const SPEND: TableDefinition<(u128, &str, u128), f64> = TableDefinition::new("spend");
/// request hash -> cached response.
const RESPONSE_CACHE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("response_cache");

/// user -> their community standing.
const COMMUNITY_STANDING: TableDefinition<u128, &[u8]> = TableDefinition::new("community_standing");
const COMMUNITY_PROMPTS: TableDefinition<u128, &[u8]> = TableDefinition::new("community_prompts");
/// (author, prompt) -> ().
const COMMUNITY_BY_AUTHOR: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("community_by_author");
/// (prompt, position) -> decision.
const COMMUNITY_DECISIONS: TableDefinition<(u128, u64), &[u8]> =
    TableDefinition::new("community_decisions");
/// (prompt, user) -> stars.
const COMMUNITY_RATINGS: TableDefinition<(u128, u128), u8> =
    TableDefinition::new("community_ratings");
const COMMUNITY_COMMENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("community_comments");
/// (prompt, comment) -> ().
const COMMENTS_BY_PROMPT: TableDefinition<(u128, u128), ()> =
    TableDefinition::new("community_comments_by_prompt");
/// (prompt, user) -> flag.
const COMMUNITY_FLAGS: TableDefinition<(u128, u128), &[u8]> =
    TableDefinition::new("community_flags");
/// (prompt, user, Julian day) -> whether it was a fork.
const COMMUNITY_USES: TableDefinition<(u128, u128, i32), bool> =
    TableDefinition::new("community_uses");
/// (workspace or nil for all, dimension, Julian day, key) -> packed sums (see usage.rs).
const USAGE: TableDefinition<(u128, u8, i32, &str), &[u8]> = TableDefinition::new("usage_daily");
/// (workspace or nil for all, Julian day, model, latency bucket) -> runs.
const USAGE_LATENCY: TableDefinition<(u128, i32, &str, u8), u64> =
    TableDefinition::new("usage_latency");

/// (provider, subject) -> linked identity.
const IDENTITIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("identities");
/// (user, provider) -> subject.
const IDENTITIES_BY_USER: TableDefinition<(u128, &str), &str> =
    TableDefinition::new("identities_by_user");

const SCHEMA_VERSION_KEY: &str = "schema_version";

/// An upgrade step takes the schema from version `i` to `i + 1`, where `i` is its index.
type UpgradeStep = fn(&WriteTransaction) -> Result<()>;

/// The ordered upgrade steps. Append only: a released step never changes.
const UPGRADES: &[UpgradeStep] = &[
    create_initial_tables,
    create_workspace_tables,
    create_gateway_tables,
    create_api_key_tables,
    create_governance_tables,
    create_community_tables,
    usage::create_usage_tables,
    identities::create_identity_tables,
    create_instance_tables,
];

/// Version 8 -> 9: instance-wide settings kept in the web UI (the outbound allowlist).
fn create_instance_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(INSTANCE)?;
    Ok(())
}

/// Version 0 -> 1: the tables of the foundation.
fn create_initial_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(USERS)?;
    txn.open_table(USERS_BY_EMAIL)?;
    txn.open_table(SESSIONS)?;
    txn.open_multimap_table(SESSIONS_BY_USER)?;
    txn.open_table(AUDIT)?;
    txn.open_table(CHANGES)?;
    Ok(())
}

/// Version 1 -> 2: workspaces, members, invites, templates and versions.
fn create_workspace_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(WORKSPACES)?;
    txn.open_table(PERSONAL_WORKSPACES)?;
    txn.open_table(MEMBERS)?;
    txn.open_table(MEMBERSHIPS)?;
    txn.open_table(INVITES)?;
    txn.open_table(INVITES_BY_TOKEN)?;
    txn.open_table(INVITES_BY_WORKSPACE)?;
    txn.open_table(TEMPLATES)?;
    txn.open_table(TEMPLATES_BY_WORKSPACE)?;
    txn.open_table(VERSIONS)?;
    Ok(())
}

/// Version 2 -> 3: provider connections and runs.
fn create_gateway_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(CONNECTIONS)?;
    txn.open_table(RUNS)?;
    txn.open_table(RUNS_BY_WORKSPACE)?;
    Ok(())
}

/// Version 3 -> 4: API keys.
fn create_api_key_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(API_KEYS)?;
    txn.open_table(API_KEYS_BY_USER)?;
    Ok(())
}

/// Version 4 -> 5: gateway settings, spend and the response cache.
fn create_governance_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(GATEWAY_SETTINGS)?;
    txn.open_table(SPEND)?;
    txn.open_table(RESPONSE_CACHE)?;
    Ok(())
}

/// Version 5 -> 6: the community library.
fn create_community_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(COMMUNITY_STANDING)?;
    txn.open_table(COMMUNITY_PROMPTS)?;
    txn.open_table(COMMUNITY_BY_AUTHOR)?;
    txn.open_table(COMMUNITY_DECISIONS)?;
    txn.open_table(COMMUNITY_RATINGS)?;
    txn.open_table(COMMUNITY_COMMENTS)?;
    txn.open_table(COMMENTS_BY_PROMPT)?;
    txn.open_table(COMMUNITY_FLAGS)?;
    txn.open_table(COMMUNITY_USES)?;
    Ok(())
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: u64 = UPGRADES.len() as u64;

/// The redb-backed store.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    clock: Clock,
    path: PathBuf,
}

impl RedbStore {
    /// Opens (or creates) the file, refusing if another process holds it, and upgrades its
    /// schema. Blocking: call from start-up or the blocking pool.
    pub fn open(path: &Path, clock: Clock) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::internal(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked(format!(
                "the data file {} is in use by another process; stop the running Promptyard \
                 server first",
                path.display()
            )),
            other => Error::internal(format!("cannot open {}: {other}", path.display())),
        })?;
        let store = Self {
            db: Arc::new(db),
            clock,
            path: path.to_owned(),
        };
        store.upgrade()?;
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn upgrade(&self) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let current = meta
                .get(SCHEMA_VERSION_KEY)?
                .map(|v| v.value())
                .unwrap_or(0);
            if current > SCHEMA_VERSION {
                return Err(Error::internal(format!(
                    "{} has schema version {current}, newer than this build's {SCHEMA_VERSION}; \
                     run a newer Promptyard",
                    self.path.display()
                )));
            }
            for (from, step) in UPGRADES.iter().enumerate().skip(current as usize) {
                tracing::info!(from, to = from + 1, "upgrading redb schema");
                step(&txn)?;
            }
            meta.insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Runs a short read on the calling task: a point lookup in a read transaction takes
    /// microseconds (redb's readers never wait for the writer), less than handing it to the
    /// blocking pool and back. Only for the hot paths of a call; scans go through `blocking`.
    fn inline<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Database) -> Result<T>,
    {
        f(&self.db)
    }

    /// Runs `f` on the blocking pool with the caller's span.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database, &Clock) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        let clock = self.clock.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| f(&db, &clock)))
            .await
            .map_err(Error::internal)?
    }
}

/// Appends a change-log entry inside `txn`.
fn append_change(txn: &WriteTransaction, kind: ChangeKind, id: String) -> Result<()> {
    let mut changes = txn.open_table(CHANGES)?;
    let seq = changes.last()?.map(|(k, _)| k.value()).unwrap_or(0) + 1;
    let change = Change { seq, kind, id };
    changes.insert(seq, encode(&change)?.as_slice())?;
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::internal)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(Error::internal)
}

#[async_trait]
impl ChangeLog for RedbStore {
    async fn last_change_seq(&self) -> Result<u64> {
        self.inline(|db| {
            let txn = db.begin_read()?;
            let changes = txn.open_table(CHANGES)?;
            Ok(changes.last()?.map_or(0, |(k, _)| k.value()))
        })
    }

    async fn list_changes(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let limit = limit.max(1);
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let changes = txn.open_table(CHANGES)?;
            let mut out = Vec::new();
            for entry in changes.range(after.saturating_add(1)..)?.take(limit) {
                let (_, v) = entry?;
                out.push(decode(v.value())?);
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl Store for RedbStore {
    async fn ping(&self) -> Result<()> {
        self.blocking(|db, _| {
            let txn = db.begin_read()?;
            txn.open_table(META)?;
            Ok(())
        })
        .await
    }

    async fn with_writes_paused(&self, f: crate::store::PausedWork) -> Result<()> {
        let path = self.path.clone();
        self.blocking(move |db, _| {
            // The single writer, held and never committed: every commit before it is in the
            // file, none after it can start until the work is done.
            let txn = db.begin_write()?;
            let result = f(Some(&path));
            txn.abort()?;
            result
        })
        .await
    }

    fn backend(&self) -> &'static str {
        "redb"
    }

    async fn find_api_caller(
        &self,
        key_hash: TokenHash,
    ) -> Result<Option<(ApiKey, Option<User>, Option<Member>)>> {
        self.inline(|db| {
            let txn = db.begin_read()?;
            let keys = txn.open_table(API_KEYS)?;
            let Some(key) = keys.get(key_hash.0.as_slice())? else {
                return Ok(None);
            };
            let key: ApiKey = decode(key.value())?;
            let users = txn.open_table(USERS)?;
            let user: Option<User> = users
                .get(key.user_id.0.as_u128())?
                .map(|v| decode(v.value()))
                .transpose()?;
            let member = match &user {
                Some(u) => txn
                    .open_table(MEMBERS)?
                    .get((key.workspace_id.0.as_u128(), u.id.0.as_u128()))?
                    .map(|v| decode(v.value()))
                    .transpose()?,
                None => None,
            };
            Ok(Some((key, user, member)))
        })
    }
}

macro_rules! internal_from {
    ($($t:ty),*) => {
        $(impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::internal(e)
            }
        })*
    };
}

internal_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
