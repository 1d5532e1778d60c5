//! From a [`Config`] to the running stack, built from public items of the library only (a
//! program can do the same by hand: `examples/gateway_by_hand.rs`): the checks that read
//! files, the upstream groups, the layers, and the routes compiled into one dispatcher.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::header::HeaderName;
use tower::ServiceBuilder;
use tower_layer::Layer;

use super::admin_listener::admin;
use super::files::{check_dirs, check_tls, error_pages};
use super::limits::{limits_store, Limits};
use super::routes::compile;
use super::shared::{LimitsStore, SharedState};
use super::stack::Gateway;
use crate::acl::{AclLayer, Groups};
use crate::cache::CacheLayer;
use crate::compress::{CompressLayer, DecompressLayer};
use crate::config::{Config, ConfigError, ConfigErrors, KeyPath, RouteConfig};
use crate::dispatch::{Dispatcher, Route};
use crate::echo::EchoService;
use crate::filter::ErrorPages;
use crate::forward_auth::ForwardAuthLayer;
use crate::forwarded::ForwardedLayer;
use crate::health::HealthLayer;
use crate::inbound::{InboundError, InboundLayer};
use crate::metrics::Metrics;
use crate::normalize::NormalizeLayer;
use crate::proxy::balance::Balanced;
use crate::proxy::{Proxy, ProxyBuildError};
use crate::ratelimit::RateLimitLayer;
use crate::rewrite::{RewriteError, RewriteLayer, RulePosition};

/// Builds the gateway `config` describes, counting into `metrics`: reads the files it names
/// (certificates and keys, CA files, credentials, static directories) and checks them, so a
/// gateway that builds will serve.
///
/// The stack, outermost first: the `[errors]` pages, `[inbound]` (what clients may send), the
/// `[health]` path, `[forwarded]`, `[normalize]`, the metrics layer (naming each request's
/// route), `[rate_limit] per_client`, `[compression]`'s answers, `[rewrite]`, a panic catcher,
/// the routes' `cors` policies, `[auth]` or `[forward_auth]`, `[rate_limit] per_user`,
/// `[compression]`'s request decoding, then the routes (each inside its access rules, its own
/// `rate_limit` and the cache), compiled into one [`Dispatcher`] (see the
/// [module docs](super) for their order).
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
    let mut errors = config.check();
    errors.extend(check_tls(config).await);
    let groups = upstream_groups(config, &mut errors);
    // The routes are compiled only from a consistent whole; every other part is still
    // checked, so one run reports every error.
    let consistent = errors.is_empty();
    errors.extend(check_dirs(config));
    let pages = error_pages(config, &mut errors);
    let rewrite = rewrite_layer(
        config.rewrite.as_ref(),
        KeyPath::root().key("rewrite"),
        &mut errors,
    );
    // Checked either way, but kept in `shared` only when the whole can be built: a refused
    // reload must not replace the running auth layer's state (nor the groups and limits).
    let throwaway = SharedState::new();
    let state = if consistent { shared } else { &throwaway };
    let store = limits_store(config, state, &mut errors);
    #[cfg(feature = "redis-store")]
    if let Some(store) = &store {
        let store = store.clone();
        metrics.count_store_errors(move || store.errors());
    }
    let auth = auth_layer(config, state, store.as_ref(), &mut errors).await;
    let acl_groups = acl_groups(config, state, &mut errors).await;
    let limits = Limits::new(config, state, store.as_ref());
    let cache = config
        .cache
        .as_ref()
        .map(|c| CacheLayer::new(shared.cache_store(c)));
    let router = if consistent {
        router(
            config,
            &groups,
            acl_groups,
            shared,
            store.as_ref(),
            cache.as_ref(),
            &mut errors,
        )
    } else {
        None
    };
    let auth = Auth {
        basic: auth,
        forward: router
            .as_ref()
            .and_then(|router| forward_auth(config, router, state, &mut errors)),
    };
    if let Some(admin_config) = &config.admin {
        if let Err(e) = admin(admin_config, metrics) {
            let at = KeyPath::root().key("admin").key("metrics_path");
            errors.push(ConfigError::from_error(at, e));
        }
    }
    let inbound = inbound(config)
        .map_err(|e| ConfigError::from_error(KeyPath::root().key("inbound").key("managed"), e));
    match (router, inbound) {
        (Some(router), Ok(inbound)) if errors.is_empty() => Ok(stack(
            config,
            metrics,
            Layers {
                pages,
                inbound,
                rewrite,
                auth,
                limits,
            },
            router,
        )),
        (_, inbound) => {
            errors.extend(inbound.err());
            Err(ConfigErrors(errors))
        }
    }
}

