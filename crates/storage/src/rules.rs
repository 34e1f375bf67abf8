//! The timeline rules, each written once: which statuses a home feed, a list, the public
//! timelines and a hashtag's timeline take. Each rule is a SQL condition over a status alias
//! (and, for the feeds, the row that puts the status' author in the feed), and the same text
//! serves both sides of a timeline:
//!
//! - reading it (`home_timeline`, `list_timeline`, `public_timeline`, `tag_timeline`), where
//!   the alias is the `statuses` table;
//! - distributing a status as it is posted (`home_feed_recipients`, `list_recipients`,
//!   `public_reach`), where the alias is the one status at hand ([`status_row`]) and the rule
//!   tells whose feed, which lists and which public timelines take it.
//!
//! The rules are Mastodon's fan-out ones (`FeedManager#filter_from_home`, `#filter_from_list?`,
//! `FanOutOnWriteService`, `PublicFeed`, `TagFeed`). Blocks, mutes and domain blocks are the
//! reader's own filters, applied by the service when a timeline is read or a stream delivers.

use ferrodon_domain::model::Status;

use crate::sql::{Arg, args};

/// `status` as a one-row table (to be aliased) with the columns the rules read, its values
/// bound from `$first` on. A rule that reads a column missing here fails loudly in the tests.
pub(crate) fn status_row(status: &Status, first: usize) -> (String, Vec<Arg>) {
    let n = first;
    let sql = format!(
        "(SELECT CAST(${n} AS BIGINT) AS id, CAST(${} AS BIGINT) AS account_id, CAST(${} AS TEXT) AS visibility, \
         CAST(${} AS TEXT) AS language, CAST(${} AS BIGINT) AS reblog_of_id, CAST(${} AS BIGINT) AS in_reply_to_account_id)",
        n + 1,
        n + 2,
        n + 3,
        n + 4,
        n + 5
    );
    let values = args![
        status.id,
        status.account_id,
        status.visibility.as_str(),
        &status.language,
        status.reblog_of_id,
        status.in_reply_to_account_id
    ];
    (sql, values)
}

/// Which side of the home feeds' sources is known.
pub(crate) enum HomeOf<'a> {
    /// The feed of this account (an SQL expression): its own statuses and those it follows.
    Owner(&'a str),
    /// The feeds taking this account's statuses: its own (if local) and its followers'.
    Author(&'a str),
}

/// The sources of home feeds, as a table (to be aliased) of `(owner, author, languages,
/// show_reblogs)`: each account with itself, and each follow with its options. Only local
/// accounts have a home feed: a caller with [`HomeOf::Author`] keeps the local owners.
pub(crate) fn home_sources(of: HomeOf<'_>) -> String {
    let (own, follows) = match of {
        HomeOf::Owner(v) => (v, format!("account_id = {v}")),
        HomeOf::Author(a) => (a, format!("target_account_id = {a}")),
    };
    format!(
        "(SELECT CAST({own} AS BIGINT) AS owner, CAST({own} AS BIGINT) AS author, CAST(NULL AS TEXT) AS languages, \
         TRUE AS show_reblogs UNION ALL SELECT account_id, target_account_id, languages, show_reblogs FROM relations \
         WHERE kind = 'follow' AND {follows})"
    )
}

/// The home feed of `viewer` takes status `s`, whose author's row in [`home_sources`] is `f`:
/// everything of the viewer's own; of the accounts it follows, what passes the follow's
/// options ([`follow_options`]), a direct status only when it mentions the viewer, a reply
/// only to the author itself, the viewer or someone the viewer follows, and nothing by an
/// account on one of the viewer's exclusive lists.
pub(crate) fn home(s: &str, f: &str, viewer: &str) -> String {
    format!(
        "({s}.account_id = {viewer} OR ({follow} \
         AND ({s}.visibility <> 'direct' OR EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = {s}.id AND m.account_id = {viewer})) \
         AND ({replies}) \
         AND NOT EXISTS (SELECT 1 FROM list_accounts xla JOIN lists xl ON xl.id = xla.list_id \
              WHERE xla.account_id = {s}.account_id AND xl.account_id = {viewer} AND xl.exclusive = TRUE)))",
        follow = follow_options(s, f),
        replies = replies(
            s,
            viewer,
            &format!(
                "{s}.in_reply_to_account_id IN (SELECT target_account_id FROM relations WHERE kind = 'follow' AND account_id = {viewer})"
            )
        ),
    )
}

/// The sources of lists, as tables `l` (the list), `la` (the membership) and `f` (the owner's
/// follow of the member, whose options apply as in the home feed).
pub(crate) const LIST_SOURCES: &str = "lists l JOIN list_accounts la ON la.list_id = l.id JOIN relations f \
    ON f.kind = 'follow' AND f.account_id = l.account_id AND f.target_account_id = la.account_id";

/// List `l` takes status `s` of a member (whose follow by the owner is `f`): not a direct
/// status (Mastodon never fans those out to lists), what passes the follow's options, and a
/// reply only to the author itself, the list's owner, or as the list's `replies_policy` says:
/// `followed`, to someone the owner follows; `list`, to a member; `none`, to no one else.
pub(crate) fn list(s: &str, f: &str, l: &str) -> String {
    let owner = format!("{l}.account_id");
    let others = format!(
        "({l}.replies_policy = 'followed' AND {s}.in_reply_to_account_id IN \
           (SELECT target_account_id FROM relations WHERE kind = 'follow' AND account_id = {owner})) \
         OR ({l}.replies_policy = 'list' AND {s}.in_reply_to_account_id IN \
           (SELECT account_id FROM list_accounts WHERE list_id = {l}.id))"
    );
    format!("{s}.visibility <> 'direct' AND {} AND ({})", follow_options(s, f), replies(s, &owner, &others))
}

/// A follow's options, `f` being the follow (or the reader's own row, which has none): its
/// languages (a status in no language passes), and the author's reblogs shown or not.
fn follow_options(s: &str, f: &str) -> String {
    format!(
        "({f}.languages IS NULL OR {s}.language IS NULL OR ',' || {f}.languages || ',' LIKE '%,' || {s}.language || ',%') \
         AND ({s}.reblog_of_id IS NULL OR {f}.show_reblogs = TRUE)"
    )
}

/// `s` is no reply, a reply in its author's own thread, a reply to `reader`, or passes `others`.
fn replies(s: &str, reader: &str, others: &str) -> String {
    format!(
        "{s}.in_reply_to_account_id IS NULL OR {s}.in_reply_to_account_id = {s}.account_id \
         OR {s}.in_reply_to_account_id = {reader} OR {others}"
    )
}

/// Status `s` is on its hashtags' timelines (Mastodon's `TagFeed` and the hashtag streams):
/// public, not a reblog, and by an account neither limited (silenced) nor suspended. Replies
/// are included.
pub(crate) fn hashtags(s: &str) -> String {
    format!(
        "{s}.visibility = 'public' AND {s}.reblog_of_id IS NULL AND NOT EXISTS (SELECT 1 FROM accounts pa \
         WHERE pa.id = {s}.account_id AND (pa.silenced_at IS NOT NULL OR pa.suspended_at IS NOT NULL))"
    )
}

/// Status `s` is on the public timelines (`PublicFeed` and the public streams): as on
/// [`hashtags`], and not a reply to someone else. Which of them (all, local or remote, and
/// the `:media` ones) is the status' own locality and attachments.
pub(crate) fn public(s: &str) -> String {
    format!("{} AND ({s}.in_reply_to_account_id IS NULL OR {s}.in_reply_to_account_id = {s}.account_id)", hashtags(s))
}
