//! Other people's servers on a free loopback port, stopped on drop: Python's `http.server` and
//! nginx (with a temporary configuration), for tests that compare tollgate with them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{eventually, temp_dir};

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A server this test started: its port, the process (stopped on drop) and its directory.
pub struct Peer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Peer {
    /// `python3 -m http.server` serving an empty directory (Debian's `/usr/bin/python3` when
    /// present, else the first `python3` on the path).
    pub async fn python_http() -> Peer {
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let dir = temp_dir();
        let port = free_port();
        let mut command = Command::new(python);
        command
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir.path());
        Peer::start(command, port, dir, "python3 -m http.server").await
    }

    /// nginx answering `200 ok` on every location (`return 200`), logs and temporary files in
    /// its own directory.
    pub async fn nginx() -> Peer {
        let dir = temp_dir();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut command = Command::new("nginx");
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"));
        Peer::start(command, port, dir, "nginx").await
    }

    async fn start(mut command: Command, port: u16, dir: tempfile::TempDir, what: &str) -> Peer {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} runs (.ci/run installs it): {e}"));
        let peer = Peer { port, child, dir };
        let up = eventually(async || TcpStream::connect(("127.0.0.1", port)).await.is_ok()).await;
        assert!(up, "{what} did not listen on port {port}");
        peer
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Its directory (nginx's `error.log` is there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Peer {
    /// `SIGTERM`, then `SIGKILL` if it has not exited within 5 s. Not `SIGKILL` at once:
    /// nginx's workers outlive a killed master (each run of `tests/probe.rs` left one behind,
    /// listening); on `SIGTERM` the master stops them first.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
