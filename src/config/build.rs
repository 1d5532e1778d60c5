//! From a [`Config`] to the running stack: the checks that need nothing but the config
//! ([`Config::check`]) and those that read files ([`build`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response};
use tower::ServiceBuilder;

use super::error::{ConfigError, ConfigErrors, KeyPath};
use super::routes::{self, Router};
use super::shared::SharedState;
use super::stack::Gateway;
use super::{AdminConfig, Config};
use crate::body::Body;
use crate::echo::EchoService;
use crate::error::HttpError;
use crate::forwarded::ForwardedLayer;
use crate::inbound::{InboundError, InboundLayer};
use crate::metrics::Metrics;
use crate::normalize::NormalizeLayer;
use crate::proxy::balance::Balanced;
use crate::proxy::{Proxy, ProxyBuildError};
use crate::rewrite::{RewriteError, RewriteLayer, RulePosition};

impl Config {
    /// What is wrong with the configuration itself, without reading any file: no listener or
    /// route, an admin listener on a public address, a group without servers, a route to a
    /// group that does not exist, a route with no target or several.
    pub fn check(&self) -> Vec<ConfigError> {
        let root = KeyPath::root();
        let mut errors = Vec::new();
        if self.listen.is_empty() {
            errors.push(ConfigError::new(
                root.clone(),
                "no listener: add a [[listen]] table with `bind = \"127.0.0.1:8080\"`",
            ));
        }
        for (i, listen) in self.listen.iter().enumerate() {
            let twice = self.listen[..i].iter().any(|l| l.bind == listen.bind);
            if twice && !listen.bind.ends_with(":0") {
                errors.push(ConfigError::new(
                    root.key("listen").index(i).key("bind"),
                    format!(
                        "`{}` is already the address of another listener",
                        listen.bind
                    ),
                ));
            }
        }
        if let Some(admin) = &self.admin {
            if !admin.bind.ends_with(":0") && self.listen.iter().any(|l| l.bind == admin.bind) {
                errors.push(ConfigError::new(
                    root.key("admin").key("bind"),
                    format!(
                        "the admin listener must not share the public address `{}`: metrics are \
                         never served to the public",
                        admin.bind
                    ),
                ));
            }
            if !admin.allow_public && !super::warnings::is_loopback(&admin.bind) {
                errors.push(ConfigError::new(
                    root.key("admin").key("bind"),
                    format!(
                        "the admin listener on `{}` would serve metrics to other machines: bind \
                         it to a loopback address (`127.0.0.1:9090`), or add \
                         `allow_public = true` to [admin] if a firewall guards it",
                        admin.bind
                    ),
                ));
            }
            for (key, path) in [
                ("metrics_path", &admin.metrics_path),
                ("health_path", &admin.health_path),
            ] {
                errors.extend(absolute_path(root.key("admin").key(key), path));
            }
        }
        if let Some(forwarded) = &self.forwarded {
            if forwarded.trust.is_nobody() {
                errors.push(ConfigError::new(
                    root.key("forwarded").key("trust"),
                    "`[forwarded]` trusts no proxy, so clients could not be told from proxies: \
                     add `trust = { proxies = [\"10.0.0.0/8\"] }` with your proxies' addresses \
                     (or `trust = { hops = 1 }` when every request passes exactly one proxy), \
                     or remove the table",
                ));
            }
        }
        if let Some(health) = &self.health {
            errors.extend(absolute_path(root.key("health").key("path"), &health.path));
        }
        for (name, group) in &self.upstreams {
            if group.servers.is_empty() {
                errors.push(ConfigError::new(
                    root.key("upstreams").key(name),
                    format!(
                        "upstream group `{name}` has no servers: add `servers = [\"http://127.0.0.1:9000\"]`"
                    ),
                ));
            }
        }
        if self.routes.is_empty() {
            errors.push(ConfigError::new(
                root.clone(),
                "no route: every request would be a 404; add a [[routes]] table, e.g. \
                 `upstream = \"NAME\"` or `echo = true`",
            ));
        }
        let groups: Vec<&str> = self.upstreams.keys().map(String::as_str).collect();
        for (i, route) in self.routes.iter().enumerate() {
            errors.extend(route.check(&root.key("routes").index(i), &groups));
        }
        errors
    }
}

