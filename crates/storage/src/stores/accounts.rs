use async_trait::async_trait;
use ferrodon_domain::model::{
    Account, Keyed, NewLocalAccount, ProfileImage, ProfileUpdate, Role, User, UserPreferences,
};
use ferrodon_domain::ports::{AccountStore, RelatedAccounts, SettingsStore};
use ferrodon_kernel::{Error, Id, PageRequest, Result, time::Millis};

use crate::sql::{SqlTx, args};

pub(crate) const ACCOUNT_COLS: &str = "a.id, a.username, a.domain, a.display_name, a.note_source, a.note, a.fields_json, \
    a.locked, a.bot, a.discoverable, a.indexable, a.hide_collections, a.uri, a.url, a.created_at, a.updated_at, \
    a.last_status_at, a.statuses_count, a.followers_count, a.following_count, a.suspended_at, a.silenced_at, a.actor_type, \
    a.inbox_url, a.shared_inbox_url, a.outbox_url, a.followers_url, a.featured_url, a.avatar_remote_url, \
    a.header_remote_url, a.avatar_file, a.header_file, a.emojis_json, a.public_key_pem, a.key_id, a.fetched_at";

const USER_COLS: &str = "id, account_id, email, encrypted_password, confirmed_at, approved, disabled, role, locale, \
    default_visibility, default_sensitive, default_language, created_at";

#[derive(sqlx::FromRow)]
struct KeyedAccount {
    key: Id,
    #[sqlx(flatten)]
    account: Account,
}