/// Who the user is: `[auth]` or `[forward_auth]` (`Config::check` allows one of them).
struct Auth {
    basic: Option<AuthLayer>,
    forward: Option<ForwardAuthLayer>,
}

/// The `[forward_auth]` layer (its admission cache shared through `shared`), skipping the
/// routes with `forward_auth = false` (a name shared with a route that asks is asked).
fn forward_auth(
    config: &Config,
    router: &Dispatcher,
    shared: &SharedState,
    errors: &mut Vec<ConfigError>,
) -> Option<ForwardAuthLayer> {
    let layer = match shared.forward_auth_layer(config.forward_auth.as_ref()?) {
        Ok(layer) => layer,
        Err(e) => {
            let at = KeyPath::root().key("forward_auth").key(e.key());
            errors.push(ConfigError::from_error(at, e));
            return None;
        }
    };
    let (asked, unasked): (Vec<&RouteConfig>, Vec<&RouteConfig>) =
        config.routes.iter().partition(|r| r.forward_auth);
    let asked: Vec<String> = asked.iter().map(|r| r.label()).collect();
    let unasked: Vec<Arc<str>> = unasked
        .iter()
        .map(|r| r.label())
        .filter(|label| !asked.contains(label))
        .map(Arc::from)
        .collect();
    if unasked.is_empty() {
        return Some(layer);
    }
    let names = router.clone();
    Some(layer.skip_when(move |head| {
        names
            .route_name(head)
            .is_some_and(|name| unasked.contains(&name))
    }))
}

/// The layers around the router, outermost first; see [`build`].
/// The layers built from the file, before they are stacked.
struct Layers {
    pages: ErrorPages,
    inbound: InboundLayer,
    rewrite: Option<RewriteLayer>,
    auth: Auth,
    limits: Limits,
}

fn stack(config: &Config, metrics: &Metrics, layers: Layers, router: Dispatcher) -> Gateway {
    let Layers {
        pages,
        inbound,
        rewrite,
        auth,
        limits,
    } = layers;
    let names = router.clone();
    let unmatched: Arc<str> = Arc::from("unmatched");
    // A second lookup of the route, before auth and the rest run, so that their answers (a
    // 401) count under the route the request was for.
    let label =
        metrics.layer_with(move |head| names.route_name(head).unwrap_or_else(|| unmatched.clone()));
    let cors = super::cors::layer(config, &router);
    let stack = ServiceBuilder::new()
        .option_layer((!pages.is_empty()).then(|| pages.layer()))
        .layer(inbound)
        .option_layer(
            config
                .health
                .as_ref()
                .map(|h| HealthLayer::new(h.path.as_str())),
        )
        .option_layer(config.forwarded.clone().map(ForwardedLayer::new))
        .option_layer(config.normalize.clone().map(NormalizeLayer::new))
        .layer(label)
        .option_layer(limits.client)
        .option_layer(config.compression.as_ref().map(CompressLayer::new))
        .option_layer(rewrite)
        // Below rewrite, so a panic's `500` names the request id rewrite made.
        .layer(crate::filter::CatchPanicLayer::new())
        .option_layer(cors)
        .option_layer(auth.basic)
        .option_layer(auth.forward)
        .option_layer(limits.user)
        .option_layer(decompress(config))
        .service(router);
    Gateway::new(stack)
}

/// Request bodies decoded after auth (no work for clients that did not pass it), when
/// `[compression] decompress_requests` says so.
fn decompress(config: &Config) -> Option<DecompressLayer> {
    let compression = config.compression.as_ref()?;
    compression
        .decompress_requests
        .then(|| DecompressLayer::new(compression.max_decompressed_body))
}

#[cfg(feature = "auth")]
type AuthLayer = crate::auth::basic::BasicAuthLayer;
#[cfg(not(feature = "auth"))]
type AuthLayer = tower::layer::util::Identity;

/// An upstream group's service: a plain proxy for one server, a balancer for more.
#[derive(Clone)]
enum Group {
    One(Proxy),
    Balanced(Balanced),
}

impl Group {
    /// The group's service for one route, inside the route's own header rules (and its
    /// cache, when it has one).
    fn route(&self, rules: Option<&RewriteLayer>, cache: Option<&CacheLayer>) -> Route {
        match (self, cache) {
            (Group::One(proxy), None) => with_rules(rules, proxy.clone()),
            (Group::Balanced(balanced), None) => with_rules(rules, balanced.clone()),
            (Group::One(proxy), Some(cache)) => with_rules(rules, cache.layer(proxy.clone())),
            (Group::Balanced(b), Some(cache)) => with_rules(rules, cache.layer(b.clone())),
        }
    }
}

