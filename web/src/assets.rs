//! The static files (`static/`), embedded in the binary and served under `/static/`.

use std::sync::LazyLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its bytes.
    pub bytes: &'static [u8],
    /// Its media type.
    pub content_type: &'static str,
    /// A strong validator: a digest of the bytes, quoted.
    pub etag: String,
}

macro_rules! assets {
    ($($path:literal),+ $(,)?) => {
        &[$(($path, include_bytes!(concat!("../static/", $path)))),+]
    };
}

/// Every file under `static/` (a test keeps this list complete).
const FILES: &[(&str, &[u8])] = assets![
    "app.css",
    "favicon.svg",
    "icons.svg",
    "js/app.js",
    "js/login.js",
    "js/setup.js",
    "js/cases.js",
    "js/labels.js",
    "js/case.js",
    "js/documents.js",
    "js/upload.js",
    "js/case-shares.js",
    "js/grants.js",
    "js/share-dialog.js",
    "js/history.js",
    "js/shares.js",
    "js/account.js",
    "js/link.js",
    "js/org.js",
    "js/invite.js",
];

static ASSETS: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(path, bytes)| {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
            let hex: String = digest.as_ref()[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let asset = Asset {
                bytes,
                content_type: content_type(path),
                etag: format!("\"{hex}\""),
            };
            (*path, asset)
        })
        .collect()
});

/// The embedded file at `path` (relative to `static/`, e.g. `js/app.js`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, asset)| asset)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("static dir") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() {
                files_under(&entry.path(), &format!("{prefix}{name}/"), out);
            } else {
                out.push(format!("{prefix}{name}"));
            }
        }
    }

    #[test]
    fn every_static_file_is_embedded_with_its_type() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut on_disk = Vec::new();
        files_under(&root, "", &mut on_disk);
        for path in &on_disk {
            let asset = asset(path).unwrap_or_else(|| panic!("{path} is not in FILES"));
            assert_ne!(asset.content_type, "application/octet-stream", "{path}");
        }
        assert_eq!(
            on_disk.len(),
            FILES.len(),
            "FILES lists a file that is gone"
        );
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("js/nope.js").is_none());
    }

    #[test]
    fn scripts_stay_out_of_inline_handlers() {
        // The CSP forbids inline scripts; templates must not rely on them either.
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(templates).expect("templates") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("template");
            for needle in [
                " onclick=",
                " onload=",
                " onsubmit=",
                "javascript:",
                " style=",
            ] {
                assert!(!text.contains(needle), "{} uses {needle}", path.display());
            }
            for script in text.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap_or_default();
                assert!(tag.contains("src="), "{}: inline <script>", path.display());
            }
        }
    }
}
