//! Provider adapters: the unified [`ChatRequest`] in, unified [`ChatEvent`]s out, over the
//! OpenAI chat completions, Anthropic messages and Gemini generateContent wire formats.
//!
//! Every request goes through [`Outbound`]. Upstream answers are always streamed when the
//! caller wants a stream; events are yielded as soon as their SSE event is parsed. Errors are
//! [`LlmError`]s whose text never contains the endpoint's key.

mod anthropic;
mod embeddings;
mod gemini;
mod openai;
mod sse;
mod support;

pub use embeddings::{embed, embeddings_unsupported};
pub use support::{drop_unsupported, unsupported};

use std::collections::VecDeque;

use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use url::Url;

use crate::domain::ProviderKind;
use crate::llm::chat::{
    ChatEvent, ChatRequest, ChatStream, Endpoint, LlmError, ToolCall, ToolCallDelta,
};
use crate::llm::outbound::Outbound;
use sse::{SseEvent, SseParser};

/// The most output text (and the largest non-streamed answer) accepted from one call.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// The most of an error body read to find the provider's message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// How many pages of a models list are followed.
const MAX_MODEL_PAGES: usize = 20;

/// A non-streamed answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Whole {
    /// The text.
    pub text: String,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// The model's refusal, if it refused.
    pub refusal: Option<String>,
    /// Log probabilities of the output tokens, when asked for.
    pub logprobs: Option<Vec<Value>>,
    /// Usage `(input, output)` as the provider reported it.
    pub usage: Option<(u64, u64)>,
    /// The provider's finish reason.
    pub finish_reason: Option<String>,
}

