//! Mastodon entities for accounts: `Account`, the owner's `CredentialAccount`, `Preferences`.

use ferrodon_domain::model::{Account, User};
use ferrodon_kernel::time::{date, rfc3339};
use ferrodon_mastodon_api as api;

use crate::Services;
use crate::accounts::Credentials;

impl Services {
    pub(crate) fn avatar_missing(&self) -> String {
        format!("{}/avatars/original/missing.png", self.base_url())
    }
    pub(crate) fn header_missing(&self) -> String {
        format!("{}/headers/original/missing.png", self.base_url())
    }
}

/// A profile field value as Mastodon shows it: one line, links and hashtags made clickable.
fn field_html(svc: &Services, value: &str) -> String {
    use ferrodon_domain::rules::text;
    let base = svc.base_url();
    let no_mentions = |_: &text::MentionRef| None;
    let ctx =
        text::FormatContext { local_domain: &svc.config.local_domain, base_url: &base, resolve_mention: &no_mentions };
    let one_line = value.replace(['\r', '\n'], " ");
    let html = text::format_note(one_line.trim(), &ctx);
    html.strip_prefix("<p>").and_then(|h| h.strip_suffix("</p>")).map(str::to_string).unwrap_or(html)
}

fn remote_or(url: &str, missing: impl FnOnce() -> String) -> String {
    if url.starts_with("https://") || url.starts_with("http://") { url.to_string() } else { missing() }
}

/// An account's avatar or header: a local account's stored file, a remote account's image
/// where its server keeps it, or the default image.
fn image(svc: &Services, file: &Option<String>, remote: &str, missing: impl FnOnce() -> String) -> String {
    match file.as_deref().and_then(|key| crate::media::url(svc, key)) {
        Some(url) => url,
        None => remote_or(remote, missing),
    }
}

pub fn account(svc: &Services, a: &Account) -> api::Account {
    let suspended = a.suspended_at.is_some();
    api::Account {
        id: a.id.to_string(),
        username: a.username.clone(),
        acct: a.acct(),
        url: a.url.clone(),
        uri: a.uri.clone(),
        display_name: if suspended { String::new() } else { a.display_name.clone() },
        note: if suspended { String::new() } else { a.note.clone() },
        // Remote images are linked where they are until media caching exists. Stored images
        // are never animated, so the static one is the same.
        avatar: image(svc, &a.avatar_file, &a.avatar_remote_url, || svc.avatar_missing()),
        avatar_static: image(svc, &a.avatar_file, &a.avatar_remote_url, || svc.avatar_missing()),
        avatar_description: String::new(),
        header: image(svc, &a.header_file, &a.header_remote_url, || svc.header_missing()),
        header_static: image(svc, &a.header_file, &a.header_remote_url, || svc.header_missing()),
        header_description: String::new(),
        locked: a.locked,
        fields: if suspended {
            Vec::new()
        } else {
            a.fields()
                .into_iter()
                .map(|f| api::Field { value: field_html(svc, &f.value), name: f.name, verified_at: None })
                .collect()
        },
        emojis: if suspended { Vec::new() } else { super::statuses::emojis(a.emojis()) },
        bot: a.bot,
        group: false,
        discoverable: Some(a.discoverable),
        indexable: a.indexable,
        hide_collections: Some(a.hide_collections),
        noindex: Some(!a.indexable),
        memorial: false,
        suspended,
        limited: a.silenced_at.is_some(),
        created_at: rfc3339(a.created_at - a.created_at.rem_euclid(86_400_000)),
        last_status_at: a.last_status_at.map(date),
        statuses_count: a.statuses_count,
        followers_count: a.followers_count,
        following_count: a.following_count,
        roles: Vec::new(),
        source: None,
        role: None,
    }
}

pub fn accounts(svc: &Services, list: &[Account]) -> Vec<api::Account> {
    list.iter().map(|a| account(svc, a)).collect()
}

/// The account with `source` and `role`, for its owner (verify_credentials).
pub fn credential_account(svc: &Services, c: &Credentials) -> api::Account {
    let (a, u) = (&c.account, &c.user);
    let mut out = account(svc, a);
    out.source = Some(api::Source {
        note: a.note_source.clone(),
        fields: a
            .fields()
            .into_iter()
            .map(|f| api::Field { name: f.name, value: f.value, verified_at: None })
            .collect(),
        privacy: u.default_visibility.as_str().into(),
        sensitive: u.default_sensitive,
        language: u.default_language.clone(),
        follow_requests_count: c.follow_requests_count,
        hide_collections: Some(a.hide_collections),
        discoverable: Some(a.discoverable),
        indexable: a.indexable,
        attribution_domains: Vec::new(),
        quote_policy: "public".into(),
    });
    out.role = Some(api::Role {
        id: u.role.mastodon_id().into(),
        name: u.role.display_name().into(),
        color: String::new(),
        permissions: u.role.permissions().into(),
        highlighted: u.role != ferrodon_domain::model::Role::User,
    });
    out
}

/// `GET /api/v1/preferences`: the user's posting defaults and reading settings.
pub fn preferences(u: &User) -> serde_json::Value {
    serde_json::json!({
        "posting:default:visibility": u.default_visibility.as_str(),
        "posting:default:sensitive": u.default_sensitive,
        "posting:default:language": u.default_language,
        "posting:default:quote_policy": "public",
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
        "reading:autoplay:gifs": false,
    })
}
