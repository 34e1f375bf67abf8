use async_trait::async_trait;
use ferrodon_domain::model::{
    AccountStatusFilter, Keyed, Mention, NewPoll, NewStatus, Poll, PublicFilter, PublicReach, Status, StatusEdit,
    StatusInteractions, StatusMedia, StatusRevision, Tag, Visibility,
};
use ferrodon_domain::ports::{StatusMark, StatusStore};
use ferrodon_kernel::{Error, ErrorKind, Id, PageRequest, Result, time::Millis};

use super::accounts::page_clause;
use crate::rules::{self, HomeOf};
use crate::sql::{Arg, SqlTx, args};

pub(crate) const STATUS_COLS: &str = "s.id, s.account_id, s.uri, s.url, s.text, s.content, s.spoiler_text, s.sensitive, s.visibility, \
    s.language, s.in_reply_to_id, s.in_reply_to_account_id, s.reblog_of_id, s.conversation_id, s.application_id, s.local, \
    s.created_at, s.edited_at, s.replies_count, s.reblogs_count, s.favourites_count, s.has_poll, s.mentions_json, \
    s.tags_json, s.media_json, s.emojis_json";

const POLL_COLS: &str =
    "id, status_id, account_id, options_json, votes_json, expires_at, multiple, hide_totals, votes_count, voters_count";

/// The filters of the public and hashtag timelines that are no rule of theirs (see
/// [`rules::public`]): only local or only remote statuses, only those with attachments.
fn public_filter(s: &str, f: PublicFilter) -> String {
    let locality = match (f.local, f.remote) {
        (true, false) => format!(" AND {s}.local = TRUE"),
        (false, true) => format!(" AND {s}.local = FALSE"),
        _ => String::new(),
    };
    let media = if f.only_media { format!(" AND {s}.has_media = TRUE") } else { String::new() };
    locality + &media
}

/// Public and unlisted statuses: the ones that count as replies.
fn distributable(v: Visibility) -> bool {
    matches!(v, Visibility::Public | Visibility::Unlisted)
}

fn mark_kind(mark: StatusMark) -> &'static str {
    match mark {
        StatusMark::Favourite => "favourite",
        StatusMark::Bookmark => "bookmark",
        StatusMark::Pin => "pin",
        StatusMark::Mute => "mute",
    }
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Id,
}

#[derive(sqlx::FromRow)]
struct StatusTagRow {
    status_id: Id,
    id: Id,
    name: String,
}

#[derive(sqlx::FromRow)]
struct MarkRow {
    kind: String,
    status_id: Id,
    choice: i64,
}

#[derive(sqlx::FromRow)]
struct KeyedId {
    key: Id,
    id: Id,
}

impl SqlTx {
    /// Inserts a status with its mentions, tags, poll and counters; with `unless_known`, a
    /// status whose URI is stored already is left alone (`None`), in the same statement.
    async fn insert_status_row(&mut self, n: &NewStatus, unless_known: bool) -> Result<Option<Status>> {
        let mentions_json = serde_json::to_string(&n.mentions).map_err(Error::internal)?;
        let tags_json = serde_json::to_string(&n.tags).map_err(Error::internal)?;
        let media_json = serde_json::to_string(&n.media).map_err(Error::internal)?;
        let emojis_json = serde_json::to_string(&n.emojis).map_err(Error::internal)?;
        let sql = format!(
            "INSERT INTO statuses (id, account_id, uri, url, text, content, spoiler_text, sensitive, visibility, language, \
             in_reply_to_id, in_reply_to_account_id, reblog_of_id, conversation_id, application_id, local, created_at, \
             mentions_json, tags_json, media_json, emojis_json, has_media) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17, $16, $18, $19, $20, $21, $22){} \
             RETURNING {}",
            if unless_known { " ON CONFLICT (uri) DO NOTHING" } else { "" },
            STATUS_COLS.replace("s.", "")
        );
        let inserted: Option<Status> = self
            .opt(
                sql,
                args![
                    n.id,
                    n.account_id,
                    &n.uri,
                    &n.url,
                    &n.text,
                    &n.content,
                    &n.spoiler_text,
                    n.sensitive,
                    n.visibility.as_str(),
                    &n.language,
                    n.in_reply_to_id,
                    n.in_reply_to_account_id,
                    n.reblog_of_id,
                    n.conversation_id,
                    n.application_id,
                    n.created_at,
                    n.local,
                    mentions_json,
                    tags_json,
                    media_json,
                    emojis_json,
                    !n.media.is_empty()
                ],
            )
            .await?;
        let Some(inserted) = inserted else {
            return Ok(None);
        };
        self.link_tags(n.id, &n.tags).await?;
        if let Some(p) = &n.poll {
            self.insert_poll(n.id, n.account_id, p).await?;
        }
        // Counters as Mastodon keeps them: direct statuses count nowhere (the account's count
        // moves in a trigger, see migration 0012), and only public and unlisted replies count
        // as replies.
        if let Some(parent) = n.in_reply_to_id.filter(|_| distributable(n.visibility)) {
            self.exec("UPDATE statuses SET replies_count = replies_count + 1 WHERE id = $1", args![parent]).await?;
        }
        if let Some(original) = n.reblog_of_id {
            self.exec("UPDATE statuses SET reblogs_count = reblogs_count + 1 WHERE id = $1", args![original]).await?;
        }
        match &n.poll {
            Some(_) => self.status_by_id(n.id).await?.ok_or_else(|| Error::internal("status vanished")).map(Some),
            None => Ok(Some(inserted)),
        }
    }

