//! A `/v1/chat/completions` body turned into a [`ChatRequest`], field by field, so that every
//! problem is a 400 naming the field as OpenAI's `param` (`messages[2].tool_call_id`,
//! `tools[0].function.parameters`) and nothing a caller sent is silently lost: fields
//! Promptyard does not know are kept in `extra` for the upstream.

use std::collections::HashSet;

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::domain::json_schema::check_schema;
use crate::domain::template_chat::is_name;
use crate::error::{Error, Result};
use crate::llm::chat::{
    ChatMessage, ChatRequest, ChatRole, Content, FunctionCall, IMAGE_TYPES, Part, ResponseFormat,
    Tool, ToolCall, ToolChoice, ToolKind,
};

/// The largest chat completions body accepted (images inline make bodies large).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The largest image accepted inline (decoded), as OpenAI's limit.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

/// Fields of the body that are Promptyard's or the transport's, not the model's.
const OWN: [&str; 5] = ["stream", "stream_options", "cache", "model", "messages"];

/// What the body asks beyond the chat request.
pub struct Parsed {
    /// The request for the gateway.
    pub chat: ChatRequest,
    /// Stream the answer.
    pub stream: bool,
    /// Send a usage chunk at the end of a stream.
    pub include_usage: bool,
    /// Promptyard's response-cache opt-in.
    pub cache: bool,
}

fn take<T: DeserializeOwned>(body: &mut Map<String, Value>, name: &str) -> Result<Option<T>> {
    match body.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| Error::invalid(name, format!("`{name}` is not valid: {e}"))),
    }
}

