//! Which media boardcast accepts, recognised by their first bytes, never by a name or a
//! declared type alone: an upload is stored only when its content is one of these and agrees
//! with the type the client declared, so nothing active (HTML, SVG, scripts) can be served
//! from a node's origin.

/// A kind of content, with the one `Content-Type` it is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Mp4,
    Webm,
    Mp3,
    Ogg,
}

/// Bytes needed to tell every kind apart.
pub const SNIFF_LEN: usize = 64;

impl MediaKind {
    /// Recognises content from its first bytes (at least [`SNIFF_LEN`] of them, or all if
    /// shorter).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        let at =
            |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
        if at(0, b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if at(0, b"\xff\xd8\xff") {
            Some(Self::Jpeg)
        } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
            Some(Self::Gif)
        } else if at(0, b"RIFF") && at(8, b"WEBP") {
            Some(Self::Webp)
        } else if at(0, b"%PDF-") {
            Some(Self::Pdf)
        } else if at(4, b"ftyp") {
            // ISO media: HEIF/AVIF images and QuickTime share the box; only MP4 brands pass.
            let brand = head.get(8..12)?;
            let not_mp4: [&[u8]; 6] = [b"heic", b"heix", b"mif1", b"msf1", b"avif", b"qt  "];
            (!not_mp4.contains(&brand)).then_some(Self::Mp4)
        } else if at(0, b"\x1a\x45\xdf\xa3") {
            // EBML: WebM declares its doc type early; other Matroska files are refused.
            head.windows(4).any(|w| w == b"webm").then_some(Self::Webm)
        } else if at(0, b"OggS") {
            Some(Self::Ogg)
        } else if at(0, b"ID3") || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0) {
            Some(Self::Mp3)
        } else {
            None
        }
    }

    /// The type the content is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
            Self::Mp4 => "video/mp4",
            Self::Webm => "video/webm",
            Self::Mp3 => "audio/mpeg",
            Self::Ogg => "audio/ogg",
        }
    }

    /// Whether a client declaring `declared` (lowercase, without parameters) describes this
    /// content: containers that hold sound or pictures may be declared as either.
    pub fn matches_declared(self, declared: &str) -> bool {
        let accepted: &[&str] = match self {
            Self::Jpeg => &["image/jpeg", "image/jpg", "image/pjpeg"],
            Self::Mp4 => &["video/mp4", "audio/mp4"],
            Self::Webm => &["video/webm", "audio/webm"],
            Self::Mp3 => &["audio/mpeg", "audio/mp3"],
            Self::Ogg => &["audio/ogg", "video/ogg", "application/ogg"],
            other => return declared == other.content_type(),
        };
        accepted.contains(&declared)
    }

    pub fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::Gif | Self::Webp)
    }

    /// Sound or moving pictures, shown by a video slide.
    pub fn is_playable(self) -> bool {
        matches!(self, Self::Mp4 | Self::Webm | Self::Mp3 | Self::Ogg)
    }
}

/// A `Content-Type` header value reduced to its lowercase type: parameters dropped.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(head: &[u8]) -> Vec<u8> {
        let mut bytes = head.to_vec();
        bytes.resize(SNIFF_LEN, 0);
        bytes
    }

    #[test]
    fn each_accepted_kind_is_recognised_from_its_first_bytes() {
        let samples: [(&[u8], MediaKind); 10] = [
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", MediaKind::Png),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", MediaKind::Jpeg),
            (b"GIF89a\x01\0\x01\0", MediaKind::Gif),
            (b"RIFF\x24\0\0\0WEBPVP8 ", MediaKind::Webp),
            (b"%PDF-1.7\n", MediaKind::Pdf),
            (b"\0\0\0\x20ftypisom\0\0\x02\0", MediaKind::Mp4),
            (
                b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm",
                MediaKind::Webm,
            ),
            (b"ID3\x04\0\0\0\0\0\0", MediaKind::Mp3),
            (b"\xff\xfb\x90\x64", MediaKind::Mp3),
            (b"OggS\0\x02\0\0", MediaKind::Ogg),
        ];
        for (head, kind) in samples {
            assert_eq!(MediaKind::sniff(&padded(head)), Some(kind), "{head:?}");
        }
    }

    #[test]
    fn active_and_unknown_content_is_not_recognised() {
        for head in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\">"[..],
            b"<!DOCTYPE html><html>",
            b"<script>alert(1)</script>",
            b"\0\0\0\x18ftypheic\0\0\0\0",
            b"\0\0\0\x14ftypqt  \0\0\0\0",
            b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska",
            b"PK\x03\x04",
            b"",
            b"\0\0\0\x20ftyp",
        ] {
            assert_eq!(MediaKind::sniff(head), None, "{head:?}");
        }
    }

    #[test]
    fn declared_types_must_describe_the_content() {
        assert!(MediaKind::Jpeg.matches_declared("image/jpeg"));
        assert!(MediaKind::Jpeg.matches_declared("image/jpg"));
        assert!(!MediaKind::Jpeg.matches_declared("image/png"));
        assert!(MediaKind::Webm.matches_declared("audio/webm"));
        assert!(!MediaKind::Pdf.matches_declared("text/html"));
        assert_eq!(essence("Image/PNG; charset=binary"), "image/png");
    }
}
