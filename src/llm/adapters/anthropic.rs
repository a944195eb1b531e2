//! Anthropic messages: `POST {base}/messages`, SSE events `message_start`,
//! `content_block_start`, `content_block_delta`, `message_delta`, `message_stop` (and `error`).
//!
//! Tools become `tools` with `input_schema`, tool calls `tool_use` blocks and tool results
//! `tool_result` blocks; streamed `input_json_delta` fragments become OpenAI tool-call deltas
//! with a stable index. A JSON response format is asked for as a forced tool whose input is the
//! answer, and that tool's input is passed on as the answer's text.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::sse::SseEvent;
use super::support::{arguments_object, data_url, effort_budget, system_and_turns};
use super::{Call, Decoder, Whole, ended_early, endpoint_url, key, parse_data, stream_error};
use crate::llm::chat::{
    ChatEvent, ChatRequest, ChatRole, Content, Endpoint, FunctionCall, LlmError, Part,
    ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, ToolKind, ToolMode,
};

/// The API version this adapter speaks.
const VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when the request has none.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The forced tool's name for `json_object` (a `json_schema` format uses its own name).
const JSON_TOOL: &str = "json_response";

fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    let mut h = vec![("anthropic-version", VERSION.to_owned())];
    if let Some(k) = key(ep) {
        h.push(("x-api-key", k.to_owned()));
    }
    h
}

/// The name of the tool that carries a JSON answer, when the request asks for one.
fn format_tool(req: &ChatRequest) -> Option<String> {
    match req.response_format.as_ref()? {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(JSON_TOOL.to_owned()),
        ResponseFormat::JsonSchema { json_schema } => Some(json_schema.name.clone()),
    }
}

/// A message's content as Anthropic blocks.
fn blocks(content: &Content) -> Vec<Value> {
    match content {
        Content::Text(t) if t.is_empty() => Vec::new(),
        Content::Text(t) => vec![json!({"type": "text", "text": t})],
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } if text.is_empty() => None,
                Part::Text { text } => Some(json!({"type": "text", "text": text})),
                Part::ImageUrl { image_url } => Some(match data_url(&image_url.url) {
                    Some((mime, data)) => json!({"type": "image", "source":
                        {"type": "base64", "media_type": mime, "data": data}}),
                    None => {
                        json!({"type": "image", "source": {"type": "url", "url": image_url.url}})
                    }
                }),
            })
            .collect(),
    }
}

/// Blocks as Anthropic accepts them, one text block as a plain string (the form most callers
/// know).
fn compact(blocks: Vec<Value>) -> Value {
    match blocks.as_slice() {
        [only] if only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(blocks),
    }
}

