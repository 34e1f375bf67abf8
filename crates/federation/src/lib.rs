//! ActivityPub federation: actor and object documents, HTTP signatures, the inbox (verify, then
//! `ingress`), outgoing activities (built on `push`, one delivery job per inbox), and the
//! resolution of remote actors and posts. Everything that changes data goes through the
//! service layer (`ferrodon_service::inbox` for remote actions), so a remote favourite and a
//! local one run the same code.

mod cache;
pub mod deliver;
pub mod featured;
pub mod inbox;
pub mod net;
pub mod protocol;
pub mod render;
pub mod replies;
pub mod resolve;
pub mod sanitize;
pub mod signatures;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ferrodon_domain::model::Account;
use ferrodon_domain::ports::{DomainBlock, JobHandler, RetryPolicy};
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_service::Services;
use serde_json::Value;

use signatures::{PrivateKey, PublicKey, Scheme};

/// The media type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// The account that signed a request, as far as an inbox needs to know it.
#[derive(Clone, Debug)]
pub struct Signer {
    pub id: Id,
    pub uri: String,
    pub suspended: bool,
}

/// A remote key with its owner, as read at `loaded`.
#[derive(Clone)]
struct CachedKey {
    signer: Signer,
    key: PublicKey,
    loaded: std::time::Instant,
}

/// How long a cached key's owner (its suspension) is trusted before it is read again.
const SIGNER_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Shared state of federation: the HTTP client and the caches of keys and per-host knowledge.
pub struct Federation {
    pub svc: Services,
    http: reqwest::Client,
    allowed: Arc<net::Allowed>,
    /// Local signing keys, parsed once.
    local_keys: Mutex<HashMap<Id, PrivateKey>>,
    /// Remote keys by key id: who owns it and the parsed key.
    remote_keys: Mutex<HashMap<String, CachedKey>>,
    /// The signature scheme each host accepted last (double-knocking).
    schemes: Mutex<HashMap<String, Scheme>>,
    /// Domains marked unavailable (deliveries skipped), and domains with recorded failures.
    unavailable: Mutex<HashSet<String>>,
    failing: Mutex<HashSet<String>>,
    /// Domain blocks, re-read every few seconds (the CLI changes them from another process).
    blocks: Mutex<(Option<std::time::Instant>, Arc<DomainPolicy>)>,
    /// Writes accepted inbox activities to the queue in groups.
    intake: inbox::Intake,
    /// When each remote thread's replies were last asked for.
    replies_fetched: Mutex<HashMap<Id, std::time::Instant>>,
    /// When each remote account's pinned posts were last read.
    featured_fetched: Mutex<HashMap<Id, std::time::Instant>>,
    /// Accounts read in the last few seconds (activity processing).
    accounts: cache::Accounts,
}

pub type Fed = Arc<Federation>;

impl Federation {
    pub async fn new(svc: Services) -> Result<Fed> {
        let allowed = Arc::new(net::Allowed::parse(&svc.config.allowed_private_addresses)?);
        let agent = format!("ferrodon/{} (+{})", env!("CARGO_PKG_VERSION"), svc.base_url());
        let http = net::client(allowed.clone(), &agent)?;
        let unavailable: HashSet<String> = {
            let mut tx = svc.db.read().await?;
            tx.unavailable_domains().await?.into_iter().collect()
        };
        Ok(Arc::new(Federation {
            intake: inbox::Intake::start(svc.clone()),
            replies_fetched: Mutex::default(),
            featured_fetched: Mutex::default(),
            accounts: cache::Accounts::default(),
            svc,
            http,
            allowed,
            local_keys: Mutex::default(),
            remote_keys: Mutex::default(),
            schemes: Mutex::default(),
            failing: Mutex::new(unavailable.clone()),
            blocks: Mutex::new((None, Arc::new(DomainPolicy::default()))),
            unavailable: Mutex::new(unavailable),
        }))
    }

    pub fn base(&self) -> String {
        self.svc.base_url()
    }

    /// The instance actor (Mastodon's `/actor`), which signs fetches made for no one in particular.
    pub fn instance_actor_uri(&self) -> String {
        format!("{}/actor", self.base())
    }

