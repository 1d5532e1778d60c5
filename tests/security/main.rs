//! The trust boundaries of the gateway, tried as an attacker would: each test runs the real
//! `tollgate` binary (or the library's stack on a real socket) in front of a real upstream
//! process that records what it receives, and asserts what the upstream can and cannot be
//! made to see. `docs/security.md` states the model these tests hold the code to.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod headers;
mod origin;
mod proxy;
mod serve;
