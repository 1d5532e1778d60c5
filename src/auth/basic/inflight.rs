//! Verifications in progress, by the (user, password) tag of the verification cache: a request
//! whose credentials are being verified for another request waits for that outcome instead of
//! queueing a hash of its own.
//!
//! Without it, a cached user's entry expiring while 64 keep-alive connections use it queued 64
//! bcrypt runs behind each other on the low-priority hashing threads: seconds in which all 64
//! connections stalled (a 30-minute soak saw 278 requests time out at wrk's 2 s,
//! in bursts five minutes apart, the cache's TTL). Now one hash runs and the others follow it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::cache::Tag;

/// The verifications running now, one per tag, each with the stored hash it runs against.
pub(crate) struct InFlight<T> {
    running: Mutex<Listing<T>>,
}

struct Listing<T> {
    by_tag: HashMap<Tag, Running<T>>,
    /// Numbers the leaders, so that one unlists only itself.
    serial: u64,
}

struct Running<T> {
    stored: Option<Arc<str>>,
    leader: u64,
    outcome: watch::Receiver<Option<T>>,
}

/// What [`InFlight::join`] gave: run the verification, or wait for the one running.
pub(crate) enum Place<T> {
    /// Nobody verifies these credentials against this hash: run it, then [`Leader::finish`].
    Lead(Leader<T>),
    /// Someone does: its outcome arrives here (the sender dropped without one: it went away).
    Follow(watch::Receiver<Option<T>>),
}

/// The one verification of a tag; dropped without [`finish`](Leader::finish) (its request
/// went away), its followers see the channel close and one of them leads the next.
pub(crate) struct Leader<T> {
    /// Where it is listed, and as which leader; `None` when it runs apart.
    listed: Option<(Arc<InFlight<T>>, Tag, u64)>,
    outcome: watch::Sender<Option<T>>,
}

impl<T: Clone> InFlight<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(InFlight {
            running: Mutex::new(Listing {
                by_tag: HashMap::new(),
                serial: 0,
            }),
        })
    }

    fn listing(&self) -> std::sync::MutexGuard<'_, Listing<T>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether these credentials are being verified against `stored` now (then a request with
    /// them costs no place in the verification queue).
    pub(crate) fn is_running(&self, tag: &Tag, stored: Option<&Arc<str>>) -> bool {
        let listing = self.listing();
        listing
            .by_tag
            .get(tag)
            .is_some_and(|r| same(r.stored.as_ref(), stored) && r.outcome.has_changed().is_ok())
    }

    /// Joins the verification of `tag` against `stored`, or starts it. A verification of the
    /// same tag against another hash (the file changed meanwhile) is not followed: this one
    /// then runs apart, unlisted.
    pub(crate) fn join(self: &Arc<Self>, tag: Tag, stored: Option<&Arc<str>>) -> Place<T> {
        let mut listing = self.listing();
        // A receiver whose sender is gone is a leader that went away and has not unlisted
        // itself yet: it is replaced.
        if let Some(r) = listing.by_tag.get(&tag) {
            if r.outcome.has_changed().is_ok() {
                if same(r.stored.as_ref(), stored) {
                    return Place::Follow(r.outcome.clone());
                }
                let (outcome, _) = watch::channel(None);
                return Place::Lead(Leader {
                    listed: None,
                    outcome,
                });
            }
        }
        listing.serial += 1;
        let leader = listing.serial;
        let (outcome, receiver) = watch::channel(None);
        let running = Running {
            stored: stored.cloned(),
            leader,
            outcome: receiver,
        };
        listing.by_tag.insert(tag, running);
        Place::Lead(Leader {
            listed: Some((Arc::clone(self), tag, leader)),
            outcome,
        })
    }
}

impl<T> Leader<T> {
    /// Hands `outcome` to every follower and unlists the verification.
    pub(crate) fn finish(self, outcome: T) {
        // No follower is not an error: the value is simply not read.
        self.outcome.send_replace(Some(outcome));
    }
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        let Some((inflight, tag, leader)) = &self.listed else {
            return;
        };
        let mut listing = inflight.running.lock().unwrap_or_else(|e| e.into_inner());
        // Only this leader's listing: a later leader of the same tag may have replaced it.
        if listing.by_tag.get(tag).is_some_and(|r| r.leader == *leader) {
            listing.by_tag.remove(tag);
        }
    }
}

/// Waits for a followed verification's outcome: `None` when its leader went away first.
pub(crate) async fn outcome<T: Clone>(mut followed: watch::Receiver<Option<T>>) -> Option<T> {
    let seen = followed.wait_for(Option::is_some).await.ok()?;
    seen.clone()
}

fn same(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: u8) -> Tag {
        [n; 32]
    }

    #[tokio::test]
    async fn followers_get_the_leaders_outcome_and_the_tag_is_unlisted() {
        let inflight = InFlight::<u32>::new();
        let stored: Arc<str> = Arc::from("$2y$10$x");
        let Place::Lead(leader) = inflight.join(tag(1), Some(&stored)) else {
            panic!("the first joins as leader");
        };
        assert!(inflight.is_running(&tag(1), Some(&stored)));
        assert!(!inflight.is_running(&tag(2), Some(&stored)));
        let followers: Vec<_> = (0..3)
            .map(|_| match inflight.join(tag(1), Some(&stored)) {
                Place::Follow(rx) => tokio::spawn(outcome(rx)),
                Place::Lead(_) => panic!("a second leader for the same credentials"),
            })
            .collect();
        leader.finish(7);
        for f in followers {
            assert_eq!(f.await.unwrap(), Some(7));
        }
        assert!(!inflight.is_running(&tag(1), Some(&stored)));
        assert!(matches!(
            inflight.join(tag(1), Some(&stored)),
            Place::Lead(_)
        ));
    }

    #[tokio::test]
    async fn a_leader_that_goes_away_hands_the_lead_on() {
        let inflight = InFlight::<u32>::new();
        let Place::Lead(leader) = inflight.join(tag(1), None) else {
            panic!("the first joins as leader");
        };
        let Place::Follow(rx) = inflight.join(tag(1), None) else {
            panic!("the second follows");
        };
        drop(leader);
        assert_eq!(outcome(rx).await, None);
        let Place::Lead(next) = inflight.join(tag(1), None) else {
            panic!("after the leader went away, the next one leads");
        };
        // The first leader's drop must not unlist its successor.
        assert!(inflight.is_running(&tag(1), None));
        drop(next);
        assert!(!inflight.is_running(&tag(1), None));
    }

    #[tokio::test]
    async fn another_stored_hash_is_verified_apart() {
        let inflight = InFlight::<u32>::new();
        let old: Arc<str> = Arc::from("$old");
        let new: Arc<str> = Arc::from("$new");
        let Place::Lead(first) = inflight.join(tag(1), Some(&old)) else {
            panic!("the first joins as leader");
        };
        let Place::Lead(apart) = inflight.join(tag(1), Some(&new)) else {
            panic!("credentials against a changed hash must not follow the old verification");
        };
        drop(apart);
        // The unlisted one's drop leaves the listed verification in place.
        assert!(inflight.is_running(&tag(1), Some(&old)));
        assert!(!inflight.is_running(&tag(1), Some(&new)));
        drop(first);
        assert!(!inflight.is_running(&tag(1), Some(&old)));
    }
}
