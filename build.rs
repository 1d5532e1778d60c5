//! Records the git revision a release build of `tollgate` is made from (`tollgate --version`
//! prints `0.1.0 (git 1a2b3c4d5e6f)`), when it is built from a checkout with `git` installed.
//! Debug builds skip it: a revision that changes with every commit would rebuild the whole
//! crate after each one.
//!
//! It also sets `cfg(sendfile)` where `serve` sends files with `sendfile(2)`: Linux, with the
//! `files` feature (`src/sendfile.rs`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(sendfile)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if linux && std::env::var_os("CARGO_FEATURE_FILES").is_some() {
        println!("cargo::rustc-cfg=sendfile");
    }
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let Some(revision) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return;
    };
    // Rebuilt when HEAD moves: a commit, a checkout, a new branch tip.
    let mut watched = vec!["HEAD".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for path in watched {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=TOLLGATE_GIT_REVISION={revision}");
}