/// Starts a streamed chat call. The stream yields deltas, at most one usage, then `Done`, or
/// ends with one error (a stream that breaks off is an error, never a silent end).
pub async fn chat_stream(
    out: &Outbound,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChatStream, LlmError> {
    let key = ep.api_key.clone();
    let scrub_key = key.clone();
    let stream = start_stream(out, ep, req)
        .await
        .map_err(|e| scrub(e, key.as_deref()))?;
    Ok(Box::pin(stream.map(move |item| {
        item.map_err(|e| scrub(e, scrub_key.as_deref()))
    })))
}

/// A non-streamed chat call: the whole answer.
pub async fn chat_once(
    out: &Outbound,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<Whole, LlmError> {
    once(out, ep, req)
        .await
        .map_err(|e| scrub(e, ep.api_key.as_deref()))
}

/// A non-streamed chat call presented as a stream (the whole text as one delta, the usage,
/// then `Done`), for callers that take the answer whole: the provider sends one JSON answer
/// instead of an event per token.
pub async fn chat_whole(
    out: &Outbound,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChatStream, LlmError> {
    let events = whole_events(chat_once(out, ep, req).await?);
    Ok(Box::pin(futures_util::stream::iter(
        events.into_iter().map(Ok),
    )))
}

/// A whole answer as the events a stream of it would have yielded.
pub fn whole_events(w: Whole) -> Vec<ChatEvent> {
    let mut events = Vec::with_capacity(3 + w.tool_calls.len());
    if !w.text.is_empty() {
        events.push(ChatEvent::Delta(w.text));
    }
    if let Some(r) = w.refusal.filter(|r| !r.is_empty()) {
        events.push(ChatEvent::Refusal(r));
    }
    for (i, call) in w.tool_calls.into_iter().enumerate() {
        events.push(ChatEvent::ToolCall(ToolCallDelta {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            id: Some(call.id),
            name: Some(call.function.name),
            arguments: call.function.arguments,
        }));
    }
    if let Some(lp) = w.logprobs.filter(|l| !l.is_empty()) {
        events.push(ChatEvent::Logprobs(lp));
    }
    if let Some((input_tokens, output_tokens)) = w.usage {
        events.push(ChatEvent::Usage {
            input_tokens,
            output_tokens,
        });
    }
    events.push(ChatEvent::Done {
        finish_reason: w.finish_reason,
    });
    events
}

/// The model ids the endpoint lists (Gemini: only those that can generate content).
pub async fn list_models(out: &Outbound, ep: &Endpoint) -> Result<Vec<String>, LlmError> {
    models(out, ep)
        .await
        .map_err(|e| scrub(e, ep.api_key.as_deref()))
}

/// One HTTP call to make: where, with which headers, with which JSON body.
pub(crate) struct Call {
    url: Url,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

/// Turns a provider's SSE events into unified events.
pub(crate) trait Decoder: Send {
    /// Handles one event; `Ok(true)` when it was the terminal one (and the final usage and
    /// `Done` have been pushed).
    fn event(&mut self, ev: SseEvent, out: &mut Vec<ChatEvent>) -> Result<bool, LlmError>;
    /// The body ended without a terminal event: push the final events if the answer is
    /// nevertheless complete, else fail.
    fn end(&mut self, out: &mut Vec<ChatEvent>) -> Result<(), LlmError>;
}

async fn start_stream(
    out: &Outbound,
    ep: &Endpoint,
    req: &ChatRequest,
) -> Result<ChatStream, LlmError> {
    let (call, decoder): (Call, Box<dyn Decoder>) = match ep.kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => (
            openai::chat_call(ep, req, true)?,
            Box::new(openai::Stream::default()),
        ),
        ProviderKind::Anthropic => (
            anthropic::chat_call(ep, req, true)?,
            Box::new(anthropic::Stream::new(req)),
        ),
        ProviderKind::Google => (
            gemini::chat_call(ep, req, true)?,
            Box::new(gemini::Stream::default()),
        ),
    };
    let resp = send(out, Method::POST, call, "text/event-stream").await?;
    let resp = check(resp, Some(&req.model)).await?;
    let driver = Driver {
        body: Some(Box::pin(resp.bytes_stream())),
        sse: SseParser::new(MAX_OUTPUT_BYTES + 1024 * 1024),
        decoder,
        queue: VecDeque::new(),
        output: 0,
    };
    Ok(Box::pin(futures_util::stream::unfold(
        driver,
        |mut d| async move {
            let item = d.next_item().await?;
            Some((item, d))
        },
    )))
}

async fn once(out: &Outbound, ep: &Endpoint, req: &ChatRequest) -> Result<Whole, LlmError> {
    let call = match ep.kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => openai::chat_call(ep, req, false)?,
        ProviderKind::Anthropic => anthropic::chat_call(ep, req, false)?,
        ProviderKind::Google => gemini::chat_call(ep, req, false)?,
    };
    let resp = send(out, Method::POST, call, "application/json").await?;
    let resp = check(resp, Some(&req.model)).await?;
    let v = read_json(resp).await?;
    let answer = match ep.kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => openai::parse_once(&v)?,
        ProviderKind::Anthropic => anthropic::parse_once(&v, req)?,
        ProviderKind::Google => gemini::parse_once(&v)?,
    };
    let size = answer.text.len()
        + answer
            .tool_calls
            .iter()
            .map(|c| c.function.arguments.len())
            .sum::<usize>();
    if size > MAX_OUTPUT_BYTES {
        return Err(too_large());
    }
    Ok(answer)
}

async fn models(out: &Outbound, ep: &Endpoint) -> Result<Vec<String>, LlmError> {
    let mut ids: Vec<String> = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..MAX_MODEL_PAGES {
        let call = match ep.kind {
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => openai::models_call(ep)?,
            ProviderKind::Anthropic => anthropic::models_call(ep, page.as_deref())?,
            ProviderKind::Google => gemini::models_call(ep, page.as_deref())?,
        };
        let resp = send(out, Method::GET, call, "application/json").await?;
        let resp = check(resp, None).await?;
        let v = read_json(resp).await?;
        let (found, next) = match ep.kind {
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
                (openai::parse_models(&v)?, None)
            }
            ProviderKind::Anthropic => anthropic::parse_models(&v)?,
            ProviderKind::Google => gemini::parse_models(&v)?,
        };
        for id in found {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        match next {
            Some(n) if page.as_deref() != Some(n.as_str()) => page = Some(n),
            _ => break,
        }
    }
    Ok(ids)
}

/// `{base}/{segments...}`; segments are percent-encoded, so a model name cannot change the path.
pub(crate) fn endpoint_url(base: &str, segments: &[&str]) -> Result<Url, LlmError> {
    let bad = || LlmError::Unreachable(format!("the base URL `{base}` is not a valid http(s) URL"));
    let mut url = Url::parse(base).map_err(|_| bad())?;
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|_| bad())?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The key, if the endpoint has a non-empty one.
pub(crate) fn key(ep: &Endpoint) -> Option<&str> {
    ep.api_key.as_deref().filter(|k| !k.is_empty())
}

async fn send(
    out: &Outbound,
    method: Method,
    call: Call,
    accept: &'static str,
) -> Result<Response, LlmError> {
    let mut rb = out
        .request(method, &call.url)
        .map_err(|e| LlmError::Refused(e.to_string()))?
        .header(reqwest::header::ACCEPT, accept);
    for (name, value) in call.headers {
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            LlmError::Unauthorized("the API key contains characters that cannot be sent".into())
        })?;
        value.set_sensitive(true);
        rb = rb.header(HeaderName::from_static(name), value);
    }
    if let Some(body) = call.body {
        rb = rb.json(&body);
    }
    rb.send().await.map_err(|e| transport_error(&e))
}

