use async_trait::async_trait;
use ferrodon_domain::model::{
    Follow, Keyed, Marker, Mute, Notification, NotificationFilter, RelationKind, Relationship, Status,
};
use ferrodon_domain::ports::{HiddenAccounts, NotificationStore, RelationshipStore};
use ferrodon_kernel::{Id, PageRequest, Result, time::Millis};

use super::accounts::page_clause;
use super::relation_kind;
use crate::rules::{self, HomeOf};
use crate::sql::{Arg, SqlTx, args, placeholders};

const FOLLOW_COLS: &str = "id, account_id, target_account_id, show_reblogs, notify, languages, created_at";

#[derive(sqlx::FromRow)]
struct RelationRow {
    id: Id,
    kind: String,
    account_id: Id,
    target_account_id: Id,
    show_reblogs: bool,
    notify: bool,
    languages: Option<String>,
    hide_notifications: bool,
    expires_at: Option<Millis>,
    created_at: Millis,
}

#[async_trait]
impl RelationshipStore for SqlTx {
    async fn upsert_follow(&mut self, kind: RelationKind, f: &Follow) -> Result<(Follow, bool)> {
        // Insert first: two concurrent follows then meet at the unique index instead of both
        // seeing "no follow yet" and one failing.
        let inserted = self
            .exec(
                "INSERT INTO relations (id, kind, account_id, target_account_id, show_reblogs, notify, languages, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kind, account_id, target_account_id) DO NOTHING",
                args![
                    f.id,
                    relation_kind(kind),
                    f.account_id,
                    f.target_account_id,
                    f.show_reblogs,
                    f.notify,
                    &f.languages,
                    f.created_at
                ],
            )
            .await?
            == 1;
        if inserted {
            if kind == RelationKind::Follow {
                self.exec(
                    "UPDATE accounts SET following_count = following_count + 1 WHERE id = $1",
                    args![f.account_id],
                )
                .await?;
                self.exec(
                    "UPDATE accounts SET followers_count = followers_count + 1 WHERE id = $1",
                    args![f.target_account_id],
                )
                .await?;
            }
            return Ok((f.clone(), true));
        }
        self.exec(
            "UPDATE relations SET show_reblogs = $4, notify = $5, languages = $6 \
             WHERE kind = $1 AND account_id = $2 AND target_account_id = $3",
            args![relation_kind(kind), f.account_id, f.target_account_id, f.show_reblogs, f.notify, &f.languages],
        )
        .await?;
        let existing = self.get_follow(kind, f.account_id, f.target_account_id).await?;
        Ok((existing.unwrap_or_else(|| f.clone()), false))
    }

    async fn get_follow(&mut self, kind: RelationKind, account_id: Id, target_id: Id) -> Result<Option<Follow>> {
        self.opt(
            format!(
                "SELECT {FOLLOW_COLS} FROM relations WHERE kind = $1 AND account_id = $2 AND target_account_id = $3"
            ),
            args![relation_kind(kind), account_id, target_id],
        )
        .await
    }

    async fn delete_relation(&mut self, kind: RelationKind, account_id: Id, target_id: Id) -> Result<bool> {
        let n = self
            .exec(
                "DELETE FROM relations WHERE kind = $1 AND account_id = $2 AND target_account_id = $3",
                args![relation_kind(kind), account_id, target_id],
            )
            .await?;
        if n > 0 && kind == RelationKind::Follow {
            // The followed account leaves the follower's lists (Mastodon's ListAccount ends with
            // its Follow).
            self.exec(
                "DELETE FROM list_accounts WHERE account_id = $2 AND list_id IN (SELECT id FROM lists WHERE account_id = $1)",
                args![account_id, target_id],
            )
            .await?;
            self.exec(
                "UPDATE accounts SET following_count = following_count - 1 WHERE id = $1 AND following_count > 0",
                args![account_id],
            )
            .await?;
            self.exec(
                "UPDATE accounts SET followers_count = followers_count - 1 WHERE id = $1 AND followers_count > 0",
                args![target_id],
            )
            .await?;
        }
        Ok(n > 0)
    }

