//! Accept errors are the listener's weather, not the server's end: a client that reset before
//! `accept` is skipped; running out of file descriptors (`EMFILE`, `ENFILE`) or memory waits a
//! little before retrying, and is logged once per [`LOG_INTERVAL`] with the number of failures
//! since, not once per failed accept (which, at 10 retries a second per worker, would flood
//! the log while the condition lasts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The least time between two log lines about failing accepts, all listeners together.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long a listener waits after a failed accept before trying again.
const RETRY: Duration = Duration::from_millis(100);

/// Failed accepts not logged yet.
static UNLOGGED: AtomicU64 = AtomicU64::new(0);
/// When the last line was logged, in milliseconds since [`epoch`], plus one (`0`: never).
static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Handles a failed `accept`: skipped when the client went away, else logged (at most once per
/// [`LOG_INTERVAL`]) and waited on.
pub(super) async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted => {
            tracing::debug!(error = %e, "accept failed");
        }
        _ => {
            let failures = UNLOGGED.fetch_add(1, Ordering::AcqRel) + 1;
            if due(&LAST_LOGGED, epoch().elapsed()) {
                UNLOGGED.fetch_sub(failures, Ordering::AcqRel);
                tracing::error!(
                    error = %e,
                    failures,
                    "accept failed {failures} time(s) since the last report; retrying every \
                     100 ms (raise the open-files limit, `ulimit -n`, or lower max_connections)"
                );
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Whether a line is due at `now` (time since the epoch), claiming it when so.
fn due(last: &AtomicU64, now: Duration) -> bool {
    let now_ms = u64::try_from(now.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let previous = last.load(Ordering::Acquire);
    let interval = u64::try_from(LOG_INTERVAL.as_millis()).unwrap_or(u64::MAX);
    let is_due = previous == 0 || now_ms.saturating_sub(previous) >= interval;
    is_due
        && last
            .compare_exchange(previous, now_ms, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval() {
        let last = AtomicU64::new(0);
        assert!(due(&last, Duration::from_millis(5)));
        assert!(!due(&last, Duration::from_millis(105)));
        assert!(!due(&last, LOG_INTERVAL));
        assert!(due(&last, LOG_INTERVAL + Duration::from_millis(10)));
    }
}
