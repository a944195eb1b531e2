//! Which request parameters each wire format can honour. A parameter a provider cannot honour
//! is never dropped silently: the call is refused naming it, unless the connection is set to
//! drop unsupported parameters, and then the run records which were dropped.

use serde_json::Value;

use crate::domain::ProviderKind;
use crate::llm::chat::{ChatMessage, ChatRequest, ChatRole, Content, LlmError, Part};

/// One parameter the provider cannot honour: its path in the request and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// A path into the request, as OpenAI's `param` names it.
    pub param: String,
    /// Readable reason.
    pub message: String,
}

impl From<Unsupported> for LlmError {
    fn from(u: Unsupported) -> Self {
        LlmError::Unsupported {
            param: u.param,
            message: u.message,
        }
    }
}

fn label(kind: ProviderKind) -> &'static str {
    kind.label()
}

/// The parameters of `req` that a `kind` connection cannot honour, in request order.
pub fn unsupported(kind: ProviderKind, req: &ChatRequest) -> Vec<Unsupported> {
    let mut out = Vec::new();
    let mut no = |param: String, what: &str| {
        out.push(Unsupported {
            message: format!(
                "`{param}` is not supported by {} connections{what}",
                label(kind)
            ),
            param,
        });
    };
    if req.n.is_some_and(|n| n > 1) {
        // One answer per call is all the gateway streams, records and bills.
        no(
            "n".into(),
            "; Promptyard serves one choice per call (n = 1)",
        );
    }
    let native = matches!(kind, ProviderKind::Openai | ProviderKind::OpenaiCompatible);
    if native {
        return out;
    }
    let anthropic = kind == ProviderKind::Anthropic;
    if req.logit_bias.as_ref().is_some_and(|m| !m.is_empty()) {
        no("logit_bias".into(), "");
    }
    if req.logprobs == Some(true) {
        no("logprobs".into(), "");
    }
    if req.top_logprobs.is_some() {
        no("top_logprobs".into(), "");
    }
    if anthropic {
        if req.seed.is_some() {
            no("seed".into(), "");
        }
        if req.frequency_penalty.is_some_and(|p| p != 0.0) {
            no("frequency_penalty".into(), "");
        }
        if req.presence_penalty.is_some_and(|p| p != 0.0) {
            no("presence_penalty".into(), "");
        }
    } else if req.parallel_tool_calls == Some(false) && !req.tools.is_empty() {
        no(
            "parallel_tool_calls".into(),
            " (Gemini cannot be limited to one tool call per turn)",
        );
    }
    if let Some(e) = &req.reasoning_effort
        && effort_budget(e).is_none()
    {
        no(
            "reasoning_effort".into(),
            &format!(" with the value `{e}` (use minimal, low, medium or high)"),
        );
    }
    if !anthropic {
        for (i, m) in req.messages.iter().enumerate() {
            if let Content::Parts(parts) = &m.content {
                for (j, p) in parts.iter().enumerate() {
                    if let Part::ImageUrl { image_url } = p
                        && !image_url.url.starts_with("data:")
                    {
                        no(
                            format!("messages[{i}].content[{j}].image_url.url"),
                            " as an http(s) URL; send the image as a data: URL",
                        );
                    }
                }
            }
        }
    }
    for k in req.extra.keys() {
        no(
            k.clone(),
            " (it is not a chat completions field Promptyard translates)",
        );
    }
    out
}

