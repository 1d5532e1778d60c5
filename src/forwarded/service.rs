//! [`Forwarded`], the service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::{client_info, ForwardedConfig};
use crate::ext::{ClientInfo, PeerAddr};

/// Inserts a [`ClientInfo`] into each request whose trusted proxies reported something, before
/// calling the inner service; see the [module docs](super). When nothing was reported, the
/// request carries no `ClientInfo` (readers treat that as an empty one). Never answers by itself.
#[derive(Debug, Clone)]
#[must_use]
pub struct Forwarded<S> {
    inner: S,
    config: Arc<ForwardedConfig>,
}

impl<S> Forwarded<S> {
    /// Wraps `inner` with this configuration.
    pub fn new(inner: S, config: ForwardedConfig) -> Self {
        Self::from_shared(inner, Arc::new(config))
    }

    pub(super) fn from_shared(inner: S, config: Arc<ForwardedConfig>) -> Self {
        Forwarded { inner, config }
    }

    define_inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for Forwarded<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        let info = client_info(req.headers(), peer, &self.config);
        if info == ClientInfo::default() {
            // Nothing reported (nothing trusted, or no forwarded headers): readers treat an
            // absent `ClientInfo` as this empty one, so nothing is inserted, and an outer
            // layer's verdict does not survive this one's.
            req.extensions_mut().remove::<ClientInfo>();
        } else {
            req.extensions_mut().insert(info);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::FutureExt;
    use tower::ServiceExt;

    use super::*;
    use crate::forwarded::ForwardedConfig;

    /// What the inner service sees: the `ClientInfo`, if any.
    fn seen(headers: &[(&str, &str)], outer: Option<ClientInfo>) -> Option<ClientInfo> {
        let svc = Forwarded::new(
            tower::service_fn(|req: Request<()>| async move {
                Ok::<_, Infallible>(req.extensions().get::<ClientInfo>().cloned())
            }),
            ForwardedConfig::default().trust(crate::forwarded::Trust::Hops(1)),
        );
        let mut req = Request::new(());
        for (k, v) in headers {
            req.headers_mut().append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("test names are valid"),
                v.parse().expect("test values are valid"),
            );
        }
        req.extensions_mut()
            .insert(PeerAddr("10.0.0.2:4000".parse().expect("an address")));
        if let Some(info) = outer {
            req.extensions_mut().insert(info);
        }
        let Ok(info) = svc.oneshot(req).now_or_never().expect("ready at once");
        info
    }

    #[test]
    fn client_info_only_when_something_was_reported() {
        let info = seen(&[("x-forwarded-for", "203.0.113.7")], None).expect("reported");
        assert_eq!(info.addr, Some("203.0.113.7".parse().expect("an address")));
        assert_eq!(seen(&[], None), None);
        // An outer layer's verdict does not survive an inner one that saw nothing.
        let outer = ClientInfo {
            scheme: Some("https".into()),
            ..ClientInfo::default()
        };
        assert_eq!(seen(&[], Some(outer)), None);
    }
}
