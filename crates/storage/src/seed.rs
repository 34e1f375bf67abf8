//! Synthetic data for benchmarks (`ferrodon seed`): accounts, follows, statuses and user tokens,
//! written with multi-row INSERTs so a million statuses take seconds, not hours. Deterministic
//! for a given seed.

use ferrodon_kernel::{Error, Id, Result, time::now_ms};

use crate::SqlDatabase;
use crate::sql::{Arg, SqlTx};

/// What to create.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    pub accounts: usize,
    pub statuses: usize,
    /// How many accounts each account follows.
    pub follows_per_account: usize,
    /// How many of the accounts get an access token (written to the report).
    pub tokens: usize,
    pub base_url: String,
    /// A bcrypt hash every seeded user shares (hashing 10,000 passwords would take minutes).
    pub password_hash: String,
    /// Hashes tokens the way the service stores them.
    pub hash_token: fn(&str) -> String,
    pub seed: u64,
}

/// What was created: the access tokens (raw) of the first `tokens` accounts, with their usernames.
#[derive(Clone, Debug)]
pub struct SeedReport {
    pub tokens: Vec<(String, String)>,
}

/// A small deterministic PRNG (xorshift64*): benchmark data need not be cryptographic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Inserts `rows` in chunks of multi-row INSERTs, each chunk in its own transaction.
async fn insert_rows(db: &SqlDatabase, head: &str, columns: usize, rows: Vec<Vec<Arg>>, tail: &str) -> Result<()> {
    // Stay under SQLite's 32,766 bound parameters per statement.
    let per_statement = (30_000 / columns).min(1000);
    for chunk in rows.chunks(per_statement * 20) {
        let mut tx: SqlTx = db.begin(true).await?;
        for statement in chunk.chunks(per_statement) {
            let mut sql = String::from(head);
            sql.push_str(" VALUES ");
            let mut n = 1;
            for (i, _) in statement.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&crate::sql::placeholders(n, columns));
                sql.push(')');
                n += columns;
            }
            sql.push(' ');
            sql.push_str(tail);
            tx.exec(sql, statement.iter().flatten().cloned().collect()).await?;
        }
        tx.commit_inner().await?;
    }
    Ok(())
}

