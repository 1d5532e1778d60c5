//! Content negotiation: parsing `Accept`, `Accept-Language`, `Accept-Encoding` and
//! `Accept-Charset` and choosing the best representation (RFC 9110 §12).
//!
//! Every parser here is lenient the way browsers' servers are: an entry that does not parse is
//! skipped, never an error, and an absent header accepts anything. Qualities are integers in
//! thousandths (`q=0.5` is `500`); `q=0` excludes.
//!
//! # Example
//!
//! ```
//! use tollgate::negotiate::{Accept, AcceptEncoding, AcceptLanguage};
//!
//! let accept = Accept::parse("text/html;q=0.5, application/json");
//! let offers = [mime::TEXT_HTML, mime::APPLICATION_JSON];
//! assert_eq!(accept.best(&offers), Some(&mime::APPLICATION_JSON));
//!
//! let languages = AcceptLanguage::parse("en-US,en;q=0.9,fr;q=0.8");
//! assert_eq!(languages.best(&["fr", "en"]), Some("en"));
//!
//! let encodings = AcceptEncoding::parse("gzip, deflate, br;q=0.9");
//! assert_eq!(encodings.best(&["br", "gzip"]), Some("gzip"));
//! ```

use http::header::{ACCEPT, ACCEPT_CHARSET, ACCEPT_ENCODING, ACCEPT_LANGUAGE};
use http::HeaderMap;
use mime::Mime;

pub use crate::syntax::token::parse_q;
use crate::syntax::token::{
    is_token, joined, params_and_q, parse_tokens, split_outside_quotes, Q_ONE,
};

/// At most this many entries of one header are kept; the rest are ignored. A real browser sends
/// fewer than 20, and keeping the list short keeps [`Accept::best`] cheap whatever comes in.
pub const MAX_ENTRIES: usize = 64;

/// One media range of an `Accept` header: `type/subtype;param=value;q=0.5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    type_: String,
    subtype: String,
    params: Vec<(String, String)>,
    q: u16,
}

impl MediaRange {
    /// The type, lower-cased (`text`, or `*`).
    pub fn type_(&self) -> &str {
        &self.type_
    }

    /// The subtype, lower-cased (`html`, or `*`).
    pub fn subtype(&self) -> &str {
        &self.subtype
    }

    /// The parameters before `q`, names lower-cased, values unquoted.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The quality in thousandths (0–1000).
    pub fn q(&self) -> u16 {
        self.q
    }

    /// How precisely this range matches `offer`, `None` when it does not: `*/*` is 0,
    /// `text/*` is 1, `text/html` is 2, and each parameter adds one.
    pub fn specificity(&self, offer: &Mime) -> Option<usize> {
        if self.type_ == "*" {
            return Some(0);
        }
        if !offer.type_().as_str().eq_ignore_ascii_case(&self.type_) {
            return None;
        }
        if self.subtype == "*" {
            return Some(1);
        }
        if !offer.subtype().as_str().eq_ignore_ascii_case(&self.subtype) {
            return None;
        }
        let all_present = self.params.iter().all(|(name, value)| {
            offer.params().any(|(n, v)| {
                n.as_str().eq_ignore_ascii_case(name)
                    && if name == "charset" {
                        v.as_str().eq_ignore_ascii_case(value)
                    } else {
                        v.as_str() == value
                    }
            })
        });
        all_present.then(|| 2 + self.params.len())
    }

    fn parse(entry: &str) -> Option<Self> {
        let mut parts = split_outside_quotes(entry, ';');
        let (type_, subtype) = parts.next()?.trim().split_once('/')?;
        let (type_, subtype) = (type_.trim(), subtype.trim());
        if !is_token(type_) || !is_token(subtype) || (type_ == "*" && subtype != "*") {
            return None;
        }
        // What follows `q` are accept-extensions, not media-type parameters.
        let (params, q) = params_and_q(parts)?;
        Some(MediaRange {
            type_: type_.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            params,
            q,
        })
    }
}

/// A parsed `Accept` header: media ranges with their quality. Malformed entries are skipped.
///
/// An empty or absent header accepts anything (RFC 9110 §12.5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    ranges: Vec<MediaRange>,
}

impl Accept {
    /// Parses an `Accept` header value; entries that do not parse are skipped, never an error.
    pub fn parse(header: &str) -> Self {
        let ranges = split_outside_quotes(header, ',')
            .filter(|e| !e.trim().is_empty())
            .take(MAX_ENTRIES)
            .filter_map(MediaRange::parse)
            .collect();
        Accept { ranges }
    }