    /// The rows linking a status to its mentioned accounts and its tags (the status row keeps
    /// both as JSON too: its writer sets those).
    /// Links a status to its tags (its mentions are linked by the database, see migration 0013).
    async fn link_tags(&mut self, status_id: Id, tags: &[String]) -> Result<()> {
        for name in tags {
            let lower = name.to_lowercase();
            self.exec(
                "INSERT INTO tags (id, name, name_lower) VALUES ($1, $2, $3) ON CONFLICT (name_lower) DO NOTHING",
                args![Id::generate(), name, &lower],
            )
            .await?;
            self.exec(
                "INSERT INTO statuses_tags (status_id, tag_id) SELECT $1, id FROM tags WHERE name_lower = $2 \
                 ON CONFLICT DO NOTHING",
                args![status_id, &lower],
            )
            .await?;
        }
        Ok(())
    }

    async fn insert_poll(&mut self, status_id: Id, account_id: Id, p: &NewPoll) -> Result<()> {
        self.exec("UPDATE statuses SET has_poll = TRUE WHERE id = $1", args![status_id]).await?;
        let options = serde_json::to_string(&p.options).map_err(Error::internal)?;
        let votes = serde_json::to_string(&vec![0; p.options.len()]).map_err(Error::internal)?;
        self.exec(
            "INSERT INTO polls (id, status_id, account_id, options_json, votes_json, expires_at, multiple, hide_totals) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![p.id, status_id, account_id, options, votes, p.expires_at, p.multiple, p.hide_totals],
        )
        .await?;
        Ok(())
    }

    /// The home feed's query ([`rules::home`]) for one page.
    async fn home_query(&mut self, account_id: Id, page: &PageRequest) -> Result<Vec<Status>> {
        let (clause, order, mut a) = page_clause("s.id", page, 2);
        let mut all = args![account_id];
        all.append(&mut a);
        let sql = format!(
            "SELECT {STATUS_COLS} FROM {sources} f JOIN statuses s ON s.account_id = f.author \
             WHERE {rule}{clause} ORDER BY s.id {order} LIMIT {}",
            page.limit,
            sources = rules::home_sources(HomeOf::Owner("$1")),
            rule = rules::home("s", "f", "$1"),
        );
        self.timeline(sql, all, order == "ASC").await
    }

    /// Adds one entry to a status' edit history: `(text, content, spoiler_text)` as of `at`.
    async fn insert_revision(
        &mut self,
        status: &Status,
        (text, content, spoiler_text): (&str, &str, &str),
        sensitive: bool,
        poll_options_json: Option<String>,
        at: Millis,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO status_revisions (id, status_id, account_id, text, content, spoiler_text, sensitive, poll_options_json, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![Id::generate(), status.id, status.account_id, text, content, spoiler_text, sensitive, poll_options_json, at],
        )
        .await?;
        Ok(())
    }