/// An error and its causes on one line: `cannot read the CA file x: No such file`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An auth error at the key it is about.
#[cfg(feature = "auth")]
fn auth_error(at: KeyPath, e: &crate::auth::basic::BasicAuthConfigError) -> ConfigError {
    use crate::auth::basic::BasicAuthConfigError as E;
    let key = match e {
        E::InvalidHeaderName { .. } => "forward_user_header",
        E::InvalidMethod { .. } => "exempt_methods",
        E::InvalidExemptPath { .. } => "exempt_paths",
        E::InvalidIpv6Prefix { .. } => "failure_ipv6_prefix",
        _ => "htpasswd",
    };
    ConfigError::new(at.key(key), chain(e))
}

/// A rewrite error at the rule it names: `rewrite.request[2]`.
fn rewrite_error(at: KeyPath, e: &RewriteError) -> ConfigError {
    let position = match e {
        RewriteError::InvalidHeaderName { position, .. }
        | RewriteError::NoAction { position }
        | RewriteError::SeveralActions { position, .. }
        | RewriteError::MissingField { position, .. }
        | RewriteError::UnexpectedField { position, .. }
        | RewriteError::Template { position, .. }
        | RewriteError::InvalidRegex { position, .. }
        | RewriteError::InvalidCondition { position, .. } => *position,
    };
    let at = match position {
        RulePosition::Request(n) => at.key("request").index(n.saturating_sub(1)),
        RulePosition::Response(n) => at.key("response").index(n.saturating_sub(1)),
        RulePosition::RequestId => at.key("request_id"),
        RulePosition::Preset(_) => at.key("presets"),
    };
    ConfigError::new(at, chain(e))
}

fn absolute_path(at: KeyPath, path: &str) -> Option<ConfigError> {
    (!path.starts_with('/')).then(|| ConfigError::new(at, format!("`{path}` must start with `/`")))
}

/// Builds the gateway `config` describes, counting into `metrics`: reads the files it names
/// (certificates and keys, CA files) and checks them, so a gateway that builds will serve.
///
/// The stack, outermost first: `[inbound]` (what clients may send), the `[health]` path,
/// `[forwarded]`, `[normalize]`, the metrics layer (naming each request's route), `[rewrite]`,
/// `[auth]`, then the routes.
///
/// # Errors
///
/// Every error of [`Config::check`] and every file that cannot be used, each naming its key
/// (use [`ConfigErrors::locate`] to add lines and columns).
pub async fn build(config: &Config, metrics: &Metrics) -> Result<Gateway, ConfigErrors> {
    build_with(config, metrics, &SharedState::new()).await
}

