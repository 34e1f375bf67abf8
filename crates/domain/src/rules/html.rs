//! Reading the HTML of a status as this server stores it: local posts as the formatter wrote
//! them, remote ones as the sanitizer serialised them. Both write lowercase tags and quote
//! every attribute, so a scan is enough here; a page from elsewhere is parsed in the
//! federation crate.

/// A link in a status: its address and how it is marked (mentions and hashtags are links too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HtmlLink {
    pub href: String,
    pub rel: String,
    pub class: String,
    /// Its text, without tags.
    pub text: String,
}

impl HtmlLink {
    /// A mention or a hashtag (Mastodon's microformats, or the text they show).
    pub fn is_mention_or_hashtag(&self) -> bool {
        let classes = || self.class.split_ascii_whitespace();
        self.rel.split_ascii_whitespace().any(|r| r == "tag")
            || classes().any(|c| matches!(c, "u-url" | "h-card" | "mention" | "hashtag"))
            || self.text.trim_start().starts_with(['#', '@'])
    }
}

/// The `<a>` elements with an `href`, in order.
pub fn links(html: &str) -> Vec<HtmlLink> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        let Some(end) = tag_end(&rest[start..]) else { break };
        let attributes = attributes(&rest[start + 3..start + end]);
        rest = &rest[start + end + 1..];
        let close = rest.find("</a>").unwrap_or(rest.len());
        let text = strip_tags(&rest[..close]);
        rest = &rest[close..];
        let get = |name: &str| attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let href = get("href");
        if !href.is_empty() {
            found.push(HtmlLink { href, rel: get("rel"), class: get("class"), text });
        }
    }
    found
}

/// Where the tag starting `s` ends (its `>`), outside quoted values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// `name="value"` pairs (names lowercased, values unescaped).
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let name_end = rest.find(|c: char| c == '=' || c.is_whitespace() || c == '/').unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, next) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).map_or(after.len(), |i| i + 1);
                    (&after[1..close], after.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let stop = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..stop], &after[stop..])
                }
            };
            rest = next;
            unescape(value)
        } else {
            rest = rest.strip_prefix('/').unwrap_or(rest);
            String::new()
        };
        if !name.is_empty() {
            out.push((name, value));
        }
        rest = rest.trim_start();
    }
    out
}

fn strip_tags(s: &str) -> String {
    let mut text = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        rest = rest[open..].find('>').map_or("", |close| &rest[open + close + 1..]);
    }
    text.push_str(rest);
    unescape(&text)
}

/// The character references a serialiser writes.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_with_their_marks() {
        let html = "<p><span class=\"h-card\"><a href=\"https://a.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> \
            see <a href=\"https://news.example/x?a=1&amp;b=2\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span>news.example/x</a> \
            <a href=\"https://h.example/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>rust</span></a></p>";
        let found = links(html);
        assert_eq!(found.len(), 3);
        assert!(found[0].is_mention_or_hashtag() && found[2].is_mention_or_hashtag());
        assert_eq!(found[1].href, "https://news.example/x?a=1&b=2");
        assert_eq!(found[1].text, "https://news.example/x");
        assert!(!found[1].is_mention_or_hashtag());
    }

    #[test]
    fn odd_markup_does_not_confuse_the_scan() {
        assert!(links("<p>a <abbr>b</abbr> <a name=x>no href</a> <a href='https://q.example/a>b'>q</a>").len() == 1);
        assert_eq!(links("<a href=\"https://x.example/\"").len(), 0);
        assert_eq!(links("<a href=https://u.example/ rel=tag>x</a>")[0].rel, "tag");
    }
}
