use async_trait::async_trait;
use ferrodon_domain::model::{Account, RemoteAccount, Status};
use ferrodon_domain::ports::{DomainBlock, FederationStore};
use ferrodon_kernel::{Id, Result, time::Millis};

use super::accounts::ACCOUNT_COLS;
use super::statuses::STATUS_COLS;
use crate::sql::{SqlTx, args};

/// An account on `account_domain` falls under a block of `block_domain`: the domain itself or a
/// subdomain of it (both SQL expressions).
fn covered_by(account_domain: &str, block_domain: &str) -> String {
    format!(
        "({account_domain} = {block_domain} OR SUBSTR({account_domain}, LENGTH({account_domain}) - LENGTH({block_domain})) \
         = '.' || {block_domain})"
    )
}

/// The `suspended_at` or `silenced_at` (`column`) a new account on domain `$n` starts with: the
/// time of the most specific block covering it when that block has `severity`, as Mastodon
/// marks accounts arriving from a blocked domain.
fn marked_on_arrival(severity: &str, n: usize) -> String {
    format!(
        "(SELECT CASE WHEN b.severity = '{severity}' THEN b.created_at END FROM domain_blocks b WHERE {} \
         ORDER BY LENGTH(b.domain) DESC LIMIT 1)",
        covered_by(&format!("${n}"), "b.domain")
    )
}

