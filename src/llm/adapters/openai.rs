//! OpenAI chat completions (and every OpenAI-compatible server: Ollama, vLLM, llama.cpp, LM
//! Studio): `POST {base}/chat/completions`, SSE `data:` chunks ending in `data: [DONE]`.

use serde_json::{Map, Value, json};

use super::sse::SseEvent;
use super::{Call, ChatOnce, Decoder, ended_early, endpoint_url, key, parse_data, stream_error};
use crate::domain::ProviderKind;
use crate::llm::chat::{ChatEvent, ChatRequest, ChatRole, Endpoint, LlmError};

fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    key(ep)
        .map(|k| vec![("authorization", format!("Bearer {k}"))])
        .unwrap_or_default()
}

/// The request body. api.openai.com takes `max_completion_tokens` (its reasoning models refuse
/// `max_tokens`); compatible servers take `max_tokens`.
pub(crate) fn body(kind: ProviderKind, req: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                ChatRole::System => "system",
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            };
            json!({"role": role, "content": m.content})
        })
        .collect();
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    b.insert("messages".into(), Value::Array(messages));
    if let Some(t) = req.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if let Some(n) = req.max_tokens {
        let field = if kind == ProviderKind::Openai {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        b.insert(field.into(), json!(n));
    }
    if !req.stop.is_empty() {
        b.insert("stop".into(), json!(req.stop));
    }
    b.insert("stream".into(), json!(stream));
    if stream {
        b.insert("stream_options".into(), json!({"include_usage": true}));
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

pub(crate) fn parse_once(v: &Value) -> Result<ChatOnce, LlmError> {
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(err));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| LlmError::Malformed("the answer has no choices".into()))?;
    let text = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((text, usage(v), finish))
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
    finish_reason: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct ChunkDelta<'a> {
    #[serde(default, borrow)]
    content: Option<std::borrow::Cow<'a, str>>,
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
}

impl Decoder for Stream {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<ChatEvent>) -> Result<bool, LlmError> {
        if ev.data.trim() == "[DONE]" {
            self.finish(out);
            return Ok(true);
        }
        if let Ok(c) = serde_json::from_str::<Chunk<'_>>(&ev.data)
            && c.error.is_none()
        {
            if let Some(choice) = c.choices.as_ref().and_then(|c| c.first()) {
                if let Some(text) = choice.delta.as_ref().and_then(|d| d.content.as_ref()) {
                    out.push(ChatEvent::Delta(text.to_string()));
                }
                if let Some(f) = &choice.finish_reason {
                    self.finish = Some(f.to_string());
                }
            }
            if let Some(u) = c.usage {
                self.usage = Some((
                    u.prompt_tokens.unwrap_or(0),
                    u.completion_tokens.unwrap_or(0),
                ));
            }
            return Ok(false);
        }
        let v = parse_data(&ev.data)?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(err));
        }
        if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                out.push(ChatEvent::Delta(text.to_owned()));
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(f.to_owned());
            }
        }
        if let Some(u) = usage(&v) {
            self.usage = Some(u);
        }
        Ok(false)
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
    use crate::llm::chat::ChatMessage;

    #[test]
    fn bodies_translate_the_request() {
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![
                ChatMessage {
                    role: ChatRole::System,
                    content: "be brief".into(),
                },
                ChatMessage {
                    role: ChatRole::User,
                    content: "hi".into(),
                },
            ],
            temperature: Some(0.5),
            max_tokens: Some(10),
            stop: vec!["END".into()],
        };
        let b = body(ProviderKind::OpenaiCompatible, &req, true);
        assert_eq!(
            b["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(b["max_tokens"], json!(10));
        assert_eq!(b["stream_options"]["include_usage"], json!(true));
        let b = body(ProviderKind::Openai, &req, false);
        assert_eq!(b["max_completion_tokens"], json!(10));
        assert!(b.get("max_tokens").is_none() && b.get("stream_options").is_none());
    }
}
