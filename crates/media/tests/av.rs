//! Video, audio and animated GIFs through the system's ffmpeg, on files ffmpeg makes here.
//! Skipped with a printed reason without ffmpeg, except under `CI=true` (CI installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrodon_domain::model::{Dimensions, MediaKind, Processed};
use ferrodon_domain::ports::{MediaProcessor, Sniffed};
use ferrodon_kernel::ErrorKind;
use ferrodon_media::Processor;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, Rgba, RgbaImage};

fn have_ffmpeg() -> bool {
    if Command::new("ffmpeg").arg("-version").output().is_ok() {
        return true;
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "ffmpeg must be installed in CI");
    println!("skipped: ffmpeg is not installed");
    false
}

/// A folder of its own, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("ferrodon-av-{name}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(path.join("scratch")).unwrap();
        Self(path)
    }
    fn scratch(&self) -> PathBuf {
        self.0.join("scratch")
    }
    fn scratch_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.scratch()).unwrap().map(|e| e.unwrap().path()).collect()
    }
    /// A file ffmpeg makes from its test sources (`args` between the inputs and the output).
    fn make(&self, name: &str, inputs: &[&str], args: &[&str]) -> PathBuf {
        let path = self.0.join(name);
        let mut command = Command::new("ffmpeg");
        command.args(["-v", "error", "-y"]);
        for input in inputs {
            command.args(["-f", "lavfi", "-i", input]);
        }
        let status = command.args(args).arg(&path).status().unwrap();
        assert!(status.success(), "ffmpeg could not make {name}");
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What ffprobe says of a file's streams: `codec_type:codec_name` of each.
fn streams(path: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split(',').rev().collect::<Vec<_>>().join(":")).collect()
}

async fn process(path: &Path, dir: &Dir) -> ferrodon_kernel::Result<Processed> {
    let processor = Processor::new();
    let head = std::fs::read(path).unwrap();
    let sniffed: Sniffed = processor.sniff(&head[..head.len().min(512)]).expect("a known type");
    processor.process(path, &sniffed, &dir.scratch()).await
}

#[tokio::test]
async fn video_becomes_h264_mp4_with_a_preview_still() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Dir::new("video");
    // MPEG-4 part 2 and PCM in QuickTime, 321 pixels wide (odd), with sound.
    let clip = dir.make(
        "clip.mov",
        &["testsrc=duration=1:size=321x240:rate=25", "sine=frequency=440:duration=1"],
        &["-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"],
    );
    let p = process(&clip, &dir).await.unwrap();
    assert_eq!(p.kind, MediaKind::Video);
    assert_eq!((p.original.content_type.as_str(), p.original.extension.as_str()), ("video/mp4", "mp4"));
    assert_eq!(streams(&p.original.path), ["video:h264", "audio:aac"]);
    assert_eq!(p.meta.original, Some(Dimensions { width: 320, height: 240 }));
    assert!((p.meta.duration.unwrap() - 1.0).abs() < 0.2, "{:?}", p.meta);
    assert_eq!(p.meta.fps, Some(25.0));
    let small = p.small.as_ref().unwrap();
    assert_eq!(small.content_type, "image/png");
    assert_eq!(image::image_dimensions(&small.path).unwrap(), (320, 240));
    assert!(blurhash::decode(p.blurhash.as_deref().unwrap(), 8, 8, 1.0).is_ok());
    assert_eq!(dir.scratch_files().len(), 2);
}

#[tokio::test]
async fn a_fit_mp4_without_sound_is_kept_as_it_is_and_is_a_gifv() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Dir::new("gifv");
    let clip = dir.make(
        "loop.mp4",
        &["testsrc=duration=2:size=640x360:rate=30"],
        &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"],
    );
    let p = process(&clip, &dir).await.unwrap();
    assert_eq!(p.kind, MediaKind::Gifv);
    assert_eq!(streams(&p.original.path), ["video:h264"]);
    // Copied, not encoded again: the same size within the container's rearranging.
    let (before, after) = (std::fs::metadata(&clip).unwrap().len(), p.original.size);
    assert!(after.abs_diff(before) < before / 20, "{before} → {after}");
}

