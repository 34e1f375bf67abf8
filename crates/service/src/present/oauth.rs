//! Mastodon entities for OAuth: `Application`, `CredentialApplication` and `Token`.

use ferrodon_domain::model::Application;
use ferrodon_mastodon_api as api;

use crate::auth::Scopes;
use crate::oauth::IssuedToken;

/// An application as `GET /api/v1/apps/verify_credentials` shows it.
pub fn application(app: &Application) -> api::Application {
    entity(app, false)
}

/// A new application with its client credentials (`POST /api/v1/apps`).
pub fn credential_application(app: &Application) -> api::Application {
    entity(app, true)
}

fn entity(app: &Application, with_secret: bool) -> api::Application {
    let uris: Vec<String> = app.redirect_uri_list().into_iter().map(str::to_string).collect();
    api::Application {
        id: app.id.to_string(),
        name: app.name.clone(),
        website: app.website.clone(),
        scopes: Scopes::parse(&app.scopes).map(|s| s.to_vec()).unwrap_or_default(),
        redirect_uri: uris.join("\n"),
        redirect_uris: uris,
        vapid_key: String::new(),
        client_id: with_secret.then(|| app.client_id.clone()),
        client_secret: with_secret.then(|| app.client_secret.clone()),
        client_secret_expires_at: with_secret.then_some(0),
    }
}

/// A token just issued (`POST /oauth/token`, registration).
pub fn token(t: &IssuedToken) -> api::Token {
    api::Token {
        access_token: t.access_token.clone(),
        token_type: "Bearer".into(),
        scope: t.token.scopes.clone(),
        created_at: t.token.created_at / 1000,
    }
}
