//! `ferrodon emoji import FILE.tar.gz`: custom emoji from an archive of images, as tootctl's
//! (each PNG, GIF or WebP file's name, without its extension, is its shortcode).

use std::path::Path;

use ferrodon_service::Services;
use ferrodon_service::emoji;
use ferrodon_service::media::{self, Upload};

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// An image of an archive: its file name without the extension, and its bytes (or only its
/// size when it is larger than an emoji may be, to be refused by name).
type Entry = (String, Result<Vec<u8>, u64>);

/// The images of a `.tar.gz` (or plain `.tar`) archive.
fn read_archive(path: &Path) -> Result<Vec<Entry>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut head = [0u8; 2];
    let gzipped = {
        let mut f = &file;
        f.read_exact(&mut head).is_ok() && head == [0x1f, 0x8b]
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader: Box<dyn Read> = if gzipped { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) };
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| format!("{}: {e}", path.display()))? {
        let mut entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(|e| e.to_string())?.to_path_buf();
        let Some(stem) = name.file_stem().and_then(|s| s.to_str()) else { continue };
        let image = name
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["png", "gif", "webp"].contains(&e.to_ascii_lowercase().as_str()));
        // macOS archives carry `._name` resource forks beside the files.
        if !image || stem.starts_with("._") {
            continue;
        }
        let size = entry.size();
        if size > emoji::EMOJI_SIZE_LIMIT {
            out.push((stem.to_string(), Err(size)));
            continue;
        }
        let mut bytes = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        out.push((stem.to_string(), Ok(bytes)));
    }
    Ok(out)
}

pub async fn import(
    svc: &Services,
    path: &Path,
    prefix: &str,
    suffix: &str,
    category: Option<&str>,
    overwrite: bool,
) -> Result<Imported, String> {
    let owned = path.to_path_buf();
    let entries = tokio::task::spawn_blocking(move || read_archive(&owned)).await.map_err(|e| e.to_string())??;
    let mut done = Imported::default();
    for (stem, bytes) in entries {
        let shortcode = format!("{prefix}{stem}{suffix}");
        let bytes = match bytes {
            Ok(b) => b,
            Err(size) => {
                eprintln!("{shortcode}: {size} bytes, larger than {} KB", emoji::EMOJI_SIZE_LIMIT / 1024);
                done.failed += 1;
                continue;
            }
        };
        let scratch = media::scratch_file(svc).await.map_err(|e| e.message)?;
        tokio::fs::write(&scratch, &bytes).await.map_err(|e| e.to_string())?;
        let upload = Upload { path: scratch, size: bytes.len() as u64 };
        match emoji::add(svc, &shortcode, upload, category, overwrite).await {
            Ok(true) => done.added += 1,
            Ok(false) => done.skipped += 1,
            Err(e) => {
                eprintln!("{shortcode}: {}", e.message);
                done.failed += 1;
            }
        }
    }
    Ok(done)
}
