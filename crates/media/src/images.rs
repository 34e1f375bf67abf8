//! The media processor: images in-process with `image` (decode, encode) and
//! `fast_image_resize` (SIMD resize), under Mastodon's limits and sizes.
//!
//! An image is checked by the size its header declares before anything is decoded (a
//! decompression bomb allocates nothing), decoded once, downscaled to the original's size and
//! from that to the small one, then turned upright by its EXIF orientation (resizing first
//! makes the turn cheaper) and re-encoded without metadata. The CPU work runs on the blocking
//! pool, at most one image per CPU at a time, which also bounds the memory of a burst of uploads.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use fast_image_resize::images::Image as Pixels;
use fast_image_resize::{FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer};
use ferrodon_domain::model::{Dimensions, MediaKind, MediaMeta, Processed, ProcessedFile, ProfileImage};
use ferrodon_domain::ports::{MediaProcessor, Sniffed};
use ferrodon_kernel::{Error, Result};
use image::codecs::png::PngEncoder;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage, RgbaImage,
};
use tokio::sync::Semaphore;

use crate::av::Ffmpeg;

/// The largest image taken, in pixels (Mastodon's 7680×4320).
const MAX_PIXELS: u64 = 33_177_600;
/// The stored original is downscaled to at most this many pixels (3840×2160).
const ORIGINAL_PIXELS: u64 = 8_294_400;
/// The small version's pixels (640×360).
const SMALL_PIXELS: u64 = 230_400;
/// Blurhash components on each axis, as Mastodon computes them.
const BLURHASH_COMPONENTS: u32 = 4;
/// The blurhash is computed from the small version fitted into this square: four components
/// cannot tell it from the full small version, and it costs a hundredth.
const BLURHASH_SIDE: u32 = 100;
const JPEG_QUALITY: u8 = 85;
/// The size of a resize's intermediate band (see [`resize`]).
const BAND_BYTES: usize = 1 << 20;
/// What a decoder may allocate: a 33-megapixel image with alpha at 16 bits per channel, plus
/// the decoder's own buffers.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// The types this build processes (decodes and re-encodes).
const PROCESSED_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];
/// The video and audio types processed through ffmpeg (those the content tells apart).
const AV_TYPES: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "audio/wave",
    "audio/flac",
    "audio/3gpp",
];

/// The processor of uploads (images; see the crate's documentation for what waits for ffmpeg).
/// Clones share their permits.
#[derive(Clone, Debug)]
pub struct Processor {
    /// One permit per image being decoded or encoded, or per ffmpeg run.
    permits: Arc<Semaphore>,
    /// Video, audio and animated GIFs, when the machine has ffmpeg.
    ffmpeg: Option<Ffmpeg>,
}

impl Processor {
    /// A processor that works on as many images at once as there are CPUs.
    pub fn new() -> Self {
        Self::with_concurrency(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// A processor that works on at most `images` images at once (each holds its decoded
    /// pixels: about 60 MB for a 12-megapixel photo); others wait.
    pub fn with_concurrency(images: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(images.max(1))), ffmpeg: Ffmpeg::find() }
    }
}

impl Default for Processor {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl MediaProcessor for Processor {
    fn sniff(&self, head: &[u8]) -> Option<Sniffed> {
        crate::sniff::sniff(head)
    }

    async fn process(&self, input: &Path, sniffed: &Sniffed, scratch: &Path) -> Result<Processed> {
        let ffmpeg = self.ffmpeg.as_ref();
        let animated_gif = match ffmpeg {
            Some(_) if sniffed.content_type == "image/gif" => {
                let input = input.to_path_buf();
                self.run(move || Ok(is_animated_gif(&input))).await?
            }
            _ => false,
        };
        match (sniffed.kind, ffmpeg) {
            (MediaKind::Image, Some(ffmpeg)) if animated_gif => self.video(ffmpeg, input, scratch).await,
            (MediaKind::Video, Some(ffmpeg)) => self.video(ffmpeg, input, scratch).await,
            (MediaKind::Audio, Some(ffmpeg)) => self.audio(ffmpeg, input, scratch).await,
            _ => {
                check_processed(sniffed)?;
                let (input, scratch) = (input.to_path_buf(), scratch.to_path_buf());
                self.run(move || process_image(&input, &scratch)).await
            }
        }
    }

