//! Provider adapters against the fake upstream: every wire format streaming and not, request
//! translation, usage, and each failure mode mapped to the right `LlmError` without the key.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use promptyard::config::OutboundConfig;
use promptyard::domain::ProviderKind;
use promptyard::llm::adapters::{chat_once, chat_stream, list_models};
use promptyard::llm::chat::{ChatEvent, ChatMessage, ChatRequest, ChatRole, Endpoint, LlmError};
use promptyard::llm::outbound::Outbound;
use serde_json::json;

use crate::fake_llm::{FakeLlm, Script, Wire};

const KEY: &str = "sk-canary-123";
const WIRES: [Wire; 3] = [Wire::Openai, Wire::Anthropic, Wire::Gemini];

fn outbound(fake: &FakeLlm) -> Outbound {
    outbound_with(fake, 120)
}

fn outbound_with(fake: &FakeLlm, read_timeout_secs: u64) -> Outbound {
    Outbound::new(&OutboundConfig {
        allow_cidrs: vec!["127.0.0.1".into()],
        allow_ports: vec![fake.port],
        read_timeout_secs,
        ..Default::default()
    })
    .unwrap()
}

fn endpoint(fake: &FakeLlm, wire: Wire) -> Endpoint {
    let kind = match wire {
        Wire::Openai => ProviderKind::Openai,
        Wire::Anthropic => ProviderKind::Anthropic,
        Wire::Gemini => ProviderKind::Google,
    };
    Endpoint {
        kind,
        base_url: fake.base_for(wire),
        api_key: Some(KEY.into()),
    }
}

fn hello(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![ChatMessage::text(ChatRole::User, "Say hello.")],
        ..ChatRequest::default()
    }
}

/// A streamed call's events (with arrival times) and its terminal error, if any.
struct Outcome {
    events: Vec<(Instant, ChatEvent)>,
    error: Option<LlmError>,
}

impl Outcome {
    fn text(&self) -> String {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                ChatEvent::Delta(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn deltas(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, ChatEvent::Delta(_)))
            .count()
    }

    fn err(self, what: &str) -> LlmError {
        let e = self
            .error
            .unwrap_or_else(|| panic!("{what}: expected an error, got {:?}", self.events));
        assert_no_key(&e);
        e
    }
}

fn assert_no_key(e: &LlmError) {
    assert!(!e.to_string().contains(KEY), "key in Display: {e}");
    assert!(!format!("{e:?}").contains(KEY), "key in Debug: {e:?}");
}

async fn run(out: &Outbound, ep: &Endpoint, req: &ChatRequest) -> Outcome {
    let mut stream = match chat_stream(out, ep, req).await {
        Ok(s) => s,
        Err(e) => {
            return Outcome {
                events: Vec::new(),
                error: Some(e),
            };
        }
    };
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(ev) => events.push((Instant::now(), ev)),
            Err(e) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return Outcome {
                    events,
                    error: Some(e),
                };
            }
        }
    }
    Outcome {
        events,
        error: None,
    }
}

async fn once_err(out: &Outbound, ep: &Endpoint, req: &ChatRequest) -> LlmError {
    let e = chat_once(out, ep, req)
        .await
        .expect_err("expected an error");
    assert_no_key(&e);
    e
}

