//! Video, audio and animated GIFs through the system's `ffmpeg` and `ffprobe` (Mastodon's
//! `FFMPEG_BINARY` and `FFPROBE_BINARY`, found on the `PATH` otherwise), each run as a child
//! process with a time limit and killed when it passes it or when the caller stops waiting.
//!
//! As Mastodon does: video becomes H.264/AAC MP4 within its limits (copied as it is when it
//! already is such an MP4), with a still of its first frame as the preview; a video without
//! sound is a `gifv`, as is an animated GIF; audio becomes MP3 (copied when it is MP3 already).
//! Metadata is never copied.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ferrodon_domain::model::{Dimensions, MediaKind, MediaMeta};
use ferrodon_kernel::{Error, Result};
use serde::Deserialize;
use tokio::process::Command;

/// Mastodon's limits: 3840×2160 pixels' worth, 120 frames a second.
const MAX_VIDEO_PIXELS: u64 = 8_294_400;
const MAX_FRAME_RATE: f64 = 120.0;
/// The longest a video is kept (Mastodon's three hours at 60 frames a second, in frames).
const MAX_FRAMES: u64 = 60 * 60 * 3;
/// How long one ffmpeg run may take.
const TIME_LIMIT: Duration = Duration::from_secs(15 * 60);
/// The preview still fits in 640×640, as Mastodon's `small` of a video.
const PREVIEW_SIDE: u32 = 640;

/// The ffmpeg programs, when this machine has them.
#[derive(Clone, Debug)]
pub(crate) struct Ffmpeg {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
}

impl Ffmpeg {
    /// `FFMPEG_BINARY` / `FFPROBE_BINARY`, or `ffmpeg` / `ffprobe` on the `PATH`; `None` when
    /// either is missing.
    pub(crate) fn find() -> Option<Ffmpeg> {
        let find = |var: &str, name: &str| -> Option<PathBuf> {
            if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
                return Some(PathBuf::from(path)).filter(|p| p.is_file());
            }
            std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
        };
        Some(Ffmpeg { ffmpeg: find("FFMPEG_BINARY", "ffmpeg")?, ffprobe: find("FFPROBE_BINARY", "ffprobe")? })
    }

    /// What `input` holds: its streams, length and frame rate.
    pub(crate) async fn probe(&self, input: &Path) -> Result<Probe> {
        let output = run(Command::new(&self.ffprobe)
            .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
            .arg(input))
        .await?;
        let raw: RawProbe = serde_json::from_slice(&output).map_err(|_| unprocessable())?;
        Ok(Probe::from(raw))
    }

    /// `input` (video, or an animated GIF) as Mastodon keeps it, in `scratch`: the MP4 and its
    /// preview still, named after `name`.
    pub(crate) async fn video(&self, input: &Path, probe: &Probe, scratch: &Path, name: &str) -> Result<Video> {
        let video = probe.video.as_ref().ok_or_else(unprocessable)?;
        let size = Dimensions { width: video.width, height: video.height };
        if size.pixels() > MAX_VIDEO_PIXELS {
            return Err(Error::validation("Validation failed: File dimensions are too large"));
        }
        if video.frame_rate > MAX_FRAME_RATE {
            return Err(Error::validation("Validation failed: File frame rate is too high"));
        }
        let output = scratch.join(format!("{name}-original.mp4"));
        let mut command = Command::new(&self.ffmpeg);
        command.args(["-nostdin", "-v", "error", "-y", "-i"]).arg(input);
        command.args(["-map_metadata", "-1", "-movflags", "faststart"]);
        if probe.passes_through() {
            command.args(["-c", "copy"]);
        } else {
            // H.264 in 4:2:0 with even sides, at a constant frame rate; AAC when there is sound.
            command.args([
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-maxrate",
                "1300K",
                "-bufsize",
                "1300K",
                "-pix_fmt",
                "yuv420p",
                "-vf",
                "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "-fps_mode",
                "cfr",
            ]);
            command.args(["-frames:v", &MAX_FRAMES.to_string()]);
            if probe.audio.is_some() {
                command.args(["-c:a", "aac", "-b:a", "128k"]);
            } else {
                command.arg("-an");
            }
        }
        let written = Written(vec![output.clone()]);
        run(command.arg(&output)).await?;
        let preview = scratch.join(format!("{name}-small.png"));
        let mut written = written;
        written.0.push(preview.clone());
        let scale =
            format!("scale='min({PREVIEW_SIDE},iw)':'min({PREVIEW_SIDE},ih)':force_original_aspect_ratio=decrease");
        run(Command::new(&self.ffmpeg)
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(&output)
            .args(["-frames:v", "1", "-vf", &scale, "-map_metadata", "-1"])
            .arg(&preview))
        .await?;
        let kept = self.probe(&output).await?;
        written.keep();
        Ok(Video { original: output, preview, probe: kept })
    }

    /// `input` (audio) as MP3 in `scratch`, named after `name`.
    pub(crate) async fn audio(&self, input: &Path, probe: &Probe, scratch: &Path, name: &str) -> Result<PathBuf> {
        let audio = probe.audio.as_ref().ok_or_else(unprocessable)?;
        let output = scratch.join(format!("{name}-original.mp3"));
        let mut command = Command::new(&self.ffmpeg);
        command.args(["-nostdin", "-v", "error", "-y", "-i"]).arg(input);
        command.args(["-map_metadata", "-1", "-vn"]);
        if audio.codec == "mp3" {
            command.args(["-c:a", "copy"]);
        } else {
            command.args(["-c:a", "libmp3lame", "-q:a", "2"]);
        }
        let written = Written(vec![output.clone()]);
        run(command.arg(&output)).await?;
        written.keep();
        Ok(output)
    }
}

