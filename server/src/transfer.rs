//! What file transfers need from HTTP: byte ranges, `Content-Disposition` with RFC 6266
//! file names, media types, percent-encoded names in headers, and a body stream that reports
//! whether it was sent to the end.

pub mod names;
pub mod range;
pub mod tracked;

pub use names::{content_disposition, decode_header_name, media_type};
pub use range::{RangeRequest, parse_range};
pub use tracked::Tracked;
