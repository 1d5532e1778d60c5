//! One certificate kept for the life of the process: obtained (or the stored one reused) at
//! start, renewed at its renewal time, and on failure the current one served while the renewal
//! is retried with back-off. `tollgate proxy --domain` and `tls = { acme = ... }` both run it.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{ensure, AcmeConfig, AcmeError, Challenges, DirStore, Issued};

/// The shortest wait between two attempts, however short the certificate's life.
const MIN_WAIT: Duration = Duration::from_secs(10);
/// The first wait after a failure; it doubles after each one.
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How often a replica sharing a store looks for a certificate a peer renewed.
const SYNC: Duration = Duration::from_secs(600);

/// A certificate for `config` (the stored one when it is not due, else a new order whose
/// HTTP-01 answers go to `challenges`), and a task renewing it for the life of the process:
/// the listener serving [`Issued::cert_path`] swaps each renewal in when the files change.
///
/// # Errors
///
/// Invalid settings (every problem, joined), an unwritable state directory, or the CA's
/// refusal, each saying what to fix.
pub async fn manage(
    config: &AcmeConfig,
    challenges: &Challenges,
    status: &AcmeStatus,
) -> Result<Issued, AcmeError> {
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(AcmeError::new(problems.join("; ")));
    }
    let store = DirStore::open(&config.state_dir)?;
    let replicas = Replicas::of(config, challenges)?;
    // Boxed: the gateway's start future nests deep already.
    let issued = Box::pin(replicas.ensure(config, &store, challenges)).await?;
    status.serving(&config.domains[0], issued.not_after);
    tracing::info!(
        cert = %issued.cert_path.display(),
        reused = issued.reused,
        days_to_expiry = days(issued.not_after),
        renew_in_days = days(issued.renew_at),
        "ACME certificate ready"
    );
    tokio::spawn(keep_renewed(
        config.clone(),
        (store, replicas),
        (challenges.clone(), status.clone()),
        (issued.not_after, issued.renew_at),
    ));
    Ok(issued)
}

