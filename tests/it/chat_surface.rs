//! The whole chat surface through `/v1` against fake OpenAI, Anthropic and Gemini upstreams:
//! a two-step tool loop, streamed and parallel tool calls, images, structured output, replayed
//! provider streams, parameters a provider cannot honour, and upstream failures. Each test
//! asserts both the exact body the upstream received and what the caller got back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fake_llm::{Call, Script, Wire};
use crate::v1::{V1, setup_with};

/// A 1×1 PNG.
pub(crate) const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

pub(crate) const OPENAI: &str = "gpt-4o-mini";
pub(crate) const ANTHROPIC: &str = "claude-sonnet-4-0";
pub(crate) const GEMINI: &str = "gemini-2.0-flash";
const EVERY: [(&str, Wire); 3] = [
    (OPENAI, Wire::Openai),
    (ANTHROPIC, Wire::Anthropic),
    (GEMINI, Wire::Gemini),
];

/// The /v1 setup (OpenAI and Anthropic connections) plus a Gemini connection and a lenient
/// Anthropic one that drops what it cannot honour.
pub(crate) async fn setup(script: Script) -> V1 {
    let t = setup_with(script, |_| {}).await;
    for (name, kind, wire, models, drop) in [
        ("gemini", "google", Wire::Gemini, GEMINI, false),
        (
            "lenient",
            "anthropic",
            Wire::Anthropic,
            "claude-lenient",
            true,
        ),
    ] {
        let base = t.fake.base_for(wire);
        let mut form = vec![
            ("name", name),
            ("kind", kind),
            ("base_url", base.as_str()),
            ("api_key", "sk-up"),
            ("models", models),
        ];
        if drop {
            form.push(("drop_unsupported", "on"));
        }
        let res = t.app.post_form(&t.admin, "/admin/providers", &form).await;
        assert_eq!(res.status(), 303);
    }
    t
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}})
}

async fn chat(t: &V1, key: &str, body: Value) -> (StatusCode, Value) {
    let res = t
        .post(key, "/v1/chat/completions", body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

/// The `data:` chunks of a streamed answer (without `[DONE]`), and whether it ended with it.
async fn stream(t: &V1, key: &str, mut body: Value) -> (StatusCode, Vec<Value>, bool) {
    body["stream"] = json!(true);
    let res = t
        .post(key, "/v1/chat/completions", body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let mut chunks = Vec::new();
    let mut done = false;
    for line in text.lines() {
        match line.strip_prefix("data: ") {
            Some("[DONE]") => done = true,
            Some(data) => chunks.push(serde_json::from_str(data).unwrap()),
            None => {}
        }
    }
    (status, chunks, done)
}

/// Tool calls assembled from stream chunks as the SDKs do: by `index`, id and name from the
/// first delta, arguments concatenated. Also how many chunks carried argument fragments.
fn assemble(chunks: &[Value]) -> (Vec<(String, String, String)>, usize) {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut fragments = 0;
    for c in chunks {
        let Some(deltas) = c
            .pointer("/choices/0/delta/tool_calls")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for d in deltas {
            let i = d["index"].as_u64().unwrap() as usize;
            if i == calls.len() {
                calls.push(Default::default());
            }
            let call = &mut calls[i];
            if let Some(id) = d["id"].as_str() {
                call.0 = id.to_owned();
            }
            if let Some(name) = d.pointer("/function/name").and_then(Value::as_str) {
                call.1 = name.to_owned();
            }
            if let Some(args) = d.pointer("/function/arguments").and_then(Value::as_str)
                && !args.is_empty()
            {
                fragments += 1;
                call.2.push_str(args);
            }
        }
    }
    (calls, fragments)
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}

fn finish_of(chunks: &[Value]) -> Option<String> {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
        })
        .next_back()
        .map(str::to_owned)
}

/// What each provider must have received for the second step of the weather loop.
fn second_step_body(wire: Wire, id: &str) -> Value {
    match wire {
        Wire::Openai => json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": id, "content": "{\"sky\": \"sunny\"}"},
        ]),
        Wire::Anthropic => json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "get_weather",
                "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id,
                "content": "{\"sky\": \"sunny\"}"}]},
        ]),
        Wire::Gemini => json!([
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                "args": {"city": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                "response": {"sky": "sunny"}}}]},
        ]),
    }
}

