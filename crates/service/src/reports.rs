//! Reports for moderators: `POST /api/v1/reports` by a local user (sent on to the target's
//! server as a `Flag` when asked), and reports other servers send (`Flag`, see
//! [`remote_report`]). Moderators list them with `ferrodon reports list`.

use ferrodon_domain::model::{Account, REPORT_CATEGORIES, Report};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Result};

use crate::auth::{Viewer, now};
use crate::{Services, effects};

/// Mastodon's limit for a local report's comment; a remote `Flag` may say more.
pub const MAX_COMMENT: usize = 1000;
pub const MAX_REMOTE_COMMENT: usize = 5000;

/// The parameters of `POST /api/v1/reports`.
#[derive(Debug, Default)]
pub struct ReportParams {
    pub account_id: Option<String>,
    pub status_ids: Vec<String>,
    pub comment: Option<String>,
    pub forward: bool,
    pub category: Option<String>,
    pub rule_ids: Vec<String>,
}

/// A report just filed, with the account it reports.
pub struct Filed {
    pub report: Report,
    pub target: Account,
}

/// `POST /api/v1/reports`
pub async fn create(svc: &Services, me: &Viewer, p: ReportParams) -> Result<Filed> {
    let comment = p.comment.unwrap_or_default();
    if comment.chars().count() > MAX_COMMENT {
        return Err(Error::validation(format!(
            "Validation failed: Comment is too long (maximum is {MAX_COMMENT} characters)"
        )));
    }
    // This server has no rules to break yet: a report can name none.
    if !p.rule_ids.is_empty() {
        return Err(Error::validation("Validation failed: Rule ids does not reference rules of this server"));
    }
    let category = match p.category.as_deref().filter(|c| !c.is_empty()) {
        Some(c) if REPORT_CATEGORIES.contains(&c) => c.to_string(),
        Some(_) => return Err(Error::validation("Validation failed: Category is not included in the list")),
        None => "other".to_string(),
    };
    let target_id = p.account_id.as_deref().and_then(Id::parse).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.write().await?;
    let target = tx.account_by_id(target_id).await?.ok_or_else(Error::not_found)?;
    let status_ids = statuses_of(&mut tx, &target, &p.status_ids).await?;
    let forwarded = p.forward && !target.is_local();
    let at = now();
    let report = Report {
        id: Id::generate(),
        account_id: me.account.id,
        target_account_id: target.id,
        status_ids_json: json_ids(&status_ids),
        rule_ids_json: "[]".into(),
        comment,
        category,
        forwarded,
        uri: None,
        action_taken_at: None,
        created_at: at,
        updated_at: at,
    };
    tx.insert_report(&report).await?;
    effects::report_filed(svc, &mut tx, &report, &me.account, &target).await?;
    tx.commit().await?;
    Ok(Filed { report, target })
}

/// A `Flag` from `actor` (another server): a report on local `target`, naming those of
/// `status_uris` that are its statuses. Kept once per activity id.
pub async fn remote_report(
    svc: &Services,
    actor: &Account,
    target: &Account,
    status_ids: &[Id],
    comment: &str,
    uri: &str,
) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let ids: Vec<String> = status_ids.iter().map(|i| i.to_string()).collect();
    let status_ids = statuses_of(&mut tx, target, &ids).await.unwrap_or_default();
    let at = now();
    let report = Report {
        id: Id::generate(),
        account_id: actor.id,
        target_account_id: target.id,
        status_ids_json: json_ids(&status_ids),
        rule_ids_json: "[]".into(),
        comment: comment.chars().take(MAX_REMOTE_COMMENT).collect(),
        category: "other".into(),
        forwarded: false,
        uri: Some(uri.to_string()),
        action_taken_at: None,
        created_at: at,
        updated_at: at,
    };
    tx.insert_report(&report).await?;
    effects::report_filed(svc, &mut tx, &report, actor, target).await?;
    tx.commit().await
}

/// The reports moderators have to look at (`ferrodon reports list`), newest first, with the
/// reporter's and the target's `acct`.
pub async fn list(svc: &Services, all: bool, limit: u32) -> Result<Vec<(Report, String, String)>> {
    let mut tx = svc.db.read().await?;
    let reports = tx.reports(all, limit).await?;
    let ids: Vec<Id> = reports.iter().flat_map(|r| [r.account_id, r.target_account_id]).collect();
    let accounts = tx.accounts_by_ids(&ids).await?;
    let acct = |id: Id| accounts.iter().find(|a| a.id == id).map(Account::acct).unwrap_or_default();
    Ok(reports.into_iter().map(|r| (r.clone(), acct(r.account_id), acct(r.target_account_id))).collect())
}

/// The ids of `raw` as statuses of `target` (Mastodon: anything else is not found).
async fn statuses_of(tx: &mut Box<dyn Tx>, target: &Account, raw: &[String]) -> Result<Vec<Id>> {
    let mut ids = Vec::new();
    for r in raw {
        let id = Id::parse(r).ok_or_else(Error::not_found)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let found = tx.statuses_by_ids(&ids).await?;
    if found.len() != ids.len() || found.iter().any(|s| s.account_id != target.id) {
        return Err(Error::not_found());
    }
    Ok(ids)
}

fn json_ids(ids: &[Id]) -> String {
    serde_json::to_string(&ids.iter().map(|i| i.0).collect::<Vec<i64>>()).unwrap_or_else(|_| "[]".into())
}
