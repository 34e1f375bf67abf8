//! Typed configuration, read from the environment and from `.env.production` / `.env` files with
//! Mastodon's variable names. The environment wins over the files; `.env.production` wins over
//! `.env`. With nothing set, ferrodon runs on SQLite in `./data` as `localhost:3000`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ferrodon_kernel::{Error, Result};

/// Where the SQL database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// The embedded default: a SQLite file.
    Sqlite { path: PathBuf },
    /// Scale-out: PostgreSQL, possibly through pgBouncer.
    Postgres {
        url: String,
        pool: u32,
        /// Mastodon's `PREPARED_STATEMENTS`; `false` is required behind pgBouncer in transaction mode.
        prepared_statements: bool,
    },
}

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `LOCAL_DOMAIN`: the domain in every account handle (`user@LOCAL_DOMAIN`).
    pub local_domain: String,
    /// `WEB_DOMAIN`: where the server is reached, when it differs from LOCAL_DOMAIN.
    pub web_domain: String,
    /// `http` for localhost and loopback (or `LOCAL_HTTPS=false`), `https` otherwise.
    pub scheme: &'static str,
    pub bind: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub secret_key_base: String,
    pub single_user_mode: bool,
    /// The registrations mode until an admin sets one (`ferrodon settings registrations …`).
    pub registrations_mode: RegistrationsMode,
    /// `STREAMING_API_BASE_URL`, shown in the instance document.
    pub streaming_api_base_url: Option<String>,
    /// Instance contact address (`SMTP_FROM_ADDRESS` or `notifications@LOCAL_DOMAIN`).
    pub contact_email: String,
    /// `AUTHORIZED_FETCH`: ActivityPub GETs must be signed, and blocked domains get nothing.
    pub authorized_fetch: bool,
    /// `LIMITED_FEDERATION_MODE`: federate only with domains an admin allowed.
    pub limited_federation_mode: bool,
    /// `ALLOWED_PRIVATE_ADDRESSES`: addresses or CIDR ranges (comma-separated) that remote
    /// fetches may reach although private or loopback; plain http is allowed only to them.
    pub allowed_private_addresses: Vec<String>,
    /// Redis, when set: the event bus between processes (roles run apart). `None`: events stay
    /// in the process (the embedded default).
    pub redis: Option<RedisConfig>,
    /// `S3_ENABLED=true`: media files in a bucket. `None`: in the data directory's `system/`.
    pub s3: Option<S3Config>,
    /// `MEDIA_CACHE_RETENTION_PERIOD`: days the copies of remote media are kept (removed daily
    /// past it); `None` keeps them, as Mastodon does when unset.
    pub media_cache_retention_days: Option<u64>,
    /// `SMTP_SERVER` set: mail goes out through that relay. `None`: each mail is written to the
    /// log with its links (the embedded default).
    pub smtp: Option<SmtpConfig>,
    /// `EMAIL_DOMAIN_DENYLIST`: domains (and their subdomains) whose addresses may not sign up.
    pub email_domain_denylist: Vec<String>,
    /// `EMAIL_DOMAIN_ALLOWLIST`: when set, the only domains whose addresses may sign up.
    pub email_domain_allowlist: Vec<String>,
}

/// How mail reaches the relay (Mastodon's `SMTP_*` variables).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub server: String,
    /// `SMTP_PORT` (25, as Mastodon leaves it to its mail library).
    pub port: u16,
    /// `SMTP_LOGIN` and `SMTP_PASSWORD`, unless `SMTP_AUTH_METHOD=none`.
    pub credentials: Option<(String, String)>,
    /// `SMTP_AUTH_METHOD`: `plain` (the default) or `login`.
    pub auth_method: SmtpAuth,
    /// `SMTP_FROM_ADDRESS` (`notifications@LOCAL_DOMAIN`).
    pub from: String,
    /// `SMTP_REPLY_TO`.
    pub reply_to: Option<String>,
    /// `SMTP_DOMAIN`: the name we greet the relay with (`LOCAL_DOMAIN`).
    pub helo_domain: String,
    pub tls: SmtpTls,
    /// `SMTP_OPENSSL_VERIFY_MODE=none` turns certificate checks off (`peer`, the default, keeps them).
    pub verify_certificates: bool,
    /// `SMTP_CA_FILE`: a PEM file of authorities trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// How the connection to the relay is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// `SMTP_TLS` or `SMTP_SSL`: TLS from the first byte (port 465).
    Implicit,
    /// `SMTP_ENABLE_STARTTLS=always`: STARTTLS, or no mail.
    StartTls,
    /// `SMTP_ENABLE_STARTTLS=auto` (the default): STARTTLS when the relay offers it.
    StartTlsWhenOffered,
    /// `SMTP_ENABLE_STARTTLS=never`: plain text.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpAuth {
    Plain,
    Login,
}

