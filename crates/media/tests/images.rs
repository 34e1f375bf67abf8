//! The image processor on images made here: sizes, orientation, metadata, formats, blurhash,
//! and the files it refuses (with nothing left behind in the scratch folder).

use std::path::{Path, PathBuf};

use ferrodon_domain::model::{Dimensions, MediaKind, Processed};
use ferrodon_domain::ports::{MediaProcessor, Sniffed};
use ferrodon_kernel::ErrorKind;
use ferrodon_media::Processor;
use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

/// A folder of its own under the system's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("ferrodon-media-{name}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(path.join("scratch")).unwrap();
        Self(path)
    }
    fn scratch(&self) -> PathBuf {
        self.0.join("scratch")
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
    fn scratch_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.scratch()).unwrap().map(|e| e.unwrap().path()).collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) % 256) as u8])
    })
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn png_rgba(image: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgba8)
        .unwrap();
    out
}

/// A TIFF-structured EXIF block: orientation `orientation` in IFD0, and a GPS IFD (version
/// 2.3, latitude reference "N") that must not survive processing.
fn exif(orientation: u16) -> Vec<u8> {
    let mut t = b"MM\0\x2A\0\0\0\x08".to_vec();
    // IFD0 at 8: two entries (2 + 2 * 12 + 4 = 30 bytes), so the GPS IFD starts at 38.
    t.extend_from_slice(&2u16.to_be_bytes());
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]); // Orientation, SHORT, 1
    t.extend_from_slice(&orientation.to_be_bytes());
    t.extend_from_slice(&[0, 0]);
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1]); // GPSInfo IFD pointer, LONG, 1
    t.extend_from_slice(&38u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD: GPSVersionID 2.3.0.0 and GPSLatitudeRef "N".
    t.extend_from_slice(&2u16.to_be_bytes());
    t.extend_from_slice(&[0x00, 0x00, 0, 1, 0, 0, 0, 4, 2, 3, 0, 0]);
    t.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    t.extend_from_slice(&0u32.to_be_bytes());
    let mut block = b"Exif\0\0".to_vec();
    block.extend_from_slice(&t);
    block
}

/// `jpeg` with an APP1 EXIF segment holding `exif` right after its SOI marker.
fn with_exif(jpeg: &[u8], exif: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The APPn segments of a JPEG (marker and payload), up to its first scan.
fn app_segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&jpeg[..2], b"\xFF\xD8");
    let mut segments = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA {
        let marker = jpeg[i + 1];
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if (0xE0..=0xEF).contains(&marker) {
            segments.push((marker, jpeg[i + 4..i + 2 + len].to_vec()));
        }
        i += 2 + len;
    }
    segments
}

fn sniffed(kind: MediaKind, content_type: &str) -> Sniffed {
    Sniffed { kind, content_type: content_type.to_string() }
}

async fn process(dir: &TempDir, name: &str, bytes: &[u8]) -> ferrodon_kernel::Result<Processed> {
    let processor = Processor::new();
    let input = dir.write(name, bytes);
    let sniffed = processor.sniff(&bytes[..bytes.len().min(64)]).expect("a supported type");
    processor.process(&input, &sniffed, &dir.scratch()).await
}

fn decode(path: &Path) -> image::DynamicImage {
    image::ImageReader::open(path).unwrap().with_guessed_format().unwrap().decode().unwrap()
}

fn dims(path: &Path) -> Dimensions {
    let (width, height) = image::image_dimensions(path).unwrap();
    Dimensions { width, height }
}