#[tokio::test]
async fn adapters_stream_each_format_incrementally() {
    let reply = "one two three four five";
    let fake = FakeLlm::with(Script {
        pacing: Duration::from_millis(200),
        ..Script::reply(reply, 5)
    })
    .await;
    let out = outbound(&fake);
    let runs = WIRES.map(|wire| {
        let (fake, out) = (&fake, &out);
        async move {
            let ep = endpoint(fake, wire);
            let mut stream = chat_stream(out, &ep, &hello("fake-model")).await.unwrap();
            let mut events = Vec::new();
            let mut completed_at_first_delta = None;
            while let Some(item) = stream.next().await {
                let ev = item.unwrap_or_else(|e| panic!("{wire:?}: {e}"));
                if completed_at_first_delta.is_none() && matches!(ev, ChatEvent::Delta(_)) {
                    completed_at_first_delta = Some(fake.completed());
                }
                events.push((Instant::now(), ev));
            }
            (
                wire,
                Outcome {
                    events,
                    error: None,
                },
                completed_at_first_delta,
            )
        }
    });
    for (wire, o, completed_at_first_delta) in join_all(runs).await {
        assert_eq!(o.text(), reply, "{wire:?}");
        assert!(o.deltas() > 1, "{wire:?}: deltas arrive one by one");
        // The first delta arrived while the upstream was still sending (no answer of the three
        // had finished), and before the last event.
        assert_eq!(completed_at_first_delta, Some(0), "{wire:?}");
        let first = o.events.first().unwrap().0;
        let last = o.events.last().unwrap().0;
        assert!(first < last, "{wire:?}");
        let n = o.events.len();
        assert_eq!(
            o.events[n - 2].1,
            ChatEvent::Usage {
                input_tokens: 11,
                output_tokens: 7
            },
            "{wire:?}: usage once, before Done"
        );
        let finish = match wire {
            Wire::Openai => "stop",
            Wire::Anthropic => "end_turn",
            Wire::Gemini => "STOP",
        };
        assert_eq!(
            o.events[n - 1].1,
            ChatEvent::Done {
                finish_reason: Some(finish.into())
            }
        );
        assert!(
            o.events[..n - 2]
                .iter()
                .all(|(_, e)| matches!(e, ChatEvent::Delta(_)))
        );
    }
}

#[tokio::test]
async fn adapters_non_streaming_each_format() {
    let fake = FakeLlm::with(Script::reply("The whole answer.", 4)).await;
    let out = outbound(&fake);
    for (wire, finish) in [
        (Wire::Openai, "stop"),
        (Wire::Anthropic, "end_turn"),
        (Wire::Gemini, "STOP"),
    ] {
        let whole = chat_once(&out, &endpoint(&fake, wire), &hello("fake-model"))
            .await
            .unwrap();
        let (text, usage, reason) = (whole.text, whole.usage, whole.finish_reason);
        assert_eq!(text, "The whole answer.", "{wire:?}");
        assert_eq!(usage, Some((11, 7)), "{wire:?}");
        assert_eq!(reason.as_deref(), Some(finish), "{wire:?}");
        let r = fake.last_request();
        match wire {
            Wire::Gemini => {
                assert_eq!(r.path, "/v1beta/models/fake-model:generateContent");
                assert_eq!(r.query, None, "no alt=sse and never the key in the URL");
            }
            _ => assert_eq!(r.body["stream"], json!(false), "{wire:?}"),
        }
    }
}

fn conversation(model: &str) -> ChatRequest {
    let msg = |role, c: &str| ChatMessage::text(role, c);
    ChatRequest {
        model: model.into(),
        messages: vec![
            msg(ChatRole::System, "You are terse."),
            msg(ChatRole::User, "Hi."),
            msg(ChatRole::Assistant, "Hello."),
            msg(ChatRole::User, "Name a colour."),
        ],
        temperature: Some(0.25),
        max_tokens: Some(50),
        stop: vec!["END".into()],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn adapters_translate_system_turns_and_parameters() {
    let fake = FakeLlm::start().await;
    let out = outbound(&fake);
    let req = conversation("fake-model");

    // OpenAI.
    assert!(
        run(&out, &endpoint(&fake, Wire::Openai), &req)
            .await
            .error
            .is_none()
    );
    let r = fake.last_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(r.header("authorization"), Some("Bearer sk-canary-123"));
    assert_eq!(
        r.body,
        json!({
            "model": "fake-model",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi."},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Name a colour."},
            ],
            "temperature": 0.25,
            "max_completion_tokens": 50,
            "stop": ["END"],
            "stream": true,
            "stream_options": {"include_usage": true},
        })
    );

    // OpenAI-compatible without a key: no auth header, `max_tokens`.
    let ep = Endpoint {
        kind: ProviderKind::OpenaiCompatible,
        api_key: None,
        ..endpoint(&fake, Wire::Openai)
    };
    assert!(run(&out, &ep, &req).await.error.is_none());
    let r = fake.last_request();
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["max_tokens"], json!(50));
    assert!(r.body.get("max_completion_tokens").is_none());

    // Anthropic.
    assert!(
        run(&out, &endpoint(&fake, Wire::Anthropic), &req)
            .await
            .error
            .is_none()
    );
    let r = fake.last_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.body,
        json!({
            "model": "fake-model",
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Hi."},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Name a colour."},
            ],
            "max_tokens": 50,
            "temperature": 0.25,
            "stop_sequences": ["END"],
            "stream": true,
        })
    );
    // max_tokens is required by Anthropic: a default is sent.
    assert!(
        run(
            &out,
            &endpoint(&fake, Wire::Anthropic),
            &hello("fake-model")
        )
        .await
        .error
        .is_none()
    );
    assert_eq!(fake.last_request().body["max_tokens"], json!(4096));

    // Gemini.
    assert!(
        run(&out, &endpoint(&fake, Wire::Gemini), &req)
            .await
            .error
            .is_none()
    );
    let r = fake.last_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1beta/models/fake-model:streamGenerateContent")
    );
    assert_eq!(
        r.query.as_deref(),
        Some("alt=sse"),
        "the key is never in the URL"
    );
    assert_eq!(r.header("x-goog-api-key"), Some(KEY));
    assert_eq!(
        r.body,
        json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Hi."}]},
                {"role": "model", "parts": [{"text": "Hello."}]},
                {"role": "user", "parts": [{"text": "Name a colour."}]},
            ],
            "systemInstruction": {"parts": [{"text": "You are terse."}]},
            "generationConfig": {"temperature": 0.25, "maxOutputTokens": 50, "stopSequences": ["END"]},
        })
    );
}

