//! Google Gemini: `POST {base}/models/{model}:streamGenerateContent?alt=sse` (or
//! `:generateContent`), the key in `x-goog-api-key` (never in the URL).
//!
//! Tools become `functionDeclarations` (parameters as JSON Schema), tool calls `functionCall`
//! parts and tool results `functionResponse` parts; `tool_choice` becomes `toolConfig`; a JSON
//! response format `responseMimeType` with `responseJsonSchema`; images `inlineData`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::sse::SseEvent;
use super::support::{arguments_object, data_url, effort_budget, system_and_turns};
use super::{Call, Decoder, Whole, ended_early, endpoint_url, key, parse_data, stream_error};
use crate::llm::chat::{
    ChatEvent, ChatRequest, ChatRole, Content, Endpoint, FunctionCall, LlmError, Part,
    ResponseFormat, ToolCall, ToolCallDelta, ToolChoice, ToolKind, ToolMode,
};

pub(super) fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    key(ep)
        .map(|k| vec![("x-goog-api-key", k.to_owned())])
        .unwrap_or_default()
}

/// The model id without a `models/` prefix.
fn model_id(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

fn parts(content: &Content) -> Vec<Value> {
    match content {
        Content::Text(t) if t.is_empty() => Vec::new(),
        Content::Text(t) => vec![json!({"text": t})],
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(json!({"text": text})),
                // Only inline images are taken (URLs are refused before this).
                Part::ImageUrl { image_url } => data_url(&image_url.url)
                    .map(|(mime, data)| json!({"inlineData": {"mimeType": mime, "data": data}})),
            })
            .collect(),
    }
}

/// The request body: system messages into `systemInstruction`, turns as `user`/`model`
/// contents (consecutive same-role turns merged), tool results as `functionResponse` parts
/// named after the call they answer.
pub(crate) fn body(req: &ChatRequest) -> Value {
    let names: HashMap<&str, &str> = req
        .messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .map(|c| (c.id.as_str(), c.function.name.as_str()))
        .collect();
    let (system, turns) = system_and_turns(req, |m| match m.role {
        ChatRole::System | ChatRole::User => ("user", parts(&m.content)),
        ChatRole::Assistant => {
            let mut p = parts(&m.content);
            p.extend(m.tool_calls.iter().map(|c| {
                json!({"functionCall": {"name": c.function.name,
                    "args": arguments_object(&c.function.arguments)}})
            }));
            ("model", p)
        }
        ChatRole::Tool => {
            let id = m.tool_call_id.as_deref().unwrap_or_default();
            let text = m.content.text();
            let response = match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => v,
                Ok(v) => json!({"content": v}),
                Err(_) => json!({"content": text}),
            };
            (
                "user",
                vec![json!({"functionResponse": {
                    "name": names.get(id).copied().unwrap_or(id), "response": response}})],
            )
        }
    });
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect();
    let mut b = Map::new();
    b.insert("contents".into(), Value::Array(contents));
    if let Some(system) = system {
        b.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.function.name});
                if let Some(desc) = &t.function.description {
                    d["description"] = json!(desc);
                }
                if let Some(p) = &t.function.parameters {
                    d["parametersJsonSchema"] = p.clone();
                }
                d
            })
            .collect();
        b.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    let mode = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(ToolMode::Auto)) => Some(json!({"mode": "AUTO"})),
        Some(ToolChoice::Mode(ToolMode::None)) => Some(json!({"mode": "NONE"})),
        Some(ToolChoice::Mode(ToolMode::Required)) => Some(json!({"mode": "ANY"})),
        Some(ToolChoice::Named(n)) => {
            Some(json!({"mode": "ANY", "allowedFunctionNames": [n.function.name]}))
        }
    };
    if let Some(m) = mode {
        b.insert("toolConfig".into(), json!({"functionCallingConfig": m}));
    }
    let mut config = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            config.insert(k.into(), v);
        }
    };
    put("temperature", req.temperature.map(|t| json!(t)));
    put("topP", req.top_p.map(|t| json!(t)));
    put("maxOutputTokens", req.max_tokens.map(|t| json!(t)));
    put("seed", req.seed.map(|t| json!(t)));
    put("frequencyPenalty", req.frequency_penalty.map(|t| json!(t)));
    put("presencePenalty", req.presence_penalty.map(|t| json!(t)));
    put(
        "stopSequences",
        (!req.stop.is_empty()).then(|| json!(req.stop)),
    );
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            put("responseMimeType", Some(json!("application/json")));
        }
        Some(f @ ResponseFormat::JsonSchema { .. }) => {
            put("responseMimeType", Some(json!("application/json")));
            put("responseJsonSchema", f.schema());
        }
        Some(ResponseFormat::Text) | None => {}
    }
    put(
        "thinkingConfig",
        req.reasoning_effort
            .as_deref()
            .and_then(effort_budget)
            .map(|b| json!({"thinkingBudget": b})),
    );
    if !config.is_empty() {
        b.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(b)
}

