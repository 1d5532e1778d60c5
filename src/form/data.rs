//! [`FormData`]: a whole multipart form read, text fields in memory and files spooled to disk.

use std::io;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use http::header::HeaderValue;
use http::HeaderMap;
use mime::Mime;
use tempfile::TempPath;
use tokio::io::{AsyncWriteExt, BufWriter};

use super::multipart::Field;
use super::{safe_filename, FormLimits, Multipart, MultipartError};
use crate::body::BoxError;
use crate::multimap::MultiMap;

/// The write buffer of a spooled file.
const WRITE_BUFFER: usize = 64 * 1024;

/// A multipart form read whole: text fields in memory, files in memory or in temporary files.
///
/// Temporary files are deleted when their [`UploadedFile`] is dropped (keep one with
/// [`UploadedFile::persist`]); when reading fails half-way, those already written are deleted
/// before the error is returned.
///
/// ```
/// use tollgate::form::{FormData, FormLimits};
/// use http::HeaderValue;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), tollgate::form::MultipartError> {
/// let body = "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoliday\r\n\
///             --XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"../фото.jpg\"\r\n\
///             Content-Type: image/jpeg\r\n\r\nJFIF..\r\n--XyZ--\r\n";
/// let content_type = HeaderValue::from_static("multipart/form-data; boundary=XyZ");
/// let form = FormData::read(&content_type, tollgate::Body::from(body), &FormLimits::default()).await?;
/// assert_eq!(form.fields.get("title"), Some("Holiday"));
/// let photo = form.files.get_ref("photo").unwrap();
/// assert_eq!(photo.file_name(), "../фото.jpg");
/// assert_eq!(photo.safe_filename(), "фото.jpg");
/// assert_eq!(photo.size(), 6);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct FormData {
    /// Text fields (parts without a file name), in order.
    pub fields: MultiMap,
    /// Files (parts with a file name, even an empty one), in order.
    pub files: MultiMap<UploadedFile>,
}

impl FormData {
    /// Reads a whole `multipart/form-data` body under `limits`.
    ///
    /// # Errors
    ///
    /// Any [`MultipartError`]; a part without a name is [`MultipartError::MissingName`], text
    /// fields over `max_memory` in all are [`MultipartError::MemoryLimit`].
    pub async fn read(
        content_type: &HeaderValue,
        body: impl http_body::Body<Data = Bytes, Error: Into<BoxError> + 'static> + Send + 'static,
        limits: &FormLimits,
    ) -> Result<Self, MultipartError> {
        let multipart = Multipart::new(content_type, body, limits)?;
        Self::from_multipart(multipart, limits).await
    }

    /// Reads the rest of a [`Multipart`] reader, then [drains](Multipart::drain) the body;
    /// `limits` gives `max_memory`, `spool_threshold` and `spool_dir`.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub async fn from_multipart(
        mut multipart: Multipart,
        limits: &FormLimits,
    ) -> Result<Self, MultipartError> {
        let mut form = FormData::default();
        let mut memory = MemoryBudget::new(limits.max_memory);
        while let Some((name, mut field)) = next_named_field(&mut multipart).await? {
            match field.file_name().map(str::to_owned) {
                None => {
                    let text = read_text(&mut field, &mut memory).await?;
                    form.fields.append(name, text);
                }
                Some(file_name) => {
                    let content_type = field.content_type().cloned();
                    let headers = field.headers().clone();
                    let (data, size) = spool(&mut field, limits, &mut memory).await?;
                    let file = UploadedFile {
                        file_name,
                        content_type,
                        headers,
                        size,
                        data,
                    };
                    form.files.append(name, file);
                }
            }
        }
        multipart.drain().await?;
        Ok(form)
    }
}

/// The next field with its name; a part without a name is refused.
pub(crate) async fn next_named_field(
    multipart: &mut Multipart,
) -> Result<Option<(String, Field<'_>)>, MultipartError> {
    let Some(field) = multipart.next_field().await? else {
        return Ok(None);
    };
    match field.name() {
        Some(name) => Ok(Some((name.to_owned(), field))),
        None => Err(MultipartError::MissingName {
            index: field.index(),
        }),
    }
}

/// The bytes kept in memory across a form, against `max_memory`.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    used: u64,
    limit: u64,
}

impl MemoryBudget {
    pub(crate) fn new(limit: u64) -> Self {
        MemoryBudget { used: 0, limit }
    }

    /// Takes `n` bytes if they fit.
    fn take(&mut self, n: usize) -> bool {
        let after = self.used.saturating_add(n as u64);
        if after > self.limit {
            return false;
        }
        self.used = after;
        true
    }

    fn give_back(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n as u64);
    }
}

