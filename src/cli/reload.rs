//! `tollgate reload FILE`: check a configuration file, then tell the running `tollgate run`
//! to load it (`SIGHUP` to the process named by the file's `pid_file`), like `nginx -s reload`.

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

    /// The process to reload. Default: the one whose id is in the file's `pid_file`.
    #[arg(long, value_name = "PID")]
    pub pid: Option<i32>,
}

/// Checks the file, then sends `SIGHUP` to the gateway.
pub async fn run(args: ReloadArgs) -> Result<(), BoxError> {
    let config = super::check::validate(&args.file).await?;
    let pid = match args.pid {
        Some(pid) => pid,
        None => {
            let Some(pid_file) = &config.pid_file else {
                return Err(format!(
                    "{} has no `pid_file`, so which process runs it is unknown: add \
                     `pid_file = \"/run/tollgate.pid\"` to it (and restart the gateway), or pass \
                     --pid PID",
                    args.file.display()
                )
                .into());
            };
            read_pid(pid_file)?
        }
    };
    hangup(pid)?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}: ok; sent SIGHUP to process {pid}, which reloads it (its log says `configuration \
         reloaded`)",
        args.file.display()
    );
    Ok(())
}

fn read_pid(path: &Path) -> Result<i32, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the pid file {}: {e} (is `tollgate run` running with this file?)",
            path.display()
        )
    })?;
    text.trim()
        .parse::<i32>()
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

#[cfg(unix)]
fn hangup(pid: i32) -> Result<(), BoxError> {
    use rustix::process::{kill_process, Pid, Signal};
    let process = Pid::from_raw(pid).ok_or_else(|| format!("{pid} is not a process id"))?;
    kill_process(process, Signal::HUP).map_err(|e| {
        let hint = if e == rustix::io::Errno::SRCH {
            " (no such process: the gateway stopped, or the pid file is stale)"
        } else if e == rustix::io::Errno::PERM {
            " (it belongs to another user: run this as that user)"
        } else {
            ""
        };
        format!("cannot signal process {pid}: {e}{hint}").into()
    })
}

#[cfg(not(unix))]
fn hangup(_pid: i32) -> Result<(), BoxError> {
    Err("`tollgate reload` needs Unix signals; restart the gateway instead".into())
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
