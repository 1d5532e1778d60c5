//! [`MultiMap`]: insertion-ordered keys with several values each, for query strings, forms
//! and header views.
//!
//! # Example
//!
//! ```
//! use tollgate::MultiMap;
//!
//! let args = MultiMap::parse_query("x=1&x=2&y=%C3%A9", 100).unwrap();
//! assert_eq!(args.get("x"), Some("1"));
//! assert_eq!(args.get_all("x").collect::<Vec<_>>(), ["1", "2"]);
//! assert_eq!(args.get("y"), Some("é"));
//!
//! #[derive(serde::Deserialize)]
//! struct Query { y: String }
//! assert_eq!(args.deserialize::<Query>().unwrap().y, "é");
//! ```

use std::fmt;

/// Default maximum number of pairs in a query string or urlencoded form: 1 000, Werkzeug's
/// `max_form_parts`.
pub const DEFAULT_MAX_PAIRS: usize = 1000;

/// Ordered keys with several values per key. `V` is `String` for queries and forms, and
/// [`UploadedFile`](crate::form) for uploads.
#[derive(Clone, PartialEq, Eq)]
pub struct MultiMap<V = String> {
    entries: Vec<(String, V)>,
}

/// A query string or form body that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// More pairs than the limit allows.
    TooManyPairs {
        /// The limit that was passed.
        limit: usize,
    },
    /// A key or value is not valid UTF-8 after percent-decoding.
    InvalidUtf8 {
        /// The raw (still encoded) pair, cut to 64 bytes.
        pair: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooManyPairs { limit } => {
                write!(f, "too many key=value pairs: the limit is {limit}")
            }
            ParseError::InvalidUtf8 { pair } => {
                write!(f, "pair `{pair}` is not valid UTF-8 once percent-decoded")
            }
        }
    }
}

impl std::error::Error for ParseError {}

impl crate::error::ClientError for ParseError {}

/// A [`MultiMap`] that did not fit a serde struct.
#[derive(Debug)]
pub struct DeserializeError(serde_urlencoded::de::Error);

impl fmt::Display for DeserializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid parameters: {}", self.0)
    }
}

impl std::error::Error for DeserializeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl crate::error::ClientError for DeserializeError {}

impl<V> Default for MultiMap<V> {
    fn default() -> Self {
        MultiMap {
            entries: Vec::new(),
        }
    }
}

