//! Plain-text status rules: entity extraction (URLs, mentions, hashtags), the
//! status length count, and the plain text -> HTML formatter for local statuses
//! and account bios.
//!
//! Behaviour follows Mastodon: `TextFormatter`, `Extractor` (twitter-text with
//! Mastodon's regex overrides), `Account::MENTION_RE`, `Tag::HASHTAG_RE`,
//! `StatusLengthValidator`, `ProcessMentionsService` and
//! `ProcessHashtagsService`. The matchers are written by hand where the
//! original patterns need look-around or backtracking that the `regex` crate
//! does not offer, and each one emulates Ruby's `String#scan` over the
//! original pattern (including which characters a match consumes).
//!
//! All positions in this module are byte offsets into the input; every one of
//! them falls on a character boundary.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// A mention found in the text: `username` and optional `domain` as written (without '@').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionRef {
    pub username: String,
    pub domain: Option<String>,
}

/// What the formatter knows about a mentioned account; None = unknown account, left as plain text.
#[derive(Debug, Clone)]
pub struct ResolvedMention {
    pub url: String,
    pub username: String,
}

/// Everything `format_status` needs from the caller.
pub struct FormatContext<'a> {
    /// e.g. "example.com" or "localhost:3000". Not read here: mentions reach
    /// `resolve_mention` with their domain as written, and the resolver treats
    /// this domain like no domain.
    pub local_domain: &'a str,
    /// e.g. "https://example.com" (no trailing slash)
    pub base_url: &'a str,
    /// Called once per mention the formatter would link, with the domain exactly
    /// as written (so `@user@local_domain` arrives with `Some(local_domain)`).
    pub resolve_mention: &'a dyn Fn(&MentionRef) -> Option<ResolvedMention>,
}

/// Every URL counts as this many characters towards the status length.
const URL_PLACEHOLDER_LEN: usize = 23;
/// Visible characters of a link before the rest is hidden behind an ellipsis.
const DISPLAY_URL_LEN: usize = 30;
/// Mentions whose domain is longer than this are not linked; no URL domain is longer.
const MAX_DOMAIN_LENGTH: usize = 253;
/// No URL domain label is longer.
const MAX_LABEL_LENGTH: usize = 63;
/// twitter-text refuses URLs longer than this.
const MAX_URL_LENGTH: usize = 4096;
/// twitter-text refuses t.co links with a longer slug.
const MAX_TCO_SLUG_LENGTH: usize = 40;
/// `rel` of every link to a URL.
const LINK_REL: &str = "nofollow noopener";

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// Mentions in order of appearance, de-duplicated (case-insensitive on username+domain).
///
/// Uses Mastodon's `Account::MENTION_RE` the way `ProcessMentionsService` does
/// (every match counts), so it may return a mention the formatter leaves
/// unlinked, e.g. `@alice` in `@alice@x`.
pub fn extract_mentions(text: &str) -> Vec<MentionRef> {
    let mut seen: Vec<(String, Option<String>)> = Vec::new();
    let mut out = Vec::new();
    for m in scan_mention_re(text) {
        let key = (m.username.to_lowercase(), m.domain.map(str::to_lowercase));
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push(MentionRef { username: m.username.to_string(), domain: m.domain.map(str::to_string) });
    }
    out
}