/// A text field's value, counted against the form's memory budget.
pub(crate) async fn read_text(
    field: &mut Field<'_>,
    memory: &mut MemoryBudget,
) -> Result<String, MultipartError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.chunk().await? {
        if !memory.take(chunk.len()) {
            return Err(MultipartError::MemoryLimit {
                limit: memory.limit,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(buf.into()) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// A file's data: in memory while it is under `spool_threshold` and the memory budget lasts,
/// then in a temporary file under `spool_dir`.
async fn spool(
    field: &mut Field<'_>,
    limits: &FormLimits,
    memory: &mut MemoryBudget,
) -> Result<(Stored, u64), MultipartError> {
    let mut in_memory = BytesMut::new();
    let mut on_disk: Option<(BufWriter<tokio::fs::File>, TempPath)> = None;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await? {
        size += chunk.len() as u64;
        if let Some((writer, _)) = on_disk.as_mut() {
            writer
                .write_all(&chunk)
                .await
                .map_err(MultipartError::Spool)?;
            continue;
        }
        let fits = size <= limits.spool_threshold && memory.take(chunk.len());
        if fits {
            in_memory.extend_from_slice(&chunk);
            continue;
        }
        let (file, path) = create_temp_file(limits.spool_dir_or_temp()).await?;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
        for piece in [&in_memory[..], &chunk[..]] {
            writer
                .write_all(piece)
                .await
                .map_err(MultipartError::Spool)?;
        }
        memory.give_back(in_memory.len());
        in_memory = BytesMut::new();
        on_disk = Some((writer, path));
    }
    match on_disk {
        None => Ok((Stored::Memory(in_memory.freeze()), size)),
        Some((mut writer, path)) => {
            writer.flush().await.map_err(MultipartError::Spool)?;
            writer
                .into_inner()
                .shutdown()
                .await
                .map_err(MultipartError::Spool)?;
            Ok((Stored::Disk(path), size))
        }
    }
}

/// A new temporary file, created off the async threads.
async fn create_temp_file(dir: PathBuf) -> Result<(tokio::fs::File, TempPath), MultipartError> {
    let created = tokio::task::spawn_blocking(move || {
        tempfile::Builder::new()
            .prefix(".tollgate-upload-")
            .tempfile_in(dir)
    })
    .await
    .map_err(|join| MultipartError::Spool(io::Error::other(join)))?;
    let (file, path) = created.map_err(MultipartError::Spool)?.into_parts();
    Ok((tokio::fs::File::from_std(file), path))
}

/// Where an uploaded file's bytes are.
#[derive(Debug)]
enum Stored {
    Memory(Bytes),
    /// Deleted when dropped.
    Disk(TempPath),
}

/// A file from a multipart form: its client-given name, type and headers, and its data in
/// memory or in a temporary file deleted on drop.
#[derive(Debug)]
pub struct UploadedFile {
    file_name: String,
    content_type: Option<Mime>,
    headers: HeaderMap,
    size: u64,
    data: Stored,
}

impl UploadedFile {
    /// The file name the client sent, untrusted (it may be empty, hold `../` or a full
    /// Windows path); use [`safe_filename`](Self::safe_filename) to store it.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The file name made safe to store: see [`safe_filename`](super::safe_filename).
    pub fn safe_filename(&self) -> String {
        safe_filename(&self.file_name)
    }

    /// The part's `Content-Type`, as the client claimed it.
    pub fn content_type(&self) -> Option<&Mime> {
        self.content_type.as_ref()
    }

    /// All the part's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The temporary file holding it, when it was spooled to disk. The file is deleted when
    /// this `UploadedFile` is dropped.
    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            Stored::Disk(path) => Some(path),
            Stored::Memory(_) => None,
        }
    }

    /// Its bytes, when it was kept in memory.
    pub fn bytes(&self) -> Option<&Bytes> {
        match &self.data {
            Stored::Memory(bytes) => Some(bytes),
            Stored::Disk(_) => None,
        }
    }

    /// Its bytes, read from the temporary file when it was spooled (it is at most
    /// `max_file_size` bytes).
    ///
    /// # Errors
    ///
    /// When the temporary file cannot be read.
    pub async fn read_bytes(&self) -> io::Result<Bytes> {
        match &self.data {
            Stored::Memory(bytes) => Ok(bytes.clone()),
            Stored::Disk(path) => tokio::fs::read(path).await.map(Bytes::from),
        }
    }

    /// Stores it at `to`, replacing what is there: a rename when it was spooled on the same
    /// file system (the file keeps the temporary file's mode, `0600` on Unix), a copy
    /// otherwise, a write when it was in memory.
    ///
    /// # Errors
    ///
    /// When `to` cannot be written; the temporary file is deleted either way.
    pub async fn persist(self, to: impl AsRef<Path>) -> io::Result<()> {
        let to = to.as_ref().to_path_buf();
        match self.data {
            Stored::Memory(bytes) => tokio::fs::write(to, bytes).await,
            Stored::Disk(path) => {
                let target = to.clone();
                let renamed = tokio::task::spawn_blocking(move || path.persist(target))
                    .await
                    .map_err(io::Error::other)?;
                match renamed {
                    Ok(()) => Ok(()),
                    // Another file system (EXDEV) and the like: copy, then delete.
                    Err(err) => {
                        let path = err.path;
                        tokio::fs::copy(&path, &to).await.map(drop)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;

    const CT: &str = "multipart/form-data; boundary=b";

    fn part(name: &str, file: Option<&str>, data: &[u8]) -> Vec<u8> {
        let file = file.map_or(String::new(), |f| format!("; filename=\"{f}\""));
        let mut out =
            format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n")
                .into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
        out
    }

    async fn read(body: Vec<u8>, limits: &FormLimits) -> Result<FormData, MultipartError> {
        FormData::read(&HeaderValue::from_static(CT), Body::from(body), limits).await
    }

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[tokio::test]
    async fn small_files_stay_in_memory_big_ones_are_spooled_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let limits = FormLimits::new().spool_threshold(10).spool_dir(dir.path());
        let mut body = part("small", Some("s.txt"), b"0123456789");
        body.extend(part("big", Some("b.bin"), &[7u8; 100_000]));
        body.extend(part("t", None, "é".as_bytes()));
        body.extend(b"--b--\r\n");
        let form = read(body, &limits).await.unwrap();
        let small = form.files.get_ref("small").unwrap();
        assert_eq!(small.bytes().map(|b| &b[..]), Some(&b"0123456789"[..]));
        let big = form.files.get_ref("big").unwrap();
        assert_eq!(big.size(), 100_000);
        let path = big.path().unwrap().to_owned();
        assert!(path.starts_with(dir.path()));
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 100_000]);
        assert_eq!(form.fields.get("t"), Some("é"));
        drop(form);
        assert!(!path.exists());
        assert_eq!(entries(dir.path()), 0);
    }

    #[tokio::test]
    async fn memory_budget_spools_files_and_refuses_text() {
        let dir = tempfile::tempdir().unwrap();
        let limits = FormLimits::new()
            .max_memory(15)
            .spool_threshold(1000)
            .spool_dir(dir.path());
        let mut body = part("a", Some("a"), &[1u8; 10]);
        body.extend(part("b", Some("b"), &[2u8; 10]));
        body.extend(b"--b--\r\n");
        let form = read(body, &limits).await.unwrap();
        assert!(form.files.get_ref("a").unwrap().bytes().is_some());
        assert!(form.files.get_ref("b").unwrap().path().is_some());

        let mut body = part("a", None, &[b'x'; 10]);
        body.extend(part("b", None, &[b'y'; 10]));
        body.extend(b"--b--\r\n");
        let err = read(body, &limits).await.unwrap_err();
        assert!(
            matches!(err, MultipartError::MemoryLimit { limit: 15 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn failure_after_a_spooled_file_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let limits = FormLimits::new()
            .spool_threshold(0)
            .max_field_size(3)
            .spool_dir(dir.path());
        let mut body = part("f", Some("f"), &[1u8; 5000]);
        body.extend(part("t", None, b"too long"));
        body.extend(b"--b--\r\n");
        let err = read(body, &limits).await.unwrap_err();
        assert!(
            matches!(err, MultipartError::FieldTooLarge { .. }),
            "{err:?}"
        );
        assert_eq!(entries(dir.path()), 0);
    }

    #[tokio::test]
    async fn persist_moves_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let limits = FormLimits::new().spool_threshold(1).spool_dir(dir.path());
        let mut body = part("f", Some("../x.txt"), b"persist me");
        body.extend(part("m", Some("m.txt"), b""));
        body.extend(b"--b--\r\n");
        let mut form = read(body, &limits).await.unwrap();
        let file = form.files.remove("f").pop().unwrap();
        let target = out.path().join(file.safe_filename());
        file.persist(&target).await.unwrap();
        assert_eq!(
            std::fs::read(out.path().join("x.txt")).unwrap(),
            b"persist me"
        );
        let empty = form.files.remove("m").pop().unwrap();
        assert_eq!(empty.size(), 0);
        empty.persist(out.path().join("m.txt")).await.unwrap();
        assert_eq!(entries(dir.path()), 0);
        assert_eq!(entries(out.path()), 2);
    }

    #[tokio::test]
    async fn more_than_32_part_headers_are_refused() {
        let mut body = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n".to_vec();
        for i in 0..40 {
            body.extend(format!("X-H{i}: v\r\n").as_bytes());
        }
        body.extend(b"\r\nv\r\n--b--\r\n");
        let err = read(body, &FormLimits::default()).await.unwrap_err();
        assert!(
            matches!(err, MultipartError::InvalidPartHeaders { .. }),
            "{err:?}"
        );
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn part_without_name_is_refused() {
        let body = b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n".to_vec();
        let err = read(body, &FormLimits::default()).await.unwrap_err();
        assert!(
            matches!(err, MultipartError::MissingName { index: 0 }),
            "{err:?}"
        );
    }
}
