//! History paging benchmark: a million runs in the search index (half of them in the viewer's
//! workspace), then the history page's query (the workspace, newest first, 50 a page) at
//! increasing page numbers and with each filter, timed in process.
//!
//! Run: `cargo bench --bench history` (about a minute once built)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use promptyard::search::query::parse;
use promptyard::search::{
    Doc, HistoryFilters, Kind, Op, Scope, SearchIndex, SearchRequest, SearchSort, Viewer,
};
use time::OffsetDateTime;

const RUNS: usize = 1_000_000;
const BATCH: usize = 50_000;
const ROUNDS: usize = 20;
const WORDS: &[&str] = &[
    "refund", "invoice", "deploy", "query", "summary", "latency", "rust", "python", "email",
    "report", "budget", "table", "join", "index", "error", "review",
];
const MODELS: &[&str] = &["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-0", "llama3.1:8b"];

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (ix, _) = SearchIndex::open(&dir.path().join("index")).unwrap();
    let now = OffsetDateTime::now_utc();
    let load = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut seq = 0;
    for i in 0..RUNS {
        let body: Vec<&str> = (0..20)
            .map(|k| WORDS[(i * 7 + k * 3) % WORDS.len()])
            .collect();
        batch.push(Op::Put(Box::new(Doc {
            id: format!("run-{i}"),
            kind: Some(Kind::Run),
            // Half the runs are in the viewer's workspace.
            workspace: Some(if i % 2 == 0 {
                "ws-main".into()
            } else {
                format!("ws-{}", i % 50)
            }),
            owner: format!("user-{}", i % 100),
            user: format!("User {} user{}@example.com", i % 100, i % 100),
            title: "Template".into(),
            template: "Template".into(),
            template_id: Some(format!("tpl-{}", i % 20)),
            body: body.join(" "),
            models: vec![MODELS[i % MODELS.len()].into()],
            state: if i % 17 == 0 {
                "failed".into()
            } else {
                "completed".into()
            },
            time: Some(now - time::Duration::seconds((RUNS - i) as i64 * 30)),
            cost: (i % 1000) as f64 / 10_000.0,
            input_tokens: 100,
            output_tokens: 50,
            latency_ms: 400,
            ..Doc::default()
        })));
        if batch.len() == BATCH {
            seq += 1;
            ix.apply(std::mem::take(&mut batch), seq).unwrap();
        }
    }
    if !batch.is_empty() {
        ix.apply(batch, seq + 1).unwrap();
    }
    println!(
        "indexed {RUNS} runs in {:.1} s ({} segments)",
        load.elapsed().as_secs_f64(),
        ix.segments()
    );
    let viewer = Viewer {
        user: "user-7".into(),
        workspaces: vec!["ws-main".into(), "ws-1".into()],
        moderator: false,
    };
    let ago = |days: i64| (now - time::Duration::days(days)).date();
    let cases: Vec<(String, String, HistoryFilters, usize)> = vec![
        ("page 1".into(), String::new(), HistoryFilters::default(), 0),
        ("page 2".into(), String::new(), HistoryFilters::default(), 1),
        (
            "page 11".into(),
            String::new(),
            HistoryFilters::default(),
            10,
        ),
        (
            "page 101".into(),
            String::new(),
            HistoryFilters::default(),
            100,
        ),
        (
            "page 1001".into(),
            String::new(),
            HistoryFilters::default(),
            1000,
        ),
        (
            "state:failed".into(),
            "state:failed".into(),
            HistoryFilters::default(),
            0,
        ),
        (
            "model:gpt-4o".into(),
            "model:gpt-4o".into(),
            HistoryFilters::default(),
            0,
        ),
        (
            "one user".into(),
            String::new(),
            HistoryFilters {
                user: Some("user-42".into()),
                ..Default::default()
            },
            0,
        ),
        (
            "one template".into(),
            String::new(),
            HistoryFilters {
                template: Some("tpl-4".into()),
                ..Default::default()
            },
            0,
        ),
        (
            "cost 0.05 to 0.06".into(),
            String::new(),
            HistoryFilters {
                min_cost: Some(0.05),
                max_cost: Some(0.06),
                ..Default::default()
            },
            0,
        ),
        (
            "last 30 days".into(),
            format!("after:{}", ago(30)),
            HistoryFilters::default(),
            0,
        ),
        (
            "word refund".into(),
            "refund".into(),
            HistoryFilters::default(),
            0,
        ),
    ];
    let mut lines = Vec::new();
    for (name, q, filters, page) in cases {
        let mut times = Vec::new();
        let mut total = 0;
        for round in 0..=ROUNDS {
            let req = SearchRequest {
                scope: Scope::History,
                parsed: parse(&q).unwrap(),
                viewer: viewer.clone(),
                sort: SearchSort::Newest,
                offset: page * 50,
                limit: 50,
                filters: HistoryFilters {
                    workspace: Some("ws-main".into()),
                    ..filters.clone()
                },
            };
            let t = Instant::now();
            let r = ix.search(&req).unwrap();
            if round > 0 {
                times.push(t.elapsed());
                total = r.total;
            }
        }
        let p50 = percentile(&mut times, 0.5);
        let p99 = percentile(&mut times, 0.99);
        lines.push(format!(
            "  {name:<20} {total:>8} matches   p50 {:>6.2} ms   p99 {:>6.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        ));
    }
    println!("\nhistory page query, workspace of 500,000 runs, newest first, 50 a page:");
    for l in &lines {
        println!("{l}");
    }
    println!("\ntook {:.0} s", started.elapsed().as_secs_f64());
}
