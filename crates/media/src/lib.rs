//! Media backends: [`LocalFiles`] keeps files on local disk under Mastodon's key layout (served
//! by ferrodon itself), [`S3Files`] in an S3-compatible bucket (served by it or a CDN), and
//! [`Processor`] turns uploads into the files that are served.
//!
//! Processing is pure Rust and in-process: the type is decided from the content
//! ([`sniff`](ferrodon_domain::ports::MediaProcessor::sniff), never from a name), images are
//! decoded with limits checked before any pixel is allocated, turned upright by their EXIF
//! orientation, downscaled to Mastodon's sizes and re-encoded, which leaves no metadata (GPS
//! included) behind. Video, audio and animated GIFs go through the system's ffmpeg (when it has
//! one: otherwise they are refused with a validation error, and animated GIFs keep their first
//! frame); AVIF and HEIC are sniffed but refused.

mod av;
mod files;
mod images;
mod s3;
mod sniff;

pub use crate::files::LocalFiles;
pub use crate::images::Processor;
pub use crate::s3::S3Files;
