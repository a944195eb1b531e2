//! `/v1` answers in OpenAI's shapes: a whole `chat.completion`, or `chat.completion.chunk`
//! events ending in `data: [DONE]`, with tool calls, refusals and log probabilities.
//!
//! A streamed answer holds its response headers until the first upstream event has arrived, so
//! a failure before any output gets a real status (400, 404, 429 with `Retry-After`, 502, 504)
//! in OpenAI's error shape; a failure after output has started ends the stream with an error
//! chunk.

use std::convert::Infallible;

use axum::Json as JsonResponse;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::ApiState;
use crate::domain::RunState;
use crate::error::{Error, Result};
use crate::gateway::{Admission, RunEvent, RunRequest, RunSummary};
use crate::llm::chat::{LlmError, ToolCallDelta};

fn chunk(id: &str, created: i64, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    })
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn usage(s: &RunSummary) -> Value {
    json!({
        "prompt_tokens": s.input_tokens,
        "completion_tokens": s.output_tokens,
        "total_tokens": s.input_tokens + s.output_tokens
    })
}

/// Promptyard's additions to a response: how it was served, plus `extra`.
fn promptyard_info(cached: bool, asked: &str, model: &str, extra: Option<&Value>) -> Value {
    let mut info = extra.cloned().unwrap_or_else(|| json!({}));
    info["cached"] = json!(cached);
    if asked != model {
        info["requested_model"] = json!(asked);
    }
    info
}

/// A tool-call fragment as OpenAI streams it.
fn tool_call_delta(d: &ToolCallDelta) -> Value {
    let mut call = json!({"index": d.index, "function": {"arguments": d.arguments}});
    if let Some(id) = &d.id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(name) = &d.name {
        call["function"]["name"] = json!(name);
    }
    json!({"tool_calls": [call]})
}

/// The HTTP answer to a run that failed before any output: the provider's own status where it
/// means something to the caller, in OpenAI's error shape.
pub(super) fn failed(s: RunSummary) -> Response {
    let message = s.error.clone().unwrap_or_else(|| s.state.to_string());
    let (status, kind, code, param, retry_after) = match &s.failure {
        Some(LlmError::Unsupported { param, .. }) => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("unsupported_parameter"),
            Some(param.clone()),
            None,
        ),
        Some(LlmError::RateLimited { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
            None,
            *retry_after,
        ),
        Some(LlmError::UnknownModel(_)) => (
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
            None,
            None,
        ),
        Some(LlmError::Timeout) => (
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            Some("timeout"),
            None,
            None,
        ),
        // The provider refused the request itself (a bad parameter value, a prompt too long):
        // the caller's to fix, so their status, not a gateway error.
        Some(LlmError::Upstream { status, .. }) if matches!(status, 400 | 409 | 413 | 422) => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            "invalid_request_error",
            None,
            None,
            None,
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            "api_error",
            Some(s.state.as_str()),
            None,
            None,
        ),
    };
    let body = json!({"error": {"message": message, "type": kind, "param": param, "code": code},
        "run_id": s.run_id});
    let mut resp = (status, JsonResponse(body)).into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// A streamed answer.