/// The thinking budget in tokens for a `reasoning_effort` (0: no thinking), as Anthropic and
/// Gemini take it.
pub(crate) fn effort_budget(effort: &str) -> Option<u32> {
    match effort {
        "none" | "minimal" => Some(0),
        "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    }
}

/// `req` without the parameters a `kind` connection cannot honour, and the paths of those
/// dropped.
pub fn drop_unsupported(kind: ProviderKind, req: &ChatRequest) -> (ChatRequest, Vec<String>) {
    let found = unsupported(kind, req);
    let mut r = req.clone();
    let mut dropped = Vec::new();
    for u in found {
        match u.param.as_str() {
            "n" => r.n = None,
            "logit_bias" => r.logit_bias = None,
            "logprobs" => r.logprobs = None,
            "top_logprobs" => r.top_logprobs = None,
            "seed" => r.seed = None,
            "frequency_penalty" => r.frequency_penalty = None,
            "presence_penalty" => r.presence_penalty = None,
            "parallel_tool_calls" => r.parallel_tool_calls = None,
            "reasoning_effort" => r.reasoning_effort = None,
            p if p.starts_with("messages[") => {}
            other => {
                r.extra.remove(other);
            }
        }
        dropped.push(u.param);
    }
    // Image parts by URL, where only inline images are taken.
    if dropped.iter().any(|p| p.starts_with("messages[")) {
        for m in &mut r.messages {
            if let Content::Parts(parts) = &mut m.content {
                parts.retain(|p| {
                    !matches!(p, Part::ImageUrl { image_url } if !image_url.url.starts_with("data:"))
                });
            }
        }
    }
    (r, dropped)
}

/// `data:<mime>;base64,<data>` split into the media type and the base64 text.
pub(crate) fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

/// A tool call's arguments as a JSON object for providers that take an object (an argument
/// text that is not a JSON object is sent as `{}`; `/v1` refuses such input before this).
pub(crate) fn arguments_object(args: &str) -> Value {
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(serde_json::Map::new()),
    }
}

/// A provider turn: its role and the blocks or parts it carries.
pub(crate) type Turn = (&'static str, Vec<Value>);

/// The request's system messages joined by a blank line, and its other messages as provider
/// turns, `turn` mapping each one; consecutive turns of one role are merged, since Anthropic
/// and Gemini want roles to alternate and all results of one step's tool calls in one turn.
pub(crate) fn system_and_turns<'a>(
    req: &'a ChatRequest,
    mut turn: impl FnMut(&'a ChatMessage) -> Turn,
) -> (Option<String>, Vec<Turn>) {
    let system: Vec<String> = req
        .messages
        .iter()
        .filter(|m| m.role == ChatRole::System)
        .map(|m| m.content.text())
        .collect();
    let mut turns: Vec<Turn> = Vec::new();
    for m in req.messages.iter().filter(|m| m.role != ChatRole::System) {
        let (role, items) = turn(m);
        match turns.last_mut() {
            Some((r, existing)) if *r == role => existing.extend(items),
            _ => turns.push((role, items)),
        }
    }
    ((!system.is_empty()).then(|| system.join("\n\n")), turns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_provider_names_what_it_cannot_honour() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
            "logit_bias": {"1": 5}, "seed": 1, "n": 2, "extra": {"top_k": 3}
        }))
        .unwrap();
        let params = |k| {
            unsupported(k, &req)
                .into_iter()
                .map(|u| u.param)
                .collect::<Vec<_>>()
        };
        assert_eq!(params(ProviderKind::Openai), vec!["n"]);
        assert_eq!(params(ProviderKind::OpenaiCompatible), vec!["n"]);
        assert_eq!(
            params(ProviderKind::Anthropic),
            vec!["n", "logit_bias", "seed", "top_k"]
        );
        assert_eq!(
            params(ProviderKind::Google),
            vec![
                "n",
                "logit_bias",
                "messages[0].content[0].image_url.url",
                "top_k"
            ]
        );
        let (dropped, which) = drop_unsupported(ProviderKind::Google, &req);
        assert_eq!(which.len(), 4);
        assert!(unsupported(ProviderKind::Google, &dropped).is_empty());
        assert_eq!(dropped.seed, Some(1));
    }

    #[test]
    fn data_urls_split() {
        assert_eq!(
            data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(data_url("https://x"), None);
    }
}
