//! Conformance case for the daily roll-ups: after a random workload over users, models,
//! templates, states and days, recorded in batches, every roll-up row equals the sum over the
//! raw runs it covers, for each workspace and for all of them, on both backends.

use std::collections::BTreeMap;

use promptyard::domain::usage::latency_bucket;
use promptyard::domain::{
    ALL_WORKSPACES, ProviderKind, Run, RunId, RunState, UsageCounts, UsageDim, WorkspaceId,
    WorkspaceName,
};
use time::{Date, OffsetDateTime};

use super::*;

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

pub(super) async fn usage(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(
            store
                .create_user(
                    new_user(&format!("u{i}@example.org"), "U"),
                    audit("user.create"),
                )
                .await
                .unwrap()
                .id,
        );
    }
    let mut workspaces = Vec::new();
    for name in ["One", "Two"] {
        workspaces.push(
            store
                .create_workspace(WorkspaceName::parse(name).unwrap(), users[0], audit("ws"))
                .await
                .unwrap()
                .id,
        );
    }
    let models = ["gpt-4o", "claude-sonnet-4", "llama3.1:8b"];
    let templates = [None, Some(promptyard::domain::TemplateId::new())];
    let start = OffsetDateTime::now_utc() - time::Duration::days(20);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut all: Vec<Run> = Vec::new();
    for _batch in 0..12 {
        let batch: Vec<Run> = (0..25)
            .map(|_| {
                let state = match rng.below(10) {
                    0 | 1 => RunState::Failed,
                    2 => RunState::Cancelled,
                    _ => RunState::Completed,
                };
                Run {
                    id: RunId::new(),
                    workspace_id: workspaces[rng.below(2) as usize],
                    user_id: users[rng.below(4) as usize],
                    api_key_id: None,
                    template_id: templates[rng.below(2) as usize],
                    template_version: None,
                    connection_id: None,
                    provider: Some(ProviderKind::OpenaiCompatible),
                    model: models[rng.below(3) as usize].into(),
                    requested_model: None,
                    params: None,
                    detail: None,
                    cached: false,
                    input_tokens: rng.below(5_000),
                    output_tokens: rng.below(2_000),
                    cost_usd: match rng.below(4) {
                        0 => None,
                        _ => Some(rng.below(100_000) as f64 / 1e7),
                    },
                    latency_ms: rng.below(30_000),
                    ttft_ms: None,
                    state,
                    error: None,
                    prompt: "[]".into(),
                    output: String::new(),
                    context_manifest: None,
                    // Spread over 20 days, some near midnight UTC.
                    created_at: start
                        + time::Duration::days(rng.below(20) as i64)
                        + time::Duration::seconds(rng.below(86_400) as i64),
                }
            })
            .collect();
        store.create_runs(batch.clone(), vec![]).await.unwrap();
        all.extend(batch);
    }
    let day = |r: &Run| r.created_at.to_offset(time::UtcOffset::UTC).date();
    let (from, to) = (
        all.iter().map(day).min().unwrap(),
        all.iter().map(day).max().unwrap(),
    );
    let check = |ws: WorkspaceId, dim: UsageDim, rows: Vec<promptyard::domain::UsageRow>| {
        let mut want: BTreeMap<(Date, String), UsageCounts> = BTreeMap::new();
        for r in all
            .iter()
            .filter(|r| ws == ALL_WORKSPACES || r.workspace_id == ws)
        {
            want.entry((day(r), dim.key_of(r)))
                .or_default()
                .add(&UsageCounts::of(r));
        }
        let got: BTreeMap<(Date, String), UsageCounts> = rows
            .into_iter()
            .map(|row| ((row.day, row.key), row.counts))
            .collect();
        assert_eq!(got, want, "{ws:?} {dim:?}");
    };
    for ws in [workspaces[0], workspaces[1], ALL_WORKSPACES] {
        for dim in UsageDim::ALL {
            check(ws, dim, store.usage(ws, dim, from, to).await.unwrap());
        }
        let mut want: BTreeMap<(String, u8), u64> = BTreeMap::new();
        for r in all
            .iter()
            .filter(|r| ws == ALL_WORKSPACES || r.workspace_id == ws)
        {
            *want
                .entry((r.model.clone(), latency_bucket(r.latency_ms)))
                .or_default() += 1;
        }
        let got: BTreeMap<(String, u8), u64> = store
            .latency_histogram(ws, from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|(m, b, n)| ((m, b), n))
            .collect();
        assert_eq!(got, want, "latency {ws:?}");
    }
    // A narrower range holds only its days.
    let mid = from + time::Duration::days(5);
    let rows = store
        .usage(ALL_WORKSPACES, UsageDim::Total, mid, mid)
        .await
        .unwrap();
    let want: u64 = all.iter().filter(|r| day(r) == mid).count() as u64;
    assert_eq!(rows.iter().map(|r| r.counts.runs).sum::<u64>(), want);
    assert!(rows.iter().all(|r| r.day == mid));

    // A deleted workspace's rows go; the instance-wide rows keep its history.
    store
        .delete_workspace(workspaces[1], audit("ws.delete"))
        .await
        .unwrap();
    assert!(
        store
            .usage(workspaces[1], UsageDim::Total, from, to)
            .await
            .unwrap()
            .is_empty()
    );
    let total: u64 = store
        .usage(ALL_WORKSPACES, UsageDim::Total, from, to)
        .await
        .unwrap()
        .iter()
        .map(|r| r.counts.runs)
        .sum();
    assert_eq!(total, all.len() as u64);
}