/// Mastodon's `S3_*` variables: media files in an S3-compatible bucket instead of the data
/// directory.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// `S3_REGION` (`us-east-1`).
    pub region: String,
    /// `S3_ENDPOINT`: the API's base URL (AWS's regional endpoint when unset).
    pub endpoint: String,
    /// Requests name the bucket in the path (`S3_ENDPOINT` set and `S3_OVERRIDE_PATH_STYLE`
    /// not `true`, as Mastodon decides), rather than in the host.
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `S3_PERMISSION` (`public-read`): the canned ACL of stored files; empty sends none.
    pub permission: String,
    /// `S3_STORAGE_CLASS`, sent with every stored file when set.
    pub storage_class: Option<String>,
    /// `S3_MULTIPART_THRESHOLD` (15 MB): larger files are uploaded in parts.
    pub multipart_threshold: u64,
    /// `S3_KEY_PREFIX`: a folder of the bucket that every key is under (in URLs too).
    pub key_prefix: Option<String>,
    /// Where clients load files from: `S3_PROTOCOL://S3_ALIAS_HOST/` (a CDN or the bucket's
    /// own web host), or `S3_PROTOCOL://S3_HOSTNAME/BUCKET/`.
    pub public_base_url: String,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &mask(&self.secret_access_key))
            .field("public_base_url", &self.public_base_url)
            .finish()
    }
}

/// `REDIS_URL` (or `REDIS_HOST`, `REDIS_PORT`, `REDIS_DB`, `REDIS_USER`, `REDIS_PASSWORD`), and
/// `REDIS_NAMESPACE`, as Mastodon reads them. `rediss://` connects over TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    pub url: String,
    pub namespace: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationsMode {
    Open,
    Approved,
    None,
}

impl RegistrationsMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "approved" => Some(Self::Approved),
            // `close` is tootctl's spelling (`tootctl settings registrations close`).
            "none" | "close" | "closed" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::None => "none",
        }
    }
}

/// The raw variables: environment over files.
#[derive(Clone, Debug, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// Reads `.env` then `.env.production` from `dir`, then the process environment on top.
    pub fn load(dir: &Path) -> Result<Vars> {
        let mut map = BTreeMap::new();
        for file in [".env", ".env.production"] {
            let path = dir.join(file);
            if path.exists() {
                let iter = dotenvy::from_path_iter(&path)
                    .map_err(|e| Error::validation(format!("cannot read {}: {e}", path.display())))?;
                for item in iter {
                    let (k, v) = item.map_err(|e| Error::validation(format!("{}: {e}", path.display())))?;
                    map.insert(k, v);
                }
            }
        }
        map.extend(std::env::vars());
        Ok(Vars(map))
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vars {
        Vars(pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(Error::validation(format!("{key} must be true or false, got {v:?}"))),
            },
        }
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| Error::validation(format!("{key} must be a number, got {v:?}"))),
        }
    }
}

impl Config {
    /// Loads from the working directory's files and the environment, creating generated secrets
    /// in the data directory on first use.
    pub fn load() -> Result<Config> {
        let vars = Vars::load(Path::new("."))?;
        Config::from_vars(&vars)
    }

