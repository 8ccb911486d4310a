//! Making the entry paths of one archive unique before it is written.

use std::collections::HashSet;

use super::ZipEntry;

/// Renames entries whose path clashes with an earlier entry so every path in `entries` is
/// unique, deterministically: the first entry keeps its path, later ones get the first free
/// `" (n)"` suffix (n = 2, 3, …) before the extension of their last segment, so a second
/// `"scans/scan.stl"` becomes `"scans/scan (2).stl"`.
///
/// Paths clash when they are equal ignoring case (they would overwrite each other when
/// extracted on Windows or macOS), and a file clashes with a folder of the same path (`"a"`
/// beside `"a/b.jpg"`): the file is renamed. A suffix never takes a path that any entry has
/// in the input, so entries that do not clash keep their path.
///
/// The paths must already be valid relative, `/`-separated names without `..` segments or
/// control characters; this function does not check that.
pub fn make_paths_unique(entries: &mut [ZipEntry]) {
    let key = |path: &str| path.to_lowercase();
    let folders: HashSet<String> = entries
        .iter()
        .flat_map(|entry| {
            entry
                .path
                .match_indices('/')
                .map(|(at, _)| key(&entry.path[..at]))
        })
        .collect();
    let originals: HashSet<String> = entries.iter().map(|entry| key(&entry.path)).collect();
    let mut taken: HashSet<String> = HashSet::with_capacity(entries.len());

    for entry in entries.iter_mut() {
        let original = key(&entry.path);
        if !folders.contains(&original) && !taken.contains(&original) {
            taken.insert(original);
            continue;
        }
        let (stem, extension) = split_extension(&entry.path);
        let free = (2u64..)
            .map(|n| format!("{stem} ({n}){extension}"))
            .map(|candidate| (key(&candidate), candidate))
            .find(|(candidate_key, _)| {
                !taken.contains(candidate_key)
                    && !originals.contains(candidate_key)
                    && !folders.contains(candidate_key)
            });
        if let Some((candidate_key, candidate)) = free {
            taken.insert(candidate_key);
            entry.path = candidate;
        }
    }
}

/// Splits `path` before the extension of its last segment: `"a/b.tar.gz"` into `"a/b.tar"`
/// and `".gz"`. A leading dot (`".profile"`) is not an extension.
fn split_extension(path: &str) -> (&str, &str) {
    let segment_start = path.rfind('/').map_or(0, |at| at + 1);
    match path[segment_start..].rfind('.') {
        Some(dot) if dot > 0 => path.split_at(segment_start + dot),
        _ => (path, ""),
    }
}