    /// Runs a timeline query (`SELECT {STATUS_COLS} …`), newest first.
    pub(crate) async fn timeline(&mut self, sql: String, args: Vec<Arg>, ascending: bool) -> Result<Vec<Status>> {
        let mut rows: Vec<Status> = self.all(sql, args).await?;
        if ascending {
            rows.reverse();
        }
        Ok(rows)
    }
}

#[async_trait]
impl StatusStore for SqlTx {
    async fn insert_status(&mut self, n: &NewStatus) -> Result<Status> {
        self.insert_status_row(n, false).await?.ok_or_else(|| Error::internal("status not inserted"))
    }

    async fn insert_status_unless_known(&mut self, n: &NewStatus) -> Result<Option<Status>> {
        self.insert_status_row(n, true).await
    }

    async fn status_by_id(&mut self, id: Id) -> Result<Option<Status>> {
        self.opt(format!("SELECT {STATUS_COLS} FROM statuses s WHERE s.id = $1"), args![id]).await
    }

    async fn statuses_by_ids(&mut self, ids: &[Id]) -> Result<Vec<Status>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {STATUS_COLS} FROM statuses s WHERE {}", self.in_ids("s.id", 1));
        self.all(sql, vec![ids.into()]).await
    }

    async fn reblog_of(&mut self, account_id: Id, status_id: Id) -> Result<Option<Status>> {
        self.opt(
            format!("SELECT {STATUS_COLS} FROM statuses s WHERE s.reblog_of_id = $1 AND s.account_id = $2"),
            args![status_id, account_id],
        )
        .await
    }

    async fn delete_status(&mut self, id: Id) -> Result<Vec<Id>> {
        let Some(status) = self.status_by_id(id).await? else {
            return Ok(Vec::new());
        };
        let reblogs: Vec<Status> =
            self.all(format!("SELECT {STATUS_COLS} FROM statuses s WHERE s.reblog_of_id = $1"), args![id]).await?;
        let mut removed = vec![id];
        for r in &reblogs {
            self.exec(
                "UPDATE accounts SET statuses_count = statuses_count - 1 WHERE id = $1 AND statuses_count > 0",
                args![r.account_id],
            )
            .await?;
            self.exec("DELETE FROM status_marks WHERE status_id = $1", args![r.id]).await?;
            removed.push(r.id);
        }
        self.exec("DELETE FROM status_marks WHERE status_id = $1", args![id]).await?;
        self.exec("DELETE FROM statuses WHERE id = $1 OR reblog_of_id = $1", args![id]).await?;
        if status.visibility != Visibility::Direct {
            self.exec(
                "UPDATE accounts SET statuses_count = statuses_count - 1 WHERE id = $1 AND statuses_count > 0",
                args![status.account_id],
            )
            .await?;
        }
        if let Some(parent) = status.in_reply_to_id.filter(|_| distributable(status.visibility)) {
            self.exec(
                "UPDATE statuses SET replies_count = replies_count - 1 WHERE id = $1 AND replies_count > 0",
                args![parent],
            )
            .await?;
        }
        if let Some(original) = status.reblog_of_id {
            self.exec(
                "UPDATE statuses SET reblogs_count = reblogs_count - 1 WHERE id = $1 AND reblogs_count > 0",
                args![original],
            )
            .await?;
        }
        Ok(removed)
    }

    async fn edit_status(&mut self, id: Id, e: &StatusEdit) -> Result<()> {
        let current = self.status_by_id(id).await?.ok_or_else(Error::not_found)?;
        let current_poll = self.polls_of(&[id]).await?.into_iter().next();
        let has_history = self.int("SELECT COUNT(*) FROM status_revisions WHERE status_id = $1", args![id]).await? > 0;
        if !has_history {
            // The original becomes the first entry of the history.
            let poll = current_poll.as_ref().map(|p| p.options_json.clone());
            let original = (current.text.as_str(), current.content.as_str(), current.spoiler_text.as_str());
            self.insert_revision(&current, original, current.sensitive, poll, current.created_at).await?;
        }
        let mentions_json = serde_json::to_string(&e.mentions).map_err(Error::internal)?;
        let tags_json = serde_json::to_string(&e.tags).map_err(Error::internal)?;
        self.exec(
            "UPDATE statuses SET text = $2, content = $3, spoiler_text = $4, sensitive = $5, language = $6, edited_at = $7, \
             mentions_json = $8, tags_json = $9 WHERE id = $1",
            args![id, &e.text, &e.content, &e.spoiler_text, e.sensitive, &e.language, e.edited_at, mentions_json, tags_json],
        )
        .await?;
        if let Some((media, emojis)) = &e.media {
            let media_json = serde_json::to_string(media).map_err(Error::internal)?;
            let emojis_json = serde_json::to_string(emojis).map_err(Error::internal)?;
            self.exec(
                "UPDATE statuses SET media_json = $2, emojis_json = $3, has_media = $4 WHERE id = $1",
                args![id, media_json, emojis_json, !media.is_empty()],
            )
            .await?;
        }
        self.exec("DELETE FROM statuses_tags WHERE status_id = $1", args![id]).await?;
        self.link_tags(id, &e.tags).await?;
        // A poll whose options changed starts over, as in Mastodon.
        let same_poll = match (&current_poll, &e.poll) {
            (Some(old), Some(new)) => old.options() == new.options && old.multiple == new.multiple,
            (None, None) => true,
            _ => false,
        };
        if !same_poll {
            self.exec("DELETE FROM polls WHERE status_id = $1", args![id]).await?;
            self.exec("UPDATE statuses SET has_poll = FALSE WHERE id = $1", args![id]).await?;
            if let Some(p) = &e.poll {
                self.insert_poll(id, current.account_id, p).await?;
            }
        }
        let poll = e.poll.as_ref().map(|p| serde_json::to_string(&p.options).unwrap_or_default());
        self.insert_revision(&current, (&e.text, &e.content, &e.spoiler_text), e.sensitive, poll, e.edited_at).await?;
        Ok(())
    }

    async fn set_status_media(&mut self, id: Id, media: &[StatusMedia]) -> Result<()> {
        let media_json = serde_json::to_string(media).map_err(Error::internal)?;
        self.exec("UPDATE statuses SET media_json = $2 WHERE id = $1", args![id, media_json]).await.map(|_| ())
    }

    async fn status_revisions(&mut self, id: Id) -> Result<Vec<StatusRevision>> {
        self.all(
            "SELECT id, status_id, account_id, text, content, spoiler_text, sensitive, poll_options_json, created_at \
             FROM status_revisions WHERE status_id = $1 ORDER BY id",
            args![id],
        )
        .await
    }

    async fn mentions_of(&mut self, status_ids: &[Id]) -> Result<Vec<Mention>> {
        if status_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT status_id, account_id FROM mentions WHERE {}", self.in_ids("status_id", 1));
        self.all(sql, vec![status_ids.into()]).await
    }

    async fn tags_of(&mut self, status_ids: &[Id]) -> Result<Vec<(Id, Tag)>> {
        if status_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT st.status_id, t.id, t.name FROM statuses_tags st JOIN tags t ON t.id = st.tag_id \
             WHERE {} ORDER BY t.name_lower",
            self.in_ids("st.status_id", 1)
        );
        let rows: Vec<StatusTagRow> = self.all(sql, vec![status_ids.into()]).await?;
        Ok(rows.into_iter().map(|r| (r.status_id, Tag { id: r.id, name: r.name })).collect())
    }

    async fn polls_of(&mut self, status_ids: &[Id]) -> Result<Vec<Poll>> {
        if status_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {POLL_COLS} FROM polls WHERE {}", self.in_ids("status_id", 1));
        self.all(sql, vec![status_ids.into()]).await
    }

    async fn poll_by_id(&mut self, id: Id) -> Result<Option<Poll>> {
        self.opt(format!("SELECT {POLL_COLS} FROM polls WHERE id = $1"), args![id]).await
    }

    async fn set_poll_counts(&mut self, status_id: Id, votes: &[i64], voters_count: i64) -> Result<()> {
        let votes_json = serde_json::to_string(votes).map_err(Error::internal)?;
        self.exec(
            "UPDATE polls SET votes_json = $2, votes_count = $3, voters_count = $4 WHERE status_id = $1",
            args![status_id, votes_json, votes.iter().sum::<i64>(), voters_count],
        )
        .await?;
        Ok(())
    }

    async fn poll_voters(&mut self, poll_id: Id) -> Result<Vec<Id>> {
        let rows: Vec<(Id,)> = self
            .all("SELECT DISTINCT account_id FROM poll_votes WHERE poll_id = $1 ORDER BY account_id", args![poll_id])
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn vote(&mut self, poll_id: Id, account_id: Id, choices: &[i64], now: Millis) -> Result<()> {
        let voted = self
            .int("SELECT COUNT(*) FROM poll_votes WHERE poll_id = $1 AND account_id = $2", args![poll_id, account_id])
            .await?;
        if voted > 0 {
            return Err(Error::new(ErrorKind::Conflict, "Validation failed: You have already voted on this poll"));
        }
        let poll = self.poll_by_id(poll_id).await?.ok_or_else(Error::not_found)?;
        let mut votes = poll.votes();
        for c in choices {
            self.exec(
                "INSERT INTO poll_votes (poll_id, account_id, choice, created_at) VALUES ($1, $2, $3, $4)",
                args![poll_id, account_id, *c, now],
            )
            .await?;
            if let Some(v) = votes.get_mut(*c as usize) {
                *v += 1;
            }
        }
        let votes_json = serde_json::to_string(&votes).map_err(Error::internal)?;
        self.exec(
            "UPDATE polls SET votes_json = $2, votes_count = votes_count + $3, voters_count = voters_count + 1 WHERE id = $1",
            args![poll_id, votes_json, choices.len() as i64],
        )
        .await?;
        Ok(())
    }

    async fn interactions(&mut self, viewer: Id, statuses: &[&Status]) -> Result<Vec<(Id, StatusInteractions)>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Id> = statuses.iter().map(|s| s.id).collect();
        let conversations: Vec<Id> = statuses.iter().map(|s| s.conversation_id).collect();
        let (in_marks, in_mutes) = (self.in_ids("status_id", 2), self.in_ids("status_id", 3));
        let (in_reblogs, in_polls) = (self.in_ids("reblog_of_id", 2), self.in_ids("p.status_id", 2));
        // One round trip: marks on the statuses, mutes of their conversations, the viewer's
        // reblogs of them and votes in their polls, as (kind, status or conversation id, choice).
        let sql = format!(
            "SELECT kind, status_id, 0 AS choice FROM status_marks \
               WHERE account_id = $1 AND kind IN ('favourite', 'bookmark', 'pin') AND {in_marks} \
             UNION ALL SELECT kind, status_id, 0 FROM status_marks \
               WHERE account_id = $1 AND kind = 'mute' AND {in_mutes} \
             UNION ALL SELECT 'reblog', reblog_of_id, 0 FROM statuses WHERE account_id = $1 AND {in_reblogs} \
             UNION ALL SELECT 'vote', p.status_id, v.choice FROM poll_votes v JOIN polls p ON p.id = v.poll_id \
               WHERE v.account_id = $1 AND {in_polls}"
        );
        let a = vec![viewer.into(), ids.as_slice().into(), conversations.as_slice().into()];
        let mut rows: Vec<MarkRow> = self.all(sql, a).await?;
        rows.sort_by_key(|r| r.choice);
        Ok(statuses
            .iter()
            .map(|s| {
                let has = |k: &str, id: Id| rows.iter().any(|m| m.kind == k && m.status_id == id);
                (
                    s.id,
                    StatusInteractions {
                        favourited: has("favourite", s.id),
                        bookmarked: has("bookmark", s.id),
                        pinned: has("pin", s.id),
                        muted: has("mute", s.conversation_id),
                        reblogged: has("reblog", s.id),
                        poll_votes: rows
                            .iter()
                            .filter(|m| m.kind == "vote" && m.status_id == s.id)
                            .map(|m| m.choice)
                            .collect(),
                    },
                )
            })
            .collect())
    }

    async fn add_mark(&mut self, mark: StatusMark, id: Id, account_id: Id, status_id: Id, now: Millis) -> Result<bool> {
        let n = self
            .exec(
                "INSERT INTO status_marks (id, kind, account_id, status_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (kind, account_id, status_id) DO NOTHING",
                args![id, mark_kind(mark), account_id, status_id, now],
            )
            .await?;
        if n > 0 && mark == StatusMark::Favourite {
            self.exec("UPDATE statuses SET favourites_count = favourites_count + 1 WHERE id = $1", args![status_id])
                .await?;
        }
        Ok(n > 0)
    }

    async fn remove_mark(&mut self, mark: StatusMark, account_id: Id, status_id: Id) -> Result<bool> {
        let n = self
            .exec(
                "DELETE FROM status_marks WHERE kind = $1 AND account_id = $2 AND status_id = $3",
                args![mark_kind(mark), account_id, status_id],
            )
            .await?;
        if n > 0 && mark == StatusMark::Favourite {
            self.exec(
                "UPDATE statuses SET favourites_count = favourites_count - 1 WHERE id = $1 AND favourites_count > 0",
                args![status_id],
            )
            .await?;
        }
        Ok(n > 0)
    }

    async fn marked_statuses(
        &mut self,
        mark: StatusMark,
        account_id: Id,
        page: &PageRequest,
    ) -> Result<Vec<Keyed<Id>>> {
        let (clause, order, mut a) = page_clause("m.id", page, 3);
        let mut all = args![mark_kind(mark), account_id];
        all.append(&mut a);
        let sql = format!(
            "SELECT m.id AS key, m.status_id AS id FROM status_marks m JOIN statuses s ON s.id = m.status_id \
             WHERE m.kind = $1 AND m.account_id = $2{clause} ORDER BY m.id {order} LIMIT {}",
            page.limit
        );
        let mut rows: Vec<KeyedId> = self.all(sql, all).await?;
        if order == "ASC" {
            rows.reverse();
        }
        Ok(rows.into_iter().map(|r| Keyed { key: r.key, item: r.id }).collect())
    }

    async fn home_timeline(&mut self, account_id: Id, page: &PageRequest) -> Result<Vec<Status>> {
        if page.min_id.is_some() {
            return self.home_query(account_id, page).await;
        }
        // Newest first: search a recent time window, widening it until the page is full. Each
        // followed account's statuses are then read by a short range of (account_id, id), instead
        // of every status they ever wrote being collected and sorted.
        let top = page.max_id.map(|m| m.millis()).unwrap_or_else(ferrodon_kernel::time::now_ms);
        let mut window: i64 = 6 * 3_600_000;
        while window < 4 * 365 * 86_400_000 {
            let window_floor = Id(Id::lowest_at(top - window).0 - 1);
            if page.since_id.is_some_and(|since| since >= window_floor) {
                break;
            }
            let narrowed = PageRequest { since_id: Some(window_floor), ..*page };
            let ids = self.home_query(account_id, &narrowed).await?;
            if ids.len() >= page.limit as usize {
                return Ok(ids);
            }
            window *= 8;
        }
        self.home_query(account_id, page).await
    }

    async fn public_timeline(&mut self, f: PublicFilter, page: &PageRequest) -> Result<Vec<Status>> {
        let (clause, order, a) = page_clause("s.id", page, 1);
        let sql = format!(
            "SELECT {STATUS_COLS} FROM statuses s WHERE {rule}{dims}{clause} ORDER BY s.id {order} LIMIT {}",
            page.limit,
            rule = rules::public("s"),
            dims = public_filter("s", f),
        );
        self.timeline(sql, a, order == "ASC").await
    }

    async fn tag_timeline(&mut self, tag: &str, f: PublicFilter, page: &PageRequest) -> Result<Vec<Status>> {
        let (clause, order, mut a) = page_clause("s.id", page, 2);
        let mut all = args![tag.to_lowercase()];
        all.append(&mut a);
        let sql = format!(
            "SELECT {STATUS_COLS} FROM tags t JOIN statuses_tags st ON st.tag_id = t.id JOIN statuses s ON s.id = st.status_id \
             WHERE t.name_lower = $1 AND {rule}{dims}{clause} ORDER BY s.id {order} LIMIT {}",
            page.limit,
            rule = rules::hashtags("s"),
            dims = public_filter("s", f),
        );
        self.timeline(sql, all, order == "ASC").await
    }

    async fn public_reach(&mut self, status: &Status) -> Result<PublicReach> {
        let (row, values) = rules::status_row(status, 1);
        let sql = format!(
            "SELECT CASE WHEN {public} THEN TRUE ELSE FALSE END, CASE WHEN {hashtags} THEN TRUE ELSE FALSE END FROM {row} s",
            public = rules::public("s"),
            hashtags = rules::hashtags("s"),
        );
        let (public, hashtags): (bool, bool) = self.one(sql, values).await?;
        Ok(PublicReach { public, hashtags })
    }

    async fn account_statuses(
        &mut self,
        account_id: Id,
        f: &AccountStatusFilter,
        page: &PageRequest,
    ) -> Result<Vec<Status>> {
        let (mut clause, order, mut a) = page_clause("s.id", page, 2);
        let mut all = args![account_id];
        all.append(&mut a);
        let mut from = String::from("statuses s");
        if f.only_media {
            clause.push_str(" AND s.has_media = TRUE");
        }
        if f.exclude_replies {
            clause.push_str(" AND (s.in_reply_to_id IS NULL OR s.in_reply_to_account_id = s.account_id)");
        }
        if f.exclude_reblogs {
            clause.push_str(" AND s.reblog_of_id IS NULL");
        }
        if f.pinned {
            from.push_str(
                " JOIN status_marks pin ON pin.status_id = s.id AND pin.kind = 'pin' AND pin.account_id = s.account_id",
            );
        }
        if let Some(tag) = &f.tagged {
            from.push_str(&format!(
                " JOIN statuses_tags st ON st.status_id = s.id JOIN tags t ON t.id = st.tag_id AND t.name_lower = ${}",
                all.len() + 1
            ));
            all.push(tag.to_lowercase().into());
        }
        let sql = format!(
            "SELECT {STATUS_COLS} FROM {from} WHERE s.account_id = $1{clause} ORDER BY s.id {order} LIMIT {}",
            page.limit
        );
        self.timeline(sql, all, order == "ASC").await
    }

    async fn conversation(&mut self, conversation_id: Id, limit: u32) -> Result<Vec<Status>> {
        self.all(
            format!(
                "SELECT {STATUS_COLS} FROM statuses s WHERE s.conversation_id = $1 AND s.reblog_of_id IS NULL ORDER BY s.id LIMIT $2"
            ),
            args![conversation_id, limit as i64],
        )
        .await
    }

    async fn search_tags(&mut self, prefix: &str, limit: u32, offset: u32) -> Result<Vec<Tag>> {
        let p = prefix.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        self.all(
            "SELECT id, name FROM tags WHERE name_lower LIKE $1 ESCAPE '\\' ORDER BY (name_lower = $2) DESC, name_lower LIMIT $3 OFFSET $4",
            args![format!("{p}%"), prefix.to_lowercase(), limit as i64, offset as i64],
        )
        .await
    }

    async fn tag_by_name(&mut self, name: &str) -> Result<Option<Tag>> {
        self.opt("SELECT id, name FROM tags WHERE name_lower = $1", args![name.to_lowercase()]).await
    }

    async fn claim_idempotency_key(
        &mut self,
        account_id: Id,
        key: &str,
        status_id: Id,
        now: Millis,
        expired_before: Millis,
    ) -> Result<Option<Id>> {
        let claimed = self
            .exec(
                "INSERT INTO idempotency_keys (account_id, key, status_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id, key) DO UPDATE SET status_id = excluded.status_id, created_at = excluded.created_at \
                 WHERE idempotency_keys.created_at <= $5",
                args![account_id, key, status_id, now, expired_before],
            )
            .await?;
        if claimed == 1 {
            return Ok(None);
        }
        let row: Option<IdRow> = self
            .opt(
                "SELECT status_id AS id FROM idempotency_keys WHERE account_id = $1 AND key = $2",
                args![account_id, key],
            )
            .await?;
        Ok(row.map(|r| r.id))
    }
}