/// Maps an error from sending a request (before any answer).
fn transport_error(e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        return LlmError::Timeout;
    }
    let chain = chain(e);
    if let Some(policy) = chain.iter().find(|m| m.contains("outbound policy")) {
        return LlmError::Refused(policy.clone());
    }
    LlmError::Unreachable(describe(&chain))
}

/// Maps an error while reading an answer's body.
fn body_error(e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout
    } else {
        LlmError::Reset(describe(&chain(e)))
    }
}

/// The messages of an error's causes, without reqwest's own top line (which names the URL).
fn chain(e: &reqwest::Error) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        // Wrappers that say nothing a person can act on.
        let noise = msg.starts_with("client error (")
            || msg == "request or response body error"
            || msg.starts_with("error sending request");
        if !noise && !out.iter().any(|m| m == &msg) {
            out.push(msg);
        }
        cur = err.source();
    }
    if out.is_empty() {
        let mut top = e.to_string();
        if let Some(url) = e.url() {
            top = top.replace(&format!(" for url ({url})"), "");
        }
        out.push(top);
    }
    out
}

fn describe(chain: &[String]) -> String {
    let s = chain.join(": ");
    shorten(if s.is_empty() { "unknown error" } else { &s }, 300)
}

/// Passes a successful answer, or maps an HTTP error status to an [`LlmError`].
async fn check(resp: Response, model: Option<&str>) -> Result<Response, LlmError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if status.is_redirection() {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| shorten(l, 200))
            .unwrap_or_else(|| "another address".into());
        return Err(LlmError::Upstream {
            status: status.as_u16(),
            message: format!("the provider redirected to {location}; check the base URL"),
        });
    }
    let retry_after = retry_after(resp.headers());
    let body = read_capped(resp, MAX_ERROR_BODY).await.unwrap_or_default();
    Err(status_error(status, &body, retry_after, model))
}

/// Seconds to wait before retrying, from `Retry-After`, `retry-after-ms`, or (as OpenAI sends)
/// the time until the request and token limits reset (`x-ratelimit-reset-*`, e.g. `6m0s`).
pub(crate) fn retry_after(h: &reqwest::header::HeaderMap) -> Option<u64> {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let secs = |s: f64| (s.is_finite() && s >= 0.0).then(|| s.ceil() as u64);
    if let Some(s) = get("retry-after").and_then(|s| s.parse::<f64>().ok()) {
        return secs(s);
    }
    if let Some(ms) = get("retry-after-ms").and_then(|s| s.parse::<f64>().ok()) {
        return secs(ms / 1000.0);
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|n| get(n).and_then(parse_duration))
        .fold(None, |acc: Option<f64>, s| {
            Some(acc.map_or(s, |a| a.max(s)))
        })
        .and_then(secs)
}

