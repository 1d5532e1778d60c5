//! `tollgate run FILE`: the gateway a configuration file describes, reloaded on `SIGHUP`.

use std::path::PathBuf;

use clap::Args;
use tollgate::body::BoxError;

/// Arguments of `tollgate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (TOML), e.g. `examples/tollgate.toml`. `tollgate reload FILE`
    /// reloads it (so does `SIGHUP` to this process); a file with errors is refused and the
    /// running configuration stays.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Serves the file's gateway until Ctrl-C or `SIGTERM`.
pub async fn run(args: RunArgs) -> Result<(), BoxError> {
    tollgate::gateway::run(args.file).await
}