    /// A local account's signing key, made (RSA-2048) and stored the first time it is needed.
    pub async fn key_of(&self, account: &Account) -> Result<PrivateKey> {
        if let Some(k) = lock(&self.local_keys).get(&account.id) {
            return Ok(k.clone());
        }
        let mut tx = self.svc.db.read().await?;
        let stored = tx.private_key(account.id).await?;
        drop(tx);
        let key = match stored {
            Some(pem) => PrivateKey::from_pem(&pem).map_err(Error::internal)?,
            None => {
                let key = tokio::task::spawn_blocking(PrivateKey::generate)
                    .await
                    .map_err(Error::internal)?
                    .map_err(Error::internal)?;
                let mut tx = self.svc.db.write().await?;
                let key_id = format!("{}#main-key", account.uri);
                let stored = tx.store_keys(account.id, &key_id, &key.public_key_pem(), &key.to_pem()).await?;
                let key = if stored {
                    key
                } else {
                    // Another request made one first: use that one.
                    let pem = tx.private_key(account.id).await?.ok_or_else(|| Error::internal("key vanished"))?;
                    PrivateKey::from_pem(&pem).map_err(Error::internal)?
                };
                tx.commit().await?;
                key
            }
        };
        lock(&self.local_keys).insert(account.id, key.clone());
        Ok(key)
    }

    /// The instance actor's key (kept in the settings table).
    pub async fn instance_key(&self) -> Result<PrivateKey> {
        const SETTING: &str = "instance_actor_private_key";
        if let Some(k) = lock(&self.local_keys).get(&Id(0)) {
            return Ok(k.clone());
        }
        let mut tx = self.svc.db.write().await?;
        let key = match tx.setting(SETTING).await? {
            Some(pem) => PrivateKey::from_pem(&pem).map_err(Error::internal)?,
            None => {
                let key = PrivateKey::generate().map_err(Error::internal)?;
                tx.set_setting(SETTING, &key.to_pem()).await?;
                key
            }
        };
        tx.commit().await?;
        lock(&self.local_keys).insert(Id(0), key.clone());
        Ok(key)
    }

