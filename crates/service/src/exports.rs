//! An account's data as Mastodon exports it (settings → import and export): CSV files of whom it
//! follows, blocks and mutes, the domains it blocks, its bookmarks and its lists, in Mastodon's
//! columns, so another server imports them.

use ferrodon_domain::model::{Account, Keyed};
use ferrodon_domain::ports::{RelatedAccounts, StatusMark, Tx};
use ferrodon_kernel::{Id, PageRequest, Result};

use crate::Services;
use crate::auth::now;

/// Rows read per query while a file is written.
const BATCH: u32 = 500;

/// One of the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    Follows,
    Blocks,
    Mutes,
    DomainBlocks,
    Bookmarks,
    Lists,
}

impl Export {
    pub const ALL: [Export; 6] =
        [Export::Follows, Export::Lists, Export::Blocks, Export::Mutes, Export::DomainBlocks, Export::Bookmarks];

    /// Its file name (`follows.csv`, …), as Mastodon names it.
    pub fn file_name(self) -> &'static str {
        match self {
            Export::Follows => "follows.csv",
            Export::Blocks => "blocks.csv",
            Export::Mutes => "mutes.csv",
            Export::DomainBlocks => "domain_blocks.csv",
            Export::Bookmarks => "bookmarks.csv",
            Export::Lists => "lists.csv",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Export> {
        Export::ALL.into_iter().find(|e| e.file_name() == name)
    }
}

/// A CSV field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `user@domain`, this server's domain for a local account.
fn address(svc: &Services, a: &Account) -> String {
    let domain = if a.is_local() { &svc.config.local_domain } else { &a.domain };
    format!("{}@{domain}", a.username)
}

/// Every row of a keyed listing, read in batches.
async fn all<T, F>(tx: &mut Box<dyn Tx>, mut read: F) -> Result<Vec<T>>
where
    F: for<'a> FnMut(
        &'a mut Box<dyn Tx>,
        PageRequest,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Keyed<T>>>> + Send + 'a>>,
{
    let mut out = Vec::new();
    let mut max_id = None;
    loop {
        let page = PageRequest { max_id, limit: BATCH, ..Default::default() };
        let rows = read(tx, page).await?;
        let full = rows.len() as u32 >= BATCH;
        max_id = rows.last().map(|r| r.key);
        out.extend(rows.into_iter().map(|r| r.item));
        if !full {
            return Ok(out);
        }
    }
}

async fn related(tx: &mut Box<dyn Tx>, query: RelatedAccounts) -> Result<Vec<Account>> {
    all(tx, |tx, page| Box::pin(async move { tx.list_related_accounts(query, &page).await })).await
}

/// `account`'s file of `what`, as CSV.
pub async fn export(svc: &Services, account: &Account, what: Export) -> Result<String> {
    let mut tx = svc.db.read().await?;
    let id = account.id;
    let mut out = String::new();
    match what {
        Export::Follows => {
            out.push_str("Account address,Show boosts,Notify on new posts,Languages\n");
            let followed = related(&mut tx, RelatedAccounts::Following(id)).await?;
            let ids: Vec<Id> = followed.iter().map(|a| a.id).collect();
            let relations = tx.relationships(id, &ids, now()).await?;
            for a in &followed {
                let follow = relations.iter().find(|r| r.target_id == a.id).and_then(|r| r.following.as_ref());
                let (boosts, notify, languages) = follow.map_or((true, false, String::new()), |f| {
                    (f.show_reblogs, f.notify, f.languages.clone().unwrap_or_default())
                });
                out.push_str(&format!("{},{boosts},{notify},{}\n", field(&address(svc, a)), field(&languages)));
            }
        }
        Export::Blocks => {
            for a in related(&mut tx, RelatedAccounts::Blocks(id)).await? {
                out.push_str(&format!("{}\n", field(&address(svc, &a))));
            }
        }
        Export::Mutes => {
            out.push_str("Account address,Hide notifications\n");
            let muted = related(&mut tx, RelatedAccounts::Mutes(id, now())).await?;
            let ids: Vec<Id> = muted.iter().map(|a| a.id).collect();
            let relations = tx.relationships(id, &ids, now()).await?;
            for a in &muted {
                let hide = relations
                    .iter()
                    .find(|r| r.target_id == a.id)
                    .and_then(|r| r.muting.as_ref())
                    .is_some_and(|m| m.hide_notifications);
                out.push_str(&format!("{},{hide}\n", field(&address(svc, a))));
            }
        }
        Export::DomainBlocks => {
            for domain in all(&mut tx, |tx, page| Box::pin(async move { tx.blocked_domains(id, &page).await })).await? {
                out.push_str(&format!("{}\n", field(&domain)));
            }
        }
        Export::Bookmarks => {
            let ids = all(&mut tx, |tx, page| {
                Box::pin(async move { tx.marked_statuses(StatusMark::Bookmark, id, &page).await })
            })
            .await?;
            for status in tx.statuses_by_ids(&ids).await? {
                out.push_str(&format!("{}\n", field(&status.uri)));
            }
        }
        Export::Lists => {
            for list in tx.lists_of(id).await? {
                let list_id = list.id;
                let members =
                    all(&mut tx, |tx, page| Box::pin(async move { tx.list_members(list_id, &page).await })).await?;
                for a in tx.accounts_by_ids(&members).await? {
                    out.push_str(&format!("{},{}\n", field(&list.title), field(&address(svc, &a))));
                }
            }
        }
    }
    Ok(out)
}
