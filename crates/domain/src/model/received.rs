//! What another server sent, read into what it means: the activities a verified inbox request
//! carries and the posts they (or a fetch) bring. Federation reads documents into these types;
//! the service applies them. References to actors, posts and activities are URIs, which the
//! service resolves; text is already sanitised.

use ferrodon_kernel::time::Millis;
use serde::{Deserialize, Serialize};

use super::{RemoteAccount, RemoteEmoji, StatusMedia, Visibility};

/// The audience "everyone", as [`ReceivedPost::to`] / [`ReceivedPost::cc`] and
/// [`Activity::Announce`] spell it (every other spelling of it is read into this one).
pub const PUBLIC_AUDIENCE: &str = "https://www.w3.org/ns/activitystreams#Public";

/// A verified activity from another server, read into what it means. References are URIs; the
/// service resolves them. Serialisable: it travels as a job payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Activity {
    /// The actor asks to follow `object` (an account); `id` is the Follow's, which an Accept
    /// or Reject names later.
    Follow {
        id: String,
        object: String,
    },
    /// A follow request we sent was accepted.
    Accept {
        object: FollowRef,
    },
    /// A follow request we sent was refused (or a follow ended by the followed account).
    Reject {
        object: FollowRef,
    },
    Undo {
        object: Undone,
    },
    /// A new post by the actor (who is its `author`, if the activity is honest: check it).
    Create {
        object: ReceivedPost,
    },
    Update {
        object: Updated,
    },
    /// The post (or, when it is the actor itself, the account) at `object` is gone.
    Delete {
        object: String,
    },
    /// A favourite of the post at `object`.
    Like {
        object: String,
    },
    /// A reblog of the post at `object`; `id` is the reblog's own URI.
    Announce {
        id: String,
        object: String,
        to: Vec<String>,
        cc: Vec<String>,
        published: Option<Millis>,
    },
    Block {
        object: String,
    },
    /// The account `object` (the actor itself) moved to `target`.
    Move {
        object: String,
        target: String,
    },
    /// A report of the accounts and posts in `objects`; `content` is the comment as plain text.
    Flag {
        id: String,
        objects: Vec<String>,
        content: String,
    },
    /// `object` added to the collection `target` (a pin, when it is the actor's featured one).
    Add {
        object: String,
        target: String,
    },
    Remove {
        object: String,
        target: String,
    },
    /// Any other type, or a known type whose object is not one we apply (Create of a
    /// ChatMessage, Update of an unknown type...): kept by name for the log.
    Unsupported {
        kind: String,
    },
}

/// The Follow an Accept or Reject answers: embedded (its id and actor) or only its id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowRef {
    pub id: Option<String>,
    /// The account that asked to follow (ours, when the answer is for us).
    pub actor: Option<String>,
}

/// What an Undo takes back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Undone {
    /// The actor no longer follows the account `object`.
    Follow {
        object: String,
    },
    /// The favourite of the post `object` is taken back.
    Like {
        object: String,
    },
    /// The reblog whose URI is `id` is taken back.
    Announce {
        id: String,
    },
    Block {
        object: String,
    },
    /// Another type, or only the undone activity's id (often a reblog's).
    Other {
        id: Option<String>,
    },
}

/// What an Update brings: a new version of an actor, or of a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Updated {
    Actor(RemoteAccount),
    Post(ReceivedPost),
}

/// A post (Note, Question, Article, Page...) as received or fetched: the one type for a
/// received post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedPost {
    pub uri: String,
    /// Its web page (the URI when the server names none).
    pub url: String,
    /// The author's URI (`attributedTo`, its first actor).
    pub author: String,
    /// Sanitised HTML (the title, for an Article, Page, Event or Video without content).
    pub content: String,
    /// The content warning, plain text.
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    /// The URI of the post it answers.
    pub in_reply_to: Option<String>,
    /// The audience as addressed (URIs; "everyone" is always [`PUBLIC_AUDIENCE`]).
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The URIs of the mentioned accounts, without duplicates.
    pub mentions: Vec<String>,
    /// Hashtag names without `#` (only valid ones).
    pub tags: Vec<String>,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub poll: Option<ReceivedPoll>,
    pub media: Vec<StatusMedia>,
    pub emojis: Vec<RemoteEmoji>,
    /// Its `name` as sent, plain text not to be shown as is: a poll vote is a post with a
    /// name (the chosen option) in reply to the poll.
    pub name: Option<String>,
}

impl ReceivedPost {
    /// Who may see it, as Mastodon reads the addressing of a post by an author whose
    /// followers collection is `followers_url` (see [`visibility_of`]).
    pub fn visibility(&self, followers_url: &str) -> Visibility {
        visibility_of(&self.to, &self.cc, followers_url)
    }

