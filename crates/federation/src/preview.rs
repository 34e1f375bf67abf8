//! Link previews: what a web page says of itself, read from its HTML (OpenGraph and the
//! `<title>`, as Mastodon's `LinkDetailsExtractor`) or from the oEmbed document it points to
//! (as `FetchOEmbedService`). Only texts and addresses are taken; the one piece of markup a
//! card carries, a player's `<iframe>`, is written here from the player's address.

use std::cell::{Cell, RefCell};

use ferrodon_domain::model::{CardKind, LinkPreview};
use ferrodon_domain::rules::text::escape_html;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, StartTag, Tag, TagToken, Token, TokenSink, TokenSinkResult, Tokenizer,
};
use serde_json::Value;

/// The longest text a card keeps (title, description, names), in characters.
const TEXT_LIMIT: usize = 1000;

/// What the head of a page says: its `<title>`, `<meta>` values by property or name, its
/// `<link>`s, and its language.
#[derive(Debug, Default)]
pub struct Page {
    title: Option<String>,
    /// `(property or name, content)` in document order; a property of several words counts
    /// under each.
    metas: Vec<(String, String)>,
    /// `(rel, type, href)`.
    links: Vec<(String, String, String)>,
    lang: Option<String>,
    /// The encoding a `<meta>` declares.
    charset: Option<String>,
}

impl Page {
    /// Reads a page's bytes, decoded by `header_charset` (the response's), else by the charset
    /// its `<meta>` declares, else as UTF-8.
    pub fn read(body: &[u8], header_charset: Option<&str>) -> Page {
        let declared = |label: &str| encoding_rs::Encoding::for_label(label.trim().as_bytes());
        if let Some(encoding) = header_charset.and_then(declared) {
            return Page::tokenize(&encoding.decode(body).0);
        }
        let page = Page::tokenize(&String::from_utf8_lossy(body));
        match page.charset.as_deref().and_then(declared) {
            Some(encoding) if encoding != encoding_rs::UTF_8 => Page::tokenize(&encoding.decode(body).0),
            _ => page,
        }
    }

    fn tokenize(html: &str) -> Page {
        read(html).page.take()
    }

    /// The first non-empty content of `<meta property=key>` or `<meta name=key>`.
    fn meta(&self, key: &str) -> Option<&str> {
        self.metas.iter().find(|(k, v)| k == key && !v.trim().is_empty()).map(|(_, v)| v.trim())
    }

    /// The `href` of the first `<link>` whose `rel` has `rel` (and whose type is `kind`, when
    /// given).
    fn link(&self, rel: &str, kind: Option<&str>) -> Option<&str> {
        self.links
            .iter()
            .find(|(r, t, _)| {
                r.split_ascii_whitespace().any(|w| w.eq_ignore_ascii_case(rel))
                    && kind.is_none_or(|k| t.trim().eq_ignore_ascii_case(k))
            })
            .map(|(_, _, h)| h.as_str())
    }

    /// The address of the page's oEmbed document (JSON), resolved against `page_url`.
    pub fn oembed_endpoint(&self, page_url: &str) -> Option<String> {
        absolute(page_url, self.link("alternate", Some("application/json+oembed"))?, false)
    }

    /// The page's description from its OpenGraph tags (and `<title>`), as a card of `link` (the
    /// address linked) read from `url` (where it was found, after redirects; relative addresses
    /// are relative to it). `None` when it has neither a title nor a player.
    pub fn opengraph(&self, link: &str, url: &str) -> Option<LinkPreview> {
        let mut p = LinkPreview::of(link);
        // The canonical address, on the same host only (a page may not speak for another).
        if let Some(canonical) = self.link("canonical", None).or_else(|| self.meta("og:url"))
            && let Some(canonical) = absolute(url, canonical, true)
            && canonical.len() <= ferrodon_domain::model::PreviewCard::URL_LIMIT
        {
            p.url = canonical;
        }
        if let Some(player) = self.meta("twitter:player").and_then(|u| absolute(url, u, false)) {
            p.kind = CardKind::Video;
            p.width = dimension(self.meta("twitter:player:width"));
            p.height = dimension(self.meta("twitter:player:height"));
            p.html = iframe(&player, p.width, p.height);
        }
        p.title = text(self.meta("og:title").or(self.title.as_deref()));
        p.description = text(self.meta("og:description").or_else(|| self.meta("description")));
        p.image_url = ["og:image", "og:image:url", "og:image:secure_url", "twitter:image"]
            .iter()
            .find_map(|k| self.meta(k))
            .and_then(|u| absolute(url, u, false));
        p.image_description = text(self.meta("og:image:alt"));
        p.provider_name = text(self.meta("og:site_name"));
        // A name, not the address of a profile (`article:author` often is one).
        let is_address = |a: &str| a.starts_with("http://") || a.starts_with("https://");
        p.author_name = text(
            ["og:author", "article:author", "author"].iter().filter_map(|k| self.meta(k)).find(|a| !is_address(a)),
        );
        p.language = self.meta("og:locale").or(self.lang.as_deref()).and_then(language);
        p.published_at = self.meta("article:published_time").and_then(ferrodon_kernel::time::parse_rfc3339);
        (!p.title.is_empty() || !p.html.is_empty()).then_some(p)
    }
}