    pub fn from_vars(v: &Vars) -> Result<Config> {
        let local_domain = v.get("LOCAL_DOMAIN").unwrap_or("localhost:3000").to_ascii_lowercase();
        validate_domain("LOCAL_DOMAIN", &local_domain)?;
        let web_domain = v.get("WEB_DOMAIN").map(str::to_ascii_lowercase).unwrap_or_else(|| local_domain.clone());
        validate_domain("WEB_DOMAIN", &web_domain)?;
        let host = web_domain.rsplit_once(':').map_or(web_domain.as_str(), |(h, _)| h);
        let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
        let https = v.bool("LOCAL_HTTPS", !loopback)?;
        let port: u16 = v.number("PORT", 3000)?;
        let bind = v.get("BIND").unwrap_or("127.0.0.1").to_string();
        bind.parse::<std::net::IpAddr>()
            .map_err(|_| Error::validation(format!("BIND must be an IP address, got {bind:?}")))?;
        let data_dir = PathBuf::from(v.get("FERRODON_DATA_DIR").unwrap_or("./data"));
        let database = database_config(v, &data_dir)?;
        let secret_key_base = match v.get("SECRET_KEY_BASE") {
            Some(s) if s.len() < 32 => {
                return Err(Error::validation(
                    "SECRET_KEY_BASE must be at least 32 characters (use `openssl rand -hex 64`)",
                ));
            }
            Some(s) => s.to_string(),
            None => generated_secret(&data_dir, "secret_key_base")?,
        };
        let raw_mode = v.get("FERRODON_REGISTRATIONS").unwrap_or("open");
        let registrations_mode = RegistrationsMode::parse(raw_mode).ok_or_else(|| {
            Error::validation(format!("FERRODON_REGISTRATIONS must be open, approved or none, got {raw_mode:?}"))
        })?;
        let local_domain_for_mail = local_domain.clone();
        Ok(Config {
            contact_email: v
                .get("SMTP_FROM_ADDRESS")
                .map(str::to_string)
                .unwrap_or_else(|| format!("notifications@{}", local_domain.split(':').next().unwrap_or(""))),
            local_domain,
            web_domain,
            scheme: if https { "https" } else { "http" },
            bind,
            port,
            data_dir,
            database,
            secret_key_base,
            single_user_mode: v.bool("SINGLE_USER_MODE", false)?,
            registrations_mode,
            streaming_api_base_url: v.get("STREAMING_API_BASE_URL").map(str::to_string),
            authorized_fetch: v.bool("AUTHORIZED_FETCH", false)?,
            limited_federation_mode: v.bool("LIMITED_FEDERATION_MODE", false)?,
            allowed_private_addresses: v
                .get("ALLOWED_PRIVATE_ADDRESSES")
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            redis: redis_config(v)?,
            s3: s3_config(v)?,
            media_cache_retention_days: match v.get("MEDIA_CACHE_RETENTION_PERIOD") {
                None => None,
                Some(_) => Some(v.number("MEDIA_CACHE_RETENTION_PERIOD", 0u64)?).filter(|d| *d > 0),
            },
            smtp: smtp_config(v, &local_domain_for_mail)?,
            email_domain_denylist: domain_list(v.get("EMAIL_DOMAIN_DENYLIST")),
            email_domain_allowlist: domain_list(v.get("EMAIL_DOMAIN_ALLOWLIST")),
        })
    }

