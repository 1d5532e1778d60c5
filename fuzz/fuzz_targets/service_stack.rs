//! An arbitrary request through the in-process gateway stack (forwarded → normalize → echo;
//! the other layers join as they land): no panic, every answer a valid HTTP/1.1 response, no
//! 5xx for client garbage.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::echo::EchoService;
use tollgate::forwarded::ForwardedLayer;
use tollgate::fuzz::{answer, check_answer, FuzzRequest};
use tollgate::normalize::{NormalizeConfig, NormalizeLayer};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

type Stack = BoxCloneSyncService<
    http::Request<tollgate::Body>,
    http::Response<tollgate::Body>,
    std::convert::Infallible,
>;

fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let svc = ServiceBuilder::new()
            .layer(ForwardedLayer::hops(1))
            .layer(NormalizeLayer::new(NormalizeConfig::default()))
            .service(EchoService::new());
        BoxCloneSyncService::new(svc)
    })
}

fuzz_target!(|req: FuzzRequest| {
    let res = answer(stack(), req.into_http());
    check_answer(&res);
});
