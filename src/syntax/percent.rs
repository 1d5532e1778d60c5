//! Percent-encoding and the character classes of RFC 3986, shared by path and query
//! normalization (§6.2.2.1, §6.2.2.2) and host checks (§3.2.2).

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986 §2.3).
#[inline]
pub(crate) fn is_unreserved(b: u8) -> bool {
    CLASS[usize::from(b)] & UNRESERVED != 0
}

/// `pchar = unreserved / pct-encoded / sub-delims / ":" / "@"`, without the `%`.
#[inline]
pub(crate) fn is_pchar(b: u8) -> bool {
    CLASS[usize::from(b)] & PCHAR != 0
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2), the `%` included
/// (check the escapes with [`escapes_complete`]).
#[inline]
pub(crate) fn is_reg_name(b: u8) -> bool {
    b == b'%' || CLASS[usize::from(b)] & REG_NAME != 0
}

/// Whether every `%` in `bytes` starts a `%XX` escape (RFC 3986 §2.1): `%` alone is no host.
pub(crate) fn escapes_complete(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b != b'%' || decode_at(bytes, i).is_some())
}

const UNRESERVED: u8 = 1;
const PCHAR: u8 = 2;
const REG_NAME: u8 = 4;

/// One lookup per byte on the hot path instead of a chain of comparisons.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let unreserved = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        // `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="` (§2.2).
        let sub_delim = matches!(
            c,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        );
        if unreserved {
            table[b] |= UNRESERVED;
        }
        if unreserved || sub_delim || c == b':' || c == b'@' {
            table[b] |= PCHAR;
        }
        if unreserved || sub_delim {
            table[b] |= REG_NAME;
        }
        b += 1;
    }
    table
};

/// A control character: C0 or DEL.
#[inline]
pub(crate) fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One unit of a component: a raw byte, or the byte a `%XX` encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Raw(u8),
    Encoded(u8),
}

/// The units of `input`, left to right; `Err(at)` for a `%` at byte `at` not followed by two
/// hex digits (the walk ends there).
pub(crate) fn units(input: &str) -> impl Iterator<Item = Result<Unit, usize>> + '_ {
    let bytes = input.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *bytes.get(i)?;
        if b != b'%' {
            i += 1;
            return Some(Ok(Unit::Raw(b)));
        }
        match decode_at(bytes, i) {
            Some(decoded) => {
                i += 3;
                Some(Ok(Unit::Encoded(decoded)))
            }
            None => {
                let at = i;
                i = bytes.len();
                Some(Err(at))
            }
        }
    })
}

/// Appends an encoded byte the §6.2.2 way: decoded when unreserved, else `%XX` in uppercase.
pub(crate) fn push_normalized(out: &mut String, b: u8) {
    if is_unreserved(b) {
        out.push(char::from(b));
    } else {
        push_encoded(out, b);
    }
}

/// The byte a `%XX` at `bytes[i]` encodes, or `None` when the two hex digits are missing.
fn decode_at(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex_value(*bytes.get(i + 1)?)?;
    let lo = hex_value(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

/// Appends `%XX` with uppercase hex digits (§6.2.2.1).
pub(crate) fn push_encoded(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_rfc_3986() {
        for b in 0..=255u8 {
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            let sub_delim = b"!$&'()*+,;=".contains(&b);
            assert_eq!(is_unreserved(b), unreserved, "{b:#04x}");
            assert_eq!(
                is_pchar(b),
                unreserved || sub_delim || b == b':' || b == b'@',
                "{b:#04x}"
            );
            assert_eq!(
                is_reg_name(b),
                unreserved || sub_delim || b == b'%',
                "{b:#04x}"
            );
        }
    }

    #[test]
    fn escapes_are_complete_only_with_two_hex_digits() {
        assert!(escapes_complete(b"a%41b"));
        assert!(escapes_complete(b""));
        for bad in [&b"%"[..], b"a%4", b"%zz", b"%4g"] {
            assert!(!escapes_complete(bad), "{bad:?}");
        }
    }
}
