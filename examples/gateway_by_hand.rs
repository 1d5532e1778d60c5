//! The gateway `examples/tollgate.toml` describes, built by hand from the library's public
//! pieces, with no `config` and no `gateway` module: the same layers in the same order, and the
//! same routes as one `dispatch` table. `tollgate run examples/tollgate.toml` serves this on
//! its first listener; `tests/gateway_by_hand.rs` sends both the same requests.
//!
//! ```text
//! cargo run --example gateway_by_hand                     # serves on 127.0.0.1:8000
//! curl -u ada:secret http://127.0.0.1:8000/echo           # what an upstream would receive
//! curl -i http://127.0.0.1:8000/old/x                      # 308 to /app/x
//! curl -i -X POST -u ada:secret http://127.0.0.1:8000/static/x   # 405, Allow: GET, HEAD, OPTIONS
//! ```
//!
//! `--bind ADDR` (or `TOLLGATE_BIND`) changes the address. The upstream groups are the file's:
//! `app` on 127.0.0.1:9001 and :9002, `api` on 127.0.0.1:9003/v1 (a 502 until something
//! listens there). Run it from the repository root: the credentials file and the static
//! directory are relative paths.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use tollgate::acl::AclLayer;
use tollgate::auth::basic::{BasicAuthConfig, BasicAuthLayer};
use tollgate::body::BoxError;
use tollgate::dispatch::{any, get, Dispatch, Dispatcher, MountSlash, Route};
use tollgate::echo::EchoService;
use tollgate::files::{ServeDir, ServeDirConfig};
use tollgate::forwarded::{ForwardedConfig, ForwardedLayer, Headers, Trust};
use tollgate::health::HealthLayer;
use tollgate::inbound::{InboundConfig, InboundLayer};
use tollgate::metrics::Metrics;
use tollgate::normalize::{Action, NormalizeConfig, NormalizeLayer, QueryConfig};
use tollgate::proxy::balance::{BalanceConfig, Balanced, HealthCheck, Policy};
use tollgate::proxy::{ForwardedHeaders, HostPolicy, Proxy, ProxyConfig, Upstream};
use tollgate::ratelimit::RateLimitLayer;
use tollgate::redirect::Redirect;
use tollgate::rewrite::presets::Preset;
use tollgate::rewrite::{RequestIdConfig, RewriteConfig, RewriteLayer, Rule};
use tollgate::{serve, Body};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceBuilder};

/// The whole gateway as one cloneable service.
pub type Gateway = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Where the upstream groups are.
pub struct Upstreams {
    /// The `app` group: balanced by least requests, with active health checks.
    pub app: Vec<Upstream>,
    /// The `api` group's one server (a base path is allowed).
    pub api: Upstream,
}

impl Upstreams {
    /// The file's addresses.
    pub fn from_the_file() -> Result<Self, BoxError> {
        Ok(Upstreams {
            app: vec![
                "http://127.0.0.1:9001".parse()?,
                "http://127.0.0.1:9002".parse()?,
            ],
            api: "http://127.0.0.1:9003/v1".parse()?,
        })
    }
}

/// `[proxy]`: the options of every group without its own.
fn proxy_options() -> ProxyConfig {
    let mut proxy = ProxyConfig::default();
    proxy.host = HostPolicy::Rewrite;
    proxy.forwarded = ForwardedHeaders::XForwarded;
    proxy.via = Some("tollgate".to_owned());
    proxy.connect_timeout = Duration::from_secs(5);
    proxy.first_byte_timeout = Duration::from_secs(60);
    proxy.idle_timeout = Duration::from_secs(60);
    proxy.max_body = Some(10 * 1024 * 1024);
    proxy.rewrite_redirects = true;
    proxy.rewrite_cookies = true;
    proxy.pool_idle_timeout = Duration::from_secs(90);
    proxy.user_header = Some("X-Forwarded-User".to_owned());
    proxy.pass_authorization = false;
    proxy
}