/// A card of `url` from its oEmbed document (fetched from `endpoint`). `None` for a document
/// that is not oEmbed 1.0, a `rich` or `video` one without an `<iframe>` to show, or a
/// `photo` without its picture.
pub fn oembed(doc: &Value, url: &str, endpoint: &str) -> Option<LinkPreview> {
    let field = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default();
    let number = |k: &str| match doc.get(k) {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).unwrap_or(0),
        Some(Value::String(s)) => dimension(Some(s)),
        _ => 0,
    };
    let version_ok = match doc.get("version") {
        Some(Value::String(v)) => v.trim() == "1.0",
        Some(Value::Number(n)) => n.as_f64() == Some(1.0),
        _ => false,
    };
    if !version_ok {
        return None;
    }
    let mut p = LinkPreview::of(url);
    p.title = text(Some(field("title")));
    p.author_name = text(Some(field("author_name")));
    p.author_url = absolute(endpoint, field("author_url"), false).unwrap_or_default();
    p.provider_name = text(Some(field("provider_name")));
    p.provider_url = absolute(endpoint, field("provider_url"), false).unwrap_or_default();
    let thumbnail = absolute(endpoint, field("thumbnail_url"), false);
    match field("type") {
        "link" => p.image_url = thumbnail,
        "photo" => {
            let picture = absolute(endpoint, field("url"), false)?;
            p.kind = CardKind::Photo;
            (p.width, p.height) = (number("width"), number("height"));
            p.embed_url = picture.clone();
            p.image_url = Some(picture);
        }
        // A `rich` embed is a script more often than not: the page's OpenGraph tags serve.
        "video" => {
            let player = iframe_src(field("html")).and_then(|src| absolute(endpoint, &src, false))?;
            p.kind = CardKind::Video;
            (p.width, p.height) = (number("width"), number("height"));
            p.html = iframe(&player, p.width, p.height);
            p.image_url = thumbnail;
        }
        _ => return None,
    }
    Some(p)
}

/// The `src` of the first `<iframe>` in `html`.
fn iframe_src(html: &str) -> Option<String> {
    read(html).iframe.take()
}

/// `html` read through the tokenizer: what it collected.
fn read(html: &str) -> Reader {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(Reader::default(), Default::default());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink
}

/// A player: an `<iframe>` of `src` and nothing else.
fn iframe(src: &str, width: i64, height: i64) -> String {
    format!(
        "<iframe src=\"{}\" width=\"{width}\" height=\"{height}\" allowfullscreen=\"true\" frameborder=\"0\" \
         scrolling=\"no\"></iframe>",
        escape_html(src)
    )
}

/// `reference` resolved against `base`, if it is an http(s) address with a host (on the same
/// host as `base` when `same_host`).
fn absolute(base: &str, reference: &str, same_host: bool) -> Option<String> {
    let reference = reference.trim();
    if reference.is_empty() || reference == "null" {
        return None;
    }
    let base = url::Url::parse(base).ok()?;
    let u = base.join(reference).ok()?;
    let ok = matches!(u.scheme(), "http" | "https")
        && u.host_str().is_some_and(|h| !h.is_empty())
        && (!same_host || u.host_str() == base.host_str());
    ok.then(|| u.to_string())
}

/// A text as a card keeps it: whitespace runs made one space, at most [`TEXT_LIMIT`] characters.
fn text(s: Option<&str>) -> String {
    let words: Vec<&str> = s.unwrap_or_default().split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(TEXT_LIMIT) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

fn dimension(s: Option<&str>) -> i64 {
    s.and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0).map_or(0, |v| v as i64)
}

