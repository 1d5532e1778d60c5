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
}

/// Serves [`EchoService`] until Ctrl-C or `SIGTERM`.
pub async fn run(args: EchoArgs) -> Result<(), BoxError> {
    serve::bind(&args.bind.bind, EchoService::new()).await?;
    Ok(())
}
