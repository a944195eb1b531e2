//! OpenAI chat completions (and every OpenAI-compatible server: Ollama, vLLM, llama.cpp, LM
//! Studio): `POST {base}/chat/completions`, SSE `data:` chunks ending in `data: [DONE]`.
//!
//! The request is OpenAI's own shape, so every field passes as it is, and fields Promptyard does
//! not know (`extra`) are passed through verbatim for servers with their own extensions.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::sse::SseEvent;
use super::{Call, Decoder, Whole, ended_early, endpoint_url, key, parse_data, stream_error};
use crate::domain::ProviderKind;
use crate::llm::chat::{
    ChatEvent, ChatRequest, ChatRole, Content, Endpoint, FunctionCall, LlmError, ToolCall,
    ToolCallDelta, ToolKind,
};

pub(super) fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    key(ep)
        .map(|k| vec![("authorization", format!("Bearer {k}"))])
        .unwrap_or_default()
}

/// The request body. api.openai.com takes `max_completion_tokens` (its reasoning models refuse
/// `max_tokens`); compatible servers take `max_tokens`.
pub(crate) fn body(kind: ProviderKind, req: &ChatRequest, stream: bool) -> Value {
    let mut b = match serde_json::to_value(req) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let extra = match b.remove("extra") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // An assistant turn that only calls tools has no content: OpenAI's own form is `null`.
    if let Some(Value::Array(messages)) = b.get_mut("messages") {
        for (m, orig) in messages.iter_mut().zip(&req.messages) {
            if orig.role == ChatRole::Assistant
                && !orig.tool_calls.is_empty()
                && orig.content.is_empty()
            {
                m["content"] = Value::Null;
            }
        }
    }
    if let Some(n) = b.remove("max_tokens") {
        let field = if kind == ProviderKind::Openai {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        b.insert(field.into(), n);
    }
    b.insert("stream".into(), json!(stream));
    if stream {
        b.insert("stream_options".into(), json!({"include_usage": true}));
    }
    for (k, v) in extra {
        b.entry(k).or_insert(v);
    }
    Value::Object(b)
}

pub(crate) fn chat_call(ep: &Endpoint, req: &ChatRequest, stream: bool) -> Result<Call, LlmError> {
    Ok(Call {
        url: endpoint_url(&ep.base_url, &["chat", "completions"])?,
        headers: headers(ep),
        body: Some(body(ep.kind, req, stream)),
    })
}

pub(crate) fn models_call(ep: &Endpoint) -> Result<Call, LlmError> {
    Ok(Call {
        url: endpoint_url(&ep.base_url, &["models"])?,
        headers: headers(ep),
        body: None,
    })
}

pub(crate) fn parse_models(v: &Value) -> Result<Vec<String>, LlmError> {
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("the models list has no `data`".into()))?;
    Ok(data
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

fn usage(v: &Value) -> Option<(u64, u64)> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some((
        u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        u.get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    ))
}

/// The tool calls of a whole message (`message.tool_calls`), arguments as sent.
fn tool_calls(message: &Value) -> Vec<ToolCall> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return Vec::new();
    };
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let args = c.pointer("/function/arguments");
            ToolCall {
                id: c
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("call_{i}"), str::to_owned),
                kind: ToolKind::Function,
                function: FunctionCall {
                    name: c
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    // Some local servers send the arguments as an object, not as a JSON text.
                    arguments: match args {
                        Some(Value::String(s)) => s.clone(),
                        Some(v) if !v.is_null() => v.to_string(),
                        _ => String::new(),
                    },
                },
            }
        })
        .collect()
}

pub(crate) fn parse_once(v: &Value) -> Result<Whole, LlmError> {
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(err));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| LlmError::Malformed("the answer has no choices".into()))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(c @ Value::Array(_)) => serde_json::from_value::<Content>(c.clone())
            .map(|c| c.text())
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(Whole {
        text,
        tool_calls: tool_calls(message),
        refusal: message
            .get("refusal")
            .and_then(Value::as_str)
            .map(str::to_owned),
        logprobs: choice
            .pointer("/logprobs/content")
            .and_then(Value::as_array)
            .cloned(),
        usage: usage(v),
        finish_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// One streamed chunk, read without building a `Value` (the common shape; anything else goes
/// through the general path).
#[derive(serde::Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<ChunkDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    logprobs: Option<ChunkLogprobs>,
}

#[derive(serde::Deserialize)]
struct ChunkLogprobs {
    #[serde(default)]
    content: Option<Vec<Value>>,
}

#[derive(serde::Deserialize)]
struct ChunkDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ChunkToolCall<'a>>>,
}

