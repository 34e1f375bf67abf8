//! Media attachments: uploads of local accounts (`/api/v1/media`, `/api/v2/media`), processed
//! through the [`MediaProcessor`] port and kept through the [`FileStore`] port under Mastodon's
//! key layout, then attached to a status as it is posted.
//!
//! Files are stored before the row that names them is written, so a crash leaves at worst
//! files no row names (found by `media remove-orphans`), never a row pointing at a missing or
//! half-written file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrodon_domain::model::{
    Focus, Media, MediaKind, MediaState, Processed, ProcessedFile, ProfileImage, StatusMedia,
};
use ferrodon_domain::ports::{FileStore, JobContext, MediaProcessor, Sniffed, Tx};
use ferrodon_kernel::{Error, Id, Result};

use crate::Services;
use crate::auth::{Viewer, now};

mod maintenance;
mod remote;

pub use maintenance::{CacheRemoval, Usage, remove_cached, remove_orphans, usage};
pub(crate) use remote::{cache_profile_images, cache_remote, carry_cached, keep_card_image};

/// Mastodon's limits (`configuration.media_attachments`).
pub const IMAGE_SIZE_LIMIT: u64 = 16 * 1024 * 1024;
pub const VIDEO_SIZE_LIMIT: u64 = 99 * 1024 * 1024;
pub const IMAGE_MATRIX_LIMIT: u64 = 33_177_600;
pub const VIDEO_MATRIX_LIMIT: u64 = 8_294_400;
pub const VIDEO_FRAME_RATE_LIMIT: u64 = 120;
pub const DESCRIPTION_LIMIT: usize = 1_500;
/// Attachments per status.
pub const MAX_ATTACHMENTS: usize = 4;
/// The largest upload read at all: the largest any kind may be.
pub const UPLOAD_LIMIT: u64 = VIDEO_SIZE_LIMIT;

/// The media backends, once connected ([`Services::connect_media`]).
#[derive(Clone)]
pub struct MediaPorts {
    pub files: Arc<dyn FileStore>,
    pub processor: Arc<dyn MediaProcessor>,
}

/// An uploaded file, streamed to a temporary file in [`scratch_dir`]. The service owns it once
/// given: it is removed whatever becomes of the upload.
#[derive(Debug)]
pub struct Upload {
    pub path: PathBuf,
    pub size: u64,
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What a client may set on an upload (`description`, `focus` as "x,y", a custom `thumbnail`).
#[derive(Debug, Default)]
pub struct MediaParams {
    pub description: Option<String>,
    pub focus: Option<String>,
    pub thumbnail: Option<Upload>,
}

/// Avatars and headers may be this large (Mastodon's 8 MB).
pub const PROFILE_IMAGE_SIZE_LIMIT: u64 = 8 * 1024 * 1024;

/// Where uploads and processed files wait, on the same disk as the data directory.
pub fn scratch_dir(svc: &Services) -> PathBuf {
    svc.config.data_dir.join("tmp")
}

/// A new temporary file's path in [`scratch_dir`] (the directory is made).
pub async fn scratch_file(svc: &Services) -> Result<PathBuf> {
    let dir = scratch_dir(svc);
    tokio::fs::create_dir_all(&dir).await.map_err(Error::internal)?;
    Ok(dir.join(format!("upload-{}", random_hex())))
}

fn random_hex() -> String {
    use rand::Rng;
    let bytes: [u8; 8] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ports(svc: &Services) -> Result<&MediaPorts> {
    svc.media_ports().ok_or_else(|| Error::internal("media storage is not connected"))
}

/// Mastodon's `id_partition`: the id zero-padded to 9 digits, in groups of three.
fn id_partition(id: Id) -> String {
    let digits = format!("{:09}", id.0);
    let groups: Vec<&str> =
        digits.as_bytes().chunks(3).filter(|c| c.len() == 3).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    groups.join("/")
}

/// A new key in Mastodon's layout, `<class>/<id partition>/<style>/<random hex>.<extension>`:
/// the class names the model and its file (`media_attachments/files`, `accounts/avatars`,
/// `custom_emojis/images`, and under `cache/` the copies of remote ones), the style the
/// version (`original`, `small`, `static`).
fn stored_key(class: &str, id: Id, style: &str, extension: &str) -> String {
    format!("{class}/{}/{style}/{}.{extension}", id_partition(id), random_hex())
}

/// The key of one style of an upload's file.
fn file_key(id: Id, style: &str, extension: &str) -> String {
    stored_key("media_attachments/files", id, style, extension)
}

fn parse_focus(raw: Option<&str>) -> Result<Option<Focus>> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let invalid = || Error::validation("Validation failed: Focus must be two numbers from -1.0 to 1.0, as \"x,y\"");
    let (x, y) = raw.split_once(',').ok_or_else(invalid)?;
    let axis = |v: &str| v.trim().parse::<f64>().ok().filter(|n| n.is_finite() && (-1.0..=1.0).contains(n));
    Ok(Some(Focus { x: axis(x).ok_or_else(invalid)?, y: axis(y).ok_or_else(invalid)? }))
}

fn check_description(d: Option<&str>) -> Result<Option<String>> {
    match d {
        Some(d) if d.chars().count() > DESCRIPTION_LIMIT => Err(Error::validation(format!(
            "Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)"
        ))),
        Some(d) => Ok(Some(d.to_string()).filter(|d| !d.trim().is_empty())),
        None => Ok(None),
    }
}

async fn read_head(path: &Path) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await.map_err(Error::internal)?;
    let mut head = vec![0u8; 512];
    let mut n = 0;
    while n < head.len() {
        let read = f.read(&mut head[n..]).await.map_err(Error::internal)?;
        if read == 0 {
            break;
        }
        n += read;
    }
    head.truncate(n);
    Ok(head)
}