/// A duration such as `1s`, `6m0s`, `1h2m3.5s` or `20ms`, in seconds.
fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    if !num.is_empty() {
        total += num.parse::<f64>().ok()?;
        any = true;
    }
    any.then_some(total)
}

fn status_error(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<u64>,
    model: Option<&str>,
) -> LlmError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let err = json.as_ref().and_then(|v| v.get("error"));
    let message = error_message(json.as_ref(), body, status);
    let code = err
        .and_then(|e| e.get("code").or_else(|| e.get("type")))
        .and_then(Value::as_str)
        .unwrap_or("");
    let key_invalid = err
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .is_some_and(|d| {
            d.iter()
                .any(|x| x.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"))
        });
    match (status.as_u16(), model) {
        (401 | 403, _) => LlmError::Unauthorized(message),
        _ if key_invalid => LlmError::Unauthorized(message),
        (429, _) => LlmError::RateLimited { retry_after },
        (404, Some(m)) => LlmError::UnknownModel(m.to_owned()),
        (_, Some(m)) if code == "model_not_found" => LlmError::UnknownModel(m.to_owned()),
        (404, None) => LlmError::Upstream {
            status: 404,
            message: format!("{message} (is the base URL right?)"),
        },
        (s, _) => LlmError::Upstream { status: s, message },
    }
}

