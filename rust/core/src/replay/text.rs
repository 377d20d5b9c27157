//! Reading venue files: plain or gzip text, and allocation-free field parsing.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// The whole file as bytes, gunzipped when it starts with the gzip magic number.
pub fn read_maybe_gz(path: &Path) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    File::open(path)?.read_to_end(&mut raw)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 6);
        MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        return Ok(out);
    }
    Ok(raw)
}

/// A cursor over one CSV line's comma-separated fields.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Fields { rest: line }
    }

    /// The next raw field, or `None` past the end.
    pub(crate) fn next_raw(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.iter().position(|&b| b == b',') {
            Some(i) => {
                let f = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Some(f)
            }
            None => {
                let f = self.rest;
                self.rest = &[];
                Some(f)
            }
        }
    }

    pub(crate) fn next_i64(&mut self) -> Option<i64> {
        parse_i64(self.next_raw()?)
    }
}

/// Parse a decimal integer with optional sign; `None` on anything else.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = if digits.len() < 19 {
            v * 10 + i64::from(d)
        } else {
            v.checked_mul(10)?.checked_add(i64::from(d))?
        };
    }
    Some(if neg { -v } else { v })
}

/// Parse a non-negative decimal number into an integer count of `1/scale` units, exactly
/// (`"4800.25"` with scale 100 is 480025). `None` if it has more decimals than `scale` allows.
pub(crate) fn parse_fixed(s: &[u8], scale: i64) -> Option<i64> {
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &body[..0]),
    };
    let mut v = if int.is_empty() { 0 } else { parse_i64(int)? };
    let mut unit = scale;
    for &b in frac {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        if unit % 10 != 0 {
            if d != 0 {
                return None;
            }
            continue;
        }
        unit /= 10;
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    v = v.checked_mul(unit)?;
    Some(if neg { -v } else { v })
}

/// Iterate the non-empty lines of a text buffer (LF or CRLF).
pub(crate) fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    buf.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_is_exact() {
        assert_eq!(parse_fixed(b"4800.25", 100), Some(480_025));
        assert_eq!(parse_fixed(b"4799", 100), Some(479_900));
        assert_eq!(parse_fixed(b"4800.5", 100), Some(480_050));
        assert_eq!(parse_fixed(b"4800.255", 100), None);
        assert_eq!(parse_fixed(b"4800.250", 100), Some(480_025));
        assert_eq!(parse_fixed(b"-1.5", 10), Some(-15));
        assert_eq!(parse_fixed(b"x", 10), None);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"-9999999999"), Some(-9_999_999_999));
        assert_eq!(parse_i64(b"12a"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"1703422805243925307"), Some(1_703_422_805_243_925_307));
        assert_eq!(parse_i64(b"9999999999999999999"), None);
    }
}
