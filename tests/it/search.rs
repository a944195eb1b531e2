//! Full-text search through `GET /api/search`, fed by the indexer from the change log: runs are
//! found only by members of their workspace, pending community prompts only by their author and
//! moderators, bad queries get a readable 422, and the index survives a restart (resuming from
//! its watermark, nothing twice) and a deleted index directory (rebuilt while serving).

use std::time::{Duration, Instant};

use promptyard::domain::{ProviderKind, Run, RunId, RunState, UserId, WorkspaceId, WorkspaceName};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, TestApp};

const PASSWORD: &str = "a long enough password";

fn run(ws: WorkspaceId, user: UserId, n: usize, text: &str) -> Run {
    Run {
        id: RunId::new(),
        workspace_id: ws,
        user_id: user,
        api_key_id: None,
        template_id: None,
        template_version: None,
        connection_id: None,
        provider: Some(ProviderKind::OpenaiCompatible),
        model: if n.is_multiple_of(2) {
            "llama3.1:8b".into()
        } else {
            "gpt-4o-mini".into()
        },
        requested_model: None,
        params: None,
        detail: None,
        cached: false,
        input_tokens: 3,
        output_tokens: 4,
        cost_usd: None,
        latency_ms: 10,
        ttft_ms: None,
        state: RunState::Completed,
        error: None,
        prompt: json!([{"role": "user", "content": format!("question {n}: {text}")}]).to_string(),
        output: format!("answer number{n}"),
        context_manifest: None,
        created_at: promptyard::clock::Clock::system().now(),
    }
}