fn range(name: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<()> {
    match v {
        Some(x) if !(lo..=hi).contains(&x) => Err(Error::invalid(
            name,
            format!("{name} must be between {lo} and {hi}"),
        )),
        _ => Ok(()),
    }
}

/// Parses a chat completions body.
pub fn chat_body(body: Value) -> Result<Parsed> {
    let Value::Object(mut body) = body else {
        return Err(Error::invalid("body", "the body must be a JSON object"));
    };
    let model: String =
        take(&mut body, "model")?.ok_or_else(|| Error::invalid("model", "`model` is required"))?;
    let raw_messages: Vec<Value> = take(&mut body, "messages")?
        .ok_or_else(|| Error::invalid("messages", "`messages` is required"))?;
    let stream: bool = take(&mut body, "stream")?.unwrap_or(false);
    let include_usage = take::<Value>(&mut body, "stream_options")?
        .and_then(|o| o.get("include_usage").and_then(Value::as_bool))
        .unwrap_or(false);
    let cache: bool = take(&mut body, "cache")?.unwrap_or(false);
    let max_completion: Option<u32> = take(&mut body, "max_completion_tokens")?;
    let max_tokens: Option<u32> = take(&mut body, "max_tokens")?;
    let stop = match take::<Value>(&mut body, "stop")? {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(v) => serde_json::from_value::<Vec<String>>(v)
            .map_err(|_| Error::invalid("stop", "`stop` must be a string or a list of strings"))?,
    };
    if stop.len() > 4 {
        return Err(Error::invalid("stop", "at most 4 stop sequences"));
    }
    // Legacy function calling, as older clients send it.
    let functions: Option<Vec<crate::llm::chat::FunctionDef>> = take(&mut body, "functions")?;
    let mut tools: Vec<Tool> = take(&mut body, "tools")?.unwrap_or_default();
    if let Some(fs) = functions {
        tools.extend(fs.into_iter().map(|function| Tool {
            kind: ToolKind::Function,
            function,
        }));
    }
    let mut chat = ChatRequest {
        model: model.trim().to_owned(),
        messages: messages(raw_messages)?,
        temperature: take(&mut body, "temperature")?,
        max_tokens: max_completion.or(max_tokens),
        stop,
        tools,
        tool_choice: take(&mut body, "tool_choice")?,
        parallel_tool_calls: take(&mut body, "parallel_tool_calls")?,
        response_format: take(&mut body, "response_format")?,
        n: take(&mut body, "n")?,
        seed: take(&mut body, "seed")?,
        top_p: take(&mut body, "top_p")?,
        frequency_penalty: take(&mut body, "frequency_penalty")?,
        presence_penalty: take(&mut body, "presence_penalty")?,
        logit_bias: take(&mut body, "logit_bias")?,
        logprobs: take(&mut body, "logprobs")?,
        top_logprobs: take(&mut body, "top_logprobs")?,
        user: take(&mut body, "user")?,
        reasoning_effort: take(&mut body, "reasoning_effort")?,
        metadata: take(&mut body, "metadata")?,
        extra: Map::new(),
    };
    if chat.tool_choice.is_none()
        && let Some(fc) = take::<Value>(&mut body, "function_call")?
    {
        chat.tool_choice = Some(match fc {
            Value::String(s) => serde_json::from_value(Value::String(s))
                .map_err(|_| Error::invalid("function_call", "use auto, none or a function"))?,
            Value::Object(o) => serde_json::from_value(serde_json::json!({
                "type": "function", "function": {"name": o.get("name").cloned().unwrap_or_default()}
            }))
            .map_err(|_| Error::invalid("function_call", "name a function"))?,
            _ => {
                return Err(Error::invalid(
                    "function_call",
                    "use auto, none or a function",
                ));
            }
        });
    }
    for k in OWN {
        body.remove(k);
    }
    chat.extra = body;
    validate(&chat)?;
    Ok(Parsed {
        chat,
        stream,
        include_usage,
        cache,
    })
}

fn validate(c: &ChatRequest) -> Result<()> {
    if c.model.is_empty() {
        return Err(Error::invalid("model", "`model` must not be empty"));
    }
    range("temperature", c.temperature, 0.0, 2.0)?;
    range("top_p", c.top_p, 0.0, 1.0)?;
    range("frequency_penalty", c.frequency_penalty, -2.0, 2.0)?;
    range("presence_penalty", c.presence_penalty, -2.0, 2.0)?;
    if c.n == Some(0) {
        return Err(Error::invalid("n", "n must be at least 1"));
    }
    if c.max_tokens == Some(0) {
        return Err(Error::invalid(
            "max_tokens",
            "max_tokens must be at least 1",
        ));
    }
    if let Some(t) = c.top_logprobs {
        if t > 20 {
            return Err(Error::invalid(
                "top_logprobs",
                "top_logprobs must be between 0 and 20",
            ));
        }
        if c.logprobs != Some(true) {
            return Err(Error::invalid(
                "top_logprobs",
                "top_logprobs needs logprobs: true",
            ));
        }
    }
    if let Some(bias) = &c.logit_bias {
        for (k, v) in bias {
            let ok = k.parse::<u32>().is_ok()
                && v.as_f64().is_some_and(|b| (-100.0..=100.0).contains(&b));
            if !ok {
                return Err(Error::invalid(
                    "logit_bias",
                    "logit_bias maps token ids to numbers between -100 and 100",
                ));
            }
        }
    }
    let mut names = HashSet::new();
    for (i, t) in c.tools.iter().enumerate() {
        let name = &t.function.name;
        if !is_name(name) {
            return Err(Error::invalid(
                &format!("tools[{i}].function.name"),
                "a function name is 1 to 64 letters, digits, underscores or dashes",
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(Error::invalid(
                &format!("tools[{i}].function.name"),
                format!("two tools are named `{name}`"),
            ));
        }
        if let Some(p) = &t.function.parameters {
            check_schema(&format!("tools[{i}].function.parameters"), p)?;
        }
    }
    if c.tools.len() > 128 {
        return Err(Error::invalid("tools", "at most 128 tools"));
    }
    if let Some(ToolChoice::Named(n)) = &c.tool_choice
        && !names.contains(n.function.name.as_str())
    {
        return Err(Error::invalid(
            "tool_choice",
            format!(
                "tool_choice names `{}`, which is not one of the tools",
                n.function.name
            ),
        ));
    }
    if let Some(ResponseFormat::JsonSchema { json_schema }) = &c.response_format {
        if json_schema.name.is_empty() || json_schema.name.len() > 64 {
            return Err(Error::invalid(
                "response_format.json_schema.name",
                "the schema needs a name of 1 to 64 characters",
            ));
        }
        if let Some(s) = &json_schema.schema {
            check_schema("response_format.json_schema.schema", s)?;
        }
    }
    Ok(())
}

/// Parses and checks the conversation: roles, contents, images, tool calls and that every tool
/// message answers a call made before it.
pub fn messages(input: Vec<Value>) -> Result<Vec<ChatMessage>> {
    if input.is_empty() {
        return Err(Error::invalid("messages", "messages must not be empty"));
    }
    let mut calls: HashSet<String> = HashSet::new();
    // The calls of the last assistant message not yet answered, and where it was.
    let mut pending: (usize, Vec<String>) = (0, Vec::new());
    let mut out = Vec::with_capacity(input.len());
    let count = input.len();
    for (i, raw) in input.into_iter().enumerate() {
        let at = |f: &str| format!("messages[{i}]{f}");
        let is_tool = matches!(
            raw.get("role").and_then(Value::as_str),
            Some("tool" | "function")
        );
        if !is_tool && !pending.1.is_empty() {
            return Err(unanswered(pending));
        }
        let Value::Object(mut m) = raw else {
            return Err(Error::invalid(&at(""), "each message must be an object"));
        };
        let role = match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => ChatRole::System,
            Some("user") => ChatRole::User,
            Some("assistant") => ChatRole::Assistant,
            Some("tool" | "function") => ChatRole::Tool,
            Some(other) => {
                return Err(Error::invalid(
                    &at(".role"),
                    format!(
                        "unknown role `{other}` (use system, developer, user, assistant or tool)"
                    ),
                ));
            }
            None => return Err(Error::invalid(&at(".role"), "each message needs a role")),
        };
        let content: Content = match m.remove("content") {
            None | Some(Value::Null) => Content::default(),
            Some(v) => serde_json::from_value(v).map_err(|_| {
                Error::invalid(
                    &at(".content"),
                    "content must be a string or a list of text and image_url parts",
                )
            })?,
        };
        check_content(&content, &at(".content"))?;
        let mut tool_calls: Vec<ToolCall> = match m.remove("tool_calls") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v).map_err(|e| {
                Error::invalid(&at(".tool_calls"), format!("tool calls are not valid: {e}"))
            })?,
        };
        // Legacy `function_call` on an assistant message.
        if let Some(Value::Object(fc)) = m.remove("function_call") {
            let name = fc.get("name").and_then(Value::as_str).unwrap_or_default();
            tool_calls.push(ToolCall {
                id: name.to_owned(),
                kind: ToolKind::Function,
                function: FunctionCall {
                    name: name.to_owned(),
                    arguments: fc
                        .get("arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}")
                        .to_owned(),
                },
            });
        }
        if !tool_calls.is_empty() && role != ChatRole::Assistant {
            return Err(Error::invalid(
                &at(".tool_calls"),
                "only assistant messages carry tool calls",
            ));
        }
        for (j, c) in tool_calls.iter().enumerate() {
            if c.id.is_empty() {
                return Err(Error::invalid(
                    &at(&format!(".tool_calls[{j}].id")),
                    "a tool call needs an id",
                ));
            }
            if !serde_json::from_str::<Value>(&c.function.arguments).is_ok_and(|v| v.is_object()) {
                return Err(Error::invalid(
                    &at(&format!(".tool_calls[{j}].function.arguments")),
                    "a tool call's arguments must be a JSON object, as text",
                ));
            }
            calls.insert(c.id.clone());
        }
        let name: Option<String> = m.get("name").and_then(Value::as_str).map(str::to_owned);
        let mut tool_call_id = m
            .get("tool_call_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if role == ChatRole::Tool {
            // A legacy `function` message answers the call named after its function.
            if tool_call_id.is_none() && m.get("role").and_then(Value::as_str) == Some("function") {
                tool_call_id = name.clone();
            }
            match &tool_call_id {
                None => {
                    return Err(Error::invalid(
                        &at(".tool_call_id"),
                        "a tool message needs the tool_call_id of the call it answers",
                    ));
                }
                Some(id) if !calls.contains(id) => {
                    return Err(Error::invalid(
                        &at(".tool_call_id"),
                        format!("no earlier assistant message made a tool call with the id `{id}`"),
                    ));
                }
                Some(id) => pending.1.retain(|p| p != id),
            }
        }
        if !tool_calls.is_empty() {
            pending = (i, tool_calls.iter().map(|c| c.id.clone()).collect());
        }
        out.push(ChatMessage {
            role,
            content,
            tool_calls,
            tool_call_id: tool_call_id.filter(|_| role == ChatRole::Tool),
            name: name.filter(|_| role != ChatRole::Tool),
        });
    }
    if !pending.1.is_empty() && pending.0 + 1 < count {
        return Err(unanswered(pending));
    }
    Ok(out)
}

