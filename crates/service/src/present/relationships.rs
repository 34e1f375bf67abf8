//! Mastodon entities for relationships: `Relationship`.

use ferrodon_domain::model::Relationship;
use ferrodon_kernel::time::rfc3339;
use ferrodon_mastodon_api as api;

pub fn relationship(r: &Relationship) -> api::Relationship {
    let f = r.following.as_ref().or(r.requested.as_ref());
    api::Relationship {
        id: r.target_id.to_string(),
        following: r.following.is_some(),
        showing_reblogs: f.is_some_and(|f| f.show_reblogs),
        notifying: f.is_some_and(|f| f.notify),
        languages: f.and_then(|f| f.languages.as_ref()).map(|l| l.split(',').map(str::to_string).collect()),
        followed_by: r.followed_by,
        blocking: r.blocking,
        blocked_by: r.blocked_by,
        muting: r.muting.is_some(),
        muting_notifications: r.muting.as_ref().is_some_and(|m| m.hide_notifications),
        muting_expires_at: r.muting.as_ref().and_then(|m| m.expires_at).map(rfc3339),
        requested: r.requested.is_some(),
        requested_by: r.requested_by,
        domain_blocking: r.domain_blocking,
        endorsed: false,
        note: r.note.clone(),
    }
}

pub fn relationships(list: &[Relationship]) -> Vec<api::Relationship> {
    list.iter().map(relationship).collect()
}
