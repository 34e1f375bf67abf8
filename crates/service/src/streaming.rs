//! The streaming API's rules, on the subscriber side: which streams exist, who may open them,
//! which channels feed them, and the per-connection filter (blocks either way, mutes) that
//! Mastodon's streaming server applies to every status event. The transports (WebSocket, SSE)
//! live in `api::streaming`; the publishers in [`crate::jobs::streams`].

use std::collections::HashSet;
use std::sync::Arc;

use ferrodon_domain::model::{Filter, matching_filters};
use ferrodon_domain::ports::{Event, channel};
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, ErrorKind, Id, Result};

use crate::auth::{Caller, Viewer, now};
use crate::{Services, present};

/// One of Mastodon's streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stream {
    User,
    UserNotification,
    /// `public`, `public:local`, `public:remote`, each with `:media`.
    Public {
        locality: Option<&'static str>,
        media: bool,
    },
    Hashtag {
        tag: String,
        local: bool,
    },
    List(Id),
    Direct,
}

impl Stream {
    /// A stream by its name (`public:local:media`), with the `tag` or `list` it needs.
    pub fn parse(name: &str, tag: Option<&str>, list: Option<&str>) -> Result<Stream> {
        let public = |locality, media| Ok(Stream::Public { locality, media });
        match name {
            "user" => Ok(Stream::User),
            "user:notification" => Ok(Stream::UserNotification),
            "public" => public(None, false),
            "public:media" => public(None, true),
            "public:local" => public(Some("local"), false),
            "public:local:media" => public(Some("local"), true),
            "public:remote" => public(Some("remote"), false),
            "public:remote:media" => public(Some("remote"), true),
            "hashtag" | "hashtag:local" => {
                let tag = tag.map(|t| t.trim().trim_start_matches('#')).filter(|t| !t.is_empty());
                let tag = tag.ok_or_else(|| Error::bad_request("No tag for stream provided"))?;
                Ok(Stream::Hashtag { tag: tag.to_string(), local: name == "hashtag:local" })
            }
            "list" => {
                let list =
                    list.filter(|l| !l.is_empty()).ok_or_else(|| Error::bad_request("No list for stream provided"))?;
                Ok(Stream::List(Id::parse(list).ok_or_else(|| Error::new(ErrorKind::NotFound, "List not found"))?))
            }
            "direct" => Ok(Stream::Direct),
            _ => Err(Error::bad_request("Unknown stream type")),
        }
    }

    /// The stream's name.
    pub fn name(&self) -> String {
        match self {
            Stream::User => "user".into(),
            Stream::UserNotification => "user:notification".into(),
            Stream::Public { locality, media } => {
                let mut n = String::from("public");
                if let Some(l) = locality {
                    n.push(':');
                    n.push_str(l);
                }
                if *media {
                    n.push_str(":media");
                }
                n
            }
            Stream::Hashtag { local, .. } => if *local { "hashtag:local" } else { "hashtag" }.into(),
            Stream::List(_) => "list".into(),
            Stream::Direct => "direct".into(),
        }
    }

    /// What events carry as `stream`: the name, then the tag or list id.
    pub fn label(&self) -> Vec<String> {
        match self {
            Stream::Hashtag { tag, .. } => vec![self.name(), tag.clone()],
            Stream::List(id) => vec![self.name(), id.to_string()],
            _ => vec![self.name()],
        }
    }
}

/// An opened stream: its label and the channels that feed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub stream: Stream,
    pub label: Vec<String>,
    pub channels: Vec<String>,
}

/// The token a streaming connection authenticated with: a user token is required (Mastodon
/// dropped public and app tokens in 4.2); failures are 401s, as Mastodon's streaming server
/// answers them.
pub fn require_viewer(caller: &Caller) -> Result<&Viewer> {
    match caller {
        Caller::Anonymous => Err(Error::unauthorized("Missing access token")),
        Caller::App(_) => Err(Error::unauthorized("Access token does not belong to a user")),
        Caller::User(v) => {
            if !["read", "read:statuses", "read:notifications"].iter().any(|s| v.scopes.allows(s)) {
                return Err(Error::unauthorized("Access token does not have the required scopes"));
            }
            Ok(v)
        }
    }
}

