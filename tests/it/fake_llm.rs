//! `FakeLlm`: a fake model provider on 127.0.0.1 speaking the OpenAI chat completions, Anthropic
//! messages and Gemini generateContent wire formats, streaming and not, with knobs (a
//! [`Script`], for the whole fake or per model) for delay, chunk pacing, HTTP errors, malformed
//! output, resets, redirects and huge answers. It records every request it receives and counts
//! answers whose body the client abandoned.
//!
//! Paths: `POST /v1/chat/completions`, `POST /v1/messages`, `GET /v1/models` (OpenAI format, or
//! Anthropic's when the request has an `anthropic-version` header),
//! `POST /v1beta/models/{model}:streamGenerateContent?alt=sse`,
//! `POST /v1beta/models/{model}:generateContent`, `GET /v1beta/models`; embeddings at
//! `POST /v1/embeddings` and `POST /v1beta/models/{model}:batchEmbedContents` (vector `i`, entry
//! `j` is `(i + 1) / 10 + j / 100`, 4 dimensions unless asked for fewer or more).
//!
//! Tool calls (see [`tools`]): a script with `tool_calls` answers with them until the
//! conversation holds a tool result, then with its text, so a two-step agent loop runs against
//! it; an Anthropic request that forces one tool (how json_schema is asked there) gets that tool
//! called with the reply as its input. `raw_stream` replays a recorded stream verbatim.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use futures::Stream;
use serde_json::{Value, json};

mod tools;
pub use tools::{Call, fake_vector};

/// The wire format of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Openai,
    Anthropic,
    Gemini,
}

/// How the fake answers.
#[derive(Clone, Debug)]
pub struct Script {
    /// The answer text, split into `chunks` streamed deltas.
    pub reply: String,
    /// How many deltas a streamed answer has (at least 1).
    pub chunks: usize,
    /// Wait before the response headers.
    pub first_byte_delay: Duration,
    /// Wait between streamed frames.
    pub pacing: Duration,
    /// Answer with this HTTP status (and `error_body`, or the provider's usual error JSON).
    pub status: Option<u16>,
    /// The body of an error answer.
    pub error_body: Option<String>,
    /// `Retry-After` header value of an error answer.
    pub retry_after: Option<String>,
    /// Send a `data:` line that is not JSON before delta N (0-based).
    pub malformed_after: Option<usize>,
    /// Break the connection (no terminating chunk) before delta N.
    pub reset_after: Option<usize>,
    /// End the body cleanly, but without the terminal marker, before delta N.
    pub end_after: Option<usize>,
    /// Send the provider's in-stream error event (overloaded) before delta N.
    pub error_event_after: Option<usize>,
    /// Answer 302 with this `Location`.
    pub redirect_to: Option<String>,
    /// Instead of `reply`, answer this many bytes of `x` (in 64 KiB deltas).
    pub huge: Option<usize>,
    /// Reported usage (input, output).
    pub usage: (u64, u64),
    /// End as a provider does when `max_tokens` cut the answer short.
    pub hit_max_tokens: bool,
    /// Call these tools (in parallel when more than one) until the request holds a tool result.
    pub tool_calls: Vec<Call>,
    /// Instead of generated frames, stream this recorded body (frames split at blank lines).
    pub raw_stream: Option<&'static str>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            reply: "Hello from the fake model.".into(),
            chunks: 3,
            first_byte_delay: Duration::ZERO,
            pacing: Duration::ZERO,
            status: None,
            error_body: None,
            retry_after: None,
            malformed_after: None,
            reset_after: None,
            end_after: None,
            error_event_after: None,
            redirect_to: None,
            huge: None,
            usage: (11, 7),
            hit_max_tokens: false,
            tool_calls: Vec::new(),
            raw_stream: None,
        }
    }
}

impl Script {
    /// A script answering `reply` in `chunks` deltas.
    pub fn reply(reply: &str, chunks: usize) -> Self {
        Self {
            reply: reply.into(),
            chunks,
            ..Self::default()
        }
    }

    /// A script that calls `calls` first, then answers `reply` once it has their results.
    pub fn tools(calls: Vec<Call>, reply: &str) -> Self {
        Self {
            tool_calls: calls,
            ..Self::reply(reply, 3)
        }
    }

