//! The run history pages: filters by user, model, template, state, days and cost narrow the
//! workspace's runs exactly; "my runs" shows only the user's own; bad filters are a readable 422.

use std::time::{Duration, Instant};

use promptyard::domain::{Run, RunState, TemplateId};
use reqwest::StatusCode;
use time::OffsetDateTime;

use crate::helpers::{ADMIN_EMAIL, TestApp, run_fixture};

/// The runs listed on a history page, and its count line.
async fn listed(app: &TestApp, c: &reqwest::Client, path: &str) -> (usize, String) {
    let res = app.get(c, path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let html = res.text().await.unwrap();
    let count = html
        .split("id=\"history-count\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .trim()
        .to_owned();
    (html.matches("<tr data-run=").count(), count)
}

#[tokio::test]
async fn history_filters_narrow_the_runs() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.create_user(&admin, "cy@example.com", "a long enough password")
        .await;
    let store = &app.store;
    let me = app.user_id(ADMIN_EMAIL).await;
    let cy = app.user_id("cy@example.com").await;
    let ws = app.first_workspace(&admin).await;
    let other = store
        .create_workspace(
            promptyard::domain::WorkspaceName::parse("Other").unwrap(),
            cy,
            promptyard::domain::NewAuditEvent::new(None, "t"),
        )
        .await
        .unwrap()
        .id;
    let template = TemplateId::new();
    let now = OffsetDateTime::now_utc();
    let runs: Vec<Run> = (0..60_u64)
        .map(|i| Run {
            user_id: if i % 3 == 0 { cy } else { me },
            model: if i % 2 == 0 { "gpt-4o" } else { "llama3.1:8b" }.into(),
            template_id: (i % 5 == 0).then_some(template),
            state: if i % 10 == 0 {
                RunState::Failed
            } else {
                RunState::Completed
            },
            cost_usd: Some(i as f64 / 100.0),
            created_at: now - time::Duration::days((i % 20) as i64),
            ..run_fixture(ws, me)
        })
        .chain((0..5).map(|_| run_fixture(other, cy)))
        .collect();
    store.create_runs(runs.clone(), vec![]).await.unwrap();
    let start = Instant::now();
    let base = format!("/w/{ws}/history");
    loop {
        if listed(&app, &admin, &base)
            .await
            .1
            .ends_with("of 60, newest first.")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "runs never indexed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rows, count) = listed(&app, &admin, &base).await;
    assert_eq!(
        (rows, count.as_str()),
        (50, "Runs 1–50 of 60, newest first.")
    );
    let (rows, _) = listed(&app, &admin, &format!("{base}?page=1")).await;
    assert_eq!(rows, 10);

    let expect = |f: &dyn Fn(u64) -> bool| (0..60_u64).filter(|i| f(*i)).count();
    let cases: Vec<(String, usize)> = vec![
        (format!("user={cy}"), expect(&|i| i % 3 == 0)),
        ("model=llama3.1:8b".into(), expect(&|i| i % 2 == 1)),
        (format!("template={template}"), expect(&|i| i % 5 == 0)),
        ("state=failed".into(), expect(&|i| i % 10 == 0)),
        (
            "min_cost=0.2&max_cost=0.4".into(),
            expect(&|i| (20..=40).contains(&i)),
        ),
        (
            format!("from={}", (now - time::Duration::days(4)).date()),
            expect(&|i| i % 20 <= 4),
        ),
        (
            format!("user={cy}&state=failed"),
            expect(&|i| i % 3 == 0 && i % 10 == 0),
        ),
    ];
    for (q, want) in cases {
        let (rows, count) = listed(&app, &admin, &format!("{base}?{q}")).await;
        assert_eq!(rows, want.min(50), "{q}: {count}");
        if want > 0 {
            assert!(
                count.ends_with(&format!("of {want}, newest first.")),
                "{q}: {count}"
            );
        }
    }

    // Exports hold exactly the filtered runs, newest first.
    let failed: Vec<&Run> = runs[..60]
        .iter()
        .filter(|r| r.state == RunState::Failed)
        .collect();
    let res = app
        .get(&admin, &format!("{base}/export?format=csv&state=failed"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(&reader.headers().unwrap()[9], "state");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), failed.len());
    let mut ids: Vec<String> = failed.iter().map(|r| r.id.to_string()).collect();
    ids.sort();
    let mut got: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
    got.sort();
    assert_eq!(got, ids);
    let res = app
        .get(&admin, &format!("{base}/export?format=jsonl&user={cy}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let lines: Vec<Run> = res
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expect(&|i| i % 3 == 0));
    assert!(
        lines
            .iter()
            .all(|r| r.user_id == cy && r.workspace_id == ws)
    );
    assert!(
        lines.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    let res = app.get(&admin, &format!("{base}/export?format=xlsx")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // My runs: only mine, across my workspaces; never another workspace's.
    let (rows, count) = listed(&app, &admin, "/history").await;
    let mine = expect(&|i| i % 3 != 0);
    assert!(
        count.ends_with(&format!("of {mine}, newest first.")),
        "{count}"
    );
    assert_eq!(rows, mine.min(50));
    let cy_client = app.login("cy@example.com", "a long enough password").await;
    let (_, count) = listed(&app, &cy_client, "/history").await;
    assert!(
        count.ends_with("of 5, newest first."),
        "cy sees only the runs of her own workspace: {count}"
    );

    for q in [
        "min_cost=cheap",
        "from=yesterday",
        "state=done",
        "user=nobody",
        "q=%22open",
    ] {
        let res = app.get(&admin, &format!("{base}?{q}")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
}

#[tokio::test]
async fn the_retention_job_removes_exactly_the_old_runs_and_reports_it() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let me = app.user_id(ADMIN_EMAIL).await;
    let ws = app.first_workspace(&admin).await;
    let url = app.url(&format!("/api/workspaces/{ws}/gateway"));
    let res = admin
        .put(&url)
        .json(&serde_json::json!({"retention_days": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = admin
        .put(&url)
        .json(&serde_json::json!({"retention_days": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let now = OffsetDateTime::now_utc();
    let runs: Vec<Run> = (0..20_i64)
        .map(|d| {
            let t = now - time::Duration::days(d) - time::Duration::hours(1);
            let ts = uuid::Timestamp::from_unix(uuid::NoContext, t.unix_timestamp() as u64, 0);
            Run {
                id: promptyard::domain::RunId(uuid::Uuid::new_v7(ts)),
                created_at: t,
                ..run_fixture(ws, me)
            }
        })
        .collect();
    app.store.create_runs(runs.clone(), vec![]).await.unwrap();
    let report = promptyard::jobs::retention::sweep(app.store.as_ref(), now)
        .await
        .unwrap();
    assert_eq!(report, vec![(ws, 10)], "runs 10 to 19 days old");
    for (d, r) in runs.iter().enumerate() {
        assert_eq!(
            app.store.get_run(r.id).await.is_ok(),
            d < 10,
            "run {d} days old"
        );
    }
    let events = app
        .store
        .list_audit_events(&Default::default(), None, 10)
        .await
        .unwrap()
        .items;
    let event = events
        .iter()
        .find(|e| e.action == "runs.retention")
        .unwrap();
    assert!(
        event.detail.starts_with("removed 10 runs made before"),
        "{}",
        event.detail
    );
    // A second sweep finds nothing more.
    assert!(
        promptyard::jobs::retention::sweep(app.store.as_ref(), now)
            .await
            .unwrap()
            .is_empty()
    );
    // The history (from the index) follows.
    let start = Instant::now();
    while !listed(&app, &admin, &format!("/w/{ws}/history"))
        .await
        .1
        .ends_with("of 10, newest first.")
    {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the index never dropped the runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_run_page_renders_the_output_safely_and_deletes_the_run() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let me = app.user_id(ADMIN_EMAIL).await;
    let ws = app.first_workspace(&admin).await;
    let run = Run {
        output: "# Plan\n\n**bold** and <script>alert(1)</script>".into(),
        template_id: Some(TemplateId::new()),
        template_version: Some(3),
        ..run_fixture(ws, me)
    };
    app.store
        .create_runs(vec![run.clone()], vec![])
        .await
        .unwrap();
    let page = format!("/w/{ws}/runs/{}", run.id);
    let html = app.get(&admin, &page).await.text().await.unwrap();
    assert!(html.contains("<h1>Plan</h1>") && html.contains("<strong>bold</strong>"));
    assert!(
        !html.contains("<script>alert(1)</script>"),
        "the output is sanitised"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the raw view escapes it"
    );
    assert!(html.contains("template version 3"));

    app.create_user(&admin, "dee@example.com", "a long enough password")
        .await;
    let dee = app.login("dee@example.com", "a long enough password").await;
    let res = app.post_form(&dee, &format!("{page}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "not a member");
    let res = app.post_form(&admin, &format!("{page}/delete"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.store.get_run(run.id).await.is_err());
    assert_eq!(app.get(&admin, &page).await.status(), StatusCode::NOT_FOUND);
    let events = app
        .store
        .list_audit_events(&Default::default(), None, 5)
        .await
        .unwrap()
        .items;
    assert!(
        events.iter().any(|e| e.action == "run.delete"
            && e.target.as_deref() == Some(run.id.to_string().as_str()))
    );
}
