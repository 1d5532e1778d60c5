//! [`Dispatcher`]: the built routing table as a tower service.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, LOCATION};
use http::{Method, StatusCode};

use super::method::{Choice, Endpoint};
use super::path::{decode_params, slash_redirect_location};
use super::route::Route;
use super::{MountSlash, ResponseFuture};
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::{MountPrefix, RouteParams};
use crate::origin::Origin;
use crate::syntax::host::HostPattern;
use crate::syntax::prefix;

/// A built routing table: a `Clone` tower service of `http::Request<B>` answering
/// `http::Response<tollgate::Body>`, never failing. Made by [`Dispatch::build`](super::Dispatch::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct Dispatcher {
    pub(crate) table: Arc<Table>,
}

#[derive(Debug)]
pub(crate) struct Table {
    /// Most specific first.
    pub(crate) hosts: Vec<(HostPattern, Route)>,
    /// Longest prefix first.
    pub(crate) mounts: Vec<(String, Route)>,
    pub(crate) router: matchit::Router<usize>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) fallback: Option<Route>,
    pub(crate) mount_slash: MountSlash,
    /// Every method some route takes, standard ones first: `OPTIONS *` lists them and a method
    /// outside them is a 501.
    pub(crate) known: Vec<Method>,
}

/// The methods RFC 9110 and RFC 5789 define: never a 501.
const STANDARD: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// Longest path shown in a 404 message.
const MAX_PATH_IN_MESSAGE: usize = 200;

pub(crate) fn known_methods<'a>(registered: impl Iterator<Item = &'a Method>) -> Vec<Method> {
    let mut known = STANDARD.to_vec();
    for method in registered {
        if !known.contains(method) {
            known.push(method.clone());
        }
    }
    known
}

impl Table {
    pub(crate) fn dispatch(&self, mut req: http::Request<Body>) -> ResponseFuture {
        if !self.hosts.is_empty() {
            // The host the client asked for, as every other reader sees it (`Origin`).
            let route = Origin::of(&req)
                .host()
                .and_then(|host| self.hosts.iter().find(|(p, _)| p.matches(host)));
            if let Some((_, route)) = route {
                return route.call(req, false);
            }
        }
        if let Some(res) = self.mount(&mut req) {
            return res;
        }
        if req.method() == Method::OPTIONS && req.uri().path() == "*" {
            return ResponseFuture::answer(options_answer(&self.known));
        }
        let found = self.router.at(req.uri().path()).map(|m| {
            let params = if m.params.is_empty() {
                Ok(None)
            } else {
                decode_params(&m.params).map(Some)
            };
            (*m.value, params)
        });
        match found {
            Ok((_, Err(name))) => self.bad_parameter(&req, &name),
            Ok((index, Ok(params))) => {
                if let Some(params) = params {
                    req.extensions_mut().insert(RouteParams(params));
                }
                self.endpoint(&self.endpoints[index], req)
            }
            Err(_) => match &self.fallback {
                Some(fallback) => fallback.call(req, false),
                None if !self.known.contains(req.method()) => self.not_implemented(&req),
                None => self.not_found(&req),
            },
        }
    }

    /// Hands the request to the mount with the longest matching prefix, if any.
    fn mount(&self, req: &mut http::Request<Body>) -> Option<ResponseFuture> {
        let path = req.uri().path();
        let (prefix, route, bare) = self.mounts.iter().find_map(|(prefix, route)| {
            prefix::strip(path, prefix).map(|rest| (prefix, route, rest.is_empty()))
        })?;
        if bare && self.mount_slash == MountSlash::Redirect {
            return Some(bare_prefix_redirect(prefix, req.uri().query()));
        }
        let Some(uri) = prefix::strip_uri(req.uri(), prefix) else {
            // Unreachable for a URI hyper parsed; refuse rather than route a path we cannot
            // express.
            return Some(self.answer(req, HttpError::bad_request("invalid request target")));
        };
        *req.uri_mut() = uri;
        let full = match req.extensions().get::<MountPrefix>() {
            Some(MountPrefix(outer)) => format!("{outer}{prefix}"),
            None => prefix.clone(),
        };
        req.extensions_mut().insert(MountPrefix(full));
        let req = std::mem::take(req);
        Some(route.call(req, false))
    }

    fn endpoint(&self, endpoint: &Endpoint, req: http::Request<Body>) -> ResponseFuture {
        match endpoint.choose(req.method()) {
            Choice::Call { route, strip_body } => route.call(req, strip_body),
            Choice::Options => ResponseFuture::answer(options_answer(&endpoint.allow)),
            Choice::NotAllowed if !self.known.contains(req.method()) => self.not_implemented(&req),
            Choice::NotAllowed => self.answer(&req, HttpError::method_not_allowed(&endpoint.allow)),
        }
    }

    // The answers dispatch gives itself are out of line (`cold`): the routed path stays short.

    #[cold]
    #[inline(never)]
    fn bad_parameter(&self, req: &http::Request<Body>, name: &str) -> ResponseFuture {
        let msg = format!("path parameter `{name}` is not valid UTF-8 once decoded");
        self.answer(req, HttpError::bad_request(msg))
    }

    #[cold]
    #[inline(never)]
    fn not_found(&self, req: &http::Request<Body>) -> ResponseFuture {
        let path = req.uri().path();
        let shown = path.get(..MAX_PATH_IN_MESSAGE).unwrap_or(path);
        self.answer(req, HttpError::not_found(format!("no route for `{shown}`")))
    }

    #[cold]
    #[inline(never)]
    fn not_implemented(&self, req: &http::Request<Body>) -> ResponseFuture {
        let method = req.method().as_str();
        let shown = method.get(..32).unwrap_or(method);
        let msg = format!("method `{shown}` is not implemented here");
        self.answer(req, HttpError::not_implemented(msg))
    }

    #[cold]
    #[inline(never)]
    fn answer(&self, req: &http::Request<Body>, err: HttpError) -> ResponseFuture {
        ResponseFuture::answer(err.into_response_for(req.headers()))
    }
}

fn allow_value(methods: &[Method]) -> HeaderValue {
    let list = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    // Methods are tokens, so the list is a valid value.
    HeaderValue::from_str(&list).unwrap_or_else(|_| HeaderValue::from_static("OPTIONS"))
}

#[cold]
#[inline(never)]
fn options_answer(allow: &[Method]) -> http::Response<Body> {
    let mut res = http::Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut().insert(ALLOW, allow_value(allow));
    res
}

#[cold]
#[inline(never)]
fn bare_prefix_redirect(prefix: &str, query: Option<&str>) -> ResponseFuture {
    ResponseFuture::answer(redirect(&slash_redirect_location(prefix, query)))
}

fn redirect(location: &str) -> http::Response<Body> {
    let mut res = http::Response::new(Body::empty());
    *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, value);
    }
    res.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    res
}

impl<B> tower_service::Service<http::Request<B>> for Dispatcher
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Routed services are driven to readiness per call, on their own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.table.dispatch(req.map(Body::new))
    }
}