    /// A script replaying a recorded stream.
    pub fn raw(stream: &'static str) -> Self {
        Self {
            raw_stream: Some(stream),
            ..Self::default()
        }
    }

    /// A script answering an HTTP error.
    pub fn status(status: u16) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }
}

/// The provider's finish reason for a whole answer, or one cut short by `max_tokens`.
pub(crate) fn finish_reason(wire: Wire, script: &Script) -> &'static str {
    match (wire, script.hit_max_tokens) {
        (Wire::Openai, false) => "stop",
        (Wire::Openai, true) => "length",
        (Wire::Anthropic, false) => "end_turn",
        (Wire::Anthropic, true) => "max_tokens",
        (Wire::Gemini, false) => "STOP",
        (Wire::Gemini, true) => "MAX_TOKENS",
    }
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    /// The JSON body (`Null` when empty, a string when not JSON).
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    default: Mutex<Script>,
    per_model: Mutex<HashMap<String, Script>>,
    models: Mutex<Vec<String>>,
    models_page: Mutex<Option<usize>>,
    requests: Mutex<Vec<Recorded>>,
    dropped: AtomicUsize,
    completed: AtomicUsize,
}

impl Shared {
    pub(crate) fn script(&self, model: &str) -> Script {
        let per = self.per_model.lock().unwrap();
        per.get(model)
            .cloned()
            .unwrap_or_else(|| self.default.lock().unwrap().clone())
    }
}

/// A running fake provider; dropping it stops the server.
pub struct FakeLlm {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    pub async fn start() -> Self {
        Self::with(Script::default()).await
    }

    pub async fn with(script: Script) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.default.lock().unwrap() = script;
        *shared.models.lock().unwrap() = vec!["fake-model-1".into(), "fake-model-2".into()];
        let app = Router::new()
            .route("/v1/chat/completions", post(openai_chat))
            .route("/v1/messages", post(anthropic_messages))
            .route("/v1/embeddings", post(tools::openai_embeddings))
            .route("/v1/models", get(models_v1))
            .route("/v1beta/models", get(gemini_models))
            .route("/v1beta/models/{*rest}", post(gemini_generate))
            .fallback(not_found)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            shared,
            task,
        }
    }

    /// The base URL a connection of this wire format would use.
    pub fn base_for(&self, wire: Wire) -> String {
        match wire {
            Wire::Openai | Wire::Anthropic => format!("{}/v1", self.base),
            Wire::Gemini => format!("{}/v1beta", self.base),
        }
    }

    /// Replaces the script for every model without its own.
    pub fn set_script(&self, script: Script) {
        *self.shared.default.lock().unwrap() = script;
    }

    /// Sets the script for one model name.
    pub fn script_for(&self, model: &str, script: Script) {
        self.shared
            .per_model
            .lock()
            .unwrap()
            .insert(model.into(), script);
    }

    /// The models the list endpoints offer.
    pub fn set_models(&self, models: &[&str]) {
        *self.shared.models.lock().unwrap() = models.iter().map(|m| m.to_string()).collect();
    }

    /// Splits the models lists into pages of `n` (Anthropic and Gemini formats).
    pub fn set_models_page(&self, n: usize) {
        *self.shared.models_page.lock().unwrap() = Some(n);
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn last_request(&self) -> Recorded {
        self.requests().pop().expect("the fake received no request")
    }

    /// Streamed answers whose body was dropped before it was complete (the client went away).
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Streamed answers sent to the end (or ended on purpose by the script).
    pub fn completed(&self) -> usize {
        self.shared.completed.load(Ordering::SeqCst)
    }
}

pub(crate) fn record(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) {
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    shared.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    });
}

/// The key the request carried, however the wire format sends it.
pub(crate) fn sent_key(headers: &HeaderMap, uri: &Uri) -> String {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    h("authorization")
        .map(|a| a.trim_start_matches("Bearer ").to_owned())
        .or_else(|| h("x-api-key"))
        .or_else(|| h("x-goog-api-key"))
        .or_else(|| {
            uri.query()?
                .split('&')
                .find_map(|p| p.strip_prefix("key=").map(str::to_owned))
        })
        .unwrap_or_default()
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    json_response(
        StatusCode::NOT_FOUND,
        json!({"error": {"message": "no such path"}}),
    )
}

