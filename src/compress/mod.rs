//! Compression of answers (gzip, brotli, zstd, as `Accept-Encoding` asks) and decoding of
//! compressed request bodies: tower-http's `Compression` and `RequestDecompression` with the
//! rules a gateway needs around them.
//!
//! [`CompressLayer`] chooses one coding per request ([`choose`]: q-values, `*`,
//! `identity;q=0`, the server's order for ties) and asks tower-http's `Compression` for
//! exactly that coding at its own level ([`Levels`]). An answer is compressed only when
//! [`Rules::compressible`] says so: a listed media type, a known length of at least
//! `min_size`, not `206`/`Content-Range`, not already encoded, no `Cache-Control:
//! no-transform`, never for `HEAD`. The body streams through the encoder; it is never held
//! whole. A compressed answer gets `Vary: Accept-Encoding` (an uncompressed one too, when
//! another client would have had it compressed), loses `Content-Length` and
//! `Accept-Ranges`, and its strong `ETag` becomes weak (`W/"..."`). A client that refuses
//! `identity` and every coding offered gets `406 Not Acceptable`, before the inner service is
//! asked.
//!
//! [`DecompressLayer`] decodes request bodies with a limit on the decoded size, so that a
//! small gzip of zeros is a `413` and not gigabytes of memory.
//!
//! # Example
//!
//! ```
//! use tollgate::compress::{CompressConfig, CompressLayer};
//! use tollgate::{handler, testing::TestClient, Request, Response};
//! use tower::Layer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = handler::from_fn(|_req: Request| async {
//!     Ok::<_, tollgate::HttpError>(Response::text("hello ".repeat(100)))
//! });
//! let client = TestClient::new(CompressLayer::new(&CompressConfig::default()).layer(app));
//! let res = client.get("/").header("accept-encoding", "gzip;q=0.8, br").send().await;
//! assert_eq!(res.header("content-encoding"), Some("br"));
//! assert_eq!(res.header("vary"), Some("accept-encoding"));
//!
//! let res = client.get("/").header("accept-encoding", "identity;q=0").send().await;
//! assert_eq!(res.status(), 406);
//! # }
//! ```

mod config;
mod decompress;
mod rules;
mod service;

pub use self::config::{Algorithm, CompressConfig, CompressConfigError, Levels};
pub use self::decompress::{Decompress, DecompressFuture, DecompressLayer, Limit};
pub use self::rules::{choose, Choice, Rules};
pub use self::service::{Compress, CompressLayer, ResponseFuture};
