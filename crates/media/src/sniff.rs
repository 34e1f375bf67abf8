//! File types from their first bytes (magic numbers), never from a name or a claimed type: the
//! types an attachment may have, as Mastodon lists them.

use ferrodon_domain::model::MediaKind;
use ferrodon_domain::ports::Sniffed;

/// What `head` (the first bytes of a file) is, when it is a type an attachment may have.
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    let (kind, content_type) = sniff_type(head)?;
    Some(Sniffed { kind, content_type: content_type.to_string() })
}

fn sniff_type(head: &[u8]) -> Option<(MediaKind, &'static str)> {
    use MediaKind::{Audio, Image, Video};
    const PREFIXES: &[(&[u8], MediaKind, &str)] = &[
        (b"\xFF\xD8\xFF", Image, "image/jpeg"),
        (b"\x89PNG\r\n\x1A\n", Image, "image/png"),
        (b"GIF87a", Image, "image/gif"),
        (b"GIF89a", Image, "image/gif"),
        (b"\x1A\x45\xDF\xA3", Video, "video/webm"),
        (b"fLaC", Audio, "audio/flac"),
        (b"ID3", Audio, "audio/mpeg"),
        // MPEG audio frame sync: MPEG-1 and -2 layer III (with and without CRC).
        (b"\xFF\xFB", Audio, "audio/mpeg"),
        (b"\xFF\xFA", Audio, "audio/mpeg"),
        (b"\xFF\xF3", Audio, "audio/mpeg"),
        (b"\xFF\xF2", Audio, "audio/mpeg"),
        // AAC in ADTS frames (MPEG-4 and MPEG-2, no CRC).
        (b"\xFF\xF1", Audio, "audio/aac"),
        (b"\xFF\xF9", Audio, "audio/aac"),
    ];
    if let Some(&(_, kind, content_type)) = PREFIXES.iter().find(|(magic, ..)| head.starts_with(magic)) {
        return Some((kind, content_type));
    }
    if head.starts_with(b"RIFF") && head.len() >= 12 {
        return match &head[8..12] {
            b"WEBP" => Some((Image, "image/webp")),
            b"WAVE" => Some((Audio, "audio/wave")),
            _ => None,
        };
    }
    if head.starts_with(b"OggS") {
        // The first page holds the first packet right after its segment table: a Theora
        // identification header makes it a video.
        let packet = head.get(26).map(|&segments| 27 + segments as usize);
        let theora = packet.and_then(|p| head.get(p..)).is_some_and(|p| p.starts_with(b"\x80theora"));
        return Some(if theora { (Video, "video/ogg") } else { (Audio, "audio/ogg") });
    }
    if head.get(4..8) == Some(b"ftyp") {
        return iso_media(head);
    }
    None
}