pub(super) async fn stream(
    state: &ApiState,
    req: RunRequest,
    admission: Admission,
    include_usage: bool,
    extra: Option<Value>,
) -> Response {
    let asked = req.chat.model.clone();
    let created = state.auth.clock().now().unix_timestamp();
    let mut events = Box::pin(state.gateway.run(req, admission).await);
    // Hold the headers until the first event after the start: an upstream failure before any
    // output becomes an HTTP status.
    let mut head = Vec::new();
    while let Some(ev) = events.next().await {
        let started = matches!(ev, RunEvent::Started { .. });
        if let RunEvent::Finished(s) = &ev
            && s.state != RunState::Completed
        {
            return failed((**s).clone());
        }
        head.push(ev);
        if !started {
            break;
        }
    }
    let mut model = asked.clone();
    let mut id = String::new();
    let all = futures_util::stream::iter(head).chain(events);
    let body = all.flat_map(move |event| {
        let out: Vec<Bytes> = match event {
            RunEvent::Started {
                run_id,
                model: answering,
                cached,
            } => {
                id = format!("chatcmpl-{}", run_id.0.simple());
                model = answering;
                let mut first = chunk(
                    &id,
                    created,
                    &model,
                    json!({"role": "assistant", "content": ""}),
                    None,
                );
                first["run_id"] = json!(run_id);
                first["promptyard"] = promptyard_info(cached, &asked, &model, extra.as_ref());
                vec![sse(&first)]
            }
            RunEvent::Delta { text } => vec![sse(&chunk(
                &id,
                created,
                &model,
                json!({"content": text}),
                None,
            ))],
            RunEvent::ToolCall(d) => {
                vec![sse(&chunk(&id, created, &model, tool_call_delta(&d), None))]
            }
            RunEvent::Refusal { text } => vec![sse(&chunk(
                &id,
                created,
                &model,
                json!({"refusal": text}),
                None,
            ))],
            RunEvent::Logprobs { content } => {
                let mut c = chunk(&id, created, &model, json!({}), None);
                c["choices"][0]["logprobs"] = json!({"content": content});
                vec![sse(&c)]
            }
            RunEvent::Finished(s) => {
                let mut out = Vec::new();
                match s.state {
                    RunState::Completed => {
                        out.push(sse(&chunk(
                            &id,
                            created,
                            &model,
                            json!({}),
                            Some(s.finish_reason.unwrap_or("stop")),
                        )));
                        if include_usage {
                            out.push(sse(&json!({
                                "id": id, "object": "chat.completion.chunk", "created": created,
                                "model": model, "choices": [], "usage": usage(&s)
                            })));
                        }
                        out.push(Bytes::from("data: [DONE]\n\n"));
                    }
                    // An answer that did not complete is never reported as success: the stream
                    // ends with an error event and no [DONE].
                    _ => out.push(sse(&json!({"error": {
                        "message": s.error.unwrap_or_else(|| s.state.to_string()),
                        "type": "api_error", "param": null, "code": s.state.as_str()
                    }}))),
                }
                out
            }
        };
        futures_util::stream::iter(out.into_iter().map(Ok::<_, Infallible>))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A whole answer.
pub(super) async fn whole(
    state: &ApiState,
    req: RunRequest,
    admission: Admission,
    template: Option<Value>,
) -> Result<Response> {
    let asked = req.chat.model.clone();
    let created = state.auth.clock().now().unix_timestamp();
    let mut text = String::new();
    let mut summary = None;
    let mut events = Box::pin(state.gateway.run(req, admission).await);
    while let Some(event) = events.next().await {
        match event {
            RunEvent::Delta { text: t } => text.push_str(&t),
            RunEvent::Finished(s) => summary = Some(*s),
            _ => {}
        }
    }
    let s = summary.ok_or_else(|| Error::internal("the run ended without an outcome"))?;
    if s.state != RunState::Completed {
        return Ok(failed(s));
    }
    let content = if text.is_empty() && (!s.tool_calls.is_empty() || s.refusal.is_some()) {
        Value::Null
    } else {
        json!(text)
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": s.refusal});
    if !s.tool_calls.is_empty() {
        message["tool_calls"] = json!(s.tool_calls);
    }
    let logprobs = s.logprobs.as_ref().map(|c| json!({"content": c}));
    let mut body = json!({
        "id": format!("chatcmpl-{}", s.run_id.0.simple()),
        "object": "chat.completion",
        "created": created,
        "model": s.model,
        "choices": [{"index": 0, "message": message, "logprobs": logprobs,
            "finish_reason": s.finish_reason.unwrap_or("stop")}],
        "usage": usage(&s),
        "run_id": s.run_id,
    });
    body["promptyard"] = promptyard_info(s.cached, &asked, &s.model, template.as_ref());
    Ok(JsonResponse(body).into_response())
}