#[async_trait]
impl AccountStore for SqlTx {
    async fn create_local_account(&mut self, new: &NewLocalAccount, now: Millis) -> Result<(Account, User)> {
        let taken = self
            .int(
                "SELECT COUNT(*) FROM accounts WHERE username_lower = $1 AND domain = ''",
                args![new.username.to_lowercase()],
            )
            .await?;
        if taken > 0 {
            return Err(Error::conflict("Username has already been taken"));
        }
        let email_taken =
            self.int("SELECT COUNT(*) FROM users WHERE email = $1", args![new.email.to_lowercase()]).await?;
        if email_taken > 0 {
            return Err(Error::conflict("E-mail has already been taken"));
        }
        let account_id = Id::generate();
        self.exec(
            "INSERT INTO accounts (id, username, username_lower, domain, uri, url, created_at, updated_at) \
             VALUES ($1, $2, $3, '', $4, $5, $6, $6)",
            args![account_id, &new.username, new.username.to_lowercase(), &new.uri, &new.url, now],
        )
        .await?;
        let user_id = Id::generate();
        self.exec(
            "INSERT INTO users (id, account_id, email, encrypted_password, confirmed_at, approved, role, locale, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            args![
                user_id,
                account_id,
                new.email.to_lowercase(),
                &new.encrypted_password,
                if new.confirmed { Some(now) } else { None },
                new.approved,
                new.role.as_str(),
                &new.locale,
                now
            ],
        )
        .await?;
        let account = self.account_by_id(account_id).await?.ok_or_else(|| Error::internal("account vanished"))?;
        let user = self.user_by_id(user_id).await?.ok_or_else(|| Error::internal("user vanished"))?;
        Ok((account, user))
    }

    async fn account_by_id(&mut self, id: Id) -> Result<Option<Account>> {
        self.opt(format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.id = $1"), args![id]).await
    }

    async fn accounts_by_ids(&mut self, ids: &[Id]) -> Result<Vec<Account>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE {}", self.in_ids("a.id", 1));
        self.all(sql, vec![ids.into()]).await
    }

    async fn account_by_username(&mut self, username: &str, domain: &str) -> Result<Option<Account>> {
        self.opt(
            format!("SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.username_lower = $1 AND a.domain = $2"),
            args![username.to_lowercase(), domain.to_lowercase()],
        )
        .await
    }

    async fn search_accounts(&mut self, prefix: &str, limit: u32, offset: u32) -> Result<Vec<Account>> {
        let p = prefix.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        self.all(
            format!(
                "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.suspended_at IS NULL \
                 AND (a.username_lower LIKE $1 ESCAPE '\\' OR a.display_name_lower LIKE $1 ESCAPE '\\') \
                 ORDER BY (a.username_lower = $2) DESC, a.followers_count DESC, a.id LIMIT $3 OFFSET $4"
            ),
            args![format!("{p}%"), prefix.to_lowercase(), limit as i64, offset as i64],
        )
        .await
    }

    async fn set_profile_image(
        &mut self,
        account_id: Id,
        kind: ProfileImage,
        key: Option<&str>,
        now: Millis,
    ) -> Result<()> {
        let column = match kind {
            ProfileImage::Avatar => "avatar_file",
            ProfileImage::Header => "header_file",
        };
        let sql = format!("UPDATE accounts SET {column} = $2, updated_at = $3 WHERE id = $1");
        self.exec(sql, args![account_id, key, now]).await.map(|_| ())
    }

    async fn update_profile(&mut self, account_id: Id, u: &ProfileUpdate, now: Millis) -> Result<()> {
        self.exec(
            "UPDATE accounts SET display_name = $2, display_name_lower = $3, note_source = $4, note = $5, fields_json = $6, \
             locked = $7, bot = $8, discoverable = $9, indexable = $10, hide_collections = $11, updated_at = $12, \
             emojis_json = $13 WHERE id = $1",
            args![
                account_id,
                &u.display_name,
                u.display_name.to_lowercase(),
                &u.note_source,
                &u.note,
                &u.fields_json,
                u.locked,
                u.bot,
                u.discoverable,
                u.indexable,
                u.hide_collections,
                now,
                &u.emojis_json
            ],
        )
        .await?;
        Ok(())
    }

    async fn delete_account(&mut self, account_id: Id) -> Result<()> {
        // Counters of the accounts it followed or that followed it.
        self.exec(
            "UPDATE accounts SET followers_count = followers_count - 1 WHERE followers_count > 0 AND id IN \
             (SELECT target_account_id FROM relations WHERE kind = 'follow' AND account_id = $1)",
            args![account_id],
        )
        .await?;
        self.exec(
            "UPDATE accounts SET following_count = following_count - 1 WHERE following_count > 0 AND id IN \
             (SELECT account_id FROM relations WHERE kind = 'follow' AND target_account_id = $1)",
            args![account_id],
        )
        .await?;
        // Reblogs of its statuses and marks on them go with them (ON DELETE CASCADE); marks that
        // referenced its statuses are removed explicitly (no foreign key on status_marks.status_id).
        self.exec(
            "DELETE FROM status_marks WHERE status_id IN (SELECT id FROM statuses WHERE account_id = $1)",
            args![account_id],
        )
        .await?;
        self.exec("DELETE FROM accounts WHERE id = $1", args![account_id]).await?;
        Ok(())
    }

    async fn staff_user_ids(&mut self) -> Result<Vec<Id>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Id,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT id FROM users WHERE role <> '' AND disabled = FALSE AND confirmed_at IS NOT NULL ORDER BY id",
                args![],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn count_local_accounts(&mut self) -> Result<i64> {
        self.int("SELECT COUNT(*) FROM accounts WHERE domain = ''", args![]).await
    }

    async fn count_local_statuses(&mut self) -> Result<i64> {
        self.int("SELECT CAST(COALESCE(SUM(statuses_count), 0) AS BIGINT) FROM accounts WHERE domain = ''", args![])
            .await
    }

    async fn count_active_local_accounts(&mut self, since: Millis) -> Result<i64> {
        self.int(
            "SELECT COUNT(*) FROM accounts WHERE domain = '' AND last_status_at >= $1 AND suspended_at IS NULL",
            args![since],
        )
        .await
    }

    async fn user_by_id(&mut self, id: Id) -> Result<Option<User>> {
        self.opt(format!("SELECT {USER_COLS} FROM users WHERE id = $1"), args![id]).await
    }

    async fn user_by_email(&mut self, email: &str) -> Result<Option<User>> {
        self.opt(format!("SELECT {USER_COLS} FROM users WHERE email = $1"), args![email.trim().to_lowercase()]).await
    }

    async fn user_by_account(&mut self, account_id: Id) -> Result<Option<User>> {
        self.opt(format!("SELECT {USER_COLS} FROM users WHERE account_id = $1"), args![account_id]).await
    }

    async fn set_user_password(&mut self, user_id: Id, encrypted_password: &str) -> Result<()> {
        self.exec("UPDATE users SET encrypted_password = $2 WHERE id = $1", args![user_id, encrypted_password]).await?;
        Ok(())
    }

    async fn set_user_role(&mut self, user_id: Id, role: Role) -> Result<()> {
        self.exec("UPDATE users SET role = $2 WHERE id = $1", args![user_id, role.as_str()]).await?;
        Ok(())
    }

    async fn set_user_flags(
        &mut self,
        user_id: Id,
        confirmed_at: Option<Millis>,
        approved: bool,
        disabled: bool,
    ) -> Result<()> {
        self.exec(
            "UPDATE users SET confirmed_at = $2, approved = $3, disabled = $4 WHERE id = $1",
            args![user_id, confirmed_at, approved, disabled],
        )
        .await?;
        Ok(())
    }

    async fn set_user_preferences(&mut self, user_id: Id, p: &UserPreferences) -> Result<()> {
        self.exec(
            "UPDATE users SET default_visibility = $2, default_sensitive = $3, default_language = $4 WHERE id = $1",
            args![user_id, p.default_visibility.as_str(), p.default_sensitive, &p.default_language],
        )
        .await?;
        Ok(())
    }

    async fn list_related_accounts(
        &mut self,
        query: RelatedAccounts,
        page: &PageRequest,
    ) -> Result<Vec<Keyed<Account>>> {
        // (table, key column, column matching the subject, column holding the listed account, extra filter)
        let mut until = None;
        let (from, subject, listed, extra, subject_id) = match query {
            RelatedAccounts::Followers(id) => {
                ("relations r", "r.target_account_id", "r.account_id", "r.kind = 'follow'", id)
            }
            RelatedAccounts::Following(id) => {
                ("relations r", "r.account_id", "r.target_account_id", "r.kind = 'follow'", id)
            }
            RelatedAccounts::FollowRequests(id) => {
                ("relations r", "r.target_account_id", "r.account_id", "r.kind = 'follow_request'", id)
            }
            RelatedAccounts::Blocks(id) => {
                ("relations r", "r.account_id", "r.target_account_id", "r.kind = 'block'", id)
            }
            // Those in force at `now` ($2).
            RelatedAccounts::Mutes(id, now) => {
                until = Some(now);
                let extra = "r.kind = 'mute' AND (r.expires_at IS NULL OR r.expires_at > $2)";
                ("relations r", "r.account_id", "r.target_account_id", extra, id)
            }
            RelatedAccounts::FavouritedBy(id) => {
                ("status_marks r", "r.status_id", "r.account_id", "r.kind = 'favourite'", id)
            }
            RelatedAccounts::RebloggedBy(id) => {
                ("statuses r", "r.reblog_of_id", "r.account_id", "r.reblog_of_id IS NOT NULL", id)
            }
        };
        let (where_page, order, mut a) = page_clause("r.id", page, if until.is_some() { 3 } else { 2 });
        let mut all = args![subject_id];
        all.extend(until.map(Into::into));
        all.append(&mut a);
        let sql = format!(
            "SELECT r.id AS key, {ACCOUNT_COLS} FROM {from} JOIN accounts a ON a.id = {listed} \
             WHERE {subject} = $1 AND {extra}{where_page} ORDER BY r.id {order} LIMIT {}",
            page.limit
        );
        let mut rows: Vec<KeyedAccount> = self.all(sql, all).await?;
        if order == "ASC" {
            rows.reverse();
        }
        Ok(rows.into_iter().map(|r| Keyed { key: r.key, item: r.account }).collect())
    }
}

