//! The typed accessors of [`Request`]: conditional and range headers, `Cache-Control`,
//! `Authorization` by scheme, the content type's parts, the informational headers, and the
//! URL family (Werkzeug's `base_url`, `url_root`, `host_url`, `full_path`, `script_root`),
//! every URL from the one [`Origin`](crate::origin::Origin).

use std::net::IpAddr;
use std::time::SystemTime;

use http::header::{
    AUTHORIZATION, DATE, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
    ORIGIN, RANGE, REFERER, USER_AGENT,
};

use super::Request;
use crate::credentials::{Authorization, CredentialsError};
use crate::response::cache_control::CacheDirectives;
use crate::response::date::parse_http_date;
use crate::response::etag::{ETag, ETagList};
use crate::response::range::{parse_range, ByteRange, RangeError, DEFAULT_MAX_RANGES};

/// The value of `If-Range`: an entity tag or a date.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IfRange {
    /// `If-Range: "tag"`.
    ETag(ETag),
    /// `If-Range: <HTTP-date>`.
    Date(SystemTime),
}

impl<B> Request<B> {
    /// `Cache-Control` (every field), parsed; `None` when absent.
    pub fn cache_control(&self) -> Option<CacheDirectives> {
        CacheDirectives::from_headers(self.headers())
    }

    /// `If-Match`: `*` or the tags that parsed; `None` when absent.
    pub fn if_match(&self) -> Option<ETagList> {
        ETagList::from_headers(self.headers(), &IF_MATCH)
    }

    /// `If-None-Match`: `*` or the tags that parsed; `None` when absent.
    pub fn if_none_match(&self) -> Option<ETagList> {
        ETagList::from_headers(self.headers(), &IF_NONE_MATCH)
    }

    /// `If-Modified-Since`; `None` when absent, repeated or not an HTTP date.
    pub fn if_modified_since(&self) -> Option<SystemTime> {
        self.single_date(&IF_MODIFIED_SINCE)
    }

    /// `If-Unmodified-Since`; `None` when absent, repeated or not an HTTP date.
    pub fn if_unmodified_since(&self) -> Option<SystemTime> {
        self.single_date(&IF_UNMODIFIED_SINCE)
    }

    /// `If-Range`; `None` when absent or neither a strong tag nor a date.
    pub fn if_range(&self) -> Option<IfRange> {
        let value = self.header(IF_RANGE)?.trim();
        if value.starts_with('"') || value.starts_with("W/") {
            ETag::parse(value).ok().map(IfRange::ETag)
        } else {
            parse_http_date(value).map(IfRange::Date)
        }
    }

    /// The byte ranges of `Range` for a representation of `len` bytes, sorted and merged (at
    /// most [`DEFAULT_MAX_RANGES`]); `None` when there is no `Range`.
    ///
    /// # Errors
    ///
    /// Only [`RangeError::Unsatisfiable`] should become an answer (`416`); the other errors
    /// mean "ignore `Range`" (RFC 9110 §14.2).
    pub fn range(&self, len: u64) -> Option<Result<Vec<ByteRange>, RangeError>> {
        let value = self.header(RANGE)?;
        Some(parse_range(value, len, DEFAULT_MAX_RANGES))
    }

