//! [`Request::from_bytes`] and [`Request::to_bytes`]: WebOb's `from_bytes` / `as_bytes`.

use bytes::Bytes;

use super::{parse_request, write_request, Trailers, WireError};
use crate::body::{Body, BoxError};
use crate::{HttpError, Request};

impl Request<Body> {
    /// Reads a request from exactly one raw HTTP/1.1 message (WebOb's `Request.from_bytes`),
    /// as strictly as [`wire::parse_request`](parse_request).
    ///
    /// ```
    /// use tollgate::Request;
    ///
    /// let req = Request::from_bytes(b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
    /// assert_eq!(req.path(), "/a");
    /// assert_eq!(req.args().unwrap().get("b"), Some("1"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`parse_request`]'s errors, and [`WireError::TrailingBytes`] when bytes follow the
    /// message (read several messages with [`wire::parse_request`](parse_request)).
    pub fn from_bytes(input: &[u8]) -> Result<Self, WireError> {
        let (req, used) = parse_request(input)?;
        if used != input.len() {
            return Err(WireError::TrailingBytes {
                len: input.len() - used,
            });
        }
        Ok(Request::from_http(req.map(Body::from)))
    }
}

impl<B> Request<B>
where
    B: http_body::Body + Unpin,
    B::Data: bytes::Buf,
    B::Error: Into<BoxError>,
{
    /// The request as raw HTTP/1.1 bytes (WebOb's `as_bytes`), reading the body first (at
    /// most `limit` bytes; it stays readable through [`bytes`](Self::bytes)).
    ///
    /// ```
    /// use tollgate::Request;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut req = Request::from_http(
    ///     Request::post("/x").header("host", "a").body("hi").unwrap(),
    /// );
    /// let raw = req.to_bytes(1024).await.unwrap();
    /// assert_eq!(raw, b"POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\n\r\nhi");
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`bytes`](Self::bytes)' errors; a 400 from [`write_request`]'s errors (a request that
    /// could not be read back: no `Host`, ambiguous framing).
    pub async fn to_bytes(&mut self, limit: usize) -> Result<Vec<u8>, HttpError> {
        let body: Bytes = self.bytes(limit).await?;
        let http = self.as_http();
        let mut copy = http::Request::new(body);
        *copy.method_mut() = http.method().clone();
        *copy.uri_mut() = http.uri().clone();
        *copy.version_mut() = http.version();
        *copy.headers_mut() = http.headers().clone();
        if let Some(trailers) = http.extensions().get::<Trailers>() {
            copy.extensions_mut().insert(trailers.clone());
        }
        Ok(write_request(&copy)?)
    }
}