async fn search(app: &TestApp, c: &reqwest::Client, scope: &str, q: &str) -> (StatusCode, Value) {
    let res = c
        .get(app.url("/api/search"))
        .query(&[("scope", scope), ("q", q)])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Searches until `want` results come back (the indexer runs every 200 ms), or fails.
async fn until(app: &TestApp, c: &reqwest::Client, scope: &str, q: &str, want: u64) -> Value {
    until_within(app, c, scope, q, want, Duration::from_secs(15)).await
}

/// [`until`] with its own bound: a rebuild of 50,000 runs in a debug build, beside the rest of
/// the suite on two cores, can take longer than 15 s (the bound is for liveness, not speed).
async fn until_within(
    app: &TestApp,
    c: &reqwest::Client,
    scope: &str,
    q: &str,
    want: u64,
    bound: Duration,
) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = search(app, c, scope, q).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["total"] == want {
            return body;
        }
        assert!(start.elapsed() < bound, "{q}: still {body} after {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn search_finds_only_what_the_searcher_may_see() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.create_user(&admin, "ann@example.com", PASSWORD).await;
    app.create_user(&admin, "bob@example.com", PASSWORD).await;
    let ann = app.login("ann@example.com", PASSWORD).await;
    let bob = app.login("bob@example.com", PASSWORD).await;
    let ann_id = app
        .store
        .find_user_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let bob_id = app
        .store
        .find_user_by_email("bob@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let audit = || promptyard::domain::NewAuditEvent::new(None, "test");
    let ws_a = app
        .store
        .create_workspace(WorkspaceName::parse("Ann team").unwrap(), ann_id, audit())
        .await
        .unwrap();
    let ws_b = app
        .store
        .create_workspace(WorkspaceName::parse("Bob team").unwrap(), bob_id, audit())
        .await
        .unwrap();
    let runs = vec![
        run(ws_a.id, ann_id, 0, "how do window functions work"),
        run(ws_a.id, ann_id, 1, "explain a left outer join"),
        run(ws_b.id, bob_id, 2, "secret window of team bob"),
    ];
    app.store.create_runs(runs, Vec::new()).await.unwrap();

    let body = until(&app, &ann, "history", "window", 1).await;
    assert!(
        body["hits"][0]["snippet_html"]
            .as_str()
            .unwrap()
            .contains("<b>window</b>")
    );
    until(&app, &bob, "history", "window", 1).await;
    assert_eq!(
        search(&app, &bob, "history", "join").await.1["total"],
        0,
        "another workspace's run"
    );
    until(&app, &ann, "history", "\"left outer\" model:gpt-4o-mini", 1).await;
    until(&app, &ann, "history", "-join", 1).await;
    until(&app, &ann, "history", "num*", 2).await;

    // The history page's filter controls narrow the results like the query language.
    let html = app
        .get(&ann, "/search?scope=history&q=window&model=llama3.1:8b")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("1 results") && html.contains("<b>window</b>"),
        "{html}"
    );
    let html = app
        .get(&ann, "/search?scope=history&q=window&model=gpt-4o-mini")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("0 results"));
    let html = app
        .get(&ann, "/search?scope=history&q=window&state=failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("0 results") && html.contains("<option value=\"failed\" selected>"));

    // A run of a renamed template is found under the template's new name, not the old one.
    let res = ann
        .post(app.url(&format!("/api/workspaces/{}/templates", ws_a.id)))
        .json(&json!({"name": "Quarterly digest", "user_prompt_template": "Digest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let template: Value = res.json().await.unwrap();
    let tid = template["template"]["id"].as_str().unwrap().to_owned();
    let mut from_template = run(ws_a.id, ann_id, 9, "digest of the quarter");
    from_template.template_id = Some(tid.parse().unwrap());
    app.store
        .create_runs(vec![from_template], Vec::new())
        .await
        .unwrap();
    until(&app, &ann, "history", "template:quarterly", 1).await;
    let res = ann
        .post(app.url(&format!("/api/templates/{tid}/versions")))
        .json(
            &json!({"base_version": 1, "name": "Annual summary", "user_prompt_template": "Digest"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body = until(&app, &ann, "history", "template:annual", 1).await;
    assert_eq!(body["hits"][0]["title"], "Annual summary");
    assert_eq!(
        search(&app, &ann, "history", "template:quarterly").await.1["total"],
        0
    );

    // A renamed user is found under the new name.
    let res = app
        .post_form(&ann, "/account/name", &[("name", "Annabel Zed")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    until(&app, &ann, "history", "user:annabel", 3).await;

    // Community: pending only for the author and moderators (the admin).
    let sub = ann
        .post(app.url("/api/community/prompts"))
        .json(&json!({"title": "Window functions explained", "prompt": "Explain {{q}}", "tags": ["sql"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(sub.status(), StatusCode::CREATED);
    until(&app, &ann, "community", "window", 1).await;
    until(
        &app,
        &admin,
        "community",
        "window tag:sql status:pending",
        1,
    )
    .await;
    assert_eq!(
        search(&app, &bob, "community", "window").await.1["total"],
        0
    );
    assert_eq!(
        search(&app, &bob, "community", "status:pending").await.1["total"],
        0
    );

    // A query that cannot be parsed is a readable 422, never a 500.
    for q in ["\"open", "colour:red", "a*", "after:yesterday"] {
        let (status, body) = search(&app, &ann, "history", q).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert_eq!(body["error"]["field"], "q");
    }
    let res = ann.get(app.url("/api/search?q=x")).send().await.unwrap();
    assert!(res.status().is_client_error(), "scope is required");
    let _ = ADMIN_EMAIL;
}

#[tokio::test]
async fn the_index_resumes_after_a_restart_and_rebuilds_when_deleted() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let total = 300;
    let (ws, user) = {
        let d = dir.clone();
        let app = TestApp::spawn_with(move |c| c.data_dir = d).await;
        app.setup_admin().await;
        let user = app
            .store
            .find_user_by_email(ADMIN_EMAIL)
            .await
            .unwrap()
            .unwrap()
            .id;
        let ws = app
            .store
            .create_workspace(
                WorkspaceName::parse("Load").unwrap(),
                user,
                promptyard::domain::NewAuditEvent::new(None, "t"),
            )
            .await
            .unwrap()
            .id;
        for chunk in 0..(total / 50) {
            let runs = (0..50)
                .map(|i| run(ws, user, chunk * 50 + i, "restartable"))
                .collect();
            app.store.create_runs(runs, Vec::new()).await.unwrap();
        }
        // Stop at once, whatever the indexer has done by now.
        app.stop().await;
        (ws, user)
    };
    let d = dir.clone();
    let app = TestApp::spawn_with(move |c| c.data_dir = d).await;
    let admin = app.login(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    let body = until(&app, &admin, "history", "restartable", total as u64).await;
    assert_eq!(body["total"], total, "every run once");
    // Enough runs that a rebuild takes a while.
    let bulk = 50_000;
    for _ in 0..(bulk / 1_000) {
        let runs = (0..1_000).map(|i| run(ws, user, i, "bulk")).collect();
        app.store.create_runs(runs, Vec::new()).await.unwrap();
    }
    app.stop().await;

    // Delete the index: it is rebuilt from the change log while the server serves, and search
    // says so, with how far along it is. (A background merge of the stopped server's index may
    // still be finishing its files, so removal is retried.)
    let start = Instant::now();
    while let Err(e) = std::fs::remove_dir_all(dir.join("index")) {
        assert!(start.elapsed() < Duration::from_secs(10), "{e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = dir.clone();
    let app = TestApp::spawn_with(move |c| c.data_dir = d).await;
    let admin = app.login(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(app.get(&admin, "/healthz").await.status(), StatusCode::OK);
    let (status, body) = search(&app, &admin, "history", "bulk").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let percent = body["rebuilding_percent"]
        .as_u64()
        .unwrap_or_else(|| panic!("no rebuilding notice while rebuilding: {body}"));
    assert!(percent < 100, "{body}");
    let html = app
        .get(&admin, "/search?scope=history&q=bulk")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("The search index is rebuilding ("),
        "the page says the index is rebuilding"
    );
    until(&app, &admin, "history", "restartable", total as u64).await;
    let body = until_within(
        &app,
        &admin,
        "history",
        "bulk",
        bulk,
        Duration::from_secs(120),
    )
    .await;
    assert!(body["rebuilding_percent"].is_null(), "{body}");
}
