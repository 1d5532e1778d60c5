//! What every integration test shares: servers on `127.0.0.1:0`, one client and one response
//! type, raw bytes on a socket, `curl`, the `tollgate` binary, files on disk, and one timeout.
//!
//! Include it from a file in `tests/` with `mod support;`, or from a folder crate's `main.rs`
//! (`tests/security/main.rs`) with `#[path = "../support/mod.rs"] mod support;`, then
//! `use support::*;` or name what you need. Not every test uses every helper, hence the
//! `allow(dead_code)`.
//!
//! # Writing a test in a minute
//!
//! ```ignore
//! mod support;
//! use support::*;
//!
//! #[tokio::test]
//! async fn echo_answers() {
//!     let server = start(tollgate::echo::EchoService::new()).await; // stops when dropped
//!     let res = get(&server.url("/a?b=1")).await;                    // a `Fetched`
//!     assert_eq!(res.status, 200);
//!     assert_eq!(res.json()["path"], "/a");
//! }
//! ```
//!
//! # Entry points
//!
//! - Servers ([`server`]): [`start`]/[`start_with`] run a tower service behind
//!   `tollgate::serve` (a [`TestServer`], stopped on drop); [`gateway`] runs one behind bare
//!   hyper (HTTP/1.1 and h2c, no `serve` limits) for the proxy tests; [`upstream`] and
//!   [`recording_upstream`] are upstreams that count connections and record each request as a
//!   [`Seen`]; [`dead_port`] is an address nothing listens on.
//! - The client ([`client`]): every answer is a [`Fetched`] (status, headers, body; `header`,
//!   `text`, `json`). [`get`]`(url)`, [`send`]`(method, url, headers)`, [`fetch`]`(request)`
//!   and [`fetch_with`] for another [`client()`] such as [`h2_client`];
//!   [`TestServer::get`]`(path, headers)` and [`TestServer::send`] on a started server.
//! - Raw bytes ([`raw`]): [`raw()`] writes bytes and reads until the server closes;
//!   [`raw_get`] sends `GET target` byte for byte and [`raw_request`] any request head, and
//!   both parse the answer; [`connect`] opens a bounded connection; [`raw_exchange`] and
//!   [`read_until_quiet`] for connections the server keeps open; [`raw_stream`] streams a body
//!   while the answer is read; [`parse`] turns answer bytes into a [`Fetched`].
//! - A lying upstream ([`lying`]): [`lying_upstream`]`(|n| script)` plays a script of raw
//!   bytes ([`Step`]: read a request, write, sleep, close) on its `n`th connection, counts
//!   connections and keeps each request head it read ([`Heard`]); [`honest`] answers every
//!   request. `h2_abuse.py` beside it sends raw HTTP/2 frames (`tests/hostile_h2.rs`).
//! - curl ([`mod@curl`]): [`curl()`]`(args)` returns the last answer as a [`Fetched`].
//! - The binary ([`binary`]): [`Gateway::start`]`(args)` (adds `--bind 127.0.0.1:0`),
//!   [`Gateway::spawn`], [`Gateway::run_file`] start `tollgate` and wait for its `Serving on`
//!   line; [`Launch`] sets the environment, standard input or another program first;
//!   [`run_to_end`], [`start_failure`] and [`Launch::output`] run one-shot commands. A
//!   running [`Gateway`] has `url`, `log`, `wait_for_log`, `wait_serving` (another listener),
//!   `signal`, `terminate` and `stop`; it is killed when dropped.
//! - Files ([`files`]): [`temp_dir`] (removed on drop), [`fixture`] (`tests/fixtures/`),
//!   [`htpasswd_file`] and [`htpasswd`] (Apache's own tool).
//! - Redis ([`redis_server`]): [`Redis::start`] runs a real `redis-server` on a free loopback
//!   port without persistence (killed on drop); `stop`, `restart` (same port, empty), `url`,
//!   `keys`, `command`.
//! - ACME ([`pebble`]): [`Pebble::start`] runs Debian's pebble on free ports (always-valid
//!   challenges), [`Pebble::root`] fetches the root of what it issues.
//! - Other servers ([`peer`]): [`Peer::python_http`] (`python3 -m http.server`) and
//!   [`Peer::nginx`] (a temporary configuration answering `200`) on a [`free_port`], killed
//!   on drop.
//! - Waiting: [`TEST_TIMEOUT`] bounds every network wait, readiness wait and poll
//!   ([`eventually`]); a hung test fails instead of hanging CI.
#![allow(dead_code, unused_imports)]

pub mod binary;
pub mod client;
pub mod curl;
pub mod files;
pub mod lying;
pub mod pebble;
pub mod peer;
pub mod raw;
pub mod redis_server;
pub mod server;

use std::time::Duration;

pub use binary::*;
pub use client::*;
pub use curl::*;
pub use files::*;
pub use lying::*;
pub use pebble::*;
pub use peer::*;
pub use raw::*;
pub use redis_server::*;
pub use server::*;

/// The bound on every network wait of a test: a hung test fails instead of hanging CI.
/// Transfers of 100 MB allow a few times this.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The TLS cryptography tollgate itself uses (*ring*'s), for the tests' own TLS peers.
#[cfg(feature = "tls")]
pub fn tls_provider() -> rustls::crypto::CryptoProvider {
    #[allow(deprecated)] // for lack of post-quantum key exchange, which the tests do not need
    rustls::crypto::ring::default_provider()
}

#[cfg(feature = "tls")]
pub use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};

/// `short`, or `long` when `TOLLGATE_HOSTILE_LONG=1`: the size knob of the `hostile_*` tests
/// (CI runs the short sizes; the long ones are the issue's).
pub fn hostile_size(short: usize, long: usize) -> usize {
    match std::env::var("TOLLGATE_HOSTILE_LONG").as_deref() {
        Ok("1") => long,
        _ => short,
    }
}

/// Polls `done` every 20 ms until it holds; false when it still does not after
/// [`TEST_TIMEOUT`].
pub async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
