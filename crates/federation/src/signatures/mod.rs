//! HTTP signatures, both schemes the fediverse uses: draft-cavage-12 (`Signature:` with
//! `(request-target)`, what Mastodon sends) and RFC 9421 HTTP Message Signatures
//! (`Signature-Input` + `Signature`, what Fedify tries first). RSASSA-PKCS1-v1_5 with SHA-256 on
//! aws-lc-rs; bodies are bound by `Digest` (cavage) or `Content-Digest` (RFC 9421).
//!
//! [`sign`] signs an outgoing request; [`parse`] reads an incoming one and checks everything but
//! the cryptography (covered components, digest, clock window), leaving [`Signature::verify`]
//! for when the key is at hand.

mod keys;

use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue, Method};
use sfv::FieldType as _;

pub use keys::{PrivateKey, PublicKey};

/// How far in the future a signature's time may be (clock skew).
const MAX_FUTURE: Duration = Duration::from_secs(3600);
/// How old a signature may be (Mastodon's expiration window).
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Cavage,
    Rfc9421,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed(String),
    UnsupportedAlgorithm(String),
    MissingComponent(String),
    DigestMismatch,
    Expired,
    InvalidSignature,
    Key(String),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => write!(f, "the request is not signed"),
            Self::Malformed(why) => write!(f, "malformed signature: {why}"),
            Self::UnsupportedAlgorithm(a) => write!(f, "unsupported signature algorithm {a:?}"),
            Self::MissingComponent(c) => write!(f, "the signature does not cover {c}"),
            Self::DigestMismatch => write!(f, "the body does not match its digest"),
            Self::Expired => write!(f, "the signature is too old or from the future"),
            Self::InvalidSignature => write!(f, "the signature does not verify"),
            Self::Key(why) => write!(f, "unusable key: {why}"),
        }
    }
}

impl std::error::Error for SignatureError {}

fn header_value(s: &str) -> Result<HeaderValue, SignatureError> {
    HeaderValue::from_str(s).map_err(|_| SignatureError::Malformed(format!("bad header value {s:?}")))
}

fn sha256_b64(body: &[u8]) -> String {
    B64.encode(digest::digest(&digest::SHA256, body))
}

