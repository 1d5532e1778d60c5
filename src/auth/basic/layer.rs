//! [`BasicAuthLayer`]: the settings and the state every [`BasicAuth`] service of a layer shares.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tokio::sync::Semaphore;
use tower_layer::Layer;

use super::cache::VerificationCache;
use super::hashers::Hashers;
use super::inflight::InFlight;
use super::limiter::{scope, FailureLimiter};
use super::service::Outcome;
use super::{BasicAuth, BasicAuthConfig, BasicAuthConfigError};
use crate::auth::htpasswd::{CredentialStore, Htpasswd, HtpasswdOptions};
use crate::auth::token::Tokens;
use crate::store::{KeyScheme, StoreKey};

/// Puts HTTP Basic authentication in front of a service.
///
/// Every service made by one layer (and its clones) shares one verification cache, one
/// verification pool and one failure counter.
#[must_use]
#[derive(Clone)]
pub struct BasicAuthLayer {
    pub(crate) shared: Arc<Shared>,
}

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) realm: String,
    pub(crate) strip_authorization: bool,
    pub(crate) user_header: Option<HeaderName>,
    pub(crate) token_header: Option<HeaderName>,
    /// Whether Basic is offered (not with a tokens file alone).
    pub(crate) basic: bool,
    pub(crate) exempt_paths: Vec<String>,
    pub(crate) exempt_methods: Vec<Method>,
    pub(crate) other_schemes_bad_request: bool,
    pub(crate) allow_legacy_hashes: bool,
    pub(crate) max_concurrent_verifications: usize,
    pub(crate) max_queued_verifications: usize,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_max_entries: usize,
    pub(crate) max_failures_per_peer: Option<(u32, Duration)>,
    pub(crate) lockout: Option<(u32, Duration)>,
    pub(crate) failure_ipv6_prefix: u8,
}

/// What the services of one layer share.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) store: Arc<dyn CredentialStore>,
    pub(crate) challenge: HeaderValue,
    pub(crate) cache: VerificationCache,
    /// Verifications running or waiting: `try_acquire` failing is the `503`.
    pub(crate) admitted: Arc<Semaphore>,
    /// The threads verifications run on, `max_concurrent_verifications` of them.
    pub(crate) hashers: Hashers,
    /// The verifications running, by credentials: the same credentials again wait for them.
    pub(crate) verifying: Arc<InFlight<Outcome>>,
    /// Failures per client address (under [`peer_failures`](Self::peer_failures)).
    pub(crate) failures: Option<FailureLimiter<StoreKey>>,
    /// Failures per (client, user) (under [`pair_failures`](Self::pair_failures)).
    pub(crate) pairs: Option<FailureLimiter<StoreKey>>,
    /// The scopes of `max_failures_per_peer` and `lockout`, when set.
    pub(crate) failure_scopes: (Option<String>, Option<String>),
    /// Makes the failure keys: the shared store's scheme, or this process's.
    pub(crate) keys: KeyScheme,
    /// The credentials file behind `store`, when the layer read one: re-read on a reload.
    pub(crate) file: Option<Arc<Htpasswd>>,
    /// The API tokens, when accepted, and their challenge (`Bearer realm=...`).
    pub(crate) tokens: Option<(Arc<Tokens>, HeaderValue)>,
    /// The store the failure counts live in when shared by replicas (then `failures` and
    /// `pairs` only count while it cannot answer, with `on_store_error = "local"`).
    pub(crate) redis: SharedStore,
}

/// A Redis store, when the build has them.
#[cfg(feature = "redis-store")]
pub(crate) type SharedStore = Option<crate::store::RedisStore>;
/// A Redis store, when the build has them (never, in this one).
#[cfg(not(feature = "redis-store"))]
pub(crate) type SharedStore = Option<NoStore>;

/// No store can be made without the `redis-store` feature.
#[cfg(not(feature = "redis-store"))]
#[derive(Clone)]
pub(crate) enum NoStore {}

impl Shared {
    fn new(
        settings: Settings,
        store: Arc<dyn CredentialStore>,
        file: Option<Arc<Htpasswd>>,
        tokens: Option<Arc<Tokens>>,
        redis: SharedStore,
    ) -> Shared {
        let running = settings.max_concurrent_verifications.max(1);
        #[cfg(feature = "redis-store")]
        let keys = redis.as_ref().map(|s| s.keys().clone());
        #[cfg(not(feature = "redis-store"))]
        let keys = None;
        Shared {
            keys: keys.unwrap_or_else(KeyScheme::per_process),
            failure_scopes: (
                settings.max_failures_per_peer.map(|l| scope("peer", l)),
                settings.lockout.map(|l| scope("lockout", l)),
            ),
            challenge: challenge("Basic", &settings.realm),
            tokens: tokens.map(|t| (t, challenge("Bearer", &settings.realm))),
            cache: VerificationCache::new(settings.cache_ttl, settings.cache_max_entries),
            admitted: Arc::new(Semaphore::new(
                running.saturating_add(settings.max_queued_verifications),
            )),
            hashers: Hashers::new(running),
            verifying: InFlight::new(),
            failures: settings
                .max_failures_per_peer
                .map(|(max, window)| FailureLimiter::new(max, window)),
            pairs: settings
                .lockout
                .map(|(max, window)| FailureLimiter::new(max, window)),
            settings,
            store,
            file,
            redis,
        }
    }
}