#[tokio::test]
async fn a_large_jpeg_is_downscaled_with_its_aspect() {
    let dir = TempDir::new("large");
    let p = process(&dir, "photo.jpg", &jpeg(&gradient(5000, 4000))).await.unwrap();
    assert_eq!(p.kind, MediaKind::Image);
    let original = p.meta.original.unwrap();
    assert!(original.pixels() <= 8_294_400 && original.pixels() > 8_200_000, "{original:?}");
    assert!((original.aspect() - 1.25).abs() < 0.001, "{original:?}");
    assert_eq!(original, Dimensions { width: 5000, height: 4000 }.fit_pixels(8_294_400));
    let small = p.meta.small.unwrap();
    assert!(small.pixels() <= 230_400 && small.pixels() > 225_000, "{small:?}");
    assert!((small.aspect() - 1.25).abs() < 0.01, "{small:?}");

    assert_eq!(p.original.content_type, "image/jpeg");
    assert_eq!(p.original.extension, "jpg");
    assert_eq!(p.original.dimensions, Some(original));
    assert_eq!(dims(&p.original.path), original);
    assert_eq!(p.original.size, std::fs::metadata(&p.original.path).unwrap().len());
    let small_file = p.small.as_ref().unwrap();
    assert_eq!((small_file.content_type.as_str(), small_file.extension.as_str()), ("image/jpeg", "jpg"));
    assert_eq!(dims(&small_file.path), small);
    assert!(p.original.path.starts_with(dir.scratch()) && small_file.path.starts_with(dir.scratch()));
    assert_eq!(dir.scratch_files().len(), 2);

    let hash = p.blurhash.unwrap();
    assert_eq!(hash.len(), 4 + 2 * 16, "4×4 components: {hash}");
    // Decoded at an eighth of the small version's size (a placeholder is drawn small and scaled).
    let (width, height) = (small.width / 8, small.height / 8);
    let pixels = blurhash::decode(&hash, width, height, 1.0).unwrap();
    assert_eq!(pixels.len(), (width * height * 4) as usize);
}

#[tokio::test]
async fn a_small_image_keeps_its_size() {
    let dir = TempDir::new("keep");
    let p = process(&dir, "photo.jpg", &jpeg(&gradient(400, 300))).await.unwrap();
    assert_eq!(p.meta.original, Some(Dimensions { width: 400, height: 300 }));
    assert_eq!(p.meta.small, Some(Dimensions { width: 400, height: 300 }));
}

#[tokio::test]
async fn exif_orientation_is_applied_and_metadata_removed() {
    let dir = TempDir::new("exif");
    // Left half red, right half blue: turned a quarter clockwise, red is on top.
    let image = RgbImage::from_fn(300, 200, |x, _| if x < 150 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 255]) });
    let bytes = with_exif(&jpeg(&image), &exif(6));
    assert!(app_segments(&bytes).iter().any(|(m, p)| *m == 0xE1 && p.starts_with(b"Exif\0\0")));
    assert_eq!(
        image::ImageReader::new(std::io::Cursor::new(&bytes)).with_guessed_format().unwrap().decode().unwrap().width(),
        300
    );

    let p = process(&dir, "turned.jpg", &bytes).await.unwrap();
    assert_eq!(p.meta.original, Some(Dimensions { width: 200, height: 300 }));
    assert_eq!(dims(&p.original.path), Dimensions { width: 200, height: 300 });
    let upright = decode(&p.original.path).into_rgb8();
    let (top, bottom) = (upright.get_pixel(100, 20), upright.get_pixel(100, 280));
    assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
    assert!(bottom[2] > 200 && bottom[0] < 60, "bottom is blue: {bottom:?}");

    for file in [&p.original, p.small.as_ref().unwrap()] {
        let out = std::fs::read(&file.path).unwrap();
        let segments = app_segments(&out);
        assert!(segments.iter().all(|(m, p)| !(*m == 0xE1 || p.starts_with(b"Exif"))), "no EXIF: {segments:?}");
        assert!(!out.windows(4).any(|w| w == b"Exif"), "no EXIF anywhere");
        // Read back, the file has no orientation left to apply.
        let mut decoder =
            image::ImageReader::open(&file.path).unwrap().with_guessed_format().unwrap().into_decoder().unwrap();
        use image::ImageDecoder;
        assert_eq!(decoder.exif_metadata().unwrap(), None);
    }
}

#[tokio::test]
async fn every_quarter_turn_swaps_the_sides() {
    let dir = TempDir::new("turns");
    let plain = jpeg(&gradient(64, 32));
    for (orientation, turned) in
        [(1, false), (2, false), (3, false), (4, false), (5, true), (6, true), (7, true), (8, true)]
    {
        let p = process(&dir, &format!("o{orientation}.jpg"), &with_exif(&plain, &exif(orientation))).await.unwrap();
        let expected = if turned { Dimensions { width: 32, height: 64 } } else { Dimensions { width: 64, height: 32 } };
        assert_eq!(p.meta.original, Some(expected), "orientation {orientation}");
    }
}

