//! What packagers ship beside the binary, checked: `--version`, shell completions, man pages,
//! the hardened systemd unit (`systemd-analyze verify`) and the Dockerfile's shape.

mod support;

use std::path::Path;
use std::process::Command;

use support::{run_to_end, temp_dir};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn version_names_the_release() {
    let (ok, out) = run_to_end(&["--version"]).await;
    assert!(ok, "{out}");
    assert!(
        out.starts_with(&format!("tollgate {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}

#[tokio::test]
async fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, script) = run_to_end(&["completions", shell]).await;
        assert!(ok, "{script}");
        for word in ["reload", "users", "print-config", "access-log"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    // The bash script is valid bash.
    let tmp = temp_dir();
    let file = tmp.path().join("tollgate.bash");
    std::fs::write(&file, run_to_end(&["completions", "bash"]).await.1).unwrap();
    let status = Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .expect("bash runs");
    assert!(status.success());
}

#[tokio::test]
async fn man_pages_for_the_command_and_each_subcommand() {
    let tmp = temp_dir();
    let dir = tmp.path().join("man");
    let (ok, out) = run_to_end(&["man", dir.to_str().unwrap()]).await;
    assert!(ok, "{out}");
    for page in [
        "tollgate.1",
        "tollgate-run.1",
        "tollgate-reload.1",
        "tollgate-proxy.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is a man page");
    }
}

#[test]
fn the_systemd_unit_is_hardened_and_verifies() {
    let unit = std::fs::read_to_string(root().join("contrib/tollgate.service")).unwrap();
    for line in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RuntimeDirectoryMode=0700",
        "ExecReload=/usr/local/bin/tollgate reload ",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "no {line}");
    }
    // `systemd-analyze verify` (Debian: systemd) checks every directive and that the programs
    // exist: the unit points at the binary just built.
    let Some(tollgate) = option_env!("CARGO_BIN_EXE_tollgate") else {
        panic!("the tollgate binary is not built: it needs the `cli` feature");
    };
    let tmp = temp_dir();
    let copy = tmp.path().join("tollgate.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/tollgate", tollgate)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("systemd-analyze runs (Debian: systemd; .ci/run installs it)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    let last = text.rsplit("\nFROM ").next().unwrap();
    assert!(last.contains("COPY --from=build "), "{last}");
    let user = last
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the final stage sets USER");
    assert!(!["root", "0"].contains(&user.trim()), "runs as {user}");
    assert!(
        last.contains("\"--bind\", \":8080\""),
        "listens beyond the container's loopback"
    );
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignored.lines().any(|l| l == "target"), "{ignored}");
}
