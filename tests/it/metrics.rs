//! `/metrics`: scraped and parsed after real traffic (pages, a playground run through a fake
//! provider, a call over its budget), with the token protection when one is configured.

use std::collections::HashMap;

use serde_json::json;

use crate::fake_llm::{FakeLlm, Script, Wire};
use crate::helpers::TestApp;

/// The samples of an exposition: `name{labels}` -> value. Every line must parse.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .expect("a sample line is `name value`");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.starts_with("promptyard_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name in {line}"
        );
        out.insert(key.to_owned(), value);
    }
    out
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let res = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = res.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    parse(&text)
}

#[tokio::test]
async fn metrics_count_requests_calls_tokens_cost_and_budget_refusals() {
    let fake = FakeLlm::with(Script::reply("Hello from the fake model", 4)).await;
    let port = fake.port;
    let app = TestApp::spawn_with(move |c| {
        c.outbound.allow_cidrs = vec!["127.0.0.1".into()];
        c.outbound.allow_ports = vec![port];
    })
    .await;
    let admin = app.setup_admin().await;
    let res = app
        .post_form(
            &admin,
            "/admin/providers",
            &[
                ("name", "openai"),
                ("kind", "openai"),
                ("base_url", &fake.base_for(Wire::Openai)),
                ("api_key", "sk-metrics-test"),
                ("models", "gpt-4o-mini"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let ws = app.first_workspace(&admin).await;
    for _ in 0..3 {
        assert_eq!(app.get(&admin, "/healthz").await.status(), 200);
    }
    let run = |admin: reqwest::Client| {
        let url = app.url(&format!("/w/{ws}/playground/run"));
        async move {
            admin
                .post(url)
                .json(&json!({"model": "gpt-4o-mini", "user_prompt": "Say hello"}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = run(admin.clone()).await;
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();

    // A budget of almost nothing: the next call is refused before it starts.
    let res = admin
        .put(app.url(&format!("/api/workspaces/{ws}/gateway")))
        .json(&json!({"budget_usd": 0.000001}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let res = run(admin.clone()).await;
    let body = res.text().await.unwrap();
    assert!(body.contains("budget"), "{body}");

    let m = scrape(&app).await;
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no sample {k}: {m:#?}"));
    assert!(
        get(r#"promptyard_http_requests_total{route="/healthz",method="GET",status="200"}"#) >= 3.0
    );
    assert!(
        get(
            r#"promptyard_http_request_duration_seconds_count{route="/w/{ws}/playground/run",method="POST"}"#
        ) >= 2.0
    );
    assert_eq!(
        get(r#"promptyard_gateway_calls_total{model="gpt-4o-mini",state="completed"}"#),
        1.0
    );
    assert!(
        get(r#"promptyard_gateway_tokens_total{model="gpt-4o-mini",direction="output"}"#) > 0.0
    );
    assert!(get(r#"promptyard_gateway_tokens_total{model="gpt-4o-mini",direction="input"}"#) > 0.0);
    assert!(get(r#"promptyard_gateway_cost_usd_total{model="gpt-4o-mini"}"#) > 0.0);
    assert_eq!(
        get(r#"promptyard_gateway_upstream_duration_seconds_count{model="gpt-4o-mini"}"#),
        1.0
    );
    assert_eq!(
        get(r#"promptyard_gateway_time_to_first_token_seconds_count{model="gpt-4o-mini"}"#),
        1.0
    );
    assert_eq!(get("promptyard_gateway_budget_rejections_total"), 1.0);
    assert!(m.contains_key("promptyard_recorder_queue_depth"));
    assert!(m.contains_key("promptyard_search_index_lag"));
    // Routes are patterns, never raw paths with ids in them.
    assert!(
        !m.keys().any(|k| k.contains(&ws.to_string())),
        "a workspace id became a label"
    );
    // No secret of any kind.
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("sk-metrics-test"));
    app.stop().await;
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = TestApp::spawn_with(|c| c.metrics.token = "scrape-secret-123".into()).await;
    let client = reqwest::Client::new();
    let res = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = client
        .get(app.url("/metrics"))
        .bearer_auth("wrong-secret-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-secret-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let samples = parse(&res.text().await.unwrap());
    assert!(samples.contains_key("promptyard_gateway_budget_rejections_total"));
    app.stop().await;
}
