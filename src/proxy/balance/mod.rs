//! Several upstreams behind one service: [`Balanced`] picks a [`Proxy`] per request by a
//! [`Policy`], skips upstreams that keep failing (passive health) or fail a probe (active
//! health), and retries idempotent requests on another upstream when connecting failed.
//!
//! - **Policies**: round-robin; least outstanding requests (the upstream with the fewest
//!   requests in flight, counted until the answer's body ends; with the handful of upstreams a
//!   gateway has, scanning them all is exact and cheaper than tower's power-of-two-choices
//!   sampling, which fits large dynamic sets); hashing on the client address, a header or a
//!   cookie for stickiness (rendezvous hashing: when an upstream is skipped only its clients
//!   move, and they come back when it recovers). A request without the hashed value is
//!   balanced round-robin.
//! - **Passive health**: an upstream whose answers are upstream failures (refused, reset,
//!   timed out: the proxy's `502`/`504`, never an answer the upstream itself gave)
//!   `max_fails` times in a row is skipped for `fail_timeout`, then given requests again; one
//!   success resets its count, one more failure skips it again at once.
//! - **Active health** (optional): every `interval`, `GET path` on each upstream; an answer
//!   other than 2xx/3xx within `timeout` takes it out until a probe passes. Probes start with
//!   the first request and stop when the service is dropped (a reload replaces it).
//! - **When every upstream is skipped**, requests go to all of them anyway: a guess beats a
//!   certain `502`.
//! - **Retries**: only for idempotent methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`,
//!   `DELETE`), only when the proxy reports that connecting failed, so nothing was sent, and
//!   only while nothing of the request body was read: never a request the upstream may have
//!   seen, never a body that started streaming. The body is not buffered: the retry sends the
//!   very same body, still unread.
//!
//! # Example
//!
//! ```no_run
//! use tollgate::proxy::balance::{BalanceConfig, Balanced, Policy};
//! use tollgate::proxy::ProxyConfig;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let upstreams = vec!["http://127.0.0.1:9001".parse()?, "http://127.0.0.1:9002".parse()?];
//! let config = BalanceConfig { policy: Policy::LeastRequests, ..BalanceConfig::default() };
//! let service = Balanced::new(upstreams, ProxyConfig::default(), config)?;
//! // The short way, with default options:
//! let same = tollgate::proxy::Proxy::balanced(
//!     vec!["http://127.0.0.1:9001".parse()?, "http://127.0.0.1:9002".parse()?],
//!     Policy::RoundRobin,
//! );
//! // tollgate::serve::bind("127.0.0.1:8080", service).await?;
//! # let _ = (service, same); Ok(()) }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, COOKIE};
use http::{Request, Response};
use serde::Deserialize;
use tower::ServiceExt;

mod health;
mod retry;

use self::retry::{retries_for, with_retries};
use super::{Proxy, ProxyBuildError, ProxyConfig, Upstream};
use crate::body::{Body, BoxError, Watch, Watched};
use crate::ext::UpstreamFailure;
use crate::syntax::duration;

/// How the upstream of a request is chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Policy {
    /// Each upstream in turn (`"round_robin"`). The default.
    #[default]
    RoundRobin,
    /// The upstream with the fewest requests in flight (`"least_requests"`).
    LeastRequests,
    /// The same client address, the same upstream (`"hash_client_addr"`): the address the
    /// trusted proxies reported, else the peer's.
    HashClientAddr,
    /// The same value of this request header, the same upstream
    /// (`{ hash_header = "X-User" }`).
    HashHeader(String),
    /// The same value of this cookie, the same upstream (`{ hash_cookie = "session" }`).
    HashCookie(String),
}

/// An active health check: `GET path` on every upstream every `interval`.
///
/// Build one with struct update syntax: `HealthCheck { path: "/up".into(), ..Default::default() }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    /// The path probed. Default is `/healthz`.
    pub path: String,
    /// How often. Default is `10s`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub interval: Duration,
    /// How long a probe may take before it counts as failed. Default is `2s`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: "/healthz".to_owned(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
        }
    }
}

