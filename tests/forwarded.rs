//! The forwarded layer in front of the echo service, over TCP. The test client connects from
//! 127.0.0.1, so it plays the proxy (when 127.0.0.0/8 is trusted) or a client (when not).

mod support;

use support::{raw_get, start, TestServer};
use tollgate::echo::EchoService;
use tollgate::forwarded::{ForwardedConfig, ForwardedLayer, Headers, Trust};
use tollgate::normalize::NormalizeLayer;
use tower::{Layer, ServiceBuilder};

async fn echo_behind(config: ForwardedConfig) -> TestServer {
    start(ForwardedLayer::new(config).layer(EchoService::new())).await
}

fn nets(list: &[&str]) -> Trust {
    Trust::Proxies(
        list.iter()
            .map(|n| n.parse().expect("valid network"))
            .collect(),
    )
}

async fn client_addr(server: &TestServer, headers: &[(&str, &str)]) -> serde_json::Value {
    let res = raw_get(server.addr, "/", headers).await;
    assert_eq!(res.status, 200, "{}", res.text());
    res.json()["client_addr"].clone()
}

#[tokio::test]
async fn without_trusted_proxies_the_peer_is_the_client() {
    // Only 10.0.0.0/8 is trusted; we connect from 127.0.0.1, so we are a client.
    let server = echo_behind(ForwardedConfig::default().trust(nets(&["10.0.0.0/8"]))).await;
    assert_eq!(
        client_addr(&server, &[("X-Forwarded-For", "203.0.113.5")]).await,
        "127.0.0.1"
    );
    assert_eq!(client_addr(&server, &[]).await, "127.0.0.1");
    // Trusting no hop at all: the same.
    let server = echo_behind(ForwardedConfig::default().trust(Trust::Hops(0))).await;
    assert_eq!(
        client_addr(&server, &[("X-Forwarded-For", "203.0.113.5")]).await,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn a_trusted_proxy_reports_the_client() {
    let server = echo_behind(ForwardedConfig::default().trust(nets(&["127.0.0.0/8"]))).await;
    assert_eq!(
        client_addr(&server, &[("X-Forwarded-For", "203.0.113.5")]).await,
        "203.0.113.5"
    );
    let server = echo_behind(ForwardedConfig::default().trust(Trust::Hops(1))).await;
    assert_eq!(
        client_addr(&server, &[("X-Forwarded-For", "203.0.113.5")]).await,
        "203.0.113.5"
    );
}

#[tokio::test]
async fn a_spoofed_entry_is_not_the_client() {
    // The client sent `X-Forwarded-For: 6.6.6.6`; the trusted proxy (us) appended its peer.
    for trust in [nets(&["127.0.0.0/8", "10.0.0.0/8"]), Trust::Hops(1)] {
        let server = echo_behind(ForwardedConfig::default().trust(trust)).await;
        let forged = [("X-Forwarded-For", "6.6.6.6, 203.0.113.5")];
        assert_eq!(client_addr(&server, &forged).await, "203.0.113.5");
        // Two lines, as some proxies append them, are one list.
        let two = [
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-For", "203.0.113.5"),
        ];
        assert_eq!(client_addr(&server, &two).await, "203.0.113.5");
    }
}

#[tokio::test]
async fn several_proxies() {
    // Client → 198.51.100.1 (edge, trusted) → 10.0.0.7 (internal, trusted) → us.
    let trust = nets(&["127.0.0.0/8", "10.0.0.0/8", "198.51.100.1/32"]);
    let server = echo_behind(ForwardedConfig::default().trust(trust)).await;
    let chain = [(
        "X-Forwarded-For",
        "6.6.6.6, 203.0.113.5, 198.51.100.1, 10.0.0.7",
    )];
    assert_eq!(client_addr(&server, &chain).await, "203.0.113.5");
    let server = echo_behind(ForwardedConfig::default().trust(Trust::Hops(3))).await;
    assert_eq!(client_addr(&server, &chain).await, "203.0.113.5");
}

#[tokio::test]
async fn forwarded_header_with_ipv6_obfuscated_and_unknown() {
    let config = ForwardedConfig::default()
        .trust(nets(&["127.0.0.0/8"]))
        .headers(Headers::Forwarded);
    let server = echo_behind(config).await;
    let v6 = [(
        "Forwarded",
        r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https"#,
    )];
    assert_eq!(client_addr(&server, &v6).await, "2001:db8:cafe::17");
    // No address for an obfuscated or unknown client: the peer stands in.
    for node in ["_hidden", "unknown"] {
        let value = format!("for={node}");
        assert_eq!(
            client_addr(&server, &[("Forwarded", &value)]).await,
            "127.0.0.1",
            "{node}"
        );
    }
    // Malformed: ignored, not a 500.
    assert_eq!(
        client_addr(&server, &[("Forwarded", "for=\"oops")]).await,
        "127.0.0.1"
    );
}

#[tokio::test]
async fn prefix_reaches_script_name() {
    let config = ForwardedConfig::default()
        .trust(Trust::Hops(1))
        .x_prefix(true);
    let server = echo_behind(config).await;
    let res = raw_get(server.addr, "/x", &[("X-Forwarded-Prefix", "/app/")]).await;
    assert_eq!(res.json()["script_name"], "/app");
}

#[tokio::test]
async fn forwarded_then_normalize_in_front_of_echo() {
    let svc = ServiceBuilder::new()
        .layer(ForwardedLayer::trusted_proxies(["127.0.0.1/32"
            .parse()
            .expect("valid")]))
        .layer(NormalizeLayer::default())
        .service(EchoService::new());
    let server = start(svc).await;
    let res = raw_get(
        server.addr,
        "/a/../b//c",
        &[("X-Forwarded-For", "6.6.6.6, 2001:db8::5")],
    )
    .await;
    let echo = res.json();
    assert_eq!(echo["path"], "/b/c");
    assert_eq!(echo["client_addr"], "2001:db8::5");
}