    async fn process_profile_image(
        &self,
        input: &Path,
        sniffed: &Sniffed,
        scratch: &Path,
        kind: ProfileImage,
    ) -> Result<ProcessedFile> {
        check_processed(sniffed)?;
        let (input, scratch) = (input.to_path_buf(), scratch.to_path_buf());
        self.run(move || process_profile_image(&input, &scratch, kind)).await
    }

    fn supported_types(&self) -> Vec<String> {
        let mut types: Vec<String> = PROCESSED_TYPES.iter().map(|t| t.to_string()).collect();
        if self.ffmpeg.is_some() {
            types.extend(AV_TYPES.iter().map(|t| t.to_string()));
        }
        types
    }
}

impl Processor {
    /// A video (or an animated GIF) made into an MP4 with a preview still and its blurhash.
    async fn video(&self, ffmpeg: &Ffmpeg, input: &Path, scratch: &Path) -> Result<Processed> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let probe = ffmpeg.probe(input).await?;
        if probe.video.is_none() && probe.audio.is_some() {
            // An MP4 or WebM with sound only.
            drop(_permit);
            return self.audio(ffmpeg, input, scratch).await;
        }
        let name = format!("{:016x}", rand::random::<u64>());
        let video = ffmpeg.video(input, &probe, scratch, &name).await?;
        let written = Written {
            scratch: scratch.to_path_buf(),
            paths: vec![video.original.clone(), video.preview.clone()],
            keep: false,
        };
        let preview_path = video.preview.clone();
        let (preview, blurhash) =
            tokio::task::spawn_blocking(move || still_blurhash(&preview_path)).await.map_err(Error::internal)??;
        let file = |path: &Path, content_type: &str, extension: &str, dimensions| -> Result<ProcessedFile> {
            let size = std::fs::metadata(path).map_err(Error::internal)?.len();
            Ok(ProcessedFile {
                path: path.to_path_buf(),
                content_type: content_type.into(),
                extension: extension.into(),
                size,
                dimensions,
            })
        };
        let processed = Processed {
            kind: video.kind(),
            meta: video.meta(preview),
            original: file(&video.original, "video/mp4", "mp4", video.meta(preview).original)?,
            small: Some(file(&video.preview, "image/png", "png", Some(preview))?),
            blurhash: Some(blurhash),
        };
        written.keep();
        Ok(processed)
    }

    /// An audio file made into an MP3, with its length.
    async fn audio(&self, ffmpeg: &Ffmpeg, input: &Path, scratch: &Path) -> Result<Processed> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let probe = ffmpeg.probe(input).await?;
        let name = format!("{:016x}", rand::random::<u64>());
        let path = ffmpeg.audio(input, &probe, scratch, &name).await?;
        let size = std::fs::metadata(&path).map_err(Error::internal)?.len();
        Ok(Processed {
            kind: MediaKind::Audio,
            meta: MediaMeta { duration: probe.duration, ..MediaMeta::default() },
            original: ProcessedFile {
                path,
                content_type: "audio/mpeg".into(),
                extension: "mp3".into(),
                size,
                dimensions: None,
            },
            small: None,
            blurhash: None,
        })
    }

    /// Runs `work` on the blocking pool once a permit is free. The permit goes with the work:
    /// it is released when the work ends, even when the caller stops waiting for it.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let permit = self.permits.clone().acquire_owned().await.map_err(Error::internal)?;
        let work = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        match work.await {
            Ok(result) => result,
            // A decoder that panics on a file is a bug in it, but the file is at fault too; what
            // the work had written was removed as it unwound.
            Err(e) if e.is_panic() => Err(unprocessable()),
            Err(e) => Err(Error::internal(e)),
        }
    }
}