/// `Basic realm="...", charset="UTF-8"` (or `Bearer realm="..."`), the realm's quotes and
/// backslashes escaped and its control characters dropped.
fn challenge(scheme: &str, realm: &str) -> HeaderValue {
    let mut quoted = String::with_capacity(realm.len() + 8);
    for c in realm.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    // Non-ASCII realms go out as UTF-8 bytes, which `from_bytes` accepts (obs-text).
    let text = match scheme {
        "Basic" => format!("Basic realm=\"{quoted}\", charset=\"UTF-8\""),
        _ => format!("{scheme} realm=\"{quoted}\""),
    };
    HeaderValue::from_bytes(text.as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static("Basic charset=\"UTF-8\""))
}

/// Half the cores, at least one: verifications must leave the workers a core.
pub(crate) fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl BasicAuthLayer {
    /// Requires a valid user of `store` on every request, challenging with `realm`.
    ///
    /// The defaults are those of [`BasicAuthConfig`]: `Authorization` stripped, no user header,
    /// no exemptions, one verification per two cores with 64 waiting, a 5-minute cache of up to
    /// 10 000 users, no per-peer failure limit, legacy hashes refused.
    pub fn new(realm: impl Into<String>, store: impl CredentialStore) -> Self {
        let config = BasicAuthConfig {
            realm: realm.into(),
            ..BasicAuthConfig::default()
        };
        Self::from_config_with_store(&config, store)
            .expect("the default configuration has no header name, method or path to refuse")
    }

    /// A layer as `config` describes, reading and watching its `htpasswd` file.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the file watcher is a task).
    ///
    /// # Errors
    ///
    /// No `htpasswd` file configured, an invalid file, header name or method.
    pub fn from_config(config: &BasicAuthConfig) -> Result<Self, BasicAuthConfigError> {
        let tokens = match &config.tokens {
            Some(path) => Some(
                Tokens::watch(path, config.reload_interval)
                    .map_err(BasicAuthConfigError::Tokens)?,
            ),
            None => None,
        };
        let Some(path) = config.htpasswd.as_ref() else {
            let tokens = tokens.ok_or(BasicAuthConfigError::MissingHtpasswd)?;
            let nobody: Arc<dyn CredentialStore> = Arc::new(HashMap::<String, String>::new());
            let layer = Self::build(config, nobody, None, Some(tokens))?;
            return Ok(layer.edit(|s| s.basic = false));
        };
        let options = HtpasswdOptions {
            allow_legacy_hashes: config.allow_legacy_hashes,
            reload_interval: config.reload_interval,
            ..HtpasswdOptions::default()
        };
        let store = Htpasswd::watch_with(path, &options)?;
        Self::build(config, store.clone(), Some(store), tokens)
    }

    /// A layer as `config` describes, with users from `store` (`config.htpasswd` is ignored).
    ///
    /// # Errors
    ///
    /// An invalid header name or method.
    pub fn from_config_with_store(
        config: &BasicAuthConfig,
        store: impl CredentialStore,
    ) -> Result<Self, BasicAuthConfigError> {
        Self::build(config, Arc::new(store), None, None)
    }

    fn build(
        config: &BasicAuthConfig,
        store: Arc<dyn CredentialStore>,
        file: Option<Arc<Htpasswd>>,
        tokens: Option<Arc<Tokens>>,
    ) -> Result<Self, BasicAuthConfigError> {
        let user_header = match &config.forward_user_header {
            Some(name) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| BasicAuthConfigError::InvalidHeaderName { name: name.clone() })?,
            ),
            None => None,
        };
        let token_header = match &config.token_header {
            Some(name) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| BasicAuthConfigError::InvalidTokenHeader { name: name.clone() })?,
            ),
            None => None,
        };
        let exempt_methods = config
            .exempt_methods
            .iter()
            .map(|m| {
                Method::from_bytes(m.as_bytes())
                    .map_err(|_| BasicAuthConfigError::InvalidMethod { method: m.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(path) = config.exempt_paths.iter().find(|p| !p.starts_with('/')) {
            return Err(BasicAuthConfigError::InvalidExemptPath { path: path.clone() });
        }
        if config.failure_ipv6_prefix > 128 {
            return Err(BasicAuthConfigError::InvalidIpv6Prefix {
                prefix: config.failure_ipv6_prefix,
            });
        }
        let settings = Settings {
            realm: config.realm.clone(),
            strip_authorization: config.strip_authorization,
            user_header,
            token_header,
            basic: true,
            exempt_paths: config.exempt_paths.clone(),
            exempt_methods,
            other_schemes_bad_request: config.other_schemes_bad_request,
            allow_legacy_hashes: config.allow_legacy_hashes,
            max_concurrent_verifications: config
                .max_concurrent_verifications
                .unwrap_or_else(default_concurrency),
            max_queued_verifications: config.max_queued_verifications,
            cache_ttl: config.cache_ttl,
            cache_max_entries: config.cache_max_entries,
            max_failures_per_peer: config
                .max_failures_per_peer
                .map(|n| (n, config.failure_window.max(Duration::from_secs(1)))),
            lockout: config
                .lockout
                .map(|rate| (rate.count(), rate.window().max(Duration::from_secs(1)))),
            failure_ipv6_prefix: config.failure_ipv6_prefix,
        };
        Ok(BasicAuthLayer {
            shared: Arc::new(Shared::new(settings, store, file, tokens, None)),
        })
    }

    /// Re-reads the credentials file now, when the layer was made by
    /// [`from_config`](Self::from_config) (a program reloading its configuration keeps the
    /// layer, and so its failure counts and cache, and calls this); a refused file is logged
    /// and the users stay.
    pub async fn reload_credentials(&self) {
        if let Some(file) = &self.shared.file {
            if let Err(err) = file.reload().await {
                tracing::error!(error = %err, "htpasswd: new file refused, keeping the previous users");
            }
        }
        if let Some((tokens, _)) = &self.shared.tokens {
            if let Err(err) = tokens.reload().await {
                tracing::error!(error = %err, "tokens: new file refused, keeping the previous tokens");
            }
        }
    }

    fn edit(self, f: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.shared.settings.clone();
        f(&mut settings);
        BasicAuthLayer {
            shared: Arc::new(Shared::new(
                settings,
                self.shared.store.clone(),
                self.shared.file.clone(),
                self.shared.tokens.as_ref().map(|(t, _)| t.clone()),
                self.shared.redis.clone(),
            )),
        }
    }

    /// Keeps the failure counts (`max_failures_per_peer`, `lockout`) in `store`, shared by
    /// every replica using it, rather than in this process. Only password verifications ask
    /// Redis: a request whose password is in the verification cache never waits for it. While
    /// Redis cannot answer, the store's [`OnStoreError`](crate::store::OnStoreError) decides.
    /// Starts the counts (and the cache) afresh.
    #[cfg(feature = "redis-store")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-store")))]
    pub fn with_store(self, store: crate::store::RedisStore) -> Self {
        BasicAuthLayer {
            shared: Arc::new(Shared::new(
                self.shared.settings.clone(),
                self.shared.store.clone(),
                self.shared.file.clone(),
                self.shared.tokens.as_ref().map(|(t, _)| t.clone()),
                Some(store),
            )),
        }
    }

    /// Accepts the API tokens of `tokens` too: `Authorization: Bearer TOKEN` (and the
    /// [`token_header`](Self::token_header)), each mapped to its user name, which is then
    /// treated like a Basic user. The `401` then also challenges `Bearer`. Default is none.
    pub fn tokens(self, tokens: Arc<Tokens>) -> Self {
        BasicAuthLayer {
            shared: Arc::new(Shared::new(
                self.shared.settings.clone(),
                self.shared.store.clone(),
                self.shared.file.clone(),
                Some(tokens),
                self.shared.redis.clone(),
            )),
        }
    }

    /// Reads a token from this header too (its whole value, e.g. `X-API-Key`), besides
    /// `Authorization: Bearer`; only with [`tokens`](Self::tokens). Default is none.
    pub fn token_header(self, name: HeaderName) -> Self {
        self.edit(|s| s.token_header = Some(name))
    }

    /// Whether to remove the `Authorization` header (and the token header) before passing the
    /// request on, so the inner service never sees passwords or tokens. Default is `true`.
    pub fn strip_authorization(self, strip: bool) -> Self {
        self.edit(|s| s.strip_authorization = strip)
    }

    /// Passes the authenticated user name on in this header (e.g. `X-Forwarded-User`), as
    /// UTF-8. The header is removed from every incoming request first, so clients cannot
    /// forge it. Default is none.
    pub fn forward_user_header(self, name: HeaderName) -> Self {
        self.edit(|s| s.user_header = Some(name))
    }

    /// Lets requests for `path` through without credentials: an exact path (`/healthz`), or
    /// a prefix when it ends in `/*` (`/public/*` matches `/public/` and below, but never a
    /// path with `.`/`..` segments, empty segments, `%` escapes, backslashes or `;` path
    /// parameters, which a server behind could resolve elsewhere: `/public/..;/admin` is
    /// `/admin` to Tomcat). An exact path matches only itself, byte for byte. Default is none.
    pub fn exempt_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.edit(|s| s.exempt_paths.push(path))
    }

    /// Lets requests with `method` through without credentials (e.g. `OPTIONS` for CORS
    /// preflights). Default is none.
    pub fn exempt_method(self, method: Method) -> Self {
        self.edit(|s| s.exempt_methods.push(method))
    }

    /// Answers `400` instead of a `401` challenge when the client sent another scheme
    /// (e.g. `Bearer`). Default is `false`.
    pub fn other_schemes_bad_request(self, yes: bool) -> Self {
        self.edit(|s| s.other_schemes_bad_request = yes)
    }

    /// Verifies stored hashes of the weak legacy schemes too (see
    /// [`password`](crate::auth::password)). Default is `false`.
    pub fn allow_legacy_hashes(self, allow: bool) -> Self {
        self.edit(|s| s.allow_legacy_hashes = allow)
    }

    /// How many password verifications run at once: the layer's own hashing threads, at a
    /// lower scheduling priority than the workers. Default is half the cores (at least one).
    pub fn max_concurrent_verifications(self, n: usize) -> Self {
        self.edit(|s| s.max_concurrent_verifications = n.max(1))
    }

    /// How many verifications may wait for a thread; past that, requests that need one are
    /// answered `503` with `Retry-After: 1` at once. Default is `64`.
    pub fn max_queued_verifications(self, n: usize) -> Self {
        self.edit(|s| s.max_queued_verifications = n)
    }

    /// How long a successful verification is remembered; zero disables the cache. Default
    /// is 5 minutes.
    pub fn cache_ttl(self, ttl: Duration) -> Self {
        self.edit(|s| s.cache_ttl = ttl)
    }

    /// How many users the cache remembers at most. Default is `10000`.
    pub fn cache_max_entries(self, n: usize) -> Self {
        self.edit(|s| s.cache_max_entries = n)
    }

    /// Answers `429` to a peer address after `max` failed attempts within `window` (counted
    /// from the first), to every request from it, correct credentials included, for
    /// `window`, then twice as long at each new lock (up to a day). The peer is the forwarded layer's client address when present (as the
    /// trusted proxies reported it), else the TCP peer; IPv6 peers are counted per
    /// [`failure_ipv6_prefix`](Self::failure_ipv6_prefix) network. Default is no limit.
    pub fn max_failures_per_peer(self, max: u32, window: Duration) -> Self {
        self.edit(|s| s.max_failures_per_peer = Some((max, window)))
    }

    /// Locks a user out from one client address after `max` failed attempts for that user
    /// from there within `window` (counted from the first): `429` with `Retry-After` for
    /// that user from that client, for `window`, then twice as long at each new lock (up to
    /// a day). The same user from another client is still admitted, so an attacker cannot
    /// lock the real user out; a successful login from the client clears its count. Combine
    /// with [`max_failures_per_peer`](Self::max_failures_per_peer) to stop a client trying
    /// many users. Default is none.
    pub fn lockout(self, max: u32, window: Duration) -> Self {
        self.edit(|s| s.lockout = Some((max.max(1), window)))
    }

    /// How many leading bits of an IPv6 peer address the failure limit counts by: one
    /// client usually holds a whole `/64`. `128` counts each address; values above 128 are
    /// taken as 128. Default is `64`.
    pub fn failure_ipv6_prefix(self, bits: u8) -> Self {
        self.edit(|s| s.failure_ipv6_prefix = bits.min(128))
    }
}

impl fmt::Debug for BasicAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared.settings;
        f.debug_struct("BasicAuthLayer")
            .field("realm", &s.realm)
            .field("strip_authorization", &s.strip_authorization)
            .field("user_header", &s.user_header)
            .field("exempt_paths", &s.exempt_paths)
            .field("exempt_methods", &s.exempt_methods)
            .field(
                "max_concurrent_verifications",
                &s.max_concurrent_verifications,
            )
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for BasicAuthLayer {
    type Service = BasicAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BasicAuth {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_escapes_the_realm() {
        assert_eq!(
            challenge("Basic", "site"),
            "Basic realm=\"site\", charset=\"UTF-8\""
        );
        assert_eq!(challenge("Bearer", "site"), "Bearer realm=\"site\"");
        assert_eq!(
            challenge("Basic", "a \"b\" \\c\r\n"),
            "Basic realm=\"a \\\"b\\\" \\\\c\", charset=\"UTF-8\""
        );
        assert_eq!(
            challenge("Basic", "Zoë").as_bytes(),
            "Basic realm=\"Zoë\", charset=\"UTF-8\"".as_bytes()
        );
    }
}
