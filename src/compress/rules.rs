//! The decisions, without I/O: which coding a request gets ([`choose`]) and which answers are
//! worth compressing ([`Rules::compressible`]).

use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use super::{Algorithm, CompressConfig};
use crate::negotiate::AcceptEncoding;

/// What [`choose`] decided for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Choice {
    /// Compress with this coding (if the answer is [`compressible`](Rules::compressible)).
    Encode(Algorithm),
    /// Send the answer as it is.
    Identity,
    /// The client refused `identity` and every coding offered: `406 Not Acceptable`.
    NotAcceptable,
}

/// The coding for a client's `Accept-Encoding`, among `offered` (the server's order of
/// preference, which breaks ties of quality):
///
/// - no header: [`Choice::Identity`] (RFC 9110 allows any coding, but clients that send no
///   header are mostly tools that would not decode one);
/// - the offered coding of the highest quality above zero, codings not named taking the
///   quality of `*`;
/// - otherwise [`Choice::Identity`], unless `identity;q=0` (or `*;q=0` without `identity`)
///   refused it too: then [`Choice::NotAcceptable`].
///
/// ```
/// use tollgate::compress::{choose, Algorithm, Choice};
/// use tollgate::negotiate::AcceptEncoding;
///
/// let offered = [Algorithm::Br, Algorithm::Zstd, Algorithm::Gzip];
/// let choice = |header: &str| choose(&AcceptEncoding::parse(header), &offered);
/// assert_eq!(choice("gzip, br"), Choice::Encode(Algorithm::Br));
/// assert_eq!(choice("br;q=0, *"), Choice::Encode(Algorithm::Zstd));
/// assert_eq!(choice("identity;q=0"), Choice::NotAcceptable);
/// ```
pub fn choose(accept: &AcceptEncoding, offered: &[Algorithm]) -> Choice {
    if !accept.is_present() {
        return Choice::Identity;
    }
    let mut best: Option<(Algorithm, u16)> = None;
    for &algorithm in offered {
        let q = accept.quality(algorithm.token());
        if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((algorithm, q));
        }
    }
    match best {
        Some((algorithm, _)) => Choice::Encode(algorithm),
        None if accept.accepts("identity") => Choice::Identity,
        None => Choice::NotAcceptable,
    }
}

/// A media type pattern of [`CompressConfig::types`]: `type/subtype`, `type/*` or
/// `*/*+suffix`, compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypePattern {
    Exact(String),
    AnySubtype(String),
    Suffix(String),
}

impl TypePattern {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let (type_, subtype) = text.split_once('/')?;
        let token = |s: &str| !s.is_empty() && s.bytes().all(crate::syntax::is_tchar);
        if type_ == "*" {
            let suffix = subtype.strip_prefix("*+")?;
            return token(suffix).then(|| TypePattern::Suffix(format!("+{suffix}")));
        }
        if !token(type_) {
            return None;
        }
        if subtype == "*" {
            return Some(TypePattern::AnySubtype(type_.to_owned()));
        }
        (token(subtype) && !subtype.contains('*')).then(|| TypePattern::Exact(text.clone()))
    }

    /// Whether `essence` (`type/subtype`, lowercase, no parameters) matches.
    fn matches(&self, essence: &str) -> bool {
        match self {
            TypePattern::Exact(exact) => essence == exact,
            TypePattern::AnySubtype(type_) => essence
                .strip_prefix(type_.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
            TypePattern::Suffix(suffix) => essence.ends_with(suffix.as_str()),
        }
    }
}

/// Which answers are compressed: by media type, length, status and what the answer says of
/// itself.
#[derive(Debug, Clone)]
pub struct Rules {
    types: Vec<TypePattern>,
    min_size: u64,
}

impl Rules {
    /// The rules of `config` (entries of `types` that do not parse are skipped;
    /// [`CompressConfig::check`] reports them).
    pub fn new(config: &CompressConfig) -> Self {
        Rules {
            types: config
                .types
                .iter()
                .filter_map(|t| TypePattern::parse(t))
                .collect(),
            min_size: config.min_size,
        }
    }

    /// Whether an answer with this status and these headers is compressed; `length` is the
    /// body's length when known without `Content-Length` (an exact size hint).
    ///
    /// Never: `1xx`, `204`, `206`, `304`; an answer with `Content-Encoding` (other than
    /// `identity`) or `Content-Range`; `Cache-Control: no-transform`; no `Content-Type`, a
    /// type not in the list, or `text/event-stream`; a known length below the minimum.
    pub fn compressible(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        length: Option<u64>,
    ) -> bool {
        if status.is_informational()
            || matches!(
                status,
                StatusCode::NO_CONTENT | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
            )
            || headers.contains_key(CONTENT_RANGE)
            || headers
                .get_all(CONTENT_ENCODING)
                .iter()
                .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"))
            || no_transform(headers)
        {
            return false;
        }
        let length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .or(length);
        if length.is_some_and(|n| n < self.min_size) {
            return false;
        }
        let Some(essence) = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
        else {
            return false;
        };
        essence != "text/event-stream" && self.types.iter().any(|t| t.matches(&essence))
    }
}

