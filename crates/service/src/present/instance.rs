//! Mastodon entities for the instance: `Instance` (`/api/v2/instance`) and the older `V1_Instance`
//! (`/api/v1/instance`), with the server's configuration and limits.

use ferrodon_config::RegistrationsMode;
use serde_json::{Value, json};

use crate::instance::{API_VERSION, SOURCE_URL, Stats, Usage, VERSION};
use crate::{Services, limits};

fn configuration(svc: &Services) -> Value {
    let streaming = svc.config.streaming_api_base_url.clone().unwrap_or_else(|| {
        let ws = if svc.config.scheme == "https" { "wss" } else { "ws" };
        format!("{ws}://{}", svc.config.web_domain)
    });
    json!({
        "urls": {
            "streaming": streaming,
            "status": null,
            "about": format!("{}/about", svc.base_url()),
            "privacy_policy": format!("{}/privacy-policy", svc.base_url()),
            "terms_of_service": null,
        },
        "vapid": { "public_key": "" },
        "accounts": {
            "max_display_name_length": limits::MAX_DISPLAY_NAME_CHARS,
            "max_note_length": limits::MAX_NOTE_CHARS,
            "max_featured_tags": 10,
            "max_pinned_statuses": limits::MAX_PINNED_STATUSES,
            "max_profile_fields": limits::MAX_PROFILE_FIELDS,
            "profile_field_name_limit": limits::PROFILE_FIELD_NAME_CHARS,
            "profile_field_value_limit": limits::PROFILE_FIELD_VALUE_CHARS,
        },
        "statuses": {
            "max_characters": limits::MAX_STATUS_CHARS,
            "max_media_attachments": limits::MAX_MEDIA_ATTACHMENTS,
            "characters_reserved_per_url": limits::CHARACTERS_RESERVED_PER_URL,
        },
        // What this build processes: the processor's types (images until ffmpeg is connected).
        "media_attachments": {
            "supported_mime_types": crate::media::supported_types(svc),
            "description_limit": crate::media::DESCRIPTION_LIMIT,
            "image_size_limit": crate::media::IMAGE_SIZE_LIMIT,
            "image_matrix_limit": crate::media::IMAGE_MATRIX_LIMIT,
            "video_size_limit": crate::media::VIDEO_SIZE_LIMIT,
            "video_frame_rate_limit": crate::media::VIDEO_FRAME_RATE_LIMIT,
            "video_matrix_limit": crate::media::VIDEO_MATRIX_LIMIT,
        },
        "polls": {
            "max_options": limits::MAX_POLL_OPTIONS,
            "max_characters_per_option": limits::MAX_POLL_OPTION_CHARS,
            "min_expiration": limits::MIN_POLL_EXPIRATION,
            "max_expiration": limits::MAX_POLL_EXPIRATION,
        },
        "translation": { "enabled": false },
        "timelines_access": {
            "live_feeds": { "local": "public", "remote": "public" },
            "hashtag_feeds": { "local": "public", "remote": "public" },
            "trending_link_feeds": { "local": "public", "remote": "public" },
        },
        "limited_federation": svc.config.limited_federation_mode,
    })
}

/// `GET /api/v2/instance`: the `Instance`.
pub fn instance(svc: &Services, usage: &Usage) -> Value {
    let (active_month, mode) = (usage.active_month, usage.registrations);
    json!({
        "domain": svc.config.local_domain,
        "title": "ferrodon",
        "version": VERSION,
        "source_url": SOURCE_URL,
        "description": "A Mastodon-compatible server.",
        "usage": { "users": { "active_month": active_month } },
        "thumbnail": { "url": format!("{}/thumbnail.png", svc.base_url()), "blurhash": null, "versions": {} },
        "icon": [],
        "languages": ["en"],
        "configuration": configuration(svc),
        "registrations": {
            "enabled": mode != RegistrationsMode::None,
            "approval_required": mode == RegistrationsMode::Approved,
            "reason_required": false,
            "message": null,
            "min_age": null,
            "url": null,
        },
        "api_versions": { "mastodon": API_VERSION },
        "contact": { "email": svc.config.contact_email, "account": null },
        "rules": [],
    })
}

/// `GET /api/v1/instance` (deprecated, still used by many clients): the `V1_Instance`.
pub fn v1_instance(svc: &Services, stats: &Stats) -> Value {
    let (users, statuses, mode) = (stats.users, stats.statuses, stats.registrations);
    let mut config = configuration(svc);
    if let Some(c) = config.as_object_mut() {
        c.remove("urls");
        c.remove("vapid");
        c.remove("timelines_access");
        c.remove("limited_federation");
        c.remove("translation");
    }
    let streaming = svc.config.streaming_api_base_url.clone().unwrap_or_else(|| {
        let ws = if svc.config.scheme == "https" { "wss" } else { "ws" };
        format!("{ws}://{}", svc.config.web_domain)
    });
    json!({
        "uri": svc.config.local_domain,
        "title": "ferrodon",
        "short_description": "A Mastodon-compatible server.",
        "description": "",
        "email": svc.config.contact_email,
        "version": VERSION,
        "urls": { "streaming_api": streaming },
        "stats": { "user_count": users, "status_count": statuses, "domain_count": 0 },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": mode != RegistrationsMode::None,
        "approval_required": mode == RegistrationsMode::Approved,
        "invites_enabled": false,
        "configuration": config,
        "contact_account": null,
        "rules": [],
    })
}