/// `[upstreams.app]` and `[upstreams.api]`.
fn upstream_groups(upstreams: &Upstreams) -> Result<(Balanced, Proxy), BoxError> {
    let balance = BalanceConfig {
        policy: Policy::LeastRequests,
        max_fails: 3,
        fail_timeout: Duration::from_secs(10),
        retries: 1,
        health_check: Some(HealthCheck {
            path: "/healthz".to_owned(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
        }),
    };
    let app = Balanced::new(upstreams.app.clone(), proxy_options(), balance)?;
    // Its own proxy table replaces `[proxy]` as a whole.
    let mut api_options = ProxyConfig::default();
    api_options.host = HostPolicy::Preserve;
    api_options.first_byte_timeout = Duration::from_secs(5);
    let api = Proxy::with_config(upstreams.api.clone(), api_options)?;
    Ok((app, api))
}

/// `[[routes]]` as one table: the host of its own first, then the longest prefix, then the
/// method. Each route is named as metrics label it.
fn routes(app: Balanced, api: Proxy) -> Result<Dispatcher, BoxError> {
    let legacy = Redirect::permanent("/app").keep_path_after("/old");
    let mut static_dir = ServeDirConfig::default();
    static_dir.dir = "tests/fixtures".into();
    static_dir.listing = false;
    static_dir.index_file = Some("index.html".to_owned());
    let debug = RewriteLayer::new(&RewriteConfig::new().request(Rule::set("X-Debug", "yes")))?;
    let hostless = Dispatch::new()
        // `/api` is served as the mount's `/`, no redirect to `/api/`.
        .mount_slash(MountSlash::Serve)
        .prefix("/old", any(Route::new(legacy).named("legacy")))
        // GET also takes HEAD; other methods are a 405 with `Allow`.
        .mount(
            "/static",
            get(Route::new(ServeDir::from_config(static_dir)).named("/static")),
        )
        .mount("/api", any(Route::new(api.clone()).named("api")))
        .prefix(
            "/echo",
            any(Route::new(
                AclLayer::new()
                    .allow_user("ada")
                    .layer(debug.layer(EchoService::new())),
            )
            .named("/echo")),
        )
        .fallback(any(Route::new(app).named("app")))
        .build()?;
    Ok(Dispatch::new()
        .host("api.localhost", any(Route::new(api).named("api-host")))
        .fallback(hostless)
        .build()?)
}

/// The gateway of `examples/tollgate.toml`'s first listener, counting into `metrics`.
///
/// # Errors
///
/// A credentials file, a static directory or an upstream that cannot be used.
pub fn gateway(upstreams: &Upstreams, metrics: &Metrics) -> Result<Gateway, BoxError> {
    let (app, api) = upstream_groups(upstreams)?;
    let router = routes(app, api)?;

    // `[forwarded]`: believe X-Forwarded-For and -Proto from these proxies only.
    let trust = Trust::Proxies(vec!["127.0.0.1/32".parse()?, "10.0.0.0/8".parse()?]);
    let forwarded = ForwardedConfig::default()
        .trust(trust.clone())
        .headers(Headers::XForwarded)
        .x_for(true)
        .x_proto(true)
        .x_host(false)
        .x_port(false)
        .x_prefix(false);

    // `[inbound]`, with the headers the gateway vouches for: the user header of `[auth]` and
    // `[proxy]`, and those its header rules set.
    let inbound = InboundLayer::new(&InboundConfig::default())?
        .trusting(trust)
        .identity(http::HeaderName::from_static("x-forwarded-user"))
        .rule_header(http::HeaderName::from_static("x-real-ip"))
        .rule_header(http::HeaderName::from_static("x-request-id"))
        .rule_header(http::HeaderName::from_static("x-debug"));

    // `[normalize]`.
    let normalize = NormalizeConfig::default()
        .action(Action::Rewrite)
        .host(true)
        .query(
            QueryConfig::default()
                .normalize(true)
                .sort(false)
                .drop_empty(false),
        );

    // `[rewrite]`.
    let rewrite = RewriteConfig::new()
        .preset(Preset::HideServer)
        .preset(Preset::SecurityHeaders)
        .request_id(RequestIdConfig::default())
        .request(Rule::remove_prefix("X-Internal-"))
        .request(Rule::set("X-Real-IP", "{client_addr}"))
        .response(Rule::set("Cache-Control", "no-store").when_path_prefix("/api"));

    // `[auth]`.
    let auth = BasicAuthConfig {
        realm: "tollgate example".to_owned(),
        htpasswd: Some("examples/users.htpasswd".into()),
        allow_legacy_hashes: false,
        reload_interval: Duration::from_secs(5),
        strip_authorization: true,
        forward_user_header: Some("X-Forwarded-User".to_owned()),
        exempt_paths: vec!["/static/*".into(), "/old".into(), "/old/*".into()],
        exempt_methods: vec!["OPTIONS".into()],
        cache_ttl: Duration::from_secs(300),
        cache_max_entries: 10_000,
        max_queued_verifications: 64,
        lockout: Some("5/60s".parse()?),
        max_failures_per_peer: Some(20),
        failure_window: Duration::from_secs(60),
        ..BasicAuthConfig::default()
    };

    // The metrics layer names each request's route before auth runs, so a 401 counts under
    // the route the request was for (a second lookup in the same table).
    let names = router.clone();
    let unmatched: Arc<str> = Arc::from("unmatched");
    let label =
        metrics.layer_with(move |head| names.route_name(head).unwrap_or_else(|| unmatched.clone()));

    let stack = ServiceBuilder::new()
        .layer(inbound)
        .layer(HealthLayer::new("/healthz"))
        .layer(ForwardedLayer::new(forwarded))
        .layer(NormalizeLayer::new(normalize))
        .layer(label)
        // `[rate_limit]`.
        .layer(RateLimitLayer::per_client("100/s".parse()?))
        .layer(RewriteLayer::new(&rewrite)?)
        // A panic below becomes a `500` naming the request id rewrite made.
        .layer(tollgate::filter::CatchPanicLayer::new())
        .layer(BasicAuthLayer::from_config(&auth)?)
        .service(router);
    Ok(BoxCloneSyncService::new(stack))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let gateway = gateway(&Upstreams::from_the_file()?, &Metrics::new())?;
    let bind = serve::bind_addr_from(
        std::env::args().skip(1),
        std::env::var("TOLLGATE_BIND").ok(),
    );
    serve::bind(bind, gateway).await?;
    Ok(())
}
