//! Start-up time and idle memory of the real binary, with an empty store and with a large one
//! (users, a workspace and 200,000 runs with prompts and outputs, about 1 KiB each), side by
//! side in one run. Each store is started once to build its search index, then measured over
//! several starts: time from spawn to `/healthz` answering, and resident memory after 5 s idle.
//!
//! Run: `cargo bench --bench startup`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use promptyard::clock::Clock;
use promptyard::domain::{
    DisplayName, Email, InstanceRole, NewAuditEvent, NewUser, ProviderKind, Run, RunId, RunState,
};
use promptyard::store::redb::RedbStore;
use promptyard::store::{RunStore, UserStore, WorkspaceStore};

const RUNS: usize = 200_000;
const STARTS: usize = 5;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_promptyard"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .current_dir(dir)
        .env("PROMPTYARD_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_healthy(port: u16) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..6000 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the server did not answer /healthz");
}

/// The search index's lag, from `/metrics`.
async fn index_lag(port: u16) -> u64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("promptyard_search_index_lag "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

async fn fill(dir: &Path, runs: usize) {
    let path = dir.join("data").join("promptyard.redb");
    let store = tokio::task::spawn_blocking(move || RedbStore::open(&path, Clock::system()))
        .await
        .unwrap()
        .unwrap();
    let user = store
        .create_user(
            NewUser {
                email: Email::parse("bench@example.com").unwrap(),
                name: DisplayName::parse("Bench").unwrap(),
                role: InstanceRole::Admin,
                password_hash: None,
            },
            NewAuditEvent::new(None, "bench"),
        )
        .await
        .unwrap();
    let ws = store
        .ensure_personal_workspace(
            user.id,
            promptyard::domain::WorkspaceName::parse("Bench").unwrap(),
        )
        .await
        .unwrap()
        .id;
    let text = "lorem ipsum dolor sit amet consectetur adipiscing elit ".repeat(9);
    let now = time::OffsetDateTime::now_utc();
    let mut batch = Vec::new();
    for n in 0..runs {
        batch.push(Run {
            id: RunId::new(),
            workspace_id: ws,
            user_id: user.id,
            api_key_id: None,
            template_id: None,
            template_version: None,
            connection_id: None,
            provider: Some(ProviderKind::Openai),
            model: "gpt-4o-mini".into(),
            requested_model: None,
            params: None,
            detail: None,
            cached: false,
            input_tokens: 100,
            output_tokens: 100,
            cost_usd: Some(0.0001),
            latency_ms: 500,
            ttft_ms: Some(80),
            state: RunState::Completed,
            error: None,
            prompt: format!("[{{\"role\":\"user\",\"content\":\"{n} {text}\"}}]"),
            output: format!("{n} {text}"),
            context_manifest: None,
            created_at: now - time::Duration::seconds((runs - n) as i64),
        });
        if batch.len() == 5_000 {
            store
                .create_runs(std::mem::take(&mut batch), vec![])
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        store.create_runs(batch, vec![]).await.unwrap();
    }
}

/// Median start-up time and idle RSS over `STARTS` starts of the store in `dir`.
async fn measure(dir: &Path) -> (f64, f64) {
    // First start: the index is built, then the server is stopped.
    let port = free_port();
    let child = spawn(dir, port);
    wait_healthy(port).await;
    while index_lag(port).await > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(child);
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..STARTS {
        let port = free_port();
        let started = Instant::now();
        let child = spawn(dir, port);
        wait_healthy(port).await;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        tokio::time::sleep(Duration::from_secs(5)).await;
        rss.push(rss_mib(child.id()));
        stop(child);
    }
    times.sort_by(f64::total_cmp);
    rss.sort_by(f64::total_cmp);
    (times[STARTS / 2], rss[STARTS / 2])
}

#[tokio::main]
async fn main() {
    let empty = tempfile::tempdir().unwrap();
    let large = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path().join("data")).unwrap();
    std::fs::create_dir_all(large.path().join("data")).unwrap();
    let filled = Instant::now();
    fill(large.path(), RUNS).await;
    let size = std::fs::metadata(large.path().join("data/promptyard.redb"))
        .unwrap()
        .len() as f64
        / 1_048_576.0;
    println!(
        "large store: {RUNS} runs, {size:.0} MiB data file, written in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let (t0, r0) = measure(empty.path()).await;
    let (t1, r1) = measure(large.path()).await;
    println!("median of {STARTS} starts (index already built):");
    println!("| store | start-up to /healthz | idle RSS after 5 s |");
    println!("|---|---|---|");
    println!("| empty | {t0:.0} ms | {r0:.1} MiB |");
    println!("| {RUNS} runs | {t1:.0} ms | {r1:.1} MiB |");
    println!(
        "large / empty: start-up {:.2}x, idle RSS {:.2}x",
        t1 / t0,
        r1 / r0
    );
}