/// For the life of the process: at `renew_at`, a new certificate; after a failure, the current
/// one is kept and the renewal retried after a wait that doubles from a minute to six hours.
/// Sharing a store, it also looks there every [`SYNC`] for a certificate a peer renewed.
async fn keep_renewed(
    config: AcmeConfig,
    (store, replicas): (DirStore, Replicas),
    (challenges, status): (Challenges, AcmeStatus),
    (mut not_after, mut renew_at): (SystemTime, SystemTime),
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut wait = renew_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .max(MIN_WAIT);
        if replicas.shared() {
            wait = wait.min(SYNC);
        }
        tokio::time::sleep(wait).await;
        if SystemTime::now() < renew_at {
            if let Ok(Some(issued)) = replicas.newer(&config, &store, not_after).await {
                status.serving(&config.domains[0], issued.not_after);
                tracing::info!(domain = %config.domains[0], "loaded the certificate a replica renewed");
                (not_after, renew_at) = (issued.not_after, issued.renew_at);
            }
            continue;
        }
        match replicas.ensure(&config, &store, &challenges).await {
            Ok(issued) => {
                status.serving(&config.domains[0], issued.not_after);
                tracing::info!(
                    domain = %config.domains[0],
                    days_to_expiry = days(issued.not_after),
                    "ACME certificate renewed"
                );
                (not_after, renew_at) = (issued.not_after, issued.renew_at);
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                status.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    domain = %config.domains[0],
                    error = %e,
                    cause = %e.source().map(ToString::to_string).unwrap_or_default(),
                    retry_in_secs = backoff.as_secs(),
                    "ACME renewal failed; the current certificate is served until it expires"
                );
                renew_at = SystemTime::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// This process alone, or replicas sharing a store (`store = "redis://..."`).
#[derive(Debug, Clone)]
struct Replicas {
    #[cfg(feature = "redis-store")]
    shared: Option<super::shared::SharedStore>,
}

impl Replicas {
    /// The store of `config`, through which `challenges` are shared too.
    fn of(config: &AcmeConfig, challenges: &Challenges) -> Result<Self, AcmeError> {
        #[cfg(feature = "redis-store")]
        {
            let shared = super::shared::SharedStore::of(config)?;
            if let Some(shared) = &shared {
                challenges.share_through(shared);
            }
            Ok(Replicas { shared })
        }
        #[cfg(not(feature = "redis-store"))]
        {
            let _ = challenges;
            match config.problems().into_iter().next() {
                Some(problem) => Err(AcmeError::new(problem)),
                None => Ok(Replicas {}),
            }
        }
    }

    fn shared(&self) -> bool {
        #[cfg(feature = "redis-store")]
        return self.shared.is_some();
        #[cfg(not(feature = "redis-store"))]
        false
    }

    /// [`ensure`], across replicas when they share a store.
    async fn ensure(
        &self,
        config: &AcmeConfig,
        local: &DirStore,
        challenges: &Challenges,
    ) -> Result<Issued, AcmeError> {
        #[cfg(feature = "redis-store")]
        if let Some(shared) = &self.shared {
            return shared.ensure(config, local, challenges).await;
        }
        ensure(config, local, challenges).await
    }

    /// A certificate a peer stored that ends after `not_after`.
    async fn newer(
        &self,
        config: &AcmeConfig,
        local: &DirStore,
        not_after: SystemTime,
    ) -> Result<Option<Issued>, AcmeError> {
        #[cfg(feature = "redis-store")]
        if let Some(shared) = &self.shared {
            return shared.newer(config, local, not_after).await;
        }
        let _ = (config, local, not_after);
        Ok(None)
    }
}

/// Whole days from now until `t` (0 when past).
fn days(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs() / 86_400)
}

/// What [`manage`] reports of its certificates, for the metrics: the end of validity of each
/// (by its first name) and the renewals that failed. Clones share one status.
#[derive(Debug, Clone, Default)]
pub struct AcmeStatus {
    expiry: Arc<Mutex<BTreeMap<String, SystemTime>>>,
    failures: Arc<AtomicU64>,
}

impl AcmeStatus {
    fn serving(&self, name: &str, not_after: SystemTime) {
        if let Ok(mut expiry) = self.expiry.lock() {
            expiry.insert(name.to_owned(), not_after);
        }
    }

    /// The renewals that failed since the start.
    pub fn renewal_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// `tollgate_certificate_expiry_seconds{name}` (seconds until each certificate served
    /// expires, negative once it has) and `tollgate_acme_renewal_failures_total`, in the
    /// Prometheus text format.
    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP tollgate_certificate_expiry_seconds Seconds until the certificate served \
             for a name expires.\n# TYPE tollgate_certificate_expiry_seconds gauge\n",
        );
        let now = SystemTime::now();
        for (name, not_after) in self.expiry.lock().iter().flat_map(|e| e.iter()) {
            let left = match not_after.duration_since(now) {
                Ok(left) => i128::from(left.as_secs()),
                Err(past) => -i128::from(past.duration().as_secs()),
            };
            // Names are DNS names (`AcmeConfig::problems`): nothing to escape.
            let _ = writeln!(
                out,
                "tollgate_certificate_expiry_seconds{{name=\"{name}\"}} {left}"
            );
        }
        let _ = write!(
            out,
            "# HELP tollgate_acme_renewal_failures_total ACME renewals that failed (each retried \
             with back-off while the current certificate is served).\n\
             # TYPE tollgate_acme_renewal_failures_total counter\n\
             tollgate_acme_renewal_failures_total {}\n",
            self.renewal_failures()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_renders_seconds_to_expiry_and_failures() {
        let status = AcmeStatus::default();
        let day = Duration::from_secs(86_400);
        status.serving(
            "a.example",
            SystemTime::now() + 30 * day + Duration::from_secs(30),
        );
        status.serving("gone.example", SystemTime::now() - day);
        status.clone().failures.fetch_add(2, Ordering::Relaxed);
        let mut out = String::new();
        status.render(&mut out);
        assert!(
            out.contains("tollgate_certificate_expiry_seconds{name=\"a.example\"} 25920"),
            "{out}"
        );
        assert!(
            out.contains("tollgate_certificate_expiry_seconds{name=\"gone.example\"} -86"),
            "{out}"
        );
        assert!(
            out.contains("tollgate_acme_renewal_failures_total 2\n"),
            "{out}"
        );
        assert!(
            out.contains("# TYPE tollgate_certificate_expiry_seconds gauge\n"),
            "{out}"
        );
    }
}