/// How a group of upstreams is balanced; the `balance` table of `[upstreams.NAME]`.
///
/// Build one with struct update syntax, so fields added later keep their defaults:
/// `BalanceConfig { policy: Policy::LeastRequests, ..BalanceConfig::default() }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BalanceConfig {
    /// How an upstream is chosen. Default is [`Policy::RoundRobin`].
    pub policy: Policy,
    /// Upstream failures in a row before an upstream is skipped; `0` turns passive health off.
    /// Default is `3`.
    pub max_fails: u32,
    /// How long a failing upstream is skipped before it is tried again. Default is `10s`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub fail_timeout: Duration,
    /// Probe every upstream. Default is `None`: no active health check.
    pub health_check: Option<HealthCheck>,
    /// How many other upstreams an idempotent request is tried on when connecting failed
    /// (nothing was sent, not a byte of the body read); `0` never retries. Default is `1`.
    pub retries: usize,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            policy: Policy::default(),
            max_fails: 3,
            fail_timeout: Duration::from_secs(10),
            health_check: None,
            retries: 1,
        }
    }
}

/// Put on an answer the proxy gave because connecting to the upstream failed: nothing of the
/// request was sent, so it may go to another upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectFailed;

/// A balanced group of upstreams as one `tower::Service`; see the [module docs](self).
/// Cloning is cheap and clones share the counters.
#[derive(Clone)]
#[must_use]
pub struct Balanced {
    group: Arc<Group>,
}

struct Group {
    members: Box<[Member]>,
    config: BalanceConfig,
    hash_header: Option<HeaderName>,
    next: AtomicUsize,
    epoch: Instant,
    probing: AtomicBool,
}

struct Member {
    proxy: Proxy,
    name: Arc<str>,
    outstanding: AtomicUsize,
    fails: AtomicU32,
    /// Milliseconds since `epoch` until which the member is skipped (passive health).
    skip_until: AtomicU64,
    /// Whether the last probe passed (always `true` without active health).
    probe_ok: AtomicBool,
}

impl std::fmt::Debug for Balanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.group.members.iter().map(|m| &*m.name).collect();
        f.debug_struct("Balanced")
            .field("upstreams", &names)
            .field("config", &self.group.config)
            .finish()
    }
}

impl Proxy {
    /// A proxy balancing over `upstreams` by `policy`, with the default [`ProxyConfig`] and
    /// [`BalanceConfig`] otherwise (passive health on, one retry); see [`Balanced::new`] for
    /// every option.
    pub fn balanced(upstreams: Vec<Upstream>, policy: Policy) -> Balanced {
        let config = BalanceConfig {
            policy,
            ..BalanceConfig::default()
        };
        Balanced::new(upstreams, ProxyConfig::default(), config)
            .expect("the default proxy config reads no file and cannot fail")
    }
}

impl Balanced {
    /// Balances over `upstreams`, each reached through its own [`Proxy`] with `proxy`.
    ///
    /// # Errors
    ///
    /// [`ProxyBuildError`] when a proxy cannot be built (its `ca_file`).
    pub fn new(
        upstreams: Vec<Upstream>,
        proxy: ProxyConfig,
        config: BalanceConfig,
    ) -> Result<Self, ProxyBuildError> {
        let members = upstreams
            .into_iter()
            .map(|u| Ok((u.name(), Proxy::with_config(u, proxy.clone())?)))
            .collect::<Result<Vec<_>, ProxyBuildError>>()?;
        Ok(Self::from_members(members, config))
    }

