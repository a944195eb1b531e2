//! User-written Markdown to HTML that is safe to embed: pulldown-cmark renders it (raw HTML in
//! the source is escaped as text, never passed through), then ammonia keeps only an allowlist
//! of elements and attributes, links get `rel="noopener noreferrer nofollow"`, and only http,
//! https and mailto URLs survive. The result can go into a page as pre-escaped markup.

use pulldown_cmark::{Event, Options, Parser, html};

/// The sanitised HTML of `source`.
pub fn render(source: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    // Raw HTML in the Markdown is shown as text, so `<script>` reads as what it is.
    let events = Parser::new_ext(source, options).map(|e| match e {
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_nothing_executable_survives() {
        assert_eq!(
            render("**bold** and `code`"),
            "<p><strong>bold</strong> and <code>code</code></p>\n"
        );
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "<svg onload=alert(1)>",
            "<iframe src=//evil>",
        ] {
            let out = render(attack);
            // Every real tag (escaped text has no `<`): an allowed element, no handler, no
            // script URL.
            for tag in out
                .split('<')
                .skip(1)
                .map(|t| t.split('>').next().unwrap_or_default())
            {
                let t = tag.to_lowercase();
                let name = t
                    .trim_start_matches('/')
                    .split(' ')
                    .next()
                    .unwrap_or_default();
                assert!(["p", "a", "img"].contains(&name), "{attack} -> {out}");
                assert!(
                    !t.contains(" on") && !t.contains("javascript:") && !t.contains("data:"),
                    "{attack} -> {out}"
                );
            }
        }
        assert!(
            render("[ok](https://example.org)").contains("rel=\"noopener noreferrer nofollow\"")
        );
    }
}
