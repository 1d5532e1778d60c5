//! Reading and writing [`Response`] headers by their meaning: content type, validators,
//! caching, `Vary`, `Content-Disposition`, `Retry-After`, `WWW-Authenticate`, and a `Location`
//! made absolute against the request (Werkzeug's `autocorrect_location_header`).

use std::time::{Duration, SystemTime};

use http::header::{
    HeaderName, HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, EXPIRES, LAST_MODIFIED,
    LOCATION, RETRY_AFTER, WWW_AUTHENTICATE,
};

use super::cache_control::CacheDirectives;
use super::date::{fmt_http_date, parse_http_date};
use super::etag::ETag;
use super::Response;

impl Response {
    /// The media type without parameters, lower-cased (`text/html`).
    pub fn mimetype(&self) -> Option<String> {
        let value = self.headers().get(CONTENT_TYPE)?.to_str().ok()?;
        let mime: mime::Mime = value.parse().ok()?;
        Some(mime.essence_str().to_owned())
    }

    /// The `ETag`, when it parses.
    pub fn etag(&self) -> Option<ETag> {
        ETag::parse(self.headers().get(ETAG)?.to_str().ok()?).ok()
    }

    /// Sets a strong `ETag` from the body's hash ([`ETag::for_bytes`]) when the body is
    /// whole in memory (made from bytes or text); a streamed body is left untagged.
    #[must_use]
    pub fn with_etag_from_body(self) -> Self {
        match self.body().as_bytes().map(|b| ETag::for_bytes(b)) {
            Some(tag) => self.with_etag(tag),
            None => self,
        }
    }

    /// `Last-Modified`, when it is an HTTP date.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.date_header(&LAST_MODIFIED)
    }

    /// `Expires`, when it is an HTTP date.
    pub fn expires(&self) -> Option<SystemTime> {
        self.date_header(&EXPIRES)
    }

    /// Sets `Expires`.
    #[must_use]
    pub fn with_expires(self, time: SystemTime) -> Self {
        self.with_date_header(EXPIRES, time)
    }

    /// `Cache-Control`, read back ([`cache_control`](Self::cache_control) sets it).
    pub fn cache_directives(&self) -> Option<CacheDirectives> {
        CacheDirectives::from_headers(self.headers())
    }

    /// `Content-Disposition: attachment` with `filename`: an ASCII fallback (`"` `\`, controls
    /// and non-ASCII replaced by `_`) and, when the name is not plain ASCII, an RFC 8187
    /// `filename*=UTF-8''...` that browsers prefer (RFC 6266 §4.3).
    ///
    /// ```
    /// use tollgate::Response;
    /// let res = Response::bytes("x").attachment("résumé 2024.pdf");
    /// assert_eq!(
    ///     res.headers()["content-disposition"],
    ///     "attachment; filename=\"r_sum_ 2024.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf"
    /// );
    /// ```
    #[must_use]
    pub fn attachment(mut self, filename: &str) -> Self {
        let value = content_disposition("attachment", filename);
        if let Ok(value) = HeaderValue::from_str(&value) {
            self.headers_mut().insert(CONTENT_DISPOSITION, value);
        }
        self
    }

    /// `Retry-After` in seconds (a date is counted from now); `None` when absent or past.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers().get(RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        parse_http_date(value)?
            .duration_since(SystemTime::now())
            .ok()
    }

    /// Sets `Retry-After` to whole seconds.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(after.as_secs()));
        self
    }

    /// The `WWW-Authenticate` challenges, one per header field.
    pub fn www_authenticate(&self) -> Vec<&str> {
        self.headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// Adds a `WWW-Authenticate` challenge (e.g. `Bearer realm="api"`); an invalid one is
    /// skipped with a log line, as [`header`](Self::header) does.
    #[must_use]
    pub fn with_www_authenticate(self, challenge: &str) -> Self {
        self.header(WWW_AUTHENTICATE, challenge)
    }

    /// Makes a relative `Location` absolute against `request_url` (Werkzeug's
    /// `autocorrect_location_header`; RFC 9110 allows relative ones, some old clients do not).
    ///
    /// ```
    /// use tollgate::{Request, Response};
    /// let req = Request::from_http(Request::get("/a/b?x").header("host", "example.com").build().unwrap());
    /// let res = Response::redirect(http::StatusCode::FOUND, "../c").unwrap();
    /// let res = res.absolute_location(&req.url());
    /// assert_eq!(res.headers()["location"], "http://example.com/c");
    /// ```
    #[must_use]
    pub fn absolute_location(mut self, request_url: &str) -> Self {
        let Some(location) = self.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
            return self;
        };
        let absolute = resolve(request_url, location);
        if let Ok(value) = HeaderValue::from_str(&absolute) {
            self.headers_mut().insert(LOCATION, value);
        }
        self
    }

    fn date_header(&self, name: &HeaderName) -> Option<SystemTime> {
        parse_http_date(self.headers().get(name)?.to_str().ok()?)
    }

    fn with_date_header(mut self, name: HeaderName, time: SystemTime) -> Self {
        if let Ok(value) = HeaderValue::from_str(&fmt_http_date(time)) {
            self.headers_mut().insert(name, value);
        }
        self
    }
}