    fn from_members(members: Vec<(Arc<str>, Proxy)>, config: BalanceConfig) -> Self {
        let members = members
            .into_iter()
            .map(|(name, proxy)| Member {
                name,
                proxy,
                outstanding: AtomicUsize::new(0),
                fails: AtomicU32::new(0),
                skip_until: AtomicU64::new(0),
                probe_ok: AtomicBool::new(true),
            })
            .collect();
        let hash_header = match &config.policy {
            Policy::HashHeader(name) => HeaderName::from_bytes(name.as_bytes()).ok(),
            _ => None,
        };
        Balanced {
            group: Arc::new(Group {
                members,
                config,
                hash_header,
                next: AtomicUsize::new(0),
                epoch: Instant::now(),
                probing: AtomicBool::new(false),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &BalanceConfig {
        &self.group.config
    }

    /// Whether the upstream at `index` (in the order given) would be given requests now.
    pub fn is_up(&self, index: usize) -> bool {
        self.group.is_up(index, self.group.now_ms())
    }
}

impl Group {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The member for `req`, never one of `tried`; `None` when every member was tried.
    fn pick<B>(&self, req: &Request<B>, tried: &[usize]) -> Option<usize> {
        let n = self.members.len();
        let now = self.now_ms();
        let fresh = |i: &usize| !tried.contains(i);
        let mut candidates: Vec<usize> = (0..n)
            .filter(fresh)
            .filter(|&i| self.is_up(i, now))
            .collect();
        if candidates.is_empty() {
            candidates = (0..n).filter(fresh).collect();
        }
        if candidates.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let rotated = |k: usize| candidates[(start + k) % candidates.len()];
        let chosen = match &self.config.policy {
            Policy::RoundRobin => rotated(0),
            Policy::LeastRequests => (0..candidates.len())
                .map(rotated)
                .min_by_key(|&i| self.members[i].outstanding.load(Ordering::Relaxed))
                .unwrap_or_else(|| rotated(0)),
            policy => match self.hash_key(policy, req) {
                Some(key) => candidates
                    .iter()
                    .copied()
                    .max_by_key(|&i| rendezvous(&key, &self.members[i].name))
                    .unwrap_or_else(|| rotated(0)),
                None => rotated(0),
            },
        };
        Some(chosen)
    }

    /// The value a hashing policy sticks on, when the request has it.
    fn hash_key<B>(&self, policy: &Policy, req: &Request<B>) -> Option<Vec<u8>> {
        match policy {
            Policy::HashClientAddr => {
                let client = crate::origin::Origin::of(req).client_addr();
                client.map(|ip: IpAddr| ip.to_string().into_bytes())
            }
            Policy::HashHeader(_) => {
                let name = self.hash_header.as_ref()?;
                req.headers().get(name).map(|v| v.as_bytes().to_vec())
            }
            Policy::HashCookie(cookie) => req
                .headers()
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| name == cookie)
                .map(|(_, value)| value.as_bytes().to_vec()),
            Policy::RoundRobin | Policy::LeastRequests => None,
        }
    }
}

/// The rendezvous score of `member` for `key`: the highest score wins.
fn rendezvous(key: &[u8], member: &str) -> u64 {
    // `DefaultHasher::new()` has fixed keys: the same key picks the same upstream in every
    // process of one build, so replicas agree.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    member.hash(&mut hasher);
    hasher.finish()
}

/// The future of a [`Balanced`] call.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl<B> tower_service::Service<Request<B>> for Balanced
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let group = self.group.clone();
        group.start_probes();
        let Some(first) = group.pick(&req, &[]) else {
            // Only a group without upstreams has nothing to pick; `new` with none makes one.
            let res = crate::HttpError::bad_gateway("this upstream group has no servers")
                .into_response_for(req.headers());
            return Box::pin(async { Ok(res) });
        };
        let retries = retries_for(&group, req.method());
        if retries == 0 {
            return Box::pin(async move { Ok(attempt(&group, first, req).await) });
        }
        Box::pin(async move { Ok(with_retries(group, first, req, retries).await) })
    }
}

/// Sends `req` to member `i`, counts it while in flight, and observes the answer.
async fn attempt<B>(group: &Arc<Group>, i: usize, req: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let member = &group.members[i];
    member.outstanding.fetch_add(1, Ordering::Relaxed);
    let guard = InFlight {
        group: group.clone(),
        index: i,
    };
    let res = match member.proxy.clone().oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    };
    group.observe(i, res.extensions().get::<UpstreamFailure>().is_some());
    // The answer's body holds the guard until it is dropped.
    res.map(|body| Body::new(Watched::new(body, guard)))
}