/// The provider's own error message, else the start of the body, else the status text.
fn error_message(json: Option<&Value>, body: &[u8], status: StatusCode) -> String {
    let from_json = json.and_then(|v| {
        let e = v.get("error");
        e.and_then(|e| e.get("message"))
            .or(e.filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        shorten(&text, 200)
    }
}

/// A mid-stream error object (`{"message", "code"|"type"}`) as an [`LlmError`].
pub(crate) fn stream_error(err: &Value) -> LlmError {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| err.as_str())
        .map(|m| shorten(m, 200))
        .unwrap_or_else(|| "an error without a message".into());
    let kind = err
        .get("type")
        .or_else(|| err.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let code = err
        .get("code")
        .and_then(Value::as_u64)
        .filter(|c| (400..600).contains(c));
    match kind {
        "overloaded_error" => LlmError::Upstream {
            status: 529,
            message,
        },
        "rate_limit_error" | "RESOURCE_EXHAUSTED" => LlmError::RateLimited { retry_after: None },
        "authentication_error" | "permission_error" | "UNAUTHENTICATED" | "PERMISSION_DENIED" => {
            LlmError::Unauthorized(message)
        }
        _ => LlmError::Upstream {
            status: code.map_or(500, |c| c as u16),
            message,
        },
    }
}

async fn read_capped(resp: Response, cap: usize) -> Result<Vec<u8>, LlmError> {
    let mut body = Box::pin(resp.bytes_stream());
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| body_error(&e))?;
        if buf.len() + chunk.len() > cap {
            let room = cap - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

async fn read_json(resp: Response) -> Result<Value, LlmError> {
    let body = read_capped(resp, MAX_OUTPUT_BYTES + 1024 * 1024).await?;
    serde_json::from_slice(&body)
        .map_err(|e| LlmError::Malformed(format!("the answer is not JSON ({e})")))
}

fn too_large() -> LlmError {
    LlmError::Malformed(format!(
        "the answer is larger than {} MiB",
        MAX_OUTPUT_BYTES / (1024 * 1024)
    ))
}

/// Parses one SSE data payload as JSON.
pub(crate) fn parse_data(data: &str) -> Result<Value, LlmError> {
    serde_json::from_str(data)
        .map_err(|e| LlmError::Malformed(format!("an event is not JSON ({e})")))
}

pub(crate) fn ended_early() -> LlmError {
    LlmError::Reset("the stream ended early".into())
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Removes the key from an error's text.
fn scrub(e: LlmError, key: Option<&str>) -> LlmError {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return e;
    };
    // Messages are shortened before they get here, so a key cut off at the end survives only
    // as a prefix: mask every prefix of six characters or more as well as the whole key.
    let prefixes: Vec<&str> = key
        .char_indices()
        .map(|(i, _)| &key[..i])
        .filter(|p| p.chars().count() >= 6)
        .rev()
        .collect();
    let s = |m: String| {
        let mut m = m.replace(key, "***");
        for p in &prefixes {
            if m.contains(p) {
                m = m.replace(p, "***");
            }
        }
        m
    };
    match e {
        LlmError::Refused(m) => LlmError::Refused(s(m)),
        LlmError::Unreachable(m) => LlmError::Unreachable(s(m)),
        LlmError::Unauthorized(m) => LlmError::Unauthorized(s(m)),
        LlmError::UnknownModel(m) => LlmError::UnknownModel(s(m)),
        LlmError::Upstream { status, message } => LlmError::Upstream {
            status,
            message: s(message),
        },
        LlmError::Malformed(m) => LlmError::Malformed(s(m)),
        LlmError::Reset(m) => LlmError::Reset(s(m)),
        LlmError::Unsupported { param, message } => LlmError::Unsupported {
            param,
            message: s(message),
        },
        e @ (LlmError::RateLimited { .. } | LlmError::Timeout) => e,
    }
}

/// Reads the body, parses SSE and decodes events one at a time.
struct Driver<S> {
    /// `None` once the stream has ended (releasing the connection).
    body: Option<S>,
    sse: SseParser,
    decoder: Box<dyn Decoder>,
    queue: VecDeque<Result<ChatEvent, LlmError>>,
    output: usize,
}

impl<S, B> Driver<S>
where
    S: Stream<Item = reqwest::Result<B>> + Unpin + Send,
    B: AsRef<[u8]>,
{
    async fn next_item(&mut self) -> Option<Result<ChatEvent, LlmError>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            let body = self.body.as_mut()?;
            let mut events = Vec::new();
            match body.next().await {
                Some(Ok(bytes)) => {
                    let fed = self.sse.feed(bytes.as_ref(), &mut events);
                    self.decode(events);
                    if let Err(e) = fed {
                        self.fail(e);
                    }
                }
                Some(Err(e)) => self.fail(body_error(&e)),
                None => {
                    let fed = self.sse.finish(&mut events);
                    self.decode(events);
                    if let Err(e) = fed {
                        self.fail(e);
                    }
                    if self.body.is_some() {
                        let mut out = Vec::new();
                        let end = self.decoder.end(&mut out);
                        self.emit(out);
                        if let Err(e) = end {
                            self.fail(e);
                        }
                        self.body = None;
                    }
                }
            }
        }
    }

    /// Decodes events until one is terminal or fails.
    fn decode(&mut self, events: Vec<SseEvent>) {
        for ev in events {
            if self.body.is_none() {
                return;
            }
            let mut out = Vec::new();
            let step = self.decoder.event(ev, &mut out);
            self.emit(out);
            match step {
                Ok(false) => {}
                Ok(true) => self.body = None,
                Err(e) => self.fail(e),
            }
        }
    }

    fn emit(&mut self, events: Vec<ChatEvent>) {
        for ev in events {
            if self.body.is_none() {
                return;
            }
            let size = match &ev {
                ChatEvent::Delta(text) if text.is_empty() => continue,
                ChatEvent::Delta(text) | ChatEvent::Refusal(text) => text.len(),
                ChatEvent::ToolCall(c) => c.arguments.len(),
                _ => 0,
            };
            self.output += size;
            if self.output > MAX_OUTPUT_BYTES {
                self.fail(too_large());
                return;
            }
            self.queue.push_back(Ok(ev));
        }
    }

    fn fail(&mut self, e: LlmError) {
        if self.body.take().is_some() {
            self.queue.push_back(Err(e));
        }
    }
}

#[cfg(test)]
mod tests;
