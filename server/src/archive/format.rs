//! The ZIP records this writer emits, byte for byte (PKWARE APPNOTE.TXT 6.3.10, sections 4.3
//! to 4.5), and their lengths. The writer and [`super::zip_len`] both take every decision
//! (ZIP64 or not, which extra fields) from the functions here, so the length computed up
//! front cannot drift from the bytes produced.
//!
//! Every entry is stored (method 0) with general-purpose flags bit 3 (CRC-32 and sizes follow
//! the data in a data descriptor; the local header carries zeros) and bit 11 (the name is
//! UTF-8). Each header carries an extended-timestamp extra field (0x5455) with the modification
//! time in UTC; the DOS date and time fields hold the same instant in UTC.

use bytes::{BufMut, BytesMut};
use time::OffsetDateTime;

use super::ZipEntry;

/// The largest value a 32-bit field can hold; in a size or offset field it means "see the
/// ZIP64 extra field", so a value equal to it also needs ZIP64.
const MAX_32: u64 = 0xFFFF_FFFF;
/// The same sentinel for 16-bit entry counts.
const MAX_16: u64 = 0xFFFF;

const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
const ZIP64_END_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const END_SIG: u32 = 0x0605_4b50;

/// Bit 3 (data descriptor) and bit 11 (UTF-8 names).
const FLAGS: u16 = (1 << 3) | (1 << 11);
/// Method 0: stored.
const METHOD_STORED: u16 = 0;
/// Version needed to extract: 2.0 without ZIP64, 4.5 with it.
const VERSION_BASIC: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Version made by: Unix (3, so the external attributes are a file mode), spec version 4.5.
const VERSION_MADE_BY: u16 = (3 << 8) | 45;
/// External attributes: a regular file, `rw-r--r--`.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

const ZIP64_EXTRA_ID: u16 = 0x0001;
const TIMESTAMP_EXTRA_ID: u16 = 0x5455;
/// Header (4) + flags (1) + modification time (4); the same in local and central headers.
const TIMESTAMP_EXTRA_LEN: u64 = 9;

const LOCAL_HEADER_FIXED: u64 = 30;
const CENTRAL_HEADER_FIXED: u64 = 46;
const ZIP64_END_LEN: u64 = 56;
const ZIP64_LOCATOR_LEN: u64 = 20;
const END_LEN: u64 = 22;

/// Whether an entry's sizes need ZIP64 (8-byte sizes in the extra fields and descriptor).
fn zip64_size(size: u64) -> bool {
    size >= MAX_32
}

/// Whether a local header at `offset` needs ZIP64 in its central directory record.
fn zip64_offset(offset: u64) -> bool {
    offset >= MAX_32
}

/// The name's length as stored; [`super::ArchiveError::PathTooLong`] rules out the rest.
fn name_len(entry: &ZipEntry) -> u16 {
    u16::try_from(entry.path.len()).unwrap_or(u16::MAX)
}

/// Whether the central directory needs the ZIP64 end records.
fn zip64_end(count: u64, cd_offset: u64, cd_size: u64) -> bool {
    count >= MAX_16 || cd_offset >= MAX_32 || cd_size >= MAX_32
}

fn local_extra_len(entry: &ZipEntry) -> u64 {
    TIMESTAMP_EXTRA_LEN + if zip64_size(entry.size) { 4 + 16 } else { 0 }
}

fn central_extra_len(entry: &ZipEntry, offset: u64) -> u64 {
    let fields =
        if zip64_size(entry.size) { 16 } else { 0 } + if zip64_offset(offset) { 8 } else { 0 };
    TIMESTAMP_EXTRA_LEN + if fields > 0 { 4 + fields } else { 0 }
}

/// Length of an entry's local header.
pub(super) fn local_header_len(entry: &ZipEntry) -> u64 {
    LOCAL_HEADER_FIXED + entry.path.len() as u64 + local_extra_len(entry)
}

/// Length of an entry's data descriptor.
pub(super) fn data_descriptor_len(entry: &ZipEntry) -> u64 {
    if zip64_size(entry.size) { 24 } else { 16 }
}

