//! How other servers find this one and its accounts: WebFinger (`acct:` and actor URLs),
//! host-meta, and NodeInfo 2.0 / 2.1.

use ferrodon_config::RegistrationsMode;
use ferrodon_domain::model::Account;
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Result};
use serde_json::{Value, json};

use crate::Services;
use crate::auth::now;
use crate::instance::SOURCE_URL;

/// The local account a WebFinger `resource` names: `acct:user@domain` (or `user@domain`) with
/// this server's domain, or the account's actor URI or profile URL.
async fn resolve(svc: &Services, resource: &str) -> Result<Account> {
    let resource = resource.trim();
    if resource.is_empty() {
        return Err(Error::bad_request("The resource parameter is missing"));
    }
    let base = svc.base_url();
    let username = if let Some(path) = resource.strip_prefix(&base) {
        let path = path.trim_end_matches('/');
        path.strip_prefix("/users/")
            .or_else(|| path.strip_prefix("/@"))
            .filter(|u| !u.contains('/'))
            .map(str::to_string)
    } else if resource.starts_with("http://") || resource.starts_with("https://") {
        None
    } else {
        let acct = resource.strip_prefix("acct:").unwrap_or(resource).trim_start_matches('@');
        let (user, domain) = acct.rsplit_once('@').ok_or_else(Error::not_found)?;
        let domain = domain.to_ascii_lowercase();
        (domain == svc.config.local_domain || domain == svc.config.web_domain).then(|| user.to_string())
    };
    let username = username.ok_or_else(Error::not_found)?;
    let mut tx = svc.db.read().await?;
    let account = tx.account_by_username(&username, "").await?.ok_or_else(Error::not_found)?;
    if account.suspended_at.is_some() {
        return Err(Error::not_found());
    }
    Ok(account)
}

/// `GET /.well-known/webfinger?resource=…` (JRD).
pub async fn webfinger(svc: &Services, resource: &str) -> Result<Value> {
    let a = resolve(svc, resource).await?;
    let base = svc.base_url();
    Ok(json!({
        "subject": format!("acct:{}@{}", a.username, svc.config.local_domain),
        "aliases": [a.url, a.uri],
        "links": [
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": a.url },
            { "rel": "self", "type": "application/activity+json", "href": a.uri },
            { "rel": "http://ostatus.org/schema/1.0/subscribe", "template": format!("{base}/authorize_interaction?uri={{uri}}") },
        ],
    }))
}

/// `GET /.well-known/host-meta` (XRD): where WebFinger is.
pub fn host_meta(svc: &Services) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
        svc.base_url()
    )
}

/// `GET /.well-known/nodeinfo`: the NodeInfo documents served.
pub fn nodeinfo_links(svc: &Services) -> Value {
    let base = svc.base_url();
    json!({
        "links": [
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0") },
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1") },
        ]
    })
}

/// Local accounts active in the last `days` days: those that posted. NodeInfo's
/// `activeMonth` (30) and `activeHalfyear` (180), and the instance document's
/// `usage.users.active_month` (30), all count this.
pub(crate) async fn active_local_accounts(tx: &mut Box<dyn Tx>, days: i64) -> Result<i64> {
    const DAY: i64 = 86_400_000;
    tx.count_active_local_accounts(now() - days * DAY).await
}

/// `GET /nodeinfo/2.0` and `/nodeinfo/2.1`.
pub async fn nodeinfo(svc: &Services, version: &str) -> Result<Value> {
    if version != "2.0" && version != "2.1" {
        return Err(Error::not_found());
    }
    let mut tx = svc.db.read().await?;
    let users = tx.count_local_accounts().await?;
    let month = active_local_accounts(&mut tx, 30).await?;
    let half_year = active_local_accounts(&mut tx, 180).await?;
    let posts = tx.count_local_statuses().await?;
    let mode = crate::settings::registrations_mode(svc, &mut tx).await?;
    let mut software = json!({ "name": "ferrodon", "version": env!("CARGO_PKG_VERSION") });
    if version == "2.1" {
        software["repository"] = json!(SOURCE_URL);
        software["homepage"] = json!(SOURCE_URL);
    }
    Ok(json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "usage": {
            "users": { "total": users, "activeMonth": month, "activeHalfyear": half_year },
            "localPosts": posts,
        },
        "openRegistrations": mode != RegistrationsMode::None,
        "metadata": { "nodeName": svc.config.local_domain, "nodeDescription": "A Mastodon-compatible server." },
    }))
}
