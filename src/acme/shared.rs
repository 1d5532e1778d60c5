//! ACME state shared by replicas through Redis (`store = "redis://..."`, feature
//! `redis-store`): the account, each certificate and its key, a lock per name so that one
//! replica orders while the others wait for its result, and the HTTP-01 answers of the orders
//! in flight, so that whichever replica the CA reaches answers.
//!
//! Each replica still serves from its own state directory: what it finds in Redis it writes
//! there (owner-only, atomically, only when it differs), so the listener keeps reading files
//! and swaps a certificate a peer renewed as it swaps its own.
//!
//! Keys: `tollgate:acme:{D}:account-….json`, `tollgate:acme:{D}:NAME/cert.pem`, `…/key.pem`
//! (the state directory's layout) and `tollgate:acme:{D}:NAME/lock`, D the first 16 hex
//! digits of the SHA-256 of the directory URL (one hash slot per directory in a Redis
//! Cluster); `tollgate:acme:challenge:TOKEN` for the HTTP-01 answers (10 minutes).

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::issue::{account_key, ensure, stored_state, Stored};
use super::{AcmeConfig, AcmeError, CertStore, Challenges, DirStore, Issued};
use crate::store::connect::{Kept, Target};
use crate::store::StoreLocation;

/// How long one Redis call (or connection) may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// How long the order lock holds unless released: longer than an order takes (instant-acme
/// gives validation and the download 90 s each).
const LOCK_TTL: Duration = Duration::from_secs(600);
/// How often a replica waiting for a peer's order looks for its result.
const POLL: Duration = Duration::from_secs(2);
/// How long an HTTP-01 answer stays in Redis (the order deletes it when done).
const CHALLENGE_TTL: Duration = Duration::from_secs(600);

/// Deletes the lock only if it still holds the token of the replica releasing it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The Redis store of the replicas of one ACME directory; clones share the connection.
#[derive(Clone)]
pub(crate) struct SharedStore {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    kept: Kept,
    location: StoreLocation,
    prefix: String,
}

impl fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedStore")
            .field("location", &self.inner.location.to_string())
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

fn failed(what: &str, location: &StoreLocation, e: impl fmt::Display) -> AcmeError {
    AcmeError::new(format!(
        "the ACME store {location} cannot be used ({what}: {e}); check that Redis is up and \
         reachable from every replica"
    ))
}

impl SharedStore {
    /// The store of `config` (`store = "redis://..."`), `None` when it has none (or
    /// `"memory"`). Redis is not contacted yet.
    pub(crate) fn of(config: &AcmeConfig) -> Result<Option<SharedStore>, AcmeError> {
        let Some(url) = &config.store else {
            return Ok(None);
        };
        let location: StoreLocation = url
            .parse()
            .map_err(|e| AcmeError::new(format!("ACME {e}")))?;
        if location == StoreLocation::Memory {
            return Ok(None);
        }
        let target = Target::parse(url, TIMEOUT).map_err(|e| AcmeError::new(format!("{e}")))?;
        let digest = Sha256::digest(config.directory.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Some(SharedStore {
            inner: std::sync::Arc::new(Inner {
                kept: Kept::new(target),
                location,
                prefix: format!("tollgate:acme:{{{hex}}}:"),
            }),
        }))
    }

    /// Runs `cmd`, connecting first when needed (a cluster's or sentinel's connection is made
    /// again after an error).
    async fn query<T: redis::FromRedisValue>(
        &self,
        what: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, AcmeError> {
        let inner = &*self.inner;
        let mut conn = match inner.kept.current() {
            Some(conn) => conn,
            None => inner
                .kept
                .make(TIMEOUT)
                .await
                .map_err(|e| failed(what, &inner.location, e))?,
        };
        let answer = tokio::time::timeout(TIMEOUT, cmd.query_async::<T>(&mut conn)).await;
        let error = match answer {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => failed(what, &inner.location, e),
            Err(_) => failed(what, &inner.location, "no answer within 3 s"),
        };
        inner.kept.failed();
        Err(error)
    }

    /// Copies `keys` from Redis into `local` where they differ.
    async fn pull(&self, local: &DirStore, keys: &[String]) -> Result<(), AcmeError> {
        let full: Vec<String> = keys
            .iter()
            .map(|k| format!("{}{k}", self.inner.prefix))
            .collect();
        let values: Vec<Option<Vec<u8>>> =
            self.query("read", redis::cmd("MGET").arg(&full)).await?;
        for (key, value) in keys.iter().zip(values) {
            if let Some(value) = value {
                if local.load(key)?.as_deref() != Some(value.as_slice()) {
                    local.store(key, &value)?;
                }
            }
        }
        Ok(())
    }

    /// Copies `keys` from `local` into Redis, all at once (`MSET`).
    async fn push(&self, local: &DirStore, keys: &[String]) -> Result<(), AcmeError> {
        let mut cmd = redis::cmd("MSET");
        for key in keys {
            if let Some(value) = local.load(key)? {
                cmd.arg(format!("{}{key}", self.inner.prefix)).arg(value);
            }
        }
        self.query::<()>("write", &cmd).await
    }

    /// The order lock of `name` (`SET NX PX`): its token when taken, `None` when a peer
    /// holds it.
    async fn lock(&self, name: &str) -> Result<Option<String>, AcmeError> {
        let token = format!("{:032x}", rand::random::<u128>());
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}{name}/lock", self.inner.prefix))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL.as_millis() as u64);
        let taken: Option<String> = self.query("lock", &cmd).await?;
        Ok(taken.map(|_| token))
    }

