use async_trait::async_trait;
use ferrodon_domain::model::{AccessGrant, AccessToken, Application, WebSession};
use ferrodon_domain::ports::OAuthStore;
use ferrodon_kernel::{Id, Result, time::Millis};

use crate::sql::{SqlTx, args};

const APP_COLS: &str = "id, name, website, redirect_uris, scopes, client_id, client_secret, created_at";
const GRANT_COLS: &str =
    "id, application_id, user_id, code_hash, redirect_uri, scopes, code_challenge, expires_at, used_at";
const TOKEN_COLS: &str = "id, application_id, user_id, token_hash, scopes, created_at, revoked_at";

#[async_trait]
impl OAuthStore for SqlTx {
    async fn create_application(&mut self, a: &Application) -> Result<()> {
        self.exec(
            "INSERT INTO oauth_applications (id, name, website, redirect_uris, scopes, client_id, client_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![a.id, &a.name, &a.website, &a.redirect_uris, &a.scopes, &a.client_id, &a.client_secret, a.created_at],
        )
        .await?;
        Ok(())
    }

    async fn application_by_client_id(&mut self, client_id: &str) -> Result<Option<Application>> {
        self.opt(format!("SELECT {APP_COLS} FROM oauth_applications WHERE client_id = $1"), args![client_id]).await
    }

    async fn application_by_id(&mut self, id: Id) -> Result<Option<Application>> {
        self.opt(format!("SELECT {APP_COLS} FROM oauth_applications WHERE id = $1"), args![id]).await
    }

    async fn create_grant(&mut self, g: &AccessGrant) -> Result<()> {
        self.exec(
            "INSERT INTO oauth_access_grants (id, application_id, user_id, code_hash, redirect_uri, scopes, code_challenge, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![g.id, g.application_id, g.user_id, &g.code_hash, &g.redirect_uri, &g.scopes, &g.code_challenge, g.expires_at],
        )
        .await?;
        Ok(())
    }

    async fn grant_by_code_hash(&mut self, code_hash: &str) -> Result<Option<AccessGrant>> {
        self.opt(format!("SELECT {GRANT_COLS} FROM oauth_access_grants WHERE code_hash = $1"), args![code_hash]).await
    }

    async fn use_grant(&mut self, id: Id, now: Millis) -> Result<bool> {
        let n = self
            .exec("UPDATE oauth_access_grants SET used_at = $2 WHERE id = $1 AND used_at IS NULL", args![id, now])
            .await?;
        Ok(n == 1)
    }

    async fn create_token(&mut self, t: &AccessToken) -> Result<()> {
        self.exec(
            "INSERT INTO oauth_access_tokens (id, application_id, user_id, token_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![t.id, t.application_id, t.user_id, &t.token_hash, &t.scopes, t.created_at],
        )
        .await?;
        Ok(())
    }

    async fn token_by_hash(&mut self, token_hash: &str) -> Result<Option<AccessToken>> {
        self.opt(format!("SELECT {TOKEN_COLS} FROM oauth_access_tokens WHERE token_hash = $1"), args![token_hash]).await
    }

    async fn reusable_token(&mut self, application_id: Id, user_id: Id, scopes: &str) -> Result<Option<AccessToken>> {
        self.opt(
            format!(
                "SELECT {TOKEN_COLS} FROM oauth_access_tokens WHERE application_id = $1 AND user_id = $2 AND scopes = $3 \
                 AND revoked_at IS NULL ORDER BY id DESC LIMIT 1"
            ),
            args![application_id, user_id, scopes],
        )
        .await
    }

    async fn revoke_token(&mut self, id: Id, now: Millis) -> Result<()> {
        self.exec(
            "UPDATE oauth_access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            args![id, now],
        )
        .await?;
        Ok(())
    }

    async fn revoke_user_tokens(&mut self, user_id: Id, now: Millis) -> Result<()> {
        self.exec(
            "UPDATE oauth_access_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            args![user_id, now],
        )
        .await?;
        self.exec("UPDATE web_sessions SET user_id = NULL WHERE user_id = $1", args![user_id]).await?;
        Ok(())
    }

    async fn create_web_session(&mut self, s: &WebSession) -> Result<()> {
        self.exec(
            "INSERT INTO web_sessions (id, session_hash, user_id, csrf_token, created_at) VALUES ($1, $2, $3, $4, $5)",
            args![s.id, &s.session_hash, s.user_id, &s.csrf_token, s.created_at],
        )
        .await?;
        Ok(())
    }

    async fn web_session(&mut self, session_hash: &str) -> Result<Option<WebSession>> {
        self.opt(
            "SELECT id, session_hash, user_id, csrf_token, created_at FROM web_sessions WHERE session_hash = $1",
            args![session_hash],
        )
        .await
    }

    async fn set_web_session_user(&mut self, id: Id, user_id: Option<Id>) -> Result<()> {
        self.exec("UPDATE web_sessions SET user_id = $2 WHERE id = $1", args![id, user_id]).await?;
        Ok(())
    }
}