/// Like [`build`], taking the process-wide parts (the Basic auth layer) from `shared`, or
/// building them into it: the stacks of several workers built with one [`SharedState`] share
/// one failure limiter, verification queue and cache.
///
/// # Errors
///
/// As [`build`].
pub async fn build_with(
    config: &Config,
    metrics: &Metrics,
    shared: &SharedState,
) -> Result<Gateway, ConfigErrors> {
    let root = KeyPath::root();
    let mut errors = config.check();
    #[cfg(feature = "tls")]
    for (i, listen) in config.listen.iter().enumerate() {
        if let Some(tls) = &listen.tls {
            if let Err(e) = tls.validate().await {
                errors.push(ConfigError::new(
                    root.key("listen").index(i).key("tls"),
                    e.to_string(),
                ));
            }
        }
    }
    let mut groups: BTreeMap<&str, Gateway> = BTreeMap::new();
    for (name, group) in &config.upstreams {
        let at = root.key("upstreams").key(name);
        let (proxy, proxy_at) = match &group.proxy {
            Some(own) => (own.clone(), at.key("proxy")),
            None => (config.proxy.clone(), root.key("proxy")),
        };
        let built: Result<Gateway, ProxyBuildError> = match group.servers.as_slice() {
            [] => continue,
            [one] => Proxy::with_config(one.clone(), proxy).map(Gateway::new),
            many => Balanced::new(many.to_vec(), proxy, group.balance.clone()).map(Gateway::new),
        };
        match built {
            Ok(service) => {
                groups.insert(name, service);
            }
            Err(e) => errors.push(ConfigError::new(proxy_at.key("ca_file"), chain(&e))),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    #[cfg(feature = "files")]
    for (i, route) in config.routes.iter().enumerate() {
        if let Some(files) = &route.files {
            if !std::fs::metadata(&files.dir).is_ok_and(|m| m.is_dir()) {
                errors.push(ConfigError::new(
                    root.key("routes").index(i).key("files").key("dir"),
                    format!(
                        "{} is not a directory this process can read",
                        files.dir.display()
                    ),
                ));
            }
        }
    }
    let rewrite = match &config.rewrite {
        Some(rules) => match RewriteLayer::new(rules) {
            Ok(layer) => Some(layer),
            Err(e) => {
                errors.push(rewrite_error(root.key("rewrite"), &e));
                None
            }
        },
        None => None,
    };
    #[cfg(feature = "auth")]
    let auth = match &config.auth {
        Some(auth) => match shared.auth_layer(auth).await {
            Ok(layer) => Some(layer),
            Err(e) => {
                errors.push(auth_error(root.key("auth"), &e));
                None
            }
        },
        None => None,
    };
    #[cfg(not(feature = "auth"))]
    let auth: Option<tower::layer::util::Identity> = {
        let _ = shared; // holds nothing without the `auth` feature
        None
    };
    let mut route_rewrites = Vec::with_capacity(config.routes.len());
    for (i, route) in config.routes.iter().enumerate() {
        route_rewrites.push(match &route.rewrite {
            Some(rules) => match RewriteLayer::new(rules) {
                Ok(layer) => Some(layer),
                Err(e) => {
                    errors.push(rewrite_error(
                        root.key("routes").index(i).key("rewrite"),
                        &e,
                    ));
                    None
                }
            },
            None => None,
        });
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let mut router = Router::builder();
    for (route, rewrite) in config.routes.iter().zip(route_rewrites) {
        let with_rules = |target: Gateway| match &rewrite {
            Some(layer) => Gateway::new(tower_layer::Layer::layer(layer, target)),
            None => target,
        };
        #[cfg(feature = "files")]
        if let Some(files) = &route.files {
            let mut mounted = route.clone();
            mounted.strip_prefix = true;
            let service = crate::files::ServeDir::from_config(files.clone());
            router.route(&mounted, with_rules(Gateway::new(service)));
            continue;
        }
        let target = if let Some(group) = &route.upstream {
            match groups.get(group.as_str()) {
                Some(service) => service.clone(),
                None => continue,
            }
        } else if let Some(redirect) = &route.redirect {
            routes::redirect(redirect, &route.path)
        } else {
            Gateway::new(EchoService::new())
        };
        router.route(route, with_rules(target));
    }
    let router = router.build();
    let names = router.clone();
    let inbound = match inbound(config) {
        Ok(layer) => layer,
        Err(e) => {
            return Err(ConfigErrors(vec![ConfigError::new(
                root.key("inbound").key("managed"),
                e.to_string(),
            )]))
        }
    };
    let stack = ServiceBuilder::new()
        .layer(inbound)
        .option_layer(config.health.as_ref().map(|h| HealthLayer::new(&h.path)))
        .option_layer(config.forwarded.clone().map(ForwardedLayer::new))
        .option_layer(config.normalize.clone().map(NormalizeLayer::new))
        .layer(
            metrics.layer_with(move |method, uri, headers| names.label_for(method, uri, headers)),
        )
        .option_layer(rewrite)
        .option_layer(auth)
        .service(router);
    Ok(Gateway::new(stack))
}

/// The header policy for what clients send: the identity headers the gateway vouches for
/// (the user headers of `[auth]` and every `[proxy]` table, `[inbound] managed`), the headers
/// its rules set, and the proxies `[forwarded]` trusts.
fn inbound(config: &Config) -> Result<InboundLayer, InboundError> {
    let mut layer = InboundLayer::new(&config.inbound)?.trusting(
        config
            .forwarded
            .as_ref()
            .map(|f| f.trust.clone())
            .unwrap_or_default(),
    );
    let proxies = std::iter::once(&config.proxy)
        .chain(config.upstreams.values().filter_map(|g| g.proxy.as_ref()));
    #[cfg_attr(not(feature = "auth"), allow(unused_mut))]
    let mut identity: Vec<&str> = proxies.filter_map(|p| p.user_header.as_deref()).collect();
    #[cfg(feature = "auth")]
    identity.extend(
        config
            .auth
            .as_ref()
            .and_then(|a| a.forward_user_header.as_deref()),
    );
    for name in identity {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            layer = layer.identity(name);
        }
    }
    let rewrites = config
        .rewrite
        .iter()
        .chain(config.routes.iter().filter_map(|r| r.rewrite.as_ref()));
    for rewrite in rewrites {
        let set = rewrite.request.iter().flat_map(|rule| {
            [&rule.set, &rule.set_if_missing, &rule.append, &rule.to]
                .into_iter()
                .flatten()
        });
        let id = rewrite.request_id.as_ref().map(|id| &id.header);
        for name in set.chain(id) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                layer = layer.rule_header(name);
            }
        }
    }
    Ok(layer)
}

