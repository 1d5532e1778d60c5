//! [`AclLayer`], the [`Acl`] service and its future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use ipnet::IpNet;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{AclError, AclRules, Groups, Principal, Rules};
use crate::body::{Body, BoxError};
use crate::error::HttpError;
use crate::ext::{AccessDecision, AuthenticatedUser};
use crate::origin::Origin;

/// Lets through only the users, groups and client networks its rules allow; see the
/// [module docs](super).
///
/// Cloning shares the rules and the groups.
#[must_use]
#[derive(Clone, Debug, Default)]
pub struct AclLayer {
    rules: Arc<Rules>,
    groups: Arc<Groups>,
}

impl AclLayer {
    /// A layer without rules: everyone passes until a rule is added.
    pub fn new() -> Self {
        AclLayer::default()
    }

    /// The layer `rules` describe, with the members of `groups` (none: no group has members).
    ///
    /// # Errors
    ///
    /// An `allow` entry that is no user or `group:NAME`, or a group named without `groups`.
    pub fn from_rules(rules: &AclRules, groups: Option<Arc<Groups>>) -> Result<Self, AclError> {
        let rules = Rules::new(rules)?;
        if groups.is_none() {
            if let Some(Principal::Group(group)) = rules
                .allow
                .iter()
                .find(|p| matches!(p, Principal::Group(_)))
            {
                return Err(AclError::NoGroupsFile {
                    group: group.clone(),
                });
            }
        }
        Ok(AclLayer {
            rules: Arc::new(rules),
            groups: groups.unwrap_or_default(),
        })
    }

    fn edit(mut self, f: impl FnOnce(&mut Rules)) -> Self {
        f(Arc::make_mut(&mut self.rules));
        self
    }

    /// Allows the user `name` (as the auth layer authenticated it); once anyone is allowed,
    /// everyone else is refused.
    pub fn allow_user(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.edit(|r| r.allow.push(Principal::User(name)))
    }

    /// Allows the members of `group` in the [`groups`](Self::groups) file.
    pub fn allow_group(self, group: impl Into<String>) -> Self {
        let group = group.into();
        self.edit(|r| r.allow.push(Principal::Group(group)))
    }

    /// Allows clients in `net`; once a network is allowed, clients elsewhere are refused.
    pub fn allow_ip(self, net: IpNet) -> Self {
        self.edit(|r| r.allow_ip.push(net))
    }

    /// Refuses clients in `net`, whoever they are.
    pub fn deny_ip(self, net: IpNet) -> Self {
        self.edit(|r| r.deny_ip.push(net))
    }

    /// Takes group members from `groups` (e.g. [`Groups::watch`], shared by every layer that
    /// names groups). Default is no group.
    pub fn groups(mut self, groups: Arc<Groups>) -> Self {
        self.groups = groups;
        self
    }
}

impl<S> Layer<S> for AclLayer {
    type Service = Acl<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Acl {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`AclLayer`]: answers `403` by itself, or passes the request on.
#[derive(Clone, Debug)]
pub struct Acl<S> {
    inner: S,
    layer: AclLayer,
}

impl<S> Acl<S> {
    define_inner_service_accessors!();
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Acl<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let rules = &self.layer.rules;
        if rules.is_empty() {
            return ResponseFuture::allowed(self.inner.call(req), None);
        }
        let user = req
            .extensions()
            .get::<AuthenticatedUser>()
            .map(|u| u.name());
        let client = Origin::of(&req).client_addr();
        let verdict = rules.decide(user, client, &self.layer.groups);
        let decision = AccessDecision {
            allowed: verdict.allowed,
            rule: verdict.rule.into(),
        };
        if decision.allowed {
            return ResponseFuture::allowed(self.inner.call(req), Some(decision));
        }
        tracing::info!(
            user = %user.map(crate::syntax::escape_name).as_deref().unwrap_or("-"),
            client = ?client,
            rule = %decision.rule,
            "acl: refused"
        );
        let mut res = HttpError::forbidden("you may not access this resource")
            .into_response_for(req.headers());
        res.extensions_mut().insert(decision);
        ResponseFuture::denied(res)
    }
}

pin_project! {
    /// The response of [`Acl`]: the inner service's, or a `403`.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Inner<F>,
    }
}

pin_project! {
    #[project = InnerProj]
    enum Inner<F> {
        Denied { response: Option<Response<Body>> },
        Allowed { #[pin] future: F, decision: Option<AccessDecision> },
    }
}

impl<F> ResponseFuture<F> {
    fn denied(response: Response<Body>) -> Self {
        ResponseFuture {
            inner: Inner::Denied {
                response: Some(response),
            },
        }
    }

    fn allowed(future: F, decision: Option<AccessDecision>) -> Self {
        ResponseFuture {
            inner: Inner::Allowed { future, decision },
        }
    }
}

impl<F, E, ResBody> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            InnerProj::Denied { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            InnerProj::Allowed { future, decision } => {
                let mut res = ready!(future.poll(cx))?.map(Body::new);
                if let Some(decision) = decision.take() {
                    res.extensions_mut().insert(decision);
                }
                Poll::Ready(Ok(res))
            }
        }
    }
}
