//! Analytics page benchmark: a year of runs for 100 users (5 models, 10 templates), recorded
//! through the store (which keeps the daily roll-ups), then the workspace and instance
//! analytics pages for the whole year fetched through HTTP from a server in this process, and
//! the dashboard's data read in process. Target: the page in under 50 ms of server time.
//!
//! Run: `cargo bench --bench analytics`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use promptyard::domain::{
    DisplayName, Email, InstanceRole, NewAuditEvent, NewUser, ProviderKind, Run, RunId, RunState,
    TemplateId, UserId,
};
use time::OffsetDateTime;

#[path = "common/server.rs"]
mod common_server;
use common_server::Server;

const USERS: usize = 100;
const DAYS: i64 = 365;
const RUNS_PER_USER_DAY: usize = 3;
const ROUNDS: usize = 40;
const MODELS: &[&str] = &[
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4-0",
    "llama3.1:8b",
    "qwen2.5:7b",
];

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let server = Server::start().await;
    let (base, client, store, ws) = (
        server.base.clone(),
        server.client.clone(),
        server.store.clone(),
        server.ws,
    );

    let mut users: Vec<UserId> = vec![server.user];
    for i in 1..USERS {
        let u = store
            .create_user(
                NewUser {
                    email: Email::parse(&format!("user{i}@example.com")).unwrap(),
                    name: DisplayName::parse(&format!("User {i}")).unwrap(),
                    role: InstanceRole::User,
                    password_hash: None,
                },
                NewAuditEvent::new(None, "bench"),
            )
            .await
            .unwrap();
        users.push(u.id);
    }
    let templates: Vec<Option<TemplateId>> = std::iter::once(None)
        .chain((0..10).map(|_| Some(TemplateId::new())))
        .collect();
    let today = OffsetDateTime::now_utc();
    let load = Instant::now();
    let mut batch = Vec::new();
    let mut total = 0;
    let mut n: u64 = 0;
    for day in 0..DAYS {
        for (ui, user) in users.iter().enumerate() {
            for k in 0..RUNS_PER_USER_DAY {
                n += 1;
                batch.push(Run {
                    id: RunId::new(),
                    workspace_id: ws,
                    user_id: *user,
                    api_key_id: None,
                    template_id: templates[(ui + k + day as usize) % templates.len()],
                    template_version: None,
                    connection_id: None,
                    provider: Some(ProviderKind::Openai),
                    model: MODELS[(ui * 7 + k + day as usize) % MODELS.len()].into(),
                    requested_model: None,
                    params: None,
                    detail: None,
                    cached: false,
                    input_tokens: 200 + n % 1000,
                    output_tokens: 50 + n % 300,
                    cost_usd: Some((n % 50) as f64 / 10_000.0),
                    latency_ms: 100 + (n * 37) % 5_000,
                    ttft_ms: None,
                    state: if n.is_multiple_of(23) {
                        RunState::Failed
                    } else {
                        RunState::Completed
                    },
                    error: None,
                    prompt: "[]".into(),
                    output: String::new(),
                    context_manifest: None,
                    created_at: today
                        - time::Duration::days(day)
                        - time::Duration::minutes((n % 600) as i64),
                });
            }
        }
        if batch.len() >= 5_000 {
            total += batch.len();
            store
                .create_runs(std::mem::take(&mut batch), vec![])
                .await
                .unwrap();
        }
    }
    total += batch.len();
    store.create_runs(batch, vec![]).await.unwrap();
    println!(
        "loaded {total} runs ({USERS} users, {DAYS} days) in {:.1} s",
        load.elapsed().as_secs_f64()
    );

    let (from, to) = (
        (today - time::Duration::days(DAYS - 1)).date(),
        today.date(),
    );
    let mut lines = Vec::new();
    for (name, path) in [
        (
            "workspace page, a year",
            format!("/w/{ws}/analytics?from={from}&to={to}"),
        ),
        (
            "instance page, a year",
            format!("/admin/analytics?from={from}&to={to}"),
        ),
        ("workspace page, 30 days", format!("/w/{ws}/analytics")),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        for round in 0..=ROUNDS {
            let t = Instant::now();
            let res = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let body = res.bytes().await.unwrap();
            if round > 0 {
                times.push(t.elapsed());
                size = body.len();
            }
        }
        let (p50, p99) = (percentile(&mut times, 0.5), percentile(&mut times, 0.99));
        println!(
            "{name}: p50 {:.1} ms, p99 {:.1} ms ({} KiB)",
            ms(p50),
            ms(p99),
            size / 1024
        );
        lines.push(format!(
            "  {name:<28} p50 / p99 {:>6.1} / {:>6.1} ms   <= 50 ms   {}",
            ms(p50),
            ms(p99),
            if ms(p50) <= 50.0 { "PASS" } else { "MISS" }
        ));
    }
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let d = promptyard::analytics::dashboard(store.as_ref(), ws, from, to)
            .await
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(d.totals.runs, total as u64);
    }
    let p50 = percentile(&mut times, 0.5);
    lines.push(format!(
        "  dashboard data only, a year    p50 {:>6.1} ms",
        ms(p50)
    ));
    println!("\nsummary (time to the whole page through HTTP on loopback)");
    for l in &lines {
        println!("{l}");
    }
    server.stop().await;
    println!("\ntook {:.0} s", started.elapsed().as_secs_f64());
}
