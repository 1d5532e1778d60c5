//! The static-file service: [`ServeDir`] serves a directory the way `python3 -m http.server`
//! does, with content types, validators, conditional and range requests, `index.html`,
//! optional HTML listings and precompressed siblings.
//!
//! # What it answers
//!
//! - `GET` and `HEAD` only (405 otherwise). `Content-Type` from the extension
//!   (`mime_guess`; text types get `charset=utf-8`), a strong `ETag` from length and
//!   modification time, `Last-Modified`, `X-Content-Type-Options: nosniff`.
//! - Preconditions, `Range` and `If-Range` as [`Response::conditional`](crate::Response::conditional)
//!   does: 304, 412, 206 (one range, or `multipart/byteranges`), 416; more than
//!   [`ServeDirConfig::max_ranges`] ranges are ignored (a plain 200).
//! - A directory: `/dir` is redirected (308) to `./dir/`; `/dir/` serves `index.html`, else a
//!   listing when [`ServeDir::listing`] is on, else 404.
//! - Files up to [`SMALL_FILE`] (64 KiB) are read whole and sent as one buffer; larger files
//!   are streamed in [`CHUNK_SIZE`] (256 KiB) chunks ([`H2_CHUNK_SIZE`], 32 KiB, over
//!   HTTP/2), unless the memory cache ([`ServeDirConfig::memory_cache`]) keeps them (up to
//!   an eighth of its budget): those are read whole once and sent from memory (on Linux, by
//!   `serve` on a plain HTTP/1.x connection with [`FileIo::InPlace`], with `sendfile(2)` from
//!   the page cache when they are larger than [`SMALL_FILE`]: `docs/files.md`). All file system
//!   calls run on Tokio's blocking pool (one hand-off per request, one per chunk), or on the
//!   runtime thread itself with [`FileIo::InPlace`].
//! - Precompressed siblings: with [`ServeDir::precompressed_br`] / [`ServeDir::precompressed_gzip`],
//!   `style.css.br` or `style.css.gz` is sent with `Content-Encoding` to clients that accept
//!   it (the higher `q` wins, `br` on a tie), and every answer carries
//!   `Vary: Accept-Encoding`. The original must exist too.
//!
//! # What it refuses
//!
//! Paths are checked before any file is touched ([`resolve_path`]): `..` in any spelling
//! (`%2e%2e`), encoded separators (`%2f`, `%5c`), backslashes, control characters (NUL),
//! Windows drive letters (`c:`, `c%3A`, RUSTSEC-2022-0043) and invalid UTF-8 are 400. Names
//! starting with `.` are 404 unless [`ServeDir::hidden`] is on. After that, the resolved path is
//! canonicalized and must lie inside the canonical root: a symlink pointing out is a 404. Not
//! found and permission denied are both 404. Sockets, FIFOs and devices are never opened.
//!
//! The request body is never read.
//!
//! # Example
//!
//! ```
//! use tollgate::{files::ServeDir, testing::TestClient};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let dir = std::env::temp_dir().join(format!("tollgate-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("hello.txt"), "hello world").unwrap();
//!
//! let client = TestClient::new(ServeDir::new(&dir).listing(true));
//! let res = client.get("/hello.txt").header("range", "bytes=0-4").send().await;
//! assert_eq!(res.status(), 206);
//! assert_eq!(res.header("content-type"), Some("text/plain; charset=utf-8"));
//! assert_eq!(res.text().await, "hello");
//!
//! let res = client.get("/../etc/passwd").send().await;
//! assert_eq!(res.status(), 400);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! ```

use std::path::PathBuf;

use serde::Deserialize;

mod body;
mod listing;
mod lookup;
mod memory;
mod path;
mod send;
mod service;

pub use listing::{render_listing, ListingEntry};
pub use path::{resolve_path, FilePathError};
pub use send::send_file;
pub use service::{ResponseFuture, ServeDir};

/// Files up to this size (64 KiB) are read whole, in the same blocking call that finds and
/// opens them, and sent as one buffer; larger ones are streamed in [`CHUNK_SIZE`] chunks.
pub const SMALL_FILE: u64 = 64 * 1024;

