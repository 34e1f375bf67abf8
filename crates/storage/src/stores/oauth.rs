use async_trait::async_trait;
use ferrodon_domain::model::{AccessGrant, AccessToken, Account, Application, Role, User, Visibility, WebSession};

use super::accounts::ACCOUNT_COLS;
use ferrodon_domain::ports::OAuthStore;
use ferrodon_kernel::{Id, Result, time::Millis};

use crate::sql::{SqlTx, args};

const APP_COLS: &str = "id, name, website, redirect_uris, scopes, client_id, client_secret, created_at";
const GRANT_COLS: &str =
    "id, application_id, user_id, code_hash, redirect_uri, scopes, code_challenge, expires_at, used_at";
const TOKEN_COLS: &str = "id, application_id, user_id, token_hash, scopes, created_at, revoked_at";

/// A user token joined with its user and account (`t_`/`u_` prefixes keep the column names apart).
#[derive(sqlx::FromRow)]
struct TokenOwnerRow {
    t_id: Id,
    t_application_id: Id,
    t_scopes: String,
    t_created_at: i64,
    t_revoked_at: Option<i64>,
    t_token_hash: String,
    u_id: Id,
    u_email: String,
    u_encrypted_password: String,
    u_confirmed_at: Option<i64>,
    u_approved: bool,
    u_disabled: bool,
    #[sqlx(try_from = "String")]
    u_role: Role,
    u_locale: String,
    #[sqlx(try_from = "String")]
    u_default_visibility: Visibility,
    u_default_sensitive: bool,
    u_default_language: Option<String>,
    u_created_at: i64,
    #[sqlx(flatten)]
    account: Account,
}

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

    async fn applications_by_ids(&mut self, ids: &[Id]) -> Result<Vec<Application>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {APP_COLS} FROM oauth_applications WHERE {}", self.in_ids("id", 1));
        self.all(sql, vec![ids.into()]).await
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

    async fn token_owner(&mut self, token_hash: &str) -> Result<Option<(AccessToken, Option<(User, Account)>)>> {
        let sql = format!(
            "SELECT t.id AS t_id, t.application_id AS t_application_id, t.scopes AS t_scopes, t.created_at AS t_created_at, \
             t.revoked_at AS t_revoked_at, t.token_hash AS t_token_hash, u.id AS u_id, u.email AS u_email, \
             u.encrypted_password AS u_encrypted_password, u.confirmed_at AS u_confirmed_at, u.approved AS u_approved, \
             u.disabled AS u_disabled, u.role AS u_role, u.locale AS u_locale, u.default_visibility AS u_default_visibility, \
             u.default_sensitive AS u_default_sensitive, u.default_language AS u_default_language, u.created_at AS u_created_at, \
             {ACCOUNT_COLS} FROM oauth_access_tokens t JOIN users u ON u.id = t.user_id \
             JOIN accounts a ON a.id = u.account_id WHERE t.token_hash = $1"
        );
        // User tokens (nearly every request) take one read; app tokens fall back to a second.
        let Some(r) = self.opt::<TokenOwnerRow>(sql, args![token_hash]).await? else {
            return Ok(self.token_by_hash(token_hash).await?.filter(|t| t.user_id.is_none()).map(|t| (t, None)));
        };
        let token = AccessToken {
            id: r.t_id,
            application_id: r.t_application_id,
            user_id: Some(r.u_id),
            token_hash: r.t_token_hash,
            scopes: r.t_scopes,
            created_at: r.t_created_at,
            revoked_at: r.t_revoked_at,
        };
        let user = User {
            id: r.u_id,
            account_id: r.account.id,
            email: r.u_email,
            encrypted_password: r.u_encrypted_password,
            confirmed_at: r.u_confirmed_at,
            approved: r.u_approved,
            disabled: r.u_disabled,
            role: r.u_role,
            locale: r.u_locale,
            default_visibility: r.u_default_visibility,
            default_sensitive: r.u_default_sensitive,
            default_language: r.u_default_language,
            created_at: r.u_created_at,
        };
        let owner = Some((user, r.account));
        Ok(Some((token, owner)))
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

    async fn user_tokens(&mut self, user_id: Id) -> Result<Vec<AccessToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM oauth_access_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id"
        );
        self.all(sql, args![user_id]).await
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

    async fn delete_web_session(&mut self, id: Id) -> Result<()> {
        self.exec("DELETE FROM web_sessions WHERE id = $1", args![id]).await?;
        Ok(())
    }

    async fn set_web_session_user(&mut self, id: Id, user_id: Option<Id>) -> Result<()> {
        self.exec("UPDATE web_sessions SET user_id = $2 WHERE id = $1", args![id, user_id]).await?;
        Ok(())
    }
}
