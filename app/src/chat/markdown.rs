//! The assistant's text as HTML. Models write Markdown, but what they write is untrusted: raw
//! HTML is shown as text, images become links (nothing loads on its own), and only web and
//! mail links stay clickable.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// Link schemes that cannot run script in the page.
fn safe_destination(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    match lower.find(':') {
        // No scheme: a relative link or a fragment.
        None => true,
        Some(colon) => {
            let scheme = &lower[..colon];
            // A colon after a path or query character is not a scheme.
            if scheme.contains(['/', '?', '#']) {
                return true;
            }
            matches!(scheme, "http" | "https" | "mailto")
        }
    }
}

fn link<'a>(dest_url: CowStr<'a>, title: CowStr<'a>) -> Tag<'a> {
    let dest_url = if safe_destination(&dest_url) {
        dest_url
    } else {
        CowStr::Borrowed("#")
    };
    Tag::Link {
        link_type: LinkType::Inline,
        dest_url,
        title,
        id: CowStr::Borrowed(""),
    }
}

/// Renders `markdown` (possibly cut mid-stream) to HTML that is safe to put into the page.
pub fn to_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        // Raw HTML is shown as the text it is.
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        Event::Start(Tag::Link {
            dest_url, title, ..
        }) => Event::Start(link(dest_url, title)),
        // An image would load from wherever the model points; its alt text becomes a link.
        Event::Start(Tag::Image {
            dest_url, title, ..
        }) => Event::Start(link(dest_url, title)),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_html_is_escaped_text() {
        let html = to_safe_html(r#"Look: <img src=x onerror="window.__pwned=1"> here"#);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror="), "{html}");
    }

    #[test]
    fn html_blocks_are_escaped_text() {
        let html = to_safe_html("<script>alert(1)</script>\n\n<div onclick=x>hi</div>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn code_blocks_stay_code_and_are_escaped() {
        let html = to_safe_html("```rust\nlet a = \"<b>\";\n```\n");
        assert!(
            html.starts_with("<pre><code class=\"language-rust\">"),
            "{html}"
        );
        assert!(html.contains("let a = \"&lt;b&gt;\";"), "{html}");
        let inline = to_safe_html("use `<br>` here");
        assert!(inline.contains("<code>&lt;br&gt;</code>"), "{inline}");
    }

    #[test]
    fn unfinished_code_block_while_streaming_is_code() {
        let html = to_safe_html("Here:\n```\nfn main() {");
        assert!(html.contains("<pre><code>fn main() {"), "{html}");
    }

    #[test]
    fn script_links_are_defused_and_web_links_kept() {
        let html = to_safe_html(
            "[a](javascript:alert(1)) [b](JavaScript:x) [c](https://example.org/x?a:b) [d](/local)",
        );
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org/x?a:b">c</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="/local">d</a>"#), "{html}");
    }

    #[test]
    fn images_become_links() {
        let html = to_safe_html("![a cat](https://example.org/cat.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org/cat.png">a cat</a>"#),
            "{html}"
        );
    }

    #[test]
    fn markdown_formatting_is_kept() {
        let html = to_safe_html("**bold** and *it*\n\n- one\n- two\n");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<em>it</em>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
    }
}