/// `Cache-Control: no-transform` (RFC 9111 §5.2.2.6): no intermediary may change the content.
fn no_transform(headers: &HeaderMap) -> bool {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Algorithm::{Br, Gzip, Zstd};

    const ALL: [Algorithm; 3] = [Br, Zstd, Gzip];

    fn choice(header: Option<&str>, offered: &[Algorithm]) -> Choice {
        let accept = header.map_or_else(AcceptEncoding::default, AcceptEncoding::parse);
        choose(&accept, offered)
    }

    #[test]
    fn negotiation_table() {
        let cases: &[(&str, Option<&str>, &[Algorithm], Choice)] = &[
            ("no header", None, &ALL, Choice::Identity),
            ("empty header", Some(""), &ALL, Choice::Identity),
            ("gzip only", Some("gzip"), &ALL, Choice::Encode(Gzip)),
            ("x-gzip", Some("x-gzip"), &ALL, Choice::Encode(Gzip)),
            (
                "tie: server order",
                Some("gzip, br"),
                &ALL,
                Choice::Encode(Br),
            ),
            (
                "tie, gzip first here",
                Some("br, gzip"),
                &[Gzip, Br],
                Choice::Encode(Gzip),
            ),
            (
                "q decides",
                Some("br;q=0.5, gzip"),
                &ALL,
                Choice::Encode(Gzip),
            ),
            (
                "br refused",
                Some("br;q=0, gzip"),
                &ALL,
                Choice::Encode(Gzip),
            ),
            ("star", Some("*"), &ALL, Choice::Encode(Br)),
            (
                "star minus br",
                Some("br;q=0, *"),
                &ALL,
                Choice::Encode(Zstd),
            ),
            ("star refused", Some("*;q=0"), &ALL, Choice::NotAcceptable),
            (
                "star refused, identity kept",
                Some("*;q=0, identity"),
                &ALL,
                Choice::Identity,
            ),
            (
                "identity refused",
                Some("identity;q=0"),
                &ALL,
                Choice::NotAcceptable,
            ),
            (
                "identity refused, gzip ok",
                Some("gzip, identity;q=0"),
                &ALL,
                Choice::Encode(Gzip),
            ),
            ("unknown coding", Some("compress"), &ALL, Choice::Identity),
            (
                "unknown, identity refused",
                Some("deflate, identity;q=0"),
                &ALL,
                Choice::NotAcceptable,
            ),
            ("not offered", Some("zstd"), &[Gzip], Choice::Identity),
            ("case", Some("GZIP;Q=0.5"), &ALL, Choice::Encode(Gzip)),
        ];
        for (name, header, offered, expected) in cases {
            assert_eq!(choice(*header, offered), *expected, "{name}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    type Case<'a> = (
        &'a str,
        StatusCode,
        &'a [(&'a str, &'a str)],
        Option<u64>,
        bool,
    );

    fn check(cases: &[Case]) {
        let rules = Rules::new(&CompressConfig::default());
        for (name, status, pairs, length, expected) in cases {
            let headers = headers(pairs);
            assert_eq!(
                rules.compressible(*status, &headers, *length),
                *expected,
                "{name}"
            );
        }
    }

    const OK: StatusCode = StatusCode::OK;
    const JSON: &[(&str, &str)] = &[
        ("content-type", "application/json"),
        ("content-length", "1000"),
    ];

    #[test]
    fn compressible_by_type_and_size() {
        check(&[
            ("json", OK, JSON, None, true),
            (
                "charset",
                OK,
                &[("content-type", "text/html; charset=utf-8")],
                None,
                true,
            ),
            (
                "problem+json",
                OK,
                &[("content-type", "application/problem+json")],
                None,
                true,
            ),
            ("svg", OK, &[("content-type", "image/svg+xml")], None, true),
            ("png", OK, &[("content-type", "image/png")], None, false),
            ("no type", OK, &[("content-length", "1000")], None, false),
            (
                "event stream",
                OK,
                &[("content-type", "text/event-stream")],
                None,
                false,
            ),
            (
                "small",
                OK,
                &[("content-type", "text/plain"), ("content-length", "10")],
                None,
                false,
            ),
            (
                "small hint",
                OK,
                &[("content-type", "text/plain")],
                Some(10),
                false,
            ),
            ("error page", StatusCode::NOT_FOUND, JSON, None, true),
        ]);
    }

    #[test]
    fn never_ranges_encoded_or_no_transform() {
        let text = ("content-type", "text/plain");
        check(&[
            ("partial", StatusCode::PARTIAL_CONTENT, JSON, None, false),
            ("not modified", StatusCode::NOT_MODIFIED, JSON, None, false),
            (
                "range",
                OK,
                &[text, ("content-range", "bytes 0-1/2")],
                None,
                false,
            ),
            (
                "encoded",
                OK,
                &[text, ("content-encoding", "gzip")],
                None,
                false,
            ),
            (
                "identity",
                OK,
                &[text, ("content-encoding", "identity")],
                None,
                true,
            ),
            (
                "no-transform",
                OK,
                &[text, ("cache-control", "public, No-Transform")],
                None,
                false,
            ),
        ]);
    }

    #[test]
    fn type_patterns() {
        for good in ["text/html", "text/*", "*/*+json", " Application/JSON "] {
            assert!(TypePattern::parse(good).is_some(), "{good}");
        }
        for bad in [
            "text",
            "*/*",
            "*/json",
            "te xt/html",
            "text/ht*",
            "/html",
            "text/",
        ] {
            assert!(TypePattern::parse(bad).is_none(), "{bad}");
        }
        assert!(!TypePattern::parse("text/*").unwrap().matches("textual/x"));
    }
}