    /// Everyone it is addressed to (`to`, then `cc`).
    pub fn addressed(&self) -> impl Iterator<Item = &str> {
        self.to.iter().chain(&self.cc).map(String::as_str)
    }
}

/// The visibility an addressing means: everyone in `to` is public, everyone in `cc` unlisted,
/// the followers collection (`followers_url`, or any collection ending in `/followers`)
/// private, and anything else direct. `to` and `cc` spell everyone [`PUBLIC_AUDIENCE`].
pub fn visibility_of(to: &[String], cc: &[String], followers_url: &str) -> Visibility {
    if to.iter().any(|t| t == PUBLIC_AUDIENCE) {
        Visibility::Public
    } else if cc.iter().any(|t| t == PUBLIC_AUDIENCE) {
        Visibility::Unlisted
    } else if to
        .iter()
        .chain(cc)
        .any(|t| (!followers_url.is_empty() && t == followers_url) || t.ends_with("/followers"))
    {
        Visibility::Private
    } else {
        Visibility::Direct
    }
}

/// A remote poll (a `Question`) with the counts its server reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedPoll {
    /// Option titles, plain text.
    pub options: Vec<String>,
    pub multiple: bool,
    pub expires_at: Millis,
    /// Votes per option, in the order of `options`.
    pub votes: Vec<i64>,
    pub voters_count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(to: &[&str], cc: &[&str]) -> ReceivedPost {
        ReceivedPost {
            uri: "https://remote.example/notes/1".into(),
            url: "https://remote.example/@a/1".into(),
            author: "https://remote.example/users/a".into(),
            content: "<p>hi</p>".into(),
            spoiler_text: String::new(),
            sensitive: false,
            language: Some("en".into()),
            in_reply_to: None,
            to: to.iter().map(|s| s.to_string()).collect(),
            cc: cc.iter().map(|s| s.to_string()).collect(),
            mentions: vec![],
            tags: vec!["rust".into()],
            created_at: 1_700_000_000_000,
            edited_at: None,
            poll: Some(ReceivedPoll {
                options: vec!["a".into(), "b".into()],
                multiple: false,
                expires_at: 1_700_000_100_000,
                votes: vec![1, 2],
                voters_count: 3,
            }),
            media: vec![],
            emojis: vec![],
            name: None,
        }
    }

    const FOLLOWERS: &str = "https://remote.example/users/a/followers";

    #[test]
    fn visibility_follows_the_addressing() {
        assert_eq!(post(&[PUBLIC_AUDIENCE], &[FOLLOWERS]).visibility(FOLLOWERS), Visibility::Public);
        assert_eq!(post(&[FOLLOWERS], &[PUBLIC_AUDIENCE]).visibility(FOLLOWERS), Visibility::Unlisted);
        assert_eq!(post(&[FOLLOWERS], &[]).visibility(FOLLOWERS), Visibility::Private);
        // Another spelling of the followers collection is known by its last segment.
        assert_eq!(post(&[], &["https://remote.example/u/a/followers"]).visibility(""), Visibility::Private);
        assert_eq!(
            post(&["https://remote.example/fans"], &[]).visibility("https://remote.example/fans"),
            Visibility::Private
        );
        assert_eq!(post(&["https://here.example/users/b"], &[]).visibility(FOLLOWERS), Visibility::Direct);
        // An empty followers URL matches nothing by itself.
        assert_eq!(post(&[""], &[]).visibility(""), Visibility::Direct);
    }

    #[test]
    fn activities_survive_a_job_payload() {
        let activities = vec![
            Activity::Create { object: post(&[PUBLIC_AUDIENCE], &[]) },
            Activity::Update { object: Updated::Post(post(&[], &[])) },
            Activity::Update {
                object: Updated::Actor(RemoteAccount {
                    uri: "https://remote.example/users/a".into(),
                    ..Default::default()
                }),
            },
            Activity::Accept {
                object: FollowRef { id: Some("https://here.example/users/b#follows/1".into()), actor: None },
            },
            Activity::Undo { object: Undone::Follow { object: "https://here.example/users/b".into() } },
            Activity::Undo { object: Undone::Other { id: None } },
            Activity::Announce {
                id: "https://remote.example/announces/1".into(),
                object: "https://here.example/statuses/1".into(),
                to: vec![PUBLIC_AUDIENCE.into()],
                cc: vec![],
                published: Some(1),
            },
            Activity::Flag {
                id: "https://remote.example/flags/1".into(),
                objects: vec!["x".into()],
                content: "spam".into(),
            },
            Activity::Unsupported { kind: "EmojiReact".into() },
        ];
        for a in activities {
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Activity>(&json).unwrap(), a, "{json}");
        }
        let json = serde_json::to_value(Activity::Like { object: "https://here.example/statuses/1".into() }).unwrap();
        assert_eq!(json, serde_json::json!({"type": "Like", "object": "https://here.example/statuses/1"}));
    }
}
