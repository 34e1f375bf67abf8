//! The Mastodon client API. Every route, in URL order; handlers are in `v1/` and `v2/`.

pub mod v1;
pub mod v2;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    use v1::*;
    Router::new()
        .route("/api/v1/accounts", post(accounts::register))
        .route("/api/v1/accounts/verify_credentials", get(accounts::verify_credentials))
        .route("/api/v1/accounts/update_credentials", patch(accounts::update_credentials).layer(upload_limit()))
        .route("/api/v1/accounts/relationships", get(accounts::relationships))
        .route("/api/v1/accounts/lookup", get(accounts::lookup))
        .route("/api/v1/accounts/search", get(accounts::search))
        .route("/api/v1/accounts/{id}", get(accounts::show))
        .route("/api/v1/accounts/{id}/statuses", get(accounts::statuses))
        .route("/api/v1/accounts/{id}/followers", get(accounts::followers))
        .route("/api/v1/accounts/{id}/following", get(accounts::following))
        .route("/api/v1/accounts/{id}/lists", get(accounts::lists))
        .route("/api/v1/accounts/{id}/follow", post(accounts::follow))
        .route("/api/v1/accounts/{id}/unfollow", post(accounts::unfollow))
        .route("/api/v1/accounts/{id}/remove_from_followers", post(accounts::remove_from_followers))
        .route("/api/v1/accounts/{id}/block", post(accounts::block))
        .route("/api/v1/accounts/{id}/unblock", post(accounts::unblock))
        .route("/api/v1/accounts/{id}/mute", post(accounts::mute))
        .route("/api/v1/accounts/{id}/unmute", post(accounts::unmute))
        .route("/api/v1/announcements", get(announcements::index))
        .route("/api/v1/announcements/{id}/dismiss", post(announcements::dismiss))
        .route("/api/v1/announcements/{id}/reactions/{name}", put(announcements::react).delete(announcements::unreact))
        .route("/api/v1/apps", post(apps::create))
        .route("/api/v1/apps/verify_credentials", get(apps::verify_credentials))
        .route("/api/v1/blocks", get(personal::blocks))
        .route("/api/v1/bookmarks", get(personal::bookmarks))
        .route("/api/v1/custom_emojis", get(instance::custom_emojis))
        .route(
            "/api/v1/domain_blocks",
            get(domain_blocks::index).post(domain_blocks::create).delete(domain_blocks::destroy),
        )
        .route("/api/v1/emails/check_confirmation", get(emails::check_confirmation))
        .route("/api/v1/emails/confirmations", post(emails::confirmations))
        .route("/api/v1/favourites", get(personal::favourites))
        .route("/api/v1/filters", get(filters::index).post(filters::create))
        .route("/api/v1/filters/{id}", get(filters::show).put(filters::update).delete(filters::destroy))
        .route("/api/v1/follow_requests", get(follow_requests::index))
        .route("/api/v1/follow_requests/{id}/authorize", post(follow_requests::authorize))
        .route("/api/v1/follow_requests/{id}/reject", post(follow_requests::reject))
        .route("/api/v1/instance", get(instance::v1))
        .route("/api/v1/lists", get(lists::index).post(lists::create))
        .route("/api/v1/lists/{id}", get(lists::show).put(lists::update).delete(lists::destroy))
        .route(
            "/api/v1/lists/{id}/accounts",
            get(lists::accounts).post(lists::add_accounts).delete(lists::remove_accounts),
        )
        .route("/api/v1/markers", get(markers::show).post(markers::update))
        .route("/api/v1/media", post(media::create).layer(upload_limit()))
        .route("/api/v1/media/{id}", get(media::show).put(media::update).layer(upload_limit()).delete(media::destroy))
        .route("/api/v1/mutes", get(personal::mutes))
        .route("/api/v1/profile/avatar", delete(profile::delete_avatar))
        .route("/api/v1/profile/header", delete(profile::delete_header))
        .route("/api/v1/notifications", get(notifications::index))
        .route("/api/v1/notifications/clear", post(notifications::clear))
        .route("/api/v1/notifications/unread_count", get(notifications::unread_count))
        .route("/api/v1/notifications/{id}", get(notifications::show))
        .route("/api/v1/notifications/{id}/dismiss", post(notifications::dismiss))
        .route("/api/v1/polls/{id}", get(polls::show))
        .route("/api/v1/polls/{id}/votes", post(polls::vote))
        .route("/api/v1/reports", post(reports::create))
        .route("/api/v1/preferences", get(accounts::preferences))
        .route("/api/v1/statuses", post(statuses::create).get(statuses::index))
        .route("/api/v1/statuses/{id}", get(statuses::show).delete(statuses::destroy).put(statuses::update))
        .route("/api/v1/statuses/{id}/context", get(statuses::context))
        .route("/api/v1/statuses/{id}/history", get(statuses::history))
        .route("/api/v1/statuses/{id}/source", get(statuses::source))
        .route("/api/v1/statuses/{id}/favourited_by", get(statuses::favourited_by))
        .route("/api/v1/statuses/{id}/reblogged_by", get(statuses::reblogged_by))
        .route("/api/v1/statuses/{id}/favourite", post(statuses::favourite))
        .route("/api/v1/statuses/{id}/unfavourite", post(statuses::unfavourite))
        .route("/api/v1/statuses/{id}/reblog", post(statuses::reblog))
        .route("/api/v1/statuses/{id}/unreblog", post(statuses::unreblog))
        .route("/api/v1/statuses/{id}/bookmark", post(statuses::bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", post(statuses::unbookmark))
        .route("/api/v1/statuses/{id}/pin", post(statuses::pin))
        .route("/api/v1/statuses/{id}/unpin", post(statuses::unpin))
        .route("/api/v1/statuses/{id}/mute", post(statuses::mute))
        .route("/api/v1/statuses/{id}/unmute", post(statuses::unmute))
        .route("/api/v1/timelines/home", get(timelines::home))
        .route("/api/v1/timelines/list/{list_id}", get(timelines::list))
        .route("/api/v1/timelines/public", get(timelines::public))
        .route("/api/v1/timelines/tag/{hashtag}", get(timelines::tag))
        .route("/api/v2/filters", get(v2::filters::index).post(v2::filters::create))
        .route("/api/v2/filters/keywords/{id}", {
            use v2::filters::*;
            get(keyword).put(update_keyword).delete(destroy_keyword)
        })
        .route("/api/v2/filters/statuses/{id}", get(v2::filters::status).delete(v2::filters::destroy_status))
        .route("/api/v2/filters/{id}", get(v2::filters::show).put(v2::filters::update).delete(v2::filters::destroy))
        .route("/api/v2/filters/{id}/keywords", get(v2::filters::keywords).post(v2::filters::add_keyword))
        .route("/api/v2/filters/{id}/statuses", get(v2::filters::statuses).post(v2::filters::add_status))
        .route("/api/v2/instance", get(v2::instance::show))
        .route("/api/v2/media", post(v2::media::create).layer(upload_limit()))
        .route("/api/v2/notifications", get(v2::notifications::index))
        .route("/api/v2/notifications/unread_count", get(v2::notifications::unread_count))
        .route("/api/v2/notifications/{group_key}", get(v2::notifications::show))
        .route("/api/v2/notifications/{group_key}/dismiss", post(v2::notifications::dismiss))
        .route("/api/v2/search", get(v2::search::index))
        .fallback(not_found)
}

/// Uploads stream to disk and stop at their own limit ([`crate::upload`]); the body limit of
/// the other routes would cut them off at 2 MB.
fn upload_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(ferrodon_service::media::UPLOAD_LIMIT as usize + 64 * 1024)
}

/// Unknown API paths answer like Mastodon: 404 with a JSON error.
async fn not_found() -> crate::error::ApiError {
    ferrodon_kernel::Error::not_found().into()
}
