//! `/api/v1/reports`

use axum::Json;
use axum::extract::State;
use ferrodon_mastodon_api::Report;
use ferrodon_service::present;
use ferrodon_service::reports::{self, ReportParams};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::Params;

/// `POST /api/v1/reports`
pub async fn create(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Report>> {
    let me = caller.require_user("write:reports")?;
    let params = ReportParams {
        account_id: p.str("account_id"),
        status_ids: p.list("status_ids"),
        comment: p.str("comment"),
        forward: p.bool("forward").unwrap_or(false),
        category: p.str("category"),
        rule_ids: p.list("rule_ids"),
    };
    let filed = reports::create(&s.svc, me, params).await?;
    Ok(Json(present::report(&s.svc, &filed)))
}
