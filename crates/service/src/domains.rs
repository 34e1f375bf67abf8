//! Domain blocks (`ferrodon domains block|unblock|list`): suspend (nothing from the domain is
//! accepted, its accounts are suspended), silence (its accounts are limited: off the public and
//! hashtag timelines, notifying only their followers), or nothing but rejecting media or reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrodon_domain::ports::DomainBlock;
use ferrodon_domain::rules::uri::authority;
use ferrodon_kernel::{Error, Result};

use crate::auth::now;
use crate::{Services, lock};

pub const SEVERITIES: [&str; 3] = ["suspend", "silence", "noop"];

/// A domain as blocks name it: lower case, no scheme or path, IDNs as punycode are the caller's.
pub fn normalize(domain: &str) -> Result<String> {
    let d = domain.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let d = d.to_ascii_lowercase();
    if d.is_empty() || d.contains(['/', ' ', '@']) {
        return Err(Error::validation(format!("{domain:?} is not a domain")));
    }
    Ok(d)
}

pub async fn block(
    svc: &Services,
    domain: &str,
    severity: &str,
    reject_media: bool,
    reject_reports: bool,
) -> Result<()> {
    if !SEVERITIES.contains(&severity) {
        return Err(Error::validation(format!("severity must be one of {}", SEVERITIES.join(", "))));
    }
    let domain = normalize(domain)?;
    if domain == svc.config.local_domain || domain == svc.config.web_domain {
        return Err(Error::validation("this is our own domain"));
    }
    let mut tx = svc.db.write().await?;
    let b = DomainBlock { domain, severity: severity.to_string(), reject_media, reject_reports, created_at: now() };
    tx.upsert_domain_block(&b).await?;
    tx.commit().await?;
    forget_policy(svc);
    Ok(())
}

/// This process reads the policy again at once (others within [`POLICY_FRESH`]).
fn forget_policy(svc: &Services) {
    *lock(&svc.state.domain_policy) = None;
}

/// Lifts a block; false when there was none.
pub async fn unblock(svc: &Services, domain: &str) -> Result<bool> {
    let domain = normalize(domain)?;
    let mut tx = svc.db.write().await?;
    let removed = tx.delete_domain_block(&domain).await?;
    tx.commit().await?;
    forget_policy(svc);
    Ok(removed)
}

pub async fn list(svc: &Services) -> Result<Vec<DomainBlock>> {
    svc.db.read().await?.domain_blocks().await
}

/// Allows federation with `domain` (what `LIMITED_FEDERATION_MODE` federates with).
pub async fn allow(svc: &Services, domain: &str) -> Result<()> {
    let domain = normalize(domain)?;
    let mut tx = svc.db.write().await?;
    tx.add_domain_allow(&domain, now()).await?;
    tx.commit().await?;
    forget_policy(svc);
    Ok(())
}

pub async fn disallow(svc: &Services, domain: &str) -> Result<bool> {
    let domain = normalize(domain)?;
    let mut tx = svc.db.write().await?;
    let removed = tx.remove_domain_allow(&domain).await?;
    tx.commit().await?;
    forget_policy(svc);
    Ok(removed)
}

pub async fn allowed(svc: &Services) -> Result<Vec<String>> {
    svc.db.read().await?.domain_allows().await
}

/// Domain blocks and allows, as last read.
#[derive(Debug, Default)]
pub(crate) struct Policy {
    blocks: Vec<DomainBlock>,
    allows: Vec<String>,
}

/// How long the policy read is trusted (the CLI changes it from another process).
const POLICY_FRESH: Duration = Duration::from_secs(5);

async fn policy(svc: &Services) -> Result<Arc<Policy>> {
    if let Some((at, p)) = lock(&svc.state.domain_policy).as_ref()
        && at.elapsed() < POLICY_FRESH
    {
        return Ok(p.clone());
    }
    let mut tx = svc.db.read().await?;
    let fresh = Arc::new(Policy { blocks: tx.domain_blocks().await?, allows: tx.domain_allows().await? });
    *lock(&svc.state.domain_policy) = Some((Instant::now(), fresh.clone()));
    Ok(fresh)
}

/// Whether nothing may be exchanged with the host of `url`: it is suspended, or
/// `LIMITED_FEDERATION_MODE` is on and it is not an allowed domain.
pub async fn refuses(svc: &Services, url: &str) -> Result<bool> {
    let Some(host) = authority(url) else { return Ok(false) };
    let policy = policy(svc).await?;
    if covering(&policy.blocks, &host).is_some_and(|b| b.severity == "suspend") {
        return Ok(true);
    }
    Ok(svc.config.limited_federation_mode && !policy.allows.iter().any(|d| covers(d, &host)))
}

/// Whether media from the host of `url` is not kept here (a block with `reject_media`).
pub(crate) async fn rejects_media(svc: &Services, url: &str) -> Result<bool> {
    let Some(host) = authority(url) else { return Ok(false) };
    Ok(covering(&policy(svc).await?.blocks, &host).is_some_and(|b| b.reject_media))
}

/// Whether reports from the host of `url` are ignored (a block with `reject_reports`).
pub(crate) async fn rejects_reports(svc: &Services, url: &str) -> Result<bool> {
    let Some(host) = authority(url) else { return Ok(false) };
    Ok(covering(&policy(svc).await?.blocks, &host).is_some_and(|b| b.reject_reports))
}

/// Whether `host` is `domain` or one of its subdomains (ports ignored).
pub fn covers(domain: &str, host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let d = domain.split(':').next().unwrap_or(domain);
    host == d || host.ends_with(&format!(".{d}"))
}

/// The block covering `host` (the domain itself or a parent domain), if any.
pub fn covering<'a>(blocks: &'a [DomainBlock], host: &str) -> Option<&'a DomainBlock> {
    blocks.iter().find(|b| covers(&b.domain, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_subdomains() {
        let b = |d: &str| DomainBlock {
            domain: d.into(),
            severity: "suspend".into(),
            reject_media: false,
            reject_reports: false,
            created_at: 0,
        };
        let blocks = vec![b("evil.example")];
        assert!(covering(&blocks, "evil.example").is_some());
        assert!(covering(&blocks, "a.evil.example").is_some());
        assert!(covering(&blocks, "evil.example:8443").is_some());
        assert!(covering(&blocks, "notevil.example").is_none());
        assert_eq!(normalize("https://Evil.Example/").unwrap(), "evil.example");
    }
}
