use ferrodon_kernel::{Id, time::Millis};

use super::string_enum;

/// A local or remote actor. `domain` is empty for local accounts.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Account {
    pub id: Id,
    pub username: String,
    pub domain: String,
    pub display_name: String,
    /// The bio as the owner wrote it (plain text for local accounts).
    pub note_source: String,
    /// The bio as HTML.
    pub note: String,
    /// Profile fields as JSON `[{"name","value"}]` (values plain text).
    pub fields_json: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub hide_collections: bool,
    pub uri: String,
    pub url: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_status_at: Option<Millis>,
    pub statuses_count: i64,
    pub followers_count: i64,
    pub following_count: i64,
    pub suspended_at: Option<Millis>,
    /// Limited ("silenced"), as by a domain block of severity `silence`: off the public and
    /// hashtag timelines, notifying only its followers.
    pub silenced_at: Option<Millis>,
    /// ActivityPub actor type: Person, Service (bots), Group, Application, Organization.
    pub actor_type: String,
    /// Remote actors' endpoints (empty for local accounts, whose URLs are derived).
    pub inbox_url: String,
    pub shared_inbox_url: String,
    pub outbox_url: String,
    pub followers_url: String,
    pub featured_url: String,
    pub avatar_remote_url: String,
    pub header_remote_url: String,
    /// A local account's avatar and header: keys in the file store.
    pub avatar_file: Option<String>,
    pub header_file: Option<String>,
    /// The custom emoji its display name, bio and fields use, as JSON `[{"shortcode","url"}]`.
    pub emojis_json: String,
    /// The actor's public key (SPKI PEM) and its id; empty until a local key is made.
    pub public_key_pem: String,
    pub key_id: String,
    /// When a remote actor was last fetched.
    pub fetched_at: Option<Millis>,
}

impl Account {
    pub fn is_local(&self) -> bool {
        self.domain.is_empty()
    }

    /// `username` for local accounts, `username@domain` for remote ones.
    pub fn acct(&self) -> String {
        if self.is_local() { self.username.clone() } else { format!("{}@{}", self.username, self.domain) }
    }

    pub fn fields(&self) -> Vec<ProfileField> {
        serde_json::from_str(&self.fields_json).unwrap_or_default()
    }

    pub fn emojis(&self) -> Vec<super::RemoteEmoji> {
        serde_json::from_str(&self.emojis_json).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileField {
    pub name: String,
    pub value: String,
}

string_enum!(
    /// Mastodon's built-in roles. `User` is the role of everyone else.
    Role { User = "", Moderator = "Moderator", Admin = "Admin", Owner = "Owner" }
);

impl Role {
    pub fn display_name(self) -> &'static str {
        match self {
            Role::User => "",
            other => other.as_str(),
        }
    }
    /// The ids Mastodon gives its default roles (`-99` everyone, 1 Moderator, 2 Admin, 3 Owner).
    pub fn mastodon_id(self) -> &'static str {
        match self {
            Role::User => "-99",
            Role::Moderator => "1",
            Role::Admin => "2",
            Role::Owner => "3",
        }
    }
    /// Mastodon's permission bit field for the default roles.
    pub fn permissions(self) -> &'static str {
        match self {
            Role::User => "65536",
            Role::Moderator => "1308",
            Role::Admin => "983036",
            Role::Owner => "1",
        }
    }
}

string_enum!(
    /// Who may see a status.
    Visibility { Public = "public", Unlisted = "unlisted", Private = "private", Direct = "direct" }
);

/// A local sign-in identity attached to a local account.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct User {
    pub id: Id,
    pub account_id: Id,
    pub email: String,
    pub encrypted_password: String,
    pub confirmed_at: Option<Millis>,
    pub approved: bool,
    pub disabled: bool,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub role: Role,
    pub locale: String,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub default_visibility: Visibility,
    pub default_sensitive: bool,
    pub default_language: Option<String>,
    pub created_at: Millis,
}

/// A new account with its user, as created by registration or the CLI.
#[derive(Clone, Debug)]
pub struct NewLocalAccount {
    pub username: String,
    pub email: String,
    pub encrypted_password: String,
    pub confirmed: bool,
    pub approved: bool,
    pub role: Role,
    pub locale: String,
    pub uri: String,
    pub url: String,
}

/// The editable profile, as `update_credentials` changes it.
#[derive(Clone, Debug)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub note_source: String,
    pub note: String,
    pub fields_json: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub hide_collections: bool,
    /// The custom emoji the name, bio and fields use, as JSON.
    pub emojis_json: String,
}

/// Posting defaults kept with the user (`source[privacy]`, …).
#[derive(Clone, Debug)]
pub struct UserPreferences {
    pub default_visibility: Visibility,
    pub default_sensitive: bool,
    pub default_language: Option<String>,
}

/// A remote actor as fetched: what an upsert by URI writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteAccount {
    pub uri: String,
    pub url: String,
    pub username: String,
    pub domain: String,
    pub actor_type: String,
    pub display_name: String,
    /// The bio as sanitised HTML.
    pub note: String,
    pub fields_json: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub inbox_url: String,
    pub shared_inbox_url: String,
    pub outbox_url: String,
    pub followers_url: String,
    pub featured_url: String,
    pub avatar_remote_url: String,
    pub header_remote_url: String,
    pub public_key_pem: String,
    pub key_id: String,
    pub created_at: Option<Millis>,
    /// The accounts it says it also is (`alsoKnownAs`): a Move to it must come from one of them.
    #[serde(default)]
    pub also_known_as: Vec<String>,
    /// The custom emoji of its name, bio and fields (its `Emoji` tags), as JSON.
    #[serde(default)]
    pub emojis_json: String,
}
