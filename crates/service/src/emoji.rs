//! This server's custom emoji: added by an admin (`ferrodon emoji import`, as tootctl's), listed
//! for clients (`GET /api/v1/custom_emojis`), and found as `:shortcode:` in the posts of local
//! accounts, which carry them in `emojis` and as `Emoji` tags to other servers.

use ferrodon_domain::model::{CustomEmoji, MediaKind, RemoteEmoji};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Result};

use crate::Services;
use crate::auth::now;
use crate::media::{self, Upload};

/// Mastodon's limit of an emoji's image.
pub const EMOJI_SIZE_LIMIT: u64 = 256 * 1024;
const EMOJI_TYPES: [(&str, &str); 3] = [("image/png", "png"), ("image/gif", "gif"), ("image/webp", "webp")];

/// Whether `s` may be a shortcode: two or more letters, digits or underscores.
pub fn valid_shortcode(s: &str) -> bool {
    s.len() >= 2 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Adds (or with `overwrite`, replaces) the emoji `shortcode` with the image in `file`: kept as
/// it was given (PNG, GIF or WebP, at most 256 KB), with a still PNG beside it. `false` when it
/// exists and is kept.
pub async fn add(
    svc: &Services,
    shortcode: &str,
    file: Upload,
    category: Option<&str>,
    overwrite: bool,
) -> Result<bool> {
    if !valid_shortcode(shortcode) {
        return Err(Error::validation(format!("Validation failed: Shortcode {shortcode:?} is invalid")));
    }
    let existing = svc.db.read().await?.custom_emojis_named(&[shortcode.to_string()]).await?.pop();
    if existing.is_some() && !overwrite {
        return Ok(false);
    }
    if file.size > EMOJI_SIZE_LIMIT {
        return Err(Error::validation("Validation failed: Image file size must be less than 256 KB"));
    }
    let id = existing.as_ref().map_or_else(Id::generate, |e| e.id);
    let stored = media::store_emoji_image(svc, id, file).await?;
    let (image_key, static_key, content_type) = stored;
    let emoji = CustomEmoji {
        id,
        shortcode: shortcode.to_string(),
        image_key: image_key.clone(),
        static_key: static_key.clone(),
        content_type,
        category: category.map(str::to_string).filter(|c| !c.trim().is_empty()),
        visible_in_picker: true,
        disabled: false,
        created_at: existing.as_ref().map_or_else(now, |e| e.created_at),
    };
    let written = async {
        let mut tx = svc.db.write().await?;
        // A replaced emoji's files stay: posts written with it name them.
        tx.upsert_custom_emoji(&emoji).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = written {
        media::discard_files(svc, vec![image_key, static_key]).await;
        return Err(e);
    }
    Ok(true)
}

/// The emoji clients may use (`GET /api/v1/custom_emojis`).
pub async fn list(svc: &Services) -> Result<Vec<CustomEmoji>> {
    Ok(svc.db.read().await?.custom_emojis().await?.into_iter().filter(|e| !e.disabled).collect())
}

/// The shortcodes written as `:shortcode:` in `text`, where the colons stand apart from
/// letters, digits and other colons (Mastodon's rule).
fn shortcodes_in(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let apart = |b: Option<&u8>| b.is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b':'));
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(start) = text[i..].find(':').map(|p| p + i) {
        let rest = &text[start + 1..];
        let len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        let end = start + 1 + len;
        if len >= 2
            && bytes.get(end) == Some(&b':')
            && apart(start.checked_sub(1).and_then(|p| bytes.get(p)))
            && apart(bytes.get(end + 1))
        {
            let name = &text[start + 1..end];
            if !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
            i = end + 1;
        } else {
            i = start + 1;
        }
    }
    out
}

/// The custom emoji `texts` use, as a status carries them.
pub(crate) async fn used_in(svc: &Services, tx: &mut Box<dyn Tx>, texts: &[&str]) -> Result<Vec<RemoteEmoji>> {
    let mut names: Vec<String> = Vec::new();
    for text in texts {
        for name in shortcodes_in(text) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let found = tx.custom_emojis_named(&names).await?;
    Ok(found
        .into_iter()
        .filter(|e| !e.disabled)
        .filter_map(|e| Some(RemoteEmoji { url: media::url(svc, &e.image_key)?, shortcode: e.shortcode }))
        .collect())
}

/// Whether an emoji's image may be of the sniffed type, and the extension it is stored with.
pub(crate) fn emoji_extension(kind: MediaKind, content_type: &str) -> Option<&'static str> {
    EMOJI_TYPES.iter().find(|(t, _)| kind == MediaKind::Image && *t == content_type).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_stand_apart() {
        assert_eq!(shortcodes_in(":blob: and :blob_cat:!"), ["blob", "blob_cat"]);
        assert_eq!(shortcodes_in("a:blob: x:y: ::a: 12:30:45 :blob:"), ["blob"]);
        assert_eq!(shortcodes_in(":ok::no:"), Vec::<String>::new());
        assert_eq!(shortcodes_in("(:heart:)"), ["heart"]);
        assert!(valid_shortcode("blob_cat2") && !valid_shortcode("b") && !valid_shortcode("blob-cat"));
    }
}