/// Stores a processed file under `key`, returning the key.
async fn store(files: &dyn FileStore, key: String, f: &ProcessedFile) -> Result<String> {
    files.put(&key, &f.path, &f.content_type).await?;
    Ok(key)
}

/// What an upload is, by its content, if it is a type it may be and no larger than its kind
/// may be (`limit` of its kind).
async fn check(ports: &MediaPorts, file: &Upload, limit: impl Fn(MediaKind) -> u64) -> Result<Sniffed> {
    if file.size == 0 {
        return Err(Error::validation("Validation failed: File can't be blank"));
    }
    let head = read_head(&file.path).await?;
    let sniffed = ports.processor.sniff(&head).ok_or_else(|| {
        Error::validation("Validation failed: File content type is invalid, File file type is invalid")
    })?;
    let limit = limit(sniffed.kind);
    if file.size > limit {
        return Err(Error::validation(format!(
            "Validation failed: File file size must be less than {} MB",
            limit / 1024 / 1024
        )));
    }
    Ok(sniffed)
}

fn attachment_limit(kind: MediaKind) -> u64 {
    if kind == MediaKind::Image { IMAGE_SIZE_LIMIT } else { VIDEO_SIZE_LIMIT }
}

/// Files stored for a change not yet committed: removed again unless it commits.
struct Stored<'a> {
    files: &'a dyn FileStore,
    keys: Vec<String>,
}

impl<'a> Stored<'a> {
    fn new(files: &'a dyn FileStore) -> Self {
        Self { files, keys: Vec::new() }
    }

    /// Stores `f` under `key` (its scratch file is gone either way).
    async fn put(&mut self, key: String, f: &ProcessedFile) -> Result<String> {
        let key = self.put_path(key, &f.path, &f.content_type).await;
        let _ = std::fs::remove_file(&f.path);
        key
    }

    /// Stores the file at `path` under `key`.
    async fn put_path(&mut self, key: String, path: &Path, content_type: &str) -> Result<String> {
        self.files.put(&key, path, content_type).await?;
        self.keys.push(key.clone());
        Ok(key)
    }

    /// A job's change: `Ok(true)` when its rows now name the files; `Ok(false)` when there was
    /// nothing left to name them (the files go, the job is done); an error (the files go).
    async fn settle(self, written: Result<bool>) -> Result<()> {
        match written {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.undo().await;
                Ok(())
            }
            Err(e) => {
                self.undo().await;
                Err(e)
            }
        }
    }

    /// The change failed: its files go.
    async fn undo(self) {
        if let Err(e) = self.files.delete(&self.keys).await {
            tracing::warn!(error = %e.message, "could not remove the files of a failed upload");
        }
    }
}

fn remove_scratch(p: &Processed) {
    let _ = std::fs::remove_file(&p.original.path);
    if let Some(s) = &p.small {
        let _ = std::fs::remove_file(&s.path);
    }
}

