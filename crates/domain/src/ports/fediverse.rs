//! The other servers, as the service reaches them: fetching and reading their documents,
//! WebFinger, and delivering activities. The federation crate implements it (HTTP signatures,
//! SSRF checks, size and time limits, ActivityPub documents); the service decides what to fetch,
//! what to keep and what to send to whom.

use async_trait::async_trait;
use ferrodon_kernel::Result;

use crate::model::{LinkPreview, Outbound, ReceivedPost, RemoteAccount};

/// A key that signs requests: `key_id` as other servers fetch it, the private key as PEM.
#[derive(Clone, Debug)]
pub struct SigningKey {
    pub key_id: String,
    pub private_pem: String,
}

/// A new key pair (PEM).
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub public_pem: String,
    pub private_pem: String,
}

/// A fetched document, read.
#[derive(Clone, Debug)]
pub enum Fetched {
    Actor(RemoteAccount),
    Post(ReceivedPost),
    /// A key document: the actor that owns it.
    Key {
        owner: String,
    },
    /// Anything else (a collection, a type we do not read), by type.
    Other {
        kind: String,
    },
}

/// How a delivery went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The inbox took it.
    Delivered,
    /// The server answered and refused (a 4xx other than 408 and 429): asking again would not
    /// change its mind.
    Refused(u16),
    /// No answer, or a server error: worth retrying.
    Failed(String),
    /// The inbox's address may never be reached (not http(s), a private address not allowed).
    Unreachable(String),
}

#[async_trait]
pub trait Fediverse: Send + Sync + 'static {
    /// GETs the document at `uri`, signed with `key` (following a few redirects, each checked),
    /// and reads it. NotFound when the server says it is gone.
    async fn fetch(&self, uri: &str, key: &SigningKey) -> Result<Fetched>;
    /// The ids the collection at `uri` lists (following its `first` and `next` pages), at most
    /// `max`.
    async fn collection(&self, uri: &str, key: &SigningKey, max: usize) -> Result<Vec<String>>;
    /// The ids the `replies` collection of the post at `uri` lists (a collection on another
    /// host than the post's is ignored), at most `max`.
    async fn replies(&self, uri: &str, key: &SigningKey, max: usize) -> Result<Vec<String>>;
    /// GETs the file at `url` (media: unsigned, following a few redirects, each checked) into
    /// the local file `dest`, streamed; refused past `limit` bytes. NotFound when it is gone.
    async fn download(&self, url: &str, dest: &std::path::Path, limit: u64) -> Result<()>;
    /// What the web page at `url` says of itself, for a link preview: its oEmbed description
    /// where it offers one, else its OpenGraph tags and title. Fetched unsigned, following a
    /// few redirects (each checked), HTML only, its first megabyte read. `None` when the page
    /// has nothing to show.
    async fn link_preview(&self, url: &str) -> Result<Option<LinkPreview>>;
    /// The actor URI WebFinger gives for `user@domain`.
    async fn webfinger(&self, user: &str, domain: &str) -> Result<String>;
    /// `activity` as the document to send (JSON).
    fn render(&self, activity: &Outbound) -> Result<String>;
    /// POSTs `body` to `inbox`, signed with `key`.
    async fn deliver(&self, inbox: &str, key: &SigningKey, body: &str) -> Delivery;
    /// A new key pair for a local actor (RSA-2048).
    async fn generate_keys(&self) -> Result<KeyPair>;
}