    /// `Authorization` by scheme: Basic decoded, Bearer's token, Digest's parameters, other
    /// schemes raw. `None` without the header; several `Authorization` headers are refused,
    /// as the auth layer refuses them.
    ///
    /// ```
    /// use tollgate::{credentials::Authorization, Request};
    /// let req = Request::from_http(Request::get("/").header("authorization", "Bearer t0k").build().unwrap());
    /// assert_eq!(req.authorization().unwrap().unwrap(), Authorization::Bearer("t0k".into()));
    /// ```
    pub fn authorization(&self) -> Option<Result<Authorization, CredentialsError>> {
        let mut values = self.headers().get_all(AUTHORIZATION).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return Some(Err(CredentialsError::Opaque));
        }
        Some(crate::credentials::parse_authorization(value))
    }

    /// The media type without parameters, lower-cased (`text/html`); Werkzeug's `mimetype`.
    pub fn mimetype(&self) -> Option<String> {
        Some(self.content_type()?.essence_str().to_owned())
    }

    /// The parameters of the `Content-Type` (`charset`, `boundary`, ...), names lower-cased.
    pub fn mimetype_params(&self) -> Vec<(String, String)> {
        self.content_type().map_or_else(Vec::new, |m| {
            m.params()
                .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.as_str().to_owned()))
                .collect()
        })
    }

    /// Whether the body says it is JSON: `application/json` or `*/*+json`.
    pub fn is_json(&self) -> bool {
        self.content_type()
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
    }

    /// `Date`, when it is one HTTP date.
    pub fn date(&self) -> Option<SystemTime> {
        self.single_date(&DATE)
    }

    /// `User-Agent`.
    pub fn user_agent(&self) -> Option<&str> {
        self.header(USER_AGENT)
    }

    /// The `Origin` header (Werkzeug's `origin`; [`origin`](Self::origin) is who sent the
    /// request and to where).
    pub fn origin_header(&self) -> Option<&str> {
        self.header(ORIGIN)
    }

    /// `Referer`.
    pub fn referrer(&self) -> Option<&str> {
        self.header(REFERER)
    }

    /// Werkzeug's `access_route`: the addresses of `X-Forwarded-For`, first (the client as
    /// the first proxy heard it) to last, then the TCP peer. **Any client can write
    /// `X-Forwarded-For`**: this is for display and logs; decide with
    /// [`client_addr`](Self::client_addr), which believes only trusted proxies. Entries that
    /// are not IP addresses are skipped; at most 32 are read.
    pub fn access_route(&self) -> Vec<IpAddr> {
        let mut route: Vec<IpAddr> = self
            .header_all("x-forwarded-for")
            .flat_map(|v| v.split(','))
            .take(32)
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        route.extend(self.peer_addr().map(|p| p.ip()));
        route
    }

    /// `scheme://host[:port]/`, as the client asked ([`Origin`](crate::origin::Origin)).
    pub fn host_url(&self) -> String {
        let origin = self.origin();
        format!(
            "{}://{}/",
            origin.scheme(),
            origin.authority().unwrap_or("localhost")
        )
    }

    /// The application's root URL: [`host_url`](Self::host_url) with the mount prefix,
    /// ending in `/` (Werkzeug's `url_root`).
    pub fn url_root(&self) -> String {
        let host = self.host_url();
        format!("{}{}/", host.trim_end_matches('/'), self.origin().prefix())
    }

    /// The full URL without the query (Werkzeug's `base_url`).
    pub fn base_url(&self) -> String {
        let url = self.url();
        match url.split_once('?') {
            Some((base, _)) => base.to_owned(),
            None => url,
        }
    }

    /// The path and the query, always with a `?` (Werkzeug's `full_path`): `/a?` without one.
    pub fn full_path(&self) -> String {
        format!("{}?{}", self.raw_path(), self.query_string().unwrap_or(""))
    }

    /// The mount prefix without a trailing `/` (Werkzeug's `script_root`); empty at the root.
    pub fn script_root(&self) -> String {
        self.script_name()
    }

    fn single_date(&self, name: &http::HeaderName) -> Option<SystemTime> {
        let mut values = self.headers().get_all(name).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        parse_http_date(value.to_str().ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::{MountPrefix, PeerAddr};

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::get("/app/x?a=1");
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        Request::from_http(b.build().unwrap())
    }

    #[test]
    fn conditional_headers_are_typed() {
        let r = req(&[
            ("if-none-match", "W/\"a\", \"b\""),
            ("if-match", "*"),
            ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("if-range", "\"b\""),
        ]);
        assert_eq!(r.if_match(), Some(ETagList::Any));
        assert!(matches!(r.if_none_match(), Some(ETagList::Tags(t)) if t.len() == 2));
        assert_eq!(
            r.if_modified_since(),
            Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777))
        );
        assert_eq!(
            r.if_range(),
            Some(IfRange::ETag(ETag::strong("b").unwrap()))
        );
        assert_eq!(r.if_unmodified_since(), None);
    }

    #[test]
    fn repeated_dates_are_ignored() {
        let mut http = Request::get("/").build().unwrap();
        for _ in 0..2 {
            http.headers_mut().append(
                IF_MODIFIED_SINCE,
                "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
            );
        }
        assert_eq!(Request::from_http(http).if_modified_since(), None);
    }

    #[test]
    fn range_and_cache_control() {
        let r = req(&[
            ("range", "bytes=0-9"),
            ("cache-control", "no-cache, max-age=0"),
        ]);
        assert_eq!(r.range(100).unwrap().unwrap(), vec![ByteRange::new(0, 9)]);
        let cc = r.cache_control().unwrap();
        assert!(cc.no_cache());
        assert_eq!(cc.max_age(), Some(std::time::Duration::ZERO));
    }

    #[test]
    fn authorization_by_scheme_and_duplicates_refused() {
        let r = req(&[("authorization", "Negotiate abc")]);
        assert!(matches!(
            r.authorization(),
            Some(Ok(Authorization::Other { scheme, data })) if scheme == "Negotiate" && data == "abc"
        ));
        let mut http = Request::get("/").basic_auth("a", "b").build().unwrap();
        http.headers_mut()
            .append(AUTHORIZATION, "Basic Yjpj".parse().unwrap());
        let r = Request::from_http(http);
        assert_eq!(r.authorization(), Some(Err(CredentialsError::Opaque)));
        assert_eq!(r.basic_auth(), Some(Err(CredentialsError::Opaque)));
    }

    #[test]
    fn content_type_parts() {
        let r = req(&[("content-type", "Application/JSON; Charset=UTF-8")]);
        assert_eq!(r.mimetype().as_deref(), Some("application/json"));
        assert_eq!(
            r.mimetype_params(),
            [("charset".to_owned(), "utf-8".to_owned())]
        );
        assert!(r.is_json());
        assert!(req(&[("content-type", "application/problem+json")]).is_json());
        assert!(!req(&[("content-type", "text/plain")]).is_json());
    }

    #[test]
    fn url_family_from_the_origin() {
        let mut http = Request::get("/x?a=1")
            .header("host", "example.com:8080")
            .build()
            .unwrap();
        http.extensions_mut().insert(MountPrefix("/app".into()));
        let r = Request::from_http(http);
        assert_eq!(r.host_url(), "http://example.com:8080/");
        assert_eq!(r.url_root(), "http://example.com:8080/app/");
        assert_eq!(r.base_url(), "http://example.com:8080/app/x");
        assert_eq!(r.url(), "http://example.com:8080/app/x?a=1");
        assert_eq!(r.full_path(), "/x?a=1");
        assert_eq!(r.script_root(), "/app");
        assert_eq!(req(&[]).full_path(), "/app/x?a=1");
    }

    #[test]
    fn informational_headers_and_access_route() {
        let mut http = Request::get("/")
            .header("user-agent", "curl/8")
            .header("origin", "https://a.example")
            .header("referer", "https://a.example/p")
            .header("x-forwarded-for", "203.0.113.1, junk, 10.0.0.1")
            .build()
            .unwrap();
        http.extensions_mut()
            .insert(PeerAddr("10.0.0.2:5000".parse().unwrap()));
        let r = Request::from_http(http);
        assert_eq!(r.user_agent(), Some("curl/8"));
        assert_eq!(r.origin_header(), Some("https://a.example"));
        assert_eq!(r.referrer(), Some("https://a.example/p"));
        let route: Vec<String> = r.access_route().iter().map(ToString::to_string).collect();
        assert_eq!(route, ["203.0.113.1", "10.0.0.1", "10.0.0.2"]);
    }
}
