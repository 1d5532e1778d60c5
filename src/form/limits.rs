//! [`FormLimits`]: every bound a multipart body is read under.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The longest boundary RFC 2046 §5.1.1 allows: 70 characters.
pub const MAX_BOUNDARY_LEN: usize = 70;

/// The bounds a `multipart/form-data` body is read under, with Werkzeug-like defaults.
///
/// Size limits are answered with `413 Payload Too Large`, count and shape limits with
/// `400 Bad Request`; each message names the limit (e.g. `max_file_size`), so the client learns
/// what to change. Deserializes from the CLI's TOML with every key optional:
///
/// ```
/// # use tollgate::form::FormLimits;
/// let limits: FormLimits = serde_json::from_str(r#"{"max_file_size": 104857600}"#).unwrap();
/// assert_eq!(limits.max_file_size, 100 * 1024 * 1024);
/// assert_eq!(limits.max_parts, 1000);
///
/// let limits = FormLimits::new().max_body_size(1 << 30).max_file_size(1 << 30);
/// ```
///
/// Memory used while reading is bounded by `max_memory` (what [`FormData`](super::FormData)
/// keeps) plus about 300 KiB per body being read (the read-ahead and one part's headers),
/// whatever the client sends; see `docs/uploads.md`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FormLimits {
    /// The whole body, in bytes, whether or not it has a `Content-Length` (a chunked body is
    /// cut as soon as it passes). Default is `16777216` (16 MiB).
    pub max_body_size: u64,
    /// How many parts (text fields plus files) one body may have. Default is `1000`
    /// (Werkzeug's `max_form_parts`).
    pub max_parts: usize,
    /// The size of one text field (a part without a file name), in bytes. Default is `524288`
    /// (512 KiB; Werkzeug's `max_form_memory_size` is 500 kB).
    pub max_field_size: u64,
    /// The size of one file (a part with a file name), in bytes. Default is `16777216`
    /// (16 MiB, so in practice `max_body_size` decides).
    pub max_file_size: u64,
    /// What [`FormData`](super::FormData) keeps in memory in all: text fields plus files too
    /// small to be spooled. Past it text fields are refused and files go to disk. Default is
    /// `2097152` (2 MiB).
    pub max_memory: u64,
    /// A file larger than this many bytes is written to a temporary file instead of being kept
    /// in memory. Default is `524288` (512 KiB, Werkzeug's 500 kB).
    pub spool_threshold: u64,
    /// The bytes of one part's header block (and of anything before the first boundary).
    /// Default is `8192` (8 KiB, nginx's header buffer). At most 32 header lines are parsed.
    pub max_header_bytes: usize,
    /// The longest boundary accepted; values above 70 (RFC 2046's maximum) count as 70.
    /// Default is `70`.
    pub max_boundary_len: usize,
    /// Where spooled files are created. Default is `None`: the system's temporary directory
    /// (`std::env::temp_dir()`, i.e. `$TMPDIR` or `/tmp`).
    pub spool_dir: Option<PathBuf>,
}

impl Default for FormLimits {
    fn default() -> Self {
        FormLimits {
            max_body_size: 16 * 1024 * 1024,
            max_parts: 1000,
            max_field_size: 512 * 1024,
            max_file_size: 16 * 1024 * 1024,
            max_memory: 2 * 1024 * 1024,
            spool_threshold: 512 * 1024,
            max_header_bytes: 8 * 1024,
            max_boundary_len: MAX_BOUNDARY_LEN,
            spool_dir: None,
        }
    }
}

impl FormLimits {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`max_body_size`](Self::max_body_size).
    #[must_use]
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// Sets [`max_parts`](Self::max_parts).
    #[must_use]
    pub fn max_parts(mut self, parts: usize) -> Self {
        self.max_parts = parts;
        self
    }

    /// Sets [`max_field_size`](Self::max_field_size).
    #[must_use]
    pub fn max_field_size(mut self, bytes: u64) -> Self {
        self.max_field_size = bytes;
        self
    }

    /// Sets [`max_file_size`](Self::max_file_size).
    #[must_use]
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Sets [`max_memory`](Self::max_memory).
    #[must_use]
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Sets [`spool_threshold`](Self::spool_threshold).
    #[must_use]
    pub fn spool_threshold(mut self, bytes: u64) -> Self {
        self.spool_threshold = bytes;
        self
    }

    /// Sets [`max_header_bytes`](Self::max_header_bytes).
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets [`max_boundary_len`](Self::max_boundary_len) (capped at 70).
    #[must_use]
    pub fn max_boundary_len(mut self, len: usize) -> Self {
        self.max_boundary_len = len;
        self
    }

    /// Sets [`spool_dir`](Self::spool_dir).
    #[must_use]
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The boundary limit in force: `max_boundary_len`, at most 70.
    pub(crate) fn boundary_limit(&self) -> usize {
        self.max_boundary_len.min(MAX_BOUNDARY_LEN)
    }

    /// The directory spooled files go to.
    pub(crate) fn spool_dir_or_temp(&self) -> PathBuf {
        self.spool_dir
            .as_deref()
            .map_or_else(std::env::temp_dir, Path::to_path_buf)
    }
}