/// The Host header value of a URL: host, and the port unless it is the scheme's default.
fn authority(url: &url::Url) -> Result<String, SignatureError> {
    let host = url.host_str().ok_or_else(|| SignatureError::Malformed("the URL has no host".into()))?;
    Ok(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

fn request_target(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Signs a request in place (see the module doc for the headers each scheme adds).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    scheme: Scheme,
    key: &PrivateKey,
    key_id: &str,
    method: &Method,
    url: &url::Url,
    headers: &mut HeaderMap,
    body: Option<&[u8]>,
    now: SystemTime,
) -> Result<(), SignatureError> {
    let host = authority(url)?;
    let date = httpdate::fmt_http_date(now);
    headers.insert(http::header::HOST, header_value(&host)?);
    headers.insert(http::header::DATE, header_value(&date)?);
    match scheme {
        Scheme::Cavage => {
            let mut names = vec!["(request-target)", "host", "date"];
            let mut lines = vec![
                format!("(request-target): {} {}", method.as_str().to_lowercase(), request_target(url)),
                format!("host: {host}"),
                format!("date: {date}"),
            ];
            if let Some(b) = body {
                let digest = format!("SHA-256={}", sha256_b64(b));
                headers.insert("digest", header_value(&digest)?);
                names.push("digest");
                lines.push(format!("digest: {digest}"));
            }
            let signature = B64.encode(key.sign(lines.join("\n").as_bytes())?);
            let value = format!(
                "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{signature}\"",
                names.join(" ")
            );
            headers.insert("signature", header_value(&value)?);
        }
        Scheme::Rfc9421 => {
            let created = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let mut components = vec![
                ("\"@method\"", method.as_str().to_string()),
                ("\"@target-uri\"", url.as_str().to_string()),
                ("\"@authority\"", host.clone()),
                ("\"date\"", date.clone()),
            ];
            if let Some(b) = body {
                let digest = format!("sha-256=:{}:", sha256_b64(b));
                headers.insert("content-digest", header_value(&digest)?);
                components.push(("\"content-digest\"", digest));
            }
            let names: Vec<&str> = components.iter().map(|(n, _)| *n).collect();
            let params = format!(
                "({});created={created};keyid=\"{}\";alg=\"rsa-v1_5-sha256\"",
                names.join(" "),
                key_id.replace('\\', "\\\\").replace('"', "\\\"")
            );
            let mut base: Vec<String> = components.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            base.push(format!("\"@signature-params\": {params}"));
            let signature = B64.encode(key.sign(base.join("\n").as_bytes())?);
            headers.insert("signature-input", header_value(&format!("sig1={params}"))?);
            headers.insert("signature", header_value(&format!("sig1=:{signature}:"))?);
        }
    }
    Ok(())
}

/// An incoming request as the server saw it.
pub struct Incoming<'a> {
    pub method: &'a Method,
    /// The raw request target, e.g. `/users/alice/inbox?x=1`.
    pub path_and_query: &'a str,
    /// The full URI, for RFC 9421's `@target-uri`.
    pub target_uri: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Option<&'a [u8]>,
}

/// A parsed signature whose covered parts were checked; [`Signature::verify`] does the rest.
#[derive(Debug, Clone)]
pub struct Signature {
    pub scheme: Scheme,
    pub key_id: String,
    base: String,
    signature: Vec<u8>,
}

impl Signature {
    /// RSASSA-PKCS1-v1_5 SHA-256 over the signing base.
    pub fn verify(&self, key: &PublicKey) -> Result<(), SignatureError> {
        key.verify(self.base.as_bytes(), &self.signature)
    }
}

/// A header's values joined with ", " (as a proxy may have split them).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn check_window(sent: SystemTime, now: SystemTime) -> Result<(), SignatureError> {
    match now.duration_since(sent) {
        Ok(age) if age > MAX_AGE => Err(SignatureError::Expired),
        Ok(_) => Ok(()),
        Err(e) if e.duration() > MAX_FUTURE => Err(SignatureError::Expired),
        Err(_) => Ok(()),
    }
}

fn unix(secs: i64) -> SystemTime {
    if secs >= 0 { SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64) } else { SystemTime::UNIX_EPOCH }
}

/// Checks `Digest` (cavage): one of its SHA-256 values must match the body.
fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let value = joined(headers, "digest").ok_or(SignatureError::MissingComponent("digest".into()))?;
    let want = sha256_b64(body);
    let mut checkable = false;
    for part in value.split(',') {
        let Some((alg, v)) = part.trim().split_once('=') else { continue };
        if alg.eq_ignore_ascii_case("sha-256") {
            checkable = true;
            if v.trim() == want {
                return Ok(());
            }
        }
    }
    Err(if checkable { SignatureError::DigestMismatch } else { SignatureError::UnsupportedAlgorithm(value) })
}

/// Checks `Content-Digest` (RFC 9530): a sha-256 or sha-512 member must match the body.
fn check_content_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let value = joined(headers, "content-digest").ok_or(SignatureError::MissingComponent("content-digest".into()))?;
    let dict: sfv::Dictionary =
        sfv::Parser::new(&value).parse().map_err(|_| SignatureError::Malformed("bad Content-Digest".into()))?;
    let mut checkable = false;
    for (alg, algorithm) in [("sha-256", &digest::SHA256), ("sha-512", &digest::SHA512)] {
        if let Some(sfv::ListEntry::Item(item)) = dict.get(alg)
            && let Some(bytes) = item.bare_item.as_byte_sequence()
        {
            checkable = true;
            if bytes == digest::digest(algorithm, body).as_ref() {
                return Ok(());
            }
        }
    }
    Err(if checkable { SignatureError::DigestMismatch } else { SignatureError::UnsupportedAlgorithm(value) })
}

/// Reads and checks the request's signature (RFC 9421 when `Signature-Input` is present, else
/// draft-cavage from `Signature` or `Authorization: Signature …`).
pub fn parse(req: &Incoming<'_>, now: SystemTime) -> Result<Signature, SignatureError> {
    if req.headers.contains_key("signature-input") { parse_rfc9421(req, now) } else { parse_cavage(req, now) }
}