#[tokio::test]
async fn adapters_http_500_is_a_readable_upstream_error() {
    let fake = FakeLlm::with(Script::status(500)).await;
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        for e in [
            run(&out, &ep, &hello("m")).await.err("500"),
            once_err(&out, &ep, &hello("m")).await,
        ] {
            match e {
                LlmError::Upstream {
                    status: 500,
                    ref message,
                } => {
                    assert!(
                        message.contains("server had an error"),
                        "{wire:?}: {message}"
                    )
                }
                other => panic!("{wire:?}: {other:?}"),
            }
        }
    }
    // A body that is not the provider's JSON: its start is shown.
    fake.set_script(Script {
        error_body: Some("<html>Bad gateway</html>".into()),
        ..Script::status(502)
    });
    let e = run(&out, &endpoint(&fake, Wire::Openai), &hello("m"))
        .await
        .err("502");
    assert_eq!(
        e,
        LlmError::Upstream {
            status: 502,
            message: "<html>Bad gateway</html>".into()
        }
    );
}

#[tokio::test]
async fn adapters_429_reports_retry_after() {
    let fake = FakeLlm::with(Script {
        retry_after: Some("7".into()),
        ..Script::status(429)
    })
    .await;
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        assert_eq!(
            run(&out, &ep, &hello("m")).await.err("429"),
            LlmError::RateLimited {
                retry_after: Some(7)
            }
        );
        assert_eq!(
            once_err(&out, &ep, &hello("m")).await,
            LlmError::RateLimited {
                retry_after: Some(7)
            }
        );
    }
    fake.set_script(Script::status(429));
    let e = run(&out, &endpoint(&fake, Wire::Anthropic), &hello("m"))
        .await
        .err("429");
    assert_eq!(e, LlmError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn adapters_401_bad_key_is_unauthorized_without_the_key() {
    // The fake echoes the key it received in its 401 message.
    let fake = FakeLlm::with(Script::status(401)).await;
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        let e = run(&out, &ep, &hello("m")).await.err("401");
        let LlmError::Unauthorized(msg) = &e else {
            panic!("{wire:?}: {e:?}")
        };
        assert!(
            msg.contains("Incorrect API key provided: ***"),
            "{wire:?}: {msg}"
        );
        let e = list_models(&out, &ep).await.expect_err("401");
        assert_no_key(&e);
        assert!(matches!(e, LlmError::Unauthorized(_)), "{wire:?}: {e:?}");
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.headers.values().any(|v| v.contains(KEY)))
    );
    // Gemini answers a bad key with 400 API_KEY_INVALID.
    fake.set_script(Script {
        error_body: Some(
            json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}})
            .to_string(),
        ),
        ..Script::status(400)
    });
    let e = run(&out, &endpoint(&fake, Wire::Gemini), &hello("m"))
        .await
        .err("400");
    assert_eq!(
        e,
        LlmError::Unauthorized("API key not valid. Please pass a valid API key.".into())
    );
}

