//! The gateway `tollgate run` serves: a [`Config`](crate::config::Config) compiled into the
//! library's own pieces, using only their public API, so a program can build the same stack
//! by hand (`examples/gateway_by_hand.rs` builds the one of `examples/tollgate.toml`).
//!
//! ```text
//! serve ([[listen]]) ─► Inbound ─► Health ─► Forwarded ─► Normalize ─► Metrics ─► RateLimit (per client)
//!   ─► Compress ─► Rewrite ─► Cors ─► Auth ─► RateLimit (per user) ─► Decompress ─► Dispatcher
//!   ─► the route's Acl ─► its RateLimit ─► [Cache] ─┬─► upstream group (Proxy, Balanced)
//!                                                  ├─► ServeDir
//!                                                  ├─► EchoService
//!                                                  └─► Redirect
//! ```
//!
//! [`build`] checks the files the configuration names and builds that stack as one
//! [`Gateway`] service; [`Runner`] serves it on worker threads and swaps in a new one on
//! `SIGHUP` or a `tollgate reload` ([`run`], [`control`]); [`admin`] is the admin listener's
//! service.
//!
//! # The route order rule
//!
//! `[[routes]]` become one [`dispatch`](crate::dispatch) router, and dispatch's order decides,
//! as nginx's `server_name` and `location` do:
//!
//! 1. **the most specific host**: routes whose `host` is the request's host exactly, then
//!    those of the longest matching `*.` wildcard, then the routes without `host`, which are
//!    also where a host's requests go when none of its own prefixes matches;
//! 2. **the longest path prefix** among that host's routes, at a segment boundary (`/api`
//!    takes `/api` and `/api/x`, never `/apix`; `/` takes the rest);
//! 3. **the method**: the routes of one host and prefix share it in file order, each taking
//!    the methods no route before it listed (`GET` also covers `HEAD`), a route without
//!    `methods` taking the others. A method none takes is a `405` with `Allow`, `OPTIONS` a
//!    `204` with `Allow`, and `CONNECT` a `501` unless a route lists it.
//!
//! Where a route is listed decides nothing else. Earlier releases tried routes in file
//! order; [`route_order_changes`] names each route whose answers differ (`tollgate check`
//! prints them, `tollgate run` logs them).
//!
//! # Example
//!
//! ```
//! use tollgate::config::{self, Config};
//! use tollgate::metrics::Metrics;
//! use tollgate::testing::TestClient;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config: Config = config::load(r#"
//!     [[listen]]
//!     bind = "127.0.0.1:8080"
//!
//!     [[routes]]
//!     echo = true
//!
//!     [[routes]]
//!     path = "/api"
//!     methods = ["POST"]
//!     echo = true
//! "#).unwrap();
//! let gateway = tollgate::gateway::build(&config, &Metrics::new()).await.unwrap();
//! let client = TestClient::new(gateway);
//! // The longest prefix decides, then the method: no falling through to `/`.
//! let res = client.get("/api/x").send().await;
//! assert_eq!(res.status(), 405);
//! assert_eq!(res.header("allow"), Some("POST, OPTIONS"));
//! assert_eq!(client.get("/x").send().await.status(), 200);
//! # }
//! ```

#[cfg(feature = "acme")]
mod acme;
mod admin_listener;
mod build;
#[cfg(unix)]
pub mod control;
mod cors;
mod echo_upstream;
mod files;
mod limits;
mod listening;
mod order;
mod routes;
mod run;
mod second_signal;
mod shared;
mod stack;
mod summary;

pub use self::admin_listener::{admin, admin_with};
pub use self::build::{build, build_with};
pub use self::echo_upstream::echo_upstream;
pub use self::order::{route_order_changes, RouteOrderChange};
pub use self::run::{run, Runner, Swappable};
pub use self::shared::SharedState;
pub use self::stack::{Gateway, GatewayFuture};
