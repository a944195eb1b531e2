//! Google Gemini: `POST {base}/models/{model}:streamGenerateContent?alt=sse` (or
//! `:generateContent`), the key in `x-goog-api-key` (never in the URL).

use serde_json::{Map, Value, json};

use super::sse::SseEvent;
use super::{
    Call, ChatOnce, Decoder, ended_early, endpoint_url, key, parse_data, split_turns, stream_error,
};
use crate::llm::chat::{ChatEvent, ChatRequest, Endpoint, LlmError};

fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    key(ep)
        .map(|k| vec![("x-goog-api-key", k.to_owned())])
        .unwrap_or_default()
}

/// The model id without a `models/` prefix.
fn model_id(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// The request body: system messages into `systemInstruction`, turns as `user`/`model`
/// contents (consecutive same-role turns merged).
pub(crate) fn body(req: &ChatRequest) -> Value {
    let (system, turns) = split_turns(req, "model");
    let contents: Vec<Value> = turns
        .into_iter()
        .map(|(role, text)| json!({"role": role, "parts": [{"text": text}]}))
        .collect();
    let mut b = Map::new();
    b.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        b.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }
    let mut config = Map::new();
    if let Some(t) = req.temperature {
        config.insert("temperature".into(), json!(t));
    }
    if let Some(n) = req.max_tokens {
        config.insert("maxOutputTokens".into(), json!(n));
    }
    if !req.stop.is_empty() {
        config.insert("stopSequences".into(), json!(req.stop));
    }
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
    finish: Option<String>,
    usage: Option<(u64, u64)>,
}

fn chunk(v: &Value) -> Result<Chunk, LlmError> {
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(stream_error(err));
    }
    let candidate = v.get("candidates").and_then(|c| c.get(0));
    let texts = candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
                .filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
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
        finish,
        usage,
    })
}

pub(crate) fn parse_once(v: &Value) -> Result<ChatOnce, LlmError> {
    if v.get("candidates").is_none()
        && v.get("promptFeedback").is_none()
        && v.get("error").is_none()
    {
        return Err(LlmError::Malformed("the answer has no candidates".into()));
    }
    let c = chunk(v)?;
    Ok((c.texts.concat(), c.usage, c.finish))
}

/// Stream state: usage arrives cumulatively, the last one is reported once before `Done`.
#[derive(Default)]
pub(crate) struct Stream {
    finish: Option<String>,
    usage: Option<(u64, u64)>,
}

impl Decoder for Stream {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<ChatEvent>) -> Result<bool, LlmError> {
        let c = chunk(&parse_data(&ev.data)?)?;
        out.extend(c.texts.into_iter().map(ChatEvent::Delta));
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
            finish_reason: self.finish.take(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::chat::{ChatMessage, ChatRole};

    #[test]
    fn bodies_translate_the_request() {
        let msg = |role, c: &str| ChatMessage {
            role,
            content: c.into(),
        };
        let req = ChatRequest {
            model: "models/gemini-x".into(),
            messages: vec![
                msg(ChatRole::System, "s"),
                msg(ChatRole::User, "u"),
                msg(ChatRole::Assistant, "a"),
            ],
            temperature: Some(0.2),
            max_tokens: Some(5),
            stop: vec!["x".into()],
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
