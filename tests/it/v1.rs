//! The OpenAI-compatible /v1 API with API keys, against a fake upstream: shapes streaming and
//! not, every call a run attributed to its key, OpenAI-style errors, revocation at once.

use promptyard::domain::RunId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_llm::{FakeLlm, Script, Wire};
use crate::helpers::TestApp;

pub(crate) struct V1 {
    pub(crate) app: TestApp,
    pub(crate) admin: reqwest::Client,
    pub(crate) ws: String,
    pub(crate) fake: FakeLlm,
}

async fn setup(script: Script) -> V1 {
    setup_with(script, |_| {}).await
}

pub(crate) async fn setup_with(
    script: Script,
    adjust: impl FnOnce(&mut promptyard::config::Config) + Send + 'static,
) -> V1 {
    let fake = FakeLlm::with(script).await;
    let port = fake.port;
    let app = TestApp::spawn_with(move |c| {
        c.outbound.allow_cidrs = vec!["127.0.0.1".into()];
        c.outbound.allow_ports = vec![port];
        adjust(c);
    })
    .await;
    let admin = app.setup_admin().await;
    let list: Value = admin
        .get(app.url("/api/workspaces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = list[0]["id"].as_str().unwrap().to_owned();
    for (kind, wire, models) in [
        ("openai", Wire::Openai, "gpt-4o-mini\ngpt-4o"),
        ("anthropic", Wire::Anthropic, "claude-sonnet-4-0"),
    ] {
        let res = app
            .post_form(
                &admin,
                "/admin/providers",
                &[
                    ("name", kind),
                    ("kind", kind),
                    ("base_url", &fake.base_for(wire)),
                    ("api_key", "sk-up"),
                    ("models", models),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
    V1 {
        app,
        admin,
        ws,
        fake,
    }
}

impl V1 {
    pub(crate) async fn key(&self, models: &str) -> String {
        let res = self
            .app
            .post_form(
                &self.admin,
                "/account/api-keys",
                &[
                    ("name", "test key"),
                    ("workspace", &self.ws),
                    ("models", models),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        let start = page.find("value=\"pyk_").unwrap() + 7;
        let end = start + page[start..].find('"').unwrap();
        page[start..end].to_owned()
    }

    pub(crate) fn post(&self, key: &str, path: &str, body: Value) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(self.app.url(path))
            .bearer_auth(key)
            .json(&body)
    }
}

#[tokio::test]
async fn v1_chat_completions_answer_in_openais_shapes() {
    let t = setup(Script::reply("Hi there from upstream", 3)).await;
    let key = t.key("").await;
    let models: Value = reqwest::Client::new()
        .get(t.app.url("/v1/models"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["claude-sonnet-4-0", "gpt-4o-mini", "gpt-4o"]
            .into_iter()
            .filter(|m| ids.contains(m))
            .collect::<Vec<_>>()
    );
    assert_eq!(ids.len(), 3);

    // Whole answer, from OpenAI and (translated) from Anthropic.
    for model in ["gpt-4o-mini", "claude-sonnet-4-0"] {
        let res = t
            .post(&key, "/v1/chat/completions", json!({"model": model, "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": [{"type": "text", "text": "Hello"}]}], "n": 1, "user": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            "Hi there from upstream"
        );
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
        let run = t
            .app
            .store
            .get_run(body["run_id"].as_str().unwrap().parse::<RunId>().unwrap())
            .await;
        // The recorder writes shortly after; wait for it.
        let run = match run {
            Ok(r) => r,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                t.app
                    .store
                    .get_run(body["run_id"].as_str().unwrap().parse().unwrap())
                    .await
                    .unwrap()
            }
        };
        assert!(run.api_key_id.is_some(), "attributed to the key");
        // A caller that takes the answer whole gets it from the provider whole.
        assert_eq!(t.fake.last_request().body["stream"], json!(false));
    }

    // Streamed: SSE chunks, a usage chunk when asked, and [DONE].
    let res = t
        .post(&key, "/v1/chat/completions", json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = res.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(*events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hi there from upstream");
    assert!(
        chunks
            .iter()
            .any(|c| c["usage"]["completion_tokens"].as_u64().is_some())
    );
    assert_eq!(t.fake.last_request().body["stream"], json!(true));
}

#[tokio::test]
async fn v1_errors_use_openais_shape_and_status() {
    let t = setup(Script::reply("ok", 1)).await;
    let key = t.key("gpt-4o-mini").await;
    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let res = reqwest::Client::new()
        .post(t.app.url("/v1/chat/completions"))
        .json(&chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    let res = t
        .post(
            "pyk_wrongwrongwrongwrongwrongwrongwrongwrongwro",
            "/v1/chat/completions",
            chat("gpt-4o-mini"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = t
        .post(&key, "/v1/chat/completions", chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "not on this key's allowlist"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gpt-4o")
    );
    let wide = t.key("").await;
    let res = t
        .post(&wide, "/v1/chat/completions", chat("no-such-model"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = t
        .post(
            &wide,
            "/v1/chat/completions",
            json!({"model": "gpt-4o", "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["param"],
        "messages"
    );

    // Revoking works at once.
    assert_eq!(
        t.post(&key, "/v1/chat/completions", chat("gpt-4o-mini"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let keys = t
        .app
        .store
        .list_api_keys(
            t.app
                .store
                .find_user_by_email(crate::helpers::ADMIN_EMAIL)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    let id = keys
        .iter()
        .find(|k| k.models == vec!["gpt-4o-mini".to_owned()])
        .unwrap()
        .id;
    let res = t
        .app
        .post_form(&t.admin, &format!("/account/api-keys/{id}/revoke"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        t.post(&key, "/v1/chat/completions", chat("gpt-4o-mini"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The page lists it by prefix, never in full.
    let page = t
        .admin
        .get(t.app.url("/account/api-keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Revoked") && page.contains(&key[..12]) && !page.contains(&key));
}

#[tokio::test]
async fn v1_runs_a_template_by_label() {
    let t = setup(Script::reply("Template answer", 2)).await;
    let key = t.key("").await;
    let created: Value = t
        .admin
        .post(t.app.url(&format!("/api/workspaces/{}/templates", t.ws)))
        .json(&json!({
            "name": "Greeter", "user_prompt_template": "Greet {{who}}",
            "variables": [{"name": "who", "type": "string", "required": true}],
            "model": {"model": "gpt-4o-mini"}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["template"]["id"].as_str().unwrap();
    t.admin
        .put(t.app.url(&format!("/api/templates/{id}/labels/production")))
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    let res = t
        .post(
            &key,
            &format!("/v1/templates/{id}/run"),
            json!({"variables": {"who": "Ada"}, "label": "production"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Template answer");
    assert!(body["run_id"].is_string());
    assert_eq!(body["promptyard"]["template_version"], 1);
    let res = t
        .post(
            &key,
            &format!("/v1/templates/{id}/run"),
            json!({"variables": {}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("who")
    );
}

#[tokio::test]
async fn v1_rate_limits_answer_429_with_retry_after() {
    let t = setup_with(Script::reply("ok", 1), |c| {
        c.limits.key_requests_per_minute = 2;
        c.limits.workspace_tokens_per_minute = 1000;
    })
    .await;
    let key = t.key("").await;
    let chat = |text: &str| json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]});
    for _ in 0..2 {
        assert_eq!(
            t.post(&key, "/v1/chat/completions", chat("hi"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let res = t
        .post(&key, "/v1/chat/completions", chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key's requests per minute")
    );
    // Another key of the same workspace has its own request budget, but a prompt bigger than
    // the workspace's tokens per minute is refused outright.
    let other = t.key("").await;
    let huge = "word ".repeat(3000);
    let res = t
        .post(&other, "/v1/chat/completions", chat(&huge))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens per minute")
    );
    assert_eq!(
        t.post(&other, "/v1/chat/completions", chat("hi"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn v1_reports_an_answer_cut_short_by_max_tokens_as_length() {
    let t = setup(Script {
        hit_max_tokens: true,
        ..Script::reply("A long answer that was cut", 2)
    })
    .await;
    let key = t.key("").await;
    // Anthropic's `max_tokens` reaches the caller as OpenAI's `length`, streamed and not, so
    // SDK users can tell a truncated answer from a whole one.
    for model in ["gpt-4o-mini", "claude-sonnet-4-0"] {
        let body: Value = t
            .post(&key, "/v1/chat/completions", json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "Tell me everything"}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["choices"][0]["finish_reason"], "length", "{model}");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            "A long answer that was cut"
        );

        let text = t
            .post(&key, "/v1/chat/completions", json!({"model": model, "stream": true, "max_tokens": 5, "messages": [{"role": "user", "content": "Tell me everything"}]}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let finishes: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|e| *e != "[DONE]")
            .map(|e| serde_json::from_str::<Value>(e).unwrap())
            .map(|c| c["choices"][0]["finish_reason"].clone())
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finishes, vec![json!("length")], "{model}: {text}");
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
}