/// A custom thumbnail, processed as an image: its small version is kept as the attachment's
/// preview, and its blurhash as the attachment's.
async fn store_thumbnail(
    svc: &Services,
    ports: &MediaPorts,
    stored: &mut Stored<'_>,
    id: Id,
    file: Upload,
) -> Result<(String, Option<String>)> {
    let sniffed = check(ports, &file, |_| IMAGE_SIZE_LIMIT).await?;
    if sniffed.kind != MediaKind::Image {
        return Err(Error::validation("Validation failed: Thumbnail content type is invalid"));
    }
    let processed = ports.processor.process(&file.path, &sniffed, &scratch_dir(svc)).await?;
    drop(file);
    let _ = std::fs::remove_file(&processed.original.path);
    let preview = processed.small.as_ref().unwrap_or(&processed.original);
    let key = stored.put(stored_key("media_attachments/thumbnails", id, "original", &preview.extension), preview).await;
    remove_scratch(&processed);
    Ok((key?, processed.blurhash.clone()))
}

/// When an upload is processed: before answering (`/api/v1/media`), or for video and audio on
/// the `default` queue, answering at once (`/api/v2/media`, 202 until done). Images are always
/// processed at once, as Mastodon does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processing {
    Now,
    Later,
}

/// `POST /api/v1/media` and `/api/v2/media`: the file is checked by its content, processed and
/// stored, then its row written (or stored as it came, its row written and its processing
/// queued, in one transaction).
pub async fn upload(svc: &Services, me: &Viewer, file: Upload, p: MediaParams, when: Processing) -> Result<Media> {
    let ports = ports(svc)?.clone();
    let description = check_description(p.description.as_deref())?;
    let focus = parse_focus(p.focus.as_deref())?;
    let sniffed = check(&ports, &file, attachment_limit).await?;
    if !ports.processor.supported_types().contains(&sniffed.content_type) {
        return Err(Error::validation("Validation failed: File content type is not supported yet"));
    }
    let id = Id::generate();
    let mut media = Media {
        id,
        account_id: me.account.id,
        status_id: None,
        kind: sniffed.kind,
        state: MediaState::Queued,
        file_key: None,
        content_type: Some(sniffed.content_type.clone()),
        file_size: file.size as i64,
        small_key: None,
        upload_key: None,
        thumbnail_key: None,
        description,
        focus,
        blurhash: None,
        meta: Default::default(),
        created_at: now(),
    };
    let mut stored = Stored::new(&*ports.files);
    let written = async {
        if let Some(t) = p.thumbnail {
            let (key, blurhash) = store_thumbnail(svc, &ports, &mut stored, id, t).await?;
            (media.thumbnail_key, media.blurhash) = (Some(key), blurhash);
        }
        let later = when == Processing::Later && matches!(sniffed.kind, MediaKind::Video | MediaKind::Audio);
        if later {
            let key = file_key(id, "upload", "bin");
            media.upload_key = Some(stored.put_path(key, &file.path, &sniffed.content_type).await?);
        } else {
            let processed = ports.processor.process(&file.path, &sniffed, &scratch_dir(svc)).await?;
            let kept = store_processed(&mut stored, id, &processed).await;
            remove_scratch(&processed);
            kept?.apply(&mut media, &processed);
        }
        let mut tx = svc.db.write().await?;
        tx.insert_media(&media).await?;
        if later {
            crate::jobs::media::ProcessMedia::enqueue(&mut tx, id).await?;
        }
        tx.commit().await
    }
    .await;
    drop(file);
    match written {
        Ok(()) => Ok(media),
        Err(e) => {
            stored.undo().await;
            Err(e)
        }
    }
}

/// The keys a processed upload's files were stored under.
struct Kept {
    original: String,
    small: Option<String>,
}

impl Kept {
    /// The attachment as processed: its files, type, size and meta (a custom thumbnail's
    /// blurhash stays).
    fn apply(self, media: &mut Media, processed: &Processed) {
        media.kind = processed.kind;
        media.state = MediaState::Done;
        media.file_key = Some(self.original);
        media.content_type = Some(processed.original.content_type.clone());
        media.file_size = processed.original.size as i64;
        media.small_key = self.small;
        media.meta = processed.meta.clone();
        if media.thumbnail_key.is_none() {
            media.blurhash = processed.blurhash.clone();
        }
    }
}

async fn store_processed(stored: &mut Stored<'_>, id: Id, processed: &Processed) -> Result<Kept> {
    store_processed_as(stored, processed, |style, ext| file_key(id, style, ext)).await
}