impl SqlTx {
    /// Lifts the suspension and silence that the block of `domain` set on its accounts.
    async fn lift_domain_block(&mut self, domain: &str) -> Result<()> {
        for column in ["suspended_at", "silenced_at"] {
            let sql = format!(
                "UPDATE accounts SET {column} = NULL WHERE {} AND {column} = \
                 (SELECT created_at FROM domain_blocks WHERE domain = $1)",
                covered_by("accounts.domain", "$1")
            );
            self.exec(sql, args![domain]).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl FederationStore for SqlTx {
    async fn account_by_uri(&mut self, uri: &str) -> Result<Option<Account>> {
        self.opt(format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.uri = $1"), args![uri]).await
    }

    async fn account_by_key_id(&mut self, key_id: &str) -> Result<Option<Account>> {
        let found =
            self.opt(format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.key_id = $1"), args![key_id]).await?;
        match found {
            Some(a) => Ok(Some(a)),
            // A key named by its actor's URI (`…#main-key` not stored yet, or no fragment).
            None => self.account_by_uri(key_id.split('#').next().unwrap_or(key_id)).await,
        }
    }

    async fn upsert_remote_account(&mut self, a: &RemoteAccount, now: Millis) -> Result<Account> {
        let fields: Vec<crate::sql::Arg> = args![
            &a.uri,
            &a.url,
            &a.username,
            a.username.to_lowercase(),
            a.domain.to_lowercase(),
            &a.actor_type,
            &a.display_name,
            a.display_name.to_lowercase(),
            &a.note,
            &a.fields_json,
            a.locked,
            a.bot,
            a.discoverable,
            a.indexable,
            &a.inbox_url,
            &a.shared_inbox_url,
            &a.outbox_url,
            &a.followers_url,
            &a.featured_url,
            &a.avatar_remote_url,
            &a.header_remote_url,
            &a.public_key_pem,
            &a.key_id,
            now,
            a.created_at.unwrap_or(now)
        ];
        let updated = self
            .exec(
                "UPDATE accounts SET url = $2, username = $3, username_lower = $4, actor_type = $6, display_name = $7, \
                 display_name_lower = $8, note = $9, fields_json = $10, locked = $11, bot = $12, discoverable = $13, \
                 indexable = $14, inbox_url = $15, shared_inbox_url = $16, outbox_url = $17, followers_url = $18, \
                 featured_url = $19, avatar_remote_url = $20, header_remote_url = $21, public_key_pem = $22, key_id = $23, \
                 fetched_at = $24, updated_at = $24 WHERE uri = $1 AND domain = $5",
                fields[..24].to_vec(),
            )
            .await?;
        if updated == 0 {
            let sql = format!(
                "INSERT INTO accounts (id, uri, url, username, username_lower, domain, actor_type, display_name, \
                 display_name_lower, note, fields_json, locked, bot, discoverable, indexable, inbox_url, shared_inbox_url, \
                 outbox_url, followers_url, featured_url, avatar_remote_url, header_remote_url, public_key_pem, key_id, \
                 fetched_at, created_at, updated_at, suspended_at, silenced_at) \
                 VALUES ($26, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
                 $22, $23, $24, $25, $24, {}, {})",
                marked_on_arrival("suspend", 5),
                marked_on_arrival("silence", 5)
            );
            self.exec(sql, fields.into_iter().chain(args![Id::generate()]).collect()).await?;
        }
        let emojis = if a.emojis_json.is_empty() { "[]" } else { a.emojis_json.as_str() };
        self.exec("UPDATE accounts SET emojis_json = $2 WHERE uri = $1", args![&a.uri, emojis]).await?;
        self.account_by_uri(&a.uri).await?.ok_or_else(|| ferrodon_kernel::Error::internal("account vanished"))
    }

    async fn private_key(&mut self, account_id: Id) -> Result<Option<String>> {
        let row: Option<(String,)> =
            self.opt("SELECT private_key_pem FROM account_keys WHERE account_id = $1", args![account_id]).await?;
        Ok(row.map(|r| r.0))
    }

    async fn store_keys(&mut self, account_id: Id, key_id: &str, public_pem: &str, private_pem: &str) -> Result<bool> {
        let inserted = self
            .exec(
                "INSERT INTO account_keys (account_id, private_key_pem) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING",
                args![account_id, private_pem],
            )
            .await?;
        if inserted == 1 {
            self.exec(
                "UPDATE accounts SET public_key_pem = $2, key_id = $3 WHERE id = $1",
                args![account_id, public_pem, key_id],
            )
            .await?;
        }
        Ok(inserted == 1)
    }

    async fn status_by_uri(&mut self, uri: &str) -> Result<Option<Status>> {
        self.opt(format!("SELECT {STATUS_COLS} FROM statuses s WHERE s.uri = $1"), args![uri]).await
    }

    async fn has_local_followers(&mut self, account_id: Id) -> Result<bool> {
        let n = self
            .int(
                "SELECT COUNT(*) FROM (SELECT 1 FROM relations r JOIN accounts a ON a.id = r.account_id \
                 WHERE r.kind = 'follow' AND r.target_account_id = $1 AND a.domain = '' LIMIT 1) x",
                args![account_id],
            )
            .await?;
        Ok(n > 0)
    }

    async fn follower_inboxes(&mut self, account_id: Id) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self
            .all(
                "SELECT DISTINCT CASE WHEN a.shared_inbox_url <> '' THEN a.shared_inbox_url ELSE a.inbox_url END \
                 FROM relations r JOIN accounts a ON a.id = r.account_id \
                 WHERE r.kind = 'follow' AND r.target_account_id = $1 AND a.domain <> '' AND a.inbox_url <> '' \
                 AND a.suspended_at IS NULL",
                args![account_id],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn set_relation_uri(&mut self, kind: &str, account_id: Id, target_id: Id, uri: &str) -> Result<()> {
        self.exec(
            "UPDATE relations SET uri = $4 WHERE kind = $1 AND account_id = $2 AND target_account_id = $3",
            args![kind, account_id, target_id, uri],
        )
        .await?;
        Ok(())
    }

    async fn relation_uri(&mut self, kind: &str, account_id: Id, target_id: Id) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = self
            .opt(
                "SELECT uri FROM relations WHERE kind = $1 AND account_id = $2 AND target_account_id = $3",
                args![kind, account_id, target_id],
            )
            .await?;
        Ok(row.and_then(|r| r.0))
    }

    async fn record_delivery_failure(&mut self, domain: &str, day: i64, threshold: usize, now: Millis) -> Result<bool> {
        let row: Option<(String, Option<i64>)> = self
            .opt("SELECT failure_days, unavailable_since FROM delivery_failures WHERE domain = $1", args![domain])
            .await?;
        let (mut days, since): (Vec<i64>, Option<i64>) = match row {
            Some((d, s)) => (d.split(',').filter_map(|x| x.parse().ok()).collect(), s),
            None => (Vec::new(), None),
        };
        if !days.contains(&day) {
            days.push(day);
        }
        let unavailable = since.is_some() || days.len() >= threshold;
        let text = days.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let since = since.or(unavailable.then_some(now));
        self.exec(
            "INSERT INTO delivery_failures (domain, failure_days, unavailable_since) VALUES ($1, $2, $3) \
             ON CONFLICT (domain) DO UPDATE SET failure_days = excluded.failure_days, \
             unavailable_since = excluded.unavailable_since",
            args![domain, text, since],
        )
        .await?;
        Ok(unavailable)
    }

    async fn record_delivery_success(&mut self, domain: &str) -> Result<()> {
        self.exec("DELETE FROM delivery_failures WHERE domain = $1", args![domain]).await?;
        Ok(())
    }

    async fn unavailable_domains(&mut self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            self.all("SELECT domain FROM delivery_failures WHERE unavailable_since IS NOT NULL", args![]).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn upsert_domain_block(&mut self, b: &DomainBlock) -> Result<()> {
        // What the block it replaces set is lifted first; then this one's severity applies.
        self.lift_domain_block(&b.domain).await?;
        self.exec(
            "INSERT INTO domain_blocks (domain, severity, reject_media, reject_reports, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (domain) DO UPDATE SET severity = excluded.severity, reject_media = excluded.reject_media, \
             reject_reports = excluded.reject_reports, created_at = excluded.created_at",
            args![&b.domain, &b.severity, b.reject_media, b.reject_reports, b.created_at],
        )
        .await?;
        // The accounts it covers carry its time, so that lifting it lifts only those.
        let column = match b.severity.as_str() {
            "suspend" => "suspended_at",
            "silence" => "silenced_at",
            _ => return Ok(()),
        };
        let sql = format!(
            "UPDATE accounts SET {column} = $2 WHERE {} AND {column} IS NULL",
            covered_by("accounts.domain", "$1")
        );
        self.exec(sql, args![&b.domain, b.created_at]).await?;
        Ok(())
    }

    async fn delete_domain_block(&mut self, domain: &str) -> Result<bool> {
        self.lift_domain_block(domain).await?;
        Ok(self.exec("DELETE FROM domain_blocks WHERE domain = $1", args![domain]).await? > 0)
    }

    async fn domain_blocks(&mut self) -> Result<Vec<DomainBlock>> {
        self.all(
            "SELECT domain, severity, reject_media, reject_reports, created_at FROM domain_blocks ORDER BY domain",
            args![],
        )
        .await
    }

    async fn add_domain_allow(&mut self, domain: &str, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO domain_allows (domain, created_at) VALUES ($1, $2) ON CONFLICT (domain) DO NOTHING",
            args![domain, now],
        )
        .await?;
        Ok(())
    }

    async fn remove_domain_allow(&mut self, domain: &str) -> Result<bool> {
        Ok(self.exec("DELETE FROM domain_allows WHERE domain = $1", args![domain]).await? > 0)
    }

    async fn domain_allows(&mut self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self.all("SELECT domain FROM domain_allows ORDER BY domain", args![]).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
