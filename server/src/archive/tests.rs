//! Tests of the ZIP writer. Archives are read back by Python's `zipfile` (an independent
//! reader) wherever `python3` is installed; those tests print a note and pass without it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use serde_json::{Value, json};

use super::{ArchiveError, ZipEntry, format, make_paths_unique, zip_len, zip_stream};
use crate::error::BoxError;

/// 2024-03-15 12:34:57.789 UTC.
const MARCH_2024: i64 = 1_710_506_097_789;
/// 1975-06-01 00:00:00 UTC, before the DOS epoch.
const JUNE_1975: i64 = 170_812_800_000;

/// Reads the archive at `argv[1]` and compares it with the JSON list of expected members on
/// stdin (`name`, `size`, optional `hex` content and `date_time`). Every member is streamed,
/// never loaded whole, and its CRC-32 recomputed with zlib.
const CHECKER: &str = r#"
import json, sys, zipfile, zlib
expected = json.load(sys.stdin)
with zipfile.ZipFile(sys.argv[1]) as archive:
    bad = archive.testzip()
    assert bad is None, f"testzip found a bad member: {bad!r}"
    infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == [e["name"] for e in expected], f"names differ: {names[:20]!r}"
    for info, e in zip(infos, expected):
        assert info.compress_type == zipfile.ZIP_STORED, info
        assert info.flag_bits & 0x0808 == 0x0808, hex(info.flag_bits)
        assert info.file_size == info.compress_size == e["size"], (info, e["size"])
        if "date_time" in e:
            assert list(info.date_time) == e["date_time"], (info.date_time, e["date_time"])
        crc, length, content = 0, 0, bytearray()
        with archive.open(info) as member:
            while chunk := member.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
                length += len(chunk)
                if "hex" in e:
                    content += chunk
        assert length == e["size"], (info.filename, length)
        assert crc == info.CRC, (info.filename, hex(crc), hex(info.CRC))
        if "hex" in e:
            assert content.hex() == e["hex"], info.filename
print(f"zipfile read {len(infos)} entries")
"#;

fn entry(path: &str, size: u64, modified: i64) -> ZipEntry {
    ZipEntry {
        path: path.to_owned(),
        size,
        modified,
    }
}

/// Whether python3 runs here; prints why a test skips its read-back when it does not.
fn have_python() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("note: python3 not found; skipping the zipfile read-back");
    }
    found
}

/// Runs [`CHECKER`] on the archive at `path`, panicking with its output when it fails.
fn check_with_python(path: &Path, expected: &Value) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(CHECKER)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    let input = serde_json::to_vec(expected).expect("json");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("python3 output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "zipfile rejected the archive:\n{stdout}\n{stderr}"
    );
    eprintln!("{}", stdout.trim());
}

/// Every chunk of `archive` until its end or first error, and that error.
async fn drain<S>(archive: S) -> (Vec<u8>, Option<BoxError>)
where
    S: Stream<Item = Result<Bytes, BoxError>>,
{
    let mut archive = std::pin::pin!(archive);
    let mut bytes = Vec::new();
    while let Some(chunk) = archive.next().await {
        match chunk {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(error) => {
                assert!(
                    archive.next().await.is_none(),
                    "the stream goes on after an error"
                );
                return (bytes, Some(error));
            }
        }
    }
    (bytes, None)
}

/// The archive of `entries` whose data are `contents`, each yielded in 7-byte chunks after an
/// empty one.
fn archive_of(
    entries: Vec<ZipEntry>,
    contents: Vec<Vec<u8>>,
) -> impl Stream<Item = Result<Bytes, BoxError>> {
    zip_stream(entries, move |index, _entry| {
        let data = contents.get(index).cloned().unwrap_or_default();
        async move {
            let chunks: Vec<Result<Bytes, BoxError>> = std::iter::once(Bytes::new())
                .chain(data.chunks(7).map(Bytes::copy_from_slice))
                .map(Ok)
                .collect();
            Ok::<_, BoxError>(stream::iter(chunks))
        }
    })
}