/// `TYPE; filename="ascii"` plus `filename*` for names that are not plain ASCII.
fn content_disposition(kind: &str, filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ascii == filename {
        return format!("{kind}; filename=\"{ascii}\"");
    }
    // RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else percent-encoded.
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(filename, ATTR);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `reference` resolved against absolute URL `base` (RFC 3986 §5.2, dot segments removed).
pub(crate) fn resolve(base: &str, reference: &str) -> String {
    let has_scheme = reference
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains(['/', '?', '#']));
    if has_scheme {
        return reference.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(net) = reference.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(authority_end);
    let base_path = path_query.split(['?', '#']).next().unwrap_or("");
    let (ref_path, ref_tail) = match reference.find(['?', '#']) {
        Some(i) => reference.split_at(i),
        None => (reference, ""),
    };
    if ref_path.is_empty() {
        // `?y` keeps the base's path; `#s` its path and query.
        let kept = if ref_tail.starts_with('#') {
            path_query.split('#').next().unwrap_or("")
        } else {
            base_path
        };
        return format!("{scheme}://{authority}{kept}{ref_tail}");
    }
    let path = if ref_path.starts_with('/') {
        ref_path.to_owned()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{}{ref_path}", if dir.is_empty() { "/" } else { dir })
    };
    format!("{scheme}://{authority}{}{ref_tail}", remove_dots(&path))
}

/// RFC 3986 §5.2.4, on a path that starts with `/`.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_references() {
        let base = "http://a/b/c/d;p?q";
        // RFC 3986 §5.4.1, the normal examples.
        for (reference, expected) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
        ] {
            assert_eq!(resolve(base, reference), expected, "{reference}");
        }
    }

    #[test]
    fn validators_and_dates_round_trip() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let res = Response::text("x")
            .with_last_modified(t)
            .with_expires(t)
            .with_etag(ETag::weak("v1").unwrap());
        assert_eq!(res.last_modified(), Some(t));
        assert_eq!(res.expires(), Some(t));
        assert_eq!(res.etag(), Some(ETag::weak("v1").unwrap()));
        let tagged = Response::text("hello").with_etag_from_body();
        assert_eq!(tagged.etag(), Some(ETag::for_bytes(b"hello")));
    }

    #[test]
    fn cache_control_vary_retry_after_and_challenges() {
        let res = Response::text("x")
            .cache_control(super::super::CacheControl::no_store())
            .vary(http::header::ACCEPT)
            .vary(http::header::ACCEPT)
            .with_retry_after(Duration::from_secs(30))
            .with_www_authenticate("Bearer realm=\"api\"");
        assert!(res.cache_directives().unwrap().no_store());
        assert_eq!(res.headers()["vary"], "accept");
        assert_eq!(res.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(res.www_authenticate(), ["Bearer realm=\"api\""]);
        assert_eq!(res.mimetype().as_deref(), Some("text/plain"));
    }

    #[test]
    fn plain_ascii_names_have_no_extended_form() {
        assert_eq!(
            content_disposition("attachment", "report.pdf"),
            "attachment; filename=\"report.pdf\""
        );
        assert_eq!(
            content_disposition("attachment", "a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
        );
    }
}