pub async fn seed(db: &SqlDatabase, o: &SeedOptions) -> Result<SeedReport> {
    if o.accounts == 0 {
        return Err(Error::validation("seed needs at least one account"));
    }
    let mut rng = Rng(o.seed | 1);
    let now = now_ms();
    let run = Id::generate().0 % 1_000_000;
    let base = &o.base_url;

    let mut account_ids = Vec::with_capacity(o.accounts);
    let mut account_rows = Vec::with_capacity(o.accounts);
    let mut user_rows = Vec::with_capacity(o.accounts);
    for i in 0..o.accounts {
        let id = Id::generate();
        let username = format!("seed{run}_{i}");
        account_ids.push((id, username.clone()));
        account_rows.push(vec![
            id.into(),
            username.clone().into(),
            username.clone().into(),
            format!("{base}/users/{username}").into(),
            format!("{base}/@{username}").into(),
            (now - 40 * 86_400_000).into(),
            now.into(),
        ]);
        user_rows.push(vec![
            Id::generate().into(),
            id.into(),
            format!("{username}@seed.invalid").into(),
            o.password_hash.clone().into(),
            now.into(),
            now.into(),
        ]);
    }
    insert_rows(
        db,
        "INSERT INTO accounts (id, username, username_lower, uri, url, created_at, updated_at)",
        7,
        account_rows,
        "",
    )
    .await?;
    insert_rows(
        db,
        "INSERT INTO users (id, account_id, email, encrypted_password, confirmed_at, created_at)",
        6,
        user_rows,
        "",
    )
    .await?;

    let follows = o.follows_per_account.min(o.accounts - 1);
    let mut follow_rows = Vec::with_capacity(o.accounts * follows);
    for (i, (id, _)) in account_ids.iter().enumerate() {
        let mut chosen = std::collections::HashSet::with_capacity(follows);
        while chosen.len() < follows {
            let t = rng.below(o.accounts);
            if t != i {
                chosen.insert(t);
            }
        }
        for t in chosen {
            follow_rows.push(vec![Id::generate().into(), (*id).into(), account_ids[t].0.into(), now.into()]);
        }
    }
    let follow_rows: Vec<Vec<Arg>> = follow_rows
        .into_iter()
        .map(|mut r| {
            r.push("follow".into());
            r
        })
        .collect();
    insert_rows(db, "INSERT INTO relations (id, account_id, target_account_id, created_at, kind)", 5, follow_rows, "")
        .await?;

    let mut status_rows = Vec::with_capacity(o.statuses.min(200_000));
    let span = 30 * 86_400_000i64;
    let mut written = 0;
    while written < o.statuses {
        status_rows.clear();
        let batch = (o.statuses - written).min(200_000);
        for k in 0..batch {
            let n = written + k;
            let (author, username) = &account_ids[rng.below(o.accounts)];
            let created = now - (rng.next() % span as u64) as i64;
            let id = Id::generate_at(created);
            let visibility = match rng.below(10) {
                0 => "unlisted",
                1 => "private",
                _ => "public",
            };
            let text = format!("Seeded status number {n} about #topic{}", n % 100);
            let content = format!(
                "<p>Seeded status number {n} about <a href=\"{base}/tags/topic{t}\" class=\"mention hashtag\" rel=\"tag\">#<span>topic{t}</span></a></p>",
                t = n % 100
            );
            status_rows.push(vec![
                id.into(),
                (*author).into(),
                format!("{base}/users/{username}/statuses/{id}").into(),
                format!("{base}/@{username}/{id}").into(),
                text.into(),
                content.into(),
                visibility.into(),
                id.into(),
                created.into(),
            ]);
        }
        written += batch;
        insert_rows(
            db,
            "INSERT INTO statuses (id, account_id, uri, url, text, content, visibility, conversation_id, created_at, local)",
            10,
            status_rows.drain(..).map(|mut r| {
                r.push(true.into());
                r
            }).collect(),
            "ON CONFLICT DO NOTHING",
        )
        .await?;
    }

    // Counters, once, from the rows.
    let mut tx = db.begin(true).await?;
    tx.exec(
        "UPDATE accounts SET \
         statuses_count = (SELECT COUNT(*) FROM statuses s WHERE s.account_id = accounts.id), \
         last_status_at = (SELECT MAX(s.created_at) FROM statuses s WHERE s.account_id = accounts.id), \
         following_count = (SELECT COUNT(*) FROM relations r WHERE r.kind = 'follow' AND r.account_id = accounts.id), \
         followers_count = (SELECT COUNT(*) FROM relations r WHERE r.kind = 'follow' AND r.target_account_id = accounts.id) \
         WHERE domain = ''",
        vec![],
    )
    .await?;
    tx.commit_inner().await?;

    // One app, and tokens for the first accounts.
    let app_id = Id::generate();
    let mut tx = db.begin(true).await?;
    tx.exec(
        "INSERT INTO oauth_applications (id, name, redirect_uris, scopes, client_id, client_secret, created_at) \
         VALUES ($1, 'ferrodon seed', 'urn:ietf:wg:oauth:2.0:oob', 'read write follow', $2, $3, $4)",
        vec![app_id.into(), format!("seed-{app_id}").into(), format!("seed-secret-{app_id}").into(), now.into()],
    )
    .await?;
    tx.commit_inner().await?;
    let mut tokens = Vec::new();
    let mut token_rows = Vec::new();
    for (id, username) in account_ids.iter().take(o.tokens) {
        let raw = format!("seed{}{:016x}{:016x}", id.0, rng.next(), rng.next());
        let user: Option<(i64,)> = {
            let mut tx = db.begin(false).await?;
            tx.opt("SELECT id FROM users WHERE account_id = $1", vec![(*id).into()]).await?
        };
        let user_id = user.ok_or_else(|| Error::internal("seeded user missing"))?.0;
        token_rows.push(vec![
            Id::generate().into(),
            app_id.into(),
            user_id.into(),
            (o.hash_token)(&raw).into(),
            "read write follow".into(),
            now.into(),
        ]);
        tokens.push((username.clone(), raw));
    }
    insert_rows(
        db,
        "INSERT INTO oauth_access_tokens (id, application_id, user_id, token_hash, scopes, created_at)",
        6,
        token_rows,
        "",
    )
    .await?;
    Ok(SeedReport { tokens })
}
