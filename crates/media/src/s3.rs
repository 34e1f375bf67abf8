//! The file store in an S3-compatible bucket (AWS, Garage, MinIO, R2, Spaces…), through
//! object_store: requests are signed with SigV4; clients load files from the bucket's public
//! URL or the CDN alias in front of it, never through ferrodon.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ferrodon_config::S3Config;
use ferrodon_domain::ports::{FileStore, StoredFile};
use ferrodon_kernel::{Error, Result};
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload,
    WriteMultipart,
};
use tokio::io::AsyncReadExt;

/// Stored files are never changed under their key, so caches may keep them for good (as
/// Mastodon sends it).
const CACHE_CONTROL: &str = "public, max-age=315576000, immutable";
/// The size of each part of a multipart upload.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;

/// Files in a bucket, one object per key.
#[derive(Clone, Debug)]
pub struct S3Files {
    /// Writes, which carry the canned ACL (`S3_PERMISSION`) as a signed header.
    writer: Arc<AmazonS3>,
    /// Reads and deletes.
    store: Arc<AmazonS3>,
    public_base_url: String,
    storage_class: Option<String>,
    multipart_threshold: u64,
    /// `S3_KEY_PREFIX/`, or empty.
    prefix: String,
}

impl S3Files {
    pub fn new(c: &S3Config) -> Result<Self> {
        let builder = || {
            AmazonS3Builder::new()
                .with_bucket_name(&c.bucket)
                .with_region(&c.region)
                .with_endpoint(&c.endpoint)
                .with_access_key_id(&c.access_key_id)
                .with_secret_access_key(&c.secret_access_key)
                .with_virtual_hosted_style_request(!c.path_style)
                .with_allow_http(c.endpoint.starts_with("http://"))
        };
        let invalid = |e: object_store::Error| Error::validation(format!("S3 configuration: {e}"));
        let store = builder().build().map_err(invalid)?;
        let writer = if c.permission.is_empty() {
            store.clone()
        } else {
            let mut headers = http::HeaderMap::new();
            let acl = http::HeaderValue::from_str(&c.permission)
                .map_err(|_| Error::validation(format!("S3_PERMISSION is no header value: {:?}", c.permission)))?;
            headers.insert("x-amz-acl", acl);
            builder()
                .with_client_options(ClientOptions::new().with_default_headers(headers))
                .build()
                .map_err(invalid)?
        };
        Ok(Self {
            writer: Arc::new(writer),
            store: Arc::new(store),
            public_base_url: c.public_base_url.trim_end_matches('/').to_string(),
            storage_class: c.storage_class.clone(),
            multipart_threshold: c.multipart_threshold,
            prefix: c.key_prefix.as_deref().map(|p| format!("{p}/")).unwrap_or_default(),
        })
    }

    /// The object of `key` (under the prefix).
    fn location(&self, key: &str) -> Key {
        Key::from(format!("{}{key}", self.prefix))
    }

    /// The object under `key`, read whole (for checks and tests; clients read the public URL).
    pub async fn read(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self.store.get(&self.location(key)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(s3_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    fn attributes(&self, content_type: &str) -> Attributes {
        let mut a = Attributes::new();
        a.insert(Attribute::ContentType, content_type.to_string().into());
        a.insert(Attribute::CacheControl, CACHE_CONTROL.into());
        if let Some(class) = &self.storage_class {
            a.insert(Attribute::StorageClass, class.clone().into());
        }
        a
    }
}

fn s3_error(e: object_store::Error) -> Error {
    Error::internal(format!("S3: {e}"))
}

#[async_trait]
impl FileStore for S3Files {
    async fn put(&self, key: &str, path: &Path, content_type: &str) -> Result<()> {
        let location = self.location(key);
        let mut file = tokio::fs::File::open(path).await.map_err(Error::internal)?;
        let size = file.metadata().await.map_err(Error::internal)?.len();
        let attributes = self.attributes(content_type);
        if size <= self.multipart_threshold {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await.map_err(Error::internal)?;
            let opts = PutOptions { attributes, ..Default::default() };
            self.writer.put_opts(&location, PutPayload::from(bytes), opts).await.map_err(s3_error)?;
        } else {
            let opts = PutMultipartOptions { attributes, ..Default::default() };
            let upload = self.writer.put_multipart_opts(&location, opts).await.map_err(s3_error)?;
            let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut buf = vec![0u8; 256 * 1024];
            let streamed = async {
                loop {
                    let n = file.read(&mut buf).await.map_err(Error::internal)?;
                    if n == 0 {
                        return Ok::<_, Error>(());
                    }
                    parts.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(s3_error)?;
                    parts.write(&buf[..n]);
                }
            }
            .await;
            match streamed {
                Ok(()) => {
                    parts.finish().await.map_err(s3_error)?;
                }
                Err(e) => {
                    let _ = parts.abort().await;
                    return Err(e);
                }
            }
        }
        // The caller's scratch file is done with once stored.
        let _ = tokio::fs::remove_file(path).await;
        Ok(())
    }

    async fn fetch(&self, key: &str, dest: &Path) -> Result<bool> {
        use tokio::io::AsyncWriteExt;
        let found = match self.store.get(&self.location(key)).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(s3_error(e)),
        };
        let mut out = tokio::fs::File::create(dest).await.map_err(Error::internal)?;
        let mut chunks = found.into_stream();
        while let Some(chunk) = chunks.next().await {
            out.write_all(&chunk.map_err(s3_error)?).await.map_err(Error::internal)?;
        }
        out.flush().await.map_err(Error::internal)?;
        Ok(true)
    }

    async fn delete(&self, keys: &[String]) -> Result<()> {
        let locations = futures_util::stream::iter(keys.iter().map(|k| Ok(self.location(k))).collect::<Vec<_>>());
        let mut results = self.store.delete_stream(locations.boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(s3_error(e)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredFile>> {
        let full = format!("{}{prefix}", self.prefix);
        // Listing is by folder: list the folder the prefix names, then keep what matches.
        let folder = full.rsplit_once('/').map(|(f, _)| f.to_string()).unwrap_or_default();
        let folder = (!folder.is_empty()).then(|| Key::from(folder));
        let mut listed = self.store.list(folder.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = meta.map_err(s3_error)?;
            let location = meta.location.to_string();
            let Some(key) = location.strip_prefix(&self.prefix) else { continue };
            if key.starts_with(prefix) {
                let modified = meta.last_modified.timestamp_millis();
                out.push(StoredFile { key: key.to_string(), size: meta.size, modified });
            }
        }
        Ok(out)
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{}{key}", self.public_base_url, self.prefix)
    }

    fn local_path(&self, _key: &str) -> Option<std::path::PathBuf> {
        None
    }
}
