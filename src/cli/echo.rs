//! `tollgate echo`: the echo service on a socket.

use clap::Args;
use tollgate::body::BoxError;
use tollgate::echo::EchoService;
use tollgate::serve;

use super::BindArgs;

/// Arguments of `tollgate echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    #[command(flatten)]
    pub bind: BindArgs,
    /// Answer with the request as raw HTTP/1.1 bytes (what a proxy would forward) instead of JSON.
    #[arg(long)]
    pub raw: bool,
}

/// Serves [`EchoService`] until Ctrl-C or `SIGTERM`.
pub async fn run(args: EchoArgs) -> Result<(), BoxError> {
    // `Server::run` installs the signal handlers before it binds.
    serve::bind(&args.bind.bind, EchoService::new().raw(args.raw)).await?;
    Ok(())
}