fn check_processed(sniffed: &Sniffed) -> Result<()> {
    if sniffed.kind != MediaKind::Image || !PROCESSED_TYPES.contains(&sniffed.content_type.as_str()) {
        return Err(Error::validation("Validation failed: File content type is not supported yet"));
    }
    Ok(())
}

fn unprocessable() -> Error {
    Error::validation("Validation failed: File could not be processed")
}

fn too_large() -> Error {
    Error::validation("Validation failed: File dimensions are too large")
}

fn image_error(e: ImageError) -> Error {
    match e {
        ImageError::Limits(_) => too_large(),
        _ => unprocessable(),
    }
}

/// The format a version is stored in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Jpeg,
    Png,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }
    fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    }
}

/// An image as decoded: its pixels as stored in the file (not yet upright).
struct Decoded {
    pixels: Pixels<'static>,
    orientation: Orientation,
    format: Format,
    icc_profile: Option<Vec<u8>>,
}

fn process_image(input: &Path, scratch: &Path) -> Result<Processed> {
    let decoded = decode(input)?;
    let format = decoded.format;
    let stored = Dimensions { width: decoded.pixels.width(), height: decoded.pixels.height() };
    let turned = turns(decoded.orientation);
    let upright = if turned { swap(stored) } else { stored };

    let mut resizer = Resizer::new();
    let original_size = upright.fit_pixels(ORIGINAL_PIXELS);
    let original = resize(&mut resizer, decoded.pixels, if turned { swap(original_size) } else { original_size })?;
    let original = orient(original, decoded.orientation)?;
    let small_size = original_size.fit_pixels(SMALL_PIXELS);
    let small = resize_from(&mut resizer, &original, small_size)?;
    let blurhash = blurhash_of(&mut resizer, &small)?;

    let icc = decoded.icc_profile.as_deref();
    let name = format!("{:016x}", rand::random::<u64>());
    let mut files = Written::new(scratch);
    let original = files.write(&format!("{name}-original"), format, &original, icc)?;
    let small = files.write(&format!("{name}-small"), format, &small, icc)?;
    files.keep();
    Ok(Processed {
        kind: MediaKind::Image,
        meta: MediaMeta { original: original.dimensions, small: small.dimensions, ..MediaMeta::default() },
        original,
        small: Some(small),
        blurhash: Some(blurhash),
    })
}

/// Whether the GIF at `input` has more than one frame (an unreadable or oversized one has none).
fn is_animated_gif(input: &Path) -> bool {
    use image::AnimationDecoder;
    let Ok(file) = File::open(input) else { return false };
    let Ok(decoder) = image::codecs::gif::GifDecoder::new(BufReader::new(file)) else { return false };
    // Frames are as large as the canvas the header declares: one too large is decoded nowhere
    // (the still-image path refuses it from its header).
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return false;
    }
    decoder.into_frames().take(2).filter(|f| f.is_ok()).count() > 1
}

/// The size and blurhash of a preview still.
fn still_blurhash(path: &Path) -> Result<(Dimensions, String)> {
    let image = image::open(path).map_err(image_error)?.into_rgb8();
    let (width, height) = image.dimensions();
    let pixels = Pixels::from_vec_u8(width, height, image.into_raw(), PixelType::U8x3).map_err(Error::internal)?;
    Ok((Dimensions { width, height }, blurhash_of(&mut Resizer::new(), &pixels)?))
}