async fn store_processed_as(
    stored: &mut Stored<'_>,
    processed: &Processed,
    key: impl Fn(&str, &str) -> String,
) -> Result<Kept> {
    let original = stored.put(key("original", &processed.original.extension), &processed.original).await?;
    let small = match &processed.small {
        Some(s) => Some(stored.put(key("small", &s.extension), s).await?),
        None => None,
    };
    Ok(Kept { original, small })
}

/// The `ProcessMedia` job: an upload stored as it came is processed, its files stored and its
/// row completed, in the job's own transaction; the upload goes. A file that cannot be
/// processed marks the attachment failed (not retried); an upload deleted meanwhile is let be.
pub(crate) async fn process_queued(svc: &Services, ctx: &JobContext, id: Id) -> Result<()> {
    let ports = ports(svc)?.clone();
    let Some(queued) = svc.db.read().await?.media_by_id(id).await? else { return Ok(()) };
    let Some(upload_key) = queued.upload_key.clone().filter(|_| queued.state == MediaState::Queued) else {
        return Ok(());
    };
    let input = Upload { path: scratch_file(svc).await?, size: 0 };
    if !ports.files.fetch(&upload_key, &input.path).await? {
        return Err(Error::internal(format!("the upload of media {id} is missing")));
    }
    let sniffed = Sniffed { kind: queued.kind, content_type: queued.content_type.clone().unwrap_or_default() };
    let processed = match ports.processor.process(&input.path, &sniffed, &scratch_dir(svc)).await {
        Ok(p) => Ok(p),
        Err(e) if e.kind == ferrodon_kernel::ErrorKind::Validation => Err(e),
        Err(e) => return Err(e),
    };
    drop(input);
    let mut stored = Stored::new(&*ports.files);
    let written = async {
        let kept = match &processed {
            Ok(p) => Some(store_processed(&mut stored, id, p).await?),
            Err(_) => None,
        };
        let mut tx = svc.db.write().await?;
        let Some(mut media) = tx.media_by_id(id).await? else {
            // Deleted while it was processed: what was stored for it goes.
            return Ok(false);
        };
        match (kept, &processed) {
            (Some(kept), Ok(p)) => kept.apply(&mut media, p),
            (_, Err(e)) => {
                tracing::info!(media = %id, error = %e.message, "an upload could not be processed");
                media.state = MediaState::Failed;
            }
            (None, Ok(_)) => unreachable!("stored when processed"),
        }
        media.upload_key = None;
        tx.update_media(&media).await?;
        crate::effects::files_dropped(&mut tx, vec![upload_key.clone()]).await?;
        // Another worker took the job over: its own run names its own files.
        if !ctx.complete_in(&mut tx).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok::<_, Error>(true)
    }
    .await;
    if let Ok(p) = &processed {
        remove_scratch(p);
    }
    stored.settle(written).await
}

/// An avatar or a header of `account_id`: processed and stored (under `cache/` for a remote
/// account's), returning its key. The caller names it in the account's row, or removes it
/// when that fails.
pub(crate) async fn store_profile_image(
    svc: &Services,
    file: Upload,
    kind: ProfileImage,
    account_id: Id,
    cache: bool,
) -> Result<String> {
    let ports = ports(svc)?;
    let sniffed = check(ports, &file, |_| PROFILE_IMAGE_SIZE_LIMIT).await?;
    if sniffed.kind != MediaKind::Image {
        return Err(Error::validation(format!(
            "Validation failed: {} content type is invalid",
            if kind == ProfileImage::Avatar { "Avatar" } else { "Header" }
        )));
    }
    let processed = ports.processor.process_profile_image(&file.path, &sniffed, &scratch_dir(svc), kind).await?;
    drop(file);
    let class = format!("{}accounts/{}s", if cache { "cache/" } else { "" }, kind.as_str());
    let key = stored_key(&class, account_id, "original", &processed.extension);
    let stored = store(&*ports.files, key, &processed).await;
    let _ = std::fs::remove_file(&processed.path);
    stored
}

