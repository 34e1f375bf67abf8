//! `/api/v1/*` handlers, one file per resource.

pub mod accounts;
pub mod announcements;
pub mod apps;
pub mod domain_blocks;
pub mod emails;
pub mod filters;
pub mod follow_requests;
pub mod instance;
pub mod lists;
pub mod markers;
pub mod media;
pub mod notifications;
pub mod personal;
pub mod polls;
pub mod profile;
pub mod reports;
pub mod statuses;
pub mod timelines;

use axum::http::Uri;
use ferrodon_kernel::Page;

use crate::AppState;
use crate::link::Paged;

/// Wraps a page for the `Link` header.
pub(crate) fn paged<T>(s: &AppState, uri: Uri, page: Page<T>) -> Paged<T> {
    Paged { page, base_url: s.svc.base_url(), uri }
}