/// The request body: system messages joined into `system`, tool results as user turns, and
/// consecutive same-role turns merged (the API wants user and assistant turns to alternate,
/// and all results of one turn's tool calls in one user message).
pub(crate) fn body(req: &ChatRequest, stream: bool) -> Value {
    let (system, turns) = system_and_turns(req, |m| match m.role {
        ChatRole::System | ChatRole::User => ("user", blocks(&m.content)),
        ChatRole::Assistant => {
            let mut b = blocks(&m.content);
            b.extend(m.tool_calls.iter().map(|c| {
                json!({"type": "tool_use", "id": c.id, "name": c.function.name,
                    "input": arguments_object(&c.function.arguments)})
            }));
            ("assistant", b)
        }
        ChatRole::Tool => (
            "user",
            vec![json!({"type": "tool_result",
                "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                "content": compact(blocks(&m.content))})],
        ),
    });
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": compact(content)}))
        .collect();
    let mut b = Map::new();
    b.insert("model".into(), json!(req.model));
    if let Some(system) = system {
        b.insert("system".into(), json!(system));
    }
    b.insert("messages".into(), Value::Array(messages));
    let budget = req
        .reasoning_effort
        .as_deref()
        .and_then(effort_budget)
        .filter(|b| *b > 0);
    let max_tokens = match (req.max_tokens, budget) {
        (Some(n), _) => n,
        // The thinking budget counts against max_tokens, which must exceed it.
        (None, Some(b)) => b + DEFAULT_MAX_TOKENS,
        (None, None) => DEFAULT_MAX_TOKENS,
    };
    b.insert("max_tokens".into(), json!(max_tokens));
    if let Some(budget) = budget {
        b.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    if let Some(t) = req.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        b.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        b.insert("stop_sequences".into(), json!(req.stop));
    }
    if let Some(u) = &req.user {
        b.insert("metadata".into(), json!({"user_id": u}));
    }
    let mut tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut o = json!({"name": t.function.name,
                "input_schema": t.function.parameters.clone().unwrap_or_else(|| json!({"type": "object"}))});
            if let Some(d) = &t.function.description {
                o["description"] = json!(d);
            }
            o
        })
        .collect();
    let mut choice = match &req.tool_choice {
        None if req.tools.is_empty() => None,
        None | Some(ToolChoice::Mode(ToolMode::Auto)) => Some(json!({"type": "auto"})),
        Some(ToolChoice::Mode(ToolMode::None)) => Some(json!({"type": "none"})),
        Some(ToolChoice::Mode(ToolMode::Required)) => Some(json!({"type": "any"})),
        Some(ToolChoice::Named(n)) => Some(json!({"type": "tool", "name": n.function.name})),
    };
    if let (Some(name), Some(format)) = (format_tool(req), &req.response_format) {
        let mut t = json!({"name": name, "input_schema": format.schema()});
        t["description"] = json!(match format {
            ResponseFormat::JsonSchema { json_schema } => json_schema
                .description
                .clone()
                .unwrap_or_else(|| "Give the final answer with this tool.".into()),
            _ => "Give the final answer as a JSON object with this tool.".into(),
        });
        tools.push(t);
        // Alone, the answer tool is forced; beside the caller's tools, some tool must be called
        // (one of theirs, or the answer).
        choice = Some(if req.tools.is_empty() {
            json!({"type": "tool", "name": name})
        } else {
            json!({"type": "any"})
        });
    }
    if req.parallel_tool_calls == Some(false)
        && let Some(c) = choice.as_mut()
        && c["type"] != "none"
    {
        c["disable_parallel_tool_use"] = json!(true);
    }
    if !tools.is_empty() {
        b.insert("tools".into(), Value::Array(tools));
    }
    if let Some(c) = choice {
        b.insert("tool_choice".into(), c);
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

fn usage_of(u: &Value) -> (Option<u64>, Option<u64>) {
    (
        u.get("input_tokens").and_then(Value::as_u64),
        u.get("output_tokens").and_then(Value::as_u64),
    )
}

/// The stop reason in OpenAI's terms when the only tool called was the answer tool: a
/// complete answer, not a tool call.
fn stop_reason(raw: Option<&str>, answered_by_format: bool, other_tools: bool) -> Option<String> {
    match raw {
        Some("tool_use") if answered_by_format && !other_tools => Some("end_turn".into()),
        r => r.map(str::to_owned),
    }
}

pub(crate) fn parse_once(v: &Value, req: &ChatRequest) -> Result<Whole, LlmError> {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        return Err(stream_error(v.get("error").unwrap_or(&Value::Null)));
    }
    let content = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("the answer has no content".into()))?;
    let format = format_tool(req);
    let mut w = Whole::default();
    let mut by_format = false;
    for b in content {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => w
                .text
                .push_str(b.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => {
                let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                if format.as_deref() == Some(name) {
                    by_format = true;
                    w.text.push_str(&input.to_string());
                } else {
                    w.tool_calls.push(ToolCall {
                        id: b
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        kind: ToolKind::Function,
                        function: FunctionCall {
                            name: name.to_owned(),
                            arguments: input.to_string(),
                        },
                    });
                }
            }
            _ => {}
        }
    }
    w.usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        let (i, o) = usage_of(u);
        (i.unwrap_or(0), o.unwrap_or(0))
    });
    w.finish_reason = stop_reason(
        v.get("stop_reason").and_then(Value::as_str),
        by_format,
        !w.tool_calls.is_empty(),
    );
    Ok(w)
}

/// What a content block of the stream is.
enum Block {
    /// A tool call, with its index among the answer's tool calls.
    Tool(u32),
    /// The answer tool: its input is the answer's text.
    Format,
    /// Text, thinking and anything else.
    Other,
}

