//! Whether a member of a group gets requests: passive health (failures in a row skip it for
//! a while) and active health (a probe every `interval`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use http::Request;
use tower::ServiceExt;

use super::{Group, HealthCheck};
use crate::body::Body;
use crate::ext::UpstreamFailure;

impl Group {
    /// Whether member `i` is neither skipped for failing nor out after a failed probe.
    pub(super) fn is_up(&self, i: usize, now_ms: u64) -> bool {
        let m = &self.members[i];
        m.probe_ok.load(Ordering::Relaxed) && m.skip_until.load(Ordering::Relaxed) <= now_ms
    }

    /// Passive health: counts an answer of member `i`.
    pub(super) fn observe(&self, i: usize, failed: bool) {
        let m = &self.members[i];
        if !failed {
            m.fails.store(0, Ordering::Relaxed);
            return;
        }
        let max = self.config.max_fails;
        if max == 0 {
            return;
        }
        let fails = m.fails.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if fails >= max {
            let cool = u64::try_from(self.config.fail_timeout.as_millis()).unwrap_or(u64::MAX);
            m.skip_until
                .store(self.now_ms().saturating_add(cool), Ordering::Relaxed);
            tracing::warn!(
                upstream = %m.name,
                fails,
                "upstream {} failed {fails} time(s) in a row; skipping it for {:?}",
                m.name,
                self.config.fail_timeout
            );
        }
    }

    /// Active health: probes every member once.
    async fn probe_all(&self, check: &HealthCheck) {
        for m in self.members.iter() {
            let req = Request::get(check.path.as_str()).body(Body::empty());
            let Ok(req) = req else { return };
            let ok = match tokio::time::timeout(check.timeout, m.proxy.clone().oneshot(req)).await {
                Ok(Ok(res)) => {
                    (res.status().is_success() || res.status().is_redirection())
                        && res.extensions().get::<UpstreamFailure>().is_none()
                }
                _ => false,
            };
            let was = m.probe_ok.swap(ok, Ordering::Relaxed);
            if was != ok {
                if ok {
                    tracing::info!(upstream = %m.name, "upstream {} passed its health check", m.name);
                } else {
                    tracing::warn!(upstream = %m.name, path = %check.path, "upstream {} failed its health check", m.name);
                }
            }
        }
    }

    /// Starts the probes once, on the first request, for as long as the group lives.
    pub(super) fn start_probes(self: &Arc<Self>) {
        let Some(check) = self.config.health_check.clone() else {
            return;
        };
        if self.probing.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Group> = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(check.interval.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(group) = weak.upgrade() else { break };
                group.probe_all(&check).await;
            }
        });
    }
}