/// `service` as a route, inside `rules` when the route has its own.
fn with_rules<S>(rules: Option<&RewriteLayer>, service: S) -> Route
where
    S: crate::dispatch::IntoRoute,
    RewriteLayer: Layer<S>,
    <RewriteLayer as Layer<S>>::Service: crate::dispatch::IntoRoute,
{
    match rules {
        Some(rules) => Route::new(rules.layer(service)),
        None => Route::new(service),
    }
}

/// Every `[upstreams.NAME]` group, built; a group that cannot be is an error at its `proxy`
/// table's `ca_file`.
fn upstream_groups<'c>(
    config: &'c Config,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<&'c str, Group> {
    let root = KeyPath::root();
    let mut groups = BTreeMap::new();
    for (name, group) in &config.upstreams {
        let at = root.key("upstreams").key(name);
        let (mut proxy, proxy_at) = match &group.proxy {
            Some(own) => (own.clone(), at.key("proxy")),
            None => (config.proxy.clone(), root.key("proxy")),
        };
        let own_client_cert = group.tls_client_cert.is_some() || group.tls_client_key.is_some();
        if own_client_cert {
            proxy.tls_client_cert.clone_from(&group.tls_client_cert);
            proxy.tls_client_key.clone_from(&group.tls_client_key);
        }
        let built: Result<Group, ProxyBuildError> = match group.servers.as_slice() {
            [] => continue,
            [one] => Proxy::with_config(one.clone(), proxy).map(Group::One),
            many => Balanced::new(many.to_vec(), proxy, group.balance.clone()).map(Group::Balanced),
        };
        match built {
            Ok(service) => {
                groups.insert(name.as_str(), service);
            }
            Err(e @ ProxyBuildError::ClientCert(_)) if own_client_cert => {
                errors.push(ConfigError::from_error(at.key("tls_client_cert"), e));
            }
            Err(e @ ProxyBuildError::ClientCert(_)) => {
                errors.push(ConfigError::from_error(proxy_at.key("tls_client_cert"), e));
            }
            Err(e) => errors.push(ConfigError::from_error(proxy_at.key("ca_file"), e)),
        }
    }
    groups
}

/// The header rules of `rules`; a bad rule is an error at its own table under `at`.
fn rewrite_layer(
    rules: Option<&crate::rewrite::RewriteConfig>,
    at: KeyPath,
    errors: &mut Vec<ConfigError>,
) -> Option<RewriteLayer> {
    match RewriteLayer::new(rules?) {
        Ok(layer) => Some(layer),
        Err(e) => {
            errors.push(rewrite_error(at, e));
            None
        }
    }
}

/// The Basic auth layer, from `shared` when an equal `[auth]` table (and store) built it
/// already.
#[cfg(feature = "auth")]
async fn auth_layer(
    config: &Config,
    shared: &SharedState,
    store: Option<&LimitsStore>,
    errors: &mut Vec<ConfigError>,
) -> Option<AuthLayer> {
    match shared.auth_layer(config.auth.as_ref()?, store).await {
        Ok(layer) => Some(layer),
        Err(e) => {
            errors.push(auth_error(KeyPath::root().key("auth"), e));
            None
        }
    }
}

#[cfg(not(feature = "auth"))]
async fn auth_layer(
    _config: &Config,
    _shared: &SharedState,
    _store: Option<&LimitsStore>,
    _errors: &mut Vec<ConfigError>,
) -> Option<AuthLayer> {
    None
}

/// The groups file of `[acl]`, from `shared` when it read the same file already.
async fn acl_groups(
    config: &Config,
    shared: &SharedState,
    errors: &mut Vec<ConfigError>,
) -> Option<Arc<Groups>> {
    match shared.acl_groups(&config.acl).await {
        Ok(groups) => groups,
        Err(e) => {
            let at = KeyPath::root().key("acl").key("groups");
            errors.push(ConfigError::from_error(at, e));
            None
        }
    }
}