/// Hashtag names in order of appearance, de-duplicated case-insensitively, as written (no '#').
///
/// Like Mastodon's `ProcessHashtagsService`, this does not drop hashtags that
/// sit inside a URL (the formatter does not link those).
pub fn extract_hashtags(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for entity in hashtag_entities(text) {
        if let EntityKind::Hashtag(name) = entity.kind {
            let key = name.to_lowercase();
            if !seen.contains(&key) {
                seen.push(key);
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Status length as Mastodon counts it: every URL counts as 23 characters, a remote mention
/// `@user@domain` counts only as `@user`, and everything is counted in extended grapheme
/// clusters (Mastodon's `StatusLengthValidator` uses `each_grapheme_cluster.size`).
///
/// Text that is empty or only whitespace counts 0. Mastodon adds the length of
/// the content warning to this; use [`grapheme_count`] for that part.
pub fn status_length(text: &str) -> usize {
    if is_blank(text) {
        return 0;
    }
    let mut entities = url_entities(text);
    entities.extend(linkable_mention_entities(text));
    let entities = remove_overlapping(entities);

    let mut countable = String::with_capacity(text.len());
    let mut last = 0;
    for entity in entities {
        countable.push_str(&text[last..entity.start]);
        match entity.kind {
            EntityKind::Url(_) => {
                countable.extend(std::iter::repeat_n('x', URL_PLACEHOLDER_LEN));
            }
            EntityKind::Mention { username, .. } => {
                countable.push('@');
                countable.push_str(username);
            }
            EntityKind::Hashtag(_) => countable.push_str(&text[entity.start..entity.end]),
        }
        last = entity.end;
    }
    countable.push_str(&text[last..]);
    grapheme_count(&countable)
}

/// Plain text -> sanitized HTML, as Mastodon renders a local status.
pub fn format_status(text: &str, ctx: &FormatContext) -> String {
    format_plain_text(text, ctx)
}

/// Plain text -> HTML for an account bio (`note`): same linkification of URLs, mentions and hashtags.
///
/// Mastodon renders local bios with the same `TextFormatter` and default options
/// as statuses, so this is the same transformation as [`format_status`].
pub fn format_note(text: &str, ctx: &FormatContext) -> String {
    format_plain_text(text, ctx)
}

/// Escapes &, <, >, ", ' for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Number of extended grapheme clusters (Unicode UAX #29, without the Indic
/// conjunct rule GB9c), as Ruby's `String#each_grapheme_cluster` counts them.
/// Mastodon counts the content warning this way.
pub fn grapheme_count(s: &str) -> usize {
    let mut count = 0;
    let mut prev: Option<Gcb> = None;
    // Regional indicators immediately before the current character.
    let mut ri_run = 0usize;
    // The previous character ends an `Extended_Pictographic Extend*` run.
    let mut pict_run = false;
    // The previous character is a ZWJ that follows such a run.
    let mut zwj_after_pict = false;
    for c in s.chars() {
        let (class, pict) = grapheme_props(c);
        let boundary = match prev {
            None => true,
            Some(p) => is_grapheme_boundary(p, class, pict, ri_run, zwj_after_pict),
        };
        if boundary {
            count += 1;
        }
        zwj_after_pict = class == Gcb::Zwj && pict_run;
        pict_run = pict || (class == Gcb::Extend && pict_run);
        ri_run = if class == Gcb::RegionalIndicator { ri_run + 1 } else { 0 };
        prev = Some(class);
    }
    count
}

/// True when `s` is one Unicode emoji: a single grapheme cluster that starts with a pictographic
/// character, a flag (two regional indicators) or a keycap (`1️⃣`). Mastodon accepts these as
/// announcement reactions (its `ReactionValidator`; custom emoji aside).
pub fn is_single_emoji(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if grapheme_count(s) != 1 {
        return false;
    }
    let (class, pictographic) = grapheme_props(first);
    if class == Gcb::RegionalIndicator {
        return s.chars().count() == 2;
    }
    pictographic || (matches!(first, '0'..='9' | '#' | '*') && s.ends_with('\u{20E3}'))
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

fn format_plain_text(text: &str, ctx: &FormatContext) -> String {
    if is_blank(text) {
        return String::new();
    }
    let base_url = ctx.base_url.trim_end_matches('/');
    let mut html = String::with_capacity(text.len() * 2);
    let mut last = 0;
    for entity in formatter_entities(text) {
        html.push_str(&escape_html(&text[last..entity.start]));
        match entity.kind {
            EntityKind::Url(url) => html.push_str(&link_to_url(url)),
            EntityKind::Hashtag(name) => html.push_str(&link_to_hashtag(name, base_url)),
            EntityKind::Mention { screen_name, username, domain } => {
                html.push_str(&link_to_mention(screen_name, username, domain, ctx))
            }
        }
        last = entity.end;
    }
    html.push_str(&escape_html(&text[last..]));
    simple_format(&html)
}

/// Rails' `simple_format(html, {}, sanitize: false).delete("\n")`: paragraphs on
/// blank lines, `<br />` for single line breaks.
fn simple_format(html: &str) -> String {
    let normalized = html.replace("\r\n", "\n").replace('\r', "\n");

    // `split(/\n\n+/)`, which keeps a leading empty field and drops trailing ones.
    let mut paragraphs = Vec::new();
    let mut rest = normalized.as_str();
    while let Some(i) = rest.find("\n\n") {
        paragraphs.push(&rest[..i]);
        rest = rest[i..].trim_start_matches('\n');
    }
    paragraphs.push(rest);
    while paragraphs.last().is_some_and(|p| p.is_empty()) {
        paragraphs.pop();
    }
    if paragraphs.is_empty() {
        return "<p></p>".to_string();
    }

    let mut out = String::with_capacity(normalized.len() + paragraphs.len() * 7);
    for paragraph in paragraphs {
        out.push_str("<p>");
        // A paragraph holds no "\n\n", so a newline gets a <br /> unless it is
        // the paragraph's first or last character; every newline is dropped.
        for (i, c) in paragraph.char_indices() {
            if c == '\n' {
                if i > 0 && i + 1 < paragraph.len() {
                    out.push_str("<br />");
                }
            } else {
                out.push(c);
            }
        }
        out.push_str("</p>");
    }
    out
}

fn link_to_url(url: &str) -> String {
    let prefix_len = url_display_prefix_len(url);
    let (prefix, rest) = url.split_at(prefix_len);
    let rest_chars = rest.chars().count();
    let split = rest.char_indices().nth(DISPLAY_URL_LEN).map_or(rest.len(), |(i, _)| i);
    let mut display = &rest[..split];
    // Ruby: `url[prefix.length + 30..]` is nil when shorter than 30 characters.
    let mut suffix = (rest_chars >= DISPLAY_URL_LEN).then_some(&rest[split..]);
    let mut cutoff = rest_chars > DISPLAY_URL_LEN;
    if suffix.is_some_and(|s| s.chars().count() == 1) {
        // Hiding a single character behind an ellipsis saves nothing.
        display = rest;
        suffix = None;
        cutoff = false;
    }
    format!(
        "<a href=\"{href}\" target=\"_blank\" rel=\"{LINK_REL}\" translate=\"no\">\
         <span class=\"invisible\">{prefix}</span>\
         <span class=\"{class}\">{display}</span>\
         <span class=\"invisible\">{suffix}</span></a>",
        href = escape_html(url),
        prefix = escape_html(prefix),
        class = if cutoff { "ellipsis" } else { "" },
        display = escape_html(display),
        suffix = escape_html(suffix.unwrap_or("")),
    )
}

/// Length of Mastodon's `URL_PREFIX_REGEX` (`\A(https?://(www\.)?|xmpp:)`, case-sensitive) match.
fn url_display_prefix_len(url: &str) -> usize {
    for scheme in ["https://", "http://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            return if rest.starts_with("www.") { scheme.len() + 4 } else { scheme.len() };
        }
    }
    if url.starts_with("xmpp:") { 5 } else { 0 }
}

fn link_to_hashtag(name: &str, base_url: &str) -> String {
    let url = format!("{base_url}/tags/{}", escape_path_segment(name));
    format!(
        "<a href=\"{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
        escape_html(&url),
        escape_html(name)
    )
}

fn link_to_mention(screen_name: &str, username: &str, domain: Option<&str>, ctx: &FormatContext) -> String {
    let mention = MentionRef { username: username.to_string(), domain: domain.map(str::to_string) };
    match (ctx.resolve_mention)(&mention) {
        Some(account) => format!(
            "<span class=\"h-card\" translate=\"no\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
            escape_html(&account.url),
            escape_html(&account.username)
        ),
        None => format!("@{}", escape_html(screen_name)),
    }
}

/// Percent-encodes a URL path segment the way Rails' route helpers do
/// (`Journey::Router::Utils.escape_segment`): unreserved characters,
/// sub-delimiters, ':' and '@' stay, everything else becomes `%XX` per UTF-8 byte.
fn escape_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum EntityKind<'t> {
    Url(&'t str),
    Hashtag(&'t str),
    Mention {
        /// `user` or `user@domain`, as written.
        screen_name: &'t str,
        username: &'t str,
        domain: Option<&'t str>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entity<'t> {
    start: usize,
    end: usize,
    kind: EntityKind<'t>,
}

/// Mastodon's `Extractor.extract_entities_with_indices(text, extract_url_without_protocol: false)`.
fn formatter_entities(text: &str) -> Vec<Entity<'_>> {
    let mut entities = url_entities(text);
    entities.extend(hashtag_entities(text));
    entities.extend(linkable_mention_entities(text));
    entities.extend(extended_uri_entities(text));
    remove_overlapping(entities)
}

/// Sorts by start and drops every entity that begins before the previous kept one ends.
fn remove_overlapping(mut entities: Vec<Entity<'_>>) -> Vec<Entity<'_>> {
    entities.sort_by_key(|e| e.start);
    let mut kept: Vec<Entity<'_>> = Vec::with_capacity(entities.len());
    for entity in entities {
        if kept.last().is_none_or(|prev| prev.end <= entity.start) {
            kept.push(entity);
        }
    }
    kept
}

// --- URLs -------------------------------------------------------------------

/// twitter-text's `extract_urls_with_indices(text, extract_url_without_protocol: false)`
/// over Mastodon's `valid_url` pattern: only URLs written with a scheme count,
/// but scheme-less matches still consume text.
fn url_entities(text: &str) -> Vec<Entity<'_>> {
    if !text.contains(':') {
        return Vec::new();
    }
    scan_after_url_preceding(text, |j| valid_url_at(text, j))
        .into_iter()
        .filter_map(|(start, end, UrlParts { has_protocol, domain })| {
            if !has_protocol {
                return None;
            }
            let mut url = &text[start..end];
            if let Some(caps) = TCO_RE.captures(url) {
                if caps[1].chars().count() > MAX_TCO_SLUG_LENGTH {
                    return None;
                }
                url = caps.get(0).map_or(url, |m| m.as_str());
            }
            if url.chars().count() > MAX_URL_LENGTH || !is_encodable_domain(domain) {
                return None;
            }
            Some(Entity { start, end: start + url.len(), kind: EntityKind::Url(url) })
        })
        .collect()
}

/// Mastodon's `valid_extended_uri`: `xmpp:` and `magnet:` URIs.
fn extended_uri_entities(text: &str) -> Vec<Entity<'_>> {
    if !text.contains(':') {
        return Vec::new();
    }
    scan_after_url_preceding(text, |j| extended_uri_at(text, j).map(|end| (end, ())))
        .into_iter()
        .map(|(start, end, ())| Entity { start, end, kind: EntityKind::Url(&text[start..end]) })
        .collect()
}

/// Emulates `text.scan(/(PRECEDING)(BODY)/)` where PRECEDING is twitter-text's
/// `valid_url_preceding_chars`: either one consumed character that is not
/// `[A-Za-z0-9@＠$#＃]` (nor U+FFFE/U+FEFF/U+FFFF), or `^` (start of a line).
/// `body(j)` matches BODY at `j` and returns its end. Returns (start, end, data)
/// of every BODY match.
fn scan_after_url_preceding<T>(
    text: &str,
    mut body: impl FnMut(usize) -> Option<(usize, T)>,
) -> Vec<(usize, usize, T)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(c) = char_at(text, pos) {
        let mut found = None;
        if is_url_preceding(c) {
            let j = pos + c.len_utf8();
            found = body(j).map(|(end, data)| (j, end, data));
        }
        if found.is_none() && at_line_start(text, pos) {
            found = body(pos).map(|(end, data)| (pos, end, data));
        }
        match found {
            Some((start, end, data)) => {
                out.push((start, end, data));
                pos = end;
            }
            None => pos += c.len_utf8(),
        }
    }
    out
}

struct UrlParts<'t> {
    has_protocol: bool,
    domain: &'t str,
}

/// The URL part of Mastodon's `valid_url` at `j`: optional scheme, domain,
/// optional port, path and query. Returns its end.
fn valid_url_at(text: &str, j: usize) -> Option<(usize, UrlParts<'_>)> {
    let rest = text.get(j..)?;
    if let Some(m) = PROTOCOL_RE.find(rest) {
        let domain_start = j + m.end();
        if let Some(domain_end) = match_domain(text, domain_start) {
            let parts = UrlParts { has_protocol: true, domain: &text[domain_start..domain_end] };
            return Some((url_tail_end(text, domain_end), parts));
        }
    }
    let domain_end = match_domain(text, j)?;
    let parts = UrlParts { has_protocol: false, domain: &text[j..domain_end] };
    Some((url_tail_end(text, domain_end), parts))
}

/// The part of twitter-text's `IDN::Idna.toASCII(domain)` check that can fail
/// on a matched domain without Unicode 3.2 nameprep tables: every label must
/// fit in 63 octets once encoded (an encoded label takes at least 4 + its
/// length in characters), and an `xn--` label must be ASCII.
fn is_encodable_domain(domain: &str) -> bool {
    domain.split('.').all(|label| {
        if label.is_ascii() {
            label.len() <= MAX_LABEL_LENGTH
        } else {
            !starts_with_ignore_ascii_case(label, "xn--") && 4 + label.chars().count() <= MAX_LABEL_LENGTH
        }
    })
}

/// End of the optional port, path and query after a domain.
fn url_tail_end(text: &str, domain_end: usize) -> usize {
    URL_TAIL_RE.find(&text[domain_end..]).map_or(domain_end, |m| domain_end + m.end())
}

/// An `xmpp:` or `magnet:` URI at `j`; returns its end.
fn extended_uri_at(text: &str, j: usize) -> Option<usize> {
    let rest = text.get(j..)?;
    if starts_with_ignore_ascii_case(rest, "xmpp:") {
        let after_scheme = j + "xmpp:".len();
        // (//NODEID+@DOMAIN/)? (NODEID+@)? DOMAIN (/RESID+)? (?QUERY)?
        // Optional parts are tried taken first, then skipped, like the regex.
        let mut authority_options = Vec::with_capacity(2);
        if let Some(end) = xmpp_authority_end(text, after_scheme) {
            authority_options.push(end);
        }
        authority_options.push(after_scheme);
        for after_authority in authority_options {
            let mut node_options = Vec::with_capacity(2);
            if let Some(end) = nodeid_and_at_end(text, after_authority) {
                node_options.push(end);
            }
            node_options.push(after_authority);
            for domain_start in node_options {
                if let Some(domain_end) = match_domain(text, domain_start) {
                    let mut end = domain_end;
                    if text[end..].starts_with('/')
                        && let Some(m) = RESID_RE.find(&text[end + 1..])
                    {
                        end += 1 + m.end();
                    }
                    return Some(QUERY_RE.find(&text[end..]).map_or(end, |m| end + m.end()));
                }
            }
        }
        None
    } else if starts_with_ignore_ascii_case(rest, "magnet:") {
        let query_start = j + "magnet:".len();
        QUERY_RE.find(&text[query_start..]).map(|m| query_start + m.end())
    } else {
        None
    }
}

fn xmpp_authority_end(text: &str, pos: usize) -> Option<usize> {
    if !text[pos..].starts_with("//") {
        return None;
    }
    let domain_start = nodeid_and_at_end(text, pos + 2)?;
    let domain_end = match_domain(text, domain_start)?;
    text[domain_end..].starts_with('/').then_some(domain_end + 1)
}

/// `NODEID+@` at `pos`; returns the position after the '@'.
fn nodeid_and_at_end(text: &str, pos: usize) -> Option<usize> {
    let m = NODEID_RE.find(&text[pos..])?;
    let at = pos + m.end();
    text[at..].starts_with('@').then_some(at + 1)
}

/// twitter-text's `valid_domain`: `valid_subdomain* valid_domain_name TLD`,
/// matched at `start` with the regex's preference order (most labels first).
/// See [`match_tld`] for the TLD.
///
/// To keep scanning linear this stops where DNS would: a run of more than 63
/// characters is never taken as a label, and labels totalling more than 253
/// characters are not a domain (the regex has neither limit).
fn match_domain(text: &str, start: usize) -> Option<usize> {
    // Labels that end in '.', as (start, end) without the dot.
    let mut labels: Vec<(usize, usize)> = Vec::new();
    let mut label_start = start;
    let mut run_chars = 0usize;
    let mut total_chars = 0usize;
    for (i, c) in text[start..].char_indices() {
        let at = start + i;
        if is_label_char(c) {
            run_chars += 1;
            if run_chars > MAX_LABEL_LENGTH {
                break;
            }
        } else if c == '.' && run_chars > 0 {
            labels.push((label_start, at));
            total_chars += run_chars + 1;
            if total_chars > MAX_DOMAIN_LENGTH {
                return None;
            }
            label_start = at + 1;
            run_chars = 0;
        } else {
            break;
        }
    }
    // Where the TLD may begin when it follows the last label.
    let last_start = labels.last().map(|&(_, end)| end + 1)?;
    let valid_subdomains = labels.iter().take_while(|&&(s, e)| is_valid_label(&text[s..e], true)).count();
    let most_subdomains = valid_subdomains.min(labels.len() - 1);
    for subdomains in (0..=most_subdomains).rev() {
        let (s, e) = labels[subdomains];
        if !is_valid_label(&text[s..e], false) {
            continue;
        }
        let tld_start = labels.get(subdomains + 1).map_or(last_start, |&(s, _)| s);
        if let Some(end) = match_tld(text, tld_start) {
            return Some(end);
        }
    }
    None
}

/// `(?:D(?:[_-]|D)*)?D` (subdomain) or `(?:D(?:-|D)*)?D` (domain name).
fn is_valid_label(label: &str, allow_underscore: bool) -> bool {
    let first_ok = label.chars().next().is_some_and(is_domain_char);
    let last_ok = label.chars().next_back().is_some_and(is_domain_char);
    first_ok && last_ok && (allow_underscore || !label.contains('_'))
}

/// A known top-level domain at `start` that is not followed by `[0-9A-Za-z@+-]`
/// (case-insensitive), or any punycode label `xn--[0-9a-z]+`; returns its end.
fn match_tld(text: &str, start: usize) -> Option<usize> {
    let rest = &text[start..];
    // TLDs start with a letter; most positions fail here without allocating.
    if !rest.chars().next().is_some_and(char::is_alphabetic) {
        return None;
    }
    // Lower-cased candidate, with the end of each prefix in `rest` and in `lower`.
    let mut lower = String::new();
    let mut ends: Vec<(usize, usize)> = Vec::new();
    for (i, c) in rest.char_indices().take(TLDS.max_chars) {
        if !is_domain_char(c) {
            break;
        }
        lower.extend(c.to_lowercase());
        ends.push((i + c.len_utf8(), lower.len()));
    }
    for &(end, lower_end) in ends.iter().rev() {
        if is_tld_boundary(&rest[end..]) && TLDS.names.contains(&lower[..lower_end]) {
            return Some(start + end);
        }
    }
    if rest.len() > 4 && rest.as_bytes()[..4].eq_ignore_ascii_case(b"xn--") {
        let label = rest[4..].bytes().take_while(u8::is_ascii_alphanumeric).count();
        if label > 0 {
            return Some(start + 4 + label);
        }
    }
    None
}

/// twitter-text's TLD look-ahead `(?=[^0-9a-z@+-]|$)`, case-insensitive.
fn is_tld_boundary(after: &str) -> bool {
    after.chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '@' | '+' | '-')))
}

