//! File names and media types at the HTTP edge: names sent in request headers
//! (percent-encoded UTF-8), `Content-Disposition` with the RFC 6266 / RFC 8187 `filename*`
//! parameter, and the media type a download is labelled with.

use casevault_storage::FileKind;

use crate::error::ApiError;

/// Decodes a file name sent in a request header: percent-encoded UTF-8 (raw UTF-8 is
/// accepted too). 400 when the bytes are not UTF-8 or an escape is malformed; the name
/// itself is checked by storage.
pub fn decode_header_name(raw: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).ok_or_else(bad_escape)?;
            let text = std::str::from_utf8(hex).map_err(|_| bad_escape())?;
            let byte = u8::from_str_radix(text, 16).map_err(|_| bad_escape())?;
            bytes.push(byte);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("The file name is not valid UTF-8.".into()))
}

fn bad_escape() -> ApiError {
    ApiError::BadRequest("The file name has a malformed percent escape.".into())
}

/// Characters RFC 8187 allows unescaped in an `ext-value` (`attr-char`).
fn is_attr_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte)
}

/// The `Content-Disposition` value for a download of `name`: `attachment` (or `inline`),
/// an ASCII `filename` fallback for old clients, and the exact name in `filename*`.
pub fn content_disposition(name: &str, inline: bool) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if is_attr_char(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The media type a file is served with, and whether a browser may show it inline: only
/// images, videos and PDFs whose contents were recognised as such (never SVG or HTML,
/// which could run script in the server's origin).
pub fn media_type(name: &str, kind: FileKind) -> (&'static str, bool) {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let by_extension = match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "tif" | "tiff" => "image/tiff",
        "bmp" => "image/bmp",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "pdf" => "application/pdf",
        "stl" => "model/stl",
        "obj" => "model/obj",
        "ply" => "application/x-ply",
        "dcm" => "application/dicom",
        "zip" => "application/zip",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    let previewable = matches!(
        (kind, by_extension),
        (
            FileKind::Photo,
            "image/jpeg" | "image/png" | "image/gif" | "image/webp"
        ) | (FileKind::Video, "video/mp4" | "video/webm")
            | (FileKind::Pdf, "application/pdf")
    );
    (by_extension, previewable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_decode_percent_escapes_and_raw_utf8() {
        assert_eq!(
            decode_header_name(b"Radiographie%20pr%C3%A9-op.dcm").ok(),
            Some("Radiographie pré-op.dcm".to_owned())
        );
        assert_eq!(
            decode_header_name("Zahnröntgen.png".as_bytes()).ok(),
            Some("Zahnröntgen.png".to_owned())
        );
        for bad in [&b"a%2"[..], b"a%zz", b"%FF%FE", b"\xff"] {
            assert!(decode_header_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dispositions_encode_every_name_safely() {
        assert_eq!(
            content_disposition("scan.stl", false),
            "attachment; filename=\"scan.stl\"; filename*=UTF-8''scan.stl"
        );
        assert_eq!(
            content_disposition("pré \"op\".pdf", true),
            "inline; filename=\"pr_ _op_.pdf\"; filename*=UTF-8''pr%C3%A9%20%22op%22.pdf"
        );
        let hostile = content_disposition("a\r\nSet-Cookie: x;.txt", false);
        assert!(!hostile.contains('\r') && !hostile.contains('\n'));
        assert!(http::HeaderValue::from_str(&hostile).is_ok());
    }

    #[test]
    fn only_recognised_media_preview_inline() {
        assert_eq!(media_type("x.JPG", FileKind::Photo), ("image/jpeg", true));
        assert_eq!(
            media_type("x.pdf", FileKind::Pdf),
            ("application/pdf", true)
        );
        assert!(!media_type("x.pdf", FileKind::Other).1);
        assert_eq!(
            media_type("x.svg", FileKind::Other),
            ("application/octet-stream", false)
        );
        assert!(!media_type("x.html", FileKind::Other).1);
        assert_eq!(media_type("x.stl", FileKind::Scan), ("model/stl", false));
    }
}
