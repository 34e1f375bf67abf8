//! The bucket backend against a real S3-compatible server that checks signatures (s3s-fs,
//! started by `scripts/s3-up`, found through `TEST_S3_URL`; see `ferrodon_testkit::s3_vars`).

use std::io::Write;

use ferrodon_config::{Config, S3Config, Vars};
use ferrodon_domain::ports::FileStore;
use ferrodon_media::S3Files;

/// The test bucket's configuration (`TEST_S3_URL`), with `extra` variables.
fn config(extra: &[(&str, &str)]) -> Option<S3Config> {
    let vars = ferrodon_testkit::s3_vars()?;
    let secret_key_base = "s".repeat(40);
    let mut pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("SECRET_KEY_BASE", &secret_key_base));
    pairs.extend_from_slice(extra);
    Some(Config::from_vars(&Vars::from_pairs(pairs)).expect("S3 configuration").s3.expect("S3 enabled"))
}

fn unique_key(name: &str) -> String {
    format!("media_attachments/files/{:016x}/original/{name}", rand::random::<u64>())
}

fn scratch_file(bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("ferrodon-s3-test-{:016x}", rand::random::<u64>()));
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    path
}

#[tokio::test]
async fn files_are_stored_read_and_removed() {
    let Some(c) = config(&[("S3_ALIAS_HOST", "files.example.com"), ("S3_KEY_PREFIX", "social")]) else { return };
    let files = S3Files::new(&c).unwrap();
    let key = unique_key("a.png");
    let bytes = b"\x89PNG\r\n\x1a\n not really a png".to_vec();
    let path = scratch_file(&bytes);
    files.put(&key, &path, "image/png").await.unwrap();
    assert!(!path.exists(), "the scratch file is done with");
    assert_eq!(files.read(&key).await.unwrap(), Some(bytes));
    assert_eq!(files.url(&key), format!("https://files.example.com/social/{key}"));
    // The object is under the prefix in the bucket.
    let unprefixed = S3Files::new(&config(&[]).unwrap()).unwrap();
    assert!(unprefixed.read(&format!("social/{key}")).await.unwrap().is_some());
    assert_eq!(unprefixed.read(&key).await.unwrap(), None);
    assert_eq!(files.local_path(&key), None);
    let folder = key.rsplit_once("/original/").unwrap().0.to_string();
    let listed = files.list(&folder).await.unwrap();
    let size = b"\x89PNG\r\n\x1a\n not really a png".len() as u64;
    assert_eq!(listed.iter().map(|f| (f.key.as_str(), f.size)).collect::<Vec<_>>(), [(key.as_str(), size)]);
    // Removing what is there and what is not.
    files.delete(&[key.clone(), unique_key("never.png")]).await.unwrap();
    assert_eq!(files.read(&key).await.unwrap(), None);
}

#[tokio::test]
async fn large_files_go_up_in_parts() {
    // Above the threshold, files go up in 8 MB parts: 12 MB is two.
    let Some(c) = config(&[("S3_MULTIPART_THRESHOLD", "1048576")]) else { return };
    let files = S3Files::new(&c).unwrap();
    let key = unique_key("video.mp4");
    let bytes: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    files.put(&key, &scratch_file(&bytes), "video/mp4").await.unwrap();
    assert_eq!(files.read(&key).await.unwrap().as_deref(), Some(bytes.as_slice()));
    assert_eq!(files.url(&key), format!("{}/{key}", c.public_base_url));
    // Fetched back to a local file, streamed.
    let back = scratch_file(b"");
    assert!(files.fetch(&key, &back).await.unwrap());
    assert!(std::fs::read(&back).unwrap() == bytes);
    assert!(!files.fetch(&unique_key("none.mp4"), &back).await.unwrap());
    let _ = std::fs::remove_file(back);
    files.delete(&[key]).await.unwrap();
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let Some(mut c) = config(&[]) else { return };
    c.secret_access_key = "not-the-secret".into();
    let files = S3Files::new(&c).unwrap();
    let key = unique_key("refused.png");
    let path = scratch_file(b"x");
    let error = files.put(&key, &path, "image/png").await.unwrap_err();
    assert!(error.message.contains("S3"), "{}", error.message);
    let _ = std::fs::remove_file(path);
}