    /// Releases the lock of `name` if `token` still holds it.
    async fn unlock(&self, name: &str, token: &str) {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(UNLOCK)
            .arg(1)
            .arg(format!("{}{name}/lock", self.inner.prefix))
            .arg(token);
        if let Err(e) = self.query::<i64>("unlock", &cmd).await {
            tracing::warn!(domain = %name, error = %e, "the ACME order lock was not released; it expires by itself");
        }
    }

    /// Publishes (or, `None`, withdraws) the HTTP-01 answer of `token` for every replica.
    pub(super) async fn publish(&self, token: &str, answer: Option<&str>) -> Result<(), AcmeError> {
        let key = format!("tollgate:acme:challenge:{token}");
        let cmd = match answer {
            Some(answer) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key)
                    .arg(answer)
                    .arg("PX")
                    .arg(CHALLENGE_TTL.as_millis() as u64);
                cmd
            }
            None => redis::cmd("DEL").arg(key).clone(),
        };
        self.query::<redis::Value>("challenge", &cmd)
            .await
            .map(drop)
    }

    /// The HTTP-01 answer of `token` a replica published; `None` when there is none, or Redis
    /// cannot answer (logged).
    pub(super) async fn answer(&self, token: &str) -> Option<String> {
        let cmd = redis::cmd("GET")
            .arg(format!("tollgate:acme:challenge:{token}"))
            .clone();
        self.query::<Option<String>>("challenge", &cmd)
            .await
            .map_err(|e| tracing::warn!(error = %e, "an HTTP-01 answer could not be looked up"))
            .ok()
            .flatten()
    }

    /// [`ensure`] across replicas: the certificate a peer stored when it is current, else
    /// the one this replica orders holding the lock of the first name (and stores for the
    /// others); while a peer holds the lock, its result is waited for.
    ///
    /// # Errors
    ///
    /// Redis or the state directory cannot be used, the order failed, or no replica finished
    /// one within twice the lock's life.
    pub(super) async fn ensure(
        &self,
        config: &AcmeConfig,
        local: &DirStore,
        challenges: &Challenges,
    ) -> Result<Issued, AcmeError> {
        let name = &config.domains[0];
        // The key first: a listener re-reading between the two writes sees the old pair.
        let keys = [
            account_key(config),
            format!("{name}/key.pem"),
            format!("{name}/cert.pem"),
        ];
        let deadline = Instant::now() + 2 * LOCK_TTL;
        let mut said = false;
        loop {
            let pulled = self.pull(local, &keys).await;
            let current = matches!(stored_state(config, local)?, Stored::Current(_));
            if let Err(e) = pulled {
                if !current {
                    return Err(e);
                }
                tracing::warn!(domain = %name, error = %e, "serving the certificate of the state directory meanwhile");
            }
            if current {
                return ensure(config, local, challenges).await;
            }
            if let Some(token) = self.lock(name).await? {
                let result = self
                    .order_holding_lock(config, local, challenges, &keys)
                    .await;
                self.unlock(name, &token).await;
                return result;
            }
            if Instant::now() > deadline {
                return Err(AcmeError::new(format!(
                    "another replica held the ACME order lock of {name} for {} s without \
                     storing a certificate; see its log",
                    (2 * LOCK_TTL).as_secs()
                )));
            }
            if !std::mem::replace(&mut said, true) {
                tracing::info!(domain = %name, "another replica is ordering the certificate; waiting for it");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn order_holding_lock(
        &self,
        config: &AcmeConfig,
        local: &DirStore,
        challenges: &Challenges,
        keys: &[String],
    ) -> Result<Issued, AcmeError> {
        // A peer may have stored one between the last look and the lock.
        self.pull(local, keys).await?;
        let issued = ensure(config, local, challenges).await?;
        if !issued.reused {
            self.push(local, keys).await?;
        }
        Ok(issued)
    }

    /// Between renewals: the certificate in Redis when a peer stored one that ends later than
    /// `not_after` (written to `local`, so the listener swaps it in).
    pub(super) async fn newer(
        &self,
        config: &AcmeConfig,
        local: &DirStore,
        not_after: SystemTime,
    ) -> Result<Option<Issued>, AcmeError> {
        let name = &config.domains[0];
        let keys = [format!("{name}/key.pem"), format!("{name}/cert.pem")];
        self.pull(local, &keys).await?;
        Ok(match stored_state(config, local)? {
            Stored::Current(issued) if issued.not_after > not_after => Some(issued),
            _ => None,
        })
    }
}
