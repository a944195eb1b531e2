//! Anthropic messages: `POST {base}/messages`, SSE events `message_start`,
//! `content_block_delta`, `message_delta`, `message_stop` (and `error`).

use serde_json::{Map, Value, json};

use super::sse::SseEvent;
use super::{
    Call, ChatOnce, Decoder, ended_early, endpoint_url, key, parse_data, split_turns, stream_error,
};
use crate::llm::chat::{ChatEvent, ChatRequest, Endpoint, LlmError};

/// The API version this adapter speaks.
const VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when the request has none.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    let mut h = vec![("anthropic-version", VERSION.to_owned())];
    if let Some(k) = key(ep) {
        h.push(("x-api-key", k.to_owned()));
    }
    h
}

/// The request body: system messages joined into `system`, consecutive same-role messages
/// merged (the API wants user and assistant turns to alternate).
pub(crate) fn body(req: &ChatRequest, stream: bool) -> Value {
    let (system, turns) = split_turns(req, "assistant");
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    if !system.is_empty() {
        b.insert("system".into(), json!(system.join("\n\n")));
    }
    b.insert("messages".into(), Value::Array(messages));
    b.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if let Some(t) = req.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if !req.stop.is_empty() {
        b.insert("stop_sequences".into(), json!(req.stop));
    }
    b.insert("stream".into(), json!(stream));
    Value::Object(b)
}

pub(crate) fn chat_call(ep: &Endpoint, req: &ChatRequest, stream: bool) -> Result<Call, LlmError> {
    Ok(Call {
        url: endpoint_url(&ep.base_url, &["messages"])?,
        headers: headers(ep),
        body: Some(body(req, stream)),
    })
}

pub(crate) fn models_call(ep: &Endpoint, after: Option<&str>) -> Result<Call, LlmError> {
    let mut url = endpoint_url(&ep.base_url, &["models"])?;
    url.query_pairs_mut().append_pair("limit", "1000");
    if let Some(a) = after {
        url.query_pairs_mut().append_pair("after_id", a);
    }
    Ok(Call {
        url,
        headers: headers(ep),
        body: None,
    })
}

/// The ids on one page, and the cursor of the next page if there is one.
pub(crate) fn parse_models(v: &Value) -> Result<(Vec<String>, Option<String>), LlmError> {
    let ids = super::openai::parse_models(v)?;
    let next = if v.get("has_more").and_then(Value::as_bool) == Some(true) {
        v.get("last_id").and_then(Value::as_str).map(str::to_owned)
    } else {
        None
    };
    Ok((ids, next))
}

pub(crate) fn parse_once(v: &Value) -> Result<ChatOnce, LlmError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        return Err(stream_error(v.get("error").unwrap_or(&Value::Null)));
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("the answer has no content".into()))?;
    let text: String = content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        (
            u.get("input_tokens").and_then(Value::as_u64).unwrap_or(0),
            u.get("output_tokens").and_then(Value::as_u64).unwrap_or(0),
        )
    });
    let finish = v
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((text, usage, finish))
}

/// Stream state.
#[derive(Default)]
pub(crate) struct Stream {
    input: Option<u64>,
    output: Option<u64>,
    stop_reason: Option<String>,
}

impl Stream {
    fn finish(&mut self, out: &mut Vec<ChatEvent>) {
        if self.input.is_some() || self.output.is_some() {
            out.push(ChatEvent::Usage {
                input_tokens: self.input.unwrap_or(0),
                output_tokens: self.output.unwrap_or(0),
            });
        }
        out.push(ChatEvent::Done {
            finish_reason: self.stop_reason.take(),
        });
    }
}

impl Decoder for Stream {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<ChatEvent>) -> Result<bool, LlmError> {
        let v = parse_data(&ev.data)?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(ev.event.as_deref())
            .unwrap_or("");
        match kind {
            "message_start" => {
                if let Some(u) = v.pointer("/message/usage") {
                    self.input = u.get("input_tokens").and_then(Value::as_u64).or(self.input);
                    self.output = u
                        .get("output_tokens")
                        .and_then(Value::as_u64)
                        .or(self.output);
                }
            }
            "content_block_delta" => {
                if v.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta")
                    && let Some(text) = v.pointer("/delta/text").and_then(Value::as_str)
                {
                    out.push(ChatEvent::Delta(text.to_owned()));
                }
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_owned());
                }
                if let Some(u) = v.get("usage") {
                    self.input = u.get("input_tokens").and_then(Value::as_u64).or(self.input);
                    self.output = u
                        .get("output_tokens")
                        .and_then(Value::as_u64)
                        .or(self.output);
                }
            }
            "message_stop" => {
                self.finish(out);
                return Ok(true);
            }
            "error" => return Err(stream_error(v.get("error").unwrap_or(&Value::Null))),
            _ => {}
        }
        Ok(false)
    }

    fn end(&mut self, _out: &mut Vec<ChatEvent>) -> Result<(), LlmError> {
        Err(ended_early())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::chat::{ChatMessage, ChatRole};

    #[test]
    fn system_is_gathered_and_turns_merged() {
        let msg = |role, c: &str| ChatMessage {
            role,
            content: c.into(),
        };
        let req = ChatRequest {
            model: "claude".into(),
            messages: vec![
                msg(ChatRole::System, "a"),
                msg(ChatRole::User, "1"),
                msg(ChatRole::User, "2"),
                msg(ChatRole::System, "b"),
                msg(ChatRole::Assistant, "3"),
            ],
            ..ChatRequest::default()
        };
        let b = body(&req, true);
        assert_eq!(b["system"], json!("a\n\nb"));
        assert_eq!(
            b["messages"],
            json!([{"role": "user", "content": "1\n\n2"}, {"role": "assistant", "content": "3"}])
        );
        assert_eq!(b["max_tokens"], json!(DEFAULT_MAX_TOKENS));
        assert!(b.get("temperature").is_none() && b.get("stop_sequences").is_none());
    }
}