// --- Hashtags ---------------------------------------------------------------

/// Mastodon's `Extractor.extract_hashtags_with_indices`: scans
/// `Tag::HASHTAG_RE` = `(?:^|[^/)\w])#(NAME)` (Ruby's `\w` is ASCII-only).
fn hashtag_entities(text: &str) -> Vec<Entity<'_>> {
    let mut out = Vec::new();
    if !text.contains('#') {
        return out;
    }
    let mut pos = 0;
    while let Some(c) = char_at(text, pos) {
        let mut found = None;
        if c == '#' && at_line_start(text, pos) {
            found = hashtag_name_end(text, pos + 1).map(|end| (pos, end));
        }
        if found.is_none() && !(c == '/' || c == ')' || c == '_' || c.is_ascii_alphanumeric()) {
            let hash = pos + c.len_utf8();
            if text[hash..].starts_with('#') {
                found = hashtag_name_end(text, hash + 1).map(|end| (hash, end));
            }
        }
        let Some((start, match_end)) = found else {
            pos += c.len_utf8();
            continue;
        };
        pos = match_end;
        let mut end = match_end;
        // "#foohttps://…": the scheme is not part of the tag (`/(.+)(https?\Z)/`).
        if text[match_end..].starts_with("://") {
            let name = &text[start + 1..match_end];
            for scheme in ["http", "https"] {
                if name.len() > scheme.len() && name.ends_with(scheme) {
                    end -= scheme.len();
                    break;
                }
            }
        }
        out.push(Entity { start, end, kind: EntityKind::Hashtag(&text[start + 1..end]) });
    }
    out
}

/// Mastodon's `HASHTAG_NAME_PAT` at `start`; returns the end of the name.
///
/// With W = `[[:word:]]`, A = `[[:alpha:]]` and S = `[_·・\u{200c}]`:
/// `W[WS]*[AS][WS]*W` (longest, ending at the last W of the W/S run), else
/// `W*AW*` (the whole W run if it holds a letter).
fn hashtag_name_end(text: &str, start: usize) -> Option<usize> {
    struct HashtagChar {
        end: usize,
        word: bool,
        alpha_or_sep: bool,
    }
    let mut run: Vec<HashtagChar> = Vec::new();
    for (i, c) in text[start..].char_indices() {
        let word = is_ruby_word(c);
        let sep = matches!(c, '_' | '\u{b7}' | '\u{30fb}' | '\u{200c}');
        if !(word || sep) {
            break;
        }
        run.push(HashtagChar { end: start + i + c.len_utf8(), word, alpha_or_sep: sep || c.is_alphabetic() });
    }
    if run.first().is_some_and(|c| c.word)
        && let Some(last_word) = run.iter().rposition(|c| c.word)
        && last_word >= 2
        && run[1..last_word].iter().any(|c| c.alpha_or_sep)
    {
        return Some(run[last_word].end);
    }
    let words = run.iter().take_while(|c| c.word).count();
    let has_letter = text[start..].chars().take(words).any(char::is_alphabetic);
    (words > 0 && has_letter).then(|| run[words - 1].end)
}

// --- Mentions ---------------------------------------------------------------

struct MentionMatch<'t> {
    start: usize,
    end: usize,
    username: &'t str,
    domain: Option<&'t str>,
}

/// Every match of Mastodon's `Account::MENTION_RE`:
/// `(?<![=/[:word:]])@(([a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?)(?:@[[:word:].-]+[[:word:]]+)?)`
/// (case-insensitive).
fn scan_mention_re(text: &str) -> Vec<MentionMatch<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(offset) = text[pos..].find('@') {
        let at = pos + offset;
        pos = at + 1;
        if char_before(text, at).is_some_and(|p| p == '=' || p == '/' || is_ruby_word(p)) {
            continue;
        }
        let Some(username_end) = mention_username_end(text, at + 1) else {
            continue;
        };
        let mut end = username_end;
        let mut domain = None;
        if text[username_end..].starts_with('@')
            && let Some(mut domain_end) = mention_domain_end(text, username_end + 1)
        {
            // Beyond Mastodon's pattern: a port (`user@127.0.0.2:3000`), which handles of
            // servers on a non-default port carry (loopback test set-ups).
            let digits = text[domain_end..].strip_prefix(':').map(|r| r.bytes().take_while(u8::is_ascii_digit).count());
            if let Some(n @ 1..=5) = digits
                && !text[domain_end + 1 + n..].starts_with(|c: char| c.is_alphanumeric())
            {
                domain_end += 1 + n;
            }
            domain = Some(&text[username_end + 1..domain_end]);
            end = domain_end;
        }
        out.push(MentionMatch { start: at, end, username: &text[at + 1..username_end], domain });
        pos = end;
    }
    out
}