/// Checks that `me` may open `stream` and names its channels. `user` carries notifications only
/// when the token may read them; `user:notification` needs that scope.
pub fn open(me: &Viewer, stream: Stream) -> Result<Subscription> {
    let statuses = me.scopes.allows("read:statuses");
    let notifications = me.scopes.allows("read:notifications");
    let scope_error = || Error::unauthorized("Access token does not have the required scopes");
    let id = me.account.id;
    let channels = match &stream {
        Stream::UserNotification if notifications => vec![channel::notifications(id)],
        Stream::UserNotification => return Err(scope_error()),
        _ if !statuses => return Err(scope_error()),
        Stream::User if notifications => vec![channel::home(id), channel::notifications(id)],
        Stream::User => vec![channel::home(id)],
        Stream::Public { locality, media } => vec![channel::public(*locality, *media)],
        Stream::Hashtag { tag, local } => vec![channel::hashtag(tag, *local)],
        // Whose list it is was checked by `owns_list`.
        Stream::List(list) => vec![channel::list(*list)],
        Stream::Direct => vec![channel::direct(id)],
    };
    Ok(Subscription { label: stream.label(), stream, channels })
}

/// A list stream is for the list's owner only: others get "List not found", as Mastodon.
pub async fn owns_list(svc: &Services, me: &Viewer, stream: &Stream) -> Result<()> {
    if let Stream::List(id) = stream {
        let mut tx = svc.db.read().await?;
        if crate::lists::own(&mut tx, me, &id.to_string()).await.is_err() {
            return Err(Error::new(ErrorKind::NotFound, "List not found"));
        }
    }
    Ok(())
}

/// What one connection hides: status events by, reblogging or mentioning accounts it blocks or
/// is blocked by, or mutes, and what its custom filters hide or mark. Loaded when the
/// connection opens and again whenever its account's blocks, mutes or filters change (an event
/// on its system channel), or when one of its timed mutes ends ([`StreamFilter::reload_at`]).
#[derive(Clone, Debug, Default)]
pub struct StreamFilter {
    me: Id,
    hidden: HashSet<Id>,
    /// When the first timed mute in `hidden` ends.
    mutes_end: Option<Millis>,
    /// Blocked domains: their statuses leave the public, hashtag and list streams.
    domains: HashSet<String>,
    /// Custom filters.
    filters: Vec<Filter>,
}

/// What a connection's custom filters make of a status event.
#[derive(Debug)]
pub enum Filtered {
    /// No filter of the stream's context matches: the event as it is.
    Unchanged,
    /// A `hide` filter matches: the client does not get it.
    Hidden,
    /// Others match: the event with their results in the status' `filtered`.
    Marked(Arc<Event>),
}

impl StreamFilter {
    pub async fn load(svc: &Services, me: Id) -> Result<StreamFilter> {
        let mut tx = svc.db.read().await?;
        let h = tx.hidden_accounts(me, now()).await?;
        let now = now();
        let filters = tx.filters_of(me).await?.into_iter().filter(|f| !f.expired(now)).collect();
        Ok(StreamFilter {
            me,
            mutes_end: h.mutes_end,
            hidden: h.blocked.into_iter().chain(h.muted).collect(),
            domains: h.domains.into_iter().collect(),
            filters,
        })
    }

    /// When this filter goes out of date by itself (a timed mute ends; milliseconds since the
    /// epoch): load it again then.
    pub fn reload_at(&self) -> Option<Millis> {
        self.mutes_end
    }