/// The language of a locale (`en_US`, `pt-BR`, `de`): its first part, when it is one.
fn language(locale: &str) -> Option<String> {
    let first = locale.trim().split(['_', '-']).next()?.to_ascii_lowercase();
    (matches!(first.len(), 2 | 3) && first.bytes().all(|b| b.is_ascii_lowercase())).then_some(first)
}

/// Collects what a [`Page`] keeps while the tokenizer reads (scripts and styles read as the
/// raw text they are, so nothing inside them counts).
#[derive(Default)]
struct Reader {
    page: RefCell<Page>,
    in_title: Cell<bool>,
    iframe: RefCell<Option<String>>,
}

fn attribute(tag: &Tag, name: &str) -> Option<String> {
    tag.attrs.iter().find(|a| &*a.name.local == name).map(|a| a.value.to_string())
}

impl TokenSink for Reader {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            TagToken(tag) if tag.kind == StartTag => {
                let mut page = self.page.borrow_mut();
                match &*tag.name {
                    "title" if page.title.is_none() => {
                        page.title = Some(String::new());
                        self.in_title.set(true);
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                    "title" | "textarea" => return TokenSinkResult::RawData(RawKind::Rcdata),
                    "script" => return TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                        if &*tag.name == "iframe" && self.iframe.borrow().is_none() {
                            *self.iframe.borrow_mut() = attribute(&tag, "src");
                        }
                        return TokenSinkResult::RawData(RawKind::Rawtext);
                    }
                    "html" => page.lang = attribute(&tag, "lang"),
                    "meta" => {
                        let content = attribute(&tag, "content").unwrap_or_default();
                        if let Some(charset) = attribute(&tag, "charset") {
                            page.charset.get_or_insert(charset);
                        }
                        if attribute(&tag, "http-equiv").is_some_and(|h| h.eq_ignore_ascii_case("content-type"))
                            && let Some((_, charset)) = content.to_ascii_lowercase().split_once("charset=")
                        {
                            page.charset.get_or_insert(charset.trim_matches(['"', '\'', ' ', ';']).to_string());
                        }
                        for key in attribute(&tag, "property").iter().flat_map(|p| p.split_ascii_whitespace()) {
                            page.metas.push((key.to_ascii_lowercase(), content.clone()));
                        }
                        if let Some(name) = attribute(&tag, "name") {
                            page.metas.push((name.trim().to_ascii_lowercase(), content));
                        }
                    }
                    "link" => {
                        let rel = attribute(&tag, "rel").unwrap_or_default();
                        let kind = attribute(&tag, "type").unwrap_or_default();
                        if let Some(href) = attribute(&tag, "href") {
                            page.links.push((rel, kind, href));
                        }
                    }
                    _ => {}
                }
            }
            TagToken(tag) if tag.kind == EndTag && &*tag.name == "title" => self.in_title.set(false),
            CharacterTokens(t) if self.in_title.get() => {
                if let Some(title) = self.page.borrow_mut().title.as_mut() {
                    title.push_str(&t);
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = r#"<!doctype html><html lang="en-GB"><head>
        <meta charset="utf-8">
        <title>Fallback
          title</title>
        <script>var s = '<meta property="og:title" content="not this">';</script>
        <meta property="og:title" content="Rust &amp; the fediverse">
        <meta name="description" content="A page about servers.">
        <meta property="og:image" content="/img/cover.jpg">
        <meta property="og:image:alt" content="A crab">
        <meta property="og:site_name" content="The Paper">
        <meta property="og:url" content="https://news.example/articles/42">
        <meta property="article:published_time" content="2026-11-30T08:00:00Z">
        <meta name="author" content="Jo Writer">
        <link rel="alternate" type="application/json+oembed" href="/oembed?url=42">
        </head><body><p>text</p></body></html>"#;

    #[test]
    fn opengraph_is_read_as_mastodon_reads_it() {
        let page = Page::read(ARTICLE.as_bytes(), None);
        let p = page.opengraph("https://short.example/x", "https://news.example/a/42?utm=x").expect("a card");
        assert_eq!(p.kind, CardKind::Link);
        assert_eq!(p.url, "https://news.example/articles/42");
        assert_eq!(p.title, "Rust & the fediverse");
        assert_eq!(p.description, "A page about servers.");
        assert_eq!(p.image_url.as_deref(), Some("https://news.example/img/cover.jpg"));
        assert_eq!(p.image_description, "A crab");
        assert_eq!(p.provider_name, "The Paper");
        assert_eq!(p.author_name, "Jo Writer");
        assert_eq!(p.language.as_deref(), Some("en"));
        assert!(p.published_at.is_some());
        assert_eq!(
            page.oembed_endpoint("https://news.example/a/42").as_deref(),
            Some("https://news.example/oembed?url=42")
        );
    }

    #[test]
    fn the_title_tag_stands_in_and_other_hosts_are_not_canonical() {
        let html = r#"<html><head><title> Just a
            title </title><meta property="og:url" content="https://elsewhere.example/x"></head></html>"#;
        let p =
            Page::read(html.as_bytes(), None).opengraph("https://site.example/x", "https://site.example/x").unwrap();
        assert_eq!(p.title, "Just a title");
        assert_eq!(p.url, "https://site.example/x");
        assert!(
            Page::read(b"<html><body>no title</body></html>", None)
                .opengraph("https://a.example/", "https://a.example/")
                .is_none()
        );
    }

    #[test]
    fn a_player_becomes_an_iframe_of_its_address_only() {
        let html = r#"<meta property="og:title" content="Clip">
            <meta name="twitter:player" content="https://video.example/embed/1?a=1&amp;b=&quot;2">
            <meta name="twitter:player:width" content="640"><meta name="twitter:player:height" content="360">"#;
        let p =
            Page::read(html.as_bytes(), None).opengraph("https://video.example/1", "https://video.example/1").unwrap();
        assert_eq!(p.kind, CardKind::Video);
        assert_eq!((p.width, p.height), (640, 360));
        assert!(p.html.starts_with("<iframe src=\"https://video.example/embed/1?a=1&amp;b=%222\""), "{}", p.html);
        let javascript =
            r#"<meta property="og:title" content="x"><meta name="twitter:player" content="javascript:alert(1)">"#;
        let p = Page::read(javascript.as_bytes(), None).opengraph("https://a.example/", "https://a.example/").unwrap();
        assert_eq!((p.kind, p.html.as_str()), (CardKind::Link, ""));
    }

    #[test]
    fn a_declared_charset_is_honoured() {
        // "Café" in ISO-8859-1.
        let mut body = b"<meta charset=\"iso-8859-1\"><title>Caf".to_vec();
        body.extend([0xE9, b'<', b'/', b't', b'i', b't', b'l', b'e', b'>']);
        assert_eq!(
            Page::read(&body, None).opengraph("https://a.example/", "https://a.example/").unwrap().title,
            "Café"
        );
        let undeclared = [b"<title>Caf".as_slice(), &[0xE9], b"</title>"].concat();
        let p = Page::read(&undeclared, Some("latin1")).opengraph("https://a.example/", "https://a.example/").unwrap();
        assert_eq!(p.title, "Café");
    }

    #[test]
    fn oembed_documents_by_type() {
        let endpoint = "https://video.example/oembed?url=1";
        let video = serde_json::json!({
            "version": "1.0", "type": "video", "title": "A film", "author_name": "Maker",
            "author_url": "/maker", "provider_name": "Video", "width": 480, "height": "270",
            "thumbnail_url": "https://video.example/t.jpg",
            "html": "<iframe src=\"https://video.example/embed/1\" onload=\"evil()\"></iframe><script>x</script>"
        });
        let p = oembed(&video, "https://video.example/1", endpoint).unwrap();
        assert_eq!(p.kind, CardKind::Video);
        assert_eq!(p.author_url, "https://video.example/maker");
        assert_eq!((p.width, p.height), (480, 270));
        assert!(!p.html.contains("evil") && !p.html.contains("script"), "{}", p.html);
        assert_eq!(p.image_url.as_deref(), Some("https://video.example/t.jpg"));
        let photo = serde_json::json!({"version": 1.0, "type": "photo", "url": "/p.jpg", "width": 10, "height": 5});
        let p = oembed(&photo, "https://video.example/1", endpoint).unwrap();
        assert_eq!((p.kind, p.embed_url.as_str()), (CardKind::Photo, "https://video.example/p.jpg"));
        let rich = serde_json::json!({"version": "1.0", "type": "rich", "html": "<iframe src=\"https://v.example/\"></iframe>"});
        assert!(oembed(&rich, "https://video.example/1", endpoint).is_none());
        assert!(oembed(&serde_json::json!({"type": "link"}), "https://video.example/1", endpoint).is_none());
    }
}
