//! The documents other servers send, as serde structs made only of the [tolerant](super::tolerant)
//! types: every field is optional, unknown fields are ignored, and a field of an unexpected shape
//! reads as missing. They hold what ferrodon reads and nothing it would not use; [`super::read`]
//! turns them into domain types.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::tolerant::{Bool, Image, Int, LangMap, Link, Node, OneOrMany, Ref, Refs, Text, Time, Types};

/// An activity as received. Its `object` stays unread JSON until the activity's type says
/// what it must be (a reference, a post, an actor, another activity).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Envelope<'a> {
    pub id: Ref,
    #[serde(rename = "type")]
    pub kind: Types,
    pub actor: Ref,
    #[serde(borrow)]
    pub object: Option<&'a RawValue>,
    pub target: Ref,
    pub to: Refs,
    pub cc: Refs,
    pub published: Time,
    /// A Flag's comment.
    pub content: Text,
    pub content_map: LangMap,
}

/// An activity embedded in another (the Follow an Undo or Accept names, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Embedded {
    pub id: Ref,
    #[serde(rename = "type")]
    pub kind: Types,
    pub actor: Ref,
    pub object: Ref,
}

/// Only a document's types (to choose how to read the rest).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Typed {
    #[serde(rename = "type")]
    pub kind: Types,
}

/// A post-like object: `Note`, `Question`, `Article`, `Page`, and what servers send like them
/// (`Event`, `Video`...).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Object {
    pub id: Ref,
    #[serde(rename = "type")]
    pub kind: Types,
    pub attributed_to: Ref,
    pub content: Text,
    pub content_map: LangMap,
    pub summary: Text,
    pub summary_map: LangMap,
    pub name: Text,
    pub name_map: LangMap,
    pub sensitive: Bool,
    pub in_reply_to: Ref,
    pub to: Refs,
    pub cc: Refs,
    pub url: Ref,
    pub tag: OneOrMany<Node<Tag>>,
    pub attachment: OneOrMany<Node<Attachment>>,
    pub published: Time,
    pub updated: Time,
    /// A `Question`'s choices: `oneOf` (single choice) or `anyOf` (multiple).
    pub one_of: OneOrMany<Node<Choice>>,
    pub any_of: OneOrMany<Node<Choice>>,
    pub end_time: Time,
    pub closed: Time,
    pub voters_count: Int,
}

/// An entry of `tag`: `Mention` (`href`), `Hashtag` (`name`), `Emoji` (`name`, `icon`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tag {
    #[serde(rename = "type")]
    pub kind: Types,
    pub href: Text,
    pub name: Text,
    pub icon: Link,
}

/// An entry of a post's `attachment` (`Document`, `Image`, `Video`, `Audio`...).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: Types,
    pub media_type: Text,
    pub url: Link,
    pub icon: Link,
    pub name: Text,
    pub name_map: LangMap,
    pub summary: Text,
    pub blurhash: Text,
    pub width: Int,
    pub height: Int,
}

/// A choice of a `Question`, with its votes in `replies.totalItems`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Choice {
    pub name: Text,
    pub replies: Node<Replies>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Replies {
    pub total_items: Int,
}

/// An actor: `Person`, `Service`, `Group`, `Application`, `Organization`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Actor {
    pub id: Ref,
    #[serde(rename = "type")]
    pub kind: Types,
    pub preferred_username: Text,
    pub name: Text,
    pub name_map: LangMap,
    pub summary: Text,
    pub summary_map: LangMap,
    pub url: Ref,
    pub inbox: Ref,
    pub outbox: Ref,
    pub followers: Ref,
    pub following: Ref,
    pub featured: Ref,
    pub endpoints: Node<Endpoints>,
    pub public_key: OneOrMany<Node<Key>>,
    /// Profile fields (`PropertyValue`s).
    pub attachment: OneOrMany<Node<Field>>,
    /// The custom emoji of its name, bio and fields (`Emoji`s).
    pub tag: OneOrMany<Node<Tag>>,
    pub icon: Image,
    pub image: Image,
    pub manually_approves_followers: Bool,
    pub discoverable: Bool,
    pub indexable: Bool,
    pub published: Time,
    /// The accounts it says it also is (a Move's target must name its origin here).
    pub also_known_as: Refs,
    pub moved_to: Ref,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Endpoints {
    pub shared_inbox: Text,
}

/// An actor's public key (`publicKey`, or a key document of its own).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Key {
    pub id: Ref,
    pub owner: Ref,
    pub public_key_pem: Text,
}

/// A profile field (`PropertyValue`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Field {
    #[serde(rename = "type")]
    pub kind: Types,
    pub name: Text,
    pub value: Text,
}
