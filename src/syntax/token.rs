//! The token and list grammar of HTTP header fields (RFC 9110 §5.6): tokens, quoted strings,
//! `name=value` parameters, comma-separated lists (quotes respected) and `q` weights. Shared by
//! content negotiation, `Forwarded` and cookies.

use http::{HeaderMap, HeaderName};

use super::is_tchar;

/// The quality of an entry without `q`: 1.000.
pub(crate) const Q_ONE: u16 = 1000;

/// Parses `token;q=x, token, ...` lists: at most `max` entries, names lower-cased, entries that
/// are not `valid` or do not parse skipped.
pub(crate) fn parse_tokens(
    header: &str,
    max: usize,
    valid: fn(&str) -> bool,
) -> Vec<(String, u16)> {
    split_outside_quotes(header, ',')
        .filter(|e| !e.trim().is_empty())
        .take(max)
        .filter_map(|entry| {
            let mut parts = split_outside_quotes(entry, ';');
            let name = parts.next()?.trim();
            if !valid(name) {
                return None;
            }
            let (_, q) = params_and_q(parts)?;
            Some((name.to_ascii_lowercase(), q))
        })
        .collect()
}

/// The `;name=value` parameters of a list entry up to its `q`, and the quality `q` gives
/// ([`Q_ONE`] without one); what follows `q` are accept-extensions, ignored. `None` when a
/// parameter or the `q` does not parse.
pub(crate) fn params_and_q<'a>(
    params: impl Iterator<Item = &'a str>,
) -> Option<(Vec<(String, String)>, u16)> {
    let mut before_q = Vec::new();
    for param in params {
        let (name, value) = parse_param(param)?;
        if name == "q" {
            return Some((before_q, parse_q(&value)?));
        }
        before_q.push((name, value));
    }
    Some((before_q, Q_ONE))
}

/// `name=value` or `name="quoted value"`; name lower-cased, value unquoted.
pub(crate) fn parse_param(param: &str) -> Option<(String, String)> {
    let (name, value) = param.split_once('=')?;
    let name = name.trim();
    let value = value.trim();
    if !is_token(name) {
        return None;
    }
    let value = if value.starts_with('"') {
        match quoted_string(value, 0) {
            Ok((text, end)) if end == value.len() => text,
            _ => return None,
        }
    } else if is_token(value) {
        value.to_owned()
    } else {
        return None;
    };
    Some((name.to_ascii_lowercase(), value))
}

/// Splits on `sep`, except inside double-quoted strings (with `\` escapes).
pub(crate) fn split_outside_quotes(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            if escaped {
                escaped = false;
            } else if in_quotes && c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quotes = !in_quotes;
            } else if c == sep && !in_quotes {
                rest = Some(&s[i + c.len_utf8()..]);
                return Some(&s[..i]);
            }
        }
        rest = None;
        if in_quotes {
            // An unbalanced quote: split the rest as if quotes were not special, so one bad
            // entry does not swallow the good ones after it.
            if let Some(i) = s.find(sep) {
                rest = Some(&s[i + sep.len_utf8()..]);
                return Some(&s[..i]);
            }
        }
        Some(s)
    })
}

/// An RFC 9110 token (`1*tchar`).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Why [`quoted_string`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuotedStringError {
    /// The input ended before the closing quote.
    Unterminated,
    /// A control character, a `\` escaping one, or text that is not UTF-8 once unescaped;
    /// `at` is where.
    Invalid { at: usize },
}

/// Reads the `quoted-string` (RFC 9110 §5.6.4) whose opening quote is at `input[start]`:
/// returns its unescaped text and the index just after the closing quote. `qdtext` and
/// `quoted-pair` take tab, visible ASCII, space and `obs-text`; control characters are refused.
pub(crate) fn quoted_string(
    input: &str,
    start: usize,
) -> Result<(String, usize), QuotedStringError> {
    let bytes = input.as_bytes();
    let allowed = |c: u8| c == b'\t' || (c >= 0x20 && c != 0x7f);
    let mut out = Vec::new();
    let mut pos = start + 1;
    loop {
        match bytes.get(pos).copied() {
            None => return Err(QuotedStringError::Unterminated),
            Some(b'"') => {
                pos += 1;
                break;
            }
            Some(b'\\') => match bytes.get(pos + 1).copied() {
                Some(c) if allowed(c) => {
                    out.push(c);
                    pos += 2;
                }
                _ => return Err(QuotedStringError::Invalid { at: pos }),
            },
            Some(c) if allowed(c) => {
                out.push(c);
                pos += 1;
            }
            Some(_) => return Err(QuotedStringError::Invalid { at: pos }),
        }
    }
    String::from_utf8(out)
        .map(|text| (text, pos))
        .map_err(|_| QuotedStringError::Invalid { at: pos })
}

/// Every field named `name`, joined with `,` (a list header may come on several lines).
pub(crate) fn joined(headers: &HeaderMap, name: &HeaderName) -> String {
    let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = values.next().unwrap_or_default().to_owned();
    values.fold(first, |mut acc, v| {
        acc.push(',');
        acc.push_str(v);
        acc
    })
}

/// Parses a qvalue (`0`, `0.5`, `1.000`) into thousandths; `None` when malformed.
pub fn parse_q(q: &str) -> Option<u16> {
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(Q_ONE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_q_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("0."), Some(0));
        assert_eq!(parse_q("1.001"), None);
        assert_eq!(parse_q("0.0001"), None);
        assert_eq!(parse_q("2"), None);
        assert_eq!(parse_q("-1"), None);
        assert_eq!(parse_q(".5"), None);
        assert_eq!(parse_q(""), None);
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted_string(r#""a\"b" rest"#, 0),
            Ok((r#"a"b"#.to_owned(), 6))
        );
        assert_eq!(quoted_string(r#"x="""#, 2), Ok((String::new(), 4)));
        assert_eq!(
            quoted_string(r#""abc"#, 0),
            Err(QuotedStringError::Unterminated)
        );
        assert_eq!(
            quoted_string(r#""a\"#, 0),
            Err(QuotedStringError::Invalid { at: 2 })
        );
        assert_eq!(
            quoted_string("\"a\nb\"", 0),
            Err(QuotedStringError::Invalid { at: 2 })
        );
        assert_eq!(quoted_string("\"\u{e9}\"", 0), Ok(("\u{e9}".to_owned(), 4)));
        // A parameter value is one whole quoted string, or nothing.
        assert_eq!(
            parse_param(r#"a="x\"y""#),
            Some(("a".into(), r#"x"y"#.into()))
        );
        assert_eq!(parse_param(r#"a="x"y""#), None);
        assert!(is_token("gzip") && !is_token("") && !is_token("a b"));
    }

    #[test]
    fn lists_keep_their_weights_and_skip_bad_entries() {
        let list = parse_tokens("gzip;q=0.5, \"x\", BR, deflate;q=2", 8, is_token);
        assert_eq!(list, [("gzip".to_owned(), 500), ("br".to_owned(), 1000)]);
        assert_eq!(parse_tokens("a, b, c", 2, is_token).len(), 2);
    }
}
