//! [`FormSummary`]: what `tollgate echo` reports about a multipart body, read in one pass with
//! nothing written to disk.

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::TryStreamExt;
use http::header::HeaderValue;
use http_body_util::BodyExt;
use serde::ser::{Serialize, SerializeTuple, Serializer};
use sha2::{Digest, Sha256};

use super::data::{next_named_field, read_text, MemoryBudget};
use super::{FormLimits, Multipart, MultipartError};
use crate::body::Body;
use crate::multimap::MultiMap;

/// A multipart body summed up: its text fields, and each file's name, type, size and SHA-256.
///
/// Files are hashed as they stream by and never stored, so memory stays bounded by the text
/// fields (`max_memory`) whatever the files' sizes.
///
/// ```
/// use tollgate::form::{FormLimits, FormSummary, Multipart};
/// use http::HeaderValue;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::form::MultipartError> {
/// let body = "--b\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\nhi\r\n\
///             --b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\
///             Content-Type: text/plain\r\n\r\nabc\r\n--b--\r\n";
/// let ct = HeaderValue::from_static("multipart/form-data; boundary=b");
/// let limits = FormLimits::default();
/// let multipart = Multipart::new(&ct, tollgate::Body::from(body), &limits)?;
/// let summary = FormSummary::from_multipart(multipart, &limits).await?;
/// assert_eq!(
///     serde_json::to_value(&summary).unwrap(),
///     serde_json::json!({
///         "form": [["t", "hi"]],
///         "files": [["f", "a.txt", "text/plain", 3,
///                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]],
///     })
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct FormSummary {
    /// The text fields, serialized as `[[name, value], ...]`.
    pub form: MultiMap,
    /// The files, in order.
    pub files: Vec<FileSummary>,
}

/// One uploaded file, serialized as `[field, filename, content_type, size, sha256]`
/// (`content_type` is `null` when the part had none).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSummary {
    /// The field's name.
    pub field: String,
    /// The file name as the client sent it.
    pub file_name: String,
    /// The part's `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

impl Serialize for FileSummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(5)?;
        t.serialize_element(&self.field)?;
        t.serialize_element(&self.file_name)?;
        t.serialize_element(&self.content_type)?;
        t.serialize_element(&self.size)?;
        t.serialize_element(&self.sha256)?;
        t.end()
    }
}

impl FormSummary {
    /// Reads the rest of a [`Multipart`] reader, then [drains](Multipart::drain) the body.
    /// `max_memory` bounds the text fields; `spool_threshold` and `spool_dir` are not used:
    /// nothing is stored.
    ///
    /// # Errors
    ///
    /// As [`FormData::read`](super::FormData::read).
    pub async fn from_multipart(
        mut multipart: Multipart,
        limits: &FormLimits,
    ) -> Result<Self, MultipartError> {
        let mut summary = FormSummary::default();
        let mut memory = MemoryBudget::new(limits.max_memory);
        while let Some((name, mut field)) = next_named_field(&mut multipart).await? {
            let Some(file_name) = field.file_name().map(str::to_owned) else {
                let text = read_text(&mut field, &mut memory).await?;
                summary.form.append(name, text);
                continue;
            };
            let content_type = field
                .headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = field.chunk().await? {
                size += chunk.len() as u64;
                hasher.update(&chunk);
            }
            summary.files.push(FileSummary {
                field: name,
                file_name,
                content_type,
                size,
                sha256: hex(&hasher.finalize()),
            });
        }
        multipart.drain().await?;
        Ok(summary)
    }
}

/// The body of a request as `tollgate echo` reports it when it is multipart: its summary, and
/// the whole body's length and SHA-256 (epilogue included), in one pass.
pub(crate) async fn summarize_request(
    req: &mut crate::Request,
    limits: &FormLimits,
) -> Result<(FormSummary, u64, String), MultipartError> {
    let digest = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let tap = Arc::clone(&digest);
    let body = Body::from_stream(
        req.take_body()
            .unwrap_or_else(|kept| kept.map(Body::from).unwrap_or_default())
            .into_data_stream()
            .inspect_ok(move |chunk| {
                let mut digest = tap.lock().unwrap_or_else(PoisonError::into_inner);
                digest.0.update(chunk);
                digest.1 += chunk.len() as u64;
            }),
    );
    let multipart = Multipart::new(
        req.headers()
            .get(http::header::CONTENT_TYPE)
            .unwrap_or(&HeaderValue::from_static("")),
        body,
        limits,
    )?;
    let summary = FormSummary::from_multipart(multipart, limits).await?;
    let (hasher, len) = std::mem::take(&mut *digest.lock().unwrap_or_else(PoisonError::into_inner));
    Ok((summary, len, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
