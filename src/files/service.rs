//! The [`ServeDir`] service.

use std::convert::Infallible;
use std::fs::{File, Metadata};
use std::future::Future;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
    ETAG, LAST_MODIFIED,
};
use http::{Method, StatusCode};

use super::body::file_body;
use super::listing::{encode_segment, render_listing, sort_entries, ListingEntry};
use super::lookup::{io_error, Tree};
use super::memory::{MemoryCache, Stamp};
use super::path::resolve_path;
use super::{chunk_size, FileIo, ServeDirConfig, SMALL_FILE};
use crate::negotiate::AcceptEncoding;
use crate::response::cache_control::{add_vary, CacheControl};
use crate::response::conditional::{shape, Shape};
use crate::response::date::fmt_http_date;
use crate::response::etag::ETag;
use crate::response::range::{ByteRange, Segment};
use crate::response::ranged::ranged_body;
use crate::{Body, HttpError};

/// Serves the files of a directory: `GET` and `HEAD`, conditional and range requests,
/// `index.html`, optional listings and precompressed siblings. Always answers
/// (`Error = Infallible`); see the [module docs](super) for what it refuses.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServeDir {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ServeDirConfig,
    cache_control: Option<HeaderValue>,
    /// The canonical root, found on first use (the directory may not exist yet at start).
    canonical_root: OnceLock<PathBuf>,
    /// Small files read before ([`ServeDirConfig::memory_cache`]); `None` when off.
    memory: Option<MemoryCache>,
}

/// Where a file's bytes come from.
enum Source {
    Memory(Bytes),
    File(File),
}

