//! One origin: the host a request is routed on, the host rewrite templates render, the host
//! `req.host()` reports and the host the upstream is told are the same host, trusted
//! `X-Forwarded-Host` or not (`docs/security.md`, "The client's origin").
//!
//! The library's stack as the gateway orders it (inbound, forwarded, rewrite, dispatch, proxy)
//! on a real socket, in front of a recording upstream.

use std::net::SocketAddr;
use std::time::Duration;

use tollgate::dispatch::{Dispatch, IntoRoute};
use tollgate::forwarded::{ForwardedConfig, ForwardedLayer, Trust};
use tollgate::inbound::{InboundConfig, InboundLayer};
use tollgate::proxy::{Proxy, Upstream as ProxyTarget};
use tollgate::rewrite::{RewriteConfig, RewriteLayer, Rule};
use tollgate::{handler, Request, Response};
use tower::ServiceBuilder;

use crate::support::*;

/// Answers which route took the request, with what `req.host()` said and what the `{host}`
/// template rendered before routing.
fn reporter(route: &'static str) -> impl IntoRoute {
    handler::from_fn(move |req: Request| async move {
        let template = req.header("x-template-host").unwrap_or("-");
        let host = req.host().unwrap_or("-");
        Response::text(format!("route={route} host={host} template={template}"))
    })
}

/// The gateway: `trust` names the proxies whose forwarding headers count; the peer of every
/// test request is 127.0.0.1.
async fn gateway_trusting(trust: &str, upstream: &Upstream) -> SocketAddr {
    let trust = Trust::Proxies(vec![trust.parse().expect("a network")]);
    let forwarded = ForwardedConfig::default().trust(trust.clone()).x_host(true);
    let rewrite = RewriteConfig::new().request(Rule::set("x-template-host", "{host}"));
    let proxy = Proxy::new(ProxyTarget::parse(&upstream.url()).expect("the upstream's URL"));
    let routes = Dispatch::new()
        .host("public.example", reporter("public"))
        .host("internal.example", reporter("internal"))
        .host("proxied.example", proxy)
        .fallback(reporter("fallback"))
        .build()
        .expect("a valid table");
    let stack = ServiceBuilder::new()
        .layer(
            InboundLayer::new(&InboundConfig::default())
                .expect("the default policy")
                .trusting(trust),
        )
        .layer(ForwardedLayer::new(forwarded))
        .layer(RewriteLayer::new(&rewrite).expect("valid rules"))
        .service(routes);
    gateway(stack).await
}

/// `GET /` with this `Host` and `X-Forwarded-Host`; the answer's body.
async fn ask(addr: SocketAddr, host: &str, forwarded_host: &str) -> String {
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-Host: {forwarded_host}\r\n\
         Connection: close\r\n\r\n"
    );
    let answer = raw_exchange(addr, raw.as_bytes(), Duration::from_secs(5)).await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    body.to_owned()
}

#[tokio::test]
async fn a_trusted_forwarded_host_routes_templates_and_reports_alike() {
    let up = recording_upstream().await;
    let addr = gateway_trusting("127.0.0.0/8", &up).await;

    let body = ask(addr, "internal.example", "public.example").await;
    assert_eq!(
        body,
        "route=public host=public.example template=public.example"
    );

    ask(addr, "internal.example", "proxied.example").await;
    let seen = up.seen();
    let headers = &seen.last().expect("the upstream was asked").headers;
    assert_eq!(headers["x-forwarded-host"], "proxied.example");
    assert_eq!(headers["x-template-host"], "proxied.example");
}

#[tokio::test]
async fn an_untrusted_forwarded_host_is_ignored_by_all_three() {
    let up = recording_upstream().await;
    // The peer, 127.0.0.1, is not in the trusted network.
    let addr = gateway_trusting("10.0.0.0/8", &up).await;

    let body = ask(addr, "internal.example", "public.example").await;
    assert_eq!(
        body,
        "route=internal host=internal.example template=internal.example"
    );

    ask(addr, "proxied.example", "public.example").await;
    let seen = up.seen();
    let headers = &seen.last().expect("the upstream was asked").headers;
    assert_eq!(headers["x-forwarded-host"], "proxied.example");
    assert_eq!(headers["x-template-host"], "proxied.example");
}