/// `k="v",k2=v2` parameters of a cavage signature.
fn cavage_params(value: &str) -> Result<Vec<(String, String)>, SignatureError> {
    let mut out = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| SignatureError::Malformed(value.into()))?;
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| SignatureError::Malformed(value.into()))?;
            (quoted[..end].to_string(), &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, val));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

fn parse_cavage(req: &Incoming<'_>, now: SystemTime) -> Result<Signature, SignatureError> {
    let raw = match joined(req.headers, "signature") {
        Some(v) => v,
        None => joined(req.headers, "authorization")
            .and_then(|a| a.strip_prefix("Signature ").map(str::to_string))
            .ok_or(SignatureError::Missing)?,
    };
    let params = cavage_params(&raw)?;
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let key_id = get("keyid").ok_or_else(|| SignatureError::Malformed("no keyId".into()))?.to_string();
    let signature = B64
        .decode(get("signature").ok_or_else(|| SignatureError::Malformed("no signature".into()))?)
        .map_err(|_| SignatureError::Malformed("the signature is not base64".into()))?;
    if let Some(alg) = get("algorithm")
        && !matches!(alg.to_ascii_lowercase().as_str(), "rsa-sha256" | "hs2019")
    {
        return Err(SignatureError::UnsupportedAlgorithm(alg.into()));
    }
    let names: Vec<String> = get("headers").unwrap_or("date").split_whitespace().map(str::to_ascii_lowercase).collect();
    let covers = |n: &str| names.iter().any(|x| x == n);
    if !covers("(request-target)") {
        return Err(SignatureError::MissingComponent("(request-target)".into()));
    }
    if !covers("host") {
        return Err(SignatureError::MissingComponent("host".into()));
    }
    if !covers("date") && !covers("(created)") {
        return Err(SignatureError::MissingComponent("date".into()));
    }
    if let Some(body) = req.body {
        if !covers("digest") {
            return Err(SignatureError::MissingComponent("digest".into()));
        }
        check_digest(req.headers, body)?;
    }
    let mut lines = Vec::with_capacity(names.len());
    for name in &names {
        let value = match name.as_str() {
            "(request-target)" => format!("{} {}", req.method.as_str().to_lowercase(), req.path_and_query),
            "(created)" => {
                let c = get("created").ok_or_else(|| SignatureError::Malformed("(created) without created".into()))?;
                let secs: i64 = c.parse().map_err(|_| SignatureError::Malformed("bad created".into()))?;
                check_window(unix(secs), now)?;
                c.to_string()
            }
            "(expires)" => {
                let e = get("expires").ok_or_else(|| SignatureError::Malformed("(expires) without expires".into()))?;
                let secs: i64 = e.parse().map_err(|_| SignatureError::Malformed("bad expires".into()))?;
                if unix(secs) < now {
                    return Err(SignatureError::Expired);
                }
                e.to_string()
            }
            other => joined(req.headers, other).ok_or_else(|| SignatureError::MissingComponent(other.into()))?,
        };
        lines.push(format!("{name}: {value}"));
    }
    if covers("date") {
        let date = joined(req.headers, "date").ok_or_else(|| SignatureError::MissingComponent("date".into()))?;
        let sent = httpdate::parse_http_date(&date).map_err(|_| SignatureError::Malformed("bad Date".into()))?;
        check_window(sent, now)?;
    }
    Ok(Signature { scheme: Scheme::Cavage, key_id, base: lines.join("\n"), signature })
}

