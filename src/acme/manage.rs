//! One certificate kept for the life of the process: obtained (or the stored one reused) at
//! start, renewed at its renewal time, and on failure the current one served while the renewal
//! is retried with back-off. `tollgate proxy --domain` and `tls = { acme = ... }` both run it.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use super::{ensure, AcmeConfig, AcmeError, Challenges, DirStore, Issued};

/// The shortest wait between two attempts, however short the certificate's life.
const MIN_WAIT: Duration = Duration::from_secs(10);
/// The first wait after a failure; it doubles after each one.
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// A certificate for `config` (the stored one when it is not due, else a new order whose
/// HTTP-01 answers go to `challenges`), and a task renewing it for the life of the process:
/// the listener serving [`Issued::cert_path`] swaps each renewal in when the files change.
///
/// # Errors
///
/// Invalid settings (every problem, joined), an unwritable state directory, or the CA's
/// refusal, each saying what to fix.
pub async fn manage(config: &AcmeConfig, challenges: &Challenges) -> Result<Issued, AcmeError> {
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(AcmeError::new(problems.join("; ")));
    }
    let store = DirStore::open(&config.state_dir)?;
    let issued = ensure(config, &store, challenges).await?;
    tracing::info!(
        cert = %issued.cert_path.display(),
        reused = issued.reused,
        days_to_expiry = days(issued.not_after),
        renew_in_days = days(issued.renew_at),
        "ACME certificate ready"
    );
    tokio::spawn(keep_renewed(
        config.clone(),
        store,
        challenges.clone(),
        issued.renew_at,
    ));
    Ok(issued)
}

/// For the life of the process: at `renew_at`, a new certificate; after a failure, the current
/// one is kept and the renewal retried after a wait that doubles from a minute to six hours.
async fn keep_renewed(
    config: AcmeConfig,
    store: DirStore,
    challenges: Challenges,
    mut renew_at: SystemTime,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let wait = renew_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .max(MIN_WAIT);
        tokio::time::sleep(wait).await;
        match ensure(&config, &store, &challenges).await {
            Ok(issued) => {
                tracing::info!(
                    domain = %config.domains[0],
                    days_to_expiry = days(issued.not_after),
                    "ACME certificate renewed"
                );
                renew_at = issued.renew_at;
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
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

/// Whole days from now until `t` (0 when past).
fn days(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs() / 86_400)
}