/// A custom emoji's image: kept as it was given under
/// `custom_emojis/images/<partition>/original/`, with a still PNG under `…/static/`. Returns
/// the two keys and the image's type; the caller names them in a row, or removes them.
pub(crate) async fn store_emoji_image(svc: &Services, id: Id, file: Upload) -> Result<(String, String, String)> {
    let ports = ports(svc)?.clone();
    let sniffed = check(&ports, &file, |_| crate::emoji::EMOJI_SIZE_LIMIT).await?;
    let extension = crate::emoji::emoji_extension(sniffed.kind, &sniffed.content_type)
        .ok_or_else(|| Error::validation("Validation failed: Image content type is invalid"))?;
    // Processing checks it decodes and makes the still (PNG for PNG and GIF).
    let processed = ports.processor.process(&file.path, &sniffed, &scratch_dir(svc)).await?;
    let key = |style: &str, ext: &str| stored_key("custom_emojis/images", id, style, ext);
    // An animated GIF becomes a video when processed; its still is the preview frame.
    let still = match &processed.small {
        Some(small) if !processed.original.content_type.starts_with("image/") => small,
        _ => &processed.original,
    };
    let mut stored = Stored::new(&*ports.files);
    let kept = async {
        let image = stored.put_path(key("original", extension), &file.path, &sniffed.content_type).await?;
        let still = stored.put(key("static", &still.extension), still).await?;
        Ok::<_, Error>((image, still))
    }
    .await;
    remove_scratch(&processed);
    drop(file);
    match kept {
        Ok((image, still)) => Ok((image, still, sniffed.content_type)),
        Err(e) => {
            stored.undo().await;
            Err(e)
        }
    }
}

/// Removes files stored for a change that did not commit.
pub(crate) async fn discard_files(svc: &Services, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    if let Ok(ports) = ports(svc)
        && let Err(e) = ports.files.delete(&keys).await
    {
        tracing::warn!(error = %e.message, "could not remove files of a change that failed");
    }
}

/// The caller's own attachment, or 404.
async fn own(tx: &mut Box<dyn Tx>, me: &Viewer, raw_id: &str) -> Result<Media> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    tx.media_by_id(id).await?.filter(|m| m.account_id == me.account.id).ok_or_else(Error::not_found)
}

