//! Mastodon entities for reports: `Report`.

use ferrodon_kernel::Id;
use ferrodon_kernel::time::rfc3339;
use ferrodon_mastodon_api as api;

use super::account;
use crate::Services;
use crate::reports::Filed;

/// The report its reporter just filed (`POST /api/v1/reports`).
pub fn report(svc: &Services, f: &Filed) -> api::Report {
    let r = &f.report;
    api::Report {
        id: r.id.to_string(),
        action_taken: r.action_taken_at.is_some(),
        action_taken_at: r.action_taken_at.map(rfc3339),
        category: r.category.clone(),
        comment: r.comment.clone(),
        forwarded: r.forwarded,
        created_at: rfc3339(r.created_at),
        status_ids: Some(r.status_ids().iter().map(Id::to_string).collect()),
        rule_ids: Some(r.rule_ids()),
        target_account: account(svc, &f.target),
    }
}
