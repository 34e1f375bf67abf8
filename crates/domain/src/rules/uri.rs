//! URLs as federation compares them: by authority (host, and port when not the default).

/// The host of a URL, lower case, with its port when not the scheme's default.
pub fn authority(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// Whether two URLs are on the same host (an actor may only speak for its own host's objects).
pub fn same_origin(a: &str, b: &str) -> bool {
    matches!((authority(a), authority(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(authority("https://A.example/x").as_deref(), Some("a.example"));
        assert_eq!(authority("https://a.example:443/x").as_deref(), Some("a.example"));
        assert_eq!(authority("http://127.0.0.2:8001/x").as_deref(), Some("127.0.0.2:8001"));
        assert!(authority("not a url").is_none());
        assert!(same_origin("https://a.example/users/x", "https://A.example/notes/1"));
        assert!(!same_origin("https://a.example/x", "https://b.example/x"));
        assert!(!same_origin("http://127.0.0.2:8001/x", "http://127.0.0.2:8002/x"));
    }
}