    /// Parses every `Accept` field of `headers` as one list; non-ASCII fields are skipped.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::parse(&joined(headers, &ACCEPT))
    }

    /// The ranges in the order the client sent them.
    pub fn ranges(&self) -> &[MediaRange] {
        &self.ranges
    }

    /// Whether no range was given (or none parsed): every offer is acceptable.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The offer the client likes best; ties go to the earlier offer. `None` when the client
    /// accepts none of them. An empty header accepts anything, so the first offer wins.
    pub fn best<'a>(&self, offers: &'a [Mime]) -> Option<&'a Mime> {
        best_by(offers, |offer| self.rank(offer))
    }

    /// The quality (0–1000) the client gives `offer`, from the most specific matching range
    /// (`text/html;level=1` beats `text/html` beats `text/*` beats `*/*`). 1000 when the
    /// header is empty, 0 when no range matches.
    pub fn quality(&self, offer: &Mime) -> u16 {
        self.rank(offer).0
    }

    /// The quality and the specificity of the range that gave it.
    fn rank(&self, offer: &Mime) -> (u16, usize) {
        if self.ranges.is_empty() {
            return (Q_ONE, 0);
        }
        most_specific(
            self.ranges
                .iter()
                .filter_map(|range| range.specificity(offer).map(|s| (s, range.q))),
        )
    }
}

/// A parsed `Accept-Language` header: language ranges with their quality.
///
/// Matching is case-insensitive and by prefix in both directions: the range `en` matches the
/// offer `en-US` (RFC 4647 basic filtering), and the range `en-US` matches the offer `en`
/// (a client that reads American English reads English), ranked below an exact match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptLanguage {
    ranges: Vec<(String, u16)>,
}

impl AcceptLanguage {
    /// Parses an `Accept-Language` value; malformed entries are skipped.
    pub fn parse(header: &str) -> Self {
        AcceptLanguage {
            ranges: parse_tokens(header, MAX_ENTRIES, is_language_range),
        }
    }

    /// Parses every `Accept-Language` field of `headers` as one list.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::parse(&joined(headers, &ACCEPT_LANGUAGE))
    }

    /// The language ranges (lower-cased) and their quality, in the order sent.
    pub fn ranges(&self) -> &[(String, u16)] {
        &self.ranges
    }

    /// The offered language the client likes best; ties go to the earlier offer. An empty
    /// header accepts anything, so the first offer wins.
    pub fn best<'a>(&self, offers: &[&'a str]) -> Option<&'a str> {
        best_by(offers, |offer| self.rank(offer)).copied()
    }

    /// The quality (0–1000) the client gives the language tag `offer`.
    pub fn quality(&self, offer: &str) -> u16 {
        self.rank(offer).0
    }

    fn rank(&self, offer: &str) -> (u16, usize) {
        if self.ranges.is_empty() {
            return (Q_ONE, 0);
        }
        let offer = offer.to_ascii_lowercase();
        most_specific(
            self.ranges
                .iter()
                .filter_map(|(range, q)| language_match(range, &offer).map(|rank| (rank, *q))),
        )
    }
}

/// How well a language range matches a tag (both lower-case); higher is better.
fn language_match(range: &str, offer: &str) -> Option<usize> {
    if range == "*" {
        Some(0)
    } else if range == offer {
        Some(3 + range.len())
    } else if is_subtag_prefix(range, offer) {
        // `en` asked, `en-us` offered: the longer the range, the closer.
        Some(2 + range.len())
    } else if is_subtag_prefix(offer, range) {
        // `en-us` asked, `en` offered.
        Some(1)
    } else {
        None
    }
}

fn is_subtag_prefix(prefix: &str, tag: &str) -> bool {
    tag.len() > prefix.len() && tag.starts_with(prefix) && tag.as_bytes()[prefix.len()] == b'-'
}

/// A parsed `Accept-Encoding` header (RFC 9110 §12.5.3).
///
/// An absent header ([`AcceptEncoding::default`]) accepts every coding. `identity` is
/// acceptable unless refused by `identity;q=0`, or by `*;q=0` without an `identity` entry.
/// `x-gzip` is `gzip`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptEncoding {
    present: bool,
    codings: Vec<(String, u16)>,
}

