//! The `Range` request header (RFC 9110 §14): one byte range, as the file download serves.
//!
//! Several ranges in one header are answered with the whole file (a server may ignore a
//! `Range` header), as is a header that does not parse. A range that parses but lies outside
//! the file is unsatisfiable (416).

use std::ops::Range;

/// What a `Range` header asks of a resource of a known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything with 200.
    Full,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// The range lies outside the resource: 416.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a resource of `size` bytes.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| -> Option<u64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    if first.is_empty() {
        // A suffix: the last N bytes.
        return match number(last) {
            None => RangeRequest::Full,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial(size.saturating_sub(n)..size),
        };
    }
    let Some(start) = number(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        size
    } else {
        match number(last) {
            Some(last) if last >= start => last.saturating_add(1).min(size),
            _ => return RangeRequest::Full,
        }
    };
    if start >= size {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Partial(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_every_form() {
        let size = 1000;
        let cases = [
            (None, RangeRequest::Full),
            (Some("bytes=0-0"), RangeRequest::Partial(0..1)),
            (Some("bytes=0-499"), RangeRequest::Partial(0..500)),
            (Some("bytes=500-"), RangeRequest::Partial(500..1000)),
            (Some("bytes=-100"), RangeRequest::Partial(900..1000)),
            (Some("bytes=-5000"), RangeRequest::Partial(0..1000)),
            (Some("bytes=990-5000"), RangeRequest::Partial(990..1000)),
            (Some("bytes=999-999"), RangeRequest::Partial(999..1000)),
            (Some("bytes=1000-"), RangeRequest::Unsatisfiable),
            (Some("bytes=1000-1001"), RangeRequest::Unsatisfiable),
            (Some("bytes=-0"), RangeRequest::Unsatisfiable),
            (Some("bytes=5-4"), RangeRequest::Full),
            (Some("bytes=0-1,5-6"), RangeRequest::Full),
            (Some("items=0-1"), RangeRequest::Full),
            (Some("bytes=abc"), RangeRequest::Full),
            (Some("bytes=+1-2"), RangeRequest::Full),
            (Some("bytes=-"), RangeRequest::Full),
            (Some("bytes=99999999999999999999999-"), RangeRequest::Full),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_range(header, size), expected, "{header:?}");
        }
    }

    #[test]
    fn an_empty_resource_satisfies_no_range() {
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-1"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range(None, 0), RangeRequest::Full);
    }
}