async fn openai_chat(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or_default().to_owned();
    let stream = req["stream"].as_bool() == Some(true);
    let usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    answer(
        &shared,
        Wire::Openai,
        &req,
        &model,
        stream,
        usage,
        sent_key(&headers, &uri),
    )
    .await
}

async fn anthropic_messages(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or_default().to_owned();
    let stream = req["stream"].as_bool() == Some(true);
    answer(
        &shared,
        Wire::Anthropic,
        &req,
        &model,
        stream,
        true,
        sent_key(&headers, &uri),
    )
    .await
}

async fn gemini_generate(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    let rest = uri.path().trim_start_matches("/v1beta/models/");
    let Some((model, action)) = rest.rsplit_once(':') else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": 404, "message": "no such method"}}),
        );
    };
    let stream = match action {
        "streamGenerateContent" => true,
        "generateContent" => false,
        "batchEmbedContents" => {
            let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return tools::gemini_embeddings(&shared, &req, &sent_key(&headers, &uri)).await;
        }
        _ => {
            return json_response(
                StatusCode::NOT_FOUND,
                json!({"error": {"code": 404, "message": "no such method"}}),
            );
        }
    };
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    answer(
        &shared,
        Wire::Gemini,
        &req,
        model,
        stream,
        true,
        sent_key(&headers, &uri),
    )
    .await
}

async fn models_v1(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    let anthropic = headers.contains_key("anthropic-version");
    let wire = if anthropic {
        Wire::Anthropic
    } else {
        Wire::Openai
    };
    let script = shared.default.lock().unwrap().clone();
    if let Some(r) = early_answer(&script, wire, "", &sent_key(&headers, &uri)).await {
        return r;
    }
    let models = shared.models.lock().unwrap().clone();
    if !anthropic {
        let data: Vec<Value> = models
            .iter()
            .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "fake"}))
            .collect();
        return json_response(StatusCode::OK, json!({"object": "list", "data": data}));
    }
    let after = query_param(&uri, "after_id");
    let start = after
        .and_then(|a| models.iter().position(|m| *m == a).map(|i| i + 1))
        .unwrap_or(0);
    let page = shared.models_page.lock().unwrap().unwrap_or(usize::MAX);
    let end = start.saturating_add(page).min(models.len());
    let slice = &models[start.min(end)..end];
    let data: Vec<Value> = slice
        .iter()
        .map(|m| json!({"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": data, "has_more": end < models.len(), "first_id": slice.first(), "last_id": slice.last()}),
    )
}

async fn gemini_models(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    let script = shared.default.lock().unwrap().clone();
    if let Some(r) = early_answer(&script, Wire::Gemini, "", &sent_key(&headers, &uri)).await {
        return r;
    }
    let mut all: Vec<Value> = shared
        .models
        .lock()
        .unwrap()
        .iter()
        .map(|m| json!({"name": format!("models/{m}"), "supportedGenerationMethods": ["generateContent", "countTokens"]}))
        .collect();
    all.push(
        json!({"name": "models/fake-embedding", "supportedGenerationMethods": ["embedContent"]}),
    );
    let start: usize = query_param(&uri, "pageToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page = shared.models_page.lock().unwrap().unwrap_or(usize::MAX);
    let end = start.saturating_add(page).min(all.len());
    let mut out = json!({"models": all[start.min(end)..end]});
    if end < all.len() {
        out["nextPageToken"] = json!(end.to_string());
    }
    json_response(StatusCode::OK, out)
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The delay, then a redirect or an error answer if the script says so.
pub(crate) async fn early_answer(
    script: &Script,
    wire: Wire,
    model: &str,
    key: &str,
) -> Option<Response> {
    if !script.first_byte_delay.is_zero() {
        tokio::time::sleep(script.first_byte_delay).await;
    }
    if let Some(location) = &script.redirect_to {
        return Some(
            Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, location)
                .body(Body::empty())
                .unwrap(),
        );
    }
    let status = script.status?;
    let body = script
        .error_body
        .clone()
        .unwrap_or_else(|| provider_error(wire, status, model, key).to_string());
    let mut r = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(ra) = &script.retry_after {
        r = r.header(header::RETRY_AFTER, ra);
    }
    Some(r.body(Body::from(body)).unwrap())
}

/// The provider's usual error JSON. A 401 echoes the key it received, as careless servers do,
/// so tests can check that the client never repeats it.
fn provider_error(wire: Wire, status: u16, model: &str, key: &str) -> Value {
    let message = match status {
        401 | 403 => format!("Incorrect API key provided: {key}"),
        404 => format!("The model `{model}` does not exist or you do not have access to it."),
        429 => "Rate limit reached for requests".to_owned(),
        529 => "Overloaded".to_owned(),
        _ => "The server had an error while processing your request.".to_owned(),
    };
    match wire {
        Wire::Openai => {
            let code = match status {
                404 => json!("model_not_found"),
                401 => json!("invalid_api_key"),
                _ => Value::Null,
            };
            json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}})
        }
        Wire::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        Wire::Gemini => {
            let kind = match status {
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                _ => "INTERNAL",
            };
            json!({"error": {"code": status, "message": message, "status": kind}})
        }
    }
}