    /// `https://WEB_DOMAIN`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.web_domain)
    }

    /// Whether `domain` (of a handle) names this server: `LOCAL_DOMAIN` or `WEB_DOMAIN`.
    pub fn is_local_domain(&self, domain: &str) -> bool {
        domain.eq_ignore_ascii_case(&self.local_domain) || domain.eq_ignore_ascii_case(&self.web_domain)
    }

    /// The effective configuration as `KEY=value` lines, secrets masked.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("LOCAL_DOMAIN".into(), self.local_domain.clone()),
            ("WEB_DOMAIN".into(), self.web_domain.clone()),
            ("LOCAL_HTTPS".into(), (self.scheme == "https").to_string()),
            ("AUTHORIZED_FETCH".into(), self.authorized_fetch.to_string()),
            ("LIMITED_FEDERATION_MODE".into(), self.limited_federation_mode.to_string()),
            ("ALLOWED_PRIVATE_ADDRESSES".into(), self.allowed_private_addresses.join(",")),
            ("BIND".into(), self.bind.clone()),
            ("PORT".into(), self.port.to_string()),
            ("FERRODON_DATA_DIR".into(), self.data_dir.display().to_string()),
        ];
        match &self.database {
            DatabaseConfig::Sqlite { path } => {
                out.push(("DATABASE".into(), format!("sqlite:{}", path.display())));
            }
            DatabaseConfig::Postgres { url, pool, prepared_statements } => {
                out.push(("DATABASE_URL".into(), mask_url(url)));
                out.push(("DB_POOL".into(), pool.to_string()));
                out.push(("PREPARED_STATEMENTS".into(), prepared_statements.to_string()));
            }
        }
        out.push(("SECRET_KEY_BASE".into(), mask(&self.secret_key_base)));
        out.push(("SINGLE_USER_MODE".into(), self.single_user_mode.to_string()));
        out.push(("FERRODON_REGISTRATIONS".into(), self.registrations_mode.as_str().into()));
        if let Some(s) = &self.streaming_api_base_url {
            out.push(("STREAMING_API_BASE_URL".into(), s.clone()));
        }
        if let Some(r) = &self.redis {
            out.push(("REDIS_URL".into(), mask_url(&r.url)));
            if let Some(n) = &r.namespace {
                out.push(("REDIS_NAMESPACE".into(), n.clone()));
            }
        }
        if let Some(days) = self.media_cache_retention_days {
            out.push(("MEDIA_CACHE_RETENTION_PERIOD".into(), format!("{days} days")));
        }
        match &self.smtp {
            None => out.push(("MAIL".into(), "off: SMTP_SERVER is not set, mails are written to the log".into())),
            Some(m) => {
                let tls = match m.tls {
                    SmtpTls::Implicit => "TLS",
                    SmtpTls::StartTls => "STARTTLS",
                    SmtpTls::StartTlsWhenOffered => "STARTTLS when offered",
                    SmtpTls::None => "no TLS",
                };
                out.push(("MAIL".into(), format!("smtp://{}:{} ({tls}) from {}", m.server, m.port, m.from)));
                if let Some((login, password)) = &m.credentials {
                    out.push(("SMTP_LOGIN".into(), login.clone()));
                    out.push(("SMTP_PASSWORD".into(), mask(password)));
                }
                if !m.verify_certificates {
                    out.push(("SMTP_OPENSSL_VERIFY_MODE".into(), "none".into()));
                }
            }
        }
        if !self.email_domain_denylist.is_empty() {
            out.push(("EMAIL_DOMAIN_DENYLIST".into(), self.email_domain_denylist.join("|")));
        }
        if !self.email_domain_allowlist.is_empty() {
            out.push(("EMAIL_DOMAIN_ALLOWLIST".into(), self.email_domain_allowlist.join("|")));
        }
        match &self.s3 {
            None => out.push(("MEDIA".into(), format!("local: {}", self.data_dir.join("system").display()))),
            Some(s3) => {
                out.push(("S3_BUCKET".into(), s3.bucket.clone()));
                out.push(("S3_REGION".into(), s3.region.clone()));
                out.push(("S3_ENDPOINT".into(), s3.endpoint.clone()));
                out.push(("AWS_ACCESS_KEY_ID".into(), s3.access_key_id.clone()));
                out.push(("AWS_SECRET_ACCESS_KEY".into(), mask(&s3.secret_access_key)));
                out.push(("S3_PERMISSION".into(), s3.permission.clone()));
                out.push(("MEDIA".into(), format!("S3, served from {}", s3.public_base_url)));
            }
        }
        out
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.describe() {
            m.entry(&k, &v);
        }
        m.finish()
    }
}

fn validate_domain(key: &str, d: &str) -> Result<()> {
    let ok = !d.is_empty()
        && !d.contains('/')
        && !d.contains("://")
        && d.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok { Ok(()) } else { Err(Error::validation(format!("{key} must be a bare domain like example.com, got {d:?}"))) }
}

fn database_config(v: &Vars, data_dir: &Path) -> Result<DatabaseConfig> {
    let prepared_statements = v.bool("PREPARED_STATEMENTS", true)?;
    let pool: u32 = v.number("DB_POOL", 10)?;
    if pool == 0 {
        return Err(Error::validation("DB_POOL must be at least 1"));
    }
    if let Some(url) = v.get("DATABASE_URL") {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseConfig::Postgres { url: url.to_string(), pool, prepared_statements });
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            return Ok(DatabaseConfig::Sqlite { path: PathBuf::from(path) });
        }
        return Err(Error::validation(format!(
            "DATABASE_URL must start with postgres:// or sqlite:, got {:?}",
            mask_url(url)
        )));
    }
    if v.get("DB_HOST").is_some() || v.get("DB_NAME").is_some() || v.get("DB_USER").is_some() {
        let host = v.get("DB_HOST").unwrap_or("localhost");
        let port: u16 = v.number("DB_PORT", 5432)?;
        let name = v.get("DB_NAME").unwrap_or("mastodon_production");
        let user = v.get("DB_USER").unwrap_or("mastodon");
        let mut url = format!("postgres://{}", enc(user));
        if let Some(pass) = v.get("DB_PASS") {
            url.push(':');
            url.push_str(&enc(pass));
        }
        url.push_str(&format!("@{host}:{port}/{}", enc(name)));
        if let Some(mode) = v.get("DB_SSLMODE") {
            const MODES: [&str; 6] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
            if !MODES.contains(&mode) {
                return Err(Error::validation(format!("DB_SSLMODE must be one of {}, got {mode:?}", MODES.join(", "))));
            }
            url.push_str(&format!("?sslmode={mode}"));
        }
        return Ok(DatabaseConfig::Postgres { url, pool, prepared_statements });
    }
    Ok(DatabaseConfig::Sqlite { path: data_dir.join("ferrodon.db") })
}