/// Writes the archive of `entries`/`contents`, checks its length against [`zip_len`] and has
/// Python read it back, expecting every entry with its content and `date_times[i]` if given.
async fn round_trip(entries: Vec<ZipEntry>, contents: Vec<Vec<u8>>, date_times: &[[u16; 6]]) {
    let expected_len = zip_len(&entries);
    let expected: Vec<Value> = entries
        .iter()
        .zip(&contents)
        .enumerate()
        .map(|(index, (entry, data))| {
            let mut member = json!({
                "name": entry.path,
                "size": entry.size,
                "hex": data.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            });
            if let Some(date_time) = date_times.get(index) {
                member["date_time"] = json!(date_time);
            }
            member
        })
        .collect();
    let (bytes, error) = drain(archive_of(entries, contents)).await;
    assert!(error.is_none(), "unexpected error: {error:?}");
    assert_eq!(
        bytes.len() as u64,
        expected_len,
        "zip_len differs from the output"
    );
    if have_python() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), &bytes).expect("write archive");
        check_with_python(file.path(), &Value::Array(expected));
    }
}

#[tokio::test]
async fn empty_archive() {
    round_trip(Vec::new(), Vec::new(), &[]).await;
    assert_eq!(zip_len(&[]), 22, "an empty archive is one end record");
}

#[tokio::test]
async fn one_empty_file() {
    round_trip(
        vec![entry("empty.txt", 0, MARCH_2024)],
        vec![Vec::new()],
        &[],
    )
    .await;
}

#[tokio::test]
async fn nested_folders_with_non_ascii_names() {
    let files: Vec<(&str, Vec<u8>, i64)> = vec![
        (
            "Müller, Anna/Röntgen 2024-03/panorámica.jpg",
            (0..=255).collect(),
            MARCH_2024,
        ),
        (
            "Müller, Anna/notes.txt",
            b"Zahn 36: Karies\n".to_vec(),
            JUNE_1975,
        ),
        ("a/b/c/d/日本語の歯.stl", vec![0x42; 1000], 0),
        ("emoji 🦷.txt", Vec::new(), MARCH_2024),
        ("plain.bin", b"x".to_vec(), -1),
    ];
    let entries = files
        .iter()
        .map(|(path, data, modified)| entry(path, data.len() as u64, *modified))
        .collect();
    let contents = files.into_iter().map(|(_, data, _)| data).collect();
    // DOS times are UTC and rounded down to even seconds; dates before 1980 are clamped.
    let date_times = [
        [2024, 3, 15, 12, 34, 56],
        [1980, 1, 1, 0, 0, 0],
        [1980, 1, 1, 0, 0, 0],
        [2024, 3, 15, 12, 34, 56],
        [1980, 1, 1, 0, 0, 0],
    ];
    round_trip(entries, contents, &date_times).await;
}

#[tokio::test]
async fn zip_len_equals_the_output_length() {
    for count in [0usize, 1, 2, 5, 40] {
        let entries: Vec<ZipEntry> = (0..count)
            .map(|i| entry(&format!("{}/f{i}.bin", "d".repeat(i)), (i * i) as u64, 0))
            .collect();
        let contents = entries.iter().map(|e| vec![7u8; e.size as usize]).collect();
        let expected = zip_len(&entries);
        let (bytes, error) = drain(archive_of(entries, contents)).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(bytes.len() as u64, expected, "{count} entries");
    }
}

#[tokio::test]
async fn too_many_bytes_fail_before_they_are_yielded() {
    let entries = vec![entry("a.txt", 5, 0), entry("b.txt", 1, 0)];
    let header_len = format::local_header_len(&entries[0]) as usize;
    let archive = zip_stream(entries, |_, _| async {
        Ok::<_, BoxError>(stream::iter([Ok(Bytes::from_static(b"hello world"))]))
    });
    let (bytes, error) = drain(archive).await;
    let error = error.expect("the archive fails");
    assert_eq!(
        error.downcast_ref::<ArchiveError>(),
        Some(&ArchiveError::EntryTooLong {
            path: "a.txt".into(),
            declared: 5
        })
    );
    assert_eq!(bytes.len(), header_len, "only the local header went out");
}

