//! Gateway governance through /v1, as a workspace admin sets it: monthly budgets under a race of
//! concurrent calls, fallback routes, the response cache, history retention and workspace rate
//! limits; and the settings API's validation.

use std::time::Duration;

use futures::future::join_all;
use promptyard::domain::{Run, RunId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_llm::Script;
use crate::v1::{V1, setup_with};

/// `gpt-4o-mini` priced at $0.001 per output token and nothing for input, so a call with
/// `max_tokens: 10` that answers 10 tokens costs (and is estimated at) exactly $0.01.
async fn priced(script: Script) -> V1 {
    setup_with(script, |c| {
        c.pricing.overrides = vec!["gpt-4o-mini = 0, 1000".into()];
    })
    .await
}

impl V1 {
    async fn settings(&self, body: Value) -> (StatusCode, Value) {
        let res = self
            .admin
            .put(
                self.app
                    .url(&format!("/api/workspaces/{}/gateway", self.ws)),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    /// The settings and this month's spend, as the admin sees them.
    async fn view(&self) -> Value {
        self.admin
            .get(
                self.app
                    .url(&format!("/api/workspaces/{}/gateway", self.ws)),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn chat(&self, key: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .post(key, "/v1/chat/completions", body)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    /// The run, once the recorder has written it.
    async fn run(&self, id: &Value) -> Option<Run> {
        let id: RunId = id.as_str().unwrap().parse().unwrap();
        for _ in 0..40 {
            if let Ok(run) = self.app.store.get_run(id).await {
                return Some(run);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "Hello"}]})
}

#[tokio::test]
async fn a_budget_for_ten_calls_admits_exactly_ten_of_fifty_concurrent_calls() {
    let t = priced(Script {
        usage: (11, 10),
        // Every call is still in flight when the last one is admitted.
        first_byte_delay: Duration::from_millis(300),
        ..Script::reply("ten tokens", 2)
    })
    .await;
    let (status, body) = t.settings(json!({"budget_usd": 0.10})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["spend"]["budget_usd"], 0.10);
    let key = t.key("").await;
    let calls = (0..50).map(|_| t.chat(&key, hello("gpt-4o-mini")));
    let results = join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 10, "exactly the ten calls the budget holds");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["type"], "insufficient_quota");
        assert_eq!(body["error"]["code"], "insufficient_quota");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("the workspace's monthly budget of $0.10 is used up"),
            "{message}"
        );
        assert!(message.contains("renews on"), "{message}");
    }
    assert_eq!(
        t.fake.requests().len(),
        10,
        "refused calls never reach the provider"
    );

    // Settled spend equals the budget, and the admin sees it.
    let mut total = 0.0;
    for _ in 0..40 {
        let view = t.view().await;
        total = view["spend"]["total_usd"].as_f64().unwrap();
        if (total - 0.10).abs() < 1e-9 {
            assert_eq!(view["spend"]["by_user"][0]["name"], "Ada Admin");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!((total - 0.10).abs() < 1e-9, "spent {total}");

    // The next call is refused with OpenAI's quota error, and SDKs are told not to retry.
    let res = t
        .post(&key, "/v1/chat/completions", hello("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["x-should-retry"], "false");

    // Raising the budget lets calls through again at once.
    let (status, _) = t.settings(json!({"budget_usd": 0.11})).await;
    assert_eq!(status, 200);
    assert_eq!(t.chat(&key, hello("gpt-4o-mini")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_member_budget_names_itself_and_settings_are_validated() {
    let t = priced(Script {
        usage: (11, 10),
        ..Script::reply("ten tokens", 2)
    })
    .await;
    let key = t.key("").await;
    let (status, _) = t.settings(json!({"member_budget_usd": 0.015})).await;
    assert_eq!(status, 200);
    assert_eq!(t.chat(&key, hello("gpt-4o-mini")).await.0, StatusCode::OK);
    let (status, body) = t.chat(&key, hello("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("your monthly budget in this workspace of $0.01"),
        "{body}"
    );

    for (bad, field) in [
        (json!({"budget_usd": -1}), "budget_usd"),
        (
            json!({"retention": "metadata", "cache_ttl_secs": 60}),
            "cache_ttl_secs",
        ),
        (
            json!({"key_limit": {"requests_per_minute": 0}}),
            "key_limit",
        ),
        (
            json!({"fallbacks": {"gpt-4o": ["a", "b", "c", "d"]}}),
            "fallbacks",
        ),
    ] {
        let (status, body) = t.settings(bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }
    let (status, body) = t.settings(json!({"retention": "forever"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Nothing of the refused settings was stored.
    let view = t.view().await;
    assert_eq!(view["settings"]["member_budget_usd"], 0.015);
    assert_eq!(view["settings"]["retention"], "full");
}

#[tokio::test]
async fn a_failing_model_falls_back_in_order_and_the_run_names_who_answered() {
    let t = priced(Script::reply("answered by the fallback", 2)).await;
    t.fake.script_for("gpt-4o", Script::status(500));
    let (status, body) = t
        .settings(json!({"fallbacks": {"gpt-4o": ["no-such-model", "claude-sonnet-4-0"]}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let key = t.key("").await;
    let (status, body) = t.chat(&key, hello("gpt-4o")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "claude-sonnet-4-0");
    assert_eq!(body["promptyard"]["requested_model"], "gpt-4o");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "answered by the fallback"
    );
    let run = t.run(&body["run_id"]).await.unwrap();
    assert_eq!(run.model, "claude-sonnet-4-0");
    assert_eq!(run.requested_model.as_deref(), Some("gpt-4o"));
    // gpt-4o was tried (with its retries) before the fallback; the unknown model was skipped.
    let asked: Vec<String> = t.fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert!(asked[..3].iter().all(|p| p.contains("chat/completions")));
    assert!(asked[3].contains("messages"));

    // Streaming falls back the same way, and names the answering model in every chunk.
    let res = t
        .post(
            &key,
            "/v1/chat/completions",
            json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(!text.contains("\"model\":\"gpt-4o\""), "{text}");
    assert!(text.contains("\"model\":\"claude-sonnet-4-0\""));

    // A key that may not use the fallback gets the primary's failure instead.
    let narrow = t.key("gpt-4o").await;
    let (status, body) = t.chat(&narrow, hello("gpt-4o")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let run = t.run(&body["run_id"]).await.unwrap();
    assert_eq!(run.model, "gpt-4o");
    assert_eq!(run.requested_model, None);
}

#[tokio::test]
async fn the_response_cache_answers_repeated_requests_at_no_cost_when_asked() {
    let t = priced(Script {
        usage: (11, 10),
        ..Script::reply("an answer worth keeping", 3)
    })
    .await;
    let key = t.key("").await;
    let cached = |stream: bool| {
        json!({"model": "gpt-4o-mini", "max_tokens": 10, "stream": stream, "cache": true,
               "messages": [{"role": "user", "content": "Same question"}]})
    };
    // The workspace has not turned the cache on: the request's opt-in alone does nothing.
    let (_, first) = t.chat(&key, cached(false)).await;
    assert_eq!(first["promptyard"]["cached"], false);
    let (status, _) = t.settings(json!({"cache_ttl_secs": 600})).await;
    assert_eq!(status, 200);
    let (_, miss) = t.chat(&key, cached(false)).await;
    assert_eq!(miss["promptyard"]["cached"], false);
    let upstream = t.fake.requests().len();
    assert_eq!(upstream, 2);
    // The cache is written in the background; wait until it answers.
    let mut hit = Value::Null;
    for _ in 0..40 {
        let (_, body) = t.chat(&key, cached(false)).await;
        if body["promptyard"]["cached"] == true {
            hit = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hit["promptyard"]["cached"], true, "{hit}");
    assert_eq!(
        hit["choices"][0]["message"]["content"],
        "an answer worth keeping"
    );
    assert_eq!(hit["usage"]["completion_tokens"], 10);
    let run = t.run(&hit["run_id"]).await.unwrap();
    assert!(run.cached);
    assert_eq!(run.cost_usd, Some(0.0));
    assert_eq!(run.output, "an answer worth keeping");
    let upstream_after_hit = t.fake.requests().len();

    // Streamed requests are served from the same entry; one without the opt-in is not.
    let res = t
        .post(&key, "/v1/chat/completions", cached(true))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains("\"cached\":true"), "{text}");
    assert!(text.contains("an answer worth keeping"));
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(t.fake.requests().len(), upstream_after_hit);
    let mut plain = cached(false);
    plain["cache"] = json!(false);
    let (_, body) = t.chat(&key, plain).await;
    assert_eq!(body["promptyard"]["cached"], false);
    assert_eq!(t.fake.requests().len(), upstream_after_hit + 1);
    // A different request (another temperature) is a miss.
    let mut other = cached(false);
    other["temperature"] = json!(0.5);
    let (_, body) = t.chat(&key, other).await;
    assert_eq!(body["promptyard"]["cached"], false);
}

#[tokio::test]
async fn retention_keeps_full_runs_metadata_only_or_nothing_but_spend_counts() {
    let t = priced(Script {
        usage: (11, 10),
        ..Script::reply("secret output", 1)
    })
    .await;
    let key = t.key("").await;
    let (_, full) = t.chat(&key, hello("gpt-4o-mini")).await;
    let run = t.run(&full["run_id"]).await.unwrap();
    assert!(run.prompt.contains("Hello") && run.output == "secret output");

    t.settings(json!({"retention": "metadata"})).await;
    let (_, meta) = t.chat(&key, hello("gpt-4o-mini")).await;
    assert_eq!(meta["choices"][0]["message"]["content"], "secret output");
    let run = t.run(&meta["run_id"]).await.unwrap();
    assert_eq!((run.prompt.as_str(), run.output.as_str()), ("", ""));
    assert_eq!(run.output_tokens, 10);
    assert_eq!(run.model, "gpt-4o-mini");

    t.settings(json!({"retention": "none"})).await;
    let (status, none) = t.chat(&key, hello("gpt-4o-mini")).await;
    assert_eq!(status, 200);
    // Wait for the recorder to write what it will (the two earlier runs are already written).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(t.run(&none["run_id"]).await.is_none(), "no run is kept");
    let view = t.view().await;
    let spent = view["spend"]["total_usd"].as_f64().unwrap();
    assert!(
        (spent - 0.03).abs() < 1e-9,
        "all three calls count: {spent}"
    );
}

#[tokio::test]
async fn workspace_rate_limits_apply_per_key() {
    let t = priced(Script::reply("ok", 1)).await;
    let (status, _) = t
        .settings(json!({"key_limit": {"requests_per_minute": 2}}))
        .await;
    assert_eq!(status, 200);
    let first = t.key("").await;
    let second = t.key("").await;
    for _ in 0..2 {
        assert_eq!(t.chat(&first, hello("gpt-4o-mini")).await.0, 200);
    }
    let res = t
        .post(&first, "/v1/chat/completions", hello("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this API key's requests per minute")
    );
    assert_eq!(
        t.chat(&second, hello("gpt-4o-mini")).await.0,
        200,
        "another key has its own allowance"
    );
}

#[tokio::test]
async fn the_gateway_page_saves_settings_and_names_bad_fields() {
    let t = priced(Script::reply("ok", 1)).await;
    let path = format!("/w/{}/gateway", t.ws);
    let page = t.app.get(&t.admin, &path).await.text().await.unwrap();
    assert!(page.contains("Spend this month") && page.contains("No spend yet this month."));
    let form = |budget: &'static str, routes: &'static str| {
        vec![
            ("retention", "metadata"),
            ("cache_ttl_secs", "0"),
            ("budget_usd", budget),
            ("member_budget_usd", ""),
            ("fallbacks", routes),
            ("key_rpm", "30"),
            ("key_tpm", ""),
        ]
    };
    let res = t
        .app
        .post_form(&t.admin, &path, &form("ten dollars", ""))
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("`ten dollars` is not an amount in USD"),
        "{page}"
    );
    assert!(
        page.contains("value=\"ten dollars\""),
        "the typed value is kept"
    );
    let res = t
        .app
        .post_form(&t.admin, &path, &form("25", "gpt-4o claude"))
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("a colon after the model")
    );
    let res = t
        .app
        .post_form(
            &t.admin,
            &path,
            &form("$25", "gpt-4o: claude-sonnet-4-0, gpt-4o-mini"),
        )
        .await;
    assert_eq!(res.status(), 303);
    let saved = t
        .app
        .store
        .get_gateway_settings(t.ws.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(saved.budget_usd, Some(25.0));
    assert_eq!(saved.retention, promptyard::domain::Retention::Metadata);
    assert_eq!(saved.key_limit.requests_per_minute, Some(30));
    assert_eq!(
        saved.models_for("gpt-4o"),
        vec!["gpt-4o", "claude-sonnet-4-0", "gpt-4o-mini"]
    );
    let page = t.app.get(&t.admin, &path).await.text().await.unwrap();
    assert!(
        page.contains("of $25.00"),
        "the budget is shown against spend"
    );
    assert!(page.contains("gpt-4o: claude-sonnet-4-0, gpt-4o-mini"));
    // The change is in the audit log.
    let audit = t
        .app
        .get(&t.admin, "/admin/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("workspace.gateway_settings"));
}
