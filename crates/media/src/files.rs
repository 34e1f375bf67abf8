//! The file store on local disk: one file per key under a root folder, served by ferrodon.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use ferrodon_domain::ports::{FileStore, StoredFile};
use ferrodon_kernel::{Error, Result};

/// Files under `root` (e.g. `<data dir>/system`), one per key, served from `base_url` (e.g.
/// `http://localhost:3000/system`). A file appears at its key whole or not at all: it is moved
/// in with a rename, or copied to a temporary name beside it and then renamed.
#[derive(Clone, Debug)]
pub struct LocalFiles {
    root: PathBuf,
    base_url: String,
}

impl LocalFiles {
    pub fn new(root: PathBuf, base_url: String) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        Self { root, base_url }
    }

    /// The folder the files are kept in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `key` is kept, for a key that stays inside the root.
    fn path(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

/// A key is a relative path of plain segments: no `..` or `.`, no empty segment (so no leading
/// or doubled `/`), no backslash and no NUL.
fn check_key(key: &str) -> Result<()> {
    let plain = |segment: &str| !segment.is_empty() && segment != "." && segment != "..";
    if key.contains(['\\', '\0']) || !key.split('/').all(plain) {
        return Err(Error::internal(format!("invalid file key {key:?}")));
    }
    Ok(())
}

#[async_trait]
impl FileStore for LocalFiles {
    async fn put(&self, key: &str, path: &Path, _content_type: &str) -> Result<()> {
        let dest = self.path(key)?;
        let parent = dest.parent().unwrap_or(&self.root).to_path_buf();
        // A concurrent delete may remove a folder that just became empty between its creation
        // and the rename; create it again then.
        let mut attempts = 0;
        let renamed = loop {
            attempts += 1;
            tokio::fs::create_dir_all(&parent).await.map_err(|e| io_error("creating", &parent, e))?;
            match tokio::fs::rename(path, &dest).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 3 && source_exists(path).await => {}
                other => break other,
            }
        };
        if renamed.is_ok() {
            return Ok(());
        }
        // Most likely another file system: copy beside the destination, then rename.
        let temp = parent.join(format!(".{:016x}.tmp", rand::random::<u64>()));
        let copied = async {
            tokio::fs::copy(path, &temp).await?;
            tokio::fs::rename(&temp, &dest).await
        }
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io_error("storing", &dest, e));
        }
        let _ = tokio::fs::remove_file(path).await;
        Ok(())
    }

    async fn fetch(&self, key: &str, dest: &Path) -> Result<bool> {
        let source = self.path(key)?;
        match tokio::fs::copy(&source, dest).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !source_exists(&source).await => Ok(false),
            Err(e) => Err(io_error("copying", &source, e)),
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<()> {
        let paths = keys.iter().map(|k| self.path(k)).collect::<Result<Vec<_>>>()?;
        let mut failure = None;
        for path in paths {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    failure.get_or_insert(io_error("removing", &path, e));
                    continue;
                }
            }
            // Folders left empty go too (best effort): stop at the first that is not empty.
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
                if tokio::fs::remove_dir(d).await.is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        failure.map_or(Ok(()), Err)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredFile>> {
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        let walked = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut dirs = vec![root.clone()];
            while let Some(dir) = dirs.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_error("listing", &dir, e)),
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(meta) = entry.metadata() else { continue };
                    if meta.is_dir() {
                        dirs.push(path);
                        continue;
                    }
                    let Some(key) = path.strip_prefix(&root).ok().and_then(|k| k.to_str()) else { continue };
                    // Files being moved in are hidden until renamed.
                    if !key.starts_with(&prefix) || key.rsplit('/').next().is_some_and(|n| n.starts_with('.')) {
                        continue;
                    }
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_millis() as i64);
                    out.push(StoredFile { key: key.to_string(), size: meta.len(), modified });
                }
            }
            Ok(out)
        });
        walked.await.map_err(Error::internal)?
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{}", self.base_url, key)
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path(key).ok()
    }
}

async fn source_exists(path: &Path) -> bool {
    tokio::fs::try_exists(path).await.unwrap_or(false)
}