#[tokio::test]
async fn too_few_bytes_fail() {
    let entries = vec![entry("a.txt", 3, 0), entry("b.txt", 6, 0)];
    let contents = vec![b"abc".to_vec(), b"short".to_vec()];
    let (_, error) = drain(archive_of(entries, contents)).await;
    let error = error.expect("the archive fails");
    assert_eq!(
        error.downcast_ref::<ArchiveError>(),
        Some(&ArchiveError::EntryTooShort {
            path: "b.txt".into(),
            declared: 6,
            actual: 5
        })
    );
}

#[tokio::test]
async fn an_overlong_path_fails_before_any_byte() {
    let entries = vec![entry(&"x".repeat(70_000), 0, 0)];
    let (bytes, error) = drain(archive_of(entries, vec![Vec::new()])).await;
    assert!(bytes.is_empty());
    let error = error.expect("the archive fails");
    assert_eq!(
        error.downcast_ref::<ArchiveError>(),
        Some(&ArchiveError::PathTooLong { len: 70_000 })
    );
}

#[tokio::test]
async fn entries_are_opened_lazily_in_order_one_at_a_time() {
    let entries: Vec<ZipEntry> = (0..4).map(|i| entry(&format!("f{i}"), 3, 0)).collect();
    let opened = Arc::new(Mutex::new(Vec::new()));
    let busy = Arc::new(AtomicBool::new(false));
    let archive = zip_stream(entries, {
        let opened = Arc::clone(&opened);
        let busy = Arc::clone(&busy);
        move |index, entry: &ZipEntry| {
            assert!(
                !busy.swap(true, Ordering::SeqCst),
                "{} opened while another is open",
                entry.path
            );
            opened.lock().expect("lock").push(index);
            let busy = Arc::clone(&busy);
            async move {
                // The stream marks itself finished once its last chunk has been taken.
                let chunks = stream::iter([Ok(Bytes::from_static(b"abc"))]).chain(stream::poll_fn(
                    move |_| {
                        busy.store(false, Ordering::SeqCst);
                        std::task::Poll::Ready(None)
                    },
                ));
                Ok::<_, BoxError>(chunks)
            }
        }
    });
    let mut archive = std::pin::pin!(archive);
    let first = archive.next().await.expect("a chunk").expect("no error");
    assert!(
        first.starts_with(b"PK\x03\x04"),
        "the first local header comes first"
    );
    assert!(
        opened.lock().expect("lock").is_empty(),
        "nothing is opened before its data is asked for"
    );
    while let Some(chunk) = archive.next().await {
        chunk.expect("no error");
    }
    assert_eq!(*opened.lock().expect("lock"), vec![0, 1, 2, 3]);
}

#[tokio::test]
async fn an_opener_error_ends_the_archive() {
    let calls = Arc::new(AtomicUsize::new(0));
    let entries = vec![entry("a", 0, 0), entry("b", 0, 0), entry("c", 0, 0)];
    let archive = zip_stream(entries, {
        let calls = Arc::clone(&calls);
        move |index, _: &ZipEntry| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if index == 1 {
                    return Err(BoxError::from("store unavailable"));
                }
                Ok(stream::empty::<Result<Bytes, BoxError>>())
            }
        }
    });
    let (_, error) = drain(archive).await;
    assert_eq!(
        error.expect("the archive fails").to_string(),
        "store unavailable"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "nothing is opened after the error"
    );
}

/// More than 65,535 entries need the ZIP64 end records.
#[tokio::test]
async fn more_than_65535_entries() {
    let count = 70_000;
    let entries: Vec<ZipEntry> = (0..count)
        .map(|i| entry(&format!("d{}/{i}.txt", i % 7), 0, 0))
        .collect();
    let expected: Vec<Value> = entries
        .iter()
        .map(|e| json!({"name": e.path, "size": 0}))
        .collect();
    let expected_len = zip_len(&entries);
    let (bytes, error) = drain(archive_of(entries, Vec::new())).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(bytes.len() as u64, expected_len);
    if have_python() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), &bytes).expect("write archive");
        check_with_python(file.path(), &Value::Array(expected));
    }
}

