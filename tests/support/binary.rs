//! The one place the tests start the `tollgate` binary (or a built example): [`Launch`] says
//! how, [`Gateway`] is a running server (ready once it printed its `Serving on` line, killed
//! when dropped), [`run_to_end`] runs a one-shot command. Every wait is bounded by
//! [`TEST_TIMEOUT`].

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{eventually, TEST_TIMEOUT};

/// How to start a program: `tollgate` or a built example, its arguments, environment and
/// standard input. It always runs in the package's root, without `RUST_LOG` or the
/// `TOLLGATE_*` variables of the environment the tests run in.
#[derive(Debug, Clone)]
#[must_use]
pub struct Launch {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
}

impl Launch {
    /// `tollgate ARGS`.
    pub fn tollgate<I, S>(args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        // `option_env!`: test files that never start it still build without the `cli` feature.
        let Some(tollgate) = option_env!("CARGO_BIN_EXE_tollgate") else {
            panic!("the tollgate binary is not built: it needs the `cli` feature");
        };
        Launch::program(tollgate, args)
    }

    /// `PROGRAM ARGS`, e.g. a built example.
    pub fn program<I, S>(program: impl Into<PathBuf>, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Launch {
            program: program.into(),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env: Vec::new(),
            stdin: None,
        }
    }

    /// One more argument (e.g. a path).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for the program.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// What the program reads on its standard input (otherwise nothing: `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Launch {
        self.stdin = Some(bytes.into());
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("RUST_LOG")
            .env_remove("TOLLGATE_BIND")
            .env_remove("TOLLGATE_WORKERS")
            .env_remove("TOLLGATE_LOG")
            .env_remove("TOLLGATE_LOG_FORMAT")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts the program and returns at once, without waiting for anything (for tests of
    /// what happens while it starts); it is killed when dropped. Its standard input, when
    /// given, is written by [`serve`](Self::serve) or [`output`](Self::output).
    pub fn child(&self) -> Child {
        self.command()
            .spawn()
            .unwrap_or_else(|e| panic!("{} runs: {e}", self.program.display()))
    }

    /// Starts the program and writes its standard input, if any, then closes it.
    async fn start(&self) -> Child {
        let mut child = self.child();
        if let Some(bytes) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // A program that does not read its input is not an error here.
            let _ = stdin.write_all(bytes).await;
        }
        child
    }

    /// Starts the program and waits for its first `Serving on` line (the one readiness wait).
    ///
    /// # Panics
    ///
    /// When no such line comes within [`TEST_TIMEOUT`] or the program ends first; the message
    /// shows its log.
    pub async fn serve(self) -> Gateway {
        let mut child = self.start().await;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (tell, serving) = watch::channel(Stdout::default());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // With `--log-format json` the line is `{"message": "Serving on ..."}`.
                let text = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| line.clone());
                tell.send_modify(|out| {
                    if text.starts_with("Serving on ") {
                        out.serving.push(text);
                    }
                    out.lines.push(line);
                });
            }
            tell.send_modify(|out| out.closed = true);
        });
        let mut gateway = Gateway {
            child,
            addr: String::new(),
            log,
            serving,
            stderr: Some(stderr),
        };
        let first = gateway
            .wait_for_stdout(|out| out.serving.first().cloned())
            .await;
        let Some(first) = first else {
            let log = gateway.stop().await;
            panic!(
                "{} never printed `Serving on`; log: {log}",
                self.program.display()
            );
        };
        gateway.addr = address(&first).to_owned();
        gateway
    }

    /// Runs the program to its end (bounded by [`TEST_TIMEOUT`]) and returns what it printed
    /// and how it exited.
    pub async fn output(self) -> Output {
        let child = self.start().await;
        tokio::time::timeout(TEST_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{} ended within the test timeout", self.program.display()))
            .expect("the program's output is readable")
    }
}

/// What a running program printed on its standard output, as far as the tests care.
#[derive(Debug, Default)]
struct Stdout {
    /// Its `Serving on SCHEME://ADDR` lines, in order (the message of a JSON line).
    serving: Vec<String>,
    /// Every line, as printed.
    lines: Vec<String>,
    /// Whether it closed its standard output (it ended).
    closed: bool,
}

/// The `host:port` of a `Serving on SCHEME://host:port` line.
fn address(line: &str) -> &str {
    line.split_once("://").map_or(line, |(_, addr)| addr)
}

