//! `tollgate check FILE` as an operator runs it: every error of every phase in one run (types,
//! the checks between sections, the files the configuration names), and whether each
//! listener's address can be bound.

mod support;

use std::path::Path;

use support::{dead_port, run_to_end, temp_dir};

async fn check(file: &Path) -> (bool, String) {
    run_to_end(&["check", file.to_str().expect("UTF-8 temporary path")]).await
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test]
async fn every_error_of_every_phase_in_one_run() {
    let tmp = temp_dir();
    let file = tmp.path().join("tollgate.toml");
    // The three errors docs/config.md shows: a type error, a route to a missing group, and
    // a certificate whose key does not fit; plus a wrong route and a missing directory.
    let text = format!(
        r#"[[listen]]
bind = "{}"

[[listen]]
bind = "{}"
tls = {{ cert = "{}", key = "{}" }}

[auth]
exempt_path = ["/x"]

[upstreams.app]
servers = ["http://127.0.0.1:9"]

[[routes]]
path = "/files"
files = {{ dir = "/no/such/directory" }}

[[routes]]
path = "/a"
upstreem = "app"

[[routes]]
upstream = "api"
"#,
        dead_port(),
        dead_port(),
        fixture("cert.pem"),
        fixture("other-key.pem"),
    );
    std::fs::write(&file, text).unwrap();
    let (ok, out) = check(&file).await;
    assert!(!ok, "{out}");
    for (line, needle) in [
        (9, "unknown field `exempt_path`"),
        (20, "unknown field `upstreem`"),
        (23, "no upstream group named `api`"),
        (6, "do not fit"),
        (16, "/no/such/directory is not a directory"),
    ] {
        let found = out
            .lines()
            .any(|l| l.contains(&format!("tollgate.toml:{line}:")) && l.contains(needle));
        assert!(found, "no `{needle}` at line {line} in:\n{out}");
    }
    assert!(out.contains("tollgate.toml: 5 errors"), "{out}");
}

#[tokio::test]
async fn a_wrong_group_is_reported_once_not_again_for_its_routes() {
    let tmp = temp_dir();
    let file = tmp.path().join("tollgate.toml");
    let text = format!(
        "[[listen]]\nbind = \"{}\"\n\n[upstreams.api]\nservers = [\"http://127.0.0.1:9\"]\n\
         retries = 1\n\n[[routes]]\nupstream = \"api\"\n",
        dead_port()
    );
    std::fs::write(&file, text).unwrap();
    let (ok, out) = check(&file).await;
    assert!(!ok, "{out}");
    assert!(out.contains("unknown field `retries`"), "{out}");
    assert!(
        !out.contains("no upstream group"),
        "a consequence, not an error: {out}"
    );
    assert!(out.contains("1 error"), "{out}");
}

#[tokio::test]
async fn check_says_which_addresses_can_be_bound() {
    let tmp = temp_dir();
    let file = tmp.path().join("tollgate.toml");
    let free = dead_port();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    let text = format!(
        "[[listen]]\nbind = \"{free}\"\n\n[[listen]]\nbind = \"{busy_addr}\"\n\n[[routes]]\necho = true\n"
    );
    std::fs::write(&file, &text).unwrap();
    let (ok, out) = check(&file).await;
    // In use is a warning (the running gateway may hold it), not an error.
    assert!(ok, "{out}");
    assert!(out.contains("tollgate.toml: ok\n"), "{out}");
    assert!(
        out.contains(&format!(
            "tollgate.toml:5:8: warning: [listen[1].bind] {busy_addr} is in use now"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "tollgate.toml: these addresses can be bound: {free}\n"
        )),
        "{out}"
    );

    // An address of no interface of this machine (TEST-NET-1) is an error.
    let text = text.replace(&busy_addr.to_string(), "192.0.2.1:8080");
    std::fs::write(&file, text).unwrap();
    let (ok, out) = check(&file).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("error: [listen[1].bind] 192.0.2.1:8080 cannot be bound"),
        "{out}"
    );
    assert!(out.contains("no interface of this machine"), "{out}");
}
