//! [`ForwardAuthLayer`] and the [`ForwardAuth`] service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName};
use http::request::Parts;
use http::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tower_layer::Layer;
use tower_service::Service;

use super::ask::{Asker, Verdict};
use super::cache::AdmissionCache;
use super::{ForwardAuthConfig, ForwardAuthError};
use crate::body::{Body, BoxError};
use crate::ext::AuthenticatedUser;

type Skip = dyn Fn(&Parts) -> bool + Send + Sync;

/// Asks an auth service about every request before passing it on; see the
/// [module docs](super).
///
/// Cloning shares the connections to the auth service.
#[must_use]
#[derive(Clone)]
pub struct ForwardAuthLayer {
    asker: Arc<Asker>,
    /// Admissions kept for a while (`cache`), when on.
    cache: Option<Arc<AdmissionCache>>,
    /// Names removed from the client's request in every spelling (lowercase, `-`).
    managed: Arc<[HeaderName]>,
    skip: Option<Arc<Skip>>,
}

impl std::fmt::Debug for ForwardAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuthLayer")
            .field("url", &self.asker.url)
            .field("timeout", &self.asker.timeout)
            .field("managed", &self.managed)
            .finish_non_exhaustive()
    }
}

fn header_names(key: &'static str, names: &[String]) -> Result<Vec<HeaderName>, ForwardAuthError> {
    names
        .iter()
        .map(|name| {
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                ForwardAuthError::InvalidHeaderName {
                    key,
                    name: name.clone(),
                }
            })
        })
        .collect()
}

fn http_url(url: &str) -> Result<Uri, ForwardAuthError> {
    let invalid = |reason| ForwardAuthError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| invalid("is not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => return Err(invalid("must start with http:// (https is not supported)")),
        None => return Err(invalid("has no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    Ok(uri)
}

impl ForwardAuthLayer {
    /// The layer `config` describes.
    ///
    /// # Errors
    ///
    /// A URL that is not absolute `http://`, a header name that is not valid, a zero timeout.
    pub fn new(config: &ForwardAuthConfig) -> Result<Self, ForwardAuthError> {
        let url = http_url(&config.url)?;
        if config.timeout.is_zero() {
            return Err(ForwardAuthError::ZeroTimeout);
        }
        let request_headers = header_names("request_headers", &config.request_headers)?;
        let copy_headers = header_names("copy_headers", &config.copy_headers)?;
        let user_header = header_names("user_header", config.user_header.as_slice())?.pop();
        let managed: Vec<HeaderName> = copy_headers
            .iter()
            .chain(&user_header)
            .map(|n| dashed(n.as_str()))
            .collect();
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(http);
        Ok(ForwardAuthLayer {
            asker: Arc::new(Asker {
                client,
                url,
                timeout: config.timeout,
                request_headers,
                copy_headers,
                user_header,
            }),
            cache: (!config.cache.is_zero()).then(|| Arc::new(AdmissionCache::new(config.cache))),
            managed: managed.into(),
            skip: None,
        })
    }

    /// Requests for which `skip` is true pass without asking (the client's copies of the
    /// copied headers are still removed): the gateway skips its routes with
    /// `forward_auth = false` this way.
    pub fn skip_when<F>(mut self, skip: F) -> Self
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        self.skip = Some(Arc::new(skip));
        self
    }

    /// Keeps admissions in `other`'s cache (when both cache): the layers of one gateway's
    /// workers share one cache this way, each with its own connections.
    pub fn share_cache(mut self, other: &ForwardAuthLayer) -> Self {
        if self.cache.is_some() {
            self.cache.clone_from(&other.cache);
        }
        self
    }

    /// The header names this layer sets on admitted requests (its `copy_headers` and
    /// `user_header`): the gateway's inbound policy removes what clients send of them too.
    pub fn managed_headers(&self) -> &[HeaderName] {
        &self.managed
    }

    /// Removes every spelling of the managed headers from `headers`.
    fn strip(&self, headers: &mut HeaderMap) {
        if self.managed.is_empty() {
            return;
        }
        let forged: Vec<HeaderName> = headers
            .keys()
            .filter(|name| {
                let name = name.as_str();
                if name.contains('_') {
                    let name = name.replace('_', "-");
                    self.managed.iter().any(|m| m.as_str() == name)
                } else {
                    self.managed.iter().any(|m| m.as_str() == name)
                }
            })
            .cloned()
            .collect();
        for name in forged {
            headers.remove(name);
        }
    }
}

/// `name` lowercase with `_` read as `-`.
fn dashed(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.replace('_', "-").as_bytes()).expect("a valid name stays valid")
}

impl<S> Layer<S> for ForwardAuthLayer {
    type Service = ForwardAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ForwardAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`ForwardAuthLayer`]: passes admitted requests on, answers the others.
#[derive(Clone, Debug)]
pub struct ForwardAuth<S> {
    inner: S,
    layer: ForwardAuthLayer,
}

impl<S> ForwardAuth<S> {
    define_inner_service_accessors!();
}

/// The future of [`ForwardAuth`].
type BoxFuture<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ForwardAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The ready service goes into the future; its clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let (mut head, body) = req.into_parts();
        layer.strip(&mut head.headers);
        Box::pin(async move {
            if layer.skip.as_ref().is_some_and(|skip| skip(&head)) {
                let res = inner.call(Request::from_parts(head, body)).await?;
                return Ok(res.map(Body::new));
            }
            let admission = match layer.asker.ask(&head, layer.cache.as_deref()).await {
                Verdict::Admit(admission) => admission,
                Verdict::Refuse(answer) => return Ok(answer),
            };
            for (name, value) in admission.headers {
                head.headers.append(name, value);
            }
            let user = admission.user.map(AuthenticatedUser);
            if let Some(user) = &user {
                head.extensions.insert(user.clone());
            }
            let mut res = inner.call(Request::from_parts(head, body)).await?;
            if let Some(user) = user {
                if res.extensions().get::<AuthenticatedUser>().is_none() {
                    res.extensions_mut().insert(user);
                }
            }
            Ok(res.map(Body::new))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_copies_go_in_every_spelling() {
        let mut config = ForwardAuthConfig::new("http://127.0.0.1:1/auth");
        config.copy_headers = vec!["Remote-Groups".into()];
        config.user_header = Some("Remote-User".into());
        let layer = ForwardAuthLayer::new(&config).unwrap();
        let mut headers = HeaderMap::new();
        for name in [
            "remote-user",
            "remote_user",
            "REMOTE_GROUPS",
            "remote-email",
            "cookie",
        ] {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, "forged".parse().unwrap());
        }
        layer.strip(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["cookie", "remote-email"]);
    }

    #[test]
    fn bad_settings_are_errors_at_their_keys() {
        let error = |edit: fn(&mut ForwardAuthConfig)| {
            let mut config = ForwardAuthConfig::new("http://auth:4181/check");
            edit(&mut config);
            ForwardAuthLayer::new(&config).unwrap_err().key()
        };
        assert_eq!(error(|c| c.url = "https://auth/".into()), "url");
        assert_eq!(error(|c| c.url = "auth:4181".into()), "url");
        assert_eq!(error(|c| c.url = "http:///x".into()), "url");
        assert_eq!(error(|c| c.timeout = std::time::Duration::ZERO), "timeout");
        assert_eq!(
            error(|c| c.request_headers = vec!["a b".into()]),
            "request_headers"
        );
        assert_eq!(
            error(|c| c.user_header = Some(String::new())),
            "user_header"
        );
    }
}
