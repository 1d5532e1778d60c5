//! [`RedisStore`]: rate-limit and lockout state in Redis (or Valkey), one Lua script per
//! operation, keys built from a keyed hash.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Script;

use super::connect::{Connection, Kept, Target};
use super::key::MIN_SECRET;
use super::{KeyScheme, OnStoreError, StoreKey, StoreLocation, StoreLocationError};
use crate::syntax::rate::Rate;

/// How long Redis is left alone after an error before the next request tries it again.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// How long one Redis call (or connection attempt) may take before it counts as an error.
const TIMEOUT: Duration = Duration::from_millis(500);

/// The longest lock (as the memory store's).
const MAX_LOCK_MS: u64 = 24 * 3600 * 1000;

/// GCRA in microseconds, on Redis's clock: `KEYS[1]` holds the theoretical arrival time.
/// `ARGV`: emission interval, burst. Returns 0 to pass, else the microseconds to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2]) * period
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local new_tat = tat + period
if new_tat - now > limit then return new_tat - now - limit end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 0
";

/// One failure: `KEYS` count, strikes, lock; `ARGV` max, window (ms), longest lock (ms).
/// Returns 0, or the milliseconds of the lock this failure started.
const RECORD: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
local strikes = redis.call('INCR', KEYS[2])
local lock = tonumber(ARGV[2]) * 2 ^ math.min(strikes - 1, 20)
if lock > tonumber(ARGV[3]) then lock = tonumber(ARGV[3]) end
redis.call('SET', KEYS[3], 1, 'PX', lock)
redis.call('PEXPIRE', KEYS[2], math.min(lock * 2, tonumber(ARGV[3])))
return lock
";

/// The longest time left on the lock keys `KEYS`, in milliseconds (0: none locked).
const LOCKED: &str = r"
local m = 0
for _, k in ipairs(KEYS) do
  local t = redis.call('PTTL', k)
  if t > m then m = t end
end
return m
";

/// Redis could not answer: down, unreachable, too slow, or resting after an error.
#[derive(Debug)]
pub struct StoreUnavailable(String);

impl fmt::Display for StoreUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limits store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreUnavailable {}

/// Why a [`RedisStore`] could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreConfigError {
    /// The `store` value.
    Location(StoreLocationError),
    /// A Redis store without `store_secret_file`.
    MissingSecret,
    /// The secret file could not be read or is too short.
    Secret {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

impl fmt::Display for StoreConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfigError::Location(e) => e.fmt(f),
            StoreConfigError::MissingSecret => f.write_str(
                "a Redis store needs `store_secret_file`: a file of at least 16 random bytes that \
                 every replica shares (make one with `head -c 32 /dev/urandom > FILE`, mode 600); \
                 it keys the hashes that stand for user names and addresses in Redis",
            ),
            StoreConfigError::Secret { path, why } => {
                write!(f, "store_secret_file {}: {why}", path.display())
            }
        }
    }
}

impl std::error::Error for StoreConfigError {}

/// Checks a Redis URL (one server, a cluster or sentinels) without connecting.
pub(super) fn validate(url: &str) -> Result<(), StoreLocationError> {
    Target::parse(url, TIMEOUT).map(drop)
}

