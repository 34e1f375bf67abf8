//! ActivityPub federation: the service's port to other servers
//! ([`ferrodon_domain::ports::Fediverse`]). It reads their documents into domain types
//! ([`protocol`]), writes ours ([`render`]), signs and verifies HTTP requests ([`signatures`]),
//! fetches and delivers over SSRF-safe HTTP ([`net`]), and at the inbox verifies a request and
//! hands its activity to the service ([`inbox`]).
//!
//! No business rule lives here, and no data is read or written but through the service: what
//! to fetch, what to keep, what to send and to whom are the service's decisions.

mod collections;
pub mod inbox;
pub mod net;
pub mod preview;
pub mod protocol;
pub mod render;
pub mod sanitize;
pub mod signatures;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use ferrodon_domain::model::{LinkPreview, Outbound};
use ferrodon_domain::ports::{Delivery, Fediverse, Fetched, KeyPair, SigningKey};
use ferrodon_kernel::{Error, ErrorKind, Id, Result};
use ferrodon_service::Services;
use serde_json::Value;

use protocol::{ACTOR_TYPES, POST_TYPES, authority, has_type, id_of, items};
use signatures::{PrivateKey, PublicKey, Scheme};

/// The media type of ActivityPub documents.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// What a fetch accepts.
const ACCEPT: &str =
    "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

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

/// Federation's state: the HTTP client, and what it keeps of keys and hosts.
pub struct Federation {
    svc: Services,
    http: reqwest::Client,
    allowed: Arc<net::Allowed>,
    /// Local signing keys, parsed once, by key id.
    local_keys: Mutex<HashMap<String, PrivateKey>>,
    /// Remote keys by key id: who owns it and the parsed key.
    remote_keys: Mutex<HashMap<String, CachedKey>>,
    /// The signature scheme each host accepted last (double-knocking).
    schemes: Mutex<HashMap<String, Scheme>>,
}

pub type Fed = Arc<Federation>;

impl Federation {
    /// Makes federation for `svc` and connects it to the service as its port to other servers.
    pub fn new(svc: Services) -> Result<Fed> {
        let allowed = Arc::new(net::Allowed::parse(&svc.config.allowed_private_addresses)?);
        let agent = format!("ferrodon/{} (+{})", env!("CARGO_PKG_VERSION"), svc.base_url());
        let http = net::client(allowed.clone(), &agent)?;
        let fed = Arc::new(Federation {
            svc: svc.clone(),
            http,
            allowed,
            local_keys: Mutex::default(),
            remote_keys: Mutex::default(),
            schemes: Mutex::default(),
        });
        let port: Arc<dyn Fediverse> = fed.clone();
        svc.connect_fediverse(&port);
        Ok(fed)
    }

    /// A signing key, parsed (once per key id).
    fn private_key(&self, key: &SigningKey) -> Result<PrivateKey> {
        if let Some(k) = lock(&self.local_keys).get(&key.key_id) {
            return Ok(k.clone());
        }
        let parsed = PrivateKey::from_pem(&key.private_pem).map_err(Error::internal)?;
        lock(&self.local_keys).insert(key.key_id.clone(), parsed.clone());
        Ok(parsed)
    }

    /// Signs and sends a request; on 401 with the remembered (or default) scheme, tries the other
    /// one and remembers what worked for the host.
    async fn signed(
        &self,
        method: http::Method,
        url: &str,
        key: &SigningKey,
        body: Option<Vec<u8>>,
        accept: &str,
    ) -> Result<reqwest::Response> {
        let u = net::check_url(url, &self.allowed).await?;
        let private = self.private_key(key)?;
        let host = authority(url).unwrap_or_default();
        let first = lock(&self.schemes).get(&host).copied().unwrap_or(Scheme::Cavage);
        let mut scheme = first;
        loop {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::ACCEPT, http::HeaderValue::from_str(accept).map_err(Error::internal)?);
            if body.is_some() {
                headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(ACTIVITY_JSON));
            }
            signatures::sign(
                scheme,
                &private,
                &key.key_id,
                &method,
                &u,
                &mut headers,
                body.as_deref(),
                SystemTime::now(),
            )
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

