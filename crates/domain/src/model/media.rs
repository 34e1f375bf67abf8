use ferrodon_kernel::{Id, time::Millis};

use super::string_enum;

string_enum! {
    /// What an attachment is, as Mastodon names it.
    MediaKind { Image = "image", Gifv = "gifv", Video = "video", Audio = "audio", Unknown = "unknown" }
}

string_enum! {
    /// Where an upload is in its processing.
    MediaState { Queued = "queued", Processing = "processing", Done = "done", Failed = "failed" }
}

/// The size of one stored version of a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dimensions {
    pub width: u32,
    pub height: u32,
}

impl Dimensions {
    pub fn pixels(self) -> u64 {
        self.width as u64 * self.height as u64
    }
    pub fn aspect(self) -> f64 {
        if self.height == 0 { 0.0 } else { self.width as f64 / self.height as f64 }
    }
    /// The largest size with the same aspect ratio that has at most `max` pixels (itself when
    /// it already fits), as Mastodon's `pixels:` geometry rounds.
    pub fn fit_pixels(self, max: u64) -> Dimensions {
        if self.pixels() <= max || self.pixels() == 0 {
            return self;
        }
        let scale = (max as f64 / self.pixels() as f64).sqrt();
        let width = ((self.width as f64 * scale).floor() as u32).max(1);
        let height = ((self.height as f64 * scale).floor() as u32).max(1);
        Dimensions { width, height }
    }
}

/// What is known of an attachment's content: Mastodon's `meta`, without the focus.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MediaMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<Dimensions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small: Option<Dimensions>,
    /// Seconds, for video and audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

/// A focal point, each axis from -1.0 to 1.0 (Mastodon's `focus`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Focus {
    pub x: f64,
    pub y: f64,
}

/// Focus points are made only from finite numbers (checked where they are read).
impl Eq for Focus {}

/// A media attachment: an upload of a local account, attached to one status or not yet.
#[derive(Clone, Debug)]
pub struct Media {
    pub id: Id,
    pub account_id: Id,
    pub status_id: Option<Id>,
    pub kind: MediaKind,
    pub state: MediaState,
    /// The stored files' keys (in the file store) and types; empty until processed.
    pub file_key: Option<String>,
    pub content_type: Option<String>,
    pub file_size: i64,
    pub small_key: Option<String>,
    /// The upload as it arrived, kept while it waits for processing.
    pub upload_key: Option<String>,
    pub description: Option<String>,
    pub focus: Option<Focus>,
    pub blurhash: Option<String>,
    pub meta: MediaMeta,
    /// A custom thumbnail (`thumbnail` of an upload): the key of its stored image, the preview.
    pub thumbnail_key: Option<String>,
    pub created_at: Millis,
}

impl Media {
    /// The keys of every stored file of the attachment.
    pub fn file_keys(&self) -> Vec<String> {
        [&self.file_key, &self.small_key, &self.upload_key, &self.thumbnail_key]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// A file stored as an upload is processed: a style (`original`, `small`) written to a local
/// temporary path, with its content type and extension.
#[derive(Clone, Debug)]
pub struct ProcessedFile {
    pub path: std::path::PathBuf,
    pub content_type: String,
    pub extension: String,
    pub size: u64,
    pub dimensions: Option<Dimensions>,
}

/// What processing made of an upload.
#[derive(Clone, Debug)]
pub struct Processed {
    pub kind: MediaKind,
    pub original: ProcessedFile,
    pub small: Option<ProcessedFile>,
    pub blurhash: Option<String>,
    pub meta: MediaMeta,
}

/// The images of a profile, as Mastodon sizes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileImage {
    /// Cropped to fill 400×400 pixels.
    Avatar,
    /// Downscaled to at most 1500×500 pixels' worth, keeping its shape.
    Header,
}

impl ProfileImage {
    pub const AVATAR_SIDE: u32 = 400;
    pub const HEADER_PIXELS: u64 = 1500 * 500;

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileImage::Avatar => "avatar",
            ProfileImage::Header => "header",
        }
    }
}

/// A custom emoji of this server (`:shortcode:` in posts), its image kept in the file store as
/// it was given, with a still PNG (`static`) beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomEmoji {
    pub id: Id,
    pub shortcode: String,
    pub image_key: String,
    pub static_key: String,
    pub content_type: String,
    pub category: Option<String>,
    pub visible_in_picker: bool,
    pub disabled: bool,
    pub created_at: Millis,
}
