//! How a recorded conversation shows on a page: each message with its role, text, images (as
//! thumbnails) and tool calls as cards; an answer's tool calls, refusal and settings.

use maud::{Markup, html};
use serde_json::Value;

use crate::llm::chat::{ChatMessage, ToolCall};

/// Tool calls as cards: the function's name and its arguments, pretty-printed when they are
/// JSON and flagged when they are not.
pub fn tool_calls(calls: &[ToolCall]) -> Markup {
    html! {
        @for c in calls {
            @let parsed = serde_json::from_str::<Value>(&c.function.arguments).ok().filter(Value::is_object);
            div.tool-call data-tool=(c.function.name) {
                div.tool-call-head {
                    span.badge { "tool call" } " " code { (c.function.name) }
                    @if !c.id.is_empty() { " " span.muted.small { (c.id) } }
                    @if parsed.is_none() { " " span.badge.badge-bad { "arguments are not JSON" } }
                }
                pre.prompt { @match &parsed { Some(v) => (serde_json::to_string_pretty(v).unwrap_or_default()), None => (c.function.arguments) } }
            }
        }
    }
}

/// The messages of a run's prompt.
pub fn messages(messages: &[ChatMessage]) -> Markup {
    html! {
        @for m in messages {
            div.chat-turn data-role=(m.role.as_str()) {
                h3 { (m.role.as_str()) @if let Some(id) = &m.tool_call_id { " " span.muted.small { "result of " (id) } } }
                @let text = m.content.text();
                @if !text.is_empty() { pre.prompt { (text) } }
                @let images: Vec<_> = m.content.images().collect();
                @if !images.is_empty() {
                    div.thumbs {
                        @for img in images {
                            @if img.url.starts_with("data:image/") {
                                img.thumb src=(img.url) alt="attached image" loading="lazy";
                            } @else {
                                a href=(img.url) rel="noreferrer noopener" target="_blank" { "image: " (img.url) }
                            }
                        }
                    }
                }
                (tool_calls(&m.tool_calls))
            }
        }
    }
}

/// The tool calls recorded in a run's `detail`.
pub fn detail_tool_calls(detail: Option<&Value>) -> Vec<ToolCall> {
    detail
        .and_then(|d| d.get("tool_calls"))
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default()
}
