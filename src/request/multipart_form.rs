//! [`MultipartForm`]: a `multipart/form-data` body for tests and clients.

use bytes::{BufMut, Bytes, BytesMut};

/// A `multipart/form-data` body (RFC 7578) under construction: text fields and files, for
/// [`RequestBuilder::multipart`](super::RequestBuilder::multipart).
///
/// ```
/// use tollgate::request::MultipartForm;
/// use tollgate::Request;
///
/// let form = MultipartForm::new()
///     .text("title", "Notes")
///     .file("upload", "notes.txt", "text/plain", "line 1\n");
/// let req = Request::post("/upload").multipart(form).build().unwrap();
/// assert!(req.headers()["content-type"].to_str().unwrap().starts_with("multipart/form-data; boundary="));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct MultipartForm {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

impl MultipartForm {
    /// No part yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A text field.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: None,
            content_type: None,
            data: Bytes::from(value.into()),
        });
        self
    }

    /// A file: its field name, file name, content type and bytes.
    pub fn file(
        mut self,
        name: &str,
        filename: &str,
        content_type: &str,
        data: impl Into<Bytes>,
    ) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: Some(filename.to_owned()),
            content_type: Some(content_type.to_owned()),
            data: data.into(),
        });
        self
    }

    /// The `Content-Type` (with its boundary) and the body.
    pub fn encode(&self) -> (String, Bytes) {
        let boundary = self.boundary();
        let mut body = BytesMut::new();
        for part in &self.parts {
            body.put_slice(format!("--{boundary}\r\n").as_bytes());
            // Names are quoted; `"` and line breaks in them are escaped as browsers do.
            let mut disposition = format!("form-data; name=\"{}\"", quote(&part.name));
            if let Some(filename) = &part.filename {
                disposition.push_str(&format!("; filename=\"{}\"", quote(filename)));
            }
            body.put_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
            if let Some(content_type) = &part.content_type {
                body.put_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.put_slice(b"\r\n");
            body.put_slice(&part.data);
            body.put_slice(b"\r\n");
        }
        body.put_slice(format!("--{boundary}--\r\n").as_bytes());
        (
            format!("multipart/form-data; boundary={boundary}"),
            body.freeze(),
        )
    }

    /// A boundary that occurs in no part: derived from their bytes, lengthened until unique.
    fn boundary(&self) -> String {
        let mut seed = Vec::new();
        for part in &self.parts {
            seed.extend_from_slice(part.name.as_bytes());
            seed.extend_from_slice(&part.data);
        }
        let mut boundary = format!("tollgate-{}", crate::response::ETag::for_bytes(&seed).tag());
        while self
            .parts
            .iter()
            .any(|p| contains(&p.data, boundary.as_bytes()))
        {
            boundary.push('x');
        }
        boundary
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The WHATWG form encoding of names: `"` as `%22`, CR and LF as `%0D`, `%0A`.
fn quote(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}