    /// Whether `event`, received on `channel`, is from a blocked domain on a stream that drops
    /// them (public, hashtag and list streams, as Mastodon's streaming server does).
    pub fn hides_domain_of(&self, channel: &str, event: &Event) -> bool {
        if self.domains.is_empty()
            || !["timeline:public", "timeline:hashtag:", "timeline:list:"].iter().any(|p| channel.starts_with(p))
        {
            return false;
        }
        event.about.as_ref().and_then(|s| s.domain.as_ref()).is_some_and(|d| self.domains.contains(d))
    }

    /// Applies the custom filters whose context is `channel`'s (home and lists: `home`;
    /// public and hashtag streams: `public`) to a status event, as Mastodon's streaming server
    /// does.
    pub fn custom(&self, channel: &str, event: &Event) -> Filtered {
        let Some(about) = &event.about else { return Filtered::Unchanged };
        if self.filters.is_empty() || !matches!(event.name.as_str(), "update" | "status.update") {
            return Filtered::Unchanged;
        }
        let context = if channel.starts_with("timeline:public") || channel.starts_with("timeline:hashtag:") {
            "public"
        } else if channel == channel::home(self.me) || channel.starts_with("timeline:list:") {
            "home"
        } else {
            return Filtered::Unchanged;
        };
        let in_context: Vec<Filter> = self.filters.iter().filter(|f| f.applies_in(context)).cloned().collect();
        let matches = matching_filters(&in_context, about.status_id, &about.text, now());
        if matches.is_empty() {
            return Filtered::Unchanged;
        }
        if matches.iter().any(|m| m.filter.hides()) {
            return Filtered::Hidden;
        }
        let marked = event.payload.as_deref().and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
        let Some(mut status) = marked else { return Filtered::Unchanged };
        let results = serde_json::to_value(present::filter_results(&matches)).unwrap_or_default();
        // A reblog carries the results on the reblogged status.
        match status.get_mut("reblog").filter(|r| r.is_object()) {
            Some(reblog) => reblog["filtered"] = results,
            None => status["filtered"] = results,
        }
        Filtered::Marked(Event::new(&event.name, Some(status.to_string()), event.about.clone()))
    }

