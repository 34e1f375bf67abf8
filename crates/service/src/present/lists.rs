//! Mastodon entities for lists: `List`.

use ferrodon_domain::model::List;
use ferrodon_mastodon_api as api;

pub fn list(l: &List) -> api::List {
    api::List {
        id: l.id.to_string(),
        title: l.title.clone(),
        replies_policy: l.replies_policy.clone(),
        exclusive: l.exclusive,
    }
}

pub fn lists(all: &[List]) -> Vec<api::List> {
    all.iter().map(list).collect()
}
