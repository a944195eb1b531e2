//! Token estimates of a whole request and answer, before (budgets, limits) or without (a
//! provider that reports no usage) the provider's own count: message text, tool definitions,
//! tool calls and images all count.

use base64::Engine;

use crate::llm::chat::{
    ChatMessage, ChatRequest, ImageUrl, ToolCall, messages_text, tool_calls_text,
};
use crate::llm::tokens::count_for_model;

/// Tokens of an image whose size is not known (an http(s) URL): OpenAI's count for a
/// 1024 x 1024 image at high detail.
const UNKNOWN_IMAGE_TOKENS: u64 = 765;

/// The prompt tokens of `req` on its model.
pub fn request_tokens(req: &ChatRequest) -> u64 {
    let mut n = messages_tokens(&req.model, &req.messages);
    if !req.tools.is_empty() {
        let tools = serde_json::to_string(&req.tools).unwrap_or_default();
        n += count_for_model(&req.model, &tools) as u64;
    }
    if let Some(f) = req.response_format.as_ref().and_then(|f| f.schema()) {
        n += count_for_model(&req.model, &f.to_string()) as u64;
    }
    n
}

/// The tokens of a conversation: text, tool calls and images.
pub fn messages_tokens(model: &str, messages: &[ChatMessage]) -> u64 {
    let text = messages_text(messages);
    let images: u64 = messages
        .iter()
        .flat_map(|m| m.content.images())
        .map(image_tokens)
        .sum();
    count_for_model(model, &text) as u64 + images
}

/// The output tokens of an answer's text and tool calls.
pub fn output_tokens(model: &str, text: &str, calls: &[ToolCall]) -> u64 {
    let calls: Vec<String> = tool_calls_text(calls).collect();
    count_for_model(model, text) as u64 + count_for_model(model, &calls.join("\n")) as u64
}

/// OpenAI's image count: 85 at low detail; else the image scaled into 2048 x 2048, then its
/// short side to 768, and 170 per 512 px tile plus 85.
pub fn image_tokens(img: &ImageUrl) -> u64 {
    if img.detail.as_deref() == Some("low") {
        return 85;
    }
    let Some((w, h)) = data_url_dimensions(&img.url) else {
        return UNKNOWN_IMAGE_TOKENS;
    };
    let (mut w, mut h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let fit = (2048.0 / w.max(h)).min(1.0);
    w *= fit;
    h *= fit;
    let short = (768.0 / w.min(h)).min(1.0);
    w *= short;
    h *= short;
    let tiles = (w / 512.0).ceil() * (h / 512.0).ceil();
    170 * tiles as u64 + 85
}

/// The pixel size of a `data:` image, read from its header.
fn data_url_dimensions(url: &str) -> Option<(u32, u32)> {
    let (_, data) = url.strip_prefix("data:")?.split_once(";base64,")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_count_by_size_and_detail() {
        let low = ImageUrl {
            url: "https://x/y.png".into(),
            detail: Some("low".into()),
        };
        assert_eq!(image_tokens(&low), 85);
        let far = ImageUrl {
            url: "https://x/y.png".into(),
            detail: None,
        };
        assert_eq!(image_tokens(&far), UNKNOWN_IMAGE_TOKENS);
        // A 1 x 1 PNG: one tile.
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
        let tiny = ImageUrl {
            url: format!("data:image/png;base64,{png}"),
            detail: None,
        };
        assert_eq!(image_tokens(&tiny), 255);
    }
}