    /// Whether the connection gets `event`.
    pub fn allows(&self, event: &Event) -> bool {
        if event.internal() {
            return false;
        }
        match &event.about {
            None => true,
            Some(s) if s.author == self.me => true,
            Some(s) => {
                !self.hidden.contains(&s.author) && !s.others.iter().any(|o| *o != self.me && self.hidden.contains(o))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodon_domain::ports::StatusSubject;

    #[test]
    fn streams_parse_and_name_themselves() {
        for name in [
            "user",
            "user:notification",
            "public",
            "public:media",
            "public:local",
            "public:local:media",
            "public:remote",
            "public:remote:media",
            "direct",
        ] {
            assert_eq!(Stream::parse(name, None, None).unwrap().name(), name);
        }
        let tag = Stream::parse("hashtag:local", Some("#Rust"), None).unwrap();
        assert_eq!(tag, Stream::Hashtag { tag: "Rust".into(), local: true });
        assert_eq!(tag.label(), vec!["hashtag:local".to_string(), "Rust".to_string()]);
        assert_eq!(Stream::parse("hashtag", None, None).unwrap_err().message, "No tag for stream provided");
        assert_eq!(Stream::parse("list", None, None).unwrap_err().message, "No list for stream provided");
        assert_eq!(Stream::parse("nope", None, None).unwrap_err().message, "Unknown stream type");
        assert_eq!(
            Stream::parse("public:remote:media", None, None).unwrap(),
            Stream::Public { locality: Some("remote"), media: true }
        );
        assert_eq!(channel::public(Some("remote"), true), "timeline:public:remote:media");
        assert_eq!(channel::hashtag("Rust", true), "timeline:hashtag:rust:local");
    }

    #[test]
    fn the_filter_hides_blocked_and_muted_accounts_wherever_they_appear() {
        let (me, blocked, muted, friend) = (Id(1), Id(2), Id(3), Id(4));
        let filter = StreamFilter { me, hidden: [blocked, muted].into_iter().collect(), ..Default::default() };
        let about = |author, others: Vec<Id>| {
            Event::new("update", Some("{}".into()), Some(StatusSubject { author, others, ..Default::default() }))
        };
        assert!(filter.allows(&about(friend, vec![])));
        assert!(filter.allows(&about(friend, vec![me])));
        assert!(!filter.allows(&about(blocked, vec![])));
        assert!(!filter.allows(&about(muted, vec![])));
        assert!(!filter.allows(&about(friend, vec![blocked])), "a reblog of, or mention of, a blocked account");
        assert!(filter.allows(&about(me, vec![blocked])), "my own statuses always");
        assert!(filter.allows(&Event::new("delete", Some("5".into()), None)));
        assert!(!filter.allows(&Event::new(Event::RELATIONS_CHANGED, None, None)));
    }

    #[test]
    fn custom_filters_apply_in_the_stream_context_only() {
        use ferrodon_domain::model::FilterKeyword;
        let filter = |id: i64, action: &str, context: &str, keyword: &str| Filter {
            id: Id(id),
            account_id: Id(1),
            title: keyword.into(),
            context_json: format!("[\"{context}\"]"),
            action: action.into(),
            expires_at: None,
            created_at: 0,
            updated_at: 0,
            keywords: vec![FilterKeyword {
                id: Id(id + 10),
                filter_id: Id(id),
                keyword: keyword.into(),
                whole_word: true,
            }],
            statuses: Vec::new(),
        };
        let f = StreamFilter {
            me: Id(1),
            filters: vec![filter(2, "hide", "public", "secret"), filter(3, "warn", "home", "spoiler")],
            ..Default::default()
        };
        let status = |text: &str| {
            let about = StatusSubject { author: Id(7), status_id: Id(9), text: text.into(), ..Default::default() };
            Event::new("update", Some(r#"{"id":"9","filtered":[]}"#.into()), Some(about))
        };
        let public = channel::public(Some("local"), false);
        assert!(matches!(f.custom(&public, &status("a secret here")), Filtered::Hidden));
        assert!(matches!(f.custom(&channel::home(Id(1)), &status("a secret here")), Filtered::Unchanged));
        assert!(matches!(f.custom(&public, &status("a spoiler here")), Filtered::Unchanged));
        let Filtered::Marked(marked) = f.custom(&channel::home(Id(1)), &status("a spoiler here")) else {
            panic!("a warn filter of the home context marks the status on the home stream");
        };
        let payload: serde_json::Value = serde_json::from_str(marked.payload.as_deref().unwrap()).unwrap();
        assert_eq!(payload["filtered"][0]["filter"]["id"], "3");
        assert_eq!(payload["filtered"][0]["keyword_matches"], serde_json::json!(["spoiler"]));
        assert!(matches!(f.custom(&channel::notifications(Id(1)), &status("a secret")), Filtered::Unchanged));
    }

    #[test]
    fn a_blocked_domain_leaves_public_hashtag_and_list_streams_only() {
        let filter = StreamFilter { me: Id(1), domains: ["remote.example".to_string()].into(), ..Default::default() };
        let from = |domain: Option<&str>| {
            let about = StatusSubject { author: Id(7), domain: domain.map(str::to_string), ..Default::default() };
            Event::new("update", Some("{}".into()), Some(about))
        };
        let blocked = from(Some("remote.example"));
        for channel in
            [channel::public(None, false), channel::public(Some("remote"), true), channel::hashtag("x", false)]
        {
            assert!(filter.hides_domain_of(&channel, &blocked), "{channel}");
        }
        assert!(filter.hides_domain_of(&channel::list(Id(3)), &blocked));
        // The home feed keeps the accounts one still follows there.
        assert!(!filter.hides_domain_of(&channel::home(Id(1)), &blocked));
        assert!(!filter.hides_domain_of(&channel::public(None, false), &from(Some("other.example"))));
        assert!(!filter.hides_domain_of(&channel::public(None, false), &from(None)));
    }
}
