//! The gateway through the playground endpoint, against fake upstreams on loopback: streaming
//! in every wire format, failure states, stop cancelling the upstream, the recorded runs, the
//! outbound policy, and a canary key that never shows up anywhere.

use std::time::Duration;

use futures::StreamExt;
use promptyard::domain::{RunId, RunState};
use serde_json::{Value, json};

use crate::fake_llm::{FakeLlm, Script, Wire};
use crate::helpers::TestApp;

const CANARY: &str = "sk-canary-5e1f00d";

/// An app allowed to call the fake on loopback, with an admin session and the admin's
/// personal workspace id.
async fn app_for(fake: &FakeLlm) -> (TestApp, reqwest::Client, String) {
    let port = fake.port;
    let app = TestApp::spawn_with(move |c| {
        c.outbound.allow_cidrs = vec!["127.0.0.1".into()];
        c.outbound.allow_ports = vec![port];
        c.outbound.read_timeout_secs = 5;
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
    (app, admin, ws)
}

async fn connect(app: &TestApp, admin: &reqwest::Client, kind: &str, base: &str, models: &str) {
    let res = app
        .post_form(
            admin,
            "/admin/providers",
            &[
                ("name", kind),
                ("kind", kind),
                ("base_url", base),
                ("api_key", CANARY),
                ("models", models),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

/// Runs `model` through the playground and collects the streamed events.
async fn run(app: &TestApp, client: &reqwest::Client, ws: &str, model: &str) -> Vec<Value> {
    let res = client
        .post(app.url(&format!("/w/{ws}/playground/run")))
        .json(&json!({"model": model, "system_prompt": "Be brief.", "user_prompt": "Say hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn recorded(app: &TestApp, id: &str) -> promptyard::domain::Run {
    let id: RunId = id.parse().unwrap();
    for _ in 0..100 {
        if let Ok(run) = app.store.get_run(id).await {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {id} was never recorded");
}

#[tokio::test]
async fn gateway_streams_every_wire_format_and_records_the_run() {
    let fake = FakeLlm::with(Script::reply("Hello from the fake model", 4)).await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai",
        &fake.base_for(Wire::Openai),
        "gpt-4o-mini",
    )
    .await;
    connect(
        &app,
        &admin,
        "anthropic",
        &fake.base_for(Wire::Anthropic),
        "claude-sonnet-4-0",
    )
    .await;
    connect(
        &app,
        &admin,
        "google",
        &fake.base_for(Wire::Gemini),
        "gemini-2.5-flash",
    )
    .await;
    for model in ["gpt-4o-mini", "claude-sonnet-4-0", "gemini-2.5-flash"] {
        let events = run(&app, &admin, &ws, model).await;
        assert_eq!(events[0]["type"], "started", "{model}: {events:?}");
        let deltas: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "delta")
            .map(|e| e["text"].as_str().unwrap())
            .collect();
        assert!(deltas.len() > 1, "{model}: streamed in pieces: {deltas:?}");
        assert_eq!(deltas.concat(), "Hello from the fake model");
        let done = events.last().unwrap();
        assert_eq!(done["type"], "finished");
        assert_eq!(done["state"], "completed", "{model}: {done}");
        let run = recorded(&app, events[0]["run_id"].as_str().unwrap()).await;
        assert_eq!(run.state, RunState::Completed);
        assert_eq!(run.output, "Hello from the fake model");
        assert_eq!(run.model, model);
        assert!(run.input_tokens > 0 && run.output_tokens > 0, "{run:?}");
        assert!(run.cost_usd.is_some(), "{model} has a list price");
        assert!(run.prompt.contains("Be brief.") && run.prompt.contains("Say hello"));
        // The key went to the provider, in its own header.
        let last = fake.last_request();
        let sent = [
            last.header("authorization"),
            last.header("x-api-key"),
            last.header("x-goog-api-key"),
        ];
        assert!(
            sent.iter().flatten().any(|h| h.contains(CANARY)),
            "{model}: {:?}",
            last.headers
        );
    }
    // The run page shows it, with a way to run it again.
    let events = run(&app, &admin, &ws, "gpt-4o-mini").await;
    let id = events[0]["run_id"].as_str().unwrap();
    recorded(&app, id).await;
    let page = admin
        .get(app.url(&format!("/w/{ws}/runs/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Hello from the fake model") && page.contains("Run again"),
        "{page}"
    );
}

#[tokio::test]
async fn gateway_failures_end_in_readable_states() {
    let fake = FakeLlm::start().await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai",
        &fake.base_for(Wire::Openai),
        "ok\nbroken\ncut\nslow\nlimited",
    )
    .await;
    fake.script_for(
        "garbled",
        Script {
            malformed_after: Some(1),
            ..Script::reply("x y z", 3)
        },
    );
    fake.script_for(
        "huge",
        Script {
            huge: Some(17 * 1024 * 1024),
            ..Script::reply("big", 1)
        },
    );
    fake.script_for(
        "moved",
        Script {
            redirect_to: Some("http://example.com/v1".into()),
            ..Script::reply("no", 1)
        },
    );
    fake.script_for("broken", Script::status(500));
    fake.script_for(
        "limited",
        Script {
            retry_after: Some("7".into()),
            ..Script::status(429)
        },
    );
    fake.script_for(
        "cut",
        Script {
            reset_after: Some(2),
            ..Script::reply("one two three four", 4)
        },
    );
    fake.script_for(
        "slow",
        Script {
            first_byte_delay: Duration::from_secs(8),
            ..Script::reply("late", 1)
        },
    );
    let cases = [
        ("broken", "failed", "500"),
        ("limited", "failed", "rate limiting"),
        ("cut", "truncated", "lost mid-answer"),
        ("slow", "failed", "did not answer in time"),
        (
            "unlisted",
            "failed",
            "no provider connection offers the model",
        ),
    ];
    for (model, state, words) in cases {
        let events = run(&app, &admin, &ws, model).await;
        let done = events.last().unwrap();
        assert_eq!(done["state"], state, "{model}: {events:?}");
        let error = done["error"].as_str().unwrap_or_default();
        assert!(error.contains(words), "{model}: {error}");
        assert!(!error.contains(CANARY));
        let run = recorded(&app, events[0]["run_id"].as_str().unwrap()).await;
        assert_eq!(run.state.as_str(), state);
        if model == "cut" {
            assert!(
                !run.output.is_empty(),
                "a truncated run keeps its partial output"
            );
        }
    }
}

#[tokio::test]
async fn stopping_a_run_cancels_the_upstream_call() {
    let fake = FakeLlm::with(Script {
        pacing: Duration::from_millis(300),
        ..Script::reply("a b c d e f g h i j k l m n o p", 16)
    })
    .await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai",
        &fake.base_for(Wire::Openai),
        "gpt-4o-mini",
    )
    .await;
    let res = admin
        .post(app.url(&format!("/w/{ws}/playground/run")))
        .json(&json!({"model": "gpt-4o-mini", "user_prompt": "count"}))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"delta\"") {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    let id = serde_json::from_str::<Value>(seen.lines().next().unwrap()).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(body);
    // The fake sees its client go away within a second.
    let mut gone = false;
    for _ in 0..50 {
        if fake.dropped() > 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the upstream call was not aborted");
    let run = recorded(&app, &id).await;
    assert_eq!(run.state, RunState::Cancelled);
    assert!(fake.completed() == 0);
}

#[tokio::test]
async fn the_outbound_policy_keeps_workspace_admins_off_internal_addresses() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let list: Value = admin
        .get(app.url("/api/workspaces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = list[0]["id"].as_str().unwrap();
    for url in [
        "http://169.254.169.254/latest",
        "http://127.0.0.1:11434/v1",
        "http://[::1]/v1",
        "http://10.0.0.7/v1",
    ] {
        let res = app
            .post_form(
                &admin,
                &format!("/w/{ws}/providers"),
                &[
                    ("name", "sneaky"),
                    ("kind", "openai-compatible"),
                    ("base_url", url),
                    ("models", "m"),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{url}");
        assert!(
            res.text().await.unwrap().contains("outbound policy"),
            "{url}"
        );
    }
    assert!(
        app.store
            .list_connections(Some(ws.parse().unwrap()))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_canary_key_never_leaves_the_sealed_store() {
    let fake = FakeLlm::with(Script::reply("fine", 2)).await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai",
        &fake.base_for(Wire::Openai),
        "gpt-4o-mini",
    )
    .await;
    run(&app, &admin, &ws, "gpt-4o-mini").await;
    fake.set_script(Script::status(401));
    let events = run(&app, &admin, &ws, "gpt-4o-mini").await;
    assert!(
        events.last().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("rejected the API key")
    );
    for page in [
        "/admin/providers",
        &format!("/w/{ws}/playground"),
        "/admin/audit",
    ] {
        let html = admin
            .get(app.url(page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!html.contains(CANARY), "{page} shows the key");
    }
    for api in [format!("/api/workspaces/{ws}"), "/api/me".to_owned()] {
        let text = admin
            .get(app.url(&api))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!text.contains(CANARY));
    }
    let runs = app
        .store
        .list_runs(ws.parse().unwrap(), None, 10)
        .await
        .unwrap()
        .items;
    assert!(
        runs.iter()
            .all(|r| !r.error.clone().unwrap_or_default().contains(CANARY))
    );
    app.stop().await;
}

#[tokio::test]
async fn connections_discover_models_and_need_the_key_again_for_a_new_url() {
    let fake = FakeLlm::start().await;
    fake.set_models(&["llama3.1:8b", "qwen2.5:7b"]);
    let (app, admin, _) = app_for(&fake).await;
    connect(&app, &admin, "openai", &fake.base_for(Wire::Openai), "").await;
    // Added without models, it asked the provider at once.
    let conn = app.store.list_connections(None).await.unwrap().remove(0);
    assert_eq!(conn.models, vec!["llama3.1:8b", "qwen2.5:7b"]);
    // Discovering again finds the same, and says so.
    let res = app
        .post_form(
            &admin,
            &format!("/admin/providers/{}/discover", conn.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let conn = app.store.get_connection(conn.id).await.unwrap();
    assert_eq!(conn.models, vec!["llama3.1:8b", "qwen2.5:7b"]);
    let page = admin
        .get(app.url("/admin/providers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("offers 2 model(s)") && page.contains("key set"),
        "{page}"
    );

    // A new base URL without the key again is refused and changes nothing.
    let update = format!("/admin/providers/{}/update", conn.id);
    let moved = format!("http://127.0.0.1:{}/other/v1", fake.port);
    let res = app
        .post_form(
            &admin,
            &update,
            &[
                ("name", "openai"),
                ("kind", "openai"),
                ("base_url", &moved),
                ("models", "gpt-4o"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = admin
        .get(app.url("/admin/providers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Enter the API key again"), "{page}");
    assert_eq!(app.store.get_connection(conn.id).await.unwrap(), conn);
    let res = app
        .post_form(
            &admin,
            &update,
            &[
                ("name", "openai"),
                ("kind", "openai"),
                ("base_url", &moved),
                ("api_key", "sk-new-key"),
                ("models", "gpt-4o"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let changed = app.store.get_connection(conn.id).await.unwrap();
    assert_eq!(changed.base_url, moved);
    assert_ne!(changed.sealed_key, conn.sealed_key);
}

#[tokio::test]
async fn runs_are_on_disk_after_a_graceful_stop() {
    let fake = FakeLlm::with(Script::reply("done", 2)).await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai",
        &fake.base_for(Wire::Openai),
        "gpt-4o-mini",
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let events = run(&app, &admin, &ws, "gpt-4o-mini").await;
        ids.push(
            events[0]["run_id"]
                .as_str()
                .unwrap()
                .parse::<RunId>()
                .unwrap(),
        );
    }
    let store = app.store.clone();
    // Stop right away: the recorder finishes its queue before the server returns.
    app.stop().await;
    for id in ids {
        assert_eq!(store.get_run(id).await.unwrap().state, RunState::Completed);
    }
}

#[tokio::test]
async fn a_provider_failing_before_any_output_is_retried_once_recovered() {
    let fake = FakeLlm::start().await;
    fake.script_for("flaky", Script::status(503));
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai",
        &fake.base_for(Wire::Openai),
        "flaky\nrejected",
    )
    .await;
    let (client, url) = (admin.clone(), app.url(&format!("/w/{ws}/playground/run")));
    let call = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({"model": "flaky", "user_prompt": "hi"}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    // The first attempt fails; the provider recovers during the backoff.
    while fake.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fake.script_for("flaky", Script::reply("recovered answer", 2));
    let text = call.await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.last().unwrap()["state"], "completed", "{events:?}");
    let output: String = events.iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(output, "recovered answer", "no duplicated output");
    assert_eq!(fake.requests().len(), 2);

    // A rejected key is not retried.
    fake.script_for("rejected", Script::status(401));
    let before = fake.requests().len();
    let events = run(&app, &admin, &ws, "rejected").await;
    assert_eq!(events.last().unwrap()["state"], "failed");
    assert_eq!(fake.requests().len(), before + 1);
}

#[tokio::test]
async fn a_folder_context_goes_into_the_prompt_and_its_manifest_stays_with_the_run() {
    let fake = FakeLlm::with(Script::reply("Reviewed", 2)).await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai-compatible",
        &fake.base_for(Wire::Openai),
        "local",
    )
    .await;
    let url = app.url(&format!("/w/{ws}/playground/run"));
    let context = "<file path=\"src/a.rs\">\nfn a() {}\n</file>\n";
    let manifest =
        json!([{"path": "src/a.rs", "size": 10, "sha256": "ab".repeat(32), "tokens": 5}]);
    let res = admin
        .post(&url)
        .json(
            &json!({"model": "local", "user_prompt": "Review {{ context }} please",
            "context": context, "context_manifest": manifest}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let started: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let sent = fake.last_request().body.to_string();
    assert!(
        sent.contains("Review <file path=\\\"src/a.rs\\\">\\nfn a() {}\\n</file>\\n please"),
        "{sent}"
    );
    let run = recorded(&app, started["run_id"].as_str().unwrap()).await;
    assert_eq!(run.context_manifest, Some(manifest));
    let page = app
        .get(&admin, &format!("/w/{ws}/runs/{}", run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Folder context") && page.contains("<code>src/a.rs</code>"));
    let again = app
        .get(&admin, &format!("/w/{ws}/runs/{}/context", run.id))
        .await;
    assert_eq!(again.status(), 200);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("\"path\":\"src/a.rs\"")
    );

    // Without a placeholder the context follows the prompt.
    let res = admin
        .post(&url)
        .json(&json!({"model": "local", "user_prompt": "Summarise", "context": "CTX"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();
    assert!(
        fake.last_request()
            .body
            .to_string()
            .contains("Summarise\\n\\nCTX")
    );

    // A template's own `context` variable takes it, when left empty.
    let res = admin
        .post(app.url(&format!("/api/workspaces/{ws}/templates")))
        .json(
            &json!({"name": "Review", "user_prompt_template": "Check: {{context}}",
            "variables": [{"name": "context", "type": "text", "required": true}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let t: Value = res.json().await.unwrap();
    let res = admin
        .post(&url)
        .json(
            &json!({"model": "local", "template_id": t["template"]["id"], "template_version": 1,
            "variables": {}, "context": "CTX"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();
    assert!(
        fake.last_request()
            .body
            .to_string()
            .contains("\"Check: CTX\"")
    );

    // A bad manifest is refused with the field named; nothing is run.
    let before = fake.requests().len();
    for bad in [
        json!([{"path": "", "size": 1, "tokens": 1}]),
        json!([{"path": "a", "size": 1, "tokens": 1, "sha256": "xyz"}]),
        json!([{"path": "a", "size": 1, "tokens": 1, "content": "no"}]),
    ] {
        let res = admin
            .post(&url)
            .json(&json!({"model": "local", "user_prompt": "x", "context": "c", "context_manifest": bad}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{bad}: {}", res.status());
    }
    assert_eq!(fake.requests().len(), before);

    // The server's count, which the browser's must equal.
    let count = |body: Value| {
        let (admin, url) = (admin.clone(), app.url("/api/tokens/count"));
        async move { admin.post(url).json(&body).send().await.unwrap() }
    };
    let res = count(json!({"text": "hello world", "model": "gpt-4"})).await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"tokens": 2, "encoding": "cl100k_base", "exact": true})
    );
    let res = count(json!({"text": "x", "encoding": "p50k_base"})).await;
    assert_eq!(res.status(), 422);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"]["field"], "encoding");
}

#[tokio::test]
async fn a_template_prompt_edited_in_the_playground_runs_as_edited_and_is_not_that_version() {
    let fake = FakeLlm::with(Script::reply("Planned", 2)).await;
    let (app, admin, ws) = app_for(&fake).await;
    connect(
        &app,
        &admin,
        "openai-compatible",
        &fake.base_for(Wire::Openai),
        "local",
    )
    .await;
    let res = admin
        .post(app.url(&format!("/api/workspaces/{ws}/templates")))
        .json(&json!({"name": "Trip", "system_prompt": "You plan trips.",
            "user_prompt_template": "Plan {{city}}.",
            "variables": [{"name": "city", "type": "string", "required": true}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let t: Value = res.json().await.unwrap();
    let id = t["template"]["id"].as_str().unwrap();
    let url = app.url(&format!("/w/{ws}/playground/run"));
    let started =
        |text: &str| -> Value { serde_json::from_str(text.lines().next().unwrap()).unwrap() };

    // As stored: the template's text, recorded as its version 1.
    let body = json!({"model": "local", "template_id": id, "template_version": 1,
        "variables": {"city": "Lyon"}, "system_prompt": "ignored", "user_prompt": "ignored"});
    let text = admin
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fake.last_request().body.to_string().contains("Plan Lyon."));
    let run = recorded(&app, started(&text)["run_id"].as_str().unwrap()).await;
    assert_eq!(
        (run.template_id.map(|t| t.to_string()), run.template_version),
        (Some(id.to_owned()), Some(1))
    );

    // Unlocked and edited: the posted text runs, with the variables filled in, and the run is
    // not credited to version 1 (whose text it no longer is).
    let mut edited = body.clone();
    edited["edited"] = json!(true);
    edited["system_prompt"] = json!("You plan short trips.");
    edited["user_prompt"] = json!("Plan one day in {{city}}.");
    let text = admin
        .post(&url)
        .json(&edited)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sent = fake.last_request().body.to_string();
    assert!(
        sent.contains("Plan one day in Lyon.") && sent.contains("You plan short trips."),
        "{sent}"
    );
    let run = recorded(&app, started(&text)["run_id"].as_str().unwrap()).await;
    assert_eq!(run.template_id, None);
    // The template is unchanged.
    let v: Value = admin
        .get(app.url(&format!("/api/templates/{id}/versions/1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["user_prompt_template"], "Plan {{city}}.");
    // Edited text still has to satisfy the variables: a missing required one is named.
    edited["variables"] = json!({});
    let res = admin.post(&url).json(&edited).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("city"));
}
