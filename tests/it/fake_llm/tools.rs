//! Tool-call answers of the fake, in each wire format, whole and streamed the way each provider
//! streams them: OpenAI sends a call's id and name first and its arguments in fragments, one
//! call after another with its own `index`; Anthropic opens a `tool_use` block per call and
//! streams `input_json_delta` fragments; Gemini sends each `functionCall` whole.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::{
    Frame, Script, Shared, Wire, early_answer, finish_reason, json_response, record, sent_key,
    split, sse,
};

/// One tool call the fake makes.
#[derive(Clone, Debug)]
pub struct Call {
    pub name: String,
    /// Sent as they are, JSON or not (a broken model sends broken JSON).
    pub arguments: String,
}

impl Call {
    pub fn new(name: &str, arguments: &str) -> Self {
        Self {
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

/// Whether the conversation already holds a tool result, in the request's wire format.
fn has_tool_result(wire: Wire, req: &Value) -> bool {
    let empty = Vec::new();
    match wire {
        Wire::Openai => req["messages"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .any(|m| m["role"] == "tool"),
        Wire::Anthropic => req["messages"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .any(|b| b["type"] == "tool_result"),
        Wire::Gemini => req["contents"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(|c| c["parts"].as_array())
            .flatten()
            .any(|p| p.get("functionResponse").is_some()),
    }
}

/// The calls this answer makes: a tool Anthropic was forced to call (with the reply as its
/// input), else the script's calls when the request offers tools, until a result came back.
pub(super) fn planned(script: &Script, wire: Wire, req: &Value) -> Vec<Call> {
    if wire == Wire::Anthropic && req["tool_choice"]["type"] == "tool" {
        let name = req["tool_choice"]["name"].as_str().unwrap_or_default();
        return vec![Call::new(name, &script.reply)];
    }
    let offers_tools = req["tools"].as_array().is_some_and(|t| !t.is_empty());
    if !offers_tools || has_tool_result(wire, req) {
        return Vec::new();
    }
    script.tool_calls.clone()
}

fn call_id(wire: Wire, i: usize) -> String {
    match wire {
        Wire::Anthropic => format!("toolu_fake{i}"),
        _ => format!("call_fake{i}"),
    }
}

/// Arguments as an object, for the formats that carry them parsed.
fn input(arguments: &str) -> Value {
    match serde_json::from_str(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

fn stop(wire: Wire, script: &Script) -> &'static str {
    match wire {
        Wire::Openai => "tool_calls",
        Wire::Anthropic => "tool_use",
        Wire::Gemini => finish_reason(wire, script),
    }
}

/// A whole (not streamed) answer making `calls`.
pub(super) fn whole(script: &Script, wire: Wire, model: &str, calls: &[Call]) -> Value {
    let (input_tokens, output) = script.usage;
    match wire {
        Wire::Openai => {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({"id": call_id(wire, i), "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                    "tool_calls": tool_calls}, "finish_reason": stop(wire, script)}],
                "usage": {"prompt_tokens": input_tokens, "completion_tokens": output,
                    "total_tokens": input_tokens + output},
            })
        }
        Wire::Anthropic => {
            let content: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({"type": "tool_use", "id": call_id(wire, i), "name": c.name,
                    "input": input(&c.arguments)})
                })
                .collect();
            json!({
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop(wire, script), "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": output},
            })
        }
        Wire::Gemini => json!({
            "candidates": [{"content": {"parts": gemini_parts(calls), "role": "model"},
                "finishReason": stop(wire, script), "index": 0}],
            "usageMetadata": {"promptTokenCount": input_tokens, "candidatesTokenCount": output,
                "totalTokenCount": input_tokens + output},
            "modelVersion": model,
        }),
    }
}

fn gemini_parts(calls: &[Call]) -> Vec<Value> {
    calls
        .iter()
        .map(|c| json!({"functionCall": {"name": c.name, "args": input(&c.arguments)}}))
        .collect()
}

/// A streamed answer making `calls`, each call's arguments in `script.chunks` fragments.
pub(super) fn frames(
    script: &Script,
    wire: Wire,
    model: &str,
    include_usage: bool,
    calls: &[Call],
) -> Vec<Frame> {
    let (input_tokens, output) = script.usage;
    let mut out: Vec<String> = Vec::new();
    match wire {
        Wire::Openai => {
            let chunk = |delta: Value, finish: Value| {
                sse(
                    None,
                    &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
                    false,
                )
            };
            out.push(chunk(
                json!({"role": "assistant", "content": null}),
                Value::Null,
            ));
            for (i, c) in calls.iter().enumerate() {
                out.push(chunk(
                    json!({"tool_calls": [{"index": i, "id": call_id(wire, i), "type": "function",
                        "function": {"name": c.name, "arguments": ""}}]}),
                    Value::Null,
                ));
                for piece in split(&c.arguments, script.chunks) {
                    out.push(chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        Value::Null,
                    ));
                }
            }
            let mut tail = chunk(json!({}), json!(stop(wire, script)));
            if include_usage {
                tail.push_str(&sse(
                    None,
                    &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": model, "choices": [], "usage": {"prompt_tokens": input_tokens,
                        "completion_tokens": output, "total_tokens": input_tokens + output}}),
                    false,
                ));
            }
            tail.push_str("data: [DONE]\n\n");
            out.push(tail);
        }
        Wire::Anthropic => {
            let ev = |name: &str, data: Value| sse(Some(name), &data, false);
            out.push(ev(
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
                    "role": "assistant", "model": model, "content": [], "stop_reason": null,
                    "stop_sequence": null, "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
            ));
            for (i, c) in calls.iter().enumerate() {
                out.push(ev(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": i, "content_block":
                        {"type": "tool_use", "id": call_id(wire, i), "name": c.name, "input": {}}}),
                ));
                // Anthropic's first fragment is often empty.
                let mut pieces = vec![String::new()];
                pieces.extend(split(&c.arguments, script.chunks));
                for piece in pieces {
                    out.push(ev(
                        "content_block_delta",
                        json!({"type": "content_block_delta", "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    ));
                }
                out.push(ev(
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": i}),
                ));
            }
            let mut tail = ev(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": stop(wire, script),
                    "stop_sequence": null}, "usage": {"output_tokens": output}}),
            );
            tail.push_str(&ev("message_stop", json!({"type": "message_stop"})));
            out.push(tail);
        }
        Wire::Gemini => out.push(sse(
            None,
            &json!({"candidates": [{"content": {"parts": gemini_parts(calls), "role": "model"},
                "finishReason": stop(wire, script), "index": 0}],
                "usageMetadata": {"promptTokenCount": input_tokens, "candidatesTokenCount": output,
                    "totalTokenCount": input_tokens + output},
                "modelVersion": model}),
            true,
        )),
    }
    out.into_iter()
        .map(|f| Frame::Data(Bytes::from(f)))
        .collect()
}

