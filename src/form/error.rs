//! [`MultipartError`]: why a multipart body was refused, and the status that says so.

use std::fmt;

use http::StatusCode;

use super::scan::ScanError;
use crate::body::BoxError;

/// Why a `multipart/form-data` body was refused.
///
/// Limits of size answer `413 Payload Too Large`, limits of count and malformed bodies
/// `400 Bad Request`, a body that is not multipart `415`; each message names the limit from
/// [`FormLimits`](super::FormLimits) it hit. Only a failure to write a spooled file is a 500.
#[derive(Debug)]
#[non_exhaustive]
pub enum MultipartError {
    /// The `Content-Type` is not `multipart/form-data` (415).
    NotMultipart {
        /// The `Content-Type` received, cut to 64 bytes.
        content_type: String,
    },
    /// The `Content-Type` has no `boundary` parameter (400).
    MissingBoundary,
    /// The boundary is longer than `max_boundary_len` (at most 70, RFC 2046) (400).
    BoundaryTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The boundary has characters RFC 2046 does not allow (400).
    InvalidBoundary {
        /// The boundary, cut to 64 bytes.
        boundary: String,
    },
    /// The body is larger than `max_body_size` (413).
    BodyTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The body has more than `max_parts` parts (400).
    TooManyParts {
        /// The limit.
        limit: usize,
    },
    /// A part's headers, or what comes before the first boundary, are longer than
    /// `max_header_bytes` (413).
    HeaderTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A text field is larger than `max_field_size` (413).
    FieldTooLarge {
        /// The field's name, cut to 64 bytes.
        name: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A file is larger than `max_file_size` (413).
    FileTooLarge {
        /// The field's name, cut to 64 bytes.
        name: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The text fields together need more than `max_memory` bytes (413).
    MemoryLimit {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A part has no `name` in its `Content-Disposition` (400).
    MissingName {
        /// The part's index, from 0.
        index: usize,
    },
    /// A part's header block could not be parsed (400): a bad header line, more than 32
    /// headers, bytes that are not a header value.
    InvalidPartHeaders {
        /// What `multer` reported.
        reason: String,
    },
    /// The body ended inside a part, before its closing boundary (400).
    Truncated {
        /// The part's name, when known, cut to 64 bytes.
        name: Option<String>,
    },
    /// The body is not framed by its boundary: no opening boundary, a boundary line not
    /// followed by CRLF, or no closing boundary (400).
    Malformed,
    /// Reading the body failed: the client went away or sent broken framing (400).
    Read(BoxError),
    /// Writing a spooled file failed: 507 when the disk or quota is full, else 500 (the cause
    /// goes to logs only).
    Spool(std::io::Error),
}

impl MultipartError {
    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        use MultipartError::*;
        match self {
            NotMultipart { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTooLarge { .. }
            | HeaderTooLarge { .. }
            | FieldTooLarge { .. }
            | FileTooLarge { .. }
            | MemoryLimit { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Spool(e) if disk_full(e) => StatusCode::INSUFFICIENT_STORAGE,
            Spool(_) => StatusCode::INTERNAL_SERVER_ERROR,
            MissingBoundary
            | BoundaryTooLong { .. }
            | InvalidBoundary { .. }
            | TooManyParts { .. }
            | MissingName { .. }
            | InvalidPartHeaders { .. }
            | Truncated { .. }
            | Malformed
            | Read(_) => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn from_scan(err: ScanError, limits: &super::FormLimits) -> Self {
        match err {
            ScanError::PreambleTooLong | ScanError::HeaderTooLarge => {
                MultipartError::HeaderTooLarge {
                    limit: limits.max_header_bytes,
                }
            }
            ScanError::TooManyParts => MultipartError::TooManyParts {
                limit: limits.max_parts,
            },
        }
    }

    /// Turns `multer`'s error into ours, recovering our own errors raised inside the body stream.
    pub(crate) fn from_multer(err: multer::Error) -> Self {
        use multer::Error as M;
        match err {
            M::StreamReadFailed(inner) => match inner.downcast::<MultipartError>() {
                Ok(ours) => *ours,
                Err(other) => MultipartError::Read(other),
            },
            M::IncompleteFieldData { field_name } => MultipartError::Truncated {
                name: field_name.map(|n| crate::syntax::excerpt(&n, 64)),
            },
            M::IncompleteStream => MultipartError::Malformed,
            M::StreamSizeExceeded { limit } => MultipartError::BodyTooLarge { limit },
            M::FieldSizeExceeded { limit, field_name } => MultipartError::FieldTooLarge {
                name: crate::syntax::excerpt(field_name.as_deref().unwrap_or(""), 64),
                limit,
            },
            M::NoMultipart | M::DecodeContentType(_) => MultipartError::NotMultipart {
                content_type: String::new(),
            },
            M::NoBoundary => MultipartError::MissingBoundary,
            other => MultipartError::InvalidPartHeaders {
                reason: crate::syntax::excerpt(&other.to_string(), 64),
            },
        }
    }
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MultipartError::*;
        match self {
            NotMultipart { content_type } => write!(
                f,
                "expected a multipart/form-data body with a valid Content-Type, got `{content_type}`"
            ),
            MissingBoundary => f.write_str(
                "the multipart/form-data Content-Type has no boundary parameter; \
                 add `; boundary=...`",
            ),
            BoundaryTooLong { len, limit } => write!(
                f,
                "the multipart boundary is {len} characters long; the limit \
                 `max_boundary_len` is {limit} (RFC 2046 allows at most 70)"
            ),
            InvalidBoundary { boundary } => write!(
                f,
                "the multipart boundary `{boundary}` has characters RFC 2046 does not allow \
                 (letters, digits and '()+_,-./:=? only, no trailing space)"
            ),
            BodyTooLarge { limit } => write!(
                f,
                "the multipart body is larger than the limit `max_body_size` of {limit} bytes"
            ),
            TooManyParts { limit } => write!(
                f,
                "the multipart body has more parts than the limit `max_parts` of {limit}"
            ),
            HeaderTooLarge { limit } => write!(
                f,
                "a multipart part's headers (or the bytes before the first boundary) are \
                 longer than the limit `max_header_bytes` of {limit} bytes"
            ),
            FieldTooLarge { name, limit } => write!(
                f,
                "form field `{name}` is larger than the limit `max_field_size` of {limit} bytes"
            ),
            FileTooLarge { name, limit } => write!(
                f,
                "the file in field `{name}` is larger than the limit `max_file_size` of \
                 {limit} bytes"
            ),
            MemoryLimit { limit } => write!(
                f,
                "the form's text fields are larger in all than the limit `max_memory` of \
                 {limit} bytes"
            ),
            MissingName { index } => write!(
                f,
                "multipart part {index} has no name in its Content-Disposition header"
            ),
            InvalidPartHeaders { reason } => {
                write!(f, "a multipart part has invalid headers: {reason}")
            }
            Truncated { name: Some(name) } => write!(
                f,
                "the multipart body ended inside part `{name}`, before the closing boundary"
            ),
            Truncated { name: None } => f.write_str(
                "the multipart body ended inside a part, before the closing boundary",
            ),
            Malformed => f.write_str(
                "the multipart body is not framed by its boundary: the opening boundary, a \
                 CRLF after a boundary line, or the closing `--boundary--` is missing",
            ),
            Read(_) => f.write_str("could not read the multipart body"),
            Spool(_) => f.write_str("could not write an uploaded file to disk"),
        }
    }
}

/// Whether spooling failed for want of room (`ENOSPC`, a quota, `EFBIG` past the file size
/// limit): a `507 Insufficient Storage`, not the server's fault in the code.
fn disk_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

impl std::error::Error for MultipartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MultipartError::Read(e) => Some(e.as_ref()),
            MultipartError::Spool(e) => Some(e),
            _ => None,
        }
    }
}

impl crate::error::ClientError for MultipartError {
    fn status(&self) -> StatusCode {
        MultipartError::status(self)
    }

    /// A spooling failure is the server's: the client learns nothing of it.
    fn public_message(&self) -> std::borrow::Cow<'static, str> {
        match self {
            MultipartError::Spool(e) if disk_full(e) => {
                "the server has no room to store the upload now; try again later".into()
            }
            MultipartError::Spool(_) => "internal server error".into(),
            MultipartError::Read(_) => "could not read the multipart body".into(),
            other => other.to_string().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HttpError;

    #[test]
    fn is_send_sync_and_small() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<MultipartError>();
        assert!(std::mem::size_of::<MultipartError>() <= 40);
    }

    #[test]
    fn size_limits_are_413_and_name_the_limit() {
        let err = HttpError::from(MultipartError::FileTooLarge {
            name: "upload".into(),
            limit: 10,
        });
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.message().contains("max_file_size"), "{}", err.message());
    }

    #[test]
    fn counts_are_400() {
        let err = HttpError::from(MultipartError::TooManyParts { limit: 3 });
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.message().contains("max_parts"));
    }

    #[test]
    fn spool_failures_hide_their_cause() {
        let err = HttpError::from(MultipartError::Spool(std::io::Error::other("/secret/path")));
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.message().contains("secret"));
    }

    #[test]
    fn our_errors_come_back_out_of_multer() {
        let boxed: BoxError = Box::new(MultipartError::BodyTooLarge { limit: 5 });
        let back = MultipartError::from_multer(multer::Error::StreamReadFailed(boxed));
        assert!(matches!(back, MultipartError::BodyTooLarge { limit: 5 }));
    }

    #[test]
    fn truncates_on_char_boundaries() {
        let long = "é".repeat(100);
        let cut = crate::syntax::excerpt(&long, 64);
        assert!(cut.len() <= 64 + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
