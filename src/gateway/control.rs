//! The control socket: how `tollgate reload` asks a running gateway to reload its file and
//! hears whether the new configuration was applied or refused, and why.
//!
//! A signal cannot answer; a socket can. Every `tollgate run` (on Unix) listens on a Unix
//! socket `DIR/PID.sock`, where `DIR` is [`dir`]: `$TOLLGATE_RUNTIME_DIR`, else
//! `$XDG_RUNTIME_DIR/tollgate`, else `/tmp/tollgate-UID`. The directory is made `0700` and
//! refused when another user owns it or others may enter it, so only the user the gateway runs
//! as (and root) can connect, as with `ssh-agent` and `tmux`.
//!
//! The protocol is one line each way: the client sends `status` or `reload`, the gateway
//! answers one JSON object, a [`Reply`].
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! use tollgate::gateway::control;
//!
//! // The gateways of this user that run this file (usually one).
//! for socket in control::find(std::path::Path::new("tollgate.toml")).await? {
//!     let reply = control::request(&socket, control::Command::Reload).await?;
//!     println!("process {}: {}", reply.pid, if reply.ok { "applied" } else { "refused" });
//! }
//! # Ok(()) }
//! ```

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// The longest request line read: the commands are a few bytes.
const MAX_REQUEST: u64 = 64;
/// How long a client waits for an answer: a reload reads and builds the whole file once per
/// worker, which is quick, but a gateway that hangs must not hang `tollgate reload` too.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest answer read: a reload's every error, located.
const MAX_REPLY: u64 = 1 << 20;

/// What a client asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Which process this is and which file it runs.
    Status,
    /// Read the file again and put it in force if it is right.
    Reload,
}

impl Command {
    fn as_str(self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Reload => "reload",
        }
    }
}

/// The gateway's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reply {
    /// The gateway's process id.
    pub pid: u32,
    /// The configuration file it runs, made absolute when it started.
    pub file: PathBuf,
    /// `true` for a status, or a reload that was applied; `false` for a refused reload.
    pub ok: bool,
    /// Why a reload was refused: each error of the file, located.
    #[serde(default)]
    pub errors: Vec<ReplyError>,
}

/// One reason a reload was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplyError {
    /// The line in the file, when the error has a place.
    pub line: Option<usize>,
    /// The column in the file, when the error has a place.
    pub column: Option<usize>,
    /// `[key] message: cause: cause`.
    pub message: String,
}