/// A video as kept: the MP4, its preview still and what the MP4 holds.
pub(crate) struct Video {
    pub original: PathBuf,
    pub preview: PathBuf,
    pub probe: Probe,
}

impl Video {
    /// Mastodon's `meta` of a video.
    pub(crate) fn meta(&self, preview: Dimensions) -> MediaMeta {
        MediaMeta {
            original: self.probe.video.as_ref().map(|v| Dimensions { width: v.width, height: v.height }),
            small: Some(preview),
            duration: self.probe.duration,
            fps: self.probe.video.as_ref().map(|v| v.frame_rate).filter(|f| *f > 0.0),
        }
    }

    /// `gifv` when it has no sound, `video` otherwise.
    pub(crate) fn kind(&self) -> MediaKind {
        if self.probe.audio.is_some() { MediaKind::Video } else { MediaKind::Gifv }
    }
}

/// What ffprobe tells of a file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Probe {
    pub format: String,
    pub duration: Option<f64>,
    pub video: Option<VideoStream>,
    pub audio: Option<AudioStream>,
}

#[derive(Clone, Debug)]
pub(crate) struct VideoStream {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    pub pix_fmt: String,
}

#[derive(Clone, Debug)]
pub(crate) struct AudioStream {
    pub codec: String,
}

impl Probe {
    /// Already what would be made: H.264 in 4:2:0 with even sides in MP4, AAC or no sound.
    fn passes_through(&self) -> bool {
        let Some(v) = &self.video else { return false };
        self.format.split(',').any(|f| f == "mp4")
            && v.codec == "h264"
            && v.pix_fmt == "yuv420p"
            && v.width % 2 == 0
            && v.height % 2 == 0
            && self.audio.as_ref().is_none_or(|a| a.codec == "aac")
    }
}

#[derive(Deserialize)]
struct RawProbe {
    #[serde(default)]
    streams: Vec<RawStream>,
    #[serde(default)]
    format: RawFormat,
}

#[derive(Deserialize, Default)]
struct RawFormat {
    #[serde(default)]
    format_name: String,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct RawStream {
    #[serde(default)]
    codec_type: String,
    #[serde(default)]
    codec_name: String,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    pix_fmt: Option<String>,
    #[serde(default)]
    disposition: RawDisposition,
}

#[derive(Deserialize, Default)]
struct RawDisposition {
    #[serde(default)]
    attached_pic: u8,
}

/// "30000/1001" as a number.
fn rate(raw: Option<&str>) -> Option<f64> {
    let (n, d) = raw?.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0 && n.is_finite() && d.is_finite()).then(|| n / d)
}

impl From<RawProbe> for Probe {
    fn from(raw: RawProbe) -> Probe {
        // Cover art in an audio file is a "video" stream too; it is no video.
        let video =
            raw.streams.iter().find(|s| s.codec_type == "video" && s.disposition.attached_pic == 0).and_then(|s| {
                Some(VideoStream {
                    codec: s.codec_name.clone(),
                    width: s.width?,
                    height: s.height?,
                    frame_rate: rate(s.avg_frame_rate.as_deref())
                        .or_else(|| rate(s.r_frame_rate.as_deref()))
                        .unwrap_or(0.0),
                    pix_fmt: s.pix_fmt.clone().unwrap_or_default(),
                })
            });
        let audio =
            raw.streams.iter().find(|s| s.codec_type == "audio").map(|s| AudioStream { codec: s.codec_name.clone() });
        Probe {
            format: raw.format.format_name,
            duration: raw.format.duration.and_then(|d| d.parse().ok()).filter(|d: &f64| d.is_finite() && *d >= 0.0),
            video,
            audio,
        }
    }
}

fn unprocessable() -> Error {
    Error::validation("Validation failed: File could not be processed")
}

/// Runs `command` to its end within [`TIME_LIMIT`], returning what it printed; a failure is
/// the file's fault (422), except a missing program.
async fn run(command: &mut Command) -> Result<Vec<u8>> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = command.spawn().map_err(|e| Error::internal(format!("starting ffmpeg: {e}")))?;
    let output = match tokio::time::timeout(TIME_LIMIT, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| Error::internal(format!("running ffmpeg: {e}")))?,
        // Dropping the wait kills the child.
        Err(_) => return Err(Error::validation("Validation failed: File took too long to process")),
    };
    if !output.status.success() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&output.stderr), "ffmpeg refused a file");
        return Err(unprocessable());
    }
    Ok(output.stdout)
}

/// Files an ffmpeg run writes, removed unless it succeeds.
struct Written(Vec<PathBuf>);

impl Written {
    fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}