/// The admin listener's service: metrics and health.
pub(crate) fn admin(config: &AdminConfig, metrics: &Metrics) -> Gateway {
    let metrics = metrics.clone();
    let metrics_path: Arc<str> = Arc::from(config.metrics_path.as_str());
    let not_found = tower::service_fn(move |req: Request<Body>| {
        let res = if req.uri().path() == &*metrics_path {
            if req.method() == Method::GET || req.method() == Method::HEAD {
                let mut res = Response::new(Body::from(metrics.render()));
                res.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                res
            } else {
                HttpError::method_not_allowed(&[Method::GET, Method::HEAD])
                    .into_response_for(req.headers())
            }
        } else {
            HttpError::not_found("no such page").into_response_for(req.headers())
        };
        std::future::ready(Ok::<_, Infallible>(res))
    });
    Gateway::new(HealthLayer::new(&config.health_path).layer(not_found))
}

/// Answers `path` with `200 ok` itself; everything else goes on.
#[derive(Clone)]
struct HealthLayer {
    path: Arc<str>,
}

impl HealthLayer {
    fn new(path: &str) -> Self {
        HealthLayer {
            path: Arc::from(path),
        }
    }

    fn layer<S>(&self, inner: S) -> Health<S> {
        Health {
            path: self.path.clone(),
            inner,
        }
    }
}

impl<S> tower_layer::Layer<S> for HealthLayer {
    type Service = Health<S>;

    fn layer(&self, inner: S) -> Health<S> {
        HealthLayer::layer(self, inner)
    }
}

#[derive(Clone)]
struct Health<S> {
    path: Arc<str>,
    inner: S,
}

impl<S> tower_service::Service<Request<Body>> for Health<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response<Body>, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if req.uri().path() != &*self.path {
            return Either::Right(self.inner.call(req));
        }
        let res = if req.method() == Method::GET || req.method() == Method::HEAD {
            let mut res = Response::new(Body::from("ok\n"));
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        } else {
            HttpError::method_not_allowed(&[Method::GET, Method::HEAD])
                .into_response_for(req.headers())
        };
        Either::Left(futures_util::future::ready(Ok(res)))
    }
}