/// An entry over 4 GiB, and entries before and after it, need ZIP64 sizes, offsets and end
/// records. The archive is streamed to a file and read back by Python, never held in memory.
#[tokio::test]
async fn an_entry_over_4_gib() {
    const CHUNK: usize = 1 << 20;
    let big_size: u64 = (4 << 30) + 12_345;
    let entries = vec![
        entry("before.txt", 6, MARCH_2024),
        entry("scans/big.raw", big_size, MARCH_2024),
        entry("after.txt", 5, MARCH_2024),
    ];
    let expected_len = zip_len(&entries);
    let zeros = Bytes::from(vec![0u8; CHUNK]);
    let archive = zip_stream(entries, move |index, entry: &ZipEntry| {
        let size = entry.size;
        let zeros = zeros.clone();
        async move {
            let chunks: Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send + Unpin> = match index
            {
                0 => Box::new(stream::iter([Ok(Bytes::from_static(b"before"))])),
                1 => {
                    let full = size / CHUNK as u64;
                    let rest = (size % CHUNK as u64) as usize;
                    let tail = zeros.slice(..rest);
                    Box::new(
                        stream::iter((0..full).map(move |_| Ok(zeros.clone())))
                            .chain(stream::iter([Ok(tail)])),
                    )
                }
                _ => Box::new(stream::iter([Ok(Bytes::from_static(b"after"))])),
            };
            Ok::<_, BoxError>(chunks)
        }
    });

    let started = Instant::now();
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let mut out = std::io::BufWriter::new(file.reopen().expect("reopen"));
    let mut archive = std::pin::pin!(archive);
    let mut written = 0u64;
    while let Some(chunk) = archive.next().await {
        let chunk = chunk.expect("no error");
        written += chunk.len() as u64;
        out.write_all(&chunk).expect("write archive");
    }
    out.flush().expect("flush");
    drop(out);
    eprintln!("wrote {written} bytes in {:?}", started.elapsed());
    assert_eq!(written, expected_len, "zip_len differs from the output");

    if have_python() {
        let started = Instant::now();
        let expected = json!([
            {"name": "before.txt", "size": 6, "hex": "6265666f7265", "date_time": [2024, 3, 15, 12, 34, 56]},
            {"name": "scans/big.raw", "size": big_size, "date_time": [2024, 3, 15, 12, 34, 56]},
            {"name": "after.txt", "size": 5, "hex": "6166746572"},
        ]);
        check_with_python(file.path(), &expected);
        eprintln!("python read it back in {:?}", started.elapsed());
    }
}

#[test]
fn duplicate_paths_get_numbered_suffixes() {
    let mut entries: Vec<ZipEntry> = [
        "scan.stl",
        "scan.stl",
        "Scan.STL",
        "scan (2).stl",
        "x/a.tar.gz",
        "x/a.tar.gz",
        ".profile",
        ".profile",
        "README",
        "readme",
        "unique.txt",
    ]
    .iter()
    .map(|path| entry(path, 0, 0))
    .collect();
    make_paths_unique(&mut entries);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "scan.stl",
            "scan (3).stl", // "scan (2).stl" is another entry's path
            "Scan (4).STL",
            "scan (2).stl",
            "x/a.tar.gz",
            "x/a.tar (2).gz",
            ".profile",
            ".profile (2)",
            "README",
            "readme (2)",
            "unique.txt",
        ]
    );
}

#[test]
fn a_file_named_like_a_folder_is_renamed() {
    let mut entries = vec![
        entry("case/x", 0, 0),
        entry("case/x/y.jpg", 0, 0),
        entry("Case", 0, 0),
    ];
    make_paths_unique(&mut entries);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["case/x (2)", "case/x/y.jpg", "Case (2)"]);
}

#[test]
fn unique_paths_are_left_alone() {
    let original: Vec<ZipEntry> = ["a/b.jpg", "a/c.jpg", "b.jpg", "a b/c.jpg"]
        .iter()
        .map(|path| entry(path, 1, 0))
        .collect();
    let mut entries = original.clone();
    make_paths_unique(&mut entries);
    assert_eq!(entries, original);
}

#[test]
fn dos_times_are_clamped_to_their_range() {
    assert_eq!(format::dos_date_time(i64::MIN), (0, (1 << 5) | 1));
    assert_eq!(format::dos_date_time(JUNE_1975), (0, (1 << 5) | 1));
    let latest = ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    assert_eq!(format::dos_date_time(i64::MAX), latest);
    // 2200-01-01 is past 2107.
    assert_eq!(format::dos_date_time(7_258_118_400_000), latest);
}