impl ServeDir {
    /// Serves `dir` with the default [`ServeDirConfig`]: no listing, no hidden files,
    /// `index.html`, no precompressed siblings, at most 32 ranges, file system calls on Tokio's
    /// blocking pool ([`FileIo::Pool`]).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::from_config(ServeDirConfig {
            dir: dir.into(),
            ..ServeDirConfig::default()
        })
    }

    /// Serves as `config` says.
    pub fn from_config(config: ServeDirConfig) -> Self {
        ServeDir {
            inner: Arc::new(Inner {
                memory: MemoryCache::new(config.memory_cache),
                config,
                cache_control: None,
                canonical_root: OnceLock::new(),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ServeDirConfig {
        &self.inner.config
    }

    fn map_config(self, f: impl FnOnce(&mut ServeDirConfig)) -> Self {
        let mut config = self.inner.config.clone();
        f(&mut config);
        let cache_control = self.inner.cache_control.clone();
        ServeDir {
            inner: Arc::new(Inner {
                memory: MemoryCache::new(config.memory_cache),
                config,
                cache_control,
                canonical_root: OnceLock::new(),
            }),
        }
    }

    /// Whether a directory without an index file gets an HTML listing. Default is `false`
    /// (404), as nginx's `autoindex off`; `tollgate serve` turns it on.
    pub fn listing(self, on: bool) -> Self {
        self.map_config(|c| c.listing = on)
    }

    /// Whether names starting with `.` are served and listed. Default is `false` (404).
    pub fn hidden(self, on: bool) -> Self {
        self.map_config(|c| c.hidden = on)
    }

    /// The file served for a directory. Default is `index.html`; `None` turns it off.
    pub fn index_file(self, name: Option<&str>) -> Self {
        let name = name.map(str::to_owned);
        self.map_config(|c| c.index_file = name)
    }

    /// Serve `FILE.gz` with `Content-Encoding: gzip` to clients accepting gzip. Default off.
    pub fn precompressed_gzip(self) -> Self {
        self.map_config(|c| c.precompressed_gzip = true)
    }

    /// Serve `FILE.br` with `Content-Encoding: br` to clients accepting Brotli. Default off.
    pub fn precompressed_br(self) -> Self {
        self.map_config(|c| c.precompressed_br = true)
    }

    /// Where the file system calls run. Default is [`FileIo::Pool`] (Tokio's blocking pool).
    pub fn file_io(self, file_io: FileIo) -> Self {
        self.map_config(|c| c.file_io = file_io)
    }

    /// Bytes of small files kept in memory between requests, each used only while the file
    /// is unchanged ([`ServeDirConfig::memory_cache`]). Default is 8 MiB; `0` turns it off.
    pub fn memory_cache(self, bytes: u64) -> Self {
        self.map_config(|c| c.memory_cache = bytes)
    }

    /// The cap on ranges in one request; past it `Range` is ignored (200). Default is `32`.
    pub fn max_ranges(self, max: usize) -> Self {
        self.map_config(|c| c.max_ranges = max)
    }

    /// The cap on entries in one listing; the rest are left out with a note. Default is
    /// `10000`.
    pub fn max_listing_entries(self, max: usize) -> Self {
        self.map_config(|c| c.max_listing_entries = max)
    }

    /// `Cache-Control` sent with every file. Default is none (caches revalidate with the
    /// `ETag` and `Last-Modified` sent).
    pub fn cache_control(self, cache_control: CacheControl) -> Self {
        let mut this = self.map_config(|_| {});
        Arc::get_mut(&mut this.inner)
            .expect("map_config returns a fresh Arc")
            .cache_control = Some(cache_control.to_header_value());
        this
    }
}

impl<B> tower_service::Service<http::Request<B>> for ServeDir {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The request body is never read; dropping it here leaves draining or closing to the
        // server.
        let (parts, _body) = req.into_parts();
        // What needs no file system is answered at once, on the runtime.
        let segments = match self.inner.check(&parts) {
            Ok(segments) => segments,
            Err(e) => return ResponseFuture::ready(e.into_response_for(&parts.headers)),
        };
        // Everything else is one blocking call: resolve, check symlinks, stat, open, and read a
        // small file whole (see `SMALL_FILE`).
        if self.inner.config.file_io == FileIo::InPlace {
            return ResponseFuture::ready(self.inner.serve(&parts, &segments));
        }
        let inner = self.inner.clone();
        ResponseFuture {
            state: State::Blocking(tokio::task::spawn_blocking(move || {
                inner.serve(&parts, &segments)
            })),
        }
    }
}

/// The future of [`ServeDir`]'s answer.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    state: State,
}

enum State {
    Ready(Option<http::Response<Body>>),
    Blocking(tokio::task::JoinHandle<http::Response<Body>>),
}

impl ResponseFuture {
    fn ready(res: http::Response<Body>) -> Self {
        ResponseFuture {
            state: State::Ready(Some(res)),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Ready(res) => Poll::Ready(Ok(res
                .take()
                .expect("ResponseFuture polled after completion"))),
            State::Blocking(handle) => {
                let res = ready!(Pin::new(handle).poll(cx)).unwrap_or_else(|e| {
                    // The blocking task panicked or the runtime is shutting down.
                    HttpError::internal(io::Error::other(e.to_string())).into_response()
                });
                Poll::Ready(Ok(res))
            }
        }
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

/// A file chosen to answer: where it is and how it is encoded.
struct Chosen {
    path: PathBuf,
    /// `Content-Type` from the requested name (not the `.gz` sibling's).
    content_type: HeaderValue,
    encoding: Option<&'static str>,
    /// The version found by the lookup.
    stamp: Stamp,
}

impl Inner {
    /// The checks that need no file system: the method and the path's spelling.
    fn check(&self, req: &http::request::Parts) -> Result<Vec<String>, HttpError> {
        if req.method != Method::GET && req.method != Method::HEAD {
            return Err(HttpError::method_not_allowed(&[Method::GET, Method::HEAD]));
        }
        Ok(resolve_path(req.uri.path(), self.config.hidden)?)
    }

    /// The answer, found with blocking file system calls: run it on a blocking thread.
    fn serve(&self, req: &http::request::Parts, segments: &[String]) -> http::Response<Body> {
        match self.try_serve(req, segments) {
            Ok(res) => res,
            Err(e) => e.into_response_for(&req.headers),
        }
    }

    fn try_serve(
        &self,
        req: &http::request::Parts,
        segments: &[String],
    ) -> Result<http::Response<Body>, HttpError> {
        let raw_path = req.uri.path();
        let tree = Tree {
            root: self.canonical_root()?,
            hidden: self.config.hidden,
        };
        let (path, meta) = tree.locate(segments)?;
        if meta.is_dir() {
            if !raw_path.ends_with('/') {
                return Ok(redirect_to_dir(segments.last(), req.uri.query()));
            }
            if let Some(index) = &self.config.index_file {
                if let Ok((index_path, meta)) = tree.index_entry(&path, index) {
                    if meta.is_file() {
                        return self.serve_file(req, &tree, &index_path, meta);
                    }
                }
            }
            if self.config.listing {
                return self.listing(req, &path, segments);
            }
            return Err(HttpError::not_found("not found"));
        }
        // `file.txt/` names a directory that is not there; sockets, FIFOs and devices are
        // never opened (a FIFO would block a worker).
        if !meta.is_file() || raw_path.ends_with('/') {
            return Err(HttpError::not_found("not found"));
        }
        self.serve_file(req, &tree, &path, meta)
    }

    fn canonical_root(&self) -> Result<&Path, HttpError> {
        if let Some(root) = self.canonical_root.get() {
            return Ok(root);
        }
        let root = std::fs::canonicalize(&self.config.dir).map_err(|e| {
            tracing::error!(dir = %self.config.dir.display(), error = %e, "served directory is unreachable");
            HttpError::not_found("not found")
        })?;
        Ok(self.canonical_root.get_or_init(|| root))
    }

    /// Picks the precompressed sibling the client accepts best, else the file itself (whose
    /// metadata is `meta`).
    fn choose(
        &self,
        req: &http::request::Parts,
        tree: &Tree<'_>,
        path: &Path,
        meta: Metadata,
    ) -> Chosen {
        let content_type = content_type_for(path);
        let mut candidates: Vec<(&'static str, &'static str)> = Vec::new();
        if self.config.precompressed_br {
            candidates.push(("br", "br"));
        }
        if self.config.precompressed_gzip {
            candidates.push(("gzip", "gz"));
        }
        if !candidates.is_empty() && req.headers.contains_key(ACCEPT_ENCODING) {
            let accept = AcceptEncoding::from_headers(&req.headers);
            // Highest quality first; `br` before `gzip` on a tie (stable sort).
            candidates.sort_by_key(|(coding, _)| std::cmp::Reverse(accept.quality(coding)));
            for (coding, ext) in candidates {
                if !accept.accepts(coding) {
                    continue;
                }
                let mut sibling = path.as_os_str().to_owned();
                sibling.push(".");
                sibling.push(ext);
                let Ok((sibling, meta)) = tree.entry(PathBuf::from(sibling)) else {
                    continue;
                };
                if meta.is_file() {
                    return Chosen {
                        path: sibling,
                        content_type,
                        encoding: Some(coding),
                        stamp: Stamp::of(&meta),
                    };
                }
            }
        }
        Chosen {
            path: path.to_owned(),
            content_type,
            encoding: None,
            stamp: Stamp::of(&meta),
        }
    }

    fn serve_file(
        &self,
        req: &http::request::Parts,
        tree: &Tree<'_>,
        path: &Path,
        meta: Metadata,
    ) -> Result<http::Response<Body>, HttpError> {
        let chosen = self.choose(req, tree, path, meta);
        let kept = self.memory.as_ref();
        let (source, stamp) = match kept.and_then(|m| m.get(&chosen.path, &chosen.stamp)) {
            Some(bytes) => (Source::Memory(bytes), chosen.stamp),
            None => {
                let file = File::open(&chosen.path).map_err(io_error)?;
                // Length and times come from the open file, so they describe what is sent.
                let stamp = Stamp::of(&file.metadata().map_err(io_error)?);
                (Source::File(file), stamp)
            }
        };
        let (len, modified) = (stamp.len(), stamp.modified());

        let mut res = http::Response::new(());
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, chosen.content_type);
        headers.insert(
            ETAG,
            file_etag(len, modified, chosen.encoding).to_header_value(),
        );
        if let Some(modified) = modified {
            if let Ok(value) = HeaderValue::try_from(fmt_http_date(modified)) {
                headers.insert(LAST_MODIFIED, value);
            }
        }
        if let Some(coding) = chosen.encoding {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        if self.config.precompressed_gzip || self.config.precompressed_br {
            add_vary(headers, &ACCEPT_ENCODING);
        }
        if let Some(cc) = &self.cache_control {
            headers.insert(CACHE_CONTROL, cc.clone());
        }
        headers.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        let (mut parts, ()) = res.into_parts();
        let shape = shape(req, &mut parts, Some(len), self.config.max_ranges);
        let source = match (&shape, source) {
            (Shape::Full | Shape::Segments(..), Source::File(file)) if len <= SMALL_FILE => {
                Source::Memory(self.read_small(file, &chosen.path, stamp)?)
            }
            (Shape::Full | Shape::Segments(..), Source::File(file)) => {
                match self.memory.as_ref().and_then(|m| m.reserve(len)) {
                    // Read whole once, then answered from memory like a small file.
                    Some(_room) => Source::Memory(self.read_small(file, &chosen.path, stamp)?),
                    None => Source::File(file),
                }
            }
            (_, source) => source,
        };
        // On a plain HTTP/1 connection of `serve`, a large file answered from memory goes out
        // with `sendfile` (`crate::sendfile`; HTTP/2 copies its frames anyway). `sendfile`
        // reads the file on the runtime thread: like every other file system call, only when
        // the runtime may wait on the disk (in place, where this runs on the connection's task).
        #[cfg(sendfile)]
        if let (Shape::Full | Shape::Segments(..), Source::Memory(bytes)) = (&shape, &source) {
            let http1 = req.version <= http::Version::HTTP_11;
            if len > SMALL_FILE && http1 && self.config.file_io == FileIo::InPlace {
                super::memory::offer_to_sendfile(bytes, &chosen.path, stamp);
            }
        }
        let body = match (shape, source) {
            (Shape::Answer(answer), _) => return Ok(answer),
            (Shape::Empty, _) => Body::empty(),
            (Shape::Full, _) if len == 0 => Body::empty(),
            (Shape::Full, Source::Memory(bytes)) => Body::from(bytes),
            (Shape::Segments(segments, total), Source::Memory(bytes)) => {
                ranged_body(Body::from(bytes), segments, total)
            }
            (Shape::Full, Source::File(file)) => file_body(
                file,
                (vec![Segment::Span(ByteRange::new(0, len - 1))], len),
                self.config.file_io,
                chunk_size(req.version),
            ),
            (Shape::Segments(segments, total), Source::File(file)) => {
                let chunk = chunk_size(req.version);
                file_body(file, (segments, total), self.config.file_io, chunk)
            }
        };
        Ok(http::Response::from_parts(parts, body))
    }

    /// A small file (or one the memory cache has room for) read whole, and kept when the
    /// memory cache is on and the file did not change while it was read.
    fn read_small(&self, file: File, path: &Path, stamp: Stamp) -> Result<Bytes, HttpError> {
        let bytes = read_whole(&file, stamp.len())?;
        if let Some(memory) = &self.memory {
            if file.metadata().is_ok_and(|meta| Stamp::of(&meta) == stamp) {
                memory.put(path, stamp, bytes.clone());
            }
        }
        Ok(bytes)
    }

    fn listing(
        &self,
        req: &http::request::Parts,
        dir: &Path,
        segments: &[String],
    ) -> Result<http::Response<Body>, HttpError> {
        let read_dir = std::fs::read_dir(dir).map_err(io_error)?;
        let mut entries = Vec::new();
        let mut truncated = false;
        for entry in read_dir {
            let entry = entry.map_err(io_error)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // Not UTF-8: no link could reach it.
            };
            if name.starts_with('.') && !self.config.hidden {
                continue;
            }
            // Follows symlinks; a dangling one is left out.
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue;
            };
            if entries.len() == self.config.max_listing_entries {
                truncated = true;
                break;
            }
            entries.push(ListingEntry {
                name,
                is_dir: meta.is_dir(),
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
        sort_entries(&mut entries);
        let html = render_listing(segments, &entries, truncated);
        let len = html.len();
        let body = if req.method == Method::HEAD {
            Body::empty()
        } else {
            Body::from(html)
        };
        let mut res = http::Response::new(body);
        let headers = res.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        headers.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if self.config.precompressed_gzip || self.config.precompressed_br {
            add_vary(headers, &ACCEPT_ENCODING);
        }
        Ok(res)
    }
}

/// The first `len` bytes of `file`, read in one go (a small file, see [`SMALL_FILE`]). A file
/// that shrank since its length was taken is an error (500), never a short body.
fn read_whole(file: &File, len: u64) -> Result<Bytes, HttpError> {
    let cap = usize::try_from(len).map_err(|e| HttpError::internal(io::Error::other(e)))?;
    let mut buf = Vec::with_capacity(cap);
    file.take(len).read_to_end(&mut buf).map_err(io_error)?;
    if buf.len() != cap {
        return Err(HttpError::internal(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was being read",
        )));
    }
    Ok(Bytes::from(buf))
}

/// `308` to the same directory with a trailing slash, as a relative reference (`./name/`), so
/// it works under any mount prefix and can never turn into `//host` or a scheme.
fn redirect_to_dir(last: Option<&String>, query: Option<&str>) -> http::Response<Body> {
    let mut location = match last {
        Some(name) => format!("./{}/", encode_segment(name)),
        None => "./".to_owned(),
    };
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    crate::answer::redirect_to(StatusCode::PERMANENT_REDIRECT, &location)
        .unwrap_or_else(|e| e.into_response())
}

/// `Content-Type` from the extension; text types get `charset=utf-8`.
fn content_type_for(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let value = if (mime.type_() == mime::TEXT
        || mime.essence_str() == "application/javascript"
        || mime.essence_str() == "image/svg+xml")
        && mime.get_param(mime::CHARSET).is_none()
    {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    };
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// A strong tag from the length and modification time, like nginx's; encoded siblings get a
/// suffix so their tags differ from the original's.
fn file_etag(len: u64, modified: Option<SystemTime>, encoding: Option<&str>) -> ETag {
    let (secs, nanos) = modified
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()));
    let tag = match encoding {
        Some(coding) => format!("{secs:x}.{nanos:x}-{len:x}-{coding}"),
        None => format!("{secs:x}.{nanos:x}-{len:x}"),
    };
    ETag::strong(tag).expect("hex digits, dots and dashes are a valid entity tag")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::LOCATION;

    /// The second request of an unchanged small file is answered from memory: what the cache
    /// holds for it (swapped here for other bytes of the same version) is what is sent.
    #[tokio::test]
    async fn an_unchanged_small_file_is_answered_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "from the disk").unwrap();
        let files = ServeDir::new(dir.path()).file_io(FileIo::InPlace);
        let client = crate::testing::TestClient::new(files.clone());
        assert_eq!(
            client.get("/a.txt").send().await.text().await,
            "from the disk"
        );
        let canonical = std::fs::canonicalize(&path).unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&canonical).unwrap());
        let memory = files.inner.memory.as_ref().expect("on by default");
        assert_eq!(
            memory.get(&canonical, &stamp).as_deref(),
            Some(&b"from the disk"[..]),
            "kept after the first request"
        );
        memory.put(&canonical, stamp, Bytes::from_static(b"from memory!!"));
        assert_eq!(
            client.get("/a.txt").send().await.text().await,
            "from memory!!"
        );
    }

    /// A file of 1 MiB (an eighth of the default budget) is kept too, and a range of it is
    /// cut from memory; one byte more is streamed from the file each time.
    #[tokio::test]
    async fn a_file_up_to_an_eighth_of_the_budget_is_kept_and_a_larger_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let kept: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("kept.bin"), &kept).unwrap();
        std::fs::write(dir.path().join("large.bin"), [&kept[..], b"!"].concat()).unwrap();
        let files = ServeDir::new(dir.path()).file_io(FileIo::InPlace);
        let client = crate::testing::TestClient::new(files.clone());
        let memory = files.inner.memory.as_ref().expect("on by default");
        for (name, len) in [("kept.bin", kept.len()), ("large.bin", kept.len() + 1)] {
            let res = client.get(&format!("/{name}")).send().await;
            assert_eq!(res.bytes().await.len(), len);
            let canonical = std::fs::canonicalize(dir.path().join(name)).unwrap();
            let stamp = Stamp::of(&std::fs::metadata(&canonical).unwrap());
            assert_eq!(
                memory.get(&canonical, &stamp).map(|b| b.len()),
                (name == "kept.bin").then_some(len),
                "{name}"
            );
        }
        let canonical = std::fs::canonicalize(dir.path().join("kept.bin")).unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&canonical).unwrap());
        memory.put(&canonical, stamp, Bytes::from(vec![b'm'; 1 << 20]));
        let res = client
            .get("/kept.bin")
            .header("range", "bytes=10-14")
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(res.text().await, "mmmmm", "cut from the kept bytes");
    }

    #[test]
    fn etags_differ_by_encoding() {
        let t = UNIX_EPOCH + std::time::Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(
            file_etag(10, Some(t), None).to_string(),
            "\"6553f100.75bcd15-a\""
        );
        assert_ne!(
            file_etag(10, Some(t), None),
            file_etag(10, Some(t), Some("gzip"))
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type_for(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type_for(Path::new("a.css")),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type_for(Path::new("a.png")), "image/png");
        assert_eq!(content_type_for(Path::new("a")), "application/octet-stream");
    }

    #[test]
    fn redirects_are_relative() {
        let res = redirect_to_dir(Some(&"a b".to_owned()), Some("x=1"));
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(res.headers()[LOCATION], "./a%20b/?x=1");
        let res = redirect_to_dir(Some(&"evil.com".to_owned()), None);
        assert_eq!(res.headers()[LOCATION], "./evil.com/");
    }
}
