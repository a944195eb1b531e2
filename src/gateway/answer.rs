//! What an answer brings besides text: tool calls assembled from streamed fragments, and the
//! run's `detail` (tool calls, refusal, log probabilities, and flags for tool-call arguments
//! that are not JSON and for parameters the connection dropped).

use crate::llm::chat::{FunctionCall, ToolCall, ToolCallDelta, ToolKind};

/// Adds a streamed fragment to an answer's tool calls.
pub(super) fn add_tool_call(calls: &mut Vec<ToolCall>, d: &ToolCallDelta) {
    let i = usize::try_from(d.index)
        .unwrap_or(usize::MAX)
        .min(MAX_TOOL_CALLS);
    while calls.len() <= i {
        calls.push(ToolCall {
            id: String::new(),
            kind: ToolKind::Function,
            function: FunctionCall {
                name: String::new(),
                arguments: String::new(),
            },
        });
    }
    let call = &mut calls[i];
    if let Some(id) = &d.id {
        call.id.clone_from(id);
    }
    if let Some(name) = &d.name {
        call.function.name.push_str(name);
    }
    call.function.arguments.push_str(&d.arguments);
}

/// At most this many tool calls are kept from one answer (a larger index joins the last).
const MAX_TOOL_CALLS: usize = 128;

/// A run's `detail`: what came back besides text, and the flags; `None` when there is none.
pub(super) fn detail(
    calls: &[ToolCall],
    refusal: Option<&str>,
    logprobs: Option<&[serde_json::Value]>,
    dropped: &[String],
    schema_check: Option<&Result<(), String>>,
) -> Option<serde_json::Value> {
    let mut d = serde_json::Map::new();
    if !calls.is_empty() {
        d.insert("tool_calls".into(), serde_json::json!(calls));
        let invalid: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                !serde_json::from_str::<serde_json::Value>(&c.function.arguments)
                    .is_ok_and(|v| v.is_object())
            })
            .map(|(i, _)| i)
            .collect();
        if !invalid.is_empty() {
            d.insert("invalid_tool_arguments".into(), serde_json::json!(invalid));
        }
    }
    if let Some(r) = refusal {
        d.insert("refusal".into(), serde_json::json!(r));
    }
    if let Some(l) = logprobs {
        d.insert("logprobs".into(), serde_json::json!(l));
    }
    if !dropped.is_empty() {
        d.insert("dropped".into(), serde_json::json!(dropped));
    }
    if let Some(check) = schema_check {
        d.insert(
            "schema_check".into(),
            match check {
                Ok(()) => serde_json::json!({"valid": true}),
                Err(problem) => serde_json::json!({"valid": false, "problem": problem}),
            },
        );
    }
    (!d.is_empty()).then_some(serde_json::Value::Object(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_assemble_by_index_and_broken_json_is_flagged() {
        let mut calls = Vec::new();
        let d = |index, id: Option<&str>, name: Option<&str>, args: &str| ToolCallDelta {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: args.into(),
        };
        add_tool_call(&mut calls, &d(0, Some("a"), Some("f"), ""));
        add_tool_call(&mut calls, &d(1, Some("b"), Some("g"), "{\"x\""));
        add_tool_call(&mut calls, &d(0, None, None, "{\"q\": 1}"));
        add_tool_call(&mut calls, &d(1, None, None, ": 2"));
        assert_eq!(calls[0].function.arguments, "{\"q\": 1}");
        assert_eq!(calls[1].id, "b");
        let detail = detail(&calls, None, None, &[], None).unwrap();
        assert_eq!(detail["invalid_tool_arguments"], serde_json::json!([1]));
        assert_eq!(detail["tool_calls"][1]["function"]["name"], "g");
        assert!(super::detail(&[], None, None, &[], None).is_none());
    }
}