fn io_error(doing: &str, path: &Path, e: io::Error) -> Error {
    Error::internal(format!("{doing} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_relative_paths() {
        for ok in ["a", "media_attachments/files/109/876/original/0123456789abcdef.jpg", "a.b/c..d"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a/..", "a//b", "a/", "./a", "a\\b", "a\0b"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn put_url_local_path_and_delete() {
        let dir = TempDir::new("files");
        let root = dir.0.join("system");
        let store = LocalFiles::new(root.clone(), "http://localhost:3000/system/".into());
        let scratch = dir.0.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();

        let key = "media_attachments/files/109/876/original/0123456789abcdef.jpg";
        let upload = scratch.join("upload");
        std::fs::write(&upload, b"jpeg bytes").unwrap();
        store.put(key, &upload, "image/jpeg").await.unwrap();
        assert!(!upload.exists(), "the file is moved in");
        let stored = store.local_path(key).unwrap();
        assert_eq!(stored, root.join(key));
        assert_eq!(std::fs::read(&stored).unwrap(), b"jpeg bytes");
        assert_eq!(store.url(key), format!("http://localhost:3000/system/{key}"));

        // A second file in a sibling folder keeps the shared folders alive.
        let other = "media_attachments/files/109/877/original/fedcba9876543210.png";
        std::fs::write(&upload, b"png bytes").unwrap();
        store.put(other, &upload, "image/png").await.unwrap();

        // Replacing a key replaces the file.
        std::fs::write(&upload, b"new jpeg").unwrap();
        store.put(key, &upload, "image/jpeg").await.unwrap();
        assert_eq!(std::fs::read(&stored).unwrap(), b"new jpeg");
        // Fetched back as a copy.
        let copy = dir.0.join("copy");
        assert!(store.fetch(key, &copy).await.unwrap());
        assert_eq!(std::fs::read(&copy).unwrap(), b"new jpeg");
        assert!(!store.fetch("media_attachments/none.jpg", &copy).await.unwrap());
        let listed: Vec<String> = store.list("media_attachments/").await.unwrap().into_iter().map(|f| f.key).collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.contains(&key.to_string()) && listed.contains(&other.to_string()));
        assert!(store.list("accounts/").await.unwrap().is_empty());

        store.delete(&[key.to_string(), "media_attachments/missing.jpg".to_string()]).await.unwrap();
        assert!(!stored.exists());
        assert!(!root.join("media_attachments/files/109/876").exists(), "empty folders go");
        assert!(root.join("media_attachments/files/109/877/original").is_dir());
        store.delete(&[other.to_string()]).await.unwrap();
        assert!(root.is_dir(), "the root stays");
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);

        // Deleting again is fine.
        store.delete(&[other.to_string()]).await.unwrap();
    }

    #[tokio::test]
    async fn keys_outside_the_root_are_refused() {
        let dir = TempDir::new("escape");
        let root = dir.0.join("system");
        let store = LocalFiles::new(root.clone(), "http://localhost:3000/system".into());
        let upload = dir.0.join("upload");
        std::fs::write(&upload, b"x").unwrap();
        for key in ["../escape.jpg", "a/../../escape.jpg", "/tmp/escape.jpg", "a\\..\\b", ""] {
            assert!(store.put(key, &upload, "image/jpeg").await.is_err(), "{key:?}");
            assert_eq!(store.local_path(key), None, "{key:?}");
            assert!(store.delete(&[key.to_string()]).await.is_err(), "{key:?}");
        }
        assert!(upload.exists());
        assert!(!dir.0.join("escape.jpg").exists());
    }

    #[tokio::test]
    async fn a_missing_source_is_an_error_and_leaves_nothing() {
        let dir = TempDir::new("missing");
        let store = LocalFiles::new(dir.0.join("system"), "http://x/system".into());
        let key = "a/b/c.jpg";
        assert!(store.put(key, &dir.0.join("nothing"), "image/jpeg").await.is_err());
        assert!(!store.local_path(key).unwrap().exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.0.join("system/a/b")).unwrap().collect();
        assert!(leftovers.is_empty(), "no temporary file is left");
    }

    /// A file from another file system (where `rename` fails) is copied in, then removed.
    #[tokio::test]
    async fn a_file_from_another_file_system_is_copied() {
        use std::os::unix::fs::MetadataExt;
        let dir = TempDir::new("across");
        let shm = Path::new("/dev/shm");
        let other = match std::fs::metadata(shm) {
            Ok(m) if m.is_dir() && m.dev() != std::fs::metadata(&dir.0).unwrap().dev() => shm,
            _ => return, // no second file system here
        };
        let upload = other.join(format!("ferrodon-media-upload-{:016x}", rand::random::<u64>()));
        std::fs::write(&upload, b"from elsewhere").unwrap();
        let store = LocalFiles::new(dir.0.join("system"), "http://x/system".into());
        store.put("a/b.png", &upload, "image/png").await.unwrap();
        assert_eq!(std::fs::read(store.local_path("a/b.png").unwrap()).unwrap(), b"from elsewhere");
        assert!(!upload.exists());
        let names: Vec<_> =
            std::fs::read_dir(dir.0.join("system/a")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["b.png"], "no temporary file is left");
    }

    /// A folder of its own under the system's temporary folder, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("ferrodon-media-{name}-{:016x}", rand::random::<u64>()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