#[tokio::test]
async fn an_animated_gif_becomes_a_gifv_and_a_still_one_stays_an_image() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Dir::new("gif");
    let frames = (0..6u8).map(|i| {
        let image = RgbaImage::from_fn(100, 80, |x, y| Rgba([i * 40, x as u8 * 2, y as u8 * 3, 255]));
        Frame::from_parts(image, 0, 0, Delay::from_numer_denom_ms(100, 1))
    });
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        encoder.encode_frames(frames).unwrap();
    }
    let path = dir.0.join("anim.gif");
    std::fs::write(&path, &bytes).unwrap();
    let p = process(&path, &dir).await.unwrap();
    assert_eq!(p.kind, MediaKind::Gifv);
    assert_eq!(p.original.content_type, "video/mp4");
    assert_eq!(streams(&p.original.path), ["video:h264"]);
    assert_eq!(p.meta.original, Some(Dimensions { width: 100, height: 80 }));
}

#[tokio::test]
async fn audio_becomes_mp3_with_its_length() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Dir::new("audio");
    let wav = dir.make("tone.wav", &["sine=frequency=220:duration=2"], &[]);
    let p = process(&wav, &dir).await.unwrap();
    assert_eq!(p.kind, MediaKind::Audio);
    assert_eq!((p.original.content_type.as_str(), p.original.extension.as_str()), ("audio/mpeg", "mp3"));
    assert_eq!(streams(&p.original.path), ["audio:mp3"]);
    assert!((p.meta.duration.unwrap() - 2.0).abs() < 0.2, "{:?}", p.meta);
    assert!(p.small.is_none() && p.blurhash.is_none());
}

#[tokio::test]
async fn video_beyond_the_limits_or_broken_is_refused_leaving_nothing() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Dir::new("limits");
    let huge = dir.make("huge.mp4", &["color=size=4000x2200:duration=0.1:rate=10"], &["-c:v", "mpeg4"]);
    let e = process(&huge, &dir).await.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Validation, "Validation failed: File dimensions are too large")
    );
    let fast = dir.make("fast.mp4", &["testsrc=duration=0.1:size=64x48:rate=240"], &["-c:v", "mpeg4"]);
    let e = process(&fast, &dir).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation, "{}", e.message);
    // A real header and garbage after it.
    let mut broken =
        std::fs::read(dir.make("ok.mp4", &["testsrc=duration=1:size=64x48:rate=10"], &["-c:v", "mpeg4"])).unwrap();
    broken.truncate(64);
    broken.extend(std::iter::repeat_n(0x42, 4096));
    let path = dir.0.join("broken.mp4");
    std::fs::write(&path, &broken).unwrap();
    let e = process(&path, &dir).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation, "{}", e.message);
    assert_eq!(dir.scratch_files(), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn a_gif_declaring_a_huge_canvas_is_refused_without_decoding_it() {
    if !have_ffmpeg() {
        return;
    }
    let dir = Dir::new("gif-bomb");
    // Logical screen and one image of 65535×65535, two frames' worth of headers, no real data.
    let mut gif = b"GIF89a\xff\xff\xff\xff\x00\x00\x00".to_vec();
    for _ in 0..2 {
        gif.extend_from_slice(b"\x21\xf9\x04\x00\x0a\x00\x00\x00");
        gif.extend_from_slice(b"\x2c\x00\x00\x00\x00\xff\xff\xff\xff\x80\x00\x00\x00\xff\xff\xff");
        gif.extend_from_slice(b"\x02\x02\x44\x01\x00");
    }
    gif.push(0x3b);
    let path = dir.0.join("bomb.gif");
    std::fs::write(&path, &gif).unwrap();
    let e = process(&path, &dir).await.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Validation, "Validation failed: File dimensions are too large")
    );
    assert_eq!(dir.scratch_files(), Vec::<PathBuf>::new());
}
