//! A second `SIGTERM` (or Ctrl-C) during a graceful shutdown ends the process at once, as an
//! operator who pressed Ctrl-C twice expects: in-flight requests are cut, the exit status is
//! `130`. The first one still lets them finish for up to `shutdown_timeout`.

/// Waits for a second `SIGTERM` or `SIGINT`, then exits the process; call it (spawned) once
/// the first was received. Does nothing where signal handlers cannot be installed.
pub(super) async fn exit_at_once() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("a second signal during shutdown: exiting now, in-flight requests cut");
        std::process::exit(130);
    }
}
