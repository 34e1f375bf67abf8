//! Lists of followed accounts, each with its timeline.

use async_trait::async_trait;
use ferrodon_kernel::{Id, PageRequest, Result};

use crate::model::{Keyed, List, Status};

#[async_trait]
pub trait ListStore {
    /// The account's lists, by title.
    async fn lists_of(&mut self, account_id: Id) -> Result<Vec<List>>;
    async fn insert_list(&mut self, list: &List) -> Result<()>;
    /// Changes the title, replies policy and exclusiveness.
    async fn update_list(&mut self, list: &List) -> Result<()>;
    /// Deletes a list and its memberships.
    async fn delete_list(&mut self, id: Id) -> Result<()>;
    /// The members, paged by membership; `page.limit` 0 means all.
    async fn list_members(&mut self, list_id: Id, page: &PageRequest) -> Result<Vec<Keyed<Id>>>;
    /// Adds members (already there: no change).
    async fn add_list_members(&mut self, list_id: Id, accounts: &[Id]) -> Result<()>;
    async fn remove_list_members(&mut self, list_id: Id, accounts: &[Id]) -> Result<()>;
    /// The lists that have `member`: all of them, or only `owner`'s.
    async fn lists_with_member(&mut self, member: Id, owner: Option<Id>) -> Result<Vec<List>>;
    /// The list's timeline, newest first, before the service's visibility filter: its
    /// members' statuses as the owner's follows of them let through (languages, reblogs), no
    /// direct ones, and replies to the author itself, to the owner, or as the list's
    /// `replies_policy` says (`followed`: to accounts the owner follows; `list`: to members;
    /// `none`: no others). The rule is the one [`Self::list_recipients`] distributes by.
    async fn list_timeline(&mut self, list: &List, page: &PageRequest) -> Result<Vec<Status>>;
    /// The lists whose timeline takes `status` (as given), by the rule of
    /// [`Self::list_timeline`].
    async fn list_recipients(&mut self, status: &Status) -> Result<Vec<List>>;
}
