use async_trait::async_trait;
use ferrodon_kernel::{Id, PageRequest, Result, time::Millis};

use crate::model::{Account, NewLocalAccount, ProfileImage, ProfileUpdate, Role, User, UserPreferences};

#[async_trait]
pub trait AccountStore {
    /// Creates a local account and its user. `Conflict` when the username or e-mail is taken.
    async fn create_local_account(&mut self, new: &NewLocalAccount, now: Millis) -> Result<(Account, User)>;
    async fn account_by_id(&mut self, id: Id) -> Result<Option<Account>>;
    async fn accounts_by_ids(&mut self, ids: &[Id]) -> Result<Vec<Account>>;
    /// Case-insensitive; `domain` empty for local accounts.
    async fn account_by_username(&mut self, username: &str, domain: &str) -> Result<Option<Account>>;
    /// Local and known accounts whose username or display name starts with `prefix`.
    async fn search_accounts(&mut self, prefix: &str, limit: u32, offset: u32) -> Result<Vec<Account>>;
    async fn update_profile(&mut self, account_id: Id, update: &ProfileUpdate, now: Millis) -> Result<()>;
    /// Sets (or with `None` removes) a local account's avatar or header file.
    async fn set_profile_image(
        &mut self,
        account_id: Id,
        kind: ProfileImage,
        key: Option<&str>,
        now: Millis,
    ) -> Result<()>;
    async fn delete_account(&mut self, account_id: Id) -> Result<()>;
    async fn count_local_accounts(&mut self) -> Result<i64>;
    /// The users with a role (moderators, admins, owners) who may be told of reports and sign-ups:
    /// confirmed and not disabled.
    async fn staff_user_ids(&mut self) -> Result<Vec<Id>>;
    async fn count_local_statuses(&mut self) -> Result<i64>;
    /// Local accounts that posted at or after `since` (NodeInfo's active users).
    async fn count_active_local_accounts(&mut self, since: Millis) -> Result<i64>;

    async fn user_by_id(&mut self, id: Id) -> Result<Option<User>>;
    async fn user_by_email(&mut self, email: &str) -> Result<Option<User>>;
    async fn user_by_account(&mut self, account_id: Id) -> Result<Option<User>>;
    async fn set_user_password(&mut self, user_id: Id, encrypted_password: &str) -> Result<()>;
    async fn set_user_role(&mut self, user_id: Id, role: Role) -> Result<()>;
    async fn set_user_flags(
        &mut self,
        user_id: Id,
        confirmed_at: Option<Millis>,
        approved: bool,
        disabled: bool,
    ) -> Result<()>;
    async fn set_user_preferences(&mut self, user_id: Id, prefs: &UserPreferences) -> Result<()>;

    /// Accounts a relation table lists, paged by the relation row id.
    async fn list_related_accounts(
        &mut self,
        query: RelatedAccounts,
        page: &PageRequest,
    ) -> Result<Vec<crate::model::Keyed<Account>>>;
}

/// Which account list to read.
#[derive(Clone, Copy, Debug)]
pub enum RelatedAccounts {
    Followers(Id),
    Following(Id),
    FollowRequests(Id),
    Blocks(Id),
    /// The account's mutes still in force at the given time.
    Mutes(Id, Millis),
    FavouritedBy(Id),
    RebloggedBy(Id),
}

/// Instance settings an admin changes at run time.
#[async_trait]
pub trait SettingsStore {
    async fn setting(&mut self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&mut self, key: &str, value: &str) -> Result<()>;
}
