use async_trait::async_trait;
use ferrodon_kernel::{Id, Result, time::Millis};

use crate::model::{AccessGrant, AccessToken, Account, Application, User, WebSession};

#[async_trait]
pub trait OAuthStore {
    async fn create_application(&mut self, app: &Application) -> Result<()>;
    async fn application_by_client_id(&mut self, client_id: &str) -> Result<Option<Application>>;
    async fn application_by_id(&mut self, id: Id) -> Result<Option<Application>>;
    async fn applications_by_ids(&mut self, ids: &[Id]) -> Result<Vec<Application>>;

    async fn create_grant(&mut self, grant: &AccessGrant) -> Result<()>;
    async fn grant_by_code_hash(&mut self, code_hash: &str) -> Result<Option<AccessGrant>>;
    /// Marks a grant used; false if it was already used (codes are single-use).
    async fn use_grant(&mut self, id: Id, now: Millis) -> Result<bool>;

    async fn create_token(&mut self, token: &AccessToken) -> Result<()>;
    async fn token_by_hash(&mut self, token_hash: &str) -> Result<Option<AccessToken>>;
    /// A token with its user and account, in one read (every authenticated request does this).
    async fn token_owner(&mut self, token_hash: &str) -> Result<Option<(AccessToken, Option<(User, Account)>)>>;
    /// An unrevoked token of this app and user with exactly these scopes (Mastodon reuses tokens).
    async fn reusable_token(&mut self, application_id: Id, user_id: Id, scopes: &str) -> Result<Option<AccessToken>>;
    async fn revoke_token(&mut self, id: Id, now: Millis) -> Result<()>;
    async fn revoke_user_tokens(&mut self, user_id: Id, now: Millis) -> Result<()>;
    /// `user_id`'s tokens in force, oldest first.
    async fn user_tokens(&mut self, user_id: Id) -> Result<Vec<AccessToken>>;

    async fn create_web_session(&mut self, session: &WebSession) -> Result<()>;
    async fn web_session(&mut self, session_hash: &str) -> Result<Option<WebSession>>;
    async fn set_web_session_user(&mut self, id: Id, user_id: Option<Id>) -> Result<()>;
    async fn delete_web_session(&mut self, id: Id) -> Result<()>;
}