/// Length of an entry's local header, data and data descriptor together.
pub(super) fn entry_len(entry: &ZipEntry) -> u64 {
    local_header_len(entry)
        .saturating_add(entry.size)
        .saturating_add(data_descriptor_len(entry))
}

/// Length of an entry's central directory record, its local header being at `offset`.
pub(super) fn central_header_len(entry: &ZipEntry, offset: u64) -> u64 {
    CENTRAL_HEADER_FIXED + entry.path.len() as u64 + central_extra_len(entry, offset)
}

/// Length of the end records after a central directory of `count` records, `cd_size` bytes
/// long, starting at `cd_offset`.
pub(super) fn end_len(count: u64, cd_offset: u64, cd_size: u64) -> u64 {
    if zip64_end(count, cd_offset, cd_size) {
        ZIP64_END_LEN + ZIP64_LOCATOR_LEN + END_LEN
    } else {
        END_LEN
    }
}

fn version_needed(entry: &ZipEntry, offset: u64) -> u16 {
    if zip64_size(entry.size) || zip64_offset(offset) {
        VERSION_ZIP64
    } else {
        VERSION_BASIC
    }
}

fn put_timestamp_extra(buf: &mut BytesMut, entry: &ZipEntry) {
    buf.put_u16_le(TIMESTAMP_EXTRA_ID);
    buf.put_u16_le(5);
    buf.put_u8(1); // the modification time is present
    buf.put_u32_le(unix_seconds_32(entry.modified));
}

/// Appends the local file header of `entry`, which starts at `offset` in the archive.
pub(super) fn put_local_header(buf: &mut BytesMut, entry: &ZipEntry, offset: u64) {
    let (time, date) = dos_date_time(entry.modified);
    let zip64 = zip64_size(entry.size);
    buf.put_u32_le(LOCAL_HEADER_SIG);
    buf.put_u16_le(version_needed(entry, offset));
    buf.put_u16_le(FLAGS);
    buf.put_u16_le(METHOD_STORED);
    buf.put_u16_le(time);
    buf.put_u16_le(date);
    buf.put_u32_le(0); // CRC-32: in the data descriptor
    // Sizes: in the data descriptor; 0xFFFFFFFF announces 8-byte sizes there (4.3.9.2, 4.5.3).
    let size_field = if zip64 { u32::MAX } else { 0 };
    buf.put_u32_le(size_field);
    buf.put_u32_le(size_field);
    buf.put_u16_le(name_len(entry));
    buf.put_u16_le(local_extra_len(entry) as u16);
    buf.put_slice(entry.path.as_bytes());
    put_timestamp_extra(buf, entry);
    if zip64 {
        // A local ZIP64 extra field must hold both sizes; they are zero, as bit 3 asks.
        buf.put_u16_le(ZIP64_EXTRA_ID);
        buf.put_u16_le(16);
        buf.put_u64_le(0);
        buf.put_u64_le(0);
    }
}

/// Appends the data descriptor that follows the data of `entry`.
pub(super) fn put_data_descriptor(buf: &mut BytesMut, entry: &ZipEntry, crc: u32) {
    buf.put_u32_le(DATA_DESCRIPTOR_SIG);
    buf.put_u32_le(crc);
    if zip64_size(entry.size) {
        buf.put_u64_le(entry.size);
        buf.put_u64_le(entry.size);
    } else {
        buf.put_u32_le(entry.size as u32);
        buf.put_u32_le(entry.size as u32);
    }
}