/// `GET /api/v1/media/:id`: the caller's own upload (206 for the client while processing; 422
/// once its processing failed).
pub async fn get(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Media> {
    let mut tx = svc.db.read().await?;
    let media = own(&mut tx, me, raw_id).await?;
    // As Mastodon: an upload, not an attachment of a post.
    if media.status_id.is_some() {
        return Err(Error::not_found());
    }
    if media.state == MediaState::Failed {
        return Err(Error::validation("Validation failed: File could not be processed"));
    }
    Ok(media)
}

/// `PUT /api/v1/media/:id`: description, focus and thumbnail of an upload not yet attached
/// (attached ones change through the status' edit, as in Mastodon).
pub async fn update(svc: &Services, me: &Viewer, raw_id: &str, p: MediaParams) -> Result<Media> {
    let id = {
        let mut tx = svc.db.read().await?;
        own(&mut tx, me, raw_id).await?.id
    };
    let ports = ports(svc)?.clone();
    let mut stored = Stored::new(&*ports.files);
    let thumbnail = match p.thumbnail {
        Some(t) => Some(store_thumbnail(svc, &ports, &mut stored, id, t).await?),
        None => None,
    };
    let written = async {
        let mut tx = svc.db.write().await?;
        let mut media = own(&mut tx, me, raw_id).await?;
        if media.status_id.is_some() {
            return Err(Error::not_found());
        }
        apply_attributes(&mut media, p.description.as_deref(), p.focus.as_deref())?;
        if let Some((key, blurhash)) = thumbnail.clone() {
            let replaced = media.thumbnail_key.replace(key);
            media.blurhash = blurhash.or(media.blurhash);
            crate::effects::files_dropped(&mut tx, replaced.into_iter().collect()).await?;
        }
        tx.update_media(&media).await?;
        tx.commit().await?;
        Ok(media)
    }
    .await;
    if written.is_err() {
        stored.undo().await;
    }
    written
}

/// Sets what was given of a description and a focus point.
pub(crate) fn apply_attributes(media: &mut Media, description: Option<&str>, focus: Option<&str>) -> Result<()> {
    if description.is_some() {
        media.description = check_description(description)?;
    }
    if focus.is_some() {
        media.focus = parse_focus(focus)?;
    }
    Ok(())
}

/// `DELETE /api/v1/media/:id`: an upload not yet attached, with its files.
pub async fn delete(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Media> {
    let mut tx = svc.db.write().await?;
    let media = own(&mut tx, me, raw_id).await?;
    // Deleted only while unattached (a post may be taking it this very moment).
    if media.status_id.is_some() || tx.delete_unattached_media(&[media.id]).await?.is_empty() {
        return Err(Error::validation("Media attachment is currently used by a status"));
    }
    crate::effects::media_removed(&mut tx, std::slice::from_ref(&media)).await?;
    tx.commit().await?;
    Ok(media)
}

/// The uploads `raw_ids` of `account_id` for a new status (or an edit of `status_id`), in the
/// order given: at most four, each the author's, processed and not attached elsewhere, and no
/// video or audio beside others. Mastodon's messages.
pub(crate) async fn for_status(
    tx: &mut Box<dyn Tx>,
    account_id: Id,
    raw_ids: &[String],
    status_id: Option<Id>,
) -> Result<Vec<Media>> {
    if raw_ids.len() > MAX_ATTACHMENTS {
        return Err(Error::validation(format!(
            "Validation failed: You can't attach more than {MAX_ATTACHMENTS} files"
        )));
    }
    let ids: Vec<Id> = raw_ids.iter().filter_map(|r| Id::parse(r)).collect();
    let found = tx.media_of_account(account_id, &ids).await?;
    let mut out = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for (raw, id) in raw_ids.iter().map(|r| (r, Id::parse(r))) {
        match found.iter().find(|m| Some(m.id) == id && (m.status_id.is_none() || m.status_id == status_id)) {
            Some(m) if !out.iter().any(|o: &Media| o.id == m.id) => out.push(m.clone()),
            Some(_) => {}
            None => missing.push(raw.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::validation(format!("Validation failed: Media {} not found", missing.join(", "))));
    }
    if out.iter().any(|m| m.state != MediaState::Done) {
        return Err(Error::validation(
            "Validation failed: Cannot attach files that have not finished processing. Try again in a moment!",
        ));
    }
    if out.len() > 1 && out.iter().any(|m| matches!(m.kind, MediaKind::Video | MediaKind::Gifv | MediaKind::Audio)) {
        return Err(Error::validation(
            "Validation failed: Cannot attach a video to a post that already contains images",
        ));
    }
    Ok(out)
}

/// Attaches `media` (checked by [`for_status`]) to `status_id`; 422 when another status took
/// one of them meanwhile (two posts racing for the same upload).
pub(crate) async fn attach(tx: &mut Box<dyn Tx>, status_id: Id, media: &[Media]) -> Result<()> {
    let ids: Vec<Id> = media.iter().map(|m| m.id).collect();
    if tx.attach_media(status_id, &ids).await? != ids.len() as u64 {
        return Err(Error::validation("Validation failed: Media is already attached to another post"));
    }
    Ok(())
}

/// An upload as its status carries it.
pub(crate) fn status_media(svc: &Services, m: &Media) -> Option<StatusMedia> {
    let files = &ports(svc).ok()?.files;
    let original = m.meta.original;
    Some(StatusMedia {
        id: Some(m.id),
        kind: m.kind.as_str().to_string(),
        url: files.url(m.file_key.as_deref()?),
        preview_url: m.thumbnail_key.as_deref().or(m.small_key.as_deref()).map(|k| files.url(k)),
        description: m.description.clone(),
        blurhash: m.blurhash.clone(),
        width: original.map(|d| d.width as i64),
        height: original.map(|d| d.height as i64),
        content_type: m.content_type.clone(),
        small: m.meta.small,
        focus: m.focus,
        duration: m.meta.duration,
        ..Default::default()
    })
}

/// The URL of a stored file (for presenting an upload).
pub fn url(svc: &Services, key: &str) -> Option<String> {
    ports(svc).ok().map(|p| p.files.url(key))
}

/// The file behind `key` on local disk, to serve under `/system/` (local storage only).
pub fn local_file(svc: &Services, key: &str) -> Option<PathBuf> {
    ports(svc).ok()?.files.local_path(key)
}

/// The MIME types uploads may have (the instance's configuration).
pub fn supported_types(svc: &Services) -> Vec<String> {
    ports(svc).map(|p| p.processor.supported_types()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_partition_is_mastodons() {
        assert_eq!(id_partition(Id(1)), "000/000/001");
        assert_eq!(id_partition(Id(109_876_543_210_987_654)), "109/876/543/210/987/654");
    }

    #[test]
    fn focus_is_two_numbers_in_range() {
        assert_eq!(parse_focus(Some("0.5,-1")).unwrap(), Some(Focus { x: 0.5, y: -1.0 }));
        assert_eq!(parse_focus(Some("")).unwrap(), None);
        assert!(parse_focus(Some("2,0")).is_err());
        assert!(parse_focus(Some("nan,0")).is_err());
        assert!(parse_focus(Some("0.1")).is_err());
    }
}
