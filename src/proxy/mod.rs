//! The reverse proxy: [`Proxy`] forwards requests to an [`Upstream`] over pooled keep-alive
//! connections (its own per-thread HTTP/1.1 pool; hyper-util's client for HTTP/2) and streams
//! the answers back, behaving as an intermediary must (RFC 9110 §7.6, RFC 9112).
//!
//! - Hop-by-hop headers never cross ([`hop::remove_hop_by_hop`]): `Connection` and every header
//!   it names, `Keep-Alive`, `TE` (except `trailers`), `Transfer-Encoding`, `Upgrade` (unless
//!   upgrading), `Proxy-Authorization`, `Proxy-Authenticate`. Framing is regenerated, never
//!   copied.
//! - The upstream learns about the client through `X-Forwarded-For/-Proto/-Host/-Prefix` or
//!   `Forwarded` ([`next_hop`]), both directions get `Via`, and `Host` is rewritten or preserved
//!   ([`HostPolicy`]).
//! - The upstream's own address and base path are rewritten out of `Location`,
//!   `Content-Location`, `Refresh` and `Set-Cookie` ([`location`]).
//! - `Expect: 100-continue` waits for the upstream's `100`; trailers pass both ways (when the
//!   message declares them in `Trailer`); `Upgrade` (WebSocket) is tunnelled once the upstream
//!   answered `101`.
//! - Connect, first-byte and idle-body timeouts; refused or reset is `502`, a timeout `504`:
//!   the client gets the status, a short reason and the request id, the log the upstream and
//!   the cause ([`ProxyConfig::expose_errors`] shows them to clients, for development); a body
//!   over [`ProxyConfig::max_body`] is `413`.
//! - An upstream that answers in HTTP/1.0 gets a body of unknown length buffered (up to
//!   [`HTTP10_BODY_BUFFER`]) and sent with a `Content-Length`, or refused; never dropped.
//! - `https://` upstreams with the `tls` feature (webpki roots plus an optional CA file, SNI from
//!   the upstream host).
//!
//! Trust: incoming `X-Forwarded-*`/`Forwarded` are removed unless the
//! [`forwarded`](crate::forwarded) layer ran before the proxy (its [`ClientInfo`] says they came
//! from trusted proxies). The user the auth layer authenticated is passed as
//! `X-Forwarded-User` and `Authorization` is not passed on (see [`ProxyConfig`]).
//!
//! [`ClientInfo`]: crate::ext::ClientInfo
//!
//! # Example
//!
//! ```no_run
//! use tollgate::proxy::{Proxy, ProxyConfig, Upstream};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let upstream: Upstream = "http://127.0.0.1:9000".parse()?;
//! let mut config = ProxyConfig::default();
//! config.max_body = Some(10 << 20);
//! let proxy = Proxy::with_config(upstream, config)?;
//! // Any server that runs a tower service runs it, e.g. tollgate's own:
//! // tollgate::serve::bind("127.0.0.1:8080", proxy).await?;
//! # let _ = proxy; Ok(()) }
//! ```
//!
//! In-process, with the upstream answering on a socket:
//!
//! ```
//! use tollgate::proxy::{Proxy, Upstream};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // An upstream that is not there: the proxy answers 502 (and names it in the log only).
//! let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = dead.local_addr().unwrap();
//! drop(dead);
//! let proxy = Proxy::new(format!("http://{addr}").parse::<Upstream>().unwrap());
//! let req = http::Request::get("/").body(tollgate::Body::empty()).unwrap();
//! let res = proxy.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), http::StatusCode::BAD_GATEWAY);
//! # }
//! ```

pub mod balance;
mod body;
mod client;
mod config;
mod failure;
mod future;
mod heads;
pub mod hop;
pub mod location;
pub mod next_hop;
mod pool;
mod prepare;
mod service;
mod upgrade;
mod upstream;

pub use client::ProxyBuildError;
pub use config::{parse_size, HostPolicy, ProxyConfig, SizeError};
pub use future::ResponseFuture;
pub use next_hop::ForwardedHeaders;
pub use service::{Proxy, HTTP10_BODY_BUFFER};
pub use upstream::{Upstream, UpstreamError};
