//! Query normalization: the encoding rules of RFC 3986 §6.2.2 applied to each pair, plus the
//! optional sorting and pruning caches and signatures want.

use std::borrow::Cow;

use serde::Deserialize;

use super::QueryError;
use crate::syntax::percent::{is_control, is_pchar, push_normalized, units, Unit};

/// Options of [`query`]. By default only the encoding is normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct QueryOptions {
    /// Sort the pairs by key (a stable sort: the values of a repeated key keep their order,
    /// which `?tag=b&tag=a` may depend on). Default is `false`.
    pub sort: bool,
    /// Drop empty pairs: empty segments (`a=1&&b=2`, a leading or trailing `&`), `=` alone, and
    /// pairs whose value is empty (`a=`). A bare key without `=` (`?debug`) is kept: it often
    /// is a flag. Default is `false`.
    pub drop_empty: bool,
}

impl QueryOptions {
    /// The same options, sorting pairs by key or not.
    #[must_use]
    pub fn sort(mut self, sort: bool) -> Self {
        self.sort = sort;
        self
    }

    /// The same options, dropping empty pairs or not.
    #[must_use]
    pub fn drop_empty(mut self, drop: bool) -> Self {
        self.drop_empty = drop;
        self
    }
}

/// Normalizes a query string (without the `?`).
///
/// Each key and value gets the encoding rules of RFC 3986 §6.2.2: uppercase percent hex, decoded
/// unreserved characters, and characters a query may not hold encoded (a space → `%20`). `&`, `=`
/// and `+` are left as they are: they mean something to the application (`+` is a space to
/// HTML forms and a plus to others), and encoded ones stay encoded. Then pairs are sorted and
/// empty pairs dropped as `options` say. The result is borrowed when nothing changed; it may be
/// empty.
///
/// # Errors
///
/// A [`QueryError`] (a 400 answer) for a `%` not followed by two hex digits or a raw control
/// character. Encoded control characters are data (`%0A` from a textarea) and pass.
///
/// # Example
///
/// ```
/// use tollgate::normalize::{query, QueryOptions};
///
/// let opts = QueryOptions::default().sort(true).drop_empty(true);
/// assert_eq!(query("b=%7e&a=1&&c=&a=0", &opts).unwrap(), "a=1&a=0&b=~");
/// assert_eq!(query("q=a%2bb+c", &QueryOptions::default()).unwrap(), "q=a%2Bb+c");
/// ```
pub fn query<'a>(input: &'a str, options: &QueryOptions) -> Result<Cow<'a, str>, QueryError> {
    let encoded = normalize_encoding(input)?;
    if let Cow::Borrowed(plain) = encoded {
        if already_in_order(plain, options) {
            return Ok(Cow::Borrowed(input));
        }
    }
    let mut pairs: Vec<&str> = encoded.split('&').collect();
    if options.drop_empty {
        pairs.retain(|pair| !is_empty_pair(pair));
    }
    if options.sort {
        pairs.sort_by(|a, b| key(a).cmp(key(b)));
    }
    let out = pairs.join("&");
    if out == input {
        Ok(Cow::Borrowed(input))
    } else {
        Ok(Cow::Owned(out))
    }
}

/// Whether sorting and pruning as `options` say would leave `query` as it is, decided without
/// allocating. A stable sort leaves pairs already ordered by key where they are.
fn already_in_order(query: &str, options: &QueryOptions) -> bool {
    if !options.sort && !options.drop_empty {
        return true;
    }
    let mut previous: Option<&str> = None;
    for pair in query.split('&') {
        if options.drop_empty && is_empty_pair(pair) {
            return false;
        }
        if options.sort {
            let k = key(pair);
            if previous.is_some_and(|p| p > k) {
                return false;
            }
            previous = Some(k);
        }
    }
    true
}

fn key(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(k, _)| k)
}

fn is_empty_pair(pair: &str) -> bool {
    pair.is_empty() || pair.split_once('=').is_some_and(|(_, v)| v.is_empty())
}

