//! Link previews (Mastodon's preview cards): what the first link of a post shows, read from
//! the page it links to and kept once per URL.

use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;

use super::string_enum;

string_enum!(
    /// What a card shows: a page, a picture, or a player to embed.
    CardKind { Link = "link", Photo = "photo", Video = "video" }
);

/// A page as its oEmbed or OpenGraph description tells it (read by the federation port).
/// Texts are plain (no markup) but `html`, which is only ever an `<iframe>` made here.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkPreview {
    /// The page's canonical address (its `og:url` on the same host), or the one linked.
    pub url: String,
    pub kind: CardKind,
    pub title: String,
    pub description: String,
    pub author_name: String,
    pub author_url: String,
    pub provider_name: String,
    pub provider_url: String,
    /// A player (`video`): an `<iframe>` of an https page.
    pub html: String,
    pub width: i64,
    pub height: i64,
    /// The picture to show, where the page names one.
    pub image_url: Option<String>,
    pub image_description: String,
    /// A `photo`'s full-size picture.
    pub embed_url: String,
    pub language: Option<String>,
    pub published_at: Option<Millis>,
}

impl LinkPreview {
    /// An empty description of `url`.
    pub fn of(url: &str) -> Self {
        Self {
            url: url.to_string(),
            kind: CardKind::Link,
            title: String::new(),
            description: String::new(),
            author_name: String::new(),
            author_url: String::new(),
            provider_name: String::new(),
            provider_url: String::new(),
            html: String::new(),
            width: 0,
            height: 0,
            image_url: None,
            image_description: String::new(),
            embed_url: String::new(),
            language: None,
            published_at: None,
        }
    }
}

/// A card kept here: the page's description, with a copy of its picture in the file store.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewCard {
    pub id: Id,
    pub preview: LinkPreview,
    /// The picture, in the file store (`preview_cards/images/…`).
    pub image_key: Option<String>,
    pub blurhash: Option<String>,
    pub created_at: Millis,
    /// When the page was last read.
    pub updated_at: Millis,
}

impl PreviewCard {
    /// How long a page's description is trusted before it is read again (Mastodon's two
    /// weeks).
    pub const FRESH_FOR: Millis = 14 * 24 * 3600 * 1000;
    /// The longest address a card is kept for, in bytes (Mastodon's, within what a PostgreSQL
    /// index entry may hold).
    pub const URL_LIMIT: usize = 2692;

    /// Whether it may serve as it is at `now`: read recently, with its picture when it names
    /// one.
    pub fn fresh(&self, now: Millis) -> bool {
        now - self.updated_at < Self::FRESH_FOR && (self.preview.image_url.is_none() || self.image_key.is_some())
    }
}