#[tokio::test]
async fn adapters_404_is_unknown_model() {
    let fake = FakeLlm::start().await;
    fake.script_for("no-such-model", Script::status(404));
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        let want = LlmError::UnknownModel("no-such-model".into());
        assert_eq!(
            run(&out, &ep, &hello("no-such-model")).await.err("404"),
            want,
            "{wire:?}"
        );
        assert_eq!(
            once_err(&out, &ep, &hello("no-such-model")).await,
            want,
            "{wire:?}"
        );
        assert!(
            run(&out, &ep, &hello("fake-model")).await.error.is_none(),
            "{wire:?}"
        );
    }
    // OpenAI-compatible servers that answer 400 with code model_not_found.
    fake.script_for(
        "gone",
        Script {
            error_body: Some(
                json!({"error": {"message": "no", "code": "model_not_found"}}).to_string(),
            ),
            ..Script::status(400)
        },
    );
    let e = run(&out, &endpoint(&fake, Wire::Openai), &hello("gone"))
        .await
        .err("400");
    assert_eq!(e, LlmError::UnknownModel("gone".into()));
}

#[tokio::test]
async fn adapters_timeouts_before_and_during_the_answer() {
    let fake = FakeLlm::start().await;
    fake.script_for(
        "slow-start",
        Script {
            first_byte_delay: Duration::from_secs(4),
            ..Script::default()
        },
    );
    fake.script_for(
        "stalls",
        Script {
            pacing: Duration::from_secs(4),
            ..Script::reply("a b c", 3)
        },
    );
    let out = outbound_with(&fake, 1);
    let runs = WIRES.map(|wire| {
        let (fake, out) = (&fake, &out);
        async move {
            let ep = endpoint(fake, wire);
            let before = run(out, &ep, &hello("slow-start")).await;
            let once = chat_once(out, &ep, &hello("slow-start")).await;
            let during = run(out, &ep, &hello("stalls")).await;
            (wire, before, once, during)
        }
    });
    for (wire, before, once, during) in join_all(runs).await {
        assert_eq!(before.err("before"), LlmError::Timeout, "{wire:?}");
        assert_eq!(once.expect_err("once"), LlmError::Timeout, "{wire:?}");
        assert!(during.deltas() >= 1, "{wire:?}: the first chunk arrived");
        assert_eq!(during.err("during"), LlmError::Timeout, "{wire:?}");
    }
}

#[tokio::test]
async fn adapters_reset_mid_stream_is_never_success() {
    let fake = FakeLlm::start().await;
    fake.script_for(
        "reset",
        Script {
            reset_after: Some(2),
            ..Script::reply("a b c d", 4)
        },
    );
    fake.script_for(
        "ends",
        Script {
            end_after: Some(2),
            ..Script::reply("a b c d", 4)
        },
    );
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        let o = run(&out, &ep, &hello("reset")).await;
        assert_eq!(o.deltas(), 2, "{wire:?}");
        assert!(
            !o.events
                .iter()
                .any(|(_, e)| matches!(e, ChatEvent::Done { .. }))
        );
        assert!(matches!(o.err("reset"), LlmError::Reset(_)), "{wire:?}");

        let o = run(&out, &ep, &hello("ends")).await;
        assert_eq!(o.deltas(), 2, "{wire:?}");
        assert_eq!(
            o.err("ends"),
            LlmError::Reset("the stream ended early".into()),
            "{wire:?}"
        );
    }
}

#[tokio::test]
async fn adapters_garbage_json_is_malformed() {
    let fake = FakeLlm::with(Script {
        malformed_after: Some(1),
        ..Script::reply("a b c", 3)
    })
    .await;
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        let o = run(&out, &ep, &hello("m")).await;
        assert_eq!(o.deltas(), 1, "{wire:?}");
        let e = o.err("garbage");
        assert!(
            matches!(&e, LlmError::Malformed(m) if m.contains("not JSON")),
            "{wire:?}: {e:?}"
        );
        assert!(
            matches!(
                once_err(&out, &ep, &hello("m")).await,
                LlmError::Malformed(_)
            ),
            "{wire:?}"
        );
    }
}