/// Appends the central directory record of `entry`, whose local header is at `offset`.
pub(super) fn put_central_header(buf: &mut BytesMut, entry: &ZipEntry, crc: u32, offset: u64) {
    let (time, date) = dos_date_time(entry.modified);
    let big_size = zip64_size(entry.size);
    let big_offset = zip64_offset(offset);
    buf.put_u32_le(CENTRAL_HEADER_SIG);
    buf.put_u16_le(VERSION_MADE_BY);
    buf.put_u16_le(version_needed(entry, offset));
    buf.put_u16_le(FLAGS);
    buf.put_u16_le(METHOD_STORED);
    buf.put_u16_le(time);
    buf.put_u16_le(date);
    buf.put_u32_le(crc);
    let size_field = entry.size.min(MAX_32) as u32;
    buf.put_u32_le(size_field); // compressed size
    buf.put_u32_le(size_field); // uncompressed size
    buf.put_u16_le(name_len(entry));
    buf.put_u16_le(central_extra_len(entry, offset) as u16);
    buf.put_u16_le(0); // comment length
    buf.put_u16_le(0); // disk number start
    buf.put_u16_le(0); // internal attributes
    buf.put_u32_le(EXTERNAL_ATTRIBUTES);
    buf.put_u32_le(offset.min(MAX_32) as u32);
    buf.put_slice(entry.path.as_bytes());
    put_timestamp_extra(buf, entry);
    if big_size || big_offset {
        // Only the fields whose 32-bit slot holds 0xFFFFFFFF, in this fixed order (4.5.3).
        let len = if big_size { 16 } else { 0 } + if big_offset { 8 } else { 0 };
        buf.put_u16_le(ZIP64_EXTRA_ID);
        buf.put_u16_le(len);
        if big_size {
            buf.put_u64_le(entry.size); // uncompressed
            buf.put_u64_le(entry.size); // compressed
        }
        if big_offset {
            buf.put_u64_le(offset);
        }
    }
}

/// Appends the end records: the ZIP64 end of central directory record and locator when
/// needed, then the end of central directory record.
pub(super) fn put_end(buf: &mut BytesMut, count: u64, cd_offset: u64, cd_size: u64) {
    if zip64_end(count, cd_offset, cd_size) {
        let zip64_end_offset = cd_offset.saturating_add(cd_size);
        buf.put_u32_le(ZIP64_END_SIG);
        buf.put_u64_le(ZIP64_END_LEN - 12); // size of the rest of this record
        buf.put_u16_le(VERSION_MADE_BY);
        buf.put_u16_le(VERSION_ZIP64);
        buf.put_u32_le(0); // this disk
        buf.put_u32_le(0); // disk with the central directory
        buf.put_u64_le(count); // records on this disk
        buf.put_u64_le(count); // records in total
        buf.put_u64_le(cd_size);
        buf.put_u64_le(cd_offset);

        buf.put_u32_le(ZIP64_LOCATOR_SIG);
        buf.put_u32_le(0); // disk with the ZIP64 end record
        buf.put_u64_le(zip64_end_offset);
        buf.put_u32_le(1); // disks in total
    }
    let count_16 = count.min(MAX_16) as u16;
    buf.put_u32_le(END_SIG);
    buf.put_u16_le(0); // this disk
    buf.put_u16_le(0); // disk with the central directory
    buf.put_u16_le(count_16);
    buf.put_u16_le(count_16);
    buf.put_u32_le(cd_size.min(MAX_32) as u32);
    buf.put_u32_le(cd_offset.min(MAX_32) as u32);
    buf.put_u16_le(0); // comment length
}

/// Unix seconds for the extended-timestamp field, clamped to 1970–2038 (readers disagree on
/// whether the field is signed, so stay where they agree).
fn unix_seconds_32(modified_ms: i64) -> u32 {
    modified_ms.div_euclid(1000).clamp(0, i64::from(i32::MAX)) as u32
}

/// The MS-DOS (time, date) of a Unix time in milliseconds, in UTC, clamped to the range DOS
/// dates can hold (1980-01-01 00:00:00 to 2107-12-31 23:59:58).
pub(super) fn dos_date_time(modified_ms: i64) -> (u16, u16) {
    const EARLIEST: (u16, u16) = (0, (1 << 5) | 1);
    const LATEST: (u16, u16) = ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    let seconds = modified_ms.div_euclid(1000);
    let Ok(at) = OffsetDateTime::from_unix_timestamp(seconds) else {
        return if seconds < 0 { EARLIEST } else { LATEST };
    };
    match at.year() {
        ..1980 => EARLIEST,
        2108.. => LATEST,
        year => {
            let date = ((year - 1980) as u16) << 9
                | u16::from(u8::from(at.month())) << 5
                | u16::from(at.day());
            let time = u16::from(at.hour()) << 11
                | u16::from(at.minute()) << 5
                | u16::from(at.second() / 2);
            (time, date)
        }
    }
}