/// How much of a large file one blocking call reads (256 KiB). While one chunk is written to
/// the client, the next is read: at most two chunks of a response are held in memory.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// The chunk for HTTP/2 requests (32 KiB): one connection carries up to
/// [`MAX_CONCURRENT_STREAMS`](crate::serve::h2::MAX_CONCURRENT_STREAMS) of them, and a client
/// that keeps its flow-control windows shut holds two chunks of each stream in memory, so
/// 128 × 2 × 32 KiB = 8 MiB per connection at most (with 256 KiB chunks it was 64 MiB).
pub const H2_CHUNK_SIZE: usize = 32 * 1024;

/// The chunk a large file is read in for a request of `version`.
pub(crate) fn chunk_size(version: http::Version) -> usize {
    if version >= http::Version::HTTP_2 {
        H2_CHUNK_SIZE
    } else {
        CHUNK_SIZE
    }
}

/// What [`ServeDir`] serves and how; the CLI's config file uses the same struct.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServeDirConfig {
    /// The directory to serve. Default is `.`.
    pub dir: PathBuf,
    /// HTML listings for directories without an index file. Default is `false`.
    pub listing: bool,
    /// Serve and list names starting with `.`. Default is `false`.
    pub hidden: bool,
    /// The file served for a directory. Default is `index.html`.
    pub index_file: Option<String>,
    /// Serve `FILE.gz` to clients accepting gzip. Default is `false`.
    pub precompressed_gzip: bool,
    /// Serve `FILE.br` to clients accepting Brotli. Default is `false`.
    pub precompressed_br: bool,
    /// Ranges in one request beyond which `Range` is ignored. Default is `32`.
    pub max_ranges: usize,
    /// Entries in one listing beyond which the rest are left out. Default is `10000`.
    pub max_listing_entries: usize,
    /// Where the file system calls run. Default is [`FileIo::Pool`].
    pub file_io: FileIo,
    /// Bytes of files kept in memory between requests, a number or a size (`"8M"`): every
    /// file up to [`SMALL_FILE`], and larger ones up to an eighth of this (1 MiB of the
    /// default, 4 MiB at most), which are then answered from memory instead of streamed.
    /// Each request still looks the file up and uses the kept bytes only while the file's
    /// length, times, device and inode are those they were read at, so a file written or
    /// replaced since is read again; it saves the `open`, `read` and `close`. `0` turns it
    /// off. Default is `8M`.
    #[serde(deserialize_with = "crate::syntax::size::deserialize")]
    pub memory_cache: u64,
}

/// [`ServeDirConfig::memory_cache`]'s default: 8 MiB.
pub const DEFAULT_MEMORY_CACHE: u64 = 8 << 20;

/// Where [`ServeDir`]'s file system calls (resolving, `stat`, `open`, reads) run.
///
/// Measured with `benches/gateway.sh` on 2 shared cores, thread-per-core workers, 1 KB file:
/// the hand-off to the blocking pool and back costs more than serving the file itself
/// (two cross-thread wake-ups per request); see `docs/files.md` for the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FileIo {
    /// On Tokio's blocking pool: one `spawn_blocking` per request (resolve, `stat`, `open`,
    /// and reading a small file whole), and one per [`CHUNK_SIZE`] chunk of a larger file,
    /// the next chunk read while the previous one is written. The runtime never waits on
    /// the disk, whatever the file system. The default.
    #[default]
    Pool,
    /// On the runtime thread itself, as nginx's workers do: no hand-off, no extra threads.
    /// Meant for local files that are mostly in the page cache, served by thread-per-core
    /// workers ([`serve_workers`](crate::serve::serve_workers)); a slow disk or a network file
    /// system stalls every connection of that worker while a call waits. `tollgate serve`
    /// uses it (`--file-io pool` to turn it off).
    InPlace,
}

impl Default for ServeDirConfig {
    fn default() -> Self {
        ServeDirConfig {
            dir: PathBuf::from("."),
            listing: false,
            hidden: false,
            index_file: Some("index.html".to_owned()),
            precompressed_gzip: false,
            precompressed_br: false,
            max_ranges: crate::response::range::DEFAULT_MAX_RANGES,
            max_listing_entries: 10_000,
            file_io: FileIo::Pool,
            memory_cache: DEFAULT_MEMORY_CACHE,
        }
    }
}
