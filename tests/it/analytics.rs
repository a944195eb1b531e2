//! The analytics pages against generated runs: the numbers on the page and in each CSV equal
//! sums over the runs, the range is respected, the charts render, bad input is a readable 422,
//! and the instance page sums every workspace.

use std::collections::BTreeMap;

use promptyard::domain::{Run, RunState, UserId, WorkspaceId};
use reqwest::StatusCode;
use time::{Duration, OffsetDateTime};

use crate::helpers::{ADMIN_EMAIL, TestApp, run_fixture};

fn run(ws: WorkspaceId, user: UserId, i: u64, now: OffsetDateTime) -> Run {
    Run {
        model: ["gpt-4o", "gpt-4o-mini", "llama3.1:8b"][(i % 3) as usize].into(),
        input_tokens: 100 + i,
        output_tokens: 10 + i % 7,
        cost_usd: Some(0.001 * (i % 5) as f64),
        latency_ms: 50 + 37 * i,
        state: if i.is_multiple_of(9) {
            RunState::Failed
        } else {
            RunState::Completed
        },
        created_at: now - Duration::days((i % 40) as i64) - Duration::minutes(i as i64),
        ..run_fixture(ws, user)
    }
}

#[tokio::test]
async fn analytics_pages_show_the_sums_of_the_runs() {
    sums_of_the_runs(TestApp::spawn().await).await;
}

#[tokio::test]
async fn analytics_pages_show_the_sums_of_the_runs_on_postgres() {
    if let Some(app) = TestApp::spawn_postgres().await {
        sums_of_the_runs(app).await;
    }
}

async fn sums_of_the_runs(app: TestApp) {
    let admin = app.setup_admin().await;
    app.create_user(&admin, "bo@example.com", "a long enough password")
        .await;
    let store = &app.store;
    let admin_id = app.user_id(ADMIN_EMAIL).await;
    let bo = app.user_id("bo@example.com").await;
    let ws: WorkspaceId = app.first_workspace(&admin).await;
    let now = OffsetDateTime::now_utc();
    let runs: Vec<Run> = (0..300)
        .map(|i: u64| run(ws, if i.is_multiple_of(4) { bo } else { admin_id }, i, now))
        .collect();
    store.create_runs(runs.clone(), vec![]).await.unwrap();

    let (from, to) = (now.date() - Duration::days(29), now.date());
    let day = |r: &Run| r.created_at.date();
    let inside: Vec<&Run> = runs
        .iter()
        .filter(|r| day(r) >= from && day(r) <= to)
        .collect();
    let page = app
        .get(&admin, &format!("/w/{ws}/analytics?from={from}&to={to}"))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("data-value=\"{}\"", inside.len())),
        "runs total"
    );
    let tokens: u64 = inside
        .iter()
        .map(|r| r.input_tokens + r.output_tokens)
        .sum();
    assert!(
        html.contains(&format!("data-value=\"{tokens}\"")),
        "tokens total"
    );
    assert_eq!(
        html.matches("<svg").count(),
        5,
        "three daily charts and two model charts"
    );
    assert!(html.contains("<title>") && html.contains("Budget this month"));

    // Each CSV equals the sums over the runs in the range.
    let csv = |table: &str| {
        let (admin, url) = (
            admin.clone(),
            app.url(&format!(
                "/w/{ws}/analytics?from={from}&to={to}&csv={table}"
            )),
        );
        async move {
            let res = admin.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/csv")
            );
            let body = res.text().await.unwrap();
            let mut reader = csv::Reader::from_reader(body.as_bytes());
            reader
                .records()
                .map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        }
    };
    let daily = csv("daily").await;
    assert_eq!(daily.len(), 30, "every day of the range, zeros included");
    let runs_sum: u64 = daily.iter().map(|r| r[1].parse::<u64>().unwrap()).sum();
    assert_eq!(runs_sum, inside.len() as u64);
    let mut by_model: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in &inside {
        let e = by_model.entry(r.model.clone()).or_default();
        e.0 += 1;
        e.1 += u64::from(r.state == RunState::Failed);
    }
    let models = csv("models").await;
    assert_eq!(models.len(), by_model.len());
    for row in &models {
        let want = by_model[&row[0]];
        assert_eq!(
            (row[1].parse().unwrap(), row[2].parse().unwrap()),
            want,
            "{row:?}"
        );
    }
    let users = csv("users").await;
    let bo_runs = inside.iter().filter(|r| r.user_id == bo).count();
    let bo_row = users.iter().find(|r| r[1] == bo.to_string()).unwrap();
    assert_eq!(bo_row[2].parse::<usize>().unwrap(), bo_runs);
    let cost: f64 = inside
        .iter()
        .filter(|r| r.user_id == bo)
        .map(|r| r.cost_usd.unwrap())
        .sum();
    assert!((bo_row[6].parse::<f64>().unwrap() - cost).abs() < 1e-6);

    // The instance page sums every workspace; a non-admin may not see it.
    let page = app
        .get(&admin, &format!("/admin/analytics?from={from}&to={to}"))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(&format!("data-value=\"{}\"", inside.len()))
    );
    let bo_client = app.login("bo@example.com", "a long enough password").await;
    assert_eq!(
        app.get(&bo_client, "/admin/analytics").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&bo_client, &format!("/w/{ws}/analytics"))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "not a member"
    );

    // Bad input: a readable 422, never a 500.
    for q in [
        "from=yesterday",
        "from=2026-02-01&to=2026-01-01",
        "from=2020-01-01&to=2026-01-01",
        "csv=nope",
    ] {
        let res = app.get(&admin, &format!("/w/{ws}/analytics?{q}")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    // An empty range still draws its charts.
    let res = app
        .get(
            &admin,
            &format!("/w/{ws}/analytics?from=2020-01-01&to=2020-01-01"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Nothing in this range."));
}