/// Stream state.
pub(crate) struct Stream {
    input: Option<u64>,
    output: Option<u64>,
    stop_reason: Option<String>,
    format: Option<String>,
    blocks: HashMap<u64, Block>,
    tool_calls: u32,
    by_format: bool,
}

impl Stream {
    /// The decoder for an answer to `req`.
    pub(crate) fn new(req: &ChatRequest) -> Self {
        Self {
            input: None,
            output: None,
            stop_reason: None,
            format: format_tool(req),
            blocks: HashMap::new(),
            tool_calls: 0,
            by_format: false,
        }
    }

    fn usage(&mut self, u: &Value) {
        let (i, o) = usage_of(u);
        self.input = i.or(self.input);
        self.output = o.or(self.output);
    }

    fn finish(&mut self, out: &mut Vec<ChatEvent>) {
        if self.input.is_some() || self.output.is_some() {
            out.push(ChatEvent::Usage {
                input_tokens: self.input.unwrap_or(0),
                output_tokens: self.output.unwrap_or(0),
            });
        }
        out.push(ChatEvent::Done {
            finish_reason: stop_reason(
                self.stop_reason.take().as_deref(),
                self.by_format,
                self.tool_calls > 0,
            ),
        });
    }

    fn block_start(&mut self, v: &Value, out: &mut Vec<ChatEvent>) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let block = v.get("content_block").unwrap_or(&Value::Null);
        if block.get("type").and_then(Value::as_str) != Some("tool_use") {
            self.blocks.insert(index, Block::Other);
            return;
        }
        let name = block
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if self.format.as_deref() == Some(name) {
            self.by_format = true;
            self.blocks.insert(index, Block::Format);
            return;
        }
        let n = self.tool_calls;
        self.tool_calls += 1;
        self.blocks.insert(index, Block::Tool(n));
        out.push(ChatEvent::ToolCall(ToolCallDelta {
            index: n,
            id: block.get("id").and_then(Value::as_str).map(str::to_owned),
            name: Some(name.to_owned()),
            arguments: String::new(),
        }));
    }

    fn block_delta(&mut self, v: &Value, out: &mut Vec<ChatEvent>) {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        let delta = v.get("delta").unwrap_or(&Value::Null);
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => {
                if let Some(text) = delta.get("text").and_then(Value::as_str) {
                    out.push(ChatEvent::Delta(text.to_owned()));
                }
            }
            Some("input_json_delta") => {
                let part = delta
                    .get("partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match self.blocks.get(&index) {
                    Some(Block::Tool(n)) => out.push(ChatEvent::ToolCall(ToolCallDelta {
                        index: *n,
                        id: None,
                        name: None,
                        arguments: part.to_owned(),
                    })),
                    Some(Block::Format) => out.push(ChatEvent::Delta(part.to_owned())),
                    _ => {}
                }
            }
            _ => {}
        }
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
                    self.usage(u);
                }
            }
            "content_block_start" => self.block_start(&v, out),
            "content_block_delta" => self.block_delta(&v, out),
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_owned());
                }
                if let Some(u) = v.get("usage") {
                    self.usage(u);
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
    use crate::llm::chat::ChatMessage;

    #[test]
    fn system_is_gathered_and_turns_merged() {
        let req = ChatRequest {
            model: "claude".into(),
            messages: vec![
                ChatMessage::text(ChatRole::System, "a"),
                ChatMessage::text(ChatRole::User, "1"),
                ChatMessage::text(ChatRole::User, "2"),
                ChatMessage::text(ChatRole::System, "b"),
                ChatMessage::text(ChatRole::Assistant, "3"),
            ],
            ..ChatRequest::default()
        };
        let b = body(&req, true);
        assert_eq!(b["system"], json!("a\n\nb"));
        assert_eq!(
            b["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "1"}, {"type": "text", "text": "2"}]},
                {"role": "assistant", "content": "3"}
            ])
        );
        assert_eq!(b["max_tokens"], json!(DEFAULT_MAX_TOKENS));
        assert!(b.get("temperature").is_none() && b.get("stop_sequences").is_none());
        assert!(b.get("tools").is_none() && b.get("tool_choice").is_none());
    }
}