/// An avatar (the middle square of the image, at 400×400) or a header (the whole image within
/// 1500×500 pixels' worth), upright and without metadata.
fn process_profile_image(input: &Path, scratch: &Path, kind: ProfileImage) -> Result<ProcessedFile> {
    let decoded = decode(input)?;
    let (width, height) = (decoded.pixels.width(), decoded.pixels.height());
    let turned = turns(decoded.orientation);
    let mut resizer = Resizer::new();
    let pixels = match kind {
        ProfileImage::Avatar => {
            // The middle square is the same whichever way the image is turned.
            let side = width.min(height);
            let (left, top) = ((width - side) / 2, (height - side) / 2);
            let size = ProfileImage::AVATAR_SIDE;
            let mut dst = Pixels::new(size, size, decoded.pixels.pixel_type());
            let options = resize_options().crop(left as f64, top as f64, side as f64, side as f64);
            resizer.resize(&decoded.pixels, &mut dst, &options).map_err(Error::internal)?;
            dst
        }
        ProfileImage::Header => {
            let stored = Dimensions { width, height };
            let upright = if turned { swap(stored) } else { stored };
            let size = upright.fit_pixels(ProfileImage::HEADER_PIXELS);
            resize(&mut resizer, decoded.pixels, if turned { swap(size) } else { size })?
        }
    };
    let pixels = orient(pixels, decoded.orientation)?;
    let mut files = Written::new(scratch);
    let name = format!("{:016x}-{}", rand::random::<u64>(), kind.as_str());
    let file = files.write(&name, decoded.format, &pixels, decoded.icc_profile.as_deref())?;
    files.keep();
    Ok(file)
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(u16::MAX as u32);
    limits.max_image_height = Some(u16::MAX as u32);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Decodes the image at `input` into 8-bit RGB (RGBA when it has alpha and is kept as PNG),
/// after checking the size its header declares.
fn decode(input: &Path) -> Result<Decoded> {
    let file = File::open(input).map_err(|e| Error::internal(format!("opening {}: {e}", input.display())))?;
    let mut reader = ImageReader::new(BufReader::new(file)).with_guessed_format().map_err(Error::internal)?;
    let kind = reader.format();
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(too_large());
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc_profile = decoder.icc_profile().ok().flatten();
    let alpha = decoder.color_type().has_alpha();
    // JPEG stays JPEG and PNG stays PNG; a still GIF becomes PNG. image's WebP encoder is
    // lossless only, so WebP becomes PNG when it has alpha and JPEG otherwise.
    let format = match kind {
        Some(ImageFormat::Jpeg) => Format::Jpeg,
        Some(ImageFormat::Png | ImageFormat::Gif) => Format::Png,
        Some(ImageFormat::WebP) if alpha => Format::Png,
        Some(ImageFormat::WebP) => Format::Jpeg,
        _ => return Err(unprocessable()),
    };
    // An animated GIF or WebP decodes to its first frame.
    let image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    let pixels = if alpha && format == Format::Png {
        Pixels::from_vec_u8(width, height, image.into_rgba8().into_raw(), PixelType::U8x4)
    } else {
        Pixels::from_vec_u8(width, height, image.into_rgb8().into_raw(), PixelType::U8x3)
    }
    .map_err(Error::internal)?;
    Ok(Decoded { pixels, orientation, format, icc_profile })
}

/// Whether `orientation` turns the image by a quarter (swapping its width and height).
fn turns(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

fn swap(d: Dimensions) -> Dimensions {
    Dimensions { width: d.height, height: d.width }
}

fn resize_options() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
}

/// `src` at `size` (itself when it has that size already), resized in bands of rows: the
/// intermediate of the two passes (the source's width by the band's rows) then stays small and
/// in cache instead of being as large as the result. Each band's rows come from the same
/// source pixels and weights as in one whole resize.
fn resize(resizer: &mut Resizer, mut src: Pixels<'static>, size: Dimensions) -> Result<Pixels<'static>> {
    if (src.width(), src.height()) == (size.width, size.height) {
        return Ok(src);
    }
    let kind = src.pixel_type();
    // Alpha is premultiplied once here rather than by the resizer over the whole source for
    // every band.
    let alpha = kind == PixelType::U8x4;
    if alpha {
        MulDiv::default().multiply_alpha_inplace(&mut src).map_err(Error::internal)?;
    }
    let row = size.width as usize * kind.size();
    let band = (BAND_BYTES / (src.width() as usize * kind.size())).max(8);
    let scale = src.height() as f64 / size.height as f64;
    let mut dst = vec![0; row * size.height as usize];
    for (i, rows) in dst.chunks_mut(band * row).enumerate() {
        let height = (rows.len() / row) as u32;
        let top = (i * band) as f64 * scale;
        let source_rows = (height as f64 * scale).min(src.height() as f64 - top);
        let mut view = Pixels::from_slice_u8(size.width, height, rows, kind).map_err(Error::internal)?;
        let options = resize_options().use_alpha(false).crop(0.0, top, src.width() as f64, source_rows);
        resizer.resize(&src, &mut view, &options).map_err(Error::internal)?;
    }
    let mut dst = Pixels::from_vec_u8(size.width, size.height, dst, kind).map_err(Error::internal)?;
    if alpha {
        MulDiv::default().divide_alpha_inplace(&mut dst).map_err(Error::internal)?;
    }
    Ok(dst)
}

/// A copy of `src` at `size`.
fn resize_from(resizer: &mut Resizer, src: &Pixels<'_>, size: Dimensions) -> Result<Pixels<'static>> {
    if (src.width(), src.height()) == (size.width, size.height) {
        return Ok(src.copy());
    }
    let mut dst = Pixels::new(size.width, size.height, src.pixel_type());
    resizer.resize(src, &mut dst, &resize_options()).map_err(Error::internal)?;
    Ok(dst)
}

/// `pixels` turned upright.
fn orient(pixels: Pixels<'static>, orientation: Orientation) -> Result<Pixels<'static>> {
    if orientation == Orientation::NoTransforms {
        return Ok(pixels);
    }
    let (width, height, kind) = (pixels.width(), pixels.height(), pixels.pixel_type());
    let raw = pixels.into_vec();
    let mut image = match kind {
        PixelType::U8x4 => RgbaImage::from_raw(width, height, raw).map(DynamicImage::ImageRgba8),
        _ => RgbImage::from_raw(width, height, raw).map(DynamicImage::ImageRgb8),
    }
    .ok_or_else(|| Error::internal("pixel buffer of the wrong size"))?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let raw = match image {
        DynamicImage::ImageRgba8(i) => i.into_raw(),
        other => other.into_rgb8().into_raw(),
    };
    Pixels::from_vec_u8(width, height, raw, kind).map_err(Error::internal)
}

/// The blurhash of `small`, from a copy fitted into [`BLURHASH_SIDE`] pixels square.
fn blurhash_of(resizer: &mut Resizer, small: &Pixels<'_>) -> Result<String> {
    let (width, height) = (small.width(), small.height());
    let scale = (BLURHASH_SIDE as f64 / width.max(height) as f64).min(1.0);
    let size = Dimensions {
        width: ((width as f64 * scale).round() as u32).max(1),
        height: ((height as f64 * scale).round() as u32).max(1),
    };
    let tiny = resize_from(resizer, small, size)?;
    let rgba: Vec<u8> = match tiny.pixel_type() {
        PixelType::U8x4 => tiny.into_vec(),
        _ => tiny.buffer().chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
    };
    blurhash::encode(BLURHASH_COMPONENTS, BLURHASH_COMPONENTS, size.width, size.height, &rgba)
        .map_err(|e| Error::internal(format!("blurhash: {e:?}")))
}

/// JPEG at [`JPEG_QUALITY`] with 4:2:0 chroma subsampling, as libvips saves below quality 90.
fn encode_jpeg(out: &mut Vec<u8>, pixels: &Pixels<'_>, icc: Option<&[u8]>) -> Result<(), String> {
    let size = |side: u32| u16::try_from(side).map_err(|_| format!("side of {side} pixels"));
    let (width, height) = (size(pixels.width())?, size(pixels.height())?);
    let color = match pixels.pixel_type() {
        PixelType::U8x4 => jpeg_encoder::ColorType::Rgba,
        _ => jpeg_encoder::ColorType::Rgb,
    };
    let mut encoder = jpeg_encoder::Encoder::new(out, JPEG_QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    if let Some(icc) = icc {
        // A profile too large for APP2 segments is dropped rather than failing the image.
        let _ = encoder.add_icc_profile(icc);
    }
    encoder.encode(pixels.buffer(), width, height, color).map_err(|e| e.to_string())
}

/// The files a processing wrote into the scratch folder: removed again unless it succeeded.
struct Written {
    scratch: PathBuf,
    paths: Vec<PathBuf>,
    keep: bool,
}

impl Written {
    fn new(scratch: &Path) -> Self {
        Self { scratch: scratch.to_path_buf(), paths: Vec::new(), keep: false }
    }

    /// Encodes `pixels` as `format` into a new file named `name` (and the format's extension).
    fn write(&mut self, name: &str, format: Format, pixels: &Pixels<'_>, icc: Option<&[u8]>) -> Result<ProcessedFile> {
        let (width, height) = (pixels.width(), pixels.height());
        let mut bytes = Vec::with_capacity(pixels.buffer().len() / 4);
        let encoded = match format {
            Format::Jpeg => encode_jpeg(&mut bytes, pixels, icc),
            Format::Png => {
                let color = match pixels.pixel_type() {
                    PixelType::U8x4 => ExtendedColorType::Rgba8,
                    _ => ExtendedColorType::Rgb8,
                };
                let mut encoder = PngEncoder::new(&mut bytes);
                if let Some(icc) = icc {
                    let _ = encoder.set_icc_profile(icc.to_vec());
                }
                encoder.write_image(pixels.buffer(), width, height, color).map_err(|e| e.to_string())
            }
        };
        encoded.map_err(|e| Error::internal(format!("encoding {name}: {e}")))?;

        let path = self.scratch.join(format!("{name}.{}", format.extension()));
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
        self.paths.push(path.clone());
        file.write_all(&bytes).map_err(|e| Error::internal(format!("writing {}: {e}", path.display())))?;
        Ok(ProcessedFile {
            path,
            content_type: format.content_type().to_string(),
            extension: format.extension().to_string(),
            size: bytes.len() as u64,
            dimensions: Some(Dimensions { width, height }),
        })
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if !self.keep {
            for path in &self.paths {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(width: u32, height: u32, kind: PixelType) -> Pixels<'static> {
        let n = kind.size();
        let bytes = (0..width * height)
            .flat_map(|i| {
                let (x, y) = (i % width, i / width);
                let px = [
                    (x * 7 + y) as u8,
                    (y * 5) as u8,
                    ((x ^ y) * 3) as u8,
                    if x % 9 == 0 { 0 } else { (x + 128) as u8 },
                ];
                px.into_iter().take(n)
            })
            .collect();
        Pixels::from_vec_u8(width, height, bytes, kind).unwrap()
    }

    /// Resizing in bands gives what one whole resize gives (within rounding).
    #[test]
    fn bands_resize_like_a_whole_resize() {
        for kind in [PixelType::U8x3, PixelType::U8x4] {
            for (from, to) in [((600, 903), (377, 611)), ((500, 400), (133, 107)), ((200, 2000), (199, 1999))] {
                let src = pattern(from.0, from.1, kind);
                let whole = resize_from(&mut Resizer::new(), &src, Dimensions { width: to.0, height: to.1 }).unwrap();
                let banded = resize(&mut Resizer::new(), src, Dimensions { width: to.0, height: to.1 }).unwrap();
                assert_eq!((banded.width(), banded.height()), to);
                let worst = whole.buffer().iter().zip(banded.buffer()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
                assert!(worst <= 1, "{kind:?} {from:?} → {to:?}: off by {worst}");
            }
        }
    }
}