/// Mentions the formatter links (Mastodon's `Extractor.extract_mentions_or_lists_with_indices`):
/// `MENTION_RE` matches not followed by another at sign, a Latin accented
/// letter or "://", and with a domain of at most 253 characters.
fn linkable_mention_entities(text: &str) -> Vec<Entity<'_>> {
    if !text.contains(['@', '＠']) {
        return Vec::new();
    }
    scan_mention_re(text)
        .into_iter()
        .filter(|m| {
            let after = &text[m.end..];
            let continues = after.starts_with(['@', '＠'])
                || after.starts_with("://")
                || after.chars().next().is_some_and(is_latin_accent);
            let domain_ok = m.domain.is_none_or(|d| d.chars().count() <= MAX_DOMAIN_LENGTH);
            !continues && domain_ok
        })
        .map(|m| Entity {
            start: m.start,
            end: m.end,
            kind: EntityKind::Mention {
                screen_name: &text[m.start + 1..m.end],
                username: m.username,
                domain: m.domain,
            },
        })
        .collect()
}

/// `[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?`: the longest run of `[A-Za-z0-9_.-]`
/// that starts and ends with `[A-Za-z0-9_]`.
fn mention_username_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if !bytes.get(start).copied().is_some_and(is_name) {
        return None;
    }
    let mut end = start + 1;
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        if is_name(b) {
            end = i + 1;
        } else if b != b'.' && b != b'-' {
            break;
        }
        i += 1;
    }
    Some(end)
}

/// `[[:word:].-]+[[:word:]]+`: the longest run of word characters, '.' and '-'
/// that is at least two characters long and ends with a word character.
fn mention_domain_end(text: &str, start: usize) -> Option<usize> {
    let mut end = None;
    for (n, (i, c)) in text[start..].char_indices().enumerate() {
        if is_ruby_word(c) {
            if n >= 1 {
                end = Some(start + i + c.len_utf8());
            }
        } else if c != '.' && c != '-' {
            break;
        }
    }
    end
}

// ---------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------

fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

/// Ruby's `^`: start of the string or just after a "\n".
fn at_line_start(text: &str, i: usize) -> bool {
    i == 0 || text.as_bytes()[i - 1] == b'\n'
}

/// ActiveSupport's `blank?`: empty or only Unicode whitespace.
fn is_blank(text: &str) -> bool {
    text.chars().all(char::is_whitespace)
}

fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn char_matches(re: &Regex, c: char) -> bool {
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

static WORD_EXTRA_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\A[\p{M}\p{Nd}\p{Pc}]").expect("valid word pattern"));

/// Ruby's `[[:word:]]` on a Unicode string: Alphabetic, marks, decimal digits,
/// connector punctuation.
fn is_ruby_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c.is_alphabetic() || char_matches(&WORD_EXTRA_RE, c)
    }
}

/// twitter-text's `LATIN_ACCENTS`.
fn is_latin_accent(c: char) -> bool {
    matches!(
        u32::from(c),
        0xC0..=0xD6
            | 0xD8..=0xF6
            | 0xF8..=0xFF
            | 0x100..=0x24F
            | 0x253..=0x254
            | 0x256..=0x257
            | 0x259
            | 0x25B
            | 0x263
            | 0x268
            | 0x26F
            | 0x272
            | 0x289
            | 0x28B
            | 0x2BB
            | 0x300..=0x36F
            | 0x1E00..=0x1EFF
    )
}

/// twitter-text's `DIRECTIONAL_CHARACTERS`.
fn is_directional(c: char) -> bool {
    matches!(
        u32::from(c),
        0x61C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069
    )
}

/// twitter-text's `UNICODE_SPACES`.
fn is_twitter_space(c: char) -> bool {
    matches!(
        u32::from(c),
        0x09..=0x0D
            | 0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x180E
            | 0x2000..=0x200A
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x3000
    )
}

/// twitter-text's `INVALID_CHARACTERS`.
fn is_invalid_char(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

/// twitter-text's `DOMAIN_VALID_CHARS`: anything but ASCII punctuation, spaces,
/// control characters, directional marks and U+FFFE/U+FEFF/U+FFFF.
fn is_domain_char(c: char) -> bool {
    !(c.is_ascii_punctuation()
        || c.is_ascii_control()
        || is_twitter_space(c)
        || is_directional(c)
        || is_invalid_char(c))
}

fn is_label_char(c: char) -> bool {
    c == '-' || c == '_' || is_domain_char(c)
}

/// twitter-text's `valid_url_preceding_chars` (the consuming alternative),
/// case-insensitive: not `[A-Za-z0-9@＠$#＃]` and not U+FFFE/U+FEFF/U+FFFF.
fn is_url_preceding(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || matches!(c, '@' | '＠' | '$' | '#' | '＃') || is_invalid_char(c))
}

// ---------------------------------------------------------------------------
// Patterns without look-around (safe for the `regex` crate)
// ---------------------------------------------------------------------------

const LATIN_ACCENT_CLASS: &str = r"\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{FF}\u{100}-\u{24F}\u{253}-\u{254}\u{256}-\u{257}\u{259}\u{25B}\u{263}\u{268}\u{26F}\u{272}\u{289}\u{28B}\u{2BB}\u{300}-\u{36F}\u{1E00}-\u{1EFF}";

/// Mastodon's `UCHARS`, allowed in query strings.
const UCHARS: &str = r"\u{A0}-\u{D7FF}\u{F900}-\u{FDCF}\u{FDF0}-\u{FFEF}\u{10000}-\u{1FFFD}\u{20000}-\u{2FFFD}\u{30000}-\u{3FFFD}\u{40000}-\u{4FFFD}\u{50000}-\u{5FFFD}\u{60000}-\u{6FFFD}\u{70000}-\u{7FFFD}\u{80000}-\u{8FFFD}\u{90000}-\u{9FFFD}\u{A0000}-\u{AFFFD}\u{B0000}-\u{BFFFD}\u{C0000}-\u{CFFFD}\u{D0000}-\u{DFFFD}\u{E1000}-\u{EFFFD}\u{E000}-\u{F8FF}\u{F0000}-\u{FFFFD}\u{100000}-\u{10FFFD}";

/// `\?QUERY_CHARS*QUERY_ENDING_CHAR`.
fn query_pattern() -> String {
    format!(r"\?[a-zA-Z0-9!?*'();:&=+$/%#\[\]\-_.,~|@^{UCHARS}]*[a-zA-Z0-9_&=#/\-{UCHARS}]")
}

static PROTOCOL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\A(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://").expect("valid protocol pattern")
});

static TCO_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\Ahttps?://t\.co/([a-z0-9]+)").expect("valid t.co pattern"));

/// Port, path and query of Mastodon's `valid_url`, anchored after the domain.
///
/// Path characters are anything but whitespace, `<>()?`; a path ends on a
/// character outside ``()?!*"'「」<>;:=,.$%[]~&|`` (so trailing punctuation is
/// left out) or on balanced parentheses, two levels deep at most.
static URL_TAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    let general = r"[^\p{White_Space}<>()?]";
    // twitter-text's own path characters, used by its balanced-parens ending.
    let old_general = format!(r"[a-zA-Z\p{{Cyrillic}}0-9!*';:=+,.$/%#\[\]\p{{Pd}}_~&|@{LATIN_ACCENT_CLASS}]");
    let parens = |c: &str| format!(r"\((?:{c}+|{c}*\({c}+\){c}*)\)");
    let old_parens = parens(&old_general);
    let balanced = parens(general);
    let ending = format!(r#"(?:[^\p{{White_Space}}()?!*"'「」<>;:=,.$%\[\]~&|]|{old_parens})"#);
    let path = format!(r"(?:{general}*(?:{balanced}{general}*)*{ending}|{general}+/)");
    let query = query_pattern();
    Regex::new(&format!(r"\A(?::[0-9]+)?(?:/{path}*)?(?:{query})?")).expect("valid URL tail pattern")
});

static QUERY_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\A{}", query_pattern())).expect("valid query pattern"));

/// `(unreserved | pct-encoded | [!$()*+,;=])+`.
static NODEID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\A(?:[a-zA-Z\p{Cyrillic}0-9\p{Pd}._~!$()*+,;=]|%[0-9a-fA-F]{2})+").expect("valid node id pattern")
});

/// `(unreserved | pct-encoded | sub-delims)+`.
static RESID_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\A(?:[a-zA-Z\p{Cyrillic}0-9\p{Pd}._~!$&'()*+,;=]|%[0-9a-fA-F]{2})+").expect("valid resource pattern")
});

// ---------------------------------------------------------------------------
// Top-level domains
// ---------------------------------------------------------------------------

struct TldSet {
    names: std::collections::HashSet<&'static str>,
    /// Length of the longest name, in characters.
    max_chars: usize,
}

static TLDS: LazyLock<TldSet> = LazyLock::new(|| {
    let names: std::collections::HashSet<&'static str> =
        TLD_NAMES_ASCII.split_whitespace().chain(TLD_NAMES_IDN.split_whitespace()).collect();
    let max_chars = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    TldSet { names, max_chars }
});