pub(crate) fn chat_call(ep: &Endpoint, req: &ChatRequest, stream: bool) -> Result<Call, LlmError> {
    let method = if stream {
        "streamGenerateContent"
    } else {
        "generateContent"
    };
    let segment = format!("{}:{method}", model_id(&req.model));
    let mut url = endpoint_url(&ep.base_url, &["models", &segment])?;
    if stream {
        url.query_pairs_mut().append_pair("alt", "sse");
    }
    Ok(Call {
        url,
        headers: headers(ep),
        body: Some(body(req)),
    })
}

pub(crate) fn models_call(ep: &Endpoint, page: Option<&str>) -> Result<Call, LlmError> {
    let mut url = endpoint_url(&ep.base_url, &["models"])?;
    url.query_pairs_mut().append_pair("pageSize", "1000");
    if let Some(p) = page {
        url.query_pairs_mut().append_pair("pageToken", p);
    }
    Ok(Call {
        url,
        headers: headers(ep),
        body: None,
    })
}

/// The generating models on one page, and the next page's token if there is one.
pub(crate) fn parse_models(v: &Value) -> Result<(Vec<String>, Option<String>), LlmError> {
    let models = match v.get("models") {
        Some(m) => m
            .as_array()
            .ok_or_else(|| LlmError::Malformed("the models list has no `models`".into()))?
            .as_slice(),
        // An empty list comes without the field.
        None if v.is_object() => &[],
        None => {
            return Err(LlmError::Malformed(
                "the models list has no `models`".into(),
            ));
        }
    };
    let ids = models
        .iter()
        .filter(|m| {
            m.get("supportedGenerationMethods")
                .and_then(Value::as_array)
                .is_some_and(|ms| ms.iter().any(|x| x.as_str() == Some("generateContent")))
        })
        .filter_map(|m| m.get("name").and_then(Value::as_str))
        .map(|n| model_id(n).to_owned())
        .collect();
    let next = v
        .get("nextPageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok((ids, next))
}

/// What one response object (a streamed chunk or the whole answer) says.
struct Chunk {
    texts: Vec<String>,
    calls: Vec<(Option<String>, String, String)>,
    finish: Option<String>,
    usage: Option<(u64, u64)>,
}

fn chunk(v: &Value) -> Result<Chunk, LlmError> {
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(err));
    }
    let candidate = v.get("candidates").and_then(|c| c.get(0));
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for p in candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        if p.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            texts.push(t.to_owned());
        }
        if let Some(fc) = p.get("functionCall") {
            calls.push((
                fc.get("id").and_then(Value::as_str).map(str::to_owned),
                fc.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                fc.get("args")
                    .cloned()
                    .unwrap_or_else(|| json!({}))
                    .to_string(),
            ));
        }
    }
    let finish = candidate
        .and_then(|c| c.get("finishReason"))
        .and_then(Value::as_str)
        .filter(|r| *r != "FINISH_REASON_UNSPECIFIED")
        .or_else(|| {
            // A refused prompt gets no candidates, only a block reason.
            v.pointer("/promptFeedback/blockReason")
                .and_then(Value::as_str)
                .filter(|_| candidate.is_none())
        })
        .map(str::to_owned);
    let usage = v.get("usageMetadata").filter(|u| u.is_object()).map(|u| {
        let n = |f: &str| u.get(f).and_then(Value::as_u64).unwrap_or(0);
        (
            n("promptTokenCount"),
            n("candidatesTokenCount") + n("thoughtsTokenCount"),
        )
    });
    Ok(Chunk {
        texts,
        calls,
        finish,
        usage,
    })
}