/// A running `tollgate` (or example), the address it serves on and what it has logged.
/// Dropping it kills the process.
pub struct Gateway {
    pub child: Child,
    /// The `host:port` of its first `Serving on` line.
    pub addr: String,
    log: Arc<Mutex<String>>,
    serving: watch::Receiver<Stdout>,
    /// Ends when the child closes its stderr: the whole log is in `log` then.
    stderr: Option<JoinHandle<()>>,
}

impl Gateway {
    /// Starts `tollgate ARGS` (with `--bind 127.0.0.1:0` unless given) and waits for its
    /// `Serving on` line.
    pub async fn start(args: &[&str]) -> Gateway {
        let mut all: Vec<&str> = args.to_vec();
        if !args.contains(&"--bind") {
            all.extend(["--bind", "127.0.0.1:0"]);
        }
        Self::spawn(&all).await
    }

    /// Writes `toml` to `dir/gateway.toml` and starts `tollgate run` on it (with `before`
    /// arguments first, e.g. `--log info`).
    pub async fn run_file(dir: &Path, toml: &str, before: &[&str]) -> Gateway {
        let file = dir.join("gateway.toml");
        std::fs::write(&file, toml).unwrap();
        Launch::tollgate(before).arg("run").arg(file).serve().await
    }

    /// Starts `tollgate ARGS` as given (e.g. `run FILE`) and waits for its first `Serving on`
    /// line.
    pub async fn spawn(all: &[&str]) -> Gateway {
        Launch::tollgate(all).serve().await
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The address it serves on.
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr.parse().expect("the gateway prints host:port")
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the gateway runs")
    }

    /// What it has logged (standard error) so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Its `Serving on` lines so far, in order.
    pub fn serving(&self) -> Vec<String> {
        self.serving.borrow().serving.clone()
    }

    /// Every line it printed on standard output so far, as printed.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.serving.borrow().lines.clone()
    }

    /// Waits until it printed a `Serving on` line for `addr` (a listener besides the first,
    /// or one started by a reload).
    pub async fn wait_serving(&self, addr: SocketAddr) {
        let addr = addr.to_string();
        let found = self
            .wait_for_stdout(|out| out.serving.iter().any(|l| address(l) == addr).then_some(()))
            .await;
        assert!(
            found.is_some(),
            "no `Serving on` {addr}; log:\n{}",
            self.log()
        );
    }

    /// Waits until what it printed gives `found` an answer; `None` when it ended first.
    async fn wait_for_stdout<T>(&self, found: impl Fn(&Stdout) -> Option<T>) -> Option<T> {
        let log = self.log.clone();
        let mut serving = self.serving.clone();
        let seen = tokio::time::timeout(
            TEST_TIMEOUT,
            serving.wait_for(|out| out.closed || found(out).is_some()),
        )
        .await
        .unwrap_or_else(|_| {
            let log = log.lock().unwrap();
            panic!("no `Serving on` line within the test timeout; log:\n{log}")
        })
        .map(|out| found(&out));
        seen.ok().flatten()
    }

    /// Waits until its log holds `text` at least `times` times.
    pub async fn wait_for_log(&self, text: &str, times: usize) {
        let logged = eventually(async || self.log().matches(text).count() >= times).await;
        assert!(logged, "no {text:?} ×{times} in the log:\n{}", self.log());
    }

    /// Sends it the signal `name` (`TERM`, `HUP`, …) with `kill`.
    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// Waits (bounded) until it exits.
    pub async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(TEST_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within the test timeout; log:\n{}", self.log()))
            .expect("the exit status is readable")
    }

    /// Sends `SIGTERM`, waits for the exit and returns it with the whole log.
    pub async fn terminate(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let exit = self.wait().await;
        (exit, self.stop().await)
    }

    /// The peak resident memory of the process (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Kills it (when still running) and returns what it logged.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(TEST_TIMEOUT, self.child.wait()).await;
        if let Some(task) = self.stderr.take() {
            let _ = tokio::time::timeout(TEST_TIMEOUT, task).await;
        }
        self.log()
    }
}

/// Sends process `pid` the signal `name` (`TERM`, `HUP`, …) with `kill` (procps; `.ci/run`
/// installs it).
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs (apt-get install procps; .ci/run does it)");
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

/// Runs `tollgate ARGS` to the end (bounded): whether it succeeded, and its stdout then
/// stderr.
pub async fn run_to_end(args: &[&str]) -> (bool, String) {
    let out = Launch::tollgate(args).output().await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs the gateway to the end and returns what it printed when it fails to start.
pub async fn start_failure(args: &[&str]) -> String {
    let (ok, out) = run_to_end(args).await;
    assert!(!ok, "tollgate should have refused to start: {out}");
    out
}
