//! Request rate limits per client address, per user or for everything a layer wraps, as a
//! generic cell-rate algorithm (GCRA, the [`governor`] crate): [`RateLimitLayer`].
//!
//! A rate `100/s` lets a key make 100 requests at once, then one more every 10 ms: the burst
//! is the count, refilled evenly over the window. A request over the limit is answered
//! `429 Too Many Requests` with `Retry-After` (whole seconds, rounded up) and the IETF
//! draft's `RateLimit-Policy` and `RateLimit` headers (`"client";q=100;w=1` and
//! `"client";r=0;t=3`).
//!
//! - [`RateLimitLayer::per_client`]: keyed by the client address as the forwarded layer
//!   resolved it ([`Origin::client_addr`](crate::origin::Origin::client_addr)); IPv6 clients
//!   by `/64` (see [`ipv6_prefix`](RateLimitLayer::ipv6_prefix)). A request without an
//!   address (in-process) is not limited.
//! - [`RateLimitLayer::per_user`]: keyed by the authenticated user; place it inside the auth
//!   layer. A request without a user is not limited by it.
//! - [`RateLimitLayer::total`]: one bucket for every request (a route's whole traffic).
//!
//! The state belongs to the layer: every service it makes, and their clones on any thread,
//! share it, so the limit holds across connections and workers (tower's own `RateLimit`
//! keeps its state per service clone, axum#2634). Keys unused for a while are forgotten as
//! requests come.
//!
//! # Example
//!
//! ```
//! use tollgate::ratelimit::{Rate, RateLimitLayer};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let rate: Rate = "2/m".parse().unwrap();
//! let app = service_fn(|_req: http::Request<tollgate::Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tollgate::Body::from("hi")))
//! });
//! let svc = RateLimitLayer::total(rate).layer(app);
//! let get = || http::Request::get("/").body(tollgate::Body::empty()).unwrap();
//! assert_eq!(svc.clone().oneshot(get()).await.unwrap().status(), 200);
//! assert_eq!(svc.clone().oneshot(get()).await.unwrap().status(), 200);
//! let res = svc.oneshot(get()).await.unwrap();
//! assert_eq!(res.status(), 429);
//! assert_eq!(res.headers()["retry-after"], "30");
//! assert_eq!(res.headers()["ratelimit-policy"], "\"total\";q=2;w=60");
//! # }
//! ```

mod layer;

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub use self::layer::{RateLimit, RateLimitLayer, ResponseFuture};

/// A number of requests per window: `100/s`, `10/m`, `5/60s`, `1000/1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: NonZeroU32,
    window: Duration,
}

impl Rate {
    /// `count` requests per `window`.
    ///
    /// # Errors
    ///
    /// A zero count, or a window under 1 ms or over a year.
    pub fn new(count: u32, window: Duration) -> Result<Rate, RateError> {
        let count = NonZeroU32::new(count).ok_or(RateError::Zero)?;
        if window < Duration::from_millis(1) || window > Duration::from_secs(366 * 86_400) {
            return Err(RateError::Window);
        }
        Ok(Rate { count, window })
    }

    /// How many requests a window allows (the burst).
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.window.as_millis();
        match ms {
            1000 => write!(f, "{}/s", self.count),
            60_000 => write!(f, "{}/m", self.count),
            3_600_000 => write!(f, "{}/h", self.count),
            _ if ms % 1000 == 0 => write!(f, "{}/{}s", self.count, ms / 1000),
            _ => write!(f, "{}/{}ms", self.count, ms),
        }
    }
}

impl FromStr for Rate {
    type Err = RateError;

    /// `N/UNIT` (`s`, `m`, `h`, `d`) or `N/DURATION` (`60s`, `10m`, `500ms`).
    fn from_str(text: &str) -> Result<Rate, RateError> {
        let (count, window) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| RateError::Syntax {
                text: crate::syntax::excerpt(text, 32),
            })?;
        let syntax = || RateError::Syntax {
            text: crate::syntax::excerpt(text, 32),
        };
        let count: u32 = count.trim().parse().map_err(|_| syntax())?;
        let window = window.trim();
        let window = match window {
            "s" | "m" | "h" | "d" => format!("1{window}"),
            _ => window.to_owned(),
        };
        if !window.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(syntax());
        }
        let window = crate::syntax::duration::parse(&window).map_err(|_| syntax())?;
        Rate::new(count, window)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a rate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateError {
    /// Not `N/WINDOW`.
    Syntax {
        /// The text (at most 32 bytes of it).
        text: String,
    },
    /// A count of zero.
    Zero,
    /// A window under 1 ms or over a year.
    Window,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateError::Syntax { text } => write!(
                f,
                "invalid rate {text:?}: write requests per window, e.g. \"100/s\", \"10/m\", \
                 \"5/60s\""
            ),
            RateError::Zero => f.write_str(
                "a rate of 0 requests would refuse everything; remove the limit instead",
            ),
            RateError::Window => f.write_str("a rate's window must be between 1ms and a year"),
        }
    }
}

impl std::error::Error for RateError {}

/// The gateway's `[rate_limit]` table: limits for every request (a route's own limit is its
/// `rate_limit` key).
///
/// ```
/// let config: tollgate::ratelimit::RateLimitConfig = toml::from_str(r#"
///     per_client = "100/s"
///     per_user = "20/s"
/// "#).unwrap();
/// assert_eq!(config.per_client.unwrap().count(), 100);
/// assert_eq!(config.ipv6_prefix, 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Requests per client address (as the trusted proxies reported it), checked before
    /// authentication. Default is none.
    pub per_client: Option<Rate>,
    /// Requests per authenticated user, checked after authentication. Default is none.
    pub per_user: Option<Rate>,
    /// How many leading bits of an IPv6 client address `per_client` counts by (0 to 128).
    /// Default is `64`.
    pub ipv6_prefix: u8,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_client: None,
            per_user: None,
            ipv6_prefix: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let cases = [
            ("per second", "100/s", 100, 1000),
            ("per minute", "10/m", 10, 60_000),
            ("a duration", "5/60s", 5, 60_000),
            ("milliseconds", "1/500ms", 1, 500),
            ("days", "1000/d", 1000, 86_400_000),
            ("spaces", " 3 / 2m ", 3, 120_000),
        ];
        for (name, text, count, ms) in cases {
            let rate: Rate = text.parse().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (rate.count(), rate.window().as_millis()),
                (count, ms),
                "{name}"
            );
        }
        assert_eq!("5/60s".parse::<Rate>().unwrap().to_string(), "5/m");
        assert_eq!("5/90s".parse::<Rate>().unwrap().to_string(), "5/90s");
        for bad in [
            "", "100", "/s", "x/s", "0/s", "1/x", "1/-1s", "-1/s", "1/0s", "1/ms",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
    }
}