/// Gemini says `STOP` after function calls; OpenAI's callers expect `tool_calls`.
fn finish_with_calls(finish: Option<String>, calls: bool) -> Option<String> {
    match finish {
        Some(f) if calls && f == "STOP" => Some("tool_calls".into()),
        f => f,
    }
}

pub(crate) fn parse_once(v: &Value) -> Result<Whole, LlmError> {
    if v.get("candidates").is_none()
        && v.get("promptFeedback").is_none()
        && v.get("error").is_none()
    {
        return Err(LlmError::Malformed("the answer has no candidates".into()));
    }
    let c = chunk(v)?;
    let tool_calls: Vec<ToolCall> = c
        .calls
        .into_iter()
        .enumerate()
        .map(|(i, (id, name, arguments))| ToolCall {
            id: id.unwrap_or_else(|| format!("call_{i}")),
            kind: ToolKind::Function,
            function: FunctionCall { name, arguments },
        })
        .collect();
    Ok(Whole {
        text: c.texts.concat(),
        finish_reason: finish_with_calls(c.finish, !tool_calls.is_empty()),
        tool_calls,
        refusal: None,
        logprobs: None,
        usage: c.usage,
    })
}

/// Stream state: usage arrives cumulatively, the last one is reported once before `Done`.
#[derive(Default)]
pub(crate) struct Stream {
    finish: Option<String>,
    usage: Option<(u64, u64)>,
    calls: u32,
}

impl Decoder for Stream {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<ChatEvent>) -> Result<bool, LlmError> {
        let c = chunk(&parse_data(&ev.data)?)?;
        out.extend(c.texts.into_iter().map(ChatEvent::Delta));
        // Gemini sends each function call whole, in one part.
        for (id, name, arguments) in c.calls {
            let index = self.calls;
            self.calls += 1;
            out.push(ChatEvent::ToolCall(ToolCallDelta {
                index,
                id: Some(id.unwrap_or_else(|| format!("call_{index}"))),
                name: Some(name),
                arguments,
            }));
        }
        if c.finish.is_some() {
            self.finish = c.finish;
        }
        if c.usage.is_some() {
            self.usage = c.usage;
        }
        Ok(false)
    }

    fn end(&mut self, out: &mut Vec<ChatEvent>) -> Result<(), LlmError> {
        if self.finish.is_none() {
            return Err(ended_early());
        }
        if let Some((input_tokens, output_tokens)) = self.usage.take() {
            out.push(ChatEvent::Usage {
                input_tokens,
                output_tokens,
            });
        }
        out.push(ChatEvent::Done {
            finish_reason: finish_with_calls(self.finish.take(), self.calls > 0),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::chat::ChatMessage;

    #[test]
    fn bodies_translate_the_request() {
        let req = ChatRequest {
            model: "models/gemini-x".into(),
            messages: vec![
                ChatMessage::text(ChatRole::System, "s"),
                ChatMessage::text(ChatRole::User, "u"),
                ChatMessage::text(ChatRole::Assistant, "a"),
            ],
            temperature: Some(0.2),
            max_tokens: Some(5),
            stop: vec!["x".into()],
            ..ChatRequest::default()
        };
        let b = body(&req);
        assert_eq!(b["systemInstruction"], json!({"parts": [{"text": "s"}]}));
        assert_eq!(
            b["contents"][1],
            json!({"role": "model", "parts": [{"text": "a"}]})
        );
        assert_eq!(
            b["generationConfig"],
            json!({"temperature": 0.2, "maxOutputTokens": 5, "stopSequences": ["x"]})
        );
        let ep = Endpoint {
            kind: crate::domain::ProviderKind::Google,
            base_url: "http://h/v1beta".into(),
            api_key: Some("k".into()),
        };
        let call = chat_call(&ep, &req, true).unwrap();
        assert_eq!(
            call.url.as_str(),
            "http://h/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
        );
    }
}