    /// Signs and sends a request; on 401 with the remembered (or default) scheme, tries the other
    /// one and remembers what worked for the host.
    async fn signed(
        &self,
        method: http::Method,
        url: &str,
        signer: (&PrivateKey, &str),
        body: Option<Vec<u8>>,
        accept: &str,
    ) -> Result<reqwest::Response> {
        let u = net::check_url(url, &self.allowed).await?;
        let host = protocol::authority(url).unwrap_or_default();
        let first = lock(&self.schemes).get(&host).copied().unwrap_or(Scheme::Cavage);
        let mut scheme = first;
        loop {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::ACCEPT, http::HeaderValue::from_str(accept).map_err(Error::internal)?);
            if body.is_some() {
                headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(ACTIVITY_JSON));
            }
            signatures::sign(scheme, signer.0, signer.1, &method, &u, &mut headers, body.as_deref(), SystemTime::now())
                .map_err(Error::internal)?;
            headers.remove(http::header::HOST); // reqwest writes Host itself, from the URL
            let mut request = self.http.request(method.clone(), u.clone()).headers(headers);
            if let Some(b) = &body {
                request = request.body(b.clone());
            }
            let response = request.send().await.map_err(|e| Error::unavailable(format!("{url}: {e}")))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && scheme == first {
                scheme = match first {
                    Scheme::Cavage => Scheme::Rfc9421,
                    Scheme::Rfc9421 => Scheme::Cavage,
                };
                continue;
            }
            if status.is_success() && scheme != first {
                lock(&self.schemes).insert(host, scheme);
            }
            return Ok(response);
        }
    }

    /// GETs an ActivityPub document, signed by the instance actor; follows up to 3 redirects
    /// (each hop checked again).
    pub async fn fetch(&self, url: &str) -> Result<Value> {
        if self.refuses(url).await? {
            return Err(Error::validation(format!("{url} is on a suspended domain")));
        }
        let key = self.instance_key().await?;
        let key_id = format!("{}#main-key", self.instance_actor_uri());
        let accept =
            "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
        let mut url = url.to_string();
        for _ in 0..4 {
            let response = self.signed(http::Method::GET, &url, (&key, &key_id), None, accept).await?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| Error::unavailable(format!("{url}: redirect without a location")))?;
                url = url::Url::parse(&url).and_then(|b| b.join(next)).map_err(Error::internal)?.to_string();
                continue;
            }
            if status == reqwest::StatusCode::GONE || status == reqwest::StatusCode::NOT_FOUND {
                return Err(Error::not_found());
            }
            if !status.is_success() {
                return Err(Error::unavailable(format!("{url}: HTTP {status}")));
            }
            let body = net::read_limited(response, net::MAX_DOCUMENT).await?;
            return serde_json::from_slice(&body).map_err(|_| Error::unavailable(format!("{url}: not JSON")));
        }
        Err(Error::unavailable(format!("{url}: too many redirects")))
    }

    /// Whether nothing may be exchanged with the host of `url`: it is suspended, or
    /// `LIMITED_FEDERATION_MODE` is on and it is not an allowed domain.
    pub async fn refuses(&self, url: &str) -> Result<bool> {
        let Some(host) = protocol::authority(url) else { return Ok(false) };
        let policy = self.domain_policy().await?;
        use ferrodon_service::domains::{covering, covers};
        if covering(&policy.blocks, &host).is_some_and(|b| b.severity == "suspend") {
            return Ok(true);
        }
        Ok(self.svc.config.limited_federation_mode && !policy.allows.iter().any(|d| covers(d, &host)))
    }

    /// Whether reports from `url`'s domain are ignored (a domain block with `reject_reports`).
    pub async fn rejects_reports(&self, url: &str) -> Result<bool> {
        let Some(host) = protocol::authority(url) else { return Ok(false) };
        let policy = self.domain_policy().await?;
        Ok(ferrodon_service::domains::covering(&policy.blocks, &host).is_some_and(|b| b.reject_reports))
    }

    /// Domain blocks and allows, re-read when older than a few seconds.
    async fn domain_policy(&self) -> Result<Arc<DomainPolicy>> {
        const FRESH: std::time::Duration = std::time::Duration::from_secs(5);
        let cached = {
            let b = lock(&self.blocks);
            b.0.filter(|t| t.elapsed() < FRESH).map(|_| b.1.clone())
        };
        if let Some(p) = cached {
            return Ok(p);
        }
        let mut tx = self.svc.db.read().await?;
        let fresh = Arc::new(DomainPolicy { blocks: tx.domain_blocks().await?, allows: tx.domain_allows().await? });
        *lock(&self.blocks) = (Some(std::time::Instant::now()), fresh.clone());
        Ok(fresh)
    }

    pub fn is_unavailable(&self, domain: &str) -> bool {
        lock(&self.unavailable).contains(domain)
    }

    /// The job handlers of federation: building activities (`push`), delivering them (`push`),
    /// and processing received ones (`ingress`).
    pub fn handlers(fed: &Fed) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
        vec![
            (
                ferrodon_service::jobs::federate::Outgoing::KIND,
                ferrodon_service::jobs::federate::POLICY,
                Arc::new(deliver::Federate { fed: fed.clone() }) as Arc<dyn JobHandler>,
            ),
            (
                deliver::DeliverActivity::KIND,
                deliver::DeliverActivity::POLICY,
                Arc::new(deliver::DeliverActivity { fed: fed.clone() }),
            ),
            (
                replies::FetchReplies::KIND,
                replies::FetchReplies::POLICY,
                Arc::new(replies::FetchReplies { fed: fed.clone() }),
            ),
            (
                featured::FetchFeatured::KIND,
                featured::FetchFeatured::POLICY,
                Arc::new(featured::FetchFeatured { fed: fed.clone() }),
            ),
            (
                inbox::ProcessActivity::KIND,
                inbox::ProcessActivity::POLICY,
                Arc::new(inbox::ProcessActivity { fed: fed.clone() }),
            ),
        ]
    }
}

/// Domain blocks and allows, as last read.
#[derive(Default)]
struct DomainPolicy {
    blocks: Vec<DomainBlock>,
    allows: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