/// Takes a request off its upstream's outstanding count when the answer's body ends.
struct InFlight {
    group: Arc<Group>,
    index: usize,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.group.members[self.index]
            .outstanding
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A guard, so it watches nothing: it only lives as long as the answer's body.
impl Watch for InFlight {}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: usize, policy: Policy) -> Balanced {
        let upstreams = (0..n)
            .map(|i| format!("http://127.0.0.1:{}", 9000 + i).parse().unwrap())
            .collect();
        let config = BalanceConfig {
            policy,
            ..BalanceConfig::default()
        };
        Balanced::new(upstreams, ProxyConfig::default(), config).unwrap()
    }

    fn get() -> Request<()> {
        Request::get("/").body(()).unwrap()
    }

    #[test]
    fn names_members_by_upstream() {
        let b = group(2, Policy::RoundRobin);
        assert_eq!(&*b.group.members[1].name, "http://127.0.0.1:9001");
    }

    #[test]
    fn round_robin_turns() {
        let b = group(3, Policy::RoundRobin);
        let picks: Vec<_> = (0..6).map(|_| b.group.pick(&get(), &[]).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_requests_prefers_the_idle() {
        let b = group(3, Policy::LeastRequests);
        b.group.members[0].outstanding.store(5, Ordering::Relaxed);
        b.group.members[2].outstanding.store(1, Ordering::Relaxed);
        for _ in 0..4 {
            assert_eq!(b.group.pick(&get(), &[]), Some(1));
        }
    }

    #[test]
    fn passive_health_skips_then_forgives() {
        let mut b = group(2, Policy::RoundRobin);
        Arc::get_mut(&mut b.group).unwrap().config.fail_timeout = Duration::ZERO;
        for _ in 0..3 {
            b.group.observe(0, true);
        }
        // A zero cool-down: skipped until now, so up again at once.
        assert!(b.is_up(0));
        b.group.members[0]
            .skip_until
            .store(u64::MAX, Ordering::Relaxed);
        assert!(!b.is_up(0));
        for _ in 0..4 {
            assert_eq!(b.group.pick(&get(), &[]), Some(1));
        }
        // Every member down: all are candidates again.
        b.group.members[1]
            .skip_until
            .store(u64::MAX, Ordering::Relaxed);
        assert!(b.group.pick(&get(), &[]).is_some());
        assert_eq!(b.group.pick(&get(), &[0, 1]), None);
    }

    #[test]
    fn hashing_sticks_and_spreads() {
        let b = group(4, Policy::HashHeader("X-User".into()));
        let req = |user: &str| Request::get("/").header("x-user", user).body(()).unwrap();
        let first = b.group.pick(&req("ada"), &[]);
        for _ in 0..10 {
            assert_eq!(b.group.pick(&req("ada"), &[]), first);
        }
        let spread: std::collections::HashSet<_> = (0..64)
            .map(|i| b.group.pick(&req(&format!("user{i}")), &[]))
            .collect();
        assert!(spread.len() >= 3, "{spread:?}");
    }

    #[test]
    fn hashing_a_cookie() {
        let b = group(3, Policy::HashCookie("sid".into()));
        let req = Request::get("/")
            .header("cookie", "a=1; sid=xyz")
            .body(())
            .unwrap();
        let first = b.group.pick(&req, &[]);
        for _ in 0..5 {
            assert_eq!(b.group.pick(&req, &[]), first);
        }
    }

    #[test]
    fn policies_from_toml() {
        let c: BalanceConfig =
            toml::from_str("policy = { hash_cookie = \"sid\" }\nfail_timeout = \"2s\"").unwrap();
        assert_eq!(c.policy, Policy::HashCookie("sid".into()));
        assert_eq!(c.fail_timeout, Duration::from_secs(2));
        let c: BalanceConfig = toml::from_str("policy = \"least_requests\"").unwrap();
        assert_eq!(c.policy, Policy::LeastRequests);
        assert!(toml::from_str::<BalanceConfig>("max_fail = 1").is_err());
    }
}
