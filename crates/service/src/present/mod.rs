//! Mastodon entities: the one part of the service that knows Mastodon's JSON shapes (the types
//! of `ferrodon_mastodon_api`). Service areas return domain values; handlers present them here.
//! Where an entity needs more than the domain value carries (the viewer's interactions, accounts,
//! polls, filters …), its function opens a read transaction of its own and loads it in a fixed
//! number of queries; the `_in` variants do it in a transaction the service already holds.

mod accounts;
mod announcements;
mod filters;
mod instance;
mod lists;
mod media;
mod notifications;
mod oauth;
mod relationships;
mod reports;
mod search;
mod statuses;

pub use accounts::{account, accounts, credential_account, preferences};
pub use announcements::announcements;
pub(crate) use announcements::announcements_in;
pub(crate) use filters::filter_results;
pub use filters::{
    filter, filter_keyword, filter_keywords, filter_status, filter_statuses, filters, v1_filter, v1_filters,
};
pub use instance::{instance, v1_instance};
pub use lists::{list, lists};
pub use media::{custom_emojis, media};
pub(crate) use notifications::notifications_in;
pub use notifications::{grouped_notifications, markers, notification, notification_page, notifications};
pub use oauth::{application, credential_application, token};
pub use relationships::{relationship, relationships};
pub use reports::report;
pub use search::search;
pub use statuses::{context, deleted_status, history, poll, reblog, status, status_page, status_source, statuses};
pub(crate) use statuses::{conversation, status_for_each, status_in, statuses_in};