/// The `AND key < $n …` part of a paged query, its ORDER direction and the arguments, numbered
/// from `$first`. `min_id` pages read upwards (ASC) and are reversed by the caller.
pub(crate) fn page_clause(key: &str, page: &PageRequest, first: usize) -> (String, &'static str, Vec<crate::sql::Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    let mut n = first;
    if let Some(max) = page.max_id {
        sql.push_str(&format!(" AND {key} < ${n}"));
        args.push(max.into());
        n += 1;
    }
    let (lower, hug) = page.lower();
    if let Some(min) = lower {
        sql.push_str(&format!(" AND {key} > ${n}"));
        args.push(min.into());
    }
    (sql, if hug { "ASC" } else { "DESC" }, args)
}

#[async_trait]
impl SettingsStore for SqlTx {
    async fn setting(&mut self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = self.opt("SELECT value FROM settings WHERE key = $1", args![key]).await?;
        Ok(row.map(|r| r.0))
    }

    async fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.exec(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            args![key, value],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl ferrodon_domain::ports::MailTokenStore for SqlTx {
    async fn insert_mail_token(&mut self, t: &ferrodon_domain::model::MailToken) -> Result<()> {
        self.exec(
            "INSERT INTO mail_tokens (id, user_id, kind, token_hash, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![t.id, t.user_id, t.kind.as_str(), &t.token_hash, &t.email, t.created_at, t.expires_at],
        )
        .await
        .map(|_| ())
    }

    async fn take_mail_token(
        &mut self,
        kind: ferrodon_domain::model::MailTokenKind,
        hash: &str,
        now: Millis,
    ) -> Result<Option<ferrodon_domain::model::MailToken>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Id,
            user_id: Id,
            token_hash: String,
            email: String,
            created_at: Millis,
            expires_at: Millis,
        }
        let row: Option<Row> = self
            .opt(
                "DELETE FROM mail_tokens WHERE kind = $1 AND token_hash = $2 \
                 RETURNING id, user_id, token_hash, email, created_at, expires_at",
                args![kind.as_str(), hash],
            )
            .await?;
        Ok(row.filter(|r| r.expires_at > now).map(|r| ferrodon_domain::model::MailToken {
            id: r.id,
            user_id: r.user_id,
            kind,
            token_hash: r.token_hash,
            email: r.email,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }))
    }

