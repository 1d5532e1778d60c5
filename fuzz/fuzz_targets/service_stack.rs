//! An arbitrary request through the in-process stack: no panic, every answer a valid
//! HTTP/1.1 response, no 5xx for client garbage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::echo::EchoService;
use tollgate::fuzz::{answer, check_answer, FuzzRequest};

fuzz_target!(|req: FuzzRequest| {
    let res = answer(&EchoService::new(), req.into_http());
    check_answer(&res);
});