#[tokio::test]
async fn chat_tool_loop_runs_on_every_provider() {
    let t = setup(Script::tools(
        vec![Call::new("get_weather", "{\"city\": \"Paris\"}")],
        "It is sunny in Paris.",
    ))
    .await;
    let key = t.key("").await;
    for (model, wire) in EVERY {
        let user = json!({"role": "user", "content": "Weather in Paris?"});
        let (status, first) = chat(
            &t,
            &key,
            json!({"model": model, "messages": [user], "tools": [weather_tool()],
                "tool_choice": "auto"}),
        )
        .await;
        assert_eq!(status, 200, "{model}: {first}");
        let choice = &first["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{model}: {first}");
        assert_eq!(choice["message"]["content"], Value::Null, "{model}");
        let call = &choice["message"]["tool_calls"][0];
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"city": "Paris"}), "{model}");
        let id = call["id"].as_str().unwrap().to_owned();
        assert!(!id.is_empty());

        // The tool definition, translated.
        let sent = t.fake.last_request().body;
        match wire {
            Wire::Openai => {
                assert_eq!(sent["tools"], json!([weather_tool()]));
                assert_eq!(sent["tool_choice"], "auto");
            }
            Wire::Anthropic => {
                assert_eq!(
                    sent["tools"],
                    json!([{"name": "get_weather", "description": "Current weather in a city",
                        "input_schema": weather_tool()["function"]["parameters"]}])
                );
                assert_eq!(sent["tool_choice"], json!({"type": "auto"}));
            }
            Wire::Gemini => {
                assert_eq!(
                    sent["tools"],
                    json!([{"functionDeclarations": [{"name": "get_weather",
                        "description": "Current weather in a city",
                        "parametersJsonSchema": weather_tool()["function"]["parameters"]}]}])
                );
                assert_eq!(
                    sent["toolConfig"],
                    json!({"functionCallingConfig": {"mode": "AUTO"}})
                );
            }
        }
        let run = t.app.recorded_run(&first["run_id"]).await;
        let detail = run.detail.expect("the run records the tool call");
        assert_eq!(detail["tool_calls"][0]["function"]["name"], "get_weather");
        assert_eq!(run.output_tokens, 7, "usage as the provider reported it");

        // Step two: the tool's result goes back, the model answers in text.
        let assistant = json!({"role": "assistant", "content": null, "tool_calls": [{"id": id,
            "type": "function", "function": {"name": "get_weather",
            "arguments": "{\"city\": \"Paris\"}"}}]});
        let tool = json!({"role": "tool", "tool_call_id": id, "content": "{\"sky\": \"sunny\"}"});
        let (status, second) = chat(
            &t,
            &key,
            json!({"model": model, "messages": [user, assistant, tool],
                "tools": [weather_tool()]}),
        )
        .await;
        assert_eq!(status, 200, "{model}: {second}");
        assert_eq!(
            second["choices"][0]["message"]["content"],
            "It is sunny in Paris."
        );
        assert_eq!(second["choices"][0]["finish_reason"], "stop");
        let sent = t.fake.last_request().body;
        let messages = if wire == Wire::Gemini {
            &sent["contents"]
        } else {
            &sent["messages"]
        };
        assert_eq!(*messages, second_step_body(wire, &id), "{model}");
    }

    // Search finds the runs by the tool they called (the indexer runs in the background).
    let start = std::time::Instant::now();
    loop {
        let found: Value = t
            .admin
            .get(t.app.url("/api/search"))
            .query(&[("scope", "history"), ("q", "get_weather")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let by_tool = found["hits"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter(|hit| {
                        hit["snippet_html"]
                            .as_str()
                            .is_some_and(|s| s.contains("<b>get</b>_<b>weather</b>("))
                    })
                    .count()
            })
            .unwrap_or(0);
        if by_tool >= 3 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "search for the tool name: {found}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn chat_streamed_parallel_tool_calls_keep_their_index() {
    let mut script = Script::tools(
        vec![
            Call::new("get_weather", "{\"city\": \"Paris\"}"),
            Call::new("get_weather", "{\"city\": \"Lyon\"}"),
        ],
        "done",
    );
    script.chunks = 4;
    let t = setup(script).await;
    let key = t.key("").await;
    for (model, streamed_fragments) in [(OPENAI, true), (ANTHROPIC, true), (GEMINI, false)] {
        let (status, chunks, done) = stream(
            &t,
            &key,
            json!({"model": model, "tools": [weather_tool()],
                "messages": [{"role": "user", "content": "Paris and Lyon?"}]}),
        )
        .await;
        assert_eq!(status, 200, "{model}");
        assert!(done, "{model}: the stream ends with [DONE]");
        let (calls, fragments) = assemble(&chunks);
        assert_eq!(calls.len(), 2, "{model}: {chunks:?}");
        let args: Vec<Value> = calls
            .iter()
            .map(|c| serde_json::from_str(&c.2).unwrap())
            .collect();
        assert_eq!(
            args,
            [json!({"city": "Paris"}), json!({"city": "Lyon"})],
            "{model}"
        );
        assert!(
            calls
                .iter()
                .all(|c| c.1 == "get_weather" && !c.0.is_empty())
        );
        assert_ne!(calls[0].0, calls[1].0, "{model}: distinct ids");
        if streamed_fragments {
            assert!(fragments >= 8, "{model}: arguments arrive in fragments");
        }
        assert_eq!(finish_of(&chunks).as_deref(), Some("tool_calls"), "{model}");
    }
}

#[tokio::test]
async fn chat_replays_provider_streams_into_openai_chunks() {
    let t = setup(Script::default()).await;
    let key = t.key("").await;
    let body = |model: &str| {
        json!({"model": model, "tools": [weather_tool()],
            "messages": [{"role": "user", "content": "Weather and time in Paris?"}]})
    };

    t.fake.script_for(
        OPENAI,
        Script::raw(include_str!("recorded/openai_parallel_tools.sse")),
    );
    let (_, chunks, done) = stream(&t, &key, body(OPENAI)).await;
    assert!(done);
    let (calls, _) = assemble(&chunks);
    assert_eq!(
        calls,
        [
            (
                "call_7VpDmXQRsTGC2Zkdiw3ZFqzF".into(),
                "get_weather".into(),
                "{\"city\": \"Paris\"}".into()
            ),
            (
                "call_Qm8nBv0cE3cQpVrX1kz2yQhS".into(),
                "get_time".into(),
                "{\"zone\": \"Europe/Paris\"}".into()
            ),
        ]
    );
    assert_eq!(finish_of(&chunks).as_deref(), Some("tool_calls"));

    t.fake.script_for(
        ANTHROPIC,
        Script::raw(include_str!("recorded/anthropic_text_then_tool.sse")),
    );
    let (_, chunks, done) = stream(&t, &key, body(ANTHROPIC)).await;
    assert!(done);
    assert_eq!(text_of(&chunks), "Okay, let me check the weather in Paris:");
    let (calls, _) = assemble(&chunks);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    let args: Value = serde_json::from_str(&calls[0].2).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "celsius"}));
    // A text block before the tool block: the tool call still has index 0.
    let first_call = chunks
        .iter()
        .find_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .unwrap();
    assert_eq!(first_call["index"], 0);
    assert_eq!(finish_of(&chunks).as_deref(), Some("tool_calls"));

    t.fake.script_for(
        GEMINI,
        Script::raw(include_str!("recorded/gemini_parallel_calls.sse")),
    );
    let (_, chunks, done) = stream(&t, &key, body(GEMINI)).await;
    assert!(done);
    let (calls, _) = assemble(&chunks);
    let names: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(names, ["get_weather", "get_time"]);
    let args: Value = serde_json::from_str(&calls[1].2).unwrap();
    assert_eq!(args, json!({"zone": "Europe/Paris"}));
    assert_eq!(finish_of(&chunks).as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn chat_images_reach_each_provider_in_its_form() {
    let t = setup(Script::reply("A single pixel.", 2)).await;
    let key = t.key("").await;
    let data_url = format!("data:image/png;base64,{PNG}");
    for (model, wire) in EVERY {
        let content = json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
        ]);
        let (status, answer) = chat(
            &t,
            &key,
            json!({"model": model, "messages": [{"role": "user", "content": content}]}),
        )
        .await;
        assert_eq!(status, 200, "{model}: {answer}");
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "A single pixel."
        );
        let sent = t.fake.last_request().body;
        match wire {
            Wire::Openai => assert_eq!(sent["messages"][0]["content"], content),
            Wire::Anthropic => assert_eq!(
                sent["messages"][0]["content"],
                json!([{"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                        "data": PNG}}])
            ),
            Wire::Gemini => assert_eq!(
                sent["contents"][0]["parts"],
                json!([{"text": "What is this?"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG}}])
            ),
        }
        let run = t.app.recorded_run(&answer["run_id"]).await;
        assert!(run.prompt.contains(PNG), "the run keeps the image it sent");
        // The history page shows the image as a thumbnail.
        let page = t
            .app
            .get(&t.admin, &format!("/w/{}/runs/{}", t.ws, run.id))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(&format!("src=\"{data_url}\"")), "{model}");
    }

    // An http image goes to OpenAI and Anthropic by URL; Gemini cannot fetch it: refused.
    let url = json!([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]);
    let (status, _) = chat(
        &t,
        &key,
        json!({"model": ANTHROPIC, "messages": [{"role": "user", "content": url}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        t.fake.last_request().body["messages"][0]["content"][0]["source"],
        json!({"type": "url", "url": "https://example.com/cat.png"})
    );
    let (status, err) = chat(
        &t,
        &key,
        json!({"model": GEMINI, "messages": [{"role": "user", "content": url}]}),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["error"]["param"],
        "messages[0].content[0].image_url.url"
    );
}

#[tokio::test]
async fn chat_json_schema_is_honoured_by_every_provider() {
    let answer = "{\"city\": \"Paris\", \"celsius\": 21}";
    let t = setup(Script::reply(answer, 4)).await;
    let key = t.key("").await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"},
        "celsius": {"type": "number"}}, "required": ["city", "celsius"],
        "additionalProperties": false});
    let format = json!({"type": "json_schema", "json_schema": {"name": "weather",
        "schema": schema, "strict": true}});
    for model in [OPENAI, ANTHROPIC, GEMINI] {
        let body = json!({"model": model, "response_format": format,
            "messages": [{"role": "user", "content": "Weather in Paris as JSON"}]});
        let (status, whole) = chat(&t, &key, body.clone()).await;
        assert_eq!(status, 200, "{model}: {whole}");
        let content = whole["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(content).unwrap(),
            json!({"city": "Paris", "celsius": 21}),
            "{model}"
        );
        assert_eq!(whole["choices"][0]["finish_reason"], "stop", "{model}");
        assert!(whole["choices"][0]["message"].get("tool_calls").is_none());
        let sent = t.fake.last_request().body;
        match model {
            OPENAI => assert_eq!(sent["response_format"], format),
            ANTHROPIC => {
                assert_eq!(
                    sent["tools"],
                    json!([{"name": "weather", "input_schema": schema,
                        "description": "Give the final answer with this tool."}])
                );
                assert_eq!(
                    sent["tool_choice"],
                    json!({"type": "tool", "name": "weather"})
                );
            }
            _ => {
                assert_eq!(
                    sent["generationConfig"]["responseMimeType"],
                    "application/json"
                );
                assert_eq!(sent["generationConfig"]["responseJsonSchema"], schema);
            }
        }
        let (_, chunks, done) = stream(&t, &key, body).await;
        assert!(done);
        assert_eq!(
            serde_json::from_str::<Value>(&text_of(&chunks)).unwrap(),
            json!({"city": "Paris", "celsius": 21}),
            "{model}: streamed"
        );
        assert_eq!(finish_of(&chunks).as_deref(), Some("stop"), "{model}");
    }
}