impl AcceptEncoding {
    /// Parses an `Accept-Encoding` value (an empty value means "identity only").
    pub fn parse(header: &str) -> Self {
        let mut codings = parse_tokens(header, MAX_ENTRIES, is_token);
        for (coding, _) in &mut codings {
            if coding == "x-gzip" {
                *coding = "gzip".to_owned();
            }
        }
        AcceptEncoding {
            present: true,
            codings,
        }
    }

    /// Parses every `Accept-Encoding` field of `headers`; absent fields accept every coding.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        if headers.contains_key(ACCEPT_ENCODING) {
            Self::parse(&joined(headers, &ACCEPT_ENCODING))
        } else {
            Self::default()
        }
    }

    /// Whether the header was there at all.
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// The quality (0–1000) of a content coding (`gzip`, `br`, `identity`, ...).
    pub fn quality(&self, coding: &str) -> u16 {
        if !self.present {
            return Q_ONE;
        }
        let coding = coding.to_ascii_lowercase();
        let coding = if coding == "x-gzip" { "gzip" } else { &coding };
        let find = |name: &str| self.codings.iter().find(|(c, _)| c == name).map(|e| e.1);
        if let Some(q) = find(coding) {
            return q;
        }
        let identity = coding == "identity";
        match find("*") {
            Some(0) => 0,
            Some(_) | None if identity => Q_ONE,
            Some(q) => q,
            None => 0,
        }
    }

    /// Whether `coding` is acceptable (quality above zero). Only codings the client named or
    /// covered with `*` are; see [`AcceptEncoding::quality`] for an absent header.
    pub fn accepts(&self, coding: &str) -> bool {
        self.quality(coding) > 0
    }

    /// The acceptable offer with the highest quality; ties go to the earlier offer.
    pub fn best<'a>(&self, offers: &[&'a str]) -> Option<&'a str> {
        best_by(offers, |offer| (self.quality(offer), 0)).copied()
    }
}

/// A parsed `Accept-Charset` header. Absent or empty accepts every charset; `*` covers the
/// charsets not named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptCharset {
    charsets: Vec<(String, u16)>,
}

impl AcceptCharset {
    /// Parses an `Accept-Charset` value; malformed entries are skipped.
    pub fn parse(header: &str) -> Self {
        AcceptCharset {
            charsets: parse_tokens(header, MAX_ENTRIES, is_token),
        }
    }

    /// Parses every `Accept-Charset` field of `headers` as one list.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::parse(&joined(headers, &ACCEPT_CHARSET))
    }

    /// The quality (0–1000) of a charset, compared case-insensitively.
    pub fn quality(&self, charset: &str) -> u16 {
        if self.charsets.is_empty() {
            return Q_ONE;
        }
        let charset = charset.to_ascii_lowercase();
        let find = |name: &str| self.charsets.iter().find(|(c, _)| c == name).map(|e| e.1);
        find(&charset).or_else(|| find("*")).unwrap_or(0)
    }

    /// The acceptable offer with the highest quality; ties go to the earlier offer.
    pub fn best<'a>(&self, offers: &[&'a str]) -> Option<&'a str> {
        best_by(offers, |offer| (self.quality(offer), 0)).copied()
    }
}

/// Negotiation from the request's headers (every field of each name, as one list).
impl<B> crate::Request<B> {
    /// The parsed `Accept` header.
    ///
    /// ```
    /// use tollgate::Request;
    /// let req = Request::from_http(Request::get("/").header("accept", "application/json").build().unwrap());
    /// let offers = [mime::TEXT_HTML, mime::APPLICATION_JSON];
    /// assert_eq!(req.accept().best(&offers), Some(&mime::APPLICATION_JSON));
    /// ```
    pub fn accept(&self) -> Accept {
        Accept::from_headers(self.headers())
    }

    /// The parsed `Accept-Language` header.
    pub fn accept_language(&self) -> AcceptLanguage {
        AcceptLanguage::from_headers(self.headers())
    }

    /// The parsed `Accept-Encoding` header.
    pub fn accept_encoding(&self) -> AcceptEncoding {
        AcceptEncoding::from_headers(self.headers())
    }

    /// The parsed `Accept-Charset` header.
    pub fn accept_charset(&self) -> AcceptCharset {
        AcceptCharset::from_headers(self.headers())
    }
}

/// The offer with the highest non-zero quality; on equal quality the one matched by the more
/// specific range (Werkzeug's `best_match`), then the earliest.
fn best_by<T>(offers: &[T], rank: impl Fn(&T) -> (u16, usize)) -> Option<&T> {
    let mut best: Option<(&T, (u16, usize))> = None;
    for offer in offers {
        let r = rank(offer);
        if r.0 > 0 && best.is_none_or(|(_, br)| r > br) {
            best = Some((offer, r));
        }
    }
    best.map(|(offer, _)| offer)
}

