//! Making room at `max_connections`, as nginx does (`ngx_drain_connections`): when every slot
//! is taken and a new client arrives, the connection idle longest (no request in flight, no
//! byte of a request owed for at least [`EVICT_AFTER`]: a kept-alive one between requests, or
//! one that never sent a request) is told to close, and the new client takes its slot. A
//! connection with a request in flight is never cut; an upgraded one (a tunnel) is not in the
//! table any more.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::conn::ConnState;

/// How long a connection must have been idle before it may be closed to make room: a client
/// sends its first request head within milliseconds of connecting, so a younger connection
/// may have one on the way.
pub(crate) const EVICT_AFTER: Duration = Duration::from_secs(1);

/// How often a client waiting for a slot asks again for an idle connection to close, while
/// none has freed one (the one told may have become busy, or none was idle long enough).
const EVICT_RETRY: Duration = Duration::from_millis(100);

const NEVER_CLOSED: &str = "the connection semaphore is never closed";

/// The open connections of one server, to find the one idle longest.
#[derive(Default)]
pub(super) struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Weak<ConnState>>>,
}

/// A connection's place in [`Connections`], given up when dropped.
pub(super) struct Listed<'a> {
    connections: &'a Connections,
    id: u64,
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<ConnState>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists `state` until the returned guard drops (when its connection's task ends).
    pub(super) fn list(&self, state: &Arc<ConnState>) -> Listed<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::downgrade(state));
        Listed {
            connections: self,
            id,
        }
    }

    /// Tells the connection idle longest, for at least [`EVICT_AFTER`], to close; `false` when
    /// none is.
    pub(super) fn evict_oldest(&self) -> bool {
        let latest = Instant::now().checked_sub(EVICT_AFTER);
        let oldest = self
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .filter(|state| {
                !state.upgraded.load(Ordering::Acquire) && !state.evicting.load(Ordering::Acquire)
            })
            .filter_map(|state| Some((state.idle_since()?, state)))
            .filter(|(since, _)| latest.is_some_and(|latest| *since <= latest))
            .min_by_key(|(since, _)| *since);
        match oldest {
            Some((_, state)) => {
                state.evicting.store(true, Ordering::Release);
                state.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The next client and a slot for it. While slots are free: a slot, then a client. At the
/// cap: a slot or a client, whichever comes first; a client that comes first has the
/// connection idle longest closed for it ([`Connections::evict_oldest`]), and waits for the
/// slot it frees (or any other).
pub(super) async fn next_client(
    permits: &Arc<Semaphore>,
    listener: &TcpListener,
    connections: &Connections,
) -> (
    OwnedSemaphorePermit,
    std::io::Result<(TcpStream, SocketAddr)>,
) {
    if let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
        return (permit, listener.accept().await);
    }
    let accepted = tokio::select! {
        permit = Arc::clone(permits).acquire_owned() => {
            return (permit.expect(NEVER_CLOSED), listener.accept().await);
        }
        accepted = listener.accept() => accepted,
    };
    if accepted.is_err() {
        // Out of descriptors, say: nothing to make room for.
        let permit = Arc::clone(permits).acquire_owned().await;
        return (permit.expect(NEVER_CLOSED), accepted);
    }
    loop {
        if connections.evict_oldest() {
            tracing::debug!(
                "at max_connections: closing the connection idle longest for a new client"
            );
        }
        let permit = Arc::clone(permits).acquire_owned();
        if let Ok(permit) = tokio::time::timeout(EVICT_RETRY, permit).await {
            return (permit.expect(NEVER_CLOSED), accepted);
        }
    }
}