    async fn last_mail_token_at(
        &mut self,
        user_id: Id,
        kind: ferrodon_domain::model::MailTokenKind,
    ) -> Result<Option<Millis>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            created_at: Millis,
        }
        let row: Option<Row> = self
            .opt(
                "SELECT created_at FROM mail_tokens WHERE user_id = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1",
                args![user_id, kind.as_str()],
            )
            .await?;
        Ok(row.map(|r| r.created_at))
    }

    async fn delete_mail_tokens(&mut self, user_id: Id, kind: ferrodon_domain::model::MailTokenKind) -> Result<()> {
        self.exec("DELETE FROM mail_tokens WHERE user_id = $1 AND kind = $2", args![user_id, kind.as_str()])
            .await
            .map(|_| ())
    }

    async fn set_user_email(&mut self, user_id: Id, email: &str, confirmed_at: Option<Millis>) -> Result<()> {
        let email = email.to_lowercase();
        self.exec("UPDATE users SET email = $2, confirmed_at = $3 WHERE id = $1", args![user_id, &email, confirmed_at])
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl ferrodon_domain::ports::TwoFactorStore for SqlTx {
    async fn otp_secret(&mut self, user_id: Id) -> Result<Option<ferrodon_domain::ports::OtpSecret>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            user_id: Id,
            secret: String,
            enabled_at: Option<Millis>,
            last_step: i64,
        }
        let row: Option<Row> = self
            .opt("SELECT user_id, secret, enabled_at, last_step FROM user_otp WHERE user_id = $1", args![user_id])
            .await?;
        Ok(row.map(|r| ferrodon_domain::ports::OtpSecret {
            user_id: r.user_id,
            secret: r.secret,
            enabled_at: r.enabled_at,
            last_step: r.last_step,
        }))
    }

    async fn put_otp_secret(&mut self, s: &ferrodon_domain::ports::OtpSecret) -> Result<()> {
        self.exec(
            "INSERT INTO user_otp (user_id, secret, enabled_at, last_step) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, enabled_at = $3, last_step = $4",
            args![s.user_id, &s.secret, s.enabled_at, s.last_step],
        )
        .await
        .map(|_| ())
    }

    async fn take_otp_step(&mut self, user_id: Id, step: i64) -> Result<bool> {
        let n = self
            .exec("UPDATE user_otp SET last_step = $2 WHERE user_id = $1 AND last_step < $2", args![user_id, step])
            .await?;
        Ok(n == 1)
    }

    async fn delete_otp(&mut self, user_id: Id) -> Result<()> {
        self.exec("DELETE FROM user_otp WHERE user_id = $1", args![user_id]).await?;
        self.exec("DELETE FROM user_recovery_codes WHERE user_id = $1", args![user_id]).await?;
        Ok(())
    }

    async fn set_recovery_codes(&mut self, user_id: Id, hashes: &[String]) -> Result<()> {
        self.exec("DELETE FROM user_recovery_codes WHERE user_id = $1", args![user_id]).await?;
        for h in hashes {
            self.exec("INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)", args![user_id, h])
                .await?;
        }
        Ok(())
    }

    async fn take_recovery_code(&mut self, user_id: Id, hash: &str) -> Result<bool> {
        let n = self
            .exec("DELETE FROM user_recovery_codes WHERE user_id = $1 AND code_hash = $2", args![user_id, hash])
            .await?;
        Ok(n == 1)
    }

    async fn put_otp_challenge(&mut self, session_id: Id, user_id: Id, now: Millis) -> Result<()> {
        // Challenges an hour old were given up: they go.
        self.exec("DELETE FROM otp_challenges WHERE created_at < $1", args![now - 3_600_000]).await?;
        self.exec(
            "INSERT INTO otp_challenges (session_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id) DO UPDATE SET user_id = $2, created_at = $3, attempts = 0",
            args![session_id, user_id, now],
        )
        .await
        .map(|_| ())
    }

    async fn fail_otp_challenge(&mut self, session_id: Id, max: i64) -> Result<()> {
        self.exec("UPDATE otp_challenges SET attempts = attempts + 1 WHERE session_id = $1", args![session_id]).await?;
        self.exec("DELETE FROM otp_challenges WHERE session_id = $1 AND attempts >= $2", args![session_id, max])
            .await?;
        Ok(())
    }

    async fn otp_challenge(&mut self, session_id: Id, since: Millis) -> Result<Option<Id>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            user_id: Id,
        }
        let row: Option<Row> = self
            .opt(
                "SELECT user_id FROM otp_challenges WHERE session_id = $1 AND created_at > $2",
                args![session_id, since],
            )
            .await?;
        Ok(row.map(|r| r.user_id))
    }
}