/// Rate-limit and lockout state in Redis, shared by every replica that uses the same server
/// and secret; see the [module docs](super).
///
/// Cloning shares the connection. The connection is made on first use (inside the runtime
/// of that request); after an error, a single server's connection manager reconnects, a
/// cluster's or sentinel's connection is made again (the Sentinels asked for the master
/// again, so a failover is followed).
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    kept: Kept,
    location: StoreLocation,
    /// Held while a connection is being made, so that one is made at a time.
    connecting: tokio::sync::Mutex<()>,
    keys: KeyScheme,
    on_error: OnStoreError,
    /// Milliseconds since `base` before which Redis is not tried again.
    rest_until: AtomicU64,
    base: Instant,
    down: AtomicBool,
    errors: AtomicU64,
    gcra: Script,
    record: Script,
    locked: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.inner.location.to_string())
            .field("on_error", &self.inner.on_error)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` whose keys are hashed with `secret` (at least 16 bytes, the same on
    /// every replica). `url` names one server (`redis://`, `valkey://`, `redis+unix://`), a cluster (`redis+cluster://HOST:PORT,HOST:PORT`) or the master
    /// that Sentinels watch (`redis+sentinel://HOST:26379,HOST:26379/MASTER[/DB]`).
    ///
    /// # Errors
    ///
    /// An invalid URL or a short secret. Redis itself is not contacted.
    pub fn new(url: &str, secret: &[u8], on_error: OnStoreError) -> Result<Self, StoreConfigError> {
        let location: StoreLocation = url.parse().map_err(StoreConfigError::Location)?;
        let keys = KeyScheme::new(secret).ok_or_else(|| StoreConfigError::Secret {
            path: PathBuf::new(),
            why: format!("{} bytes; use at least {MIN_SECRET}", secret.len()),
        })?;
        let target = Target::parse(url, TIMEOUT).map_err(StoreConfigError::Location)?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                kept: Kept::new(target),
                location,
                connecting: tokio::sync::Mutex::new(()),
                keys,
                on_error,
                rest_until: AtomicU64::new(0),
                base: Instant::now(),
                down: AtomicBool::new(false),
                errors: AtomicU64::new(0),
                gcra: Script::new(GCRA),
                record: Script::new(RECORD),
                locked: Script::new(LOCKED),
            }),
        })
    }

    /// A store at `url` with the secret read from `secret_file` (its bytes, a trailing
    /// newline dropped).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), or the file cannot be read.
    pub fn with_secret_file(
        url: &str,
        secret_file: &Path,
        on_error: OnStoreError,
    ) -> Result<Self, StoreConfigError> {
        let secret = std::fs::read(secret_file).map_err(|e| StoreConfigError::Secret {
            path: secret_file.to_owned(),
            why: format!("cannot be read ({e})"),
        })?;
        let secret = secret.strip_suffix(b"\n").unwrap_or(&secret);
        Self::new(url, secret, on_error).map_err(|e| match e {
            StoreConfigError::Secret { why, .. } => StoreConfigError::Secret {
                path: secret_file.to_owned(),
                why,
            },
            other => other,
        })
    }

    /// This store's identity: equal for clones, different for another store.
    #[cfg_attr(not(feature = "config"), allow(dead_code))]
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// What limits do while Redis cannot answer.
    pub fn on_error(&self) -> OnStoreError {
        self.inner.on_error
    }

    /// How many checks Redis could not answer since the store was made (failed, timed out,
    /// or not tried while resting after an error), for metrics.
    pub fn errors(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }

    /// The key of `subject` (a user, a client address, both or neither) under `scope`, as
    /// this store's [`KeyScheme`] makes it: the same key the memory store would count under
    /// with the same secret.
    ///
    /// ```
    /// use tollgate::store::{KeyScheme, OnStoreError, RedisStore};
    /// let store = RedisStore::new("redis://127.0.0.1/", &[7; 32], OnStoreError::Local).unwrap();
    /// let ip = Some("192.0.2.1".parse().unwrap());
    /// let key = store.key("lockout 5/60s", Some("alice"), ip);
    /// let memory = KeyScheme::new(&[7; 32]).unwrap();
    /// assert_eq!(key, memory.key("lockout 5/60s", Some("alice"), ip));
    /// let text = key.to_string();
    /// assert!(text.starts_with("tollgate:{") && !text.contains("alice"));
    /// ```
    pub fn key(&self, scope: &str, user: Option<&str>, client: Option<IpAddr>) -> StoreKey {
        self.inner.keys.key(scope, user, client)
    }

    /// The scheme this store's keys are made with (its secret's).
    pub fn keys(&self) -> &KeyScheme {
        &self.inner.keys
    }

    /// The connection, unless Redis is resting after an error: the one made, or a new one.
    async fn conn(&self) -> Result<Connection, StoreUnavailable> {
        let inner = &*self.inner;
        self.resting()?;
        if let Some(conn) = inner.kept.current() {
            return Ok(conn);
        }
        let _one = inner.connecting.lock().await;
        // Whoever held the lock may have connected, or failed: then rest, do not try again.
        self.resting()?;
        if let Some(conn) = inner.kept.current() {
            return Ok(conn);
        }
        inner.kept.make(TIMEOUT).await.map_err(|e| self.failed(e))
    }

    /// An error while Redis rests after one (counted: the check it stops is not made).
    fn resting(&self) -> Result<(), StoreUnavailable> {
        let inner = &*self.inner;
        let now = inner.base.elapsed().as_millis() as u64;
        if now < inner.rest_until.load(Ordering::Relaxed) {
            inner.errors.fetch_add(1, Ordering::Relaxed);
            return Err(StoreUnavailable("resting after an error".into()));
        }
        Ok(())
    }

    /// Counts an error, rests Redis for a moment, logs the first error of an outage.
    fn failed(&self, err: impl fmt::Display) -> StoreUnavailable {
        let inner = &*self.inner;
        inner.errors.fetch_add(1, Ordering::Relaxed);
        inner.kept.failed();
        let until = inner.base.elapsed() + RETRY_AFTER_ERROR;
        inner
            .rest_until
            .store(until.as_millis() as u64, Ordering::Relaxed);
        if !inner.down.swap(true, Ordering::Relaxed) {
            tracing::error!(
                store = %inner.location,
                error = %err,
                on_store_error = ?inner.on_error,
                "limits store unreachable; limits follow on_store_error until it is back"
            );
        }
        StoreUnavailable(err.to_string())
    }

    fn succeeded(&self) {
        if self.inner.down.swap(false, Ordering::Relaxed) {
            tracing::warn!(store = %self.inner.location, "limits store reachable again");
        }
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[String],
        args: &[u64],
    ) -> Result<T, StoreUnavailable> {
        let mut conn = self.conn().await?;
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(key.as_str());
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let answer = tokio::time::timeout(TIMEOUT, invocation.invoke_async(&mut conn)).await;
        match answer {
            Ok(Ok(value)) => {
                self.succeeded();
                Ok(value)
            }
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(self.failed("no answer within 500 ms")),
        }
    }

    /// Counts one request under `key` at `rate`: `Ok(Ok(()))` to pass, `Ok(Err(seconds to
    /// wait))` over the limit.
    ///
    /// # Errors
    ///
    /// Redis could not answer.
    pub async fn check_rate(
        &self,
        key: &StoreKey,
        rate: Rate,
    ) -> Result<Result<(), u64>, StoreUnavailable> {
        let period = (rate.window().as_micros() / u128::from(rate.count().max(1))).max(1);
        let period = u64::try_from(period).unwrap_or(u64::MAX);
        let wait: u64 = self
            .run(
                &self.inner.gcra,
                &[key.to_string()],
                &[period, u64::from(rate.count())],
            )
            .await?;
        Ok(match wait {
            0 => Ok(()),
            us => Err(us.div_ceil(1_000_000)),
        })
    }

    /// The seconds left on the longest lock of `keys` (made by [`record_failure`]), `None`
    /// when none is locked.
    ///
    /// # Errors
    ///
    /// Redis could not answer.
    ///
    /// [`record_failure`]: Self::record_failure
    /// All of `keys` must share one hash slot (one client's keys do) for a cluster to run the
    /// check in one script.
    pub async fn locked(&self, keys: &[StoreKey]) -> Result<Option<u64>, StoreUnavailable> {
        let locks: Vec<String> = keys.iter().map(|k| format!("{k}:lock")).collect();
        let ms: i64 = self.run(&self.inner.locked, &locks, &[]).await?;
        Ok((ms > 0).then(|| (ms as u64).div_ceil(1000)))
    }

    /// Counts one failure under `key`: at the `max`-th within `window` the key is locked for
    /// `window`, each further lock twice as long (up to a day) until the key was quiet as long
    /// as its next lock would last. Returns the new lock, if this failure started one.
    ///
    /// # Errors
    ///
    /// Redis could not answer.
    pub async fn record_failure(
        &self,
        key: &StoreKey,
        max: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StoreUnavailable> {
        let keys = parts(key);
        let window = u64::try_from(window.as_millis())
            .unwrap_or(MAX_LOCK_MS)
            .max(1);
        let lock: u64 = self
            .run(
                &self.inner.record,
                &keys,
                &[u64::from(max.max(1)), window, MAX_LOCK_MS],
            )
            .await?;
        Ok((lock > 0).then(|| Duration::from_millis(lock)))
    }

    /// Forgets the failures, strikes and lock of `key` (its user logged in from there).
    ///
    /// # Errors
    ///
    /// Redis could not answer.
    pub async fn forget(&self, key: &StoreKey) -> Result<(), StoreUnavailable> {
        let mut conn = self.conn().await?;
        let keys = parts(key);
        let answer = tokio::time::timeout(
            TIMEOUT,
            redis::cmd("DEL").arg(&keys).query_async::<i64>(&mut conn),
        )
        .await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(self.failed("no answer within 500 ms")),
        }
    }
}

/// The Redis keys of a failure count: `KEY:count`, `KEY:strikes`, `KEY:lock` (one hash slot).
fn parts(key: &StoreKey) -> [String; 3] {
    ["count", "strikes", "lock"].map(|part| format!("{key}:{part}"))
}
