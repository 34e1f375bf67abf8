//! What the templates show: the pages' values, and a post as a page shows it.

use askama::Template;
use ferrodon_mastodon_api as api;

/// What every page shows of the server.
pub struct Site {
    pub domain: String,
    pub registrations_open: bool,
}

/// A post on a page: a status (or a boost of one) as the API presents it.
pub struct Post {
    pub s: api::Status,
    /// Who boosted it, for a boost.
    pub reblogged_by: Option<String>,
    /// The post a thread's page is about.
    pub focus: bool,
}

impl Post {
    /// The status shown: the boosted one for a boost.
    pub fn status(&self) -> &api::Status {
        self.s.reblog.as_deref().unwrap_or(&self.s)
    }

    pub fn name(&self) -> &str {
        display_name(&self.status().account)
    }

    /// Its page.
    pub fn link(&self) -> &str {
        let s = self.status();
        s.url.as_deref().unwrap_or(&s.uri)
    }

    /// `2026-12-06`.
    pub fn date(&self) -> &str {
        self.status().created_at.get(..10).unwrap_or_default()
    }

    /// RSS's date (RFC 822): `Sun, 06 Dec 2026 22:24:30 +0000`.
    pub fn rfc822(&self) -> String {
        let created = &self.status().created_at;
        let Some(ms) = ferrodon_kernel::time::parse_rfc3339(created) else { return String::new() };
        let days = ms.div_euclid(86_400_000);
        const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let month = created.get(5..7).and_then(|m| m.parse::<usize>().ok()).unwrap_or(1);
        format!(
            "{}, {} {} {} {} +0000",
            WEEKDAYS[days.rem_euclid(7) as usize],
            created.get(8..10).unwrap_or("01"),
            MONTHS[month.clamp(1, 12) - 1],
            created.get(..4).unwrap_or("1970"),
            created.get(11..19).unwrap_or("00:00:00"),
        )
    }

    /// The MIME type an RSS enclosure of an attachment of `kind` has.
    pub fn mime(&self, kind: &str) -> &'static str {
        match kind {
            "video" | "gifv" => "video/mp4",
            "audio" => "audio/mpeg",
            _ => "image/jpeg",
        }
    }

    pub fn medium(&self, kind: &str) -> &'static str {
        match kind {
            "video" | "gifv" => "video",
            "audio" => "audio",
            _ => "image",
        }
    }
}

/// Posts as pages show them; `focus` is the id of a thread's post.
pub fn posts(list: Vec<api::Status>, focus: Option<&str>) -> Vec<Post> {
    list.into_iter()
        .map(|s| Post {
            reblogged_by: s.reblog.as_ref().map(|_| display_name(&s.account).to_string()),
            focus: focus == Some(s.id.as_str()),
            s,
        })
        .collect()
}

/// The name an account shows: its display name, or its username.
pub fn display_name(a: &api::Account) -> &str {
    if a.display_name.trim().is_empty() { &a.username } else { &a.display_name }
}

pub fn escape(s: &str) -> String {
    ferrodon_domain::rules::text::escape_html(s)
}

/// A path segment, percent-encoded where it must be.
pub fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain-text summary of HTML (for descriptions), at most 160 characters.
fn summary(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ");
    match joined.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
pub struct Profile {
    pub site: Site,
    pub account: api::Account,
    pub name: String,
    pub summary: String,
    pub posts: Vec<Post>,
    pub older: Option<String>,
}

impl Profile {
    pub fn new(site: Site, account: api::Account, posts: Vec<Post>, older: Option<String>) -> Profile {
        let name = display_name(&account).to_string();
        let summary = summary(&account.note);
        Profile { site, account, name, summary, posts, older }
    }
}

#[derive(Template)]
#[template(path = "thread.html")]
pub struct Thread {
    pub site: Site,
    pub title: String,
    pub summary: String,
    pub url: String,
    pub uri: String,
    pub image: Option<String>,
    pub oembed: String,
    pub posts: Vec<Post>,
}

impl Thread {
    pub fn new(site: Site, base_url: &str, main: &api::Status, posts: Vec<Post>) -> Thread {
        let title = format!(
            "{}: \"{}\"",
            display_name(&main.account),
            summary(&main.content).chars().take(60).collect::<String>()
        );
        let url = main.url.clone().unwrap_or_else(|| main.uri.clone());
        let summary = if main.spoiler_text.is_empty() { summary(&main.content) } else { main.spoiler_text.clone() };
        // No picture of a sensitive post in link previews elsewhere.
        let image = (!main.sensitive)
            .then(|| main.media_attachments.iter().find(|m| m.kind == "image").and_then(|m| m.preview_url.clone()))
            .flatten();
        let oembed = format!("{base_url}/api/oembed?url={}", path_segment(&url));
        Thread { site, title, summary, uri: main.uri.clone(), url, image, oembed, posts }
    }
}

#[derive(Template)]
#[template(path = "timeline.html")]
pub struct Timeline {
    pub site: Site,
    pub heading: String,
    pub intro: Option<String>,
    pub posts: Vec<Post>,
    pub older: Option<String>,
    pub feed: Option<String>,
}

#[derive(Template)]
#[template(path = "page.html")]
pub struct Page {
    pub site: Site,
    pub title: String,
    /// Markup made here (its values escaped).
    pub body: String,
}

#[derive(Template)]
#[template(path = "feed.rss", escape = "html")]
pub struct Feed {
    pub title: String,
    pub description: String,
    pub link: String,
    pub image: Option<String>,
    pub posts: Vec<Post>,
}