async fn answer(
    shared: &Arc<Shared>,
    wire: Wire,
    req: &Value,
    model: &str,
    stream: bool,
    include_usage: bool,
    key: String,
) -> Response {
    let script = shared.script(model);
    if let Some(r) = early_answer(&script, wire, model, &key).await {
        return r;
    }
    let calls = tools::planned(&script, wire, req);
    if !stream {
        if !calls.is_empty() {
            return json_response(StatusCode::OK, tools::whole(&script, wire, model, &calls));
        }
        return whole_answer(&script, wire, model);
    }
    let frames = if let Some(raw) = script.raw_stream {
        raw.split_inclusive("\n\n")
            .map(|f| Frame::Data(Bytes::from(f)))
            .collect()
    } else if calls.is_empty() {
        frames(&script, wire, model, include_usage)
    } else {
        tools::frames(&script, wire, model, include_usage, &calls)
    };
    let body = Paced {
        frames: frames.into(),
        pacing: script.pacing,
        sleep: None,
        first: true,
        finished: false,
        shared: shared.clone(),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

fn text_of(script: &Script) -> String {
    match script.huge {
        Some(n) => "x".repeat(n),
        None => script.reply.clone(),
    }
}

fn whole_answer(script: &Script, wire: Wire, model: &str) -> Response {
    if script.malformed_after.is_some() {
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"choices\": [ not json"))
            .unwrap();
    }
    let text = text_of(script);
    let (input, output) = script.usage;
    let body = match wire {
        Wire::Openai => json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason(wire, script)}],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
        }),
        Wire::Anthropic => json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": finish_reason(wire, script), "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": output},
        }),
        Wire::Gemini => json!({
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": finish_reason(wire, script), "index": 0}],
            "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": output, "totalTokenCount": input + output},
            "modelVersion": model,
        }),
    };
    json_response(StatusCode::OK, body)
}

