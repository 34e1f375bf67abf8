//! The instance: the facts its documents (`/api/v1/instance`, `/api/v2/instance`, rendered by
//! `present::instance`) read from the database, and the OAuth server metadata.

use serde_json::{Value, json};

use ferrodon_config::RegistrationsMode;
use ferrodon_kernel::Result;

use crate::{Services, auth::ALL_SCOPES};

/// The Mastodon version we implement, with ours, as Mastodon-compatible servers report it.
pub const VERSION: &str = concat!("4.5.0 (compatible; ferrodon ", env!("CARGO_PKG_VERSION"), ")");
/// `api_versions.mastodon`: the API level really implemented (4.5.0 reports 6–7; 6 without quotes).
pub const API_VERSION: i64 = 6;
pub const SOURCE_URL: &str = "https://github.com/ferrodon/ferrodon";

/// What `/api/v2/instance` says of the server's use: whether it takes registrations, and its
/// local accounts active in the last 30 days.
pub struct Usage {
    pub registrations: RegistrationsMode,
    pub active_month: i64,
}

/// `GET /api/v2/instance`.
pub async fn v2(svc: &Services) -> Result<Usage> {
    let mut tx = svc.db.read().await?;
    Ok(Usage {
        active_month: crate::discovery::active_local_accounts(&mut tx, 30).await?,
        registrations: crate::settings::registrations_mode(svc, &mut tx).await?,
    })
}

/// What `/api/v1/instance` says of the server's use: whether it takes registrations, and how
/// many local accounts and statuses it has.
pub struct Stats {
    pub registrations: RegistrationsMode,
    pub users: i64,
    pub statuses: i64,
}

/// `GET /api/v1/instance` (deprecated, still used by many clients).
pub async fn v1(svc: &Services) -> Result<Stats> {
    let mut tx = svc.db.read().await?;
    let registrations = crate::settings::registrations_mode(svc, &mut tx).await?;
    Ok(Stats { registrations, users: tx.count_local_accounts().await?, statuses: tx.count_local_statuses().await? })
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub fn oauth_metadata(svc: &Services) -> Value {
    let base = svc.base_url();
    json!({
        "issuer": format!("{base}/"),
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        "scopes_supported": ALL_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })
}
