//! Form bodies: `multipart/form-data` read as a stream of fields ([`Multipart`]) or whole
//! ([`FormData`], files spooled to temporary files), under [`FormLimits`].
//!
//! Everything here streams: a body is never held whole in memory, a file larger than
//! `spool_threshold` goes to a temporary file (deleted on drop), and every limit is enforced
//! as the bytes arrive, with or without `Content-Length`. A refused body is a
//! [`MultipartError`] that converts into a 413, 400 or 415 [`HttpError`](crate::HttpError)
//! naming the limit it hit. See `docs/uploads.md` for the limits and the memory bound.
//!
//! # Example
//!
//! ```
//! use tollgate::form::{FormData, FormLimits};
//! use http::header::{HeaderValue, CONTENT_TYPE};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::HttpError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let req = http::Request::post("/upload")
//!     .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
//!     .body(tollgate::Body::from(
//!         "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
//!          --XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"C:\\tmp\\cv.pdf\"\r\n\
//!          Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--XyZ--\r\n",
//!     ))
//!     .unwrap();
//!
//! let limits = FormLimits::new().max_file_size(10 * 1024 * 1024);
//! let (parts, body) = req.into_parts();
//! let content_type = parts.headers.get(CONTENT_TYPE).cloned().unwrap_or(HeaderValue::from_static(""));
//! let mut form = FormData::read(&content_type, body, &limits).await?;
//!
//! assert_eq!(form.fields.get("note"), Some("hello"));
//! let doc = form.files.remove("doc").pop().unwrap();
//! assert_eq!(doc.safe_filename(), "cv.pdf");
//! let name = doc.safe_filename();
//! doc.persist(dir.path().join(name)).await.map_err(tollgate::HttpError::internal)?;
//! # Ok(()) }
//! ```

#[cfg(feature = "multipart")]
mod data;
#[cfg(feature = "multipart")]
mod error;
mod filename;
#[cfg(feature = "multipart")]
mod limits;
#[cfg(feature = "multipart")]
mod multipart;
#[cfg(feature = "multipart")]
mod request;
#[cfg(feature = "multipart")]
mod scan;
#[cfg(feature = "multipart")]
mod summary;

#[cfg(feature = "multipart")]
pub use data::{FormData, UploadedFile};
#[cfg(feature = "multipart")]
pub use error::MultipartError;
pub use filename::safe_filename;
#[cfg(feature = "multipart")]
pub use limits::{FormLimits, MAX_BOUNDARY_LEN};
#[cfg(feature = "multipart")]
pub use multipart::{parse_boundary, Field, Multipart};
#[cfg(feature = "multipart")]
pub(crate) use summary::summarize_request;
#[cfg(feature = "multipart")]
pub use summary::{FileSummary, FormSummary};