/// Splits text into `n` pieces (on character boundaries).
pub(crate) fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.max(1).min(chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    let mut out: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

pub(crate) enum Frame {
    Data(Bytes),
    /// Break the connection.
    Reset,
}

pub(crate) fn sse(event: Option<&str>, data: &Value, crlf: bool) -> String {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = String::new();
    if let Some(e) = event {
        s.push_str(&format!("event: {e}{nl}"));
    }
    s.push_str(&format!("data: {data}{nl}{nl}"));
    s
}

/// The frames of a streamed answer; each frame is written at once, frames are paced.
fn frames(script: &Script, wire: Wire, model: &str, include_usage: bool) -> Vec<Frame> {
    let pieces = match script.huge {
        Some(n) => {
            let mut v = vec!["x".repeat(64 * 1024); n / (64 * 1024)];
            if n % (64 * 1024) > 0 {
                v.push("x".repeat(n % (64 * 1024)));
            }
            v
        }
        None => split(&script.reply, script.chunks),
    };
    let (input, output) = script.usage;
    let last = pieces.len().saturating_sub(1);
    let mut out = Vec::new();
    let mut preamble = String::new();
    if wire == Wire::Anthropic {
        preamble.push_str(&sse(
            Some("message_start"),
            &json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
                "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": 1}}}),
            false,
        ));
        preamble.push_str(&sse(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            false,
        ));
        preamble.push_str(&sse(Some("ping"), &json!({"type": "ping"}), false));
    }
    for i in 0..=pieces.len() {
        if script.malformed_after == Some(i) {
            let line = if wire == Wire::Anthropic {
                "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"delta\": {\n\n"
            } else {
                "data: {\"choices\": [{\"delta\": {\"content\": \"oops\"\n\n"
            };
            out.push(Frame::Data(Bytes::from(line)));
        }
        if script.reset_after == Some(i) {
            out.push(Frame::Reset);
            return out;
        }
        if script.end_after == Some(i) {
            return out;
        }
        if script.error_event_after == Some(i) {
            let ev = match wire {
                Wire::Openai => sse(
                    None,
                    &json!({"error": {"message": "The server is overloaded.", "type": "server_error", "code": null}}),
                    false,
                ),
                Wire::Anthropic => sse(
                    Some("error"),
                    &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                    false,
                ),
                Wire::Gemini => sse(
                    None,
                    &json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
                    true,
                ),
            };
            out.push(Frame::Data(Bytes::from(ev)));
            return out;
        }
        let Some(piece) = pieces.get(i) else { break };
        let mut frame = std::mem::take(&mut preamble);
        frame.push_str(&match wire {
            Wire::Openai => sse(
                None,
                &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": null}]}),
                false,
            ),
            Wire::Anthropic => sse(
                Some("content_block_delta"),
                &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
                false,
            ),
            Wire::Gemini => {
                let mut candidate = json!({"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0});
                if i == last {
                    candidate["finishReason"] = json!(finish_reason(wire, script));
                }
                let so_far = if i == last { output } else { (i as u64 + 1).min(output) };
                sse(
                    None,
                    &json!({"candidates": [candidate],
                        "usageMetadata": {"promptTokenCount": input, "candidatesTokenCount": so_far, "totalTokenCount": input + so_far},
                        "modelVersion": model}),
                    true,
                )
            }
        });
        out.push(Frame::Data(Bytes::from(frame)));
    }
    let tail = match wire {
        Wire::Openai => {
            let mut t = sse(
                None,
                &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason(wire, script)}]}),
                false,
            );
            if include_usage {
                t.push_str(&sse(
                    None,
                    &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}}),
                    false,
                ));
            }
            t.push_str("data: [DONE]\n\n");
            t
        }
        Wire::Anthropic => {
            let mut t = sse(
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": 0}),
                false,
            );
            t.push_str(&sse(
                Some("message_delta"),
                &json!({"type": "message_delta", "delta": {"stop_reason": finish_reason(wire, script), "stop_sequence": null},
                    "usage": {"output_tokens": output}}),
                false,
            ));
            t.push_str(&sse(
                Some("message_stop"),
                &json!({"type": "message_stop"}),
                false,
            ));
            t
        }
        // Gemini's last delta carries the finish reason; the stream just ends.
        Wire::Gemini => String::new(),
    };
    if !tail.is_empty() {
        out.push(Frame::Data(Bytes::from(tail)));
    }
    out
}

/// The streamed body: frames with pauses between them. Counts whether it was sent to the end
/// or dropped early (the client went away).
struct Paced {
    frames: VecDeque<Frame>,
    pacing: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    first: bool,
    finished: bool,
    shared: Arc<Shared>,
}

impl Stream for Paced {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        if this.frames.is_empty() {
            this.finished = true;
            this.shared.completed.fetch_add(1, Ordering::SeqCst);
            return Poll::Ready(None);
        }
        // Before a reset, give the connection time to flush what was sent (hyper drops
        // unwritten buffers when the body fails).
        let pause = match this.frames.front() {
            Some(Frame::Reset) => this.pacing.max(Duration::from_millis(50)),
            _ if this.first => Duration::ZERO,
            _ => this.pacing,
        };
        if !pause.is_zero() {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        this.first = false;
        match this.frames.pop_front() {
            Some(Frame::Data(b)) => Poll::Ready(Some(Ok(b))),
            Some(Frame::Reset) => {
                this.finished = true;
                this.shared.completed.fetch_add(1, Ordering::SeqCst);
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "scripted reset",
                ))))
            }
            None => {
                this.finished = true;
                this.shared.completed.fetch_add(1, Ordering::SeqCst);
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}
