use axum::Json;
use axum::extract::State;
use ferrodon_domain::model::ProfileImage;
use ferrodon_mastodon_api::Account;
use ferrodon_service::{accounts, present};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;

/// `DELETE /api/v1/profile/avatar`: back to the default avatar.
pub async fn delete_avatar(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Account>> {
    delete_image(s, caller, ProfileImage::Avatar).await
}

/// `DELETE /api/v1/profile/header`: back to the default header.
pub async fn delete_header(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Account>> {
    delete_image(s, caller, ProfileImage::Header).await
}

async fn delete_image(
    s: AppState,
    caller: ferrodon_service::auth::Caller,
    kind: ProfileImage,
) -> ApiResult<Json<Account>> {
    let me = caller.require_user("write:accounts")?;
    let updated = accounts::delete_profile_image(&s.svc, me, kind).await?;
    Ok(Json(present::credential_account(&s.svc, &updated)))
}