/// ISO base media files (MP4, QuickTime, 3GPP, HEIF/AVIF), by the brands of their `ftyp` box.
fn iso_media(head: &[u8]) -> Option<(MediaKind, &'static str)> {
    use MediaKind::{Audio, Image, Video};
    let major: &[u8; 4] = head.get(8..12)?.try_into().ok()?;
    // The compatible brands follow the minor version, up to the end of the box.
    let box_end = head.get(0..4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize).unwrap_or(0);
    let compatible = head.get(16..box_end.min(head.len())).unwrap_or_default();
    let has = |brand: &[u8]| compatible.chunks_exact(4).any(|c| c == brand);
    Some(match major {
        b"avif" | b"avis" => (Image, "image/avif"),
        b"mif1" | b"msf1" if has(b"avif") || has(b"avis") => (Image, "image/avif"),
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => (Image, "image/heic"),
        b"qt  " => (Video, "video/quicktime"),
        b"M4A " | b"M4B " => (Audio, "audio/mp4"),
        [b'3', b'g', b'p' | b'2', _] => (Audio, "audio/3gpp"),
        b"isom" | b"iso2" | b"iso3" | b"iso4" | b"iso5" | b"iso6" | b"mp41" | b"mp42" | b"avc1" | b"M4V " | b"M4VH"
        | b"M4VP" | b"MSNV" | b"dash" | b"mmp4" | b"f4v " => (Video, "video/mp4"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len() as u32;
        let mut b = size.to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0, 0, 0, 0]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b.extend_from_slice(&[0, 0, 0, 8, b'f', b'r', b'e', b'e']);
        b
    }

    fn ogg(packet: &[u8]) -> Vec<u8> {
        let mut b = b"OggS\0\x02".to_vec();
        b.extend_from_slice(&[0; 20]); // granule, serial, sequence, checksum
        b.push(1); // one segment
        b.push(packet.len() as u8);
        b.extend_from_slice(packet);
        b
    }

    #[test]
    fn types_come_from_the_content() {
        type Case = (Vec<u8>, Option<(MediaKind, &'static str)>);
        let cases: Vec<Case> = vec![
            (b"\xFF\xD8\xFF\xE0\0\x10JFIF\0".to_vec(), Some((MediaKind::Image, "image/jpeg"))),
            (b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR".to_vec(), Some((MediaKind::Image, "image/png"))),
            (b"GIF89a\x01\0\x01\0".to_vec(), Some((MediaKind::Image, "image/gif"))),
            (b"RIFF\x24\0\0\0WEBPVP8 ".to_vec(), Some((MediaKind::Image, "image/webp"))),
            (b"RIFF\x24\0\0\0WAVEfmt ".to_vec(), Some((MediaKind::Audio, "audio/wave"))),
            (b"RIFF\x24\0\0\0AVI LIST".to_vec(), None),
            (ftyp(b"avif", &[b"mif1", b"avif"]), Some((MediaKind::Image, "image/avif"))),
            (ftyp(b"mif1", &[b"mif1", b"avif"]), Some((MediaKind::Image, "image/avif"))),
            (ftyp(b"heic", &[b"mif1", b"heic"]), Some((MediaKind::Image, "image/heic"))),
            (ftyp(b"mif1", &[b"mif1", b"heic"]), Some((MediaKind::Image, "image/heic"))),
            (ftyp(b"isom", &[b"isom", b"iso2", b"avc1", b"mp41"]), Some((MediaKind::Video, "video/mp4"))),
            (ftyp(b"mp42", &[b"mp42"]), Some((MediaKind::Video, "video/mp4"))),
            (ftyp(b"qt  ", &[b"qt  "]), Some((MediaKind::Video, "video/quicktime"))),
            (ftyp(b"M4A ", &[b"M4A ", b"mp42"]), Some((MediaKind::Audio, "audio/mp4"))),
            (ftyp(b"3gp4", &[b"3gp4"]), Some((MediaKind::Audio, "audio/3gpp"))),
            (ftyp(b"crx ", &[]), None),
            (b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01".to_vec(), Some((MediaKind::Video, "video/webm"))),
            (ogg(b"\x01vorbis\0\0\0\0"), Some((MediaKind::Audio, "audio/ogg"))),
            (ogg(b"OpusHead\x01"), Some((MediaKind::Audio, "audio/ogg"))),
            (ogg(b"\x80theora\x03\x02"), Some((MediaKind::Video, "video/ogg"))),
            (b"ID3\x04\0\0\0\0\0\0".to_vec(), Some((MediaKind::Audio, "audio/mpeg"))),
            (b"\xFF\xFB\x90\x64\0".to_vec(), Some((MediaKind::Audio, "audio/mpeg"))),
            (b"\xFF\xF1\x50\x80\0".to_vec(), Some((MediaKind::Audio, "audio/aac"))),
            (b"fLaC\0\0\0\x22".to_vec(), Some((MediaKind::Audio, "audio/flac"))),
            // Not attachments, whatever they are called.
            (b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(), None),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(), None),
            (b"<!DOCTYPE html><html><body>hi</body></html>".to_vec(), None),
            (b"%PDF-1.7\n".to_vec(), None),
            (b"PK\x03\x04".to_vec(), None),
            (b"\x7FELF\x02\x01\x01".to_vec(), None),
            (vec![0x13, 0x37, 0xC0, 0xDE, 0x42, 0x99, 0x01, 0xFE, 0x55, 0xAA, 0x00, 0x7E], None),
            (Vec::new(), None),
            (b"\xFF".to_vec(), None),
            (b"RIFF".to_vec(), None),
            (b"\0\0\0\x18ftyp".to_vec(), None),
        ];
        for (head, expected) in cases {
            let got = sniff(&head).map(|s| (s.kind, s.content_type));
            let expected = expected.map(|(k, t)| (k, t.to_string()));
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(&head[..head.len().min(24)]));
        }
    }
}