// The root zone as IANA lists it (version 2026100300), lower case, IDNs in
// Unicode form. Mastodon (through twitter-text) links only URLs whose domain
// ends in a listed TLD; its own list is a 2020 snapshot of the same zone.
const TLD_NAMES_ASCII: &str = "
aaa aarp abb abbott abbvie abc able abogado abudhabi ac academy accenture accountant accountants
aco actor ad ads adult ae aeg aero aetna af afl africa ag agakhan agency ai aig airbus airforce
airtel akdn al alibaba alipay allfinanz allstate ally alsace alstom am amazon americanexpress
americanfamily amex amfam amica amsterdam analytics android anquan anz ao aol apartments app
apple aq aquarelle ar arab aramco archi army arpa art arte as asda asia associates at athleta
attorney au auction audi audible audio auspost author auto autos aw aws ax axa az azure ba baby
baidu banamex band bank bar barcelona barclaycard barclays barefoot bargains baseball basketball
bauhaus bayern bb bbc bbt bbva bcg bcn bd be beats beauty beer berlin best bestbuy bet bf bg bh
bharti bi bible bid bike bing bingo bio biz bj black blackfriday blockbuster blog bloomberg blue
bm bms bmw bn bnpparibas bo boats boehringer bofa bom bond boo book booking bosch bostik boston
bot boutique box br bradesco bridgestone broadway broker brother brussels bs bt build builders
business buy buzz bv bw by bz bzh ca cab cafe cal call calvinklein cam camera camp canon
capetown capital capitalone car caravan cards care career careers cars casa case cash casino cat
catering catholic cba cbn cbre cc cd center ceo cern cf cfa cfd cg ch chanel channel charity
chase chat cheap chintai christmas chrome church ci cipriani circle cisco citadel citi citic
city ck cl claims cleaning click clinic clinique clothing cloud club clubmed cm cn co coach
codes coffee college cologne com commbank community company compare computer comsec condos
construction consulting contact contractors cooking cool coop corsica country coupon coupons
courses cpa cr credit creditcard creditunion cricket crown crs cruise cruises cu cuisinella cv
cw cx cy cymru cyou cz dad dance data date dating datsun day dclk dds de deal dealer deals
degree delivery dell deloitte delta democrat dental dentist desi design dev dhl diamonds diet
digital direct directory discount discover dish diy dj dk dm dnp do docs doctor dog domains dot
download drive dtv dubai dupont durban dvag dvr dz earth eat ec eco edeka edu education ee eg
email emerck energy engineer engineering enterprises epson equipment er ericsson erni es esq
estate et eu eurovision eus events exchange expert exposed express extraspace fage fail
fairwinds faith family fan fans farm farmers fashion fast fedex feedback ferrari ferrero fi
fidelity fido film final finance financial fire firestone firmdale fish fishing fit fitness fj
fk flickr flights flir florist flowers fly fm fo foo food football ford forex forsale forum
foundation fox fr free fresenius frl frogans frontier ftr fujitsu fun fund furniture futbol fyi
ga gal gallery gallo gallup game games gap garden gay gb gbiz gd gdn ge gea gent genting george
gf gg ggee gh gi gift gifts gives giving gl glass gle global globo gm gmail gmbh gmo gmx gn
godaddy gold goldpoint golf goodyear goog google gop got gov gp gq gr grainger graphics gratis
green gripe grocery group gs gt gu gucci guge guide guitars guru gw gy hair hamburg hangout haus
hbo hdfc hdfcbank health healthcare help helsinki here hermes hiphop hisamitsu hitachi hiv hk
hkt hm hn hockey holdings holiday homedepot homegoods homes homesense honda horse hospital host
hosting hot hotels hotmail house how hr hsbc ht hu hughes hyatt hyundai ibm icbc ice icu id ie
ieee ifm ikano il im imamat imdb immo immobilien in inc industries infiniti info ing ink
institute insurance insure int international intuit investments io ipiranga iq ir irish is
ismaili ist istanbul it itau itv jaguar java jcb je jeep jetzt jewelry jio jll jm jmp jnj jo
jobs joburg jot joy jp jpmorgan jprs juegos kaufen kddi ke kerryhotels kerryproperties kfh kg kh
ki kia kids kim kindle kitchen kiwi km kn koeln komatsu kosher kp kpmg kpn kr krd kred kuokgroup
kw ky kyoto kz la lacaixa lamborghini lamer land landrover lanxess lasalle lat latino latrobe
law lawyer lb lc lds lease leclerc lefrak legal lego lexus lgbt li lidl life lifeinsurance
lifestyle lighting like lilly limited limo lincoln link live living lk llc llp loan loans locker
locus lol london lotte lotto love lpl lplfinancial lr ls lt ltd ltda lu lundbeck luxe luxury lv
ly ma madrid maif maison makeup man management mango map market marketing markets marriott
marshalls mattel mba mc mckinsey md me med media meet melbourne meme memorial men menu merck
merckmsd mg mh miami microsoft mil mini mint mit mitsubishi mk ml mlb mls mm mma mn mo mobi
mobile moda moe moi mom monash money monster mormon mortgage moscow moto motorcycles mov movie
mp mq mr ms msd mt mtn mtr mu museum music mv mw mx my mz na nab nagoya name navy nba nc ne nec
net netbank netflix network neustar new news next nextdirect nexus nf nfl ng ngo nhk ni nico
nike nikon ninja nissan nissay nl no nokia norton now nowruz nowtv np nr nra nrw ntt nu nyc nz
obi observer office okinawa olayan olayangroup ollo om omega one ong onl online ooo open oracle
orange org organic origins osaka otsuka ott ovh pa page panasonic paris pars partners parts
party pay pccw pe pet pf pfizer pg ph pharmacy phd philips phone photo photography photos physio
pics pictet pictures pid pin ping pink pioneer pizza pk pl place play playstation plumbing plus
pm pn pnc pohl poker politie porn post pr praxi press prime pro prod productions prof
progressive promo properties property protection pru prudential ps pt pub pw pwc py qa qpon
quebec quest racing radio re read realestate realtor realty recipes red redumbrella rehab reise
reisen reit reliance ren rent rentals repair report republican rest restaurant review reviews
rexroth rich richardli ricoh ril rio rip ro rocks rodeo rogers room rs rsvp ru rugby ruhr run rw
rwe ryukyu sa saarland safe safety sakura sale salon samsclub samsung sandvik sandvikcoromant
sanofi sap sarl sas save saxo sb sbi sbs sc scb schaeffler schmidt scholarships school schule
schwarz science scot sd se search seat secure security seek select sener services seven sew sex
sexy sfr sg sh shangrila sharp shell shia shiksha shoes shop shopping shouji show si silk sina
singles site sj sk ski skin sky skype sl sling sm smart smile sn sncf so soccer social softbank
software sohu solar solutions song sony soy spa space sport spot sr srl ss st stada staples star
statebank statefarm stc stcgroup stockholm storage store stream studio study style su sucks
supplies supply support surf surgery suzuki sv swatch swiss sx sy sydney systems sz tab taipei
talk taobao target tatamotors tatar tattoo tax taxi tc tci td tdk team tech technology tel
temasek tennis teva tf tg th thd theater theatre tiaa tickets tienda tips tires tirol tj tjmaxx
tjx tk tkmaxx tl tm tmall tn to today tokyo tools top toray toshiba total tours town toyota toys
tr trade trading training travel travelers travelersinsurance trust trv tt tube tui tunes tushu
tv tvs tw tz ua ubank ubs ug uk unicom university uno uol ups us uy uz va vacations vana
vanguard vc ve vegas ventures verisign versicherung vet vg vi viajes video vig viking villas vin
vip virgin visa vision viva vivo vlaanderen vn vodka volvo vote voting voto voyage vu wales
walmart walter wang wanggou watch watches weather weatherchannel web webcam weber website wed
wedding weibo weir wf whoswho wien wiki williamhill win windows wine winners wme woodside work
works world wow ws wtc wtf xbox xerox xihuan xin xxx xyz yachts yahoo yamaxun yandex ye
yodobashi yoga yokohama you youtube yt yun za zappos zara zero zip zm zone zuerich zw
";

const TLD_NAMES_IDN: &str = "
vermögensberater vermögensberatung ελ ευ бг бел дети ею
католик ком мкд мон москва онлайн орг рус рф сайт срб укр
қаз հայ ישראל קום ابوظبي ارامكو الاردن البحرين الجزائر
السعودية العليان المغرب امارات ایران بارت بازار بيتك بھارت
تونس سودان سورية شبكة عراق عرب عمان فلسطين قطر كاثوليك كوم
مصر مليسيا موريتانيا موقع همراه پاکستان ڀارت कॉम नेट भारत
भारतम् भारोत संगठन বাংলা ভারত ভাৰত ਭਾਰਤ ભારત ଭାରତ இந்தியா
இலங்கை சிங்கப்பூர் భారత్ ಭಾರತ ഭാരതം ලංකා คอม ไทย ລາວ გე みんな
アマゾン クラウド グーグル コム ストア セール ファッション ポイント 世界 中信 中国 中國 中文网 亚马逊 企业
佛山 信息 健康 八卦 公司 公益 台湾 台灣 商城 商店 商标 嘉里 嘉里大酒店 在线 大拿 天主教 娱乐 家電 广东
微博 慈善 我爱你 手机 招聘 政务 政府 新加坡 新闻 时尚 書籍 机构 淡马锡 游戏 澳門 点看 移动 组织机构
网址 网店 网站 网络 联通 谷歌 购物 通販 集团 電訊盈科 飞利浦 食品 餐厅 香格里拉 香港 닷넷 닷컴 삼성
한국
";