    /// GETs an ActivityPub document, signed with `key`; follows up to 3 redirects (each hop
    /// checked again).
    pub(crate) async fn get(&self, url: &str, key: &SigningKey) -> Result<Value> {
        let (url, response) =
            followed(url, |u| async move { self.signed(http::Method::GET, &u, key, None, ACCEPT).await }).await?;
        let body = net::read_limited(response, net::MAX_DOCUMENT).await?;
        serde_json::from_slice(&body).map_err(|_| Error::unavailable(format!("{url}: not JSON")))
    }

    /// GETs `url` unsigned, accepting `accept`, within `timeout`, following a few redirects (each hop checked).
    async fn plain_get(
        &self,
        url: &str,
        accept: &'static str,
        timeout: std::time::Duration,
    ) -> Result<(String, reqwest::Response)> {
        followed(url, |u| async move {
            net::check_url(&u, &self.allowed).await?;
            self.http
                .get(&u)
                .header(reqwest::header::ACCEPT, accept)
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| Error::unavailable(format!("{u}: {e}")))
        })
        .await
    }

    /// The instance actor's document.
    pub fn instance_actor(&self, key: &SigningKey) -> Result<Value> {
        let public = self.private_key(key)?.public_key_pem();
        Ok(render::instance_actor(&self.svc.base_url(), &self.svc.config.local_domain, &public))
    }
}

/// Sends `send(url)` and follows up to 3 redirects (`send` is asked for each hop, and checks
/// it) to a successful response, with the URL it came from: NotFound for 404 and 410,
/// unavailable for any other failure.
async fn followed<F, Fut>(url: &str, send: F) -> Result<(String, reqwest::Response)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response>>,
{
    let mut url = url.to_string();
    for _ in 0..4 {
        let response = send(url.clone()).await?;
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
        return Ok((url, response));
    }
    Err(Error::unavailable(format!("{url}: too many redirects")))
}

#[async_trait]
impl Fediverse for Federation {
    async fn fetch(&self, uri: &str, key: &SigningKey) -> Result<Fetched> {
        let doc = self.get(uri, key).await?;
        if has_type(&doc, ACTOR_TYPES) {
            return protocol::read_actor_value(&doc).map(Fetched::Actor);
        }
        if has_type(&doc, POST_TYPES) {
            return protocol::read_post_value(&doc).map(Fetched::Post);
        }
        // A key document names its owner.
        if let Some(owner) = doc.get("owner").and_then(id_of) {
            return Ok(Fetched::Key { owner: owner.to_string() });
        }
        Ok(Fetched::Other { kind: protocol::types(&doc).first().copied().unwrap_or("").to_string() })
    }

    async fn collection(&self, uri: &str, key: &SigningKey, max: usize) -> Result<Vec<String>> {
        collections::ids(self, &Value::String(uri.to_string()), key, max).await
    }

    async fn replies(&self, uri: &str, key: &SigningKey, max: usize) -> Result<Vec<String>> {
        let doc = self.get(uri, key).await?;
        let Some(collection) = doc.get("replies") else { return Ok(Vec::new()) };
        // A collection must come from the post's own server.
        if id_of(collection).is_some_and(|id| !protocol::same_origin(id, uri)) {
            return Ok(Vec::new());
        }
        collections::ids(self, collection, key, max).await
    }