/// The fake's embedding of input `i`: `dims` entries.
pub fn fake_vector(i: usize, dims: usize) -> Vec<f64> {
    (0..dims)
        .map(|j| (i as f64 + 1.0) / 10.0 + j as f64 / 100.0)
        .collect()
}

pub(super) async fn openai_embeddings(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, &body);
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or_default().to_owned();
    let script = shared.script(&model);
    if let Some(r) = early_answer(&script, Wire::Openai, &model, &sent_key(&headers, &uri)).await {
        return r;
    }
    let n = match &req["input"] {
        Value::Array(items) if items.iter().all(Value::is_number) => 1,
        Value::Array(items) => items.len(),
        _ => 1,
    };
    let dims = req["dimensions"].as_u64().unwrap_or(4) as usize;
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": fake_vector(i, dims)}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": 3 * n, "total_tokens": 3 * n}}),
    )
}

pub(super) async fn gemini_embeddings(shared: &Arc<Shared>, req: &Value, key: &str) -> Response {
    let script = shared.script("");
    if let Some(r) = early_answer(&script, Wire::Gemini, "", key).await {
        return r;
    }
    let empty = Vec::new();
    let requests = req["requests"].as_array().unwrap_or(&empty);
    let embeddings: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let dims = r["outputDimensionality"].as_u64().unwrap_or(4) as usize;
            json!({"values": fake_vector(i, dims)})
        })
        .collect();
    json_response(StatusCode::OK, json!({"embeddings": embeddings}))
}
