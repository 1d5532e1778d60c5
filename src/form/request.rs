//! The multipart readers of [`Request`]: [`Request::multipart`] and [`Request::form_data`].

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};

use super::{parse_boundary, FormData, FormLimits, Multipart, MultipartError};
use crate::body::BoxError;
use crate::Request;

impl<B> Request<B>
where
    B: http_body::Body<Data = Bytes> + Default + Send + 'static,
    B::Error: Into<BoxError> + 'static,
{
    /// A streaming reader of this `multipart/form-data` body: one [`Field`](super::Field) at
    /// a time, its data as chunks. The body is taken out of the request (the other body
    /// readers then answer 400), unless [`bytes`](Self::bytes) already read it, in which case
    /// those bytes are parsed.
    ///
    /// ```
    /// use tollgate::{form::FormLimits, Request};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::HttpError> {
    /// let http = Request::post("/upload")
    ///     .header("content-type", "multipart/form-data; boundary=b")
    ///     .body("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n\
    ///            0123456789\r\n--b--\r\n")
    ///     .unwrap();
    /// let mut req = Request::from_http(http);
    /// let mut multipart = req.multipart(&FormLimits::default())?;
    /// while let Some(mut field) = multipart.next_field().await? {
    ///     let mut size = 0;
    ///     while let Some(chunk) = field.chunk().await? {
    ///         size += chunk.len();
    ///     }
    ///     assert_eq!((field.file_name(), size), (Some("a.bin"), 10));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// 415 ([`MultipartError::NotMultipart`]) for another or no content type, 400 for a
    /// missing, invalid or too long boundary, 413 when `Content-Length` is over
    /// `max_body_size`. The body is left in the request after these.
    pub fn multipart(&mut self, limits: &FormLimits) -> Result<Multipart, MultipartError> {
        let content_type = self
            .headers()
            .get(CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static(""));
        let boundary = parse_boundary(&content_type, limits)?;
        match self.take_body() {
            Ok(body) => Multipart::with_body(body, &boundary, limits),
            Err(Some(bytes)) => {
                let once = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
                Multipart::with_boundary(once, &boundary, limits)
            }
            Err(None) => Err(MultipartError::Read(
                "the request body was read before, and that failed".into(),
            )),
        }
    }

    /// Reads this `multipart/form-data` body whole: text fields in memory, files in memory or
    /// spooled to temporary files (see [`FormData`]).
    ///
    /// ```
    /// use tollgate::{form::FormLimits, Request};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::HttpError> {
    /// let http = Request::post("/upload")
    ///     .header("content-type", "multipart/form-data; boundary=b")
    ///     .body("--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHi\r\n--b--\r\n")
    ///     .unwrap();
    /// let form = Request::from_http(http).form_data(&FormLimits::default()).await?;
    /// assert_eq!(form.fields.get("title"), Some("Hi"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`multipart`](Self::multipart) and [`FormData::read`].
    pub async fn form_data(&mut self, limits: &FormLimits) -> Result<FormData, MultipartError> {
        let multipart = self.multipart(limits)?;
        FormData::from_multipart(multipart, limits).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;

    const BODY: &str = "--b\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nv\r\n--b--\r\n";

    fn request() -> Request {
        let http = Request::post("/")
            .header("content-type", "multipart/form-data; boundary=b")
            .body(BODY)
            .unwrap();
        Request::from_http(http)
    }

    #[tokio::test]
    async fn parses_bytes_read_before() {
        let mut req = request();
        assert_eq!(req.bytes(1024).await.unwrap(), BODY);
        let form = req.form_data(&FormLimits::default()).await.unwrap();
        assert_eq!(form.fields.get("t"), Some("v"));
    }

    #[tokio::test]
    async fn takes_the_body_once() {
        let mut req = request();
        let form = req.form_data(&FormLimits::default()).await.unwrap();
        assert_eq!(form.fields.get("t"), Some("v"));
        let err = req.bytes(1024).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        assert!(req.multipart(&FormLimits::default()).is_err());
    }

    #[tokio::test]
    async fn a_refused_content_type_leaves_the_body() {
        let http = Request::post("/")
            .header("content-type", "text/plain")
            .body("x")
            .unwrap();
        let mut req: Request<Body> = Request::from_http(http);
        let err = req.multipart(&FormLimits::default()).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(req.bytes(10).await.unwrap(), "x");
    }
}
