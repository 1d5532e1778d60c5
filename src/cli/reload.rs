//! `tollgate reload FILE`: check a configuration file, then ask the running `tollgate run` of
//! that file to load it, through its control socket, and report what it answered: applied,
//! or refused and why (exit status 1), like `caddy reload`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use tollgate::body::BoxError;

/// Arguments of `tollgate reload`.
#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// The configuration file the gateway runs (TOML). It is checked first: a file with
    /// errors is reported here and the gateway is not disturbed.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The gateway to reload, by process id. Default: the gateway of this user that runs
    /// FILE (found through the control sockets, or the file's `pid_file`).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
}

/// Checks the file, asks the gateway to reload it and prints the outcome.
pub async fn run(args: ReloadArgs) -> Result<(), BoxError> {
    let config = super::check::validate(&args.file).await?;
    outcome(&args, config.pid_file.as_deref()).await
}

#[cfg(unix)]
async fn outcome(args: &ReloadArgs, pid_file: Option<&Path>) -> Result<(), BoxError> {
    use tollgate::gateway::control::{self, Command};
    let shown = args.file.display();
    let pid = match (args.pid, pid_file) {
        (Some(pid), _) => Some(pid),
        (None, Some(pid_file)) => Some(read_pid(pid_file)?),
        (None, None) => None,
    };
    let socket = match pid {
        Some(pid) => control::socket_path(pid),
        None => only_gateway_of(&args.file).await?,
    };
    let status = control::request(&socket, Command::Status)
        .await
        .map_err(|e| not_a_gateway(pid, &socket, &e))?;
    let wanted = control::absolute(&args.file);
    if status.file != wanted {
        return Err(format!(
            "process {} runs {}, not {}: nothing was reloaded (pass the file it runs, or the \
             --pid of the gateway that runs this one)",
            status.pid,
            status.file.display(),
            wanted.display()
        )
        .into());
    }
    let reply = control::request(&socket, Command::Reload).await?;
    if reply.ok {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{shown}: reloaded; process {} runs it now",
            reply.pid
        );
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    for e in &reply.errors {
        let place = match (e.line, e.column) {
            (Some(line), Some(col)) => format!("{shown}:{line}:{col}"),
            _ => shown.to_string(),
        };
        let _ = writeln!(err, "{place}: error: {}", e.message);
    }
    let n = reply.errors.len();
    Err(format!(
        "{shown}: reload refused by process {} ({n} error{}); the running configuration stays",
        reply.pid,
        if n == 1 { "" } else { "s" }
    )
    .into())
}

/// The control socket of the one gateway of this user that runs `file`.
#[cfg(unix)]
async fn only_gateway_of(file: &Path) -> Result<PathBuf, BoxError> {
    use tollgate::gateway::control;
    let found = control::find(file).await?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "no running gateway of this user runs {} (none answers in {}): start it with \
             `tollgate run {}`, or pass --pid PID",
            control::absolute(file).display(),
            control::dir().display(),
            file.display()
        )
        .into()),
        several => {
            let pids: Vec<String> = several
                .iter()
                .filter_map(|s| s.file_stem().map(|p| p.to_string_lossy().into_owned()))
                .collect();
            Err(format!(
                "{} gateways run {} (processes {}): choose one with --pid PID",
                several.len(),
                file.display(),
                pids.join(", ")
            )
            .into())
        }
    }
}

#[cfg(unix)]
fn not_a_gateway(pid: Option<u32>, socket: &Path, e: &std::io::Error) -> BoxError {
    let who = pid.map_or_else(|| "the gateway".to_owned(), |pid| format!("process {pid}"));
    format!(
        "{who} is not a running tollgate gateway of this user: its control socket {} does not \
         answer ({e}); nothing was reloaded",
        socket.display()
    )
    .into()
}

#[cfg(not(unix))]
async fn outcome(_args: &ReloadArgs, _pid_file: Option<&Path>) -> Result<(), BoxError> {
    Err("`tollgate reload` needs a Unix control socket; restart the gateway instead".into())
}

fn read_pid(path: &Path) -> Result<u32, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the pid file {}: {e} (is `tollgate run` running with this file?)",
            path.display()
        )
    })?;
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| {
            format!(
                "the pid file {} holds {:?}, not a process id",
                path.display(),
                text.trim()
            )
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::read_pid;

    #[test]
    fn pid_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pid");
        std::fs::write(&path, "1234\n").unwrap();
        assert_eq!(read_pid(&path).unwrap(), 1234);
        std::fs::write(&path, "nope").unwrap();
        assert!(read_pid(&path)
            .unwrap_err()
            .to_string()
            .contains("not a process id"));
        std::fs::write(&path, "-1").unwrap();
        assert!(read_pid(&path).is_err());
        let missing = read_pid(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read the pid file"), "{missing}");
    }
}