#[tokio::test]
async fn chat_parameters_a_provider_cannot_honour_are_refused_or_dropped() {
    let t = setup(Script::reply("ok", 1)).await;
    let key = t.key("").await;
    let before = t.fake.requests().len();
    for (model, field, value) in [
        (ANTHROPIC, "n", json!(2)),
        (ANTHROPIC, "logit_bias", json!({"50256": -100})),
        (ANTHROPIC, "seed", json!(7)),
        (GEMINI, "logit_bias", json!({"50256": -100})),
        (GEMINI, "logprobs", json!(true)),
        (OPENAI, "n", json!(3)),
    ] {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        body[field] = value;
        for streamed in [false, true] {
            body["stream"] = json!(streamed);
            let res = t
                .post(&key, "/v1/chat/completions", body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{model} {field}");
            let err: Value = res.json().await.unwrap();
            assert_eq!(err["error"]["param"], field, "{model}: {err}");
            assert_eq!(err["error"]["type"], "invalid_request_error");
            assert!(
                err["error"]["message"].as_str().unwrap().contains(field),
                "{err}"
            );
        }
    }
    assert_eq!(t.fake.requests().len(), before, "nothing reached upstream");

    // The lenient connection drops them and the run says which.
    let (status, answer) = chat(
        &t,
        &key,
        json!({"model": "claude-lenient", "seed": 7, "frequency_penalty": 0.5, "top_p": 0.9,
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let sent = t.fake.last_request().body;
    assert!(sent.get("seed").is_none() && sent.get("frequency_penalty").is_none());
    assert_eq!(sent["top_p"], 0.9);
    let run = t.app.recorded_run(&answer["run_id"]).await;
    assert_eq!(
        run.detail.unwrap()["dropped"],
        json!(["seed", "frequency_penalty"])
    );
    assert_eq!(
        run.params.unwrap()["seed"],
        7,
        "the run records what was sent"
    );
}

#[tokio::test]
async fn chat_connection_form_defaults_and_refusals_help() {
    let t = setup_with(Script::reply("ok", 1), |c| c.outbound.allow_ports.push(443)).await;
    let add = |kind: &'static str, base: &'static str| {
        let t = &t;
        async move {
            t.app
                .post_form(
                    &t.admin,
                    "/admin/providers",
                    &[
                        ("name", &format!("{kind} {base}")),
                        ("kind", kind),
                        ("base_url", base),
                        ("api_key", "sk-x"),
                        ("models", &format!("m-{kind}-{}", base.len())),
                    ],
                )
                .await
        }
    };
    // No provider's address is prefilled; a blank one is the provider's own.
    let page = t
        .app
        .get(&t.admin, "/admin/providers")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("value=\"https://api.openai.com/v1\""));
    assert!(page.contains("placeholder=\"http://127.0.0.1:11434/v1\""));
    let res = add("anthropic", "").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let page = t
        .app
        .get(&t.admin, "/admin/providers")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("https://api.anthropic.com/v1"));
    // A local server has no default address to assume.
    let res = add("openai-compatible", "").await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("http://127.0.0.1:11434/v1")
    );
    // A refusal names every setting in the way at once.
    let res = add("openai-compatible", "http://10.1.2.3:8000/v1").await;
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("add port 8000 to outbound.allow_ports"),
        "{text}"
    );
    assert!(
        text.contains("add 10.1.2.3 to outbound.allow_cidrs"),
        "{text}"
    );
    // History has its own place in the navigation.
    let page = t
        .app
        .get(&t.admin, &format!("/w/{}/history", t.ws))
        .await
        .text()
        .await
        .unwrap();
    let current = page
        .split("<a ")
        .find(|a| a.contains("aria-current=\"page\""))
        .unwrap();
    assert!(current.contains(">History<"), "{current}");
}