    async fn create_block(&mut self, id: Id, account_id: Id, target_id: Id, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO relations (id, kind, account_id, target_account_id, created_at) VALUES ($1, 'block', $2, $3, $4) \
             ON CONFLICT (kind, account_id, target_account_id) DO NOTHING",
            args![id, account_id, target_id, now],
        )
        .await?;
        Ok(())
    }

    async fn upsert_mute(&mut self, m: &Mute, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO relations (id, kind, account_id, target_account_id, hide_notifications, expires_at, created_at) \
             VALUES ($1, 'mute', $2, $3, $4, $5, $6) ON CONFLICT (kind, account_id, target_account_id) \
             DO UPDATE SET hide_notifications = excluded.hide_notifications, expires_at = excluded.expires_at",
            args![m.id, m.account_id, m.target_account_id, m.hide_notifications, m.expires_at, now],
        )
        .await?;
        Ok(())
    }

    async fn relationships(&mut self, viewer: Id, targets: &[Id], now: Millis) -> Result<Vec<Relationship>> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        // Two index searches (kind leads both indexes), not one scan of every relation.
        let (in_targets, in_accounts) = (self.in_ids("target_account_id", 2), self.in_ids("account_id", 2));
        let cols = "id, kind, account_id, target_account_id, show_reblogs, notify, languages, hide_notifications, expires_at, created_at";
        let kinds = "kind IN ('follow', 'follow_request', 'block', 'mute')";
        // And the targets on a domain the viewer blocks, as rows of kind `domain_block`.
        let in_ids = self.in_ids("a.id", 2);
        // The viewer's mutes count until they expire.
        let sql = format!(
            "SELECT {cols} FROM relations WHERE {kinds} AND account_id = $1 AND {in_targets} \
             AND (kind <> 'mute' OR expires_at IS NULL OR expires_at > $3) \
             UNION ALL SELECT {cols} FROM relations WHERE {kinds} AND target_account_id = $1 AND {in_accounts} \
             UNION ALL SELECT db.id, 'domain_block', db.account_id, a.id, FALSE, FALSE, CAST(NULL AS TEXT), FALSE, \
             CAST(NULL AS BIGINT), db.created_at FROM accounts a \
             JOIN account_domain_blocks db ON db.account_id = $1 AND db.domain = a.domain WHERE {in_ids}"
        );
        let rows: Vec<RelationRow> = self.all(sql, vec![viewer.into(), targets.into(), now.into()]).await?;
        Ok(targets
            .iter()
            .map(|t| {
                let mut rel = Relationship { target_id: *t, ..Default::default() };
                for r in rows.iter() {
                    let outgoing = r.account_id == viewer && r.target_account_id == *t;
                    let incoming = r.target_account_id == viewer && r.account_id == *t;
                    let follow = || Follow {
                        id: r.id,
                        account_id: r.account_id,
                        target_account_id: r.target_account_id,
                        show_reblogs: r.show_reblogs,
                        notify: r.notify,
                        languages: r.languages.clone(),
                        created_at: r.created_at,
                    };
                    match (r.kind.as_str(), outgoing, incoming) {
                        ("follow", true, _) => rel.following = Some(follow()),
                        ("follow", _, true) => rel.followed_by = true,
                        ("follow_request", true, _) => rel.requested = Some(follow()),
                        ("follow_request", _, true) => rel.requested_by = true,
                        ("domain_block", true, _) => rel.domain_blocking = true,
                        ("block", true, _) => rel.blocking = true,
                        ("block", _, true) => rel.blocked_by = true,
                        ("mute", true, _) => {
                            rel.muting = Some(Mute {
                                id: r.id,
                                account_id: r.account_id,
                                target_account_id: r.target_account_id,
                                hide_notifications: r.hide_notifications,
                                expires_at: r.expires_at,
                            })
                        }
                        _ => {}
                    }
                }
                rel
            })
            .collect())
    }

    async fn blocked_either_way(&mut self, a: Id, b: Id) -> Result<bool> {
        let n = self
            .int(
                "SELECT COUNT(*) FROM relations WHERE kind = 'block' AND \
                 ((account_id = $1 AND target_account_id = $2) OR (account_id = $2 AND target_account_id = $1))",
                args![a, b],
            )
            .await?;
        Ok(n > 0)
    }

    async fn is_following(&mut self, account_id: Id, target_id: Id) -> Result<bool> {
        let n = self
            .int(
                "SELECT COUNT(*) FROM relations WHERE kind = 'follow' AND account_id = $1 AND target_account_id = $2",
                args![account_id, target_id],
            )
            .await?;
        Ok(n > 0)
    }

    async fn local_followers(&mut self, account: Id) -> Result<Vec<Id>> {
        let rows: Vec<(Id,)> = self
            .all(
                "SELECT r.account_id FROM relations r JOIN accounts a ON a.id = r.account_id \
                 WHERE r.kind = 'follow' AND r.target_account_id = $1 AND a.domain = ''",
                args![account],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn home_feed_recipients(&mut self, status: &Status) -> Result<Vec<Id>> {
        let (row, mut values) = rules::status_row(status, 2);
        let sql = format!(
            "SELECT f.owner FROM {row} s JOIN {sources} f ON f.author = s.account_id \
             JOIN accounts a ON a.id = f.owner AND a.domain = '' WHERE {rule} ORDER BY f.owner",
            sources = rules::home_sources(HomeOf::Author("$1")),
            rule = rules::home("s", "f", "f.owner"),
        );
        let mut all = args![status.account_id];
        all.append(&mut values);
        let rows: Vec<(Id,)> = self.all(sql, all).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn hidden_accounts(&mut self, account: Id, now: Millis) -> Result<HiddenAccounts> {
        let rows: Vec<(Id, Id, String, Option<Millis>)> = self
            .all(
                "SELECT account_id, target_account_id, kind, expires_at FROM relations \
                 WHERE (account_id = $1 AND (kind = 'block' OR (kind = 'mute' AND (expires_at IS NULL OR expires_at > $2)))) \
                 OR (target_account_id = $1 AND kind = 'block')",
                args![account, now],
            )
            .await?;
        let mut hidden = HiddenAccounts::default();
        for (from, to, kind, expires_at) in rows {
            let other = if from == account { to } else { from };
            if kind == "mute" {
                hidden.muted.push(other);
                hidden.mutes_end = hidden.mutes_end.into_iter().chain(expires_at).min();
            } else {
                hidden.blocked.push(other)
            }
        }
        let domains: Vec<(String,)> =
            self.all("SELECT domain FROM account_domain_blocks WHERE account_id = $1", args![account]).await?;
        hidden.domains = domains.into_iter().map(|(d,)| d).collect();
        Ok(hidden)
    }

    async fn block_domain(&mut self, id: Id, account_id: Id, domain: &str, now: Millis) -> Result<bool> {
        let n = self
            .exec(
                "INSERT INTO account_domain_blocks (id, account_id, domain, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                args![id, account_id, domain, now],
            )
            .await?;
        Ok(n == 1)
    }

    async fn unblock_domain(&mut self, account_id: Id, domain: &str) -> Result<bool> {
        let n = self
            .exec("DELETE FROM account_domain_blocks WHERE account_id = $1 AND domain = $2", args![account_id, domain])
            .await?;
        Ok(n > 0)
    }

    async fn blocked_domains(&mut self, account_id: Id, page: &PageRequest) -> Result<Vec<Keyed<String>>> {
        let (clause, order, mut a) = page_clause("id", page, 2);
        let mut all = args![account_id];
        all.append(&mut a);
        let sql = format!(
            "SELECT id, domain FROM account_domain_blocks WHERE account_id = $1{clause} ORDER BY id {order} LIMIT {}",
            page.limit
        );
        let mut rows: Vec<(Id, String)> = self.all(sql, all).await?;
        if order == "ASC" {
            rows.reverse();
        }
        Ok(rows.into_iter().map(|(key, item)| Keyed { key, item }).collect())
    }

    async fn followers_on_domain(&mut self, account_id: Id, domain: &str) -> Result<Vec<Id>> {
        let rows: Vec<(Id,)> = self
            .all(
                "SELECT r.account_id FROM relations r JOIN accounts a ON a.id = r.account_id \
                 WHERE r.target_account_id = $1 AND r.kind IN ('follow', 'follow_request') AND a.domain = $2",
                args![account_id, domain],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

const NOTIFICATION_COLS: &str = "id, account_id, from_account_id, type, status_id, group_key, created_at";

#[async_trait]
impl NotificationStore for SqlTx {
    async fn create_notification(&mut self, n: &Notification) -> Result<()> {
        self.exec(
            "INSERT INTO notifications (id, account_id, from_account_id, type, status_id, group_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![n.id, n.account_id, n.from_account_id, n.kind.as_str(), n.status_id, &n.group_key, n.created_at],
        )
        .await?;
        Ok(())
    }

    async fn create_notification_unless_hidden(&mut self, n: &Notification, now: Millis) -> Result<bool> {
        let stored = self
            .exec(
                "INSERT INTO notifications (id, account_id, from_account_id, type, status_id, group_key, created_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM relations r \
                   WHERE r.account_id = $2 AND r.target_account_id = $3 AND (r.kind = 'block' OR (r.kind = 'mute' \
                   AND r.hide_notifications = TRUE AND (r.expires_at IS NULL OR r.expires_at > $8)))) \
                 AND NOT EXISTS (SELECT 1 FROM account_domain_blocks b JOIN accounts a ON a.domain = b.domain \
                   WHERE b.account_id = $2 AND a.id = $3) \
                 AND NOT EXISTS (SELECT 1 FROM accounts l WHERE l.id = $3 AND l.silenced_at IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM relations f WHERE f.kind = 'follow' AND f.account_id = $2 \
                   AND f.target_account_id = $3))",
                args![
                    n.id,
                    n.account_id,
                    n.from_account_id,
                    n.kind.as_str(),
                    n.status_id,
                    &n.group_key,
                    n.created_at,
                    now
                ],
            )
            .await?;
        Ok(stored == 1)
    }

    async fn notification(&mut self, account_id: Id, id: Id) -> Result<Option<Notification>> {
        self.opt(
            format!("SELECT {NOTIFICATION_COLS} FROM notifications WHERE account_id = $1 AND id = $2"),
            args![account_id, id],
        )
        .await
    }

    async fn notifications(
        &mut self,
        account_id: Id,
        f: &NotificationFilter,
        page: &PageRequest,
    ) -> Result<Vec<Notification>> {
        let (mut clause, order, mut a) = page_clause("id", page, 2);
        let mut all = args![account_id];
        all.append(&mut a);
        let mut n = all.len() + 1;
        if f.types.as_ref().is_some_and(|t| t.is_empty()) {
            return Ok(Vec::new());
        }
        if let Some(types) = f.types.as_ref() {
            clause.push_str(&format!(" AND type IN ({})", placeholders(n, types.len())));
            n += types.len();
            all.extend(types.iter().map(|t| Arg::from(t.as_str())));
        }
        if !f.exclude_types.is_empty() {
            clause.push_str(&format!(" AND type NOT IN ({})", placeholders(n, f.exclude_types.len())));
            n += f.exclude_types.len();
            all.extend(f.exclude_types.iter().map(|t| Arg::from(t.as_str())));
        }
        if let Some(from) = f.account_id {
            clause.push_str(&format!(" AND from_account_id = ${n}"));
            all.push(from.into());
            n += 1;
        }
        if let Some(key) = &f.group_key {
            clause.push_str(&format!(" AND group_key = ${n}"));
            all.push(key.into());
        }
        let sql = format!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE account_id = $1{clause} ORDER BY id {order} LIMIT {}",
            page.limit
        );
        let mut rows: Vec<Notification> = self.all(sql, all).await?;
        if order == "ASC" {
            rows.reverse();
        }
        Ok(rows)
    }

    async fn dismiss_notification(&mut self, account_id: Id, id: Id) -> Result<bool> {
        Ok(self.exec("DELETE FROM notifications WHERE account_id = $1 AND id = $2", args![account_id, id]).await? > 0)
    }

    async fn delete_notifications_from(&mut self, account_id: Id, from_account_id: Id) -> Result<()> {
        self.exec(
            "DELETE FROM notifications WHERE account_id = $1 AND from_account_id = $2",
            args![account_id, from_account_id],
        )
        .await?;
        Ok(())
    }

    async fn clear_notifications(&mut self, account_id: Id) -> Result<()> {
        self.exec("DELETE FROM notifications WHERE account_id = $1", args![account_id]).await?;
        Ok(())
    }

    async fn delete_notifications_for(
        &mut self,
        account_id: Id,
        from_account_id: Id,
        status_id: Option<Id>,
        kind: &str,
    ) -> Result<()> {
        let (sql, a) = match status_id {
            Some(sid) => (
                "DELETE FROM notifications WHERE account_id = $1 AND from_account_id = $2 AND type = $3 AND status_id = $4",
                args![account_id, from_account_id, kind, sid],
            ),
            None => (
                "DELETE FROM notifications WHERE account_id = $1 AND from_account_id = $2 AND type = $3 AND status_id IS NULL",
                args![account_id, from_account_id, kind],
            ),
        };
        self.exec(sql, a).await?;
        Ok(())
    }

    async fn unread_notifications(&mut self, account_id: Id, after: Option<Id>, limit: u32) -> Result<i64> {
        self.int(
            "SELECT COUNT(*) FROM (SELECT id FROM notifications WHERE account_id = $1 AND id > $2 LIMIT $3) t",
            args![account_id, after.unwrap_or_default(), limit as i64],
        )
        .await
    }

    async fn markers(&mut self, account_id: Id) -> Result<Vec<Marker>> {
        self.all(
            "SELECT timeline, last_read_id, version, updated_at FROM markers WHERE account_id = $1",
            args![account_id],
        )
        .await
    }

    async fn set_marker(&mut self, account_id: Id, timeline: &str, last_read_id: Id, now: Millis) -> Result<Marker> {
        self.one(
            "INSERT INTO markers (account_id, timeline, last_read_id, version, updated_at) VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (account_id, timeline) DO UPDATE SET last_read_id = excluded.last_read_id, \
             version = markers.version + 1, updated_at = excluded.updated_at \
             RETURNING timeline, last_read_id, version, updated_at",
            args![account_id, timeline, last_read_id, now],
        )
        .await
    }
}