/// Each route's access rules as a layer (`None` for a route without rules).
fn acl_layers(
    config: &Config,
    groups: Option<Arc<Groups>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Option<AclLayer>> {
    let routes_at = KeyPath::root().key("routes");
    let mut layers = Vec::with_capacity(config.routes.len());
    for (i, route) in config.routes.iter().enumerate() {
        let rules = route.acl_rules();
        if rules.is_empty() {
            layers.push(None);
            continue;
        }
        match AclLayer::from_rules(&rules, groups.clone()) {
            Ok(layer) => layers.push(Some(layer)),
            Err(e) => {
                errors.push(ConfigError::from_error(routes_at.index(i).key("allow"), e));
                layers.push(None);
            }
        }
    }
    layers
}

/// The routes compiled into one dispatcher, each route's service (inside its access rules)
/// named by its label.
fn router(
    config: &Config,
    groups: &BTreeMap<&str, Group>,
    acl_groups: Option<Arc<Groups>>,
    shared: &SharedState,
    store: Option<&LimitsStore>,
    cache: Option<&CacheLayer>,
    errors: &mut Vec<ConfigError>,
) -> Option<Dispatcher> {
    let routes_at = KeyPath::root().key("routes");
    let rules: Vec<Option<RewriteLayer>> = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            rewrite_layer(
                route.rewrite.as_ref(),
                routes_at.index(i).key("rewrite"),
                errors,
            )
        })
        .collect();
    let acls = acl_layers(config, acl_groups, errors);
    if !errors.is_empty() {
        return None;
    }
    let compiled = compile(&config.routes, |i| {
        let route = &config.routes[i];
        let cache = cache.filter(|_| route.cache != Some(false));
        let mut service = target(route, groups, rules[i].as_ref(), cache);
        if let Some(rate) = route.rate_limit {
            let key = format!("route {i} {} {rate}", route.label());
            let limit = shared.rate_limit(key, store, || RateLimitLayer::total(rate));
            service = Route::new(limit.layer(service));
        }
        match &acls[i] {
            Some(acl) => Route::new(acl.layer(service)),
            None => service,
        }
        .named(route.label())
    });
    match compiled {
        Ok(compiled) => Some(compiled.router),
        Err(e) => {
            errors.push(ConfigError::from_error(routes_at, e));
            None
        }
    }
}

/// What a route does, as a service (the route was checked: it has exactly one target).
fn target(
    route: &RouteConfig,
    groups: &BTreeMap<&str, Group>,
    rules: Option<&RewriteLayer>,
    cache: Option<&CacheLayer>,
) -> Route {
    #[cfg(feature = "files")]
    if let Some(files) = &route.files {
        let service = crate::files::ServeDir::from_config(files.clone());
        return with_rules(rules, service);
    }
    if let Some(group) = route.upstream.as_deref().and_then(|name| groups.get(name)) {
        return group.route(rules, cache);
    }
    if let Some(redirect) = &route.redirect {
        if let Ok(service) = redirect.service() {
            let service = match (redirect.keep_path, route.strips_prefix()) {
                (false, _) => service,
                // Under a mount the path is already what follows the prefix.
                (true, true) => service.keep_path(),
                (true, false) => service.keep_path_after(route.prefix().unwrap_or_default()),
            };
            return with_rules(rules, service);
        }
    }
    with_rules(rules, EchoService::new())
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
    let mut identity: Vec<&str> = proxies.filter_map(|p| p.user_header.as_deref()).collect();
    #[cfg(feature = "auth")]
    identity.extend(
        config
            .auth
            .as_ref()
            .and_then(|a| a.forward_user_header.as_deref()),
    );
    if let Some(forward) = &config.forward_auth {
        identity.extend(forward.copy_headers.iter().map(String::as_str));
        identity.extend(forward.user_header.as_deref());
    }
    for name in identity {
        if let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) {
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

/// An auth error at the key it is about.
#[cfg(feature = "auth")]
fn auth_error(at: KeyPath, e: crate::auth::basic::BasicAuthConfigError) -> ConfigError {
    use crate::auth::basic::BasicAuthConfigError as E;
    let key = match e {
        E::InvalidHeaderName { .. } => "forward_user_header",
        E::InvalidMethod { .. } => "exempt_methods",
        E::InvalidExemptPath { .. } => "exempt_paths",
        E::InvalidIpv6Prefix { .. } => "failure_ipv6_prefix",
        E::InvalidTokenHeader { .. } => "token_header",
        E::Tokens(_) => "tokens",
        _ => "htpasswd",
    };
    ConfigError::from_error(at.key(key), e)
}

/// A rewrite error at the rule it names: `rewrite.request[2]`.
fn rewrite_error(at: KeyPath, e: RewriteError) -> ConfigError {
    let position = match &e {
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
    ConfigError::from_error(at, e)
}
