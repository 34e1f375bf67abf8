//! `/api/v1/accounts/*` and `/api/v1/preferences`

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::response::IntoResponse;
use axum::response::Response;
use ferrodon_domain::model::{AccountStatusFilter, ProfileField};
use ferrodon_kernel::{Error, Id};
use ferrodon_mastodon_api::{Account, Relationship, Token};
use ferrodon_service::{accounts, present, relationships, timelines};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;
use crate::upload::WithFiles;

fn account_id(raw: &str) -> ApiResult<Id> {
    Ok(Id::parse(raw).ok_or_else(Error::not_found)?)
}

/// `POST /api/v1/accounts` (registration, app token)
pub async fn register(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Token>> {
    let (username, email, password) = (p.str("username"), p.str("email"), p.str("password"));
    let locale = p.str("locale").unwrap_or_else(|| "en".into());
    let (invite_code, reason) = (p.str("invite_code"), p.str("reason"));
    let sign_up = accounts::SignUp {
        username: username.as_deref().unwrap_or_default(),
        email: email.as_deref().unwrap_or_default(),
        password: password.as_deref().unwrap_or_default(),
        password_confirmation: None,
        agreement: p.bool("agreement").unwrap_or(false),
        locale: &locale,
        invite_code: invite_code.as_deref(),
        reason: reason.as_deref(),
    };
    let token = accounts::register(&s.svc, &caller, sign_up).await?;
    Ok(Json(present::token(&token)))
}

/// `GET /api/v1/accounts/verify_credentials`
pub async fn verify_credentials(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Account>> {
    let me = accounts::verify_credentials(&s.svc, &caller).await?;
    Ok(Json(present::credential_account(&s.svc, &me)))
}

/// `PATCH /api/v1/accounts/update_credentials`
pub async fn update_credentials(
    State(s): State<AppState>,
    Auth(caller): Auth,
    mut form: WithFiles,
) -> ApiResult<Json<Account>> {
    let me = caller.require_user("write:accounts")?;
    let (avatar, header) = (form.take("avatar"), form.take("header"));
    form.no_other_files()?;
    let p = form.params;
    let fields = p.object("fields_attributes").map(|f| {
        let mut entries: Vec<(String, Params)> =
            f.0.keys().filter_map(|k| f.object(k).map(|o| (k.clone(), o))).collect();
        entries.sort_by_key(|(k, _)| k.parse::<i64>().unwrap_or(i64::MAX));
        entries
            .into_iter()
            .map(|(_, o)| ProfileField {
                name: o.str("name").unwrap_or_default(),
                value: o.str("value").unwrap_or_default(),
            })
            .collect::<Vec<_>>()
    });
    let fields = fields.or_else(|| {
        // JSON clients may send an array.
        p.get("fields_attributes").and_then(|v| v.as_array()).map(|a| {
            a.iter()
                .map(|o| ProfileField {
                    name: o.get("name").and_then(crate::params::value_str).unwrap_or_default(),
                    value: o.get("value").and_then(crate::params::value_str).unwrap_or_default(),
                })
                .collect()
        })
    });
    let source = p.object("source").unwrap_or_default();
    let update = accounts::CredentialsUpdate {
        display_name: p.str("display_name"),
        note: p.str("note"),
        locked: p.bool("locked"),
        bot: p.bool("bot"),
        discoverable: p.bool("discoverable"),
        indexable: p.bool("indexable"),
        hide_collections: p.bool("hide_collections"),
        fields,
        privacy: source.str("privacy"),
        sensitive: source.bool("sensitive"),
        language: source.str("language"),
        avatar,
        header,
    };
    let updated = accounts::update_credentials(&s.svc, me, update).await?;
    Ok(Json(present::credential_account(&s.svc, &updated)))
}

/// `GET /api/v1/accounts/relationships?id[]=`
pub async fn relationships(
    State(s): State<AppState>,
    Auth(caller): Auth,
    p: Params,
) -> ApiResult<Json<Vec<Relationship>>> {
    let me = caller.require_user("read:follows")?;
    let found = relationships::relationships(&s.svc, me, &p.list("id")).await?;
    Ok(Json(present::relationships(&found)))
}

/// `GET /api/v1/accounts/lookup?acct=`
pub async fn lookup(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Account>> {
    caller.optional_user("read:accounts")?;
    let account = accounts::lookup(&s.svc, &p.required("acct")?).await?;
    Ok(Json(present::account(&s.svc, &account)))
}

/// `GET /api/v1/accounts/search?q=`
pub async fn search(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Vec<Account>>> {
    caller.require_user("read:accounts")?;
    let limit = p.int("limit")?.unwrap_or(40).clamp(1, 80) as u32;
    let offset = p.int("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(Error::bad_request("offset must be a positive number").into());
    }
    let found = accounts::search(&s.svc, &p.required("q")?, limit, offset as u32).await?;
    Ok(Json(present::accounts(&s.svc, &found)))
}

/// `GET /api/v1/accounts/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Account>> {
    caller.optional_user("read:accounts")?;
    let account = accounts::get(&s.svc, account_id(&id)?).await?;
    Ok(Json(present::account(&s.svc, &account)))
}

/// `GET /api/v1/accounts/:id/lists`: the viewer's lists that have the account.
pub async fn lists(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ferrodon_mastodon_api::List>>> {
    let me = caller.require_user("read:lists")?;
    let found = ferrodon_service::lists::containing(&s.svc, me, &id).await?;
    Ok(Json(present::lists(&found)))
}

/// `GET /api/v1/accounts/:id/statuses`
pub async fn statuses(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let filter = AccountStatusFilter {
        only_media: p.bool("only_media").unwrap_or(false),
        exclude_replies: p.bool("exclude_replies").unwrap_or(false),
        exclude_reblogs: p.bool("exclude_reblogs").unwrap_or(false),
        pinned: p.bool("pinned").unwrap_or(false),
        tagged: p.str("tagged").filter(|t| !t.is_empty()),
    };
    let page = timelines::account(&s.svc, &caller, &id, filter, &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, caller.viewer(), page).await?).into_response())
}

/// `GET /api/v1/accounts/:id/followers`
pub async fn followers(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let page = accounts::follow_list(&s.svc, &caller, account_id(&id)?, true, &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}

/// `GET /api/v1/accounts/:id/following`
pub async fn following(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let page = accounts::follow_list(&s.svc, &caller, account_id(&id)?, false, &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}

/// `POST /api/v1/accounts/:id/follow`
pub async fn follow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:follows")?;
    let languages = p.get("languages").map(|_| p.list("languages"));
    let options = relationships::FollowOptions { reblogs: p.bool("reblogs"), notify: p.bool("notify"), languages };
    let relationship = relationships::follow(&s.svc, me, &id, options).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/accounts/:id/unfollow`
pub async fn unfollow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:follows")?;
    let relationship = relationships::unfollow(&s.svc, me, &id).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/accounts/:id/remove_from_followers`
pub async fn remove_from_followers(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:follows")?;
    let relationship = relationships::remove_from_followers(&s.svc, me, &id).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/accounts/:id/block`
pub async fn block(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:blocks")?;
    let relationship = relationships::block(&s.svc, me, &id).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/accounts/:id/unblock`
pub async fn unblock(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:blocks")?;
    let relationship = relationships::unblock(&s.svc, me, &id).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/accounts/:id/mute`
pub async fn mute(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:mutes")?;
    let relationship = relationships::mute(&s.svc, me, &id, p.bool("notifications"), p.int("duration")?).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/accounts/:id/unmute`
pub async fn unmute(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:mutes")?;
    let relationship = relationships::unmute(&s.svc, me, &id).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `GET /api/v1/preferences`
pub async fn preferences(Auth(caller): Auth) -> ApiResult<Json<serde_json::Value>> {
    let me = caller.require_user("read:accounts")?;
    Ok(Json(present::preferences(&me.user)))
}
