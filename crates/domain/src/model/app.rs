use ferrodon_kernel::{Id, time::Millis};

/// A registered OAuth client.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Application {
    pub id: Id,
    pub name: String,
    pub website: Option<String>,
    /// Redirect URIs, one per line.
    pub redirect_uris: String,
    /// Space-separated scopes the app registered.
    pub scopes: String,
    pub client_id: String,
    pub client_secret: String,
    pub created_at: Millis,
}

impl Application {
    pub fn redirect_uri_list(&self) -> Vec<&str> {
        self.redirect_uris.split('\n').map(str::trim).filter(|s| !s.is_empty()).collect()
    }
}

/// An authorization code waiting to be exchanged.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct AccessGrant {
    pub id: Id,
    pub application_id: Id,
    pub user_id: Id,
    pub code_hash: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub code_challenge: Option<String>,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

/// An access token (stored hashed). `user_id` is empty for client-credentials tokens.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct AccessToken {
    pub id: Id,
    pub application_id: Id,
    pub user_id: Option<Id>,
    pub token_hash: String,
    pub scopes: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// A sign-in session of the HTML pages (cookie value stored hashed).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct WebSession {
    pub id: Id,
    pub session_hash: String,
    pub user_id: Option<Id>,
    pub csrf_token: String,
    pub created_at: Millis,
}