#[tokio::test]
async fn png_keeps_its_alpha() {
    let dir = TempDir::new("png");
    let image = RgbaImage::from_fn(1200, 800, |x, y| {
        Rgba([(x % 256) as u8, (y % 256) as u8, 90, if x < 600 { 0 } else { 255 }])
    });
    let p = process(&dir, "alpha.png", &png_rgba(&image)).await.unwrap();
    assert_eq!((p.original.content_type.as_str(), p.original.extension.as_str()), ("image/png", "png"));
    let small = p.small.as_ref().unwrap();
    assert_eq!((small.content_type.as_str(), small.extension.as_str()), ("image/png", "png"));
    assert_eq!(p.meta.original, Some(Dimensions { width: 1200, height: 800 }));
    assert_eq!(p.meta.small, Some(Dimensions { width: 587, height: 391 }));
    let out = decode(&small.path);
    assert!(out.color().has_alpha());
    let out = out.into_rgba8();
    assert_eq!(out.get_pixel(10, 10)[3], 0);
    assert_eq!(out.get_pixel(580, 10)[3], 255);
}

#[tokio::test]
async fn a_still_gif_becomes_png() {
    let dir = TempDir::new("gif");
    let image = RgbaImage::from_fn(120, 90, |x, y| Rgba([(x * 2) as u8, (y * 2) as u8, 0, 255]));
    let mut bytes = Vec::new();
    GifEncoder::new(&mut bytes).encode(image.as_raw(), 120, 90, ExtendedColorType::Rgba8).unwrap();
    let p = process(&dir, "still.gif", &bytes).await.unwrap();
    assert_eq!(p.kind, MediaKind::Image);
    assert_eq!(p.original.content_type, "image/png");
    assert_eq!(dims(&p.original.path), Dimensions { width: 120, height: 90 });
    assert!(p.blurhash.is_some());
}

#[tokio::test]
async fn webp_becomes_jpeg_or_png_by_its_alpha() {
    let dir = TempDir::new("webp");
    let mut opaque = Vec::new();
    WebPEncoder::new_lossless(&mut opaque)
        .write_image(gradient(200, 100).as_raw(), 200, 100, ExtendedColorType::Rgb8)
        .unwrap();
    let p = process(&dir, "opaque.webp", &opaque).await.unwrap();
    assert_eq!(p.original.content_type, "image/jpeg");
    assert_eq!(dims(&p.original.path), Dimensions { width: 200, height: 100 });

    let mut alpha = Vec::new();
    let image = RgbaImage::from_fn(200, 100, |x, _| Rgba([200, 10, 10, if x < 100 { 0 } else { 255 }]));
    WebPEncoder::new_lossless(&mut alpha).write_image(image.as_raw(), 200, 100, ExtendedColorType::Rgba8).unwrap();
    let p = process(&dir, "alpha.webp", &alpha).await.unwrap();
    assert_eq!(p.original.content_type, "image/png");
    assert!(decode(&p.original.path).color().has_alpha());
}

#[tokio::test]
async fn the_type_comes_from_the_content_not_the_name() {
    let dir = TempDir::new("names");
    let processor = Processor::new();
    let bytes = jpeg(&gradient(64, 48));
    let sniffed = processor.sniff(&bytes[..64]).unwrap();
    assert_eq!(sniffed, sniffed_image("image/jpeg"));
    let input = dir.write("actually-a-jpeg.png", &bytes);
    let p = processor.process(&input, &sniffed, &dir.scratch()).await.unwrap();
    assert_eq!(p.original.content_type, "image/jpeg");

    for head in [
        &b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>"[..],
        b"<!DOCTYPE html>\n<html><head><title>x</title></head><body></body></html>",
        &[0x5a, 0x13, 0x99, 0xc4, 0x02, 0x7f, 0xee, 0x31, 0x08, 0x8d, 0x44, 0xb0, 0x6e, 0x21, 0xf5, 0x90],
    ] {
        assert_eq!(processor.sniff(head), None);
    }
}

fn sniffed_image(content_type: &str) -> Sniffed {
    sniffed(MediaKind::Image, content_type)
}

#[tokio::test]
async fn supported_types_are_the_processed_ones() {
    let types = Processor::new().supported_types();
    assert_eq!(types[..4], ["image/jpeg", "image/png", "image/gif", "image/webp"]);
    // Video and audio with ffmpeg (tests/av.rs), which CI installs.
    let ffmpeg = std::process::Command::new("ffmpeg").arg("-version").output().is_ok();
    assert_eq!(types.contains(&"video/mp4".to_string()), ffmpeg, "{types:?}");
    assert_eq!(types.contains(&"audio/mpeg".to_string()), ffmpeg, "{types:?}");
}

