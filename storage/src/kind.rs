//! What kind of file an upload is, told by its first bytes, with the extension as a fallback
//! for formats without a signature (ASCII STL, OBJ).

use serde::{Deserialize, Serialize};

/// How many leading bytes [`classify`] looks at (DICOM's marker sits at offset 128).
pub const SNIFF_LEN: usize = 132;

/// The kinds of file a practice exchanges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    /// JPEG, PNG, GIF, WebP, HEIC, TIFF, BMP.
    Photo,
    /// Intraoral or model scan: STL, PLY, OBJ.
    Scan,
    /// MP4/MOV, WebM/MKV, AVI.
    Video,
    /// DICOM (CBCT, radiographs).
    Dicom,
    /// PDF document.
    Pdf,
    /// Anything else.
    Other,
}

impl FileKind {
    /// A stable lower-case name for APIs.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileKind::Photo => "photo",
            FileKind::Scan => "scan",
            FileKind::Video => "video",
            FileKind::Dicom => "dicom",
            FileKind::Pdf => "pdf",
            FileKind::Other => "other",
        }
    }
}

/// Classifies a file by its first bytes (up to [`SNIFF_LEN`]) and, where the bytes carry no
/// signature, by its name's extension.
pub fn classify(name: &str, head: &[u8]) -> FileKind {
    if let Some(kind) = by_signature(head) {
        return kind;
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("stl" | "obj" | "ply") => FileKind::Scan,
        Some("dcm") if head.is_empty() => FileKind::Dicom,
        _ => FileKind::Other,
    }
}

fn by_signature(head: &[u8]) -> Option<FileKind> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if head.len() >= 132 && at(128, b"DICM") {
        Some(FileKind::Dicom)
    } else if starts(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if starts(&[0xFF, 0xD8, 0xFF])
        || starts(b"\x89PNG\r\n\x1a\n")
        || starts(b"GIF87a")
        || starts(b"GIF89a")
        || (starts(b"RIFF") && at(8, b"WEBP"))
        || starts(b"II*\0")
        || starts(b"MM\0*")
        || starts(b"BM")
        || (at(4, b"ftyp") && (at(8, b"heic") || at(8, b"heix") || at(8, b"mif1")))
    {
        Some(FileKind::Photo)
    } else if at(4, b"ftyp")
        || starts(&[0x1A, 0x45, 0xDF, 0xA3])
        || (starts(b"RIFF") && at(8, b"AVI "))
    {
        Some(FileKind::Video)
    } else if starts(b"ply\n") || starts(b"ply\r\n") {
        Some(FileKind::Scan)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_win_over_extensions() {
        assert_eq!(classify("x.stl", b"%PDF-1.7"), FileKind::Pdf);
        assert_eq!(
            classify("photo.pdf", &[0xFF, 0xD8, 0xFF, 0xE0]),
            FileKind::Photo
        );
        assert_eq!(classify("a", b"\x89PNG\r\n\x1a\n...."), FileKind::Photo);
        assert_eq!(classify("clip", b"\0\0\0\x18ftypmp42"), FileKind::Video);
        assert_eq!(classify("iphone", b"\0\0\0\x18ftypheic"), FileKind::Photo);
        assert_eq!(classify("scan", b"ply\nformat ascii 1.0"), FileKind::Scan);
        let mut dicom = vec![0u8; 132];
        dicom[128..].copy_from_slice(b"DICM");
        assert_eq!(classify("IM0001", &dicom), FileKind::Dicom);
    }

    #[test]
    fn extension_fallback_for_unsigned_formats() {
        assert_eq!(classify("jaw.STL", b"solid jaw"), FileKind::Scan);
        assert_eq!(classify("model.obj", b"v 1 2 3"), FileKind::Scan);
        assert_eq!(classify("notes.txt", b"hello"), FileKind::Other);
        assert_eq!(classify("fake.dcm", b"not dicom at all"), FileKind::Other);
    }
}
