//! What this server says over ActivityPub: the activities it delivers and the local posts it
//! serves, with everything their documents show. The service decides what is said and to whom;
//! the federation crate renders these as JSON.

use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;

use crate::model::{Account, Poll, Status};

/// A local status as its `Note` (or `Question`) shows it.
#[derive(Clone, Debug)]
pub struct Post {
    pub status: Status,
    pub author: Account,
    /// The accounts it mentions (their URIs and handles are in the document).
    pub mentioned: Vec<Account>,
    /// The URI of the status it replies to.
    pub in_reply_to: Option<String>,
    pub poll: Option<Poll>,
}

/// An activity to deliver.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// A new post (`Create`).
    Create(Post),
    /// An edited post, or a poll's new counts (`Update`), as of `at`.
    Update { post: Post, at: Millis },
    /// A reblog (`Announce`), addressed by its visibility.
    Announce { actor: Account, reblog: Status, original_uri: String, original_author_uri: String },
    /// A deleted status (`Delete` of its `Tombstone`).
    Delete { actor_uri: String, uri: String },
    /// A reblog taken back (`Undo` of its `Announce`).
    UndoAnnounce { actor_uri: String, uri: String, original_uri: String },
    /// A favourite (`Like`), or its `Undo`.
    Like { actor_uri: String, status_id: Id, status_uri: String, undo: bool },
    /// A follow (`Follow` with its id), or its `Undo`.
    Follow { id: String, actor_uri: String, target_uri: String, undo: bool },
    /// The answer to `follower_uri`'s Follow `follow_uri`: `Accept` or `Reject`.
    FollowAnswer { accept: bool, actor_uri: String, follower_uri: String, follow_uri: String },
    /// A block (`Block`), or its `Undo`.
    Block { actor_uri: String, target_id: Id, target_uri: String, undo: bool },
    /// A status added to (`Add`) or removed from (`Remove`) the actor's featured collection.
    Featured { actor_uri: String, status_id: Id, status_uri: String, added: bool },
    /// A report sent on to the reported account's server (`Flag`), by the instance actor.
    Flag { report_id: Id, comment: String, objects: Vec<String> },
    /// The actor's profile changed (`Update` of the actor).
    Actor(LocalActor),
    /// A vote on a remote poll: a `Create` of a `Note` named after the chosen option.
    Vote { actor_uri: String, poll_id: Id, choice: i64, name: String, author_uri: String, status_uri: String },
}

/// A local account as its actor document shows it: with its public key (SPKI PEM) and the
/// URLs of its avatar (`icon`) and header (`image`), when it has them.
#[derive(Clone, Debug)]
pub struct LocalActor {
    pub account: Account,
    pub public_key_pem: String,
    pub icon: Option<String>,
    pub image: Option<String>,
}

/// Who signs a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// A local account.
    Account(Id),
    /// The instance actor (reports, fetches made for no one in particular).
    Instance,
}
