//! Mastodon entities for search: `Search` (accounts, statuses, hashtags).

use ferrodon_kernel::Result;
use ferrodon_mastodon_api as api;

use super::{accounts, statuses};
use crate::search::Found;
use crate::{Services, Viewer};

/// `GET /api/v2/search`: the statuses as `viewer` sees them (read in a transaction of their own
/// when there are any).
pub async fn search(svc: &Services, viewer: Option<&Viewer>, found: &Found) -> Result<api::Search> {
    let base = svc.base_url();
    Ok(api::Search {
        accounts: accounts(svc, &found.accounts),
        statuses: statuses(svc, viewer, &found.statuses).await?,
        hashtags: found
            .tags
            .iter()
            .map(|t| api::Tag {
                id: t.id.to_string(),
                url: format!("{base}/tags/{}", t.name.to_lowercase()),
                name: t.name.to_lowercase(),
                history: Vec::new(),
                following: false,
                featuring: false,
            })
            .collect(),
    })
}