/// An assistant message whose tool calls were not all answered before the next turn.
fn unanswered((at, ids): (usize, Vec<String>)) -> Error {
    Error::invalid(
        &format!("messages[{at}]"),
        format!(
            "an assistant message with tool_calls must be followed by tool messages answering \
             each call; no answer for: {}",
            ids.join(", ")
        ),
    )
}

/// Images: a `data:` URL of a supported type within the size limit, or an http(s) URL.
fn check_content(content: &Content, at: &str) -> Result<()> {
    let Content::Parts(parts) = content else {
        return Ok(());
    };
    for (j, p) in parts.iter().enumerate() {
        let Part::ImageUrl { image_url } = p else {
            continue;
        };
        let field = format!("{at}[{j}].image_url.url");
        let url = image_url.url.as_str();
        if let Some(rest) = url.strip_prefix("data:") {
            let Some((meta, data)) = rest.split_once(',') else {
                return Err(Error::invalid(
                    &field,
                    "a data: URL needs a comma before its data",
                ));
            };
            let Some(mime) = meta.strip_suffix(";base64") else {
                return Err(Error::invalid(
                    &field,
                    "an image data: URL must be base64 (data:image/png;base64,...)",
                ));
            };
            if !IMAGE_TYPES.contains(&mime) {
                return Err(Error::invalid(
                    &field,
                    format!(
                        "images of type `{mime}` are not supported (use PNG, JPEG, GIF or WebP)"
                    ),
                ));
            }
            if data.len() / 4 * 3 > MAX_IMAGE_BYTES + 3 {
                return Err(Error::invalid(
                    &field,
                    format!(
                        "the image is larger than {} MiB",
                        MAX_IMAGE_BYTES / (1024 * 1024)
                    ),
                ));
            }
            if base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_err()
            {
                return Err(Error::invalid(
                    &field,
                    "the image's base64 data is not valid",
                ));
            }
        } else if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::invalid(
                &field,
                "an image must be a data: URL or an http(s) URL",
            ));
        }
        if let Some(d) = &image_url.detail
            && !matches!(d.as_str(), "auto" | "low" | "high")
        {
            return Err(Error::invalid(
                &format!("{field}.detail"),
                "detail is auto, low or high",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(body: Value) -> String {
        match chat_body(body) {
            Err(e) => e.field().unwrap_or_default().to_owned(),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn every_field_is_kept_or_named() {
        let p = chat_body(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "seed": 3, "top_k": 40, "stream": true, "stream_options": {"include_usage": true},
            "stop": "END", "max_tokens": 9, "max_completion_tokens": 7}),
        )
        .unwrap();
        assert_eq!(p.chat.seed, Some(3));
        assert_eq!(p.chat.extra.get("top_k"), Some(&json!(40)));
        assert!(p.stream && p.include_usage);
        assert_eq!(p.chat.stop, vec!["END"]);
        assert_eq!(p.chat.max_tokens, Some(7));
        assert!(!p.chat.extra.contains_key("stream"));
    }

    #[test]
    fn bad_input_names_the_field() {
        let user = json!({"role": "user", "content": "hi"});
        assert_eq!(
            field(json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]})),
            "messages[0].role"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [user, {"role": "tool", "tool_call_id": "nope", "content": "1"}]})
            ),
            "messages[1].tool_call_id"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]})
            ),
            "messages[1].tool_calls[0].function.arguments"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]})
            ),
            "tools[0].function.parameters"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [user], "tools": [{"type": "function", "function": {"name": "bad name"}}]})
            ),
            "tools[0].function.name"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [user], "tool_choice": {"type": "function", "function": {"name": "g"}}})
            ),
            "tool_choice"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}]})
            ),
            "messages[0].content[0].image_url.url"
        );
        assert_eq!(
            field(
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]})
            ),
            "messages[0].content[0].image_url.url"
        );
        assert_eq!(
            field(json!({"model": "m", "messages": [user], "top_p": 3})),
            "top_p"
        );
        assert_eq!(
            field(json!({"model": "m", "messages": [user], "response_format": {"type": "xml"}})),
            "response_format"
        );
        assert_eq!(
            field(json!({"model": "m", "messages": [user], "top_logprobs": 2})),
            "top_logprobs"
        );
    }

    #[test]
    fn a_tool_loop_parses() {
        let p = chat_body(json!({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "cold"}
        ], "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]}))
        .unwrap();
        assert_eq!(p.chat.messages[2].role, ChatRole::Tool);
        assert_eq!(
            p.chat.messages[1].tool_calls[0].function.name,
            "get_weather"
        );
    }
}