// ---------------------------------------------------------------------------
// Grapheme clusters (UAX #29)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gcb {
    Cr,
    Lf,
    Control,
    Extend,
    Zwj,
    RegionalIndicator,
    Prepend,
    SpacingMark,
    L,
    V,
    T,
    Lv,
    Lvt,
    Other,
}

/// Classes in the order of `GCB_SET`'s first patterns; the last pattern is
/// `Extended_Pictographic`.
const GCB_CLASSES: [Gcb; 11] = [
    Gcb::Control,
    Gcb::Extend,
    Gcb::Zwj,
    Gcb::RegionalIndicator,
    Gcb::Prepend,
    Gcb::SpacingMark,
    Gcb::L,
    Gcb::V,
    Gcb::T,
    Gcb::Lv,
    Gcb::Lvt,
];

static GCB_SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"\A\p{gcb=Control}",
        r"\A\p{gcb=Extend}",
        r"\A\p{gcb=ZWJ}",
        r"\A\p{gcb=Regional_Indicator}",
        r"\A\p{gcb=Prepend}",
        r"\A\p{gcb=SpacingMark}",
        r"\A\p{gcb=L}",
        r"\A\p{gcb=V}",
        r"\A\p{gcb=T}",
        r"\A\p{gcb=LV}",
        r"\A\p{gcb=LVT}",
        r"\A\p{Extended_Pictographic}",
    ])
    .expect("valid grapheme property patterns")
});

/// (Grapheme_Cluster_Break class, Extended_Pictographic).
fn grapheme_props(c: char) -> (Gcb, bool) {
    if c.is_ascii() {
        let class = match c {
            '\r' => Gcb::Cr,
            '\n' => Gcb::Lf,
            _ if c.is_ascii_control() => Gcb::Control,
            _ => Gcb::Other,
        };
        return (class, false);
    }
    let mut buf = [0u8; 4];
    let matches = GCB_SET.matches(c.encode_utf8(&mut buf));
    let class = matches.iter().find_map(|i| GCB_CLASSES.get(i).copied()).unwrap_or(Gcb::Other);
    (class, matches.matched(GCB_CLASSES.len()))
}