#[derive(sqlx::FromRow)]
struct InviteRow {
    id: Id,
    user_id: Id,
    code: String,
    max_uses: Option<i64>,
    uses: i64,
    expires_at: Option<Millis>,
    created_at: Millis,
}

impl From<InviteRow> for ferrodon_domain::ports::Invite {
    fn from(r: InviteRow) -> Self {
        ferrodon_domain::ports::Invite {
            id: r.id,
            user_id: r.user_id,
            code: r.code,
            max_uses: r.max_uses,
            uses: r.uses,
            expires_at: r.expires_at,
            created_at: r.created_at,
        }
    }
}

const INVITE_COLS: &str = "id, user_id, code, max_uses, uses, expires_at, created_at";

#[async_trait]
impl ferrodon_domain::ports::InviteStore for SqlTx {
    async fn insert_invite(&mut self, i: &ferrodon_domain::ports::Invite) -> Result<()> {
        self.exec(
            format!("INSERT INTO invites ({INVITE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            args![i.id, i.user_id, &i.code, i.max_uses, i.uses, i.expires_at, i.created_at],
        )
        .await
        .map(|_| ())
    }

    async fn invites_of(&mut self, user_id: Id) -> Result<Vec<ferrodon_domain::ports::Invite>> {
        let rows: Vec<InviteRow> = self
            .all(format!("SELECT {INVITE_COLS} FROM invites WHERE user_id = $1 ORDER BY id DESC"), args![user_id])
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn invite_by_code(&mut self, code: &str) -> Result<Option<ferrodon_domain::ports::Invite>> {
        let row: Option<InviteRow> =
            self.opt(format!("SELECT {INVITE_COLS} FROM invites WHERE code = $1"), args![code]).await?;
        Ok(row.map(Into::into))
    }

    async fn use_invite(&mut self, code: &str, now: Millis) -> Result<bool> {
        let n = self
            .exec(
                "UPDATE invites SET uses = uses + 1 WHERE code = $1 AND (max_uses IS NULL OR uses < max_uses) \
                 AND (expires_at IS NULL OR expires_at > $2)",
                args![code, now],
            )
            .await?;
        Ok(n == 1)
    }

    async fn expire_invite(&mut self, user_id: Id, id: Id, now: Millis) -> Result<()> {
        self.exec("UPDATE invites SET expires_at = $3 WHERE id = $2 AND user_id = $1", args![user_id, id, now])
            .await
            .map(|_| ())
    }
}
