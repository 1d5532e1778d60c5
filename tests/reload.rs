//! `tollgate reload FILE` as an operator runs it: the running `tollgate run` of that file is
//! found (by its file, its `pid_file` or `--pid`), asked through its control socket, and the
//! outcome is printed: applied (exit 0), or refused and why (exit 1). A process that is not a
//! tollgate gateway is never signalled.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use support::{dead_port, eventually, full, send, temp_dir, upstream, Gateway, Launch, Upstream};

/// Where this test's gateways put their control sockets (not the user's own directory).
fn runtime(dir: &Path) -> PathBuf {
    dir.join("run")
}

/// `tollgate --log info run FILE`, its control socket under `dir`.
async fn start(dir: &Path, file: &Path) -> Gateway {
    Launch::tollgate(["--log", "info", "run"])
        .arg(file)
        .env("TOLLGATE_RUNTIME_DIR", runtime(dir))
        .serve()
        .await
}

/// `tollgate reload ARGS`: `(success, stdout + stderr)`.
async fn reload(dir: &Path, args: &[&str]) -> (bool, String) {
    let launch = args
        .iter()
        .fold(Launch::tollgate(["reload"]), |l, a| l.arg(a));
    let out = launch
        .env("TOLLGATE_RUNTIME_DIR", runtime(dir))
        .output()
        .await;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

async fn named(name: &'static str) -> Upstream {
    upstream(move |_req| async move { http::Response::new(full(name)) }).await
}

async fn get(addr: SocketAddr) -> (u16, String) {
    let res = send("GET", &format!("http://{addr}/"), &[] as &[(&str, &str)]).await;
    (res.status.as_u16(), res.text().into_owned())
}

fn config(listen: SocketAddr, server: &str, extra: &str) -> String {
    format!(
        "{extra}\n[[listen]]\nbind = \"{listen}\"\n\n[upstreams.app]\nservers = [\"{server}\"]\n\n\
         [[routes]]\nupstream = \"app\"\n"
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[tokio::test]
async fn reload_reports_applied_or_refused_and_why() {
    let (one, two) = (named("one").await, named("two").await);
    let listen = dead_port();
    let tmp = temp_dir();
    let dir = tmp.path();
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(listen, &one.url(), "")).unwrap();
    let gateway = start(dir, &file).await;
    gateway.wait_serving(listen).await;
    assert_eq!(get(listen).await, (200, "one".to_owned()));

    // A file with an error is reported by `tollgate reload`, with its line; the gateway is
    // not asked at all.
    std::fs::write(&file, config(listen, &two.url(), "upstreem = \"typo\"")).unwrap();
    let (ok, out) = reload(dir, &[path(&file)]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("unknown field `upstreem`"), "{out}");
    assert!(out.contains("tollgate.toml:"), "located: {out}");
    assert!(!gateway.log().contains("reloading"), "{}", gateway.log());

    // Right on its own, refused by the gateway: a new listener on an address in use. The
    // refusal and its reason come back, with exit status 1; the old configuration serves.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    let with_busy =
        config(listen, &two.url(), "") + &format!("\n[[listen]]\nbind = \"{busy_addr}\"\n");
    std::fs::write(&file, with_busy).unwrap();
    let (ok, out) = reload(dir, &[path(&file)]).await;
    assert!(!ok, "a refused reload must fail: {out}");
    assert!(out.contains("reload refused by process"), "{out}");
    assert!(
        out.contains(&busy_addr.to_string()),
        "names the address: {out}"
    );
    assert!(out.contains("in use"), "says why: {out}");
    assert!(out.contains("tollgate.toml:"), "located: {out}");
    assert_eq!(get(listen).await, (200, "one".to_owned()));

    // A good one: applied, said so, in force.
    std::fs::write(&file, config(listen, &two.url(), "")).unwrap();
    let (ok, out) = reload(dir, &[path(&file)]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("reloaded; process {} runs it now", gateway.pid())),
        "{out}"
    );
    assert_eq!(get(listen).await, (200, "two".to_owned()));

    // A graceful stop removes the control socket: the gateway is not found any more.
    gateway.terminate().await;
    let (ok, out) = reload(dir, &[path(&file)]).await;
    assert!(
        !ok && out.contains("no running gateway of this user runs"),
        "{out}"
    );
}

#[tokio::test]
async fn reload_refuses_a_process_that_is_not_a_gateway() {
    let one = named("one").await;
    let tmp = temp_dir();
    let dir = tmp.path();
    let file = dir.join("tollgate.toml");
    std::fs::write(&file, config(dead_port(), &one.url(), "")).unwrap();
    // This test's own process: not a gateway, and never signalled (the test goes on).
    let me = std::process::id().to_string();
    let (ok, out) = reload(dir, &["--pid", &me, path(&file)]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("process {me} is not a running tollgate gateway")),
        "{out}"
    );
    // The same through a pid file that names it.
    let pid_file = dir.join("tollgate.pid");
    std::fs::write(&pid_file, &me).unwrap();
    let extra = format!("pid_file = {:?}", path(&pid_file));
    std::fs::write(&file, config(dead_port(), &one.url(), &extra)).unwrap();
    let (ok, out) = reload(dir, &[path(&file)]).await;
    assert!(
        !ok && out.contains("is not a running tollgate gateway"),
        "{out}"
    );
}

#[tokio::test]
async fn reload_by_pid_checks_that_the_gateway_runs_this_file() {
    let one = named("one").await;
    let listen = dead_port();
    let tmp = temp_dir();
    let dir = tmp.path();
    let (file, other) = (dir.join("a.toml"), dir.join("b.toml"));
    let pid_file = dir.join("a.pid");
    let extra = format!("pid_file = {:?}", path(&pid_file));
    std::fs::write(&file, config(listen, &one.url(), &extra)).unwrap();
    std::fs::write(&other, config(dead_port(), &one.url(), "")).unwrap();
    let gateway = start(dir, &file).await;
    let pid = gateway.pid().to_string();
    let (ok, out) = reload(dir, &["--pid", &pid, path(&other)]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("a.toml, not"), "{out}");
    assert!(!gateway.log().contains("reloading"), "{}", gateway.log());
    // Its own file, through the pid file it wrote.
    let written = eventually(async || pid_file.exists()).await;
    assert!(written, "{}", gateway.log());
    let (ok, out) = reload(dir, &[path(&file)]).await;
    assert!(ok, "{out}");
    gateway.wait_for_log("configuration reloaded", 1).await;
    // A graceful stop removes the pid file.
    gateway.terminate().await;
    assert!(!pid_file.exists(), "the pid file outlived the gateway");
}