#[tokio::test]
async fn chat_openai_compatible_servers_get_unknown_fields_verbatim() {
    let t = setup(Script::reply("ok", 1)).await;
    let base = t.fake.base_for(Wire::Openai);
    let res = t
        .app
        .post_form(
            &t.admin,
            "/admin/providers",
            &[
                ("name", "local"),
                ("kind", "openai-compatible"),
                ("base_url", &base),
                ("models", "llama3.1:8b"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let key = t.key("").await;
    let grammar = "root ::= \"yes\" | \"no\"";
    let (status, _) = chat(
        &t,
        &key,
        json!({"model": "llama3.1:8b", "top_k": 40, "min_p": 0.05, "grammar": grammar,
            "seed": 3, "max_completion_tokens": 20, "stop": "END", "user": "u-1",
            "messages": [{"role": "user", "content": "yes or no?"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let sent = t.fake.last_request().body;
    assert_eq!(sent["top_k"], 40);
    assert_eq!(sent["min_p"], 0.05);
    assert_eq!(sent["grammar"], grammar);
    assert_eq!(sent["seed"], 3);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["user"], "u-1");
    // Local servers know max_tokens; OpenAI itself gets max_completion_tokens.
    assert_eq!(sent["max_tokens"], 20);
    let (status, _) = chat(
        &t,
        &key,
        json!({"model": OPENAI, "max_completion_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(t.fake.last_request().body["max_completion_tokens"], 20);
}

#[tokio::test]
async fn chat_upstream_failures_get_real_statuses() {
    let t = setup(Script::reply("ok", 1)).await;
    let key = t.key("").await;
    let body = json!({"model": OPENAI, "messages": [{"role": "user", "content": "hi"}]});

    // A 429 upstream is a 429 here with its Retry-After, streamed or not.
    let mut limited = Script::status(429);
    limited.retry_after = Some("7".into());
    t.fake.set_script(limited);
    for streamed in [false, true] {
        let mut b = body.clone();
        b["stream"] = json!(streamed);
        let res = t
            .post(&key, "/v1/chat/completions", b)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429, "streamed: {streamed}");
        assert_eq!(res.headers()["retry-after"], "7");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["type"], "rate_limit_error", "{err}");
    }

    // A failure before any output of a stream: a real status, not 200 and an error event.
    t.fake.set_script(Script::status(500));
    let mut b = body.clone();
    b["stream"] = json!(true);
    let res = t
        .post(&key, "/v1/chat/completions", b.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    // A failure after output started: an error chunk, and the stream ends cleanly.
    let mut broken = Script::reply("one two three four", 4);
    broken.reset_after = Some(2);
    t.fake.set_script(broken);
    let (status, chunks, done) = stream(&t, &key, b).await;
    assert_eq!(status, 200);
    assert!(!done, "no [DONE] after a failure");
    assert!(!text_of(&chunks).is_empty());
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["type"], "api_error", "{last}");
}

#[tokio::test]
async fn chat_broken_tool_arguments_are_kept_and_flagged() {
    let t = setup(Script::tools(
        vec![Call::new("get_weather", "{\"city\": \"Par")],
        "unused",
    ))
    .await;
    let key = t.key("").await;
    let (status, answer) = chat(
        &t,
        &key,
        json!({"model": OPENAI, "tools": [weather_tool()],
            "messages": [{"role": "user", "content": "Weather in Paris?"}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["arguments"], "{\"city\": \"Par");
    let run = t.app.recorded_run(&answer["run_id"]).await;
    let detail = run.detail.unwrap();
    assert_eq!(detail["invalid_tool_arguments"], json!([0]), "{detail}");
    let page = t
        .app
        .get(&t.admin, &format!("/w/{}/runs/{}", t.ws, run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("arguments are not JSON"));
    assert!(page.contains("get_weather"));
}

#[tokio::test]
async fn chat_bad_input_is_a_400_naming_the_field() {
    let t = setup(Script::reply("ok", 1)).await;
    let key = t.key("").await;
    let user = json!({"role": "user", "content": "hi"});
    let call = json!({"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"}}]});
    let big = "A".repeat(28 * 1024 * 1024);
    for (body, param) in [
        (
            json!({"messages": [user, {"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
            "messages[1].tool_call_id",
        ),
        (
            json!({"messages": [user, {"role": "wizard", "content": "x"}]}),
            "messages[1].role",
        ),
        (
            json!({"messages": [user, {"role": "assistant", "tool_calls": [{"id": "c1",
                "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [user], "tools": [{"type": "function", "function": {"name": "f",
                "parameters": {"type": "objekt"}}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"messages": [user], "tools": [weather_tool()],
                "tool_choice": {"type": "function", "function": {"name": "other"}}}),
            "tool_choice",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
                "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
                "image_url": {"url": format!("data:image/png;base64,{big}")}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"messages": [user], "response_format": {"type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": 5}}}}),
            "response_format.json_schema.schema",
        ),
        (json!({"messages": [user, call, user]}), "messages[1]"),
    ] {
        let mut body = body;
        body["model"] = json!(OPENAI);
        let (status, err) = chat(&t, &key, body).await;
        assert_eq!(status, 400, "{param}: {err}");
        assert_eq!(err["error"]["param"], param, "{err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn chat_models_answer_one_model_by_id() {
    let t = setup(Script::default()).await;
    let key = t.key("gpt-4o-mini").await;
    let res = reqwest::Client::new()
        .get(t.app.url("/v1/models/gpt-4o-mini"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let m: Value = res.json().await.unwrap();
    assert_eq!(m["id"], "gpt-4o-mini");
    assert_eq!(m["object"], "model");
    // Outside the key's allowlist, or unknown: 404 in OpenAI's shape.
    for id in [ANTHROPIC, "no-such-model"] {
        let res = reqwest::Client::new()
            .get(t.app.url(&format!("/v1/models/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{id}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "model_not_found");
    }
}

#[tokio::test]
async fn chat_an_admin_allows_a_local_server_from_the_web_ui_without_a_restart() {
    use promptyard::domain::AuditFilter;
    let fake = crate::fake_llm::FakeLlm::start().await;
    let app = crate::helpers::TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let base = fake.base_for(Wire::Openai);
    let form = [
        ("name", "Local"),
        ("kind", "openai-compatible"),
        ("base_url", base.as_str()),
        ("models", "fake-local"),
    ];
    let add = || app.post_form(&admin, "/admin/providers", &form);
    let res = add().await;
    assert_eq!(res.status(), 422);
    let text = res.text().await.unwrap();
    assert!(text.contains("outbound.allow_ports") && text.contains("outbound.allow_cidrs"));
    let page = app
        .get(&admin, "/admin/outbound")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"outbound-configured\""));

    // A bad entry names its field and changes nothing.
    let res = app
        .post_form(
            &admin,
            "/admin/outbound",
            &[
                ("allow_cidrs", "127.0.0.1\n10.0.0.0/33"),
                ("allow_ports", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("10.0.0.0/33"));

    let port = fake.port.to_string();
    let res = app
        .post_form(
            &admin,
            "/admin/outbound",
            &[("allow_cidrs", "127.0.0.1"), ("allow_ports", &port)],
        )
        .await;
    assert_eq!(res.status(), 303);
    // In force at once: the connection is accepted and answers.
    assert_eq!(add().await.status(), 303);
    let page = app
        .get(&admin, "/admin/outbound")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&port));
    let ws = app.first_workspace(&admin).await.to_string();
    let page = app
        .post_form(
            &admin,
            "/account/api-keys",
            &[("name", "k"), ("workspace", &ws), ("models", "")],
        )
        .await
        .text()
        .await
        .unwrap();
    let start = page.find("value=\"pyk_").expect("a new key") + 7;
    let key = &page[start..start + page[start..].find('"').unwrap()];
    let res = reqwest::Client::new()
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "fake-local", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(fake.requests().len(), 1);
    let events = app
        .store
        .list_audit_events(
            &AuditFilter {
                action: Some("outbound.update".into()),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1, "one change, audited");
}

#[tokio::test]
async fn chat_a_new_connection_discovers_its_models_and_the_playground_names_an_empty_one() {
    let fake = crate::fake_llm::FakeLlm::start().await;
    let port = fake.port;
    let app = crate::helpers::TestApp::spawn_with(move |c| {
        c.outbound.allow_cidrs = vec!["127.0.0.1".into()];
        c.outbound.allow_ports = vec![port];
    })
    .await;
    let admin = app.setup_admin().await;
    let base = fake.base_for(Wire::Openai);
    // Listed no models: the provider is asked, and the page says what it offers.
    let res = app
        .post_form(
            &admin,
            "/admin/providers",
            &[
                ("name", "Local"),
                ("kind", "openai-compatible"),
                ("base_url", &base),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get(&admin, "/admin/providers")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Added Local: it offers 2 model(s): fake-model-1, fake-model-2."),
        "{page}"
    );
    // A server that lists nothing: the playground names the connection instead of "add one".
    fake.set_models(&[]);
    let res = app
        .post_form(
            &admin,
            "/admin/providers",
            &[
                ("name", "Empty"),
                ("kind", "openai-compatible"),
                ("base_url", &base),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get(&admin, "/admin/providers")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Added Empty. It lists no models"), "{page}");
    // Take the one with models away: only the empty one is left.
    let ws = app.first_workspace(&admin).await.to_string();
    let conns = app.store.list_connections(None).await.unwrap();
    let local = conns.iter().find(|c| c.name == "Local").unwrap();
    let res = app
        .post_form(
            &admin,
            &format!("/admin/providers/{}/delete", local.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get(&admin, &format!("/w/{ws}/playground"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("No model is available yet: Empty lists no models."),
        "{page}"
    );
    assert!(page.contains("press Discover models"));
}