/// The quality of the most specific match and that specificity, `(0, 0)` without a match.
/// On equal specificity the first range wins (`max_by_key` keeps the last, hence `rev`).
fn most_specific(matches: impl DoubleEndedIterator<Item = (usize, u16)>) -> (u16, usize) {
    matches
        .rev()
        .max_by_key(|(s, _)| *s)
        .map_or((0, 0), |(s, q)| (q, s))
}

/// `*` or `1*8ALPHA *("-" 1*8alphanum)` (RFC 4647 §2.1).
fn is_language_range(s: &str) -> bool {
    s == "*"
        || s.split('-').enumerate().all(|(i, sub)| {
            (1..=8).contains(&sub.len())
                && if i == 0 {
                    sub.bytes().all(|b| b.is_ascii_alphabetic())
                } else {
                    sub.bytes().all(|b| b.is_ascii_alphanumeric())
                }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Mime {
        s.parse().expect("test mime")
    }

    const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
    const FIREFOX: &str =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
    const SAFARI: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const CURL: &str = "*/*";
    const FETCH_JSON: &str = "application/json, text/plain, */*";

    #[test]
    fn rfc9110_audio_example() {
        // RFC 9110 §12.5.1: "I prefer audio/basic, but send me any audio type if it is the
        // best available after an 80% markdown in quality".
        let a = Accept::parse("audio/*; q=0.2, audio/basic");
        assert_eq!(a.quality(&m("audio/basic")), 1000);
        assert_eq!(a.quality(&m("audio/ogg")), 200);
        assert_eq!(
            a.best(&[m("audio/ogg"), m("audio/basic")]),
            Some(&m("audio/basic"))
        );
        assert_eq!(a.best(&[m("text/html")]), None);
    }

    #[test]
    fn rfc9110_text_example() {
        let a = Accept::parse("text/plain; q=0.5, text/html, text/x-dvi; q=0.8, text/x-c");
        let offers = [m("text/plain"), m("text/x-dvi"), m("text/html")];
        assert_eq!(a.best(&offers), Some(&m("text/html")));
        assert_eq!(a.best(&offers[..2]), Some(&m("text/x-dvi")));
    }

    #[test]
    fn rfc9110_precedence_example() {
        // RFC 9110 §12.5.1's quality table.
        let a = Accept::parse(
            "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, \
             text/plain;format=fixed;q=0.4, */*;q=0.5",
        );
        for (offer, q) in [
            ("text/plain;format=flowed", 1000),
            ("text/plain", 700),
            ("text/html", 300),
            ("image/jpeg", 500),
            ("text/plain;format=fixed", 400),
            ("text/html;level=3", 300),
        ] {
            assert_eq!(a.quality(&m(offer)), q, "{offer}");
        }
    }

    #[test]
    fn rfc7231_level_example() {
        // The same table in RFC 7231 §5.3.2, with `level`.
        let a = Accept::parse(
            "text/*;q=0.3, text/html;q=0.7, text/html;level=1, text/html;level=2;q=0.4, */*;q=0.5",
        );
        for (offer, q) in [
            ("text/html;level=1", 1000),
            ("text/html", 700),
            ("text/plain", 300),
            ("image/jpeg", 500),
            ("text/html;level=2", 400),
            ("text/html;level=3", 700),
        ] {
            assert_eq!(a.quality(&m(offer)), q, "{offer}");
        }
    }

    #[test]
    fn specificity_beats_order() {
        let a = Accept::parse("*/*;q=0.1, text/*;q=0.2, text/html;q=0.3, text/html;level=1");
        assert_eq!(a.quality(&m("text/html;level=1")), 1000);
        assert_eq!(a.quality(&m("text/html")), 300);
        assert_eq!(a.quality(&m("text/plain")), 200);
        assert_eq!(a.quality(&m("image/png")), 100);
    }

    #[test]
    fn q_zero_excludes() {
        let a = Accept::parse("application/json;q=0, */*");
        assert_eq!(a.best(&[mime::APPLICATION_JSON]), None);
        assert_eq!(
            a.best(&[mime::APPLICATION_JSON, mime::TEXT_PLAIN]),
            Some(&mime::TEXT_PLAIN)
        );
    }

    #[test]
    fn params_after_q_are_extensions() {
        let a = Accept::parse("text/html;q=0.5;level=1");
        assert_eq!(a.quality(&m("text/html")), 500);
    }

    #[test]
    fn malformed_entries_are_skipped() {
        for header in [
            "text/html;q=2, application/json",
            "garbage, application/json",
            "*/json, application/json",
            "text/html;q=abc, application/json",
            "text/html;=x, application/json",
            "/, ;, ,,, application/json",
            "text/html;q=\"0.5, application/json",
            "\u{0}/\u{0}, application/json",
        ] {
            let a = Accept::parse(header);
            assert_eq!(
                a.best(&[mime::TEXT_HTML, mime::APPLICATION_JSON]),
                Some(&mime::APPLICATION_JSON),
                "{header}"
            );
        }
    }

    #[test]
    fn quoted_commas_do_not_split() {
        let a = Accept::parse("text/html;foo=\"a,b\";q=0.2, application/json;q=0.1");
        assert_eq!(a.ranges().len(), 2);
        assert_eq!(a.ranges()[0].params().next(), Some(("foo", "a,b")));
        assert_eq!(a.quality(&mime::TEXT_HTML), 0);
    }

    #[test]
    fn empty_accepts_anything() {
        let a = Accept::parse("");
        assert!(a.is_empty());
        assert_eq!(
            a.best(&[mime::TEXT_PLAIN, mime::TEXT_HTML]),
            Some(&mime::TEXT_PLAIN)
        );
    }

    #[test]
    fn browsers_prefer_html() {
        let offers = [mime::APPLICATION_JSON, mime::TEXT_PLAIN, mime::TEXT_HTML];
        for header in [CHROME, FIREFOX, SAFARI] {
            assert_eq!(
                Accept::parse(header).best(&offers),
                Some(&mime::TEXT_HTML),
                "{header}"
            );
        }
        let images = [m("image/png"), m("image/webp"), m("image/avif")];
        assert_eq!(Accept::parse(CHROME).best(&images), Some(&m("image/webp")));
        assert_eq!(Accept::parse(SAFARI).best(&images), Some(&m("image/png")));
    }

    #[test]
    fn curl_takes_the_first_offer() {
        let offers = [mime::APPLICATION_JSON, mime::TEXT_HTML];
        assert_eq!(
            Accept::parse(CURL).best(&offers),
            Some(&mime::APPLICATION_JSON)
        );
        let offers = [mime::TEXT_HTML, mime::APPLICATION_JSON];
        assert_eq!(Accept::parse(CURL).best(&offers), Some(&mime::TEXT_HTML));
        assert_eq!(
            Accept::parse(FETCH_JSON).best(&offers),
            Some(&mime::APPLICATION_JSON)
        );
    }

    #[test]
    fn charset_params_compare_case_insensitively() {
        let a = Accept::parse("text/html;charset=UTF-8");
        assert_eq!(a.quality(&m("text/html; charset=utf-8")), 1000);
        assert_eq!(a.quality(&m("text/html")), 0);
    }

    #[test]
    fn joins_repeated_header_fields() {
        let mut h = HeaderMap::new();
        h.append(ACCEPT, "text/html;q=0.1".parse().expect("header"));
        h.append(ACCEPT, "application/json".parse().expect("header"));
        let a = Accept::from_headers(&h);
        assert_eq!(a.ranges().len(), 2);
        assert_eq!(
            a.best(&[mime::TEXT_HTML, mime::APPLICATION_JSON]),
            Some(&mime::APPLICATION_JSON)
        );
    }

    #[test]
    fn entries_are_capped() {
        let header = "text/x-a, ".repeat(10_000) + "application/json";
        let a = Accept::parse(&header);
        assert_eq!(a.ranges().len(), MAX_ENTRIES);
    }

    #[test]
    fn languages_match_by_prefix() {
        let l = AcceptLanguage::parse("en-US");
        assert_eq!(l.best(&["fr", "en"]), Some("en"));
        let l = AcceptLanguage::parse("en");
        assert_eq!(l.best(&["fr", "en-GB"]), Some("en-GB"));
        let l = AcceptLanguage::parse("en-US,en;q=0.9");
        assert_eq!(l.best(&["en", "en-US"]), Some("en-US"));
        assert_eq!(l.quality("en"), 900);
        let l = AcceptLanguage::parse("EN-us");
        assert_eq!(l.best(&["en-US"]), Some("en-US"));
        // `e` is not a prefix of `en` in subtags.
        assert_eq!(AcceptLanguage::parse("e").best(&["en"]), None);
    }

    #[test]
    fn rfc9110_language_example() {
        // RFC 9110 §12.5.4: "Danish, but will accept British English and other types of English".
        let l = AcceptLanguage::parse("da, en-gb;q=0.8, en;q=0.7");
        assert_eq!(l.best(&["en", "da"]), Some("da"));
        assert_eq!(l.quality("en-GB"), 800);
        assert_eq!(l.quality("en-US"), 700);
        assert_eq!(l.best(&["en-US", "en-GB"]), Some("en-GB"));
    }

    #[test]
    fn language_q_zero_and_star() {
        let l = AcceptLanguage::parse("fr;q=0, *;q=0.5");
        assert_eq!(l.quality("fr"), 0);
        assert_eq!(l.quality("fr-CA"), 0);
        assert_eq!(l.quality("de"), 500);
        assert_eq!(AcceptLanguage::parse("").best(&["de", "fr"]), Some("de"));
        let l = AcceptLanguage::parse("en_US, 123, toolongsubtag, de");
        assert_eq!(l.ranges().len(), 1);
    }

    #[test]
    fn firefox_languages() {
        let l = AcceptLanguage::parse("fr-FR,fr;q=0.8,en-US;q=0.5,en;q=0.3");
        assert_eq!(l.best(&["en", "fr"]), Some("fr"));
        assert_eq!(l.best(&["en", "de"]), Some("en"));
        assert_eq!(l.quality("en"), 300);
    }

    #[test]
    fn encodings() {
        let e = AcceptEncoding::parse("gzip, deflate, br, zstd");
        assert!(e.accepts("br"));
        assert!(e.accepts("identity"));
        assert!(!e.accepts("compress"));
        assert_eq!(e.best(&["br", "gzip"]), Some("br"));

        let e = AcceptEncoding::parse("gzip;q=1.0, identity; q=0.5, *;q=0");
        assert_eq!(e.quality("gzip"), 1000);
        assert_eq!(e.quality("identity"), 500);
        assert_eq!(e.quality("br"), 0);

        let e = AcceptEncoding::parse("*;q=0");
        assert!(!e.accepts("identity"));
        let e = AcceptEncoding::parse("identity;q=0, *");
        assert!(!e.accepts("identity"));
        assert!(e.accepts("br"));
        let e = AcceptEncoding::parse("*");
        assert!(e.accepts("identity") && e.accepts("br"));
    }

    #[test]
    fn empty_encoding_means_identity_only() {
        let e = AcceptEncoding::parse("");
        assert!(e.is_present());
        assert!(e.accepts("identity"));
        assert!(!e.accepts("gzip"));
        let absent = AcceptEncoding::from_headers(&HeaderMap::new());
        assert!(!absent.is_present());
        assert!(absent.accepts("gzip"));
    }

    #[test]
    fn x_gzip_is_gzip() {
        assert!(AcceptEncoding::parse("x-gzip").accepts("gzip"));
        assert!(AcceptEncoding::parse("GZIP").accepts("gzip"));
    }

    #[test]
    fn charsets() {
        let c = AcceptCharset::parse("iso-8859-5, unicode-1-1;q=0.8");
        assert_eq!(c.quality("ISO-8859-5"), 1000);
        assert_eq!(c.quality("unicode-1-1"), 800);
        assert_eq!(c.quality("utf-8"), 0);
        let c = AcceptCharset::parse("utf-8, *;q=0.1");
        assert_eq!(c.best(&["latin1", "utf-8"]), Some("utf-8"));
        assert_eq!(c.quality("latin1"), 100);
        assert_eq!(AcceptCharset::parse("").best(&["utf-8"]), Some("utf-8"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let offers = [mime::TEXT_HTML, mime::APPLICATION_JSON];
            let _ = Accept::parse(&s).best(&offers);
            let _ = AcceptLanguage::parse(&s).best(&["en", "fr-CA"]);
            let _ = AcceptEncoding::parse(&s).best(&["br", "gzip", "identity"]);
            let _ = AcceptCharset::parse(&s).best(&["utf-8"]);
        }

        #[test]
        fn quality_is_at_most_one(s in "[a-z*/;=.,0-9 \"]{0,80}") {
            proptest::prop_assert!(Accept::parse(&s).quality(&mime::TEXT_HTML) <= 1000);
        }
    }
}