fn normalize_encoding(input: &str) -> Result<Cow<'_, str>, QueryError> {
    let bytes = input.as_bytes();
    if bytes
        .iter()
        .all(|&b| b != b'%' && (is_pchar(b) || b == b'/' || b == b'?'))
    {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = String::with_capacity(input.len() + 8);
    for unit in units(input) {
        let unit = unit.map_err(|at| QueryError::MalformedPercent {
            query: crate::syntax::excerpt(input, 64),
            at,
        })?;
        match unit {
            Unit::Raw(b) if is_control(b) => {
                return Err(QueryError::ControlCharacter {
                    query: crate::syntax::excerpt(input, 64),
                    byte: b,
                })
            }
            // `query = *( pchar / "/" / "?" )`; `&` and `=` are sub-delims, so they stay.
            Unit::Raw(b) if is_pchar(b) || b == b'/' || b == b'?' => out.push(char::from(b)),
            Unit::Raw(b) | Unit::Encoded(b) => push_normalized(&mut out, b),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(input: &str, options: &QueryOptions) -> String {
        query(input, options).unwrap().into_owned()
    }

    #[test]
    fn normalizes_encoding_only_by_default() {
        let opts = QueryOptions::default();
        assert_eq!(norm("a=%7e%2d&b=%c3%a9", &opts), "a=~-&b=%C3%A9");
        assert_eq!(norm("a=x y&b=é", &opts), "a=x%20y&b=%C3%A9");
        assert_eq!(norm("b=1&&a=", &opts), "b=1&&a=");
        assert_eq!(norm("u=/p?q:r@s", &opts), "u=/p?q:r@s");
    }

    #[test]
    fn ordered_queries_are_borrowed() {
        let opts = QueryOptions::default().sort(true).drop_empty(true);
        for q in ["", "a=1", "a=1&a=0&b=2", "debug&x=1"] {
            let got = query(q, &opts).unwrap();
            assert!(matches!(got, Cow::Borrowed(_)), "{q:?}");
        }
        assert_eq!(norm("b=1&a=2", &opts), "a=2&b=1");
        assert_eq!(norm("a=1&b=", &opts), "a=1");
    }

    #[test]
    fn keeps_encoded_delimiters_encoded() {
        let opts = QueryOptions::default();
        assert_eq!(norm("a=%26%3d%2b", &opts), "a=%26%3D%2B");
        assert_eq!(norm("a=1+2", &opts), "a=1+2");
    }

    #[test]
    fn sorts_by_key_stably() {
        let opts = QueryOptions::default().sort(true);
        assert_eq!(norm("z=1&tag=b&a=2&tag=a", &opts), "a=2&tag=b&tag=a&z=1");
        assert_eq!(norm("b&a", &opts), "a&b");
    }

    #[test]
    fn drops_empty_pairs() {
        let opts = QueryOptions::default().drop_empty(true);
        assert_eq!(norm("&a=1&&b=&=&debug&", &opts), "a=1&debug");
        assert_eq!(norm("&&", &opts), "");
    }

    #[test]
    fn unchanged_queries_are_borrowed() {
        let opts = QueryOptions::default().sort(true).drop_empty(true);
        assert!(matches!(query("a=1&b=2", &opts), Ok(Cow::Borrowed(_))));
        assert!(matches!(query("", &opts), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn refuses_malformed_percent_and_controls() {
        let opts = QueryOptions::default();
        assert!(matches!(
            query("a=%zz", &opts),
            Err(QueryError::MalformedPercent { at: 2, .. })
        ));
        assert!(matches!(
            query("a=%4", &opts),
            Err(QueryError::MalformedPercent { .. })
        ));
        assert!(matches!(
            query("a=\r\n", &opts),
            Err(QueryError::ControlCharacter { .. })
        ));
        // Encoded controls are data.
        assert_eq!(norm("text=a%0ab", &opts), "text=a%0Ab");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn is_idempotent(input in "[a-z=&%+ 0-9A-F.~é]{0,40}", sort in any::<bool>(), drop in any::<bool>()) {
                let opts = QueryOptions { sort, drop_empty: drop };
                if let Ok(once) = query(&input, &opts) {
                    prop_assert_eq!(query(&once, &opts).ok(), Some(once.clone()));
                }
            }
        }
    }
}