#[derive(serde::Deserialize)]
struct ChunkToolCall<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<ChunkFunction<'a>>,
}

#[derive(serde::Deserialize)]
struct ChunkFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    /// A JSON text (OpenAI); a few local servers send an object.
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(serde::Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// Stream state: the finish reason and usage seen so far.
#[derive(Default)]
pub(crate) struct Stream {
    finish: Option<String>,
    usage: Option<(u64, u64)>,
}

impl Stream {
    fn finish(&mut self, out: &mut Vec<ChatEvent>) {
        if let Some((input_tokens, output_tokens)) = self.usage.take() {
            out.push(ChatEvent::Usage {
                input_tokens,
                output_tokens,
            });
        }
        out.push(ChatEvent::Done {
            finish_reason: self.finish.take(),
        });
    }

    fn choice(&mut self, choice: ChunkChoice<'_>, out: &mut Vec<ChatEvent>) {
        if let Some(delta) = choice.delta {
            if let Some(text) = delta.content {
                out.push(ChatEvent::Delta(text.into_owned()));
            }
            if let Some(r) = delta.refusal.filter(|r| !r.is_empty()) {
                out.push(ChatEvent::Refusal(r.into_owned()));
            }
            for (i, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                let (name, arguments) = match call.function {
                    Some(f) => (
                        f.name.map(Cow::into_owned),
                        match f.arguments {
                            Some(Value::String(s)) => s,
                            Some(v) if !v.is_null() => v.to_string(),
                            _ => String::new(),
                        },
                    ),
                    None => (None, String::new()),
                };
                out.push(ChatEvent::ToolCall(ToolCallDelta {
                    index: call
                        .index
                        .unwrap_or_else(|| u32::try_from(i).unwrap_or(u32::MAX)),
                    id: call.id.map(Cow::into_owned),
                    name,
                    arguments,
                }));
            }
        }
        if let Some(lp) = choice.logprobs.and_then(|l| l.content)
            && !lp.is_empty()
        {
            out.push(ChatEvent::Logprobs(lp));
        }
        if let Some(f) = choice.finish_reason {
            self.finish = Some(f.into_owned());
        }
    }
}

impl Decoder for Stream {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<ChatEvent>) -> Result<bool, LlmError> {
        if ev.data.trim() == "[DONE]" {
            self.finish(out);
            return Ok(true);
        }
        match serde_json::from_str::<Chunk<'_>>(&ev.data) {
            Ok(c) if c.error.is_none() => {
                if let Some(choice) = c.choices.and_then(|c| c.into_iter().next()) {
                    self.choice(choice, out);
                }
                if let Some(u) = c.usage {
                    self.usage = Some((
                        u.prompt_tokens.unwrap_or(0),
                        u.completion_tokens.unwrap_or(0),
                    ));
                }
                Ok(false)
            }
            _ => {
                let v = parse_data(&ev.data)?;
                if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                    return Err(stream_error(err));
                }
                Err(LlmError::Malformed(
                    "a streamed chunk is not in the chat completions format".into(),
                ))
            }
        }
    }

    fn end(&mut self, out: &mut Vec<ChatEvent>) -> Result<(), LlmError> {
        // Some compatible servers close the stream after the finish reason without `[DONE]`.
        if self.finish.is_some() {
            self.finish(out);
            Ok(())
        } else {
            Err(ended_early())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::chat::{ChatMessage, Tool};

    #[test]
    fn bodies_translate_the_request() {
        let mut req = ChatRequest {
            model: "m".into(),
            messages: vec![
                ChatMessage::text(ChatRole::System, "be brief"),
                ChatMessage::text(ChatRole::User, "hi"),
            ],
            temperature: Some(0.5),
            max_tokens: Some(10),
            stop: vec!["END".into()],
            ..ChatRequest::default()
        };
        req.extra.insert("top_k".into(), json!(40));
        req.tools = vec![serde_json::from_value::<Tool>(json!({"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}})).unwrap()];
        let b = body(ProviderKind::OpenaiCompatible, &req, true);
        assert_eq!(
            b["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(b["max_tokens"], json!(10));
        assert_eq!(b["top_k"], json!(40));
        assert_eq!(b["tools"][0]["function"]["name"], json!("f"));
        assert!(b.get("extra").is_none());
        assert_eq!(b["stream_options"]["include_usage"], json!(true));
        let b = body(ProviderKind::Openai, &req, false);
        assert_eq!(b["max_completion_tokens"], json!(10));
        assert!(b.get("max_tokens").is_none() && b.get("stream_options").is_none());
    }
}