/// Mastodon's domain lists: separated by `|` (or commas), lower case.
fn domain_list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or("")
        .split(['|', ','])
        .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

fn smtp_config(v: &Vars, local_domain: &str) -> Result<Option<SmtpConfig>> {
    let Some(server) = v.get("SMTP_SERVER").map(str::to_string) else { return Ok(None) };
    let implicit = v.bool("SMTP_TLS", false)? || v.bool("SMTP_SSL", false)?;
    let tls = if implicit {
        SmtpTls::Implicit
    } else {
        match v.get("SMTP_ENABLE_STARTTLS") {
            Some("always") => SmtpTls::StartTls,
            Some("never") => SmtpTls::None,
            Some("auto") => SmtpTls::StartTlsWhenOffered,
            Some(other) => {
                return Err(Error::validation(format!(
                    "SMTP_ENABLE_STARTTLS must be always, never or auto, got {other:?}"
                )));
            }
            None if v.bool("SMTP_ENABLE_STARTTLS_AUTO", true)? => SmtpTls::StartTlsWhenOffered,
            None => SmtpTls::None,
        }
    };
    // Mastodon leaves the port to the mail library when unset: SMTP's 25.
    let port = v.number("SMTP_PORT", 25u16)?;
    let auth_method = match v.get("SMTP_AUTH_METHOD").unwrap_or("plain") {
        "plain" | "none" => SmtpAuth::Plain,
        "login" => SmtpAuth::Login,
        other => {
            return Err(Error::validation(format!("SMTP_AUTH_METHOD must be plain, login or none, got {other:?}")));
        }
    };
    let credentials = match (v.get("SMTP_AUTH_METHOD"), v.get("SMTP_LOGIN")) {
        (Some("none"), _) | (_, None) => None,
        (_, Some(login)) => Some((login.to_string(), v.get("SMTP_PASSWORD").unwrap_or("").to_string())),
    };
    let verify_certificates = match v.get("SMTP_OPENSSL_VERIFY_MODE").unwrap_or("peer") {
        "none" => false,
        // OpenSSL's other modes all check the relay's certificate, as a client does.
        "peer" | "client_once" | "fail_if_no_peer_cert" => true,
        other => {
            return Err(Error::validation(format!("SMTP_OPENSSL_VERIFY_MODE must be none or peer, got {other:?}")));
        }
    };
    let host = local_domain.split(':').next().unwrap_or(local_domain);
    Ok(Some(SmtpConfig {
        server,
        port,
        credentials,
        auth_method,
        from: v.get("SMTP_FROM_ADDRESS").map_or_else(|| format!("notifications@{host}"), str::to_string),
        reply_to: v.get("SMTP_REPLY_TO").map(str::to_string),
        helo_domain: v.get("SMTP_DOMAIN").unwrap_or(host).to_string(),
        tls,
        verify_certificates,
        ca_file: v.get("SMTP_CA_FILE").map(PathBuf::from),
    }))
}