/// Runs recorded before the roll-ups existed are rolled up when the store is opened by a build
/// that has them: redb in its schema upgrade, Postgres once after migration 0007.
#[tokio::test]
async fn runs_recorded_before_the_roll_ups_are_rolled_up_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    let open = |path: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || {
            promptyard::store::redb::RedbStore::open(&path, promptyard::clock::Clock::system())
        })
        .await
        .unwrap()
        .unwrap()
    };
    let store = open(path.clone()).await;
    let runs = seed(&store).await;
    drop(store);
    // Back to schema 6: the roll-up tables gone, as a store written by the previous release.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        for name in ["usage_daily", "usage_latency"] {
            txn.delete_table(redb::TableDefinition::<&str, u64>::new(name))
                .unwrap();
        }
        txn.open_table(redb::TableDefinition::<&str, u64>::new("meta"))
            .unwrap()
            .insert("schema_version", 6)
            .unwrap();
        txn.commit().unwrap();
    }
    let store = open(path).await;
    assert_rolled_up(&store, &runs).await;

    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        return;
    };
    let name = format!("promptyard_test_{}", Uuid::new_v4().simple());
    admin_sql(&server, &format!("CREATE DATABASE \"{name}\"")).await;
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&format!("/{name}"));
    let pg = PostgresStore::connect(url.as_str(), Clock::system())
        .await
        .unwrap();
    let runs = seed(&pg).await;
    let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    sqlx::Executor::execute(
        &mut conn,
        "DELETE FROM usage_daily; DELETE FROM usage_latency; \
         INSERT INTO usage_backfill_pending VALUES (true);",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    pg.close().await;
    let pg = PostgresStore::connect(url.as_str(), Clock::system())
        .await
        .unwrap();
    assert_rolled_up(&pg, &runs).await;
    pg.close().await;
    admin_sql(
        &server,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await;
}

async fn seed(store: &dyn Store) -> Vec<Run> {
    let user = store
        .create_user(new_user("old@example.org", "Old"), audit("user.create"))
        .await
        .unwrap()
        .id;
    let ws = store
        .create_workspace(WorkspaceName::parse("Old").unwrap(), user, audit("ws"))
        .await
        .unwrap()
        .id;
    let runs: Vec<Run> = (0..30_u64)
        .map(|i| Run {
            model: if i % 2 == 0 { "a" } else { "b" }.into(),
            input_tokens: i,
            cost_usd: Some(0.5),
            latency_ms: i * 100,
            created_at: OffsetDateTime::now_utc() - time::Duration::days((i % 3) as i64),
            ..crate::helpers::run_fixture(ws, user)
        })
        .collect();
    store.create_runs(runs.clone(), vec![]).await.unwrap();
    runs
}

async fn assert_rolled_up(store: &dyn Store, runs: &[Run]) {
    let (from, to) = (
        OffsetDateTime::now_utc().date() - time::Duration::days(3),
        OffsetDateTime::now_utc().date(),
    );
    for ws in [runs[0].workspace_id, ALL_WORKSPACES] {
        let rows = store.usage(ws, UsageDim::Model, from, to).await.unwrap();
        let mut sum = UsageCounts::default();
        for r in &rows {
            sum.add(&r.counts);
        }
        let mut want = UsageCounts::default();
        for r in runs {
            want.add(&UsageCounts::of(r));
        }
        assert_eq!(sum, want, "{ws:?}");
        let hist: u64 = store
            .latency_histogram(ws, from, to)
            .await
            .unwrap()
            .iter()
            .map(|(_, _, n)| n)
            .sum();
        assert_eq!(hist, runs.len() as u64);
    }
}

/// Retention: runs made before the cutoff go (oldest first, at most `limit` a call, each with a
/// change-log entry); newer ones and other workspaces' stay; the settings are listed.
pub(super) async fn retention(store: Arc<dyn Store>) {
    let user = store
        .create_user(new_user("ret@example.org", "Ret"), audit("user.create"))
        .await
        .unwrap()
        .id;
    let mk = |name: &'static str| {
        let store = store.clone();
        async move {
            store
                .create_workspace(WorkspaceName::parse(name).unwrap(), user, audit("ws"))
                .await
                .unwrap()
                .id
        }
    };
    let (ws, other) = (mk("Kept short").await, mk("Other").await);
    let now = OffsetDateTime::now_utc();
    // Ids as the gateway makes them: UUIDv7 of the moment the run started.
    let at = |days: i64, ws: WorkspaceId| {
        let t = now - time::Duration::days(days);
        let ts =
            uuid::Timestamp::from_unix(uuid::NoContext, t.unix_timestamp() as u64, t.nanosecond());
        Run {
            id: RunId(Uuid::new_v7(ts)),
            created_at: t,
            ..crate::helpers::run_fixture(ws, user)
        }
    };
    let runs: Vec<Run> = (0..30)
        .map(|d| at(d, ws))
        .chain((0..30).map(|d| at(d, other)))
        .collect();
    store.create_runs(runs.clone(), vec![]).await.unwrap();
    let seq = store.last_change_seq().await.unwrap();
    let cutoff = now - time::Duration::days(10) + time::Duration::hours(1);
    let first = store.delete_runs_before(ws, cutoff, 7).await.unwrap();
    assert_eq!(first.len(), 7);
    let rest = store.delete_runs_before(ws, cutoff, 100).await.unwrap();
    assert_eq!(rest.len(), 13, "runs 10 to 29 days old: 20 in all");
    assert!(
        store
            .delete_runs_before(ws, cutoff, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let mut gone: Vec<RunId> = first.iter().chain(&rest).copied().collect();
    gone.sort_by_key(|r| r.0);
    let mut want: Vec<RunId> = runs[10..30].iter().map(|r| r.id).collect();
    want.sort_by_key(|r| r.0);
    assert_eq!(gone, want);
    for r in &runs[..10] {
        assert!(store.get_run(r.id).await.is_ok(), "a newer run stays");
    }
    for r in &runs[30..] {
        assert!(
            store.get_run(r.id).await.is_ok(),
            "another workspace's run stays"
        );
    }
    let changes = store.list_changes(seq, 100).await.unwrap();
    assert_eq!(changes.len(), 20, "a change-log entry per deleted run");
    assert!(
        changes
            .iter()
            .all(|c| c.kind == promptyard::domain::ChangeKind::Run)
    );

    let settings = promptyard::domain::GatewaySettings {
        retention_days: Some(10),
        ..Default::default()
    };
    store
        .update_gateway_settings(ws, settings.clone(), audit("gateway.update"))
        .await
        .unwrap();
    let listed = store.list_gateway_settings().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, ws);
    assert_eq!(listed[0].1.retention_days, Some(10));
}