fn is_grapheme_boundary(prev: Gcb, cur: Gcb, cur_pict: bool, ri_before: usize, zwj_after_pict: bool) -> bool {
    use Gcb::*;
    match (prev, cur) {
        (Cr, Lf) => false,                                                     // GB3
        (Cr | Lf | Control, _) => true,                                        // GB4
        (_, Cr | Lf | Control) => true,                                        // GB5
        (L, L | V | Lv | Lvt) => false,                                        // GB6
        (Lv | V, V | T) => false,                                              // GB7
        (Lvt | T, T) => false,                                                 // GB8
        (_, Extend | Zwj) => false,                                            // GB9
        (_, SpacingMark) => false,                                             // GB9a
        (Prepend, _) => false,                                                 // GB9b
        (Zwj, _) if cur_pict && zwj_after_pict => false,                       // GB11
        (RegionalIndicator, RegionalIndicator) if ri_before % 2 == 1 => false, // GB12, GB13
        _ => true,                                                             // GB999
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn single_emoji_are_told_from_text() {
        for yes in ["👍", "🎉", "❤️", "🤔", "👩‍👩‍👧", "👍🏽", "🇩🇪", "1️⃣", "#️⃣", "©️"]
        {
            assert!(super::is_single_emoji(yes), "{yes}");
        }
        for no in ["", "a", "1", "👍👍", "ok👍", ":blobcat:", "🇩", "<3"] {
            assert!(!super::is_single_emoji(no), "{no}");
        }
    }

    use super::*;

    const LOCAL: &str = "cb6e6126.ngrok.io";
    const BASE: &str = "https://cb6e6126.ngrok.io";

    fn resolver(m: &MentionRef) -> Option<ResolvedMention> {
        let username = m.username.to_lowercase();
        let domain = m.domain.as_deref().map(str::to_lowercase);
        match (username.as_str(), domain.as_deref()) {
            ("alice", None) | ("alice", Some(LOCAL)) => {
                Some(ResolvedMention { url: format!("{BASE}/@alice"), username: "alice".into() })
            }
            ("bob", Some("remote.example")) => {
                Some(ResolvedMention { url: "https://remote.example/@bob".into(), username: "bob".into() })
            }
            _ => None,
        }
    }

    fn no_accounts(_: &MentionRef) -> Option<ResolvedMention> {
        None
    }

    fn fmt(text: &str) -> String {
        let ctx = FormatContext { local_domain: LOCAL, base_url: BASE, resolve_mention: &resolver };
        format_status(text, &ctx)
    }

    fn link(url: &str, prefix: &str, display: &str, class: &str, suffix: &str) -> String {
        format!(
            "<a href=\"{url}\" target=\"_blank\" rel=\"nofollow noopener\" translate=\"no\"><span class=\"invisible\">{prefix}</span><span class=\"{class}\">{display}</span><span class=\"invisible\">{suffix}</span></a>"
        )
    }

    fn hashtag_link(path: &str, name: &str) -> String {
        format!("<a href=\"{BASE}/tags/{path}\" class=\"mention hashtag\" rel=\"tag\">#<span>{name}</span></a>")
    }

    fn urls(text: &str) -> Vec<&str> {
        formatter_entities(text)
            .into_iter()
            .filter_map(|e| match e.kind {
                EntityKind::Url(u) => Some(u),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn mentions_may_carry_a_port() {
        let m = extract_mentions("hi @bob@127.0.0.2:3000, and @eve@example.com:8080x and @al@b.c:");
        let pairs: Vec<_> = m.iter().map(|m| (m.username.as_str(), m.domain.as_deref())).collect();
        assert_eq!(pairs, [("bob", Some("127.0.0.2:3000")), ("eve", Some("example.com")), ("al", Some("b.c"))]);
    }

    // --- spec/lib/text_formatter_spec.rb ---------------------------------------

    #[test]
    fn paragraphizes_plain_text() {
        assert_eq!(fmt("text"), "<p>text</p>");
    }

    #[test]
    fn removes_line_feeds() {
        let html = fmt("line\nfeed");
        assert!(!html.contains('\n'));
        assert_eq!(html, "<p>line<br />feed</p>");
    }

    #[test]
    fn links_known_mentions() {
        assert_eq!(
            fmt("@alice"),
            format!(
                "<p><span class=\"h-card\" translate=\"no\"><a href=\"{BASE}/@alice\" class=\"u-url mention\">@<span>alice</span></a></span></p>"
            )
        );
    }

    #[test]
    fn leaves_unknown_mentions_as_text() {
        let ctx = FormatContext { local_domain: LOCAL, base_url: BASE, resolve_mention: &no_accounts };
        assert_eq!(format_status("@alice", &ctx), "<p>@alice</p>");
    }

    #[test]
    fn matches_standalone_urls() {
        for url in [
            "https://hackernoon.com/the-power-to-build-communities-a-response-to-mark-zuckerberg-3f2cac9148a4",
            "http://google.com",
            "http://example.gay",
            "https://nic.みんな/",
            "https://en.wikipedia.org/wiki/Diaspora_(software)",
            "https://ja.wikipedia.org/wiki/日本",
            "https://ko.wikipedia.org/wiki/대한민국",
            "https://baike.baidu.com/item/中华人民共和国",
            "https://zh.wikipedia.org/wiki/臺灣",
        ] {
            assert!(fmt(url).contains(&format!("href=\"{url}\"")), "{url}");
            assert_eq!(urls(url), vec![url]);
        }
    }

    #[test]
    fn idn_url_has_display_url() {
        assert!(fmt("https://nic.みんな/").contains("<span class=\"\">nic.みんな/</span>"));
    }

    #[test]
    fn trailing_punctuation_and_enclosing_characters_are_not_part_of_urls() {
        let cases = [
            (
                "http://www.mcmansionhell.com/post/156408871451/50-states-of-mcmansion-hell-scottsdale-arizona. ",
                "http://www.mcmansionhell.com/post/156408871451/50-states-of-mcmansion-hell-scottsdale-arizona",
            ),
            ("(http://google.com/)", "http://google.com/"),
            ("http://www.google.com!", "http://www.google.com"),
            ("http://www.google.com'", "http://www.google.com"),
            ("http://www.google.com>", "http://www.google.com"),
            ("\"https://example.com/\"", "https://example.com/"),
            ("<https://example.com/>", "https://example.com/"),
            ("https://example.com/　abc123", "https://example.com/"),
            ("「[https://example.org/」", "https://example.org/"),
            ("https://gta.fandom.com/wiki/TW@ Content", "https://gta.fandom.com/wiki/TW@"),
        ];
        for (text, url) in cases {
            assert!(fmt(text).contains(&format!("href=\"{url}\"")), "{text}");
            assert_eq!(urls(text), vec![url], "{text}");
        }
    }

    #[test]
    fn urls_with_query_strings() {
        let cases = [
            (
                "https://www.ruby-toolbox.com/search?utf8=%E2%9C%93&q=autolink",
                "https://www.ruby-toolbox.com/search?utf8=%E2%9C%93&amp;q=autolink",
            ),
            (
                "https://www.ruby-toolbox.com/search?utf8=✓&q=autolink",
                "https://www.ruby-toolbox.com/search?utf8=✓&amp;q=autolink",
            ),
            ("https://www.ruby-toolbox.com/search?utf8=✓", "https://www.ruby-toolbox.com/search?utf8=✓"),
            (
                "https://www.ruby-toolbox.com/search?utf8=%E2%9C%93&utf81=✓&q=autolink",
                "https://www.ruby-toolbox.com/search?utf8=%E2%9C%93&amp;utf81=✓&amp;q=autolink",
            ),
        ];
        for (text, href) in cases {
            assert!(fmt(text).contains(&format!("href=\"{href}\"")), "{text}");
        }
    }

    #[test]
    fn xss_in_the_visible_part_of_a_url() {
        let html = fmt("http://example.com/b<del>b</del>");
        assert!(html.contains("\"http://example.com/b\""));
        assert!(html.contains("&lt;del&gt;b&lt;/del&gt;"));
    }

    #[test]
    fn xss_in_the_invisible_part_of_a_url() {
        let html = fmt("http://example.com/blahblahblahblah/a<script>alert(\"Hello\")</script>");
        assert!(html.contains("\"http://example.com/blahblahblahblah/a\""));
        assert!(html.contains("&lt;script&gt;alert(&quot;Hello&quot;)&lt;/script&gt;"));
    }

    #[test]
    fn escapes_html_in_text() {
        assert_eq!(
            fmt("<script>alert(\"Hello\")</script>"),
            "<p>&lt;script&gt;alert(&quot;Hello&quot;)&lt;/script&gt;</p>"
        );
        assert_eq!(
            fmt("<img src=\"javascript:alert('XSS');\">"),
            "<p>&lt;img src=&quot;javascript:alert(&#39;XSS&#39;);&quot;&gt;</p>"
        );
    }

    #[test]
    fn invalid_url_is_left_alone() {
        assert_eq!(fmt("http://www\\.google\\.com"), "<p>http://www\\.google\\.com</p>");
    }

    #[test]
    fn truncates_lengthy_urls() {
        let html = fmt("lorem https://prepitaph.org/wip/web-dovespair/ ipsum");
        assert!(html.contains("<span class=\"invisible\">https://</span>"));
        assert!(html.contains("<span class=\"ellipsis\">prepitaph.org/wip/web-dovespai</span>"));
        assert!(html.contains("<span class=\"invisible\">r/</span>"));
    }

    #[test]
    fn does_not_truncate_sufficiently_short_urls() {
        let html = fmt("lorem https://prepitaph.org/wip/web-devspair/ ipsum");
        assert!(html.contains("<span class=\"invisible\">https://</span>"));
        assert!(html.contains("<span class=\"\">prepitaph.org/wip/web-devspair/</span>"));
        assert!(html.contains("<span class=\"invisible\"></span>"));
    }

    #[test]
    fn links_hashtags() {
        assert!(
            fmt("#hashtag").contains("/tags/hashtag\" class=\"mention hashtag\" rel=\"tag\">#<span>hashtag</span></a>")
        );
        assert!(fmt("#hashtagタグ").contains(
            "/tags/hashtag%E3%82%BF%E3%82%B0\" class=\"mention hashtag\" rel=\"tag\">#<span>hashtagタグ</span></a>"
        ));
    }

    #[test]
    fn links_xmpp_and_magnet_uris() {
        let html = fmt("xmpp:user@instance.com");
        assert!(html.contains("href=\"xmpp:user@instance.com\""));
        assert!(html.contains("<span class=\"invisible\">xmpp:</span><span class=\"\">user@instance.com</span>"));
        assert!(
            fmt("please join xmpp:muc@instance.com?join right now").contains("href=\"xmpp:muc@instance.com?join\"")
        );
        let magnet = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        assert!(
            fmt(&format!("wikipedia gives this example of a magnet uri: {magnet}"))
                .contains(&format!("href=\"{magnet}\""))
        );
    }

    // --- exact output ------------------------------------------------------------

    #[test]
    fn exact_short_url_markup() {
        assert_eq!(
            fmt("https://example.com/short"),
            format!("<p>{}</p>", link("https://example.com/short", "https://", "example.com/short", "", ""))
        );
    }

    #[test]
    fn exact_long_url_markup() {
        let url = "https://www.example.com/a/rather/long/path/to/somewhere?x=1";
        assert_eq!(
            fmt(&format!("see {url} now")),
            format!(
                "<p>see {} now</p>",
                link(url, "https://www.", "example.com/a/rather/long/path", "ellipsis", "/to/somewhere?x=1")
            )
        );
    }

    #[test]
    fn url_of_exactly_thirty_display_characters() {
        // 30 characters: shown whole, with an empty (not missing) hidden suffix.
        let url = "https://abcdefghij.com/0123456789abcde";
        assert_eq!(url.len() - "https://".len(), 30);
        assert!(fmt(url).contains(&link(url, "https://", &url[8..], "", "")));
        // 32 characters: cut at 30.
        let url = "https://abcdefghij.com/0123456789abcdefg";
        assert!(fmt(url).contains(&link(url, "https://", "abcdefghij.com/0123456789abcde", "ellipsis", "fg")));
    }

    #[test]
    fn only_lowercase_scheme_is_hidden() {
        let url = "HTTPS://EXAMPLE.COM";
        assert_eq!(fmt(url), format!("<p>{}</p>", link(url, "", url, "", "")));
    }

    #[test]
    fn other_schemes_from_mastodon_are_linked() {
        assert_eq!(urls("gemini://example.org/page"), vec!["gemini://example.org/page"]);
        assert_eq!(urls("ftp://example.org/file"), Vec::<&str>::new());
        assert_eq!(urls("javascript:alert(1)"), Vec::<&str>::new());
    }

    #[test]
    fn url_rules_from_twitter_text() {
        // Scheme-less domains are not linked.
        assert_eq!(urls("see example.com now"), Vec::<&str>::new());
        // No TLD, a numeric one or an unknown one: not a URL.
        assert_eq!(urls("http://localhost:3000/x"), Vec::<&str>::new());
        assert_eq!(urls("http://127.0.0.1/x"), Vec::<&str>::new());
        assert_eq!(urls("https://intranet.corp/x"), Vec::<&str>::new());
        assert_eq!(urls("https://host.local"), Vec::<&str>::new());
        // Known TLDs, any case, IDN and punycode.
        assert_eq!(urls("HTTP://EXAMPLE.ORG/x"), vec!["HTTP://EXAMPLE.ORG/x"]);
        assert_eq!(urls("https://пример.рф/"), vec!["https://пример.рф/"]);
        assert_eq!(urls("https://ПРИМЕР.РФ"), vec!["https://ПРИМЕР.РФ"]);
        assert_eq!(urls("https://example.xn--p1ai/"), vec!["https://example.xn--p1ai/"]);
        assert_eq!(urls("https://a.vermögensberater"), vec!["https://a.vermögensberater"]);
        // The domain ends at the last label that is a TLD.
        assert_eq!(urls("http://example.comだよね.comtest/x"), vec!["http://example.com"]);
        assert_eq!(urls("http://a.b.co.uk."), vec!["http://a.b.co.uk"]);
        assert_eq!(urls("http://trailingunderscore.twitter_.com"), Vec::<&str>::new());
        assert_eq!(urls("http://sub_domain.example.com"), vec!["http://sub_domain.example.com"]);
        assert_eq!(urls("http://-bad.example.com"), Vec::<&str>::new());
        // A long run of text after the TLD does not matter.
        let tail = "をご覧ください".repeat(100);
        assert_eq!(urls(&format!("詳細はhttps://example.com{tail}")), vec!["https://example.com"]);
        assert_eq!(urls(&format!("https://例え.テスト.jp{tail}")), vec!["https://例え.テスト.jp"]);
        // A name over 253 characters is not a domain.
        let huge = format!("http://{}example.com", "ab.".repeat(90));
        assert_eq!(urls(&huge), Vec::<&str>::new());
        let big = format!("http://{}example.com", "ab.".repeat(70));
        assert_eq!(urls(&big), vec![big.as_str()]);
        // Labels that cannot be encoded are refused.
        let long = format!("http://{}.com", "a".repeat(64));
        assert_eq!(urls(&long), Vec::<&str>::new());
        assert_eq!(urls("http://xn--はじめよう.com"), Vec::<&str>::new());
        // Preceded by a letter or '@': not a URL.
        assert_eq!(urls("xhttps://example.com"), Vec::<&str>::new());
        // A port is kept.
        assert_eq!(urls("http://example.com:8080/x"), vec!["http://example.com:8080/x"]);
        // The TLD ends at a non-ASCII character.
        assert_eq!(urls("詳細はhttps://example.comをご覧ください"), vec!["https://example.com"]);
        // Nested balanced parentheses.
        assert_eq!(
            urls("https://example.com/track/We_Up_(Album_Version_(Edited))"),
            vec!["https://example.com/track/We_Up_(Album_Version_(Edited))"]
        );
        // Unbalanced parentheses are not part of the URL.
        assert_eq!(urls("(see https://example.com/foo_(bar)"), vec!["https://example.com/foo_(bar)"]);
        assert_eq!(urls("https://example.com/foo)"), vec!["https://example.com/foo"]);
        // Trailing punctuation in a query string.
        assert_eq!(urls("https://example.com/?q=a."), vec!["https://example.com/?q=a"]);
        // t.co links lose any extra path.
        assert_eq!(urls("https://t.co/abc123/extra"), vec!["https://t.co/abc123"]);
        // A scheme-less match swallows what follows, as in Mastodon.
        assert_eq!(urls("example.com/https://other.example"), Vec::<&str>::new());
        // Two URLs.
        assert_eq!(urls("http://a.com and https://b.org/x."), vec!["http://a.com", "https://b.org/x"]);
    }

    #[test]
    fn paragraphs_and_line_breaks() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt(" \n\t "), "");
        assert_eq!(fmt("a\n\nb"), "<p>a</p><p>b</p>");
        assert_eq!(fmt("a\n\n\n\nb"), "<p>a</p><p>b</p>");
        assert_eq!(fmt("a\r\n\r\nb\r\nc"), "<p>a</p><p>b<br />c</p>");
        assert_eq!(fmt("a\nb\nc"), "<p>a<br />b<br />c</p>");
        assert_eq!(fmt("a\n"), "<p>a</p>");
        assert_eq!(fmt("a\n\n"), "<p>a</p>");
        // Mastodon strips a status before formatting; the formatter itself keeps
        // a leading empty paragraph.
        assert_eq!(fmt("\n\na"), "<p></p><p>a</p>");
        assert_eq!(fmt("a\n \nb"), "<p>a<br /> <br />b</p>");
    }

    #[test]
    fn hashtag_rules() {
        let tags = |t: &str| extract_hashtags(t);
        assert_eq!(tags("#123"), Vec::<String>::new());
        assert_eq!(tags("#1_2"), vec!["1_2"]);
        assert_eq!(tags("#_a"), vec!["_a"]);
        assert_eq!(tags("#_"), Vec::<String>::new());
        assert_eq!(tags("#2024year"), vec!["2024year"]);
        assert_eq!(tags("foo#bar"), Vec::<String>::new());
        assert_eq!(tags("/#bar"), Vec::<String>::new());
        assert_eq!(tags(")#bar"), Vec::<String>::new());
        assert_eq!(tags("(#bar)"), vec!["bar"]);
        assert_eq!(tags("日本#タグ"), vec!["タグ"]);
        assert_eq!(tags("é#tag"), vec!["tag"]);
        assert_eq!(tags("#foo·bar"), vec!["foo·bar"]);
        assert_eq!(tags("#foo\u{200c}bar"), vec!["foo\u{200c}bar"]);
        assert_eq!(tags("#foo· x"), vec!["foo"]);
        assert_eq!(tags("#·foo"), Vec::<String>::new());
        assert_eq!(tags("#a#b"), vec!["a"]);
        assert_eq!(tags("#a #b,#c\n#d"), vec!["a", "b", "c", "d"]);
        assert_eq!(tags("##tag"), vec!["tag"]);
        assert_eq!(tags("#café."), vec!["café"]);
        assert_eq!(tags("#Foo #foo #FOO #bar"), vec!["Foo", "bar"]);
        assert_eq!(tags("#foohttps://example.com"), vec!["foo"]);
    }

    #[test]
    fn hashtag_markup() {
        assert_eq!(fmt("I like #Rust!"), format!("<p>I like {}!</p>", hashtag_link("Rust", "Rust")));
        assert_eq!(fmt("#foohttps://example.com"), format!("<p>{}https://example.com</p>", hashtag_link("foo", "foo")));
        // The middle dot is percent-encoded in the link.
        assert!(fmt("#foo·bar").contains("/tags/foo%C2%B7bar\""));
    }

    #[test]
    fn hashtags_inside_urls_are_not_linked_but_are_extracted() {
        let text = "https://example.com/日本#tag";
        assert_eq!(urls(text), vec![text]);
        assert!(!fmt(text).contains("hashtag"));
        assert_eq!(extract_hashtags(text), vec!["tag"]);
    }

    #[test]
    fn mention_markup() {
        let alice = format!(
            "<span class=\"h-card\" translate=\"no\"><a href=\"{BASE}/@alice\" class=\"u-url mention\">@<span>alice</span></a></span>"
        );
        let bob = "<span class=\"h-card\" translate=\"no\"><a href=\"https://remote.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span>";
        assert_eq!(fmt("hi @alice."), format!("<p>hi {alice}.</p>"));
        assert_eq!(fmt("@ALICE@cb6e6126.ngrok.io"), format!("<p>{alice}</p>"));
        assert_eq!(fmt("cc @bob@remote.example"), format!("<p>cc {bob}</p>"));
        assert_eq!(fmt("@carol@remote.example"), "<p>@carol@remote.example</p>");
        // Not mentions.
        assert_eq!(fmt("mail me: alice@example.org"), "<p>mail me: alice@example.org</p>");
        assert_eq!(fmt("a=@alice"), "<p>a=@alice</p>");
        assert_eq!(fmt("/@alice"), "<p>/@alice</p>");
        // Followed by an at sign, an accented letter or "://": not linked.
        assert_eq!(fmt("@alice@x"), "<p>@alice@x</p>");
        assert_eq!(fmt("@alicé"), "<p>@alicé</p>");
        assert_eq!(fmt("@alice://"), "<p>@alice://</p>");
    }

    #[test]
    fn mention_inside_url_is_not_linked() {
        let text = "https://mastodon.social/@alice";
        assert_eq!(urls(text), vec![text]);
        assert!(!fmt(text).contains("h-card"));
    }

    #[test]
    fn resolver_sees_domain_as_written() {
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |m: &MentionRef| {
            seen.borrow_mut().push(m.clone());
            None
        };
        let ctx = FormatContext { local_domain: LOCAL, base_url: BASE, resolve_mention: &record };
        format_status("@alice @Bob@Remote.Example @carol@cb6e6126.ngrok.io", &ctx);
        assert_eq!(
            *seen.borrow(),
            vec![
                MentionRef { username: "alice".into(), domain: None },
                MentionRef { username: "Bob".into(), domain: Some("Remote.Example".into()) },
                MentionRef { username: "carol".into(), domain: Some(LOCAL.into()) },
            ]
        );
    }

    #[test]
    fn extracts_mentions() {
        assert_eq!(
            extract_mentions(
                "@alice @Alice @bob@remote.example, @BOB@Remote.Example (@carol) x@dave @a.b-c_d. @e@f.g-h"
            ),
            vec![
                MentionRef { username: "alice".into(), domain: None },
                MentionRef { username: "bob".into(), domain: Some("remote.example".into()) },
                MentionRef { username: "carol".into(), domain: None },
                MentionRef { username: "a.b-c_d".into(), domain: None },
                MentionRef { username: "e".into(), domain: Some("f.g-h".into()) },
            ]
        );
        assert_eq!(extract_mentions("no mentions here"), vec![]);
        assert_eq!(
            extract_mentions("@user@日本.example"),
            vec![MentionRef { username: "user".into(), domain: Some("日本.example".into()) }]
        );
    }

    #[test]
    fn format_note_matches_format_status() {
        let ctx = FormatContext { local_domain: LOCAL, base_url: BASE, resolve_mention: &resolver };
        let text = "Hi, I'm @alice.\n\nI post about #rust at https://example.com/blog";
        assert_eq!(format_note(text, &ctx), format_status(text, &ctx));
        assert!(format_note(text, &ctx).starts_with("<p>Hi, I&#39;m <span class=\"h-card\""));
    }

    #[test]
    fn base_url_trailing_slash_is_tolerated() {
        let ctx =
            FormatContext { local_domain: LOCAL, base_url: "https://example.com/", resolve_mention: &no_accounts };
        assert!(format_status("#tag", &ctx).contains("href=\"https://example.com/tags/tag\""));
    }

    #[test]
    fn escapes_html() {
        assert_eq!(escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape_html("plain ünïcode"), "plain ünïcode");
    }

    // --- length ------------------------------------------------------------------

    #[test]
    fn length_counts_plain_text() {
        assert_eq!(status_length(""), 0);
        assert_eq!(status_length("  \n "), 0);
        assert_eq!(status_length("hello"), 5);
        assert_eq!(status_length("héllo wörld"), 11);
        assert_eq!(status_length(" a "), 3);
    }

    #[test]
    fn length_counts_urls_as_23() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(status_length(&long), 23);
        assert_eq!(status_length("hi https://example.com"), 3 + 23);
        assert_eq!(status_length("http://a.co"), 23);
        // Without a scheme it is plain text.
        assert_eq!(status_length("example.com"), 11);
    }

    #[test]
    fn length_counts_remote_mentions_as_local() {
        assert_eq!(status_length("@bob@remote.example hi"), "@bob hi".len());
        assert_eq!(status_length("@alice"), 6);
        // Not a linkable mention: counted in full.
        assert_eq!(status_length("@alice@x"), 8);
    }

    #[test]
    fn length_counts_grapheme_clusters() {
        assert_eq!(status_length("👨‍👩‍👧‍👦"), 1);
        assert_eq!(status_length("👍🏽"), 1);
        assert_eq!(status_length("🇫🇷🇩🇪"), 2);
        assert_eq!(status_length("🇫🇷🇩"), 2);
        assert_eq!(status_length("e\u{301}"), 1);
        assert_eq!(status_length("한국어"), 3);
        assert_eq!(status_length("\u{1100}\u{1161}\u{11A8}"), 1);
        assert_eq!(status_length("a\r\nb"), 3);
        assert_eq!(status_length("नमस्ते"), 4);
        assert_eq!(grapheme_count("❤️"), 1);
        assert_eq!(grapheme_count(""), 0);
    }

    #[test]
    fn long_texts_stay_fast() {
        // Every CJK character may start a domain; ':' and '#' enable every scanner.
        let cjk = format!("{}: #タグ", "日本語のテキスト、".repeat(1500));
        let dotted = format!("{}: #タグ", "日本.語".repeat(1000));
        let start = std::time::Instant::now();
        for text in [cjk.as_str(), dotted.as_str()] {
            let _ = fmt(text);
            let _ = status_length(text);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
