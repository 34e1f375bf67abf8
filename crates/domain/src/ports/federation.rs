//! What federation needs from storage: remote actors by URI and key, local keys, inboxes, and
//! the delivery failure record.

use async_trait::async_trait;
use ferrodon_kernel::{Id, Result, time::Millis};

use crate::model::{Account, RemoteAccount, Status};

#[async_trait]
pub trait FederationStore {
    async fn account_by_uri(&mut self, uri: &str) -> Result<Option<Account>>;
    /// The account whose key has this id (or, for keys named by the actor URI, that actor).
    async fn account_by_key_id(&mut self, key_id: &str) -> Result<Option<Account>>;
    /// Inserts or refreshes a remote actor, matched by URI; returns the stored account.
    async fn upsert_remote_account(&mut self, a: &RemoteAccount, now: Millis) -> Result<Account>;
    /// A local account's private key (PKCS#8 PEM), if one was made.
    async fn private_key(&mut self, account_id: Id) -> Result<Option<String>>;
    /// Stores a new key pair unless the account has one already; returns whether it was stored.
    async fn store_keys(&mut self, account_id: Id, key_id: &str, public_pem: &str, private_pem: &str) -> Result<bool>;
    async fn status_by_uri(&mut self, uri: &str) -> Result<Option<Status>>;
    /// Whether any local account follows `account_id`.
    async fn has_local_followers(&mut self, account_id: Id) -> Result<bool>;
    /// The inboxes of an account's remote followers, shared inboxes preferred, de-duplicated.
    async fn follower_inboxes(&mut self, account_id: Id) -> Result<Vec<String>>;
    /// The Follow activity id of a follow or follow request, and the reverse.
    async fn set_relation_uri(&mut self, kind: &str, account_id: Id, target_id: Id, uri: &str) -> Result<()>;
    async fn relation_uri(&mut self, kind: &str, account_id: Id, target_id: Id) -> Result<Option<String>>;
    /// Records a failed delivery to `domain` on `day` (days since the epoch); returns true when
    /// the domain has now failed on `threshold` distinct days and is marked unavailable.
    async fn record_delivery_failure(&mut self, domain: &str, day: i64, threshold: usize, now: Millis) -> Result<bool>;
    /// A delivery to `domain` succeeded: its failures are forgotten and it is available again.
    async fn record_delivery_success(&mut self, domain: &str) -> Result<()>;
    async fn unavailable_domains(&mut self) -> Result<Vec<String>>;

    /// Domain blocks: `severity` is `suspend`, `silence` or `noop`. A suspension suspends, a
    /// silence limits (`silenced_at`) the accounts of the domain and its subdomains, those known
    /// and those that arrive later ([`Self::upsert_remote_account`]); lifting or changing the
    /// block lifts what it set.
    async fn upsert_domain_block(&mut self, block: &DomainBlock) -> Result<()>;
    async fn delete_domain_block(&mut self, domain: &str) -> Result<bool>;
    async fn domain_blocks(&mut self) -> Result<Vec<DomainBlock>>;
    /// The domains federation is limited to under `LIMITED_FEDERATION_MODE`.
    async fn add_domain_allow(&mut self, domain: &str, now: Millis) -> Result<()>;
    async fn remove_domain_allow(&mut self, domain: &str) -> Result<bool>;
    async fn domain_allows(&mut self) -> Result<Vec<String>>;
}

/// An admin's block of a whole domain (Mastodon's `DomainBlock`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct DomainBlock {
    pub domain: String,
    pub severity: String,
    pub reject_media: bool,
    pub reject_reports: bool,
    pub created_at: Millis,
}
