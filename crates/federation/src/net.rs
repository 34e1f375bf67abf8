//! Outbound HTTP that is safe to point at addresses other servers give us: no private,
//! loopback or link-local address (unless `ALLOWED_PRIVATE_ADDRESSES` lists it), plain http
//! only to those listed addresses, no automatic redirects, and limits on time and size.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferrodon_kernel::{Error, Result};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long a remote server may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest ActivityPub document read (Mastodon reads at most 1 MiB of JSON).
pub const MAX_DOCUMENT: usize = 1024 * 1024;
/// How long a media file may take to arrive (up to 99 MB).
pub const MEDIA_TIMEOUT: Duration = Duration::from_secs(120);

/// Addresses a fetch may reach although private: `ALLOWED_PRIVATE_ADDRESSES`.
#[derive(Clone, Debug, Default)]
pub struct Allowed(Vec<(IpAddr, u8)>);

impl Allowed {
    pub fn parse(entries: &[String]) -> Result<Allowed> {
        let mut out = Vec::new();
        for e in entries {
            let (addr, bits) = match e.split_once('/') {
                Some((a, b)) => (a, b.parse::<u8>().ok()),
                None => (e.as_str(), None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| Error::validation(format!("ALLOWED_PRIVATE_ADDRESSES: {e:?} is not an address")))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            if bits > max {
                return Err(Error::validation(format!("ALLOWED_PRIVATE_ADDRESSES: bad prefix in {e:?}")));
            }
            out.push((ip, bits));
        }
        Ok(Allowed(out))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| in_prefix(ip, *net, *bits))
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_global(ip) || self.contains(ip)
    }
}

fn in_prefix(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a.to_ipv4_mapped().is_some_and(|v4| in_prefix(IpAddr::V4(v4), net, bits)),
        _ => false,
    }
}

/// Public unicast: not private, loopback, link-local, shared (CGNAT), unique-local,
/// multicast, documentation, benchmarking or unspecified.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
                || (o[0] == 198 && (o[1] & 0xFE) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_global(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xFE00) == 0xFC00
                || (s[0] & 0xFFC0) == 0xFE80
                || s[0] == 0x2001 && s[1] == 0x0DB8)
        }
    }
}

/// Resolves names and drops every address the policy forbids.
struct CheckedResolver {
    allowed: Arc<Allowed>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = found.into_iter().filter(|a| allowed.permits(a.ip())).collect();
            if ok.is_empty() {
                return Err(format!("{host} resolves to no address we may connect to").into());
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

/// The one HTTP client of federation.
pub fn client(allowed: Arc<Allowed>, user_agent: &str) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver { allowed }))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT * 2)
        .user_agent(user_agent)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(Error::internal)
}

/// Checks a URL before a request: http(s) only, an IP literal must be allowed (the resolver
/// never sees those), and plain http only to allowed private addresses.
pub async fn check_url(url: &str, allowed: &Allowed) -> Result<url::Url> {
    let bad = |why: &str| Error::validation(format!("refusing to fetch {url}: {why}"));
    let u = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
    let host = u.host_str().ok_or_else(|| bad("no host"))?.trim_matches(['[', ']']).to_string();
    match u.scheme() {
        "https" => {
            if let Ok(ip) = host.parse::<IpAddr>()
                && !allowed.permits(ip)
            {
                return Err(bad("private address"));
            }
        }
        "http" => {
            let port = u.port_or_known_default().unwrap_or(80);
            let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|_| bad("unknown host"))?
                    .map(|a| a.ip())
                    .collect(),
            };
            if ips.is_empty() || !ips.iter().all(|ip| allowed.contains(*ip)) {
                return Err(bad("plain http is only allowed to ALLOWED_PRIVATE_ADDRESSES"));
            }
        }
        _ => return Err(bad("not http(s)")),
    }
    Ok(u)
}

/// Reads a response body, refusing more than `limit` bytes.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|n| n as usize > limit) {
        return Err(Error::validation("the response is too large"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::unavailable(e.to_string()))? {
        if body.len() + chunk.len() > limit {
            return Err(Error::validation("the response is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads the first `limit` bytes of a response body (the head of a page), leaving the rest.
pub async fn read_head(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while body.len() < limit {
        let Some(chunk) = response.chunk().await.map_err(|e| Error::unavailable(e.to_string()))? else { break };
        let take = chunk.len().min(limit - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_listed() {
        let none = Allowed::default();
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "::1", "fd00::1", "fe80::1"]
        {
            assert!(!none.permits(ip.parse().unwrap()), "{ip}");
        }
        assert!(none.permits("93.184.216.34".parse().unwrap()));
        assert!(none.permits("2606:4700::1".parse().unwrap()));
        let some = Allowed::parse(&["127.0.0.0/8".into(), "::1".into()]).unwrap();
        assert!(some.permits("127.0.0.2".parse().unwrap()));
        assert!(some.permits("::1".parse().unwrap()));
        assert!(!some.permits("10.0.0.1".parse().unwrap()));
        assert!(Allowed::parse(&["nonsense".into()]).is_err());
    }

    #[tokio::test]
    async fn urls_are_checked_before_any_request() {
        let none = Allowed::default();
        assert!(check_url("http://127.0.0.1:3000/x", &none).await.is_err());
        assert!(check_url("https://127.0.0.1/x", &none).await.is_err());
        assert!(check_url("https://[::1]/x", &none).await.is_err());
        assert!(check_url("ftp://example.com/x", &none).await.is_err());
        let local = Allowed::parse(&["127.0.0.0/8".into()]).unwrap();
        assert!(check_url("http://127.0.0.2:8001/users/a", &local).await.is_ok());
        assert!(check_url("http://localhost:8001/users/a", &local).await.is_ok());
    }
}
