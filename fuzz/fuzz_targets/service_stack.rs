//! An arbitrary request through the in-process gateway stack, as the CLI builds it: inbound →
//! forwarded → normalize → rewrite → Basic auth → dispatch → {echo, static files}. No panic,
//! every answer a valid HTTP/1.1 response, no 5xx for client garbage.
#![no_main]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::auth::basic::BasicAuthLayer;
use tollgate::auth::password::{hash_password_with, Params};
use tollgate::dispatch::{get, Dispatch};
use tollgate::echo::EchoService;
use tollgate::files::{ServeDir, ServeDirConfig};
use tollgate::forwarded::{ForwardedLayer, Trust};
use tollgate::fuzz::{check_service, FuzzRequest};
use tollgate::inbound::{InboundConfig, InboundLayer};
use tollgate::normalize::{NormalizeConfig, NormalizeLayer};
use tollgate::rewrite::presets::Preset;
use tollgate::rewrite::{RequestIdConfig, RewriteConfig, RewriteLayer, Rule};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

type Stack = BoxCloneSyncService<
    http::Request<tollgate::Body>,
    http::Response<tollgate::Body>,
    std::convert::Infallible,
>;

/// A small directory to serve: an index, text, JSON, a hidden file, a subdirectory.
fn static_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-fuzz-static-{}", std::process::id()));
    let files = [
        ("index.html", "<h1>hi</h1>"),
        ("a.txt", "0123456789abcdefghij"),
        ("sub/b.json", "{\"b\": 1}"),
        (".hidden", "secret"),
        ("empty", ""),
    ];
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("files are in the directory"))
            .expect("the temp directory is writable");
        std::fs::write(path, content).expect("the temp directory is writable");
    }
    dir
}

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let mut config = ServeDirConfig::default();
        config.dir = static_dir();
        config.listing = true;
        let files = ServeDir::from_config(config);
        let dispatcher = Dispatch::new()
            .route("/users/{id}", get(EchoService::new()))
            .mount("/static", files)
            .mount("/api", EchoService::new())
            .fallback(EchoService::new())
            .build()
            .expect("the routing table is valid");
        let rewrite = RewriteConfig::new()
            .request_id(RequestIdConfig::default())
            .preset(Preset::HideServer)
            .preset(Preset::SecurityHeaders)
            .request(Rule::remove_prefix("X-Internal-"))
            .request(Rule::set("X-Forwarded-Host", "{host}"))
            .request(Rule::set("X-Client", "{client_addr} {header:Cookie}"));
        // The users of the generator's `Authorization` values, with a cheap hash so the
        // fuzzer runs fast; /static needs no login.
        let cheap = Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        };
        let users: HashMap<String, String> = [
            ("Aladdin", "open sesame"),
            ("aladdin", "opensesame"),
            ("a", "b"),
        ]
        .into_iter()
        .map(|(u, p)| {
            (
                u.to_string(),
                hash_password_with(p, &cheap).expect("cheap params are valid"),
            )
        })
        .collect();
        let auth = BasicAuthLayer::new("fuzz", users).exempt_path("/static");
        let inbound = InboundLayer::new(&InboundConfig::default())
            .expect("no managed names to refuse")
            .trusting(Trust::Hops(1))
            .identity(http::HeaderName::from_static("x-forwarded-user"))
            .rule_header(http::HeaderName::from_static("x-client"));
        let svc = ServiceBuilder::new()
            .layer(inbound)
            .layer(ForwardedLayer::hops(1))
            .layer(NormalizeLayer::new(NormalizeConfig::default()))
            .layer(RewriteLayer::new(&rewrite).expect("the rewrite rules are valid"))
            .layer(auth)
            .service(dispatcher);
        BoxCloneSyncService::new(svc)
    })
}

fuzz_target!(|req: FuzzRequest| {
    check_service(stack(), req);
});
