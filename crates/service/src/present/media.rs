//! `MediaAttachment`s: uploads as their owner sees them, and the attachments of statuses.

use ferrodon_domain::model::{Dimensions, Focus, Media, MediaState, Status, StatusMedia};
use ferrodon_mastodon_api as api;
use serde_json::{Map, Value, json};

use crate::{Services, media};

fn size(d: Dimensions) -> Value {
    json!({"width": d.width, "height": d.height, "size": format!("{}x{}", d.width, d.height), "aspect": d.aspect()})
}

/// Mastodon's `length` ("0:01:05.12") and `duration` (seconds) of video and audio, in `meta`
/// and in `meta.original`.
fn with_duration(meta: &mut Value, duration: Option<f64>) {
    let (Some(d), Value::Object(o)) = (duration, meta) else { return };
    let centis = (d * 100.0).round() as u64;
    let length = format!("{}:{:02}:{:02}.{:02}", centis / 360_000, centis / 6000 % 60, centis / 100 % 60, centis % 100);
    o.insert("length".into(), json!(length));
    o.insert("duration".into(), json!(d));
    let original = o.entry("original").or_insert_with(|| json!({}));
    if let Value::Object(original) = original {
        original.insert("duration".into(), json!(d));
    }
}

fn meta(original: Option<Dimensions>, small: Option<Dimensions>, focus: Option<Focus>) -> Value {
    let mut m = Map::new();
    if let Some(f) = focus {
        m.insert("focus".into(), json!({"x": f.x, "y": f.y}));
    }
    if let Some(o) = original {
        m.insert("original".into(), size(o));
    }
    if let Some(s) = small {
        m.insert("small".into(), size(s));
    }
    Value::Object(m)
}

/// An upload, as `/api/v1/media` answers: `url` null until processed.
pub fn media(svc: &Services, m: &Media) -> api::MediaAttachment {
    let done = m.state == MediaState::Done;
    let url = |k: &Option<String>| k.as_deref().filter(|_| done).and_then(|k| media::url(svc, k));
    let mut meta = meta(m.meta.original, m.meta.small, m.focus);
    with_duration(&mut meta, m.meta.duration);
    api::MediaAttachment {
        id: m.id.to_string(),
        kind: m.kind.as_str().to_string(),
        url: url(&m.file_key),
        preview_url: url(&m.thumbnail_key).or_else(|| url(&m.small_key)),
        remote_url: None,
        preview_remote_url: None,
        text_url: None,
        meta,
        description: m.description.clone(),
        blurhash: m.blurhash.clone(),
    }
}

/// A status' attachments. A local post's are its uploads; a remote post's are served from the
/// copies kept here once made (`remote_url` tells where its server keeps them), with ids
/// derived from the status id.
pub(crate) fn attachments(svc: &Services, s: &Status) -> Vec<api::MediaAttachment> {
    s.media().into_iter().enumerate().map(|(i, m)| attachment(svc, s, i, m)).collect()
}

fn attachment(svc: &Services, s: &Status, i: usize, m: StatusMedia) -> api::MediaAttachment {
    let original = match (m.width, m.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Some(Dimensions { width: w as u32, height: h as u32 }),
        _ => None,
    };
    let remote = !s.local;
    let cached = |key: &Option<String>| key.as_deref().and_then(|k| media::url(svc, k));
    let (url, preview_url) = match cached(&m.cached_key) {
        Some(url) => (url, cached(&m.cached_small_key)),
        None => (m.url.clone(), m.preview_url.clone()),
    };
    api::MediaAttachment {
        id: m.id.map(|id| id.0).unwrap_or(s.id.0.wrapping_mul(16).wrapping_add(i as i64)).to_string(),
        kind: m.kind,
        preview_url: preview_url.or_else(|| Some(url.clone())),
        remote_url: remote.then(|| m.url.clone()),
        preview_remote_url: m.preview_url.filter(|_| remote),
        url: Some(url),
        text_url: None,
        meta: {
            let mut meta = meta(original, m.small, m.focus);
            with_duration(&mut meta, m.duration);
            meta
        },
        description: m.description,
        blurhash: m.blurhash,
    }
}

/// This server's custom emoji, as `/api/v1/custom_emojis` lists them.
pub fn custom_emojis(svc: &Services, list: &[ferrodon_domain::model::CustomEmoji]) -> Vec<api::CustomEmoji> {
    list.iter()
        .filter_map(|e| {
            Some(api::CustomEmoji {
                shortcode: e.shortcode.clone(),
                url: media::url(svc, &e.image_key)?,
                static_url: media::url(svc, &e.static_key)?,
                visible_in_picker: e.visible_in_picker,
                category: e.category.clone(),
            })
        })
        .collect()
}