impl<V> MultiMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value for `key`.
    pub fn get(&self, key: &str) -> Option<&V::Target>
    where
        V: std::ops::Deref,
    {
        self.get_ref(key).map(|v| &**v)
    }

    /// The first value for `key`, as stored.
    pub fn get_ref(&self, key: &str) -> Option<&V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Every value for `key`, in insertion order (Werkzeug's `getlist`).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a V::Target> + 'a
    where
        V: std::ops::Deref,
    {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| &**v)
    }

    /// Every value for `key`, as stored, in insertion order (e.g. every uploaded file of a field).
    pub fn get_all_ref<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a V> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` has at least one value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// Adds a value after the existing ones.
    pub fn append(&mut self, key: impl Into<String>, value: V) {
        self.entries.push((key.into(), value));
    }

    /// Replaces every value of `key` with `value`, keeping the position of the first one.
    pub fn insert(&mut self, key: impl Into<String>, value: V) {
        let key = key.into();
        match self.entries.iter().position(|(k, _)| *k == key) {
            Some(first) => {
                self.entries[first].1 = value;
                let mut i = 0;
                self.entries.retain(|(k, _)| {
                    i += 1;
                    i - 1 == first || *k != key
                });
            }
            None => self.entries.push((key, value)),
        }
    }

    /// Removes every value of `key`, returning them.
    pub fn remove(&mut self, key: &str) -> Vec<V> {
        let (removed, kept) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|(k, _)| k == key);
        self.entries = kept;
        removed.into_iter().map(|(_, v)| v).collect()
    }

    /// Every pair in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The distinct keys, in order of first appearance.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(move |k| seen.insert(*k))
    }

    /// The number of pairs (not of distinct keys).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl MultiMap<String> {
    /// Parses an `application/x-www-form-urlencoded` string (a query string or a form body):
    /// `+` is a space, `%XX` is decoded, malformed `%` sequences are kept as written (as
    /// browsers and Werkzeug do).
    ///
    /// # Errors
    ///
    /// More than `max_pairs` pairs, or a pair that is not UTF-8 once decoded.
    pub fn parse_query(query: &str, max_pairs: usize) -> Result<Self, ParseError> {
        Self::parse_urlencoded(query.as_bytes(), max_pairs)
    }

    /// Like [`parse_query`](Self::parse_query), from bytes.
    ///
    /// # Errors
    ///
    /// More than `max_pairs` pairs, or a pair that is not UTF-8 once decoded.
    pub fn parse_urlencoded(input: &[u8], max_pairs: usize) -> Result<Self, ParseError> {
        let mut entries = Vec::new();
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if entries.len() == max_pairs {
                return Err(ParseError::TooManyPairs { limit: max_pairs });
            }
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let invalid = || ParseError::InvalidUtf8 {
                pair: String::from_utf8_lossy(&pair[..pair.len().min(64)]).into_owned(),
            };
            let key = decode_component(key).ok_or_else(invalid)?;
            let value = decode_component(value).ok_or_else(invalid)?;
            entries.push((key, value));
        }
        Ok(MultiMap { entries })
    }

    /// Encodes the pairs as `application/x-www-form-urlencoded`.
    pub fn to_urlencoded(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.entries {
            out.append_pair(k, v);
        }
        out.finish()
    }

    /// Deserializes the pairs into a serde struct, with `serde_urlencoded`'s rules (the first
    /// value of a repeated key wins for scalar fields).
    ///
    /// # Errors
    ///
    /// A missing or ill-typed field, named in the message.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, DeserializeError> {
        serde_urlencoded::from_str(&self.to_urlencoded()).map_err(DeserializeError)
    }
}

fn decode_component(raw: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8>;
    let raw = if raw.contains(&b'+') {
        plus_as_space = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        &plus_as_space[..]
    } else {
        raw
    };
    let decoded: Vec<u8> = percent_encoding::percent_decode(raw).collect();
    String::from_utf8(decoded).ok()
}

impl<V: fmt::Debug> fmt::Debug for MultiMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

impl<K: Into<String>, V> FromIterator<(K, V)> for MultiMap<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        MultiMap {
            entries: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

impl<V> IntoIterator for MultiMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<V: serde::Serialize> serde::Serialize for MultiMap<V> {
    /// Serializes as a list of `[key, value]` pairs, which keeps order and repeats.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.entries.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_plus_and_percent() {
        let m = MultiMap::parse_query("a+b=c%20d&e", 10).unwrap();
        assert_eq!(m.get("a b"), Some("c d"));
        assert_eq!(m.get("e"), Some(""));
    }

    #[test]
    fn keeps_invalid_percent_encoding_as_written() {
        let m = MultiMap::parse_query("a=%zz&b=%4", 10).unwrap();
        assert_eq!(m.get("a"), Some("%zz"));
        assert_eq!(m.get("b"), Some("%4"));
    }

    #[test]
    fn refuses_invalid_utf8() {
        let err = MultiMap::parse_query("a=%FF%FE", 10).unwrap_err();
        assert!(matches!(err, ParseError::InvalidUtf8 { .. }));
    }

    #[test]
    fn refuses_too_many_pairs() {
        let query = "a=1&".repeat(100_000);
        let err = MultiMap::parse_query(&query, DEFAULT_MAX_PAIRS).unwrap_err();
        assert_eq!(
            err,
            ParseError::TooManyPairs {
                limit: DEFAULT_MAX_PAIRS
            }
        );
        let http: crate::HttpError = err.into();
        assert_eq!(http.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_one_megabyte_value_is_one_pair() {
        let query = format!("big={}", "x".repeat(1 << 20));
        let m = MultiMap::parse_query(&query, 10).unwrap();
        assert_eq!(m.get("big").map(str::len), Some(1 << 20));
    }

    #[test]
    fn insert_replaces_all_and_keeps_first_position() {
        let mut m: MultiMap = [("a", "1"), ("b", "2"), ("a", "3")]
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        m.insert("a", "9".into());
        assert_eq!(
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["a=9", "b=2"]
        );
    }

    #[test]
    fn deserialize_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Q {
            n: u32,
        }
        let m = MultiMap::parse_query("n=abc", 10).unwrap();
        let err = m.deserialize::<Q>().unwrap_err().to_string();
        assert!(err.contains("invalid"), "{err}");
        let missing = MultiMap::parse_query("", 10)
            .unwrap()
            .deserialize::<Q>()
            .unwrap_err()
            .to_string();
        assert!(missing.contains("`n`"), "{missing}");
    }

    proptest! {
        #[test]
        fn matches_a_vec_model(ops in proptest::collection::vec((0u8..3, "[a-c]", "[x-z]{0,2}"), 0..40)) {
            let mut map = MultiMap::new();
            let mut model: Vec<(String, String)> = Vec::new();
            for (op, k, v) in ops {
                match op {
                    0 => { map.append(k.clone(), v.clone()); model.push((k, v)); }
                    1 => {
                        map.remove(&k);
                        model.retain(|(mk, _)| *mk != k);
                    }
                    _ => {
                        prop_assert_eq!(map.get(&k), model.iter().find(|(mk, _)| *mk == k).map(|(_, v)| v.as_str()));
                    }
                }
                prop_assert_eq!(map.len(), model.len());
            }
        }

        #[test]
        fn urlencoded_round_trips(pairs in proptest::collection::vec(("\\PC{0,8}", "\\PC{0,8}"), 0..10)) {
            let map: MultiMap = pairs.iter().filter(|(k, v)| !(k.is_empty() && v.is_empty())).cloned().collect();
            let parsed = MultiMap::parse_query(&map.to_urlencoded(), 100).unwrap();
            prop_assert_eq!(parsed, map);
        }
    }
}