impl ReplyError {
    /// An error without a place in the file.
    pub fn new(message: impl Into<String>) -> Self {
        ReplyError {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// The reply form of a configuration error: its place, key, message and causes.
    pub fn from_config(e: &crate::config::ConfigError) -> Self {
        let key = if e.path().0.is_empty() {
            String::new()
        } else {
            format!("[{}] ", e.path())
        };
        let causes = std::iter::successors(std::error::Error::source(e), |&c| c.source());
        ReplyError {
            line: e.line(),
            column: e.column(),
            message: causes.fold(format!("{key}{}", e.message()), |text, cause| {
                format!("{text}: {cause}")
            }),
        }
    }
}

/// A reload the run loop performs on behalf of a client: the reply is `Ok` when applied, or
/// the located errors.
pub(super) type ReloadRequest = oneshot::Sender<Result<(), crate::config::ConfigErrors>>;

/// The directory of the control sockets: `$TOLLGATE_RUNTIME_DIR`, else
/// `$XDG_RUNTIME_DIR/tollgate`, else `/tmp/tollgate-UID` (UID the effective user id).
pub fn dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("TOLLGATE_RUNTIME_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("tollgate");
    }
    std::env::temp_dir().join(format!("tollgate-{}", rustix::process::geteuid().as_raw()))
}

/// The control socket of the gateway whose process id is `pid`.
pub fn socket_path(pid: u32) -> PathBuf {
    dir().join(format!("{pid}.sock"))
}

/// Makes [`dir`] (mode `0700`) or checks that it is this user's alone.
///
/// # Errors
///
/// It cannot be made, is not a directory, belongs to another user, or others may enter it.
pub fn ensure_dir() -> io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    let dir = dir();
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => return Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    let me = rustix::process::geteuid().as_raw();
    let problem = if !meta.is_dir() {
        Some("it is not a directory".to_owned())
    } else if meta.uid() != me {
        Some(format!("it belongs to user {}, not {me}", meta.uid()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!(
            "its mode is {:o}, so others may enter it (`chmod 700` it)",
            meta.mode() & 0o777
        ))
    } else {
        None
    };
    match problem {
        None => Ok(dir),
        Some(why) => Err(io::Error::other(format!(
            "the control directory {} is refused: {why}",
            dir.display()
        ))),
    }
}

/// A bound control socket, removed when dropped.
#[derive(Debug)]
pub(super) struct ControlSocket {
    path: PathBuf,
    listener: Option<UnixListener>,
}

impl ControlSocket {
    /// Binds `DIR/PID.sock` for this process.
    pub(super) fn bind() -> io::Result<Self> {
        ensure_dir()?;
        let path = socket_path(std::process::id());
        // A file left by a killed process whose id was ours: nobody can be listening on it.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(ControlSocket {
            path,
            listener: Some(listener),
        })
    }

    /// Answers clients until the process ends: `status` at once, `reload` by asking the run
    /// loop through `reloads`.
    pub(super) fn serve(&mut self, file: PathBuf, reloads: mpsc::Sender<ReloadRequest>) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, usually: wait rather than spin.
                        tracing::debug!(error = %e, "control socket: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                tokio::spawn(answer(stream, file.clone(), reloads.clone()));
            }
        });
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn answer(stream: UnixStream, file: PathBuf, reloads: mpsc::Sender<ReloadRequest>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    if reader.read_line(&mut line).await.is_err() {
        return;
    }
    let mut reply = Reply {
        pid: std::process::id(),
        file,
        ok: true,
        errors: Vec::new(),
    };
    match line.trim() {
        "status" => {}
        "reload" => {
            let (tell, told) = oneshot::channel();
            let stopping = || vec![ReplyError::new("the gateway is stopping")];
            let outcome = match reloads.send(tell).await {
                Ok(()) => match told.await {
                    Ok(done) => {
                        done.map_err(|errors| errors.iter().map(ReplyError::from_config).collect())
                    }
                    Err(_) => Err(stopping()),
                },
                Err(_) => Err(stopping()),
            };
            if let Err(errors) = outcome {
                reply.ok = false;
                reply.errors = errors;
            }
        }
        other => {
            reply.ok = false;
            reply.errors = vec![ReplyError::new(format!(
                "unknown command {:?}: send `status` or `reload`",
                crate::syntax::excerpt(other, 32)
            ))];
        }
    }
    let mut text = serde_json::to_string(&reply).unwrap_or_default();
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
}

/// Sends `command` to the gateway listening on `socket` and returns its answer, waiting at
/// most 60 seconds.
///
/// # Errors
///
/// The socket cannot be reached (no such gateway), no answer came in time, or the answer is
/// not a [`Reply`].
pub async fn request(socket: &Path, command: Command) -> io::Result<Reply> {
    let exchange = exchange(socket, command);
    tokio::time::timeout(ANSWER_WITHIN, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} did not answer within {} s",
                    socket.display(),
                    ANSWER_WITHIN.as_secs()
                ),
            ))
        })
}

async fn exchange(socket: &Path, command: Command) -> io::Result<Reply> {
    let stream = UnixStream::connect(socket).await?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{}\n", command.as_str()).as_bytes())
        .await?;
    let mut line = String::new();
    BufReader::new(read.take(MAX_REPLY))
        .read_line(&mut line)
        .await?;
    serde_json::from_str(&line).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} answered something else than a tollgate gateway would: {e}",
                socket.display()
            ),
        )
    })
}

/// The control sockets of this user's gateways that run `file` (compared as absolute paths),
/// in the order found. Sockets nobody listens on any more (a gateway that was killed) are
/// removed on the way.
///
/// # Errors
///
/// The control directory cannot be read or is not this user's alone ([`ensure_dir`]).
pub async fn find(file: &Path) -> io::Result<Vec<PathBuf>> {
    let wanted = absolute(file);
    let dir = ensure_dir()?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "sock") {
            continue;
        }
        match request(&path, Command::Status).await {
            Ok(reply) if reply.file == wanted => found.push(path),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                let _ = std::fs::remove_file(&path);
            }
            Err(_) => {}
        }
    }
    Ok(found)
}

/// `path` made absolute and resolved (as the gateway records the file it runs); as given,
/// joined to the current directory, when it cannot be resolved.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_and_errors_default_to_none() {
        let reply: Reply = serde_json::from_str(r#"{"pid":7,"file":"/a.toml","ok":true}"#).unwrap();
        assert_eq!(reply.pid, 7);
        assert!(reply.errors.is_empty());
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), reply);
    }

    #[test]
    fn relative_files_are_made_absolute() {
        assert!(absolute(Path::new("no-such-file.toml")).is_absolute());
    }
}