fn s3_config(v: &Vars) -> Result<Option<S3Config>> {
    if !v.bool("S3_ENABLED", false)? {
        return Ok(None);
    }
    let required = |key: &str| {
        v.get(key)
            .map(str::to_string)
            .ok_or_else(|| Error::validation(format!("{key} must be set when S3_ENABLED=true")))
    };
    let bucket = required("S3_BUCKET")?;
    let region = v.get("S3_REGION").unwrap_or("us-east-1").to_string();
    let protocol = v.get("S3_PROTOCOL").unwrap_or("https");
    if protocol != "https" && protocol != "http" {
        return Err(Error::validation(format!("S3_PROTOCOL must be https or http, got {protocol:?}")));
    }
    let endpoint = v.get("S3_ENDPOINT").map(|e| e.trim_end_matches('/').to_string());
    if let Some(e) = &endpoint
        && !(e.starts_with("https://") || e.starts_with("http://"))
    {
        return Err(Error::validation(format!("S3_ENDPOINT must be an http(s) URL, got {e:?}")));
    }
    let path_style = endpoint.is_some() && !v.bool("S3_OVERRIDE_PATH_STYLE", false)?;
    let endpoint_host = endpoint.as_deref().and_then(|e| e.split_once("://")).map(|(_, h)| h.to_string());
    let hostname = v
        .get("S3_HOSTNAME")
        .map(str::to_string)
        .or(endpoint_host)
        .unwrap_or_else(|| format!("s3-{region}.amazonaws.com"));
    let public_base_url = match v.get("S3_ALIAS_HOST").or_else(|| v.get("S3_CLOUDFRONT_HOST")) {
        Some(alias) => format!("{protocol}://{}", alias.trim_end_matches('/')),
        None => format!("{protocol}://{hostname}/{bucket}"),
    };
    Ok(Some(S3Config {
        endpoint: endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com")),
        bucket,
        region,
        path_style,
        access_key_id: required("AWS_ACCESS_KEY_ID")?,
        secret_access_key: required("AWS_SECRET_ACCESS_KEY")?,
        permission: v.0.get("S3_PERMISSION").map(|p| p.trim().to_string()).unwrap_or_else(|| "public-read".into()),
        storage_class: v.get("S3_STORAGE_CLASS").map(str::to_string),
        multipart_threshold: v.number("S3_MULTIPART_THRESHOLD", 15 * 1024 * 1024)?,
        key_prefix: v.get("S3_KEY_PREFIX").map(|p| p.trim_matches('/').to_string()).filter(|p| !p.is_empty()),
        public_base_url,
    }))
}

fn redis_config(v: &Vars) -> Result<Option<RedisConfig>> {
    let namespace = v.get("REDIS_NAMESPACE").map(str::to_string);
    if let Some(url) = v.get("REDIS_URL") {
        if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://")) {
            return Err(Error::validation(format!(
                "REDIS_URL must start with redis://, rediss:// or unix://, got {:?}",
                mask_url(url)
            )));
        }
        return Ok(Some(RedisConfig { url: url.to_string(), namespace }));
    }
    if v.get("REDIS_HOST").is_none() && v.get("REDIS_PORT").is_none() {
        return Ok(None);
    }
    let host = v.get("REDIS_HOST").unwrap_or("localhost");
    let port: u16 = v.number("REDIS_PORT", 6379)?;
    let db: u32 = v.number("REDIS_DB", 0)?;
    let credentials = match (v.get("REDIS_USER"), v.get("REDIS_PASSWORD")) {
        (user, Some(pass)) => format!("{}:{}@", enc(user.unwrap_or("")), enc(pass)),
        (Some(user), None) => format!("{}@", enc(user)),
        (None, None) => String::new(),
    };
    Ok(Some(RedisConfig { url: format!("redis://{credentials}{host}:{port}/{db}"), namespace }))
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Hides the password in a database URL.
pub fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn mask(secret: &str) -> String {
    format!("****{} ({} characters)", &secret[secret.len().saturating_sub(4)..], secret.len())
}