fn parse_rfc9421(req: &Incoming<'_>, now: SystemTime) -> Result<Signature, SignatureError> {
    let inputs_raw = joined(req.headers, "signature-input").ok_or(SignatureError::Missing)?;
    let sigs_raw = joined(req.headers, "signature").ok_or(SignatureError::Missing)?;
    let bad = |why: &str| SignatureError::Malformed(why.to_string());
    let inputs: sfv::Dictionary = sfv::Parser::new(&inputs_raw).parse().map_err(|_| bad("bad Signature-Input"))?;
    let sigs: sfv::Dictionary = sfv::Parser::new(&sigs_raw).parse().map_err(|_| bad("bad Signature"))?;
    let mut last_error = SignatureError::Missing;
    for (label, entry) in &inputs {
        let sfv::ListEntry::InnerList(list) = entry else { continue };
        let Some(sfv::ListEntry::Item(sig_item)) = sigs.get(label.as_str()) else { continue };
        let Some(signature) = sig_item.bare_item.as_byte_sequence() else { continue };
        match rfc9421_member(req, now, list) {
            Ok((key_id, base)) => {
                return Ok(Signature { scheme: Scheme::Rfc9421, key_id, base, signature: signature.to_vec() });
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// The key id and signing base of one `Signature-Input` member.
fn rfc9421_member(
    req: &Incoming<'_>,
    now: SystemTime,
    list: &sfv::InnerList,
) -> Result<(String, String), SignatureError> {
    let param_str = |k: &str| list.params.get(k).and_then(|v| v.as_string()).map(|s| s.as_str().to_string());
    let param_int = |k: &str| list.params.get(k).and_then(|v| v.as_integer()).map(i64::from);
    if let Some(alg) = param_str("alg")
        && alg != "rsa-v1_5-sha256"
    {
        return Err(SignatureError::UnsupportedAlgorithm(alg));
    }
    let key_id = param_str("keyid").ok_or_else(|| SignatureError::Malformed("no keyid".into()))?;
    let created = param_int("created").ok_or_else(|| SignatureError::MissingComponent("created".into()))?;
    check_window(unix(created), now)?;
    if let Some(expires) = param_int("expires")
        && unix(expires) < now
    {
        return Err(SignatureError::Expired);
    }
    let mut names = Vec::new();
    let mut lines = Vec::new();
    for item in &list.items {
        let name = item
            .bare_item
            .as_string()
            .ok_or_else(|| SignatureError::Malformed("a component is not a string".into()))?;
        let name = name.as_str().to_ascii_lowercase();
        if !item.params.is_empty() {
            return Err(SignatureError::Malformed(format!("component parameters on {name} are not supported")));
        }
        let url = || url::Url::parse(req.target_uri).map_err(|_| SignatureError::Malformed("bad target URI".into()));
        let value = match name.as_str() {
            "@method" => req.method.as_str().to_string(),
            "@target-uri" => req.target_uri.to_string(),
            "@authority" => url()?
                .host_str()
                .map(|h| match url().ok().and_then(|u| u.port()) {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
                .ok_or_else(|| SignatureError::Malformed("no authority".into()))?,
            "@scheme" => url()?.scheme().to_string(),
            "@request-target" => req.path_and_query.to_string(),
            "@path" => req.path_and_query.split('?').next().unwrap_or("/").to_string(),
            "@query" => format!("?{}", req.path_and_query.split_once('?').map(|(_, q)| q).unwrap_or("")),
            other if other.starts_with('@') => return Err(SignatureError::MissingComponent(other.into())),
            other => joined(req.headers, other)
                .ok_or_else(|| SignatureError::MissingComponent(other.into()))?
                .trim()
                .to_string(),
        };
        lines.push(format!("\"{name}\": {value}"));
        names.push(name);
    }
    let covers = |n: &str| names.iter().any(|x| x == n);
    if !covers("@method") {
        return Err(SignatureError::MissingComponent("@method".into()));
    }
    if !covers("@target-uri") && !(covers("@authority") && (covers("@path") || covers("@request-target"))) {
        return Err(SignatureError::MissingComponent("@target-uri".into()));
    }
    if let Some(body) = req.body {
        if !covers("content-digest") {
            return Err(SignatureError::MissingComponent("content-digest".into()));
        }
        check_content_digest(req.headers, body)?;
    }
    let params: sfv::List = vec![sfv::ListEntry::InnerList(list.clone())];
    let params = params.serialize().ok_or_else(|| SignatureError::Malformed("signature parameters".into()))?;
    lines.push(format!("\"@signature-params\": {params}"));
    Ok((key_id, lines.join("\n")))
}

#[cfg(test)]
mod tests;