    async fn download(&self, url: &str, dest: &std::path::Path, limit: u64) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let (url, mut response) = self.plain_get(url, "*/*", net::MEDIA_TIMEOUT).await?;
        let too_large = || Error::validation(format!("{url}: larger than {limit} bytes"));
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut out = tokio::fs::File::create(dest).await.map_err(Error::internal)?;
        let mut size = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| Error::unavailable(format!("{url}: {e}")))? {
            size += chunk.len() as u64;
            if size > limit {
                return Err(too_large());
            }
            out.write_all(&chunk).await.map_err(Error::internal)?;
        }
        out.flush().await.map_err(Error::internal)
    }

    async fn link_preview(&self, url: &str) -> Result<Option<LinkPreview>> {
        let (page_url, response) = self.plain_get(url, "text/html", net::TIMEOUT).await?;
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let mime = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if mime != "text/html" {
            return Ok(None);
        }
        let charset = content_type
            .and_then(|t| t.split(';').find_map(|p| p.trim().strip_prefix("charset=")))
            .map(|c| c.trim_matches('"').to_string());
        let body = net::read_head(response, net::MAX_DOCUMENT).await?;
        let page = preview::Page::read(&body, charset.as_deref());
        if let Some(endpoint) = page.oembed_endpoint(&page_url) {
            let embed = async {
                let (_, response) = self.plain_get(&endpoint, "application/json", net::TIMEOUT).await?;
                let body = net::read_limited(response, net::MAX_DOCUMENT).await?;
                serde_json::from_slice::<Value>(&body).map_err(|_| Error::unavailable(format!("{endpoint}: not JSON")))
            }
            .await;
            match embed {
                Ok(doc) => {
                    if let Some(card) = preview::oembed(&doc, url, &endpoint) {
                        return Ok(Some(card));
                    }
                }
                Err(e) => tracing::debug!(%endpoint, error = %e.message, "oEmbed document not read"),
            }
        }
        Ok(page.opengraph(url, &page_url))
    }

    async fn webfinger(&self, user: &str, domain: &str) -> Result<String> {
        let resource = format!("acct:{user}@{domain}");
        // https first; plain http only where allowed (ALLOWED_PRIVATE_ADDRESSES), for loopback set-ups.
        let mut answer = Err(Error::validation(format!("{domain} may not be fetched")));
        for scheme in ["https", "http"] {
            let url = format!("{scheme}://{domain}/.well-known/webfinger?resource={resource}");
            if net::check_url(&url, &self.allowed).await.is_err() {
                continue;
            }
            match self.http.get(&url).header("Accept", "application/jrd+json").send().await {
                Ok(r) => {
                    answer = Ok(r);
                    break;
                }
                Err(e) => answer = Err(Error::unavailable(e.to_string())),
            }
        }
        let response = answer?;
        if !response.status().is_success() {
            return Err(Error::not_found());
        }
        let jrd: Value = serde_json::from_slice(&net::read_limited(response, 64 * 1024).await?)
            .map_err(|_| Error::unavailable("WebFinger answered with something that is not JSON"))?;
        items(jrd.get("links"))
            .into_iter()
            .find(|l| {
                l.get("rel").and_then(Value::as_str) == Some("self")
                    && l.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.contains("activity+json") || t.contains("ld+json"))
            })
            .and_then(|l| l.get("href").and_then(Value::as_str))
            .map(str::to_string)
            .ok_or_else(Error::not_found)
    }

    fn render(&self, activity: &Outbound) -> Result<String> {
        let base = self.svc.base_url();
        let instance_actor = ferrodon_service::keys::instance_actor_uri(&self.svc);
        Ok(render::outbound(&base, &instance_actor, activity).to_string())
    }

    async fn deliver(&self, inbox: &str, key: &SigningKey, body: &str) -> Delivery {
        match self.signed(http::Method::POST, inbox, key, Some(body.as_bytes().to_vec()), ACTIVITY_JSON).await {
            Ok(r) if r.status().is_success() => Delivery::Delivered,
            // The server understood and refused: retrying would not change its mind (429 aside).
            Ok(r) if r.status().is_client_error() && r.status() != 429 && r.status() != 408 => {
                Delivery::Refused(r.status().as_u16())
            }
            Ok(r) => Delivery::Failed(format!("HTTP {}", r.status())),
            Err(e) if e.kind == ErrorKind::Validation => Delivery::Unreachable(e.message),
            Err(e) => Delivery::Failed(e.message),
        }
    }

    async fn generate_keys(&self) -> Result<KeyPair> {
        let key = tokio::task::spawn_blocking(PrivateKey::generate)
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        Ok(KeyPair { public_pem: key.public_key_pem(), private_pem: key.to_pem() })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