/// Reads a secret kept in the data directory, generating it on first start.
fn generated_secret(data_dir: &Path, name: &str) -> Result<String> {
    use base64::Engine;
    use rand::RngCore;
    let path = data_dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| Error::validation(format!("cannot create data directory {}: {e}", data_dir.display())))?;
    let mut bytes = [0u8; 64];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &secret)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::validation(format!("cannot write {}: {e}", path.display())))?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_modes_with_tootctls_close() {
        assert_eq!(RegistrationsMode::parse("open"), Some(RegistrationsMode::Open));
        assert_eq!(RegistrationsMode::parse("approved"), Some(RegistrationsMode::Approved));
        for none in ["none", "close", "closed"] {
            assert_eq!(RegistrationsMode::parse(none), Some(RegistrationsMode::None), "{none}");
        }
        assert_eq!(RegistrationsMode::parse("shut"), None);
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("ferrodon-config-{}", ferrodon_kernel::Id::generate()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn defaults_are_the_embedded_server() {
        let dir = tmp();
        let c = Config::from_vars(&Vars::from_pairs([("FERRODON_DATA_DIR", dir.to_str().unwrap())])).unwrap();
        assert_eq!(c.local_domain, "localhost:3000");
        assert_eq!(c.base_url(), "http://localhost:3000");
        assert_eq!(c.port, 3000);
        assert_eq!(c.bind, "127.0.0.1");
        assert_eq!(c.database, DatabaseConfig::Sqlite { path: dir.join("ferrodon.db") });
        // The generated secret is kept.
        let again = Config::from_vars(&Vars::from_pairs([("FERRODON_DATA_DIR", dir.to_str().unwrap())])).unwrap();
        assert_eq!(c.secret_key_base, again.secret_key_base);
    }

    #[test]
    fn mastodons_smtp_variables() {
        let secret = ("SECRET_KEY_BASE", "0123456789abcdef0123456789abcdef0123");
        let base = [secret, ("LOCAL_DOMAIN", "example.com")];
        assert!(Config::from_vars(&Vars::from_pairs(base)).unwrap().smtp.is_none());
        let relay = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.push(("SMTP_SERVER", "smtp.example.net"));
            pairs.extend_from_slice(extra);
            Config::from_vars(&Vars::from_pairs(pairs)).map(|c| c.smtp.unwrap())
        };
        let plain = relay(&[("SMTP_LOGIN", "me"), ("SMTP_PASSWORD", "pw")]).unwrap();
        assert_eq!((plain.port, plain.tls, plain.auth_method), (25, SmtpTls::StartTlsWhenOffered, SmtpAuth::Plain));
        assert_eq!(plain.credentials, Some(("me".into(), "pw".into())));
        assert_eq!((plain.from.as_str(), plain.helo_domain.as_str()), ("notifications@example.com", "example.com"));
        let ssl =
            relay(&[("SMTP_SSL", "true"), ("SMTP_PORT", "465"), ("SMTP_AUTH_METHOD", "none"), ("SMTP_LOGIN", "me")]);
        let ssl = ssl.unwrap();
        assert_eq!((ssl.port, ssl.tls, ssl.credentials), (465, SmtpTls::Implicit, None));
        assert!(relay(&[("SMTP_OPENSSL_VERIFY_MODE", "client_once")]).unwrap().verify_certificates);
        assert_eq!(relay(&[("SMTP_ENABLE_STARTTLS", "always")]).unwrap().tls, SmtpTls::StartTls);
        assert_eq!(relay(&[("SMTP_ENABLE_STARTTLS_AUTO", "false")]).unwrap().tls, SmtpTls::None);
        assert!(!relay(&[("SMTP_OPENSSL_VERIFY_MODE", "none")]).unwrap().verify_certificates);
        assert!(relay(&[("SMTP_ENABLE_STARTTLS", "sometimes")]).is_err());
        assert!(relay(&[("SMTP_AUTH_METHOD", "cram_md5")]).is_err());
    }

    #[test]
    fn mastodon_db_variables_build_a_postgres_url() {
        let v = Vars::from_pairs([
            ("DB_HOST", "db.internal"),
            ("DB_USER", "mastodon"),
            ("DB_PASS", "p@ss"),
            ("DB_NAME", "mastodon_production"),
            ("DB_SSLMODE", "require"),
            ("PREPARED_STATEMENTS", "false"),
            ("SECRET_KEY_BASE", "0123456789abcdef0123456789abcdef0123"),
            ("LOCAL_DOMAIN", "example.com"),
        ]);
        let c = Config::from_vars(&v).unwrap();
        assert_eq!(
            c.database,
            DatabaseConfig::Postgres {
                url: "postgres://mastodon:p%40ss@db.internal:5432/mastodon_production?sslmode=require".into(),
                pool: 10,
                prepared_statements: false
            }
        );
        assert_eq!(c.base_url(), "https://example.com");
        let described = format!("{c:?}");
        assert!(!described.contains("p%40ss"), "{described}");
        assert!(!described.contains("0123456789abcdef0123456789"), "{described}");
    }

    #[test]
    fn invalid_values_are_named() {
        let bad = |k: &'static str, val: &'static str| {
            Config::from_vars(&Vars::from_pairs([(k, val), ("SECRET_KEY_BASE", "x".repeat(40).leak())]))
                .unwrap_err()
                .message
        };
        assert!(bad("PORT", "eighty").contains("PORT"));
        let sslmode = Vars::from_pairs([
            ("DB_HOST", "h"),
            ("DB_SSLMODE", "sometimes"),
            ("SECRET_KEY_BASE", "x".repeat(40).leak()),
        ]);
        assert!(Config::from_vars(&sslmode).unwrap_err().message.contains("DB_SSLMODE"));
        assert!(bad("LOCAL_DOMAIN", "https://x.org/").contains("LOCAL_DOMAIN"));
        assert!(bad("SINGLE_USER_MODE", "maybe").contains("SINGLE_USER_MODE"));
        assert!(bad("BIND", "everywhere").contains("BIND"));
        assert!(bad("REDIS_URL", "localhost:6379").contains("REDIS_URL"));
    }

    #[test]
    fn redis_comes_from_mastodon_variables_and_is_off_by_default() {
        let secret = ("SECRET_KEY_BASE", "y".repeat(40).leak() as &str);
        assert_eq!(Config::from_vars(&Vars::from_pairs([secret])).unwrap().redis, None);
        let parts = Vars::from_pairs([
            secret,
            ("REDIS_HOST", "cache.internal"),
            ("REDIS_PASSWORD", "s3cr/t"),
            ("REDIS_DB", "2"),
            ("REDIS_NAMESPACE", "social"),
        ]);
        let c = Config::from_vars(&parts).unwrap();
        assert_eq!(
            c.redis,
            Some(RedisConfig {
                url: "redis://:s3cr%2Ft@cache.internal:6379/2".into(),
                namespace: Some("social".into())
            })
        );
        assert!(!format!("{c:?}").contains("s3cr"));
        let url =
            Vars::from_pairs([secret, ("REDIS_URL", "rediss://default:pw@r.example:6380"), ("REDIS_HOST", "ignored")]);
        assert_eq!(Config::from_vars(&url).unwrap().redis.unwrap().url, "rediss://default:pw@r.example:6380");
    }

    #[test]
    fn s3_comes_from_mastodon_variables() {
        let secret = ("SECRET_KEY_BASE", "y".repeat(40).leak() as &str);
        assert_eq!(Config::from_vars(&Vars::from_pairs([secret])).unwrap().s3, None);
        let keys = [
            ("S3_ENABLED", "true"),
            ("S3_BUCKET", "media"),
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "hush-hush-secret"),
        ];
        // AWS itself: virtual-hosted requests, files served from the regional host.
        let aws = Config::from_vars(&Vars::from_pairs([secret].into_iter().chain(keys))).unwrap().s3.unwrap();
        assert_eq!(aws.endpoint, "https://s3.us-east-1.amazonaws.com");
        assert!(!aws.path_style);
        assert_eq!(aws.public_base_url, "https://s3-us-east-1.amazonaws.com/media");
        assert_eq!(aws.permission, "public-read");
        // A compatible store behind a CDN alias: path-style requests, files from the alias.
        let vars = Vars::from_pairs([secret].into_iter().chain(keys).chain([
            ("S3_ENDPOINT", "http://127.0.0.1:3900/"),
            ("S3_REGION", "garage"),
            ("S3_ALIAS_HOST", "files.example.com"),
            ("S3_PERMISSION", ""),
            ("S3_KEY_PREFIX", "/social/"),
        ]));
        let c = Config::from_vars(&vars).unwrap();
        let s3 = c.s3.clone().unwrap();
        assert_eq!((s3.endpoint.as_str(), s3.path_style), ("http://127.0.0.1:3900", true));
        assert_eq!(s3.public_base_url, "https://files.example.com");
        assert_eq!(s3.permission, "");
        assert_eq!(s3.key_prefix.as_deref(), Some("social"));
        assert!(!format!("{c:?}").contains("hush-hush"));
        // Without an alias, the endpoint's host serves the bucket's path.
        let vars = Vars::from_pairs(
            [secret]
                .into_iter()
                .chain(keys)
                .chain([("S3_ENDPOINT", "https://s3.example.net"), ("S3_OVERRIDE_PATH_STYLE", "true")]),
        );
        let s3 = Config::from_vars(&vars).unwrap().s3.unwrap();
        assert_eq!((s3.public_base_url.as_str(), s3.path_style), ("https://s3.example.net/media", false));
        // What is missing is named.
        let missing = Config::from_vars(&Vars::from_pairs([secret, ("S3_ENABLED", "true"), ("S3_BUCKET", "m")]));
        assert!(missing.unwrap_err().message.contains("AWS_ACCESS_KEY_ID"));
    }
}