#[tokio::test]
async fn heif_images_are_not_supported_yet_and_broken_video_is_refused() {
    let dir = TempDir::new("later");
    let input = dir.write("clip", b"\0\0\0\x18ftypisom\0\0\0\0isomavc1");
    let processor = Processor::new();
    // A video or audio file that is only a header: refused (as not processable with ffmpeg, as
    // not supported without).
    for s in [sniffed(MediaKind::Video, "video/mp4"), sniffed(MediaKind::Audio, "audio/mpeg")] {
        let e = processor.process(&input, &s, &dir.scratch()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{s:?}");
    }
    for s in [
        sniffed_image("image/avif"),
        sniffed_image("image/heic"),
        sniffed(MediaKind::Unknown, "application/octet-stream"),
    ] {
        let e = processor.process(&input, &s, &dir.scratch()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{s:?}");
        assert_eq!(e.message, "Validation failed: File content type is not supported yet");
    }
    assert!(dir.scratch_files().is_empty());
}

/// A PNG of `width`×`height` RGBA pixels, of which only the header is right.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1A\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    // A tiny zlib stream (a stored empty block), far too short for the pixels declared.
    chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn an_image_too_large_is_refused_from_its_header() {
    let dir = TempDir::new("bomb");
    for (width, height) in [(20_000, 20_000), (7681, 4320), (65_535, 600)] {
        let e = process(&dir, "bomb.png", &png_header_only(width, height)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        assert_eq!(e.message, "Validation failed: File dimensions are too large", "{width}×{height}");
    }
    // Just under the limit, the same file is decoded (and found wanting).
    let e = process(&dir, "under.png", &png_header_only(7680, 4320)).await.unwrap_err();
    assert_eq!(e.message, "Validation failed: File could not be processed");
    assert!(dir.scratch_files().is_empty());
}

#[tokio::test]
async fn a_jpeg_declaring_too_many_pixels_is_refused() {
    let dir = TempDir::new("jpeg-bomb");
    // A real JPEG header with its frame size raised to 65000×65000.
    let mut bytes = jpeg(&gradient(16, 16));
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
    let e = process(&dir, "bomb.jpg", &bytes).await.unwrap_err();
    assert_eq!(e.message, "Validation failed: File dimensions are too large");
}

#[tokio::test]
async fn a_broken_file_is_refused_and_leaves_nothing() {
    let dir = TempDir::new("broken");
    let png = png_rgba(&RgbaImage::from_fn(300, 300, |x, y| Rgba([x as u8, y as u8, (x ^ y) as u8, 255])));
    let mut garbage_jpeg = b"\xFF\xD8\xFF\xE0".to_vec();
    garbage_jpeg.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.png", png[..png.len() / 2].to_vec()),
        ("garbage.jpg", garbage_jpeg),
        ("header.gif", b"GIF89a\x10\0\x10\0\x80\0\0".to_vec()),
        ("riff.webp", b"RIFF\x40\0\0\0WEBPVP8 \x30\0\0\0garbage-garbage-garbage".to_vec()),
    ];
    let processor = Processor::new();
    for (name, bytes) in cases {
        let input = dir.write(name, &bytes);
        let sniffed = processor.sniff(&bytes).expect(name);
        let e = processor.process(&input, &sniffed, &dir.scratch()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{name}: {e}");
        assert_eq!(e.message, "Validation failed: File could not be processed", "{name}");
        assert!(dir.scratch_files().is_empty(), "{name}");
    }
    // Claimed to be an image, but nothing image can read.
    let input = dir.write("random.bin", &[0x42; 128]);
    let e = processor.process(&input, &sniffed_image("image/png"), &dir.scratch()).await.unwrap_err();
    assert_eq!(e.message, "Validation failed: File could not be processed");
    assert!(dir.scratch_files().is_empty());
}

#[tokio::test]
async fn many_at_once() {
    let dir = TempDir::new("parallel");
    let processor = std::sync::Arc::new(Processor::with_concurrency(2));
    let input = dir.write("photo.jpg", &jpeg(&gradient(640, 480)));
    let sniffed = sniffed_image("image/jpeg");
    let runs = (0..6).map(|_| {
        let (processor, input, sniffed, scratch) = (processor.clone(), input.clone(), sniffed.clone(), dir.scratch());
        tokio::spawn(async move { processor.process(&input, &sniffed, &scratch).await })
    });
    for run in runs.collect::<Vec<_>>() {
        run.await.unwrap().unwrap();
    }
    assert_eq!(dir.scratch_files().len(), 12, "unique names");
}
