//! The test bucket: an S3-compatible server started by `scripts/s3-up` (s3s-fs, which checks
//! signatures), named by `TEST_S3_URL=http://KEY:SECRET@host:port/bucket`.

use crate::db::in_ci;

/// Mastodon's variables for the test bucket, or `None` after printing the skip line (a
/// failure under CI). s3s-fs keeps no ACLs, so none is sent; `S3_ALIAS_HOST` stands for a CDN.
pub fn s3_vars() -> Option<Vec<(&'static str, String)>> {
    let url = match std::env::var("TEST_S3_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ if in_ci() => panic!("TEST_S3_URL is not set and CI=true: the S3 tests must run in CI (scripts/s3-up)"),
        _ => {
            println!("skipped: TEST_S3_URL is not set (scripts/s3-up starts an S3 server)");
            return None;
        }
    };
    let parts = || {
        let (credentials, rest) = url.strip_prefix("http://")?.split_once('@')?;
        let (key, secret) = credentials.split_once(':')?;
        let (host, bucket) = rest.split_once('/')?;
        Some((key, secret, host, bucket))
    };
    let (key, secret, host, bucket) =
        parts().unwrap_or_else(|| panic!("TEST_S3_URL must be http://KEY:SECRET@host:port/bucket, got {url:?}"));
    Some(vec![
        ("S3_ENABLED", "true".into()),
        ("S3_BUCKET", bucket.into()),
        ("S3_ENDPOINT", format!("http://{host}")),
        ("AWS_ACCESS_KEY_ID", key.into()),
        ("AWS_SECRET_ACCESS_KEY", secret.into()),
        ("S3_PERMISSION", String::new()),
        ("S3_ALIAS_HOST", "media.cdn.test".into()),
    ])
}
