//! Remote HTML reduced to what Mastodon keeps (its `MASTODON_STRICT` sanitiser): a few text
//! elements, links with safe schemes, and the microformat and Mastodon classes clients style.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let tags: HashSet<&str> = [
            "p",
            "br",
            "span",
            "a",
            "abbr",
            "del",
            "s",
            "pre",
            "blockquote",
            "code",
            "b",
            "strong",
            "u",
            "i",
            "em",
            "ul",
            "ol",
            "li",
            "ruby",
            "rt",
            "rp",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "sub",
            "sup",
        ]
        .into_iter()
        .collect();
        let mut attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
        attributes.insert("a", ["href", "class", "translate"].into_iter().collect());
        attributes.insert("span", ["class", "translate"].into_iter().collect());
        attributes.insert("ol", ["start", "reversed"].into_iter().collect());
        attributes.insert("li", ["value"].into_iter().collect());
        attributes.insert("abbr", ["title"].into_iter().collect());
        let schemes: HashSet<&str> =
            ["http", "https", "dat", "dweb", "ipfs", "ipns", "ssb", "gopher", "xmpp", "magnet", "gemini"]
                .into_iter()
                .collect();
        let mut b = ammonia::Builder::default();
        b.tags(tags)
            .tag_attributes(attributes)
            .generic_attributes(HashSet::new())
            .url_schemes(schemes)
            .link_rel(Some("nofollow noopener"))
            .attribute_filter(|element, attribute, value| {
                if attribute != "class" {
                    return Some(value.into());
                }
                // Only microformats and Mastodon's own classes survive.
                let kept: Vec<&str> = value
                    .split_whitespace()
                    .filter(|c| {
                        ["h-", "p-", "u-", "dt-", "e-"].iter().any(|p| c.starts_with(p))
                            || matches!(*c, "mention" | "hashtag" | "ellipsis" | "invisible")
                    })
                    .collect();
                let _ = element;
                if kept.is_empty() { None } else { Some(kept.join(" ").into()) }
            });
        b
    })
}

/// Sanitises remote HTML (a post's content, a bio, a profile field).
pub fn html(input: &str) -> String {
    cleaner().clean(input).to_string()
}

/// Plain text from remote text fields that must not carry markup (names, summaries).
pub fn plain(input: &str) -> String {
    let text = ammonia::Builder::empty().clean(input).to_string();
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_mastodon_keeps() {
        let input = r#"<p>Hi <span class="h-card"><a href="https://x.example/@a" class="u-url mention evil">@<span>a</span></a></span> <script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a></p>"#;
        let out = html(input);
        assert!(out.contains(r#"class="h-card""#), "{out}");
        assert!(out.contains(r#"class="u-url mention""#), "{out}");
        assert!(
            !out.contains("evil") && !out.contains("script") && !out.contains("img") && !out.contains("javascript"),
            "{out}"
        );
        assert!(out.contains(r#"rel="nofollow noopener""#), "{out}");
    }

    #[test]
    fn plain_text_drops_markup() {
        assert_eq!(plain("<b>Bold</b> name"), "Bold name");
        assert_eq!(plain("A & B <3"), "A & B <3");
    }
}