#[tokio::test]
async fn adapters_provider_error_events_mid_stream() {
    let fake = FakeLlm::with(Script {
        error_event_after: Some(1),
        ..Script::reply("a b c", 3)
    })
    .await;
    let out = outbound(&fake);
    for (wire, status) in [
        (Wire::Openai, 500),
        (Wire::Anthropic, 529),
        (Wire::Gemini, 503),
    ] {
        let o = run(&out, &endpoint(&fake, wire), &hello("m")).await;
        assert_eq!(o.deltas(), 1, "{wire:?}");
        match o.err("error event") {
            LlmError::Upstream { status: s, message } => {
                assert_eq!(s, status, "{wire:?}");
                assert!(
                    message.to_lowercase().contains("overloaded"),
                    "{wire:?}: {message}"
                );
            }
            other => panic!("{wire:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn adapters_huge_output_is_capped() {
    let fake = FakeLlm::with(Script {
        huge: Some(17 * 1024 * 1024),
        ..Script::default()
    })
    .await;
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        let o = run(&out, &ep, &hello("m")).await;
        assert!(o.text().len() <= 16 * 1024 * 1024);
        let e = o.err("huge");
        assert_eq!(
            e,
            LlmError::Malformed("the answer is larger than 16 MiB".into()),
            "{wire:?}"
        );
        let e = once_err(&out, &ep, &hello("m")).await;
        assert_eq!(
            e,
            LlmError::Malformed("the answer is larger than 16 MiB".into()),
            "{wire:?}"
        );
    }
}

#[tokio::test]
async fn adapters_redirects_are_not_followed() {
    let fake = FakeLlm::start().await;
    fake.set_script(Script {
        redirect_to: Some(format!("{}/elsewhere", fake.base)),
        ..Script::default()
    });
    let out = outbound(&fake);
    for wire in WIRES {
        let ep = endpoint(&fake, wire);
        let want = LlmError::Upstream {
            status: 302,
            message: format!(
                "the provider redirected to {}/elsewhere; check the base URL",
                fake.base
            ),
        };
        assert_eq!(
            run(&out, &ep, &hello("m")).await.err("redirect"),
            want,
            "{wire:?}"
        );
        assert_eq!(
            list_models(&out, &ep).await.expect_err("redirect"),
            want,
            "{wire:?}"
        );
    }
    assert!(fake.requests().iter().all(|r| r.path != "/elsewhere"));
}

#[tokio::test]
async fn adapters_canary_key_never_in_errors() {
    let fake = FakeLlm::start().await;
    let scripts = [
        Script::status(500),
        Script::status(401),
        Script::status(403),
        Script::status(404),
        Script {
            retry_after: Some("3".into()),
            ..Script::status(429)
        },
        Script {
            error_body: Some(format!("key {KEY} is bad")),
            ..Script::status(400)
        },
        Script {
            error_body: Some(json!({"error": {"message": format!("bad {KEY}")}}).to_string()),
            ..Script::status(418)
        },
        Script {
            reset_after: Some(1),
            ..Script::default()
        },
        Script {
            end_after: Some(1),
            ..Script::default()
        },
        Script {
            malformed_after: Some(0),
            ..Script::default()
        },
        Script {
            error_event_after: Some(1),
            ..Script::default()
        },
        Script {
            redirect_to: Some(format!("http://example.com/?k={KEY}")),
            ..Script::default()
        },
    ];
    let out = outbound(&fake);
    let mut seen = 0;
    for script in scripts {
        fake.set_script(script);
        for wire in WIRES {
            let ep = endpoint(&fake, wire);
            let _ = run(&out, &ep, &hello("m")).await.err("stream");
            if let Err(e) = chat_once(&out, &ep, &hello("m")).await {
                assert_no_key(&e);
            }
            if let Err(e) = list_models(&out, &ep).await {
                assert_no_key(&e);
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 36);
    // Debug of the endpoint hides the key too.
    assert!(!format!("{:?}", endpoint(&fake, Wire::Openai)).contains(KEY));
}

#[tokio::test]
async fn adapters_list_models_each_format() {
    let fake = FakeLlm::start().await;
    fake.set_models(&["alpha", "beta", "gamma"]);
    let out = outbound(&fake);
    let want = vec!["alpha".to_owned(), "beta".into(), "gamma".into()];

    assert_eq!(
        list_models(&out, &endpoint(&fake, Wire::Openai))
            .await
            .unwrap(),
        want
    );
    let r = fake.last_request();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/v1/models"));
    assert_eq!(r.header("authorization"), Some("Bearer sk-canary-123"));

    let local = Endpoint {
        kind: ProviderKind::OpenaiCompatible,
        api_key: None,
        ..endpoint(&fake, Wire::Openai)
    };
    assert_eq!(list_models(&out, &local).await.unwrap(), want);
    assert_eq!(fake.last_request().header("authorization"), None);

    // Paged lists are followed to the end.
    fake.set_models_page(2);
    let before = fake.requests().len();
    assert_eq!(
        list_models(&out, &endpoint(&fake, Wire::Anthropic))
            .await
            .unwrap(),
        want
    );
    let pages: Vec<_> = fake.requests()[before..].to_vec();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].header("x-api-key"), Some(KEY));
    assert_eq!(pages[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(pages[1].query.as_deref(), Some("limit=1000&after_id=beta"));

    // Gemini: only generating models, without the `models/` prefix; the key in a header.
    let before = fake.requests().len();
    assert_eq!(
        list_models(&out, &endpoint(&fake, Wire::Gemini))
            .await
            .unwrap(),
        want
    );
    let pages: Vec<_> = fake.requests()[before..].to_vec();
    assert_eq!(
        pages.len(),
        2,
        "fake-embedding is on the second page and filtered out"
    );
    for p in &pages {
        assert_eq!(p.path, "/v1beta/models");
        assert_eq!(p.header("x-goog-api-key"), Some(KEY));
        assert!(!p.query.as_deref().unwrap_or("").contains("key="));
    }

    // A base URL without a models list.
    let wrong = Endpoint {
        base_url: format!("{}/nothing", fake.base),
        ..endpoint(&fake, Wire::Openai)
    };
    let e = list_models(&out, &wrong).await.expect_err("404");
    assert!(matches!(e, LlmError::Upstream { status: 404, .. }), "{e:?}");
}

#[tokio::test]
async fn adapters_default_policy_refuses_internal_addresses() {
    let out = Outbound::new(&OutboundConfig::default()).unwrap();
    for base in [
        "http://127.0.0.1/v1",
        "http://169.254.169.254/v1",
        "http://[::1]/v1",
        "http://localhost/v1",
        "https://api.openai.com:8443/v1",
    ] {
        for kind in ProviderKind::ALL {
            let ep = Endpoint {
                kind,
                base_url: base.into(),
                api_key: Some(KEY.into()),
            };
            let e = chat_stream(&out, &ep, &hello("m"))
                .await
                .err()
                .expect("refused");
            assert!(
                matches!(&e, LlmError::Refused(m) if m.contains("outbound policy")),
                "{base} {kind}: {e:?}"
            );
            assert_no_key(&e);
            let e = chat_once(&out, &ep, &hello("m"))
                .await
                .expect_err("refused");
            assert!(matches!(e, LlmError::Refused(_)), "{base} {kind}: {e:?}");
            let e = list_models(&out, &ep).await.expect_err("refused");
            assert!(matches!(e, LlmError::Refused(_)), "{base} {kind}: {e:?}");
        }
    }
}

#[tokio::test]
async fn adapters_unreachable_server() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = Outbound::new(&OutboundConfig {
        allow_cidrs: vec!["127.0.0.1".into()],
        allow_ports: vec![port],
        ..Default::default()
    })
    .unwrap();
    let ep = Endpoint {
        kind: ProviderKind::OpenaiCompatible,
        base_url: format!("http://127.0.0.1:{port}/v1"),
        api_key: Some(KEY.into()),
    };
    let e = chat_stream(&out, &ep, &hello("m"))
        .await
        .err()
        .expect("unreachable");
    assert!(
        matches!(&e, LlmError::Unreachable(m) if !m.contains("127.0.0.1:")),
        "{e:?}"
    );
    assert_no_key(&e);
}

#[tokio::test]
async fn adapters_dropping_the_stream_abandons_the_upstream() {
    let fake = FakeLlm::with(Script {
        pacing: Duration::from_millis(100),
        ..Script::reply("a b c d e f g h i j", 10)
    })
    .await;
    let out = outbound(&fake);
    let mut stream = chat_stream(&out, &endpoint(&fake, Wire::Openai), &hello("m"))
        .await
        .unwrap();
    assert!(matches!(stream.next().await, Some(Ok(ChatEvent::Delta(_)))));
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.dropped() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.dropped(), 1, "the fake saw the client go away");
    assert_eq!(fake.completed(), 0);
}
