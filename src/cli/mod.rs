//! Arguments to library calls. No HTTP behaviour lives here: every subcommand builds library
//! types and hands them to [`tollgate::serve`].
//!
//! Adding a subcommand: a file `src/cli/NAME.rs` with `NameArgs` (clap `Args`) and
//! `pub async fn run(args: NameArgs) -> Result<(), BoxError>`, a variant in [`Command`] and an
//! arm in [`run`].

mod acl;
mod check;
mod echo;
mod forward_auth;
mod hash;
mod limits;
mod proxy;
mod reload;
mod run;
mod serve_dir;
mod token;

use clap::{Args, Parser, Subcommand};
use tollgate::body::BoxError;
use tollgate::serve;

/// tollgate: an HTTP toolkit's pieces (echo service, auth gateway, proxy, file server) from the
/// command line.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, propagate_version = true)]
pub struct Cli {
    /// What to log, as a tracing filter (`info`, `debug`, `tollgate=debug,hyper=info`);
    /// `RUST_LOG` wins when set.
    #[arg(
        long,
        global = true,
        value_name = "FILTER",
        env = "TOLLGATE_LOG",
        default_value = "info"
    )]
    pub log: String,

    /// How log lines are written: `plain` text or one `json` object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        env = "TOLLGATE_LOG_FORMAT",
        default_value = "plain"
    )]
    pub log_format: LogFormat,

    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// Parsed once at start-up: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Answer every request with a JSON description of it: method, target, path, query,
    /// headers, cookies, form, JSON body, body length and SHA-256, peer address.
    Echo(echo::EchoArgs),
    /// Hash a password for a credentials file: prints `USER:$argon2id$...` (prompts twice, or
    /// reads one line from standard input when it is not a terminal).
    Hash(hash::HashArgs),
    /// Check a credentials file: each line's hash scheme, or what is wrong with it.
    CheckHtpasswd(hash::CheckHtpasswdArgs),
    /// Make an API token for a user: prints the tokens-file line (a keyed hash, never the
    /// token) on standard output and the token, once, on standard error.
    Token(token::TokenArgs),
    /// Serve a directory like `python3 -m http.server`: listings, ranges, conditional requests,
    /// precompressed `.br`/`.gz` siblings.
    Serve(serve_dir::ServeDirArgs),
    /// Run the gateway: Basic auth, header rules and normalization in front of an upstream
    /// (or of the echo service when no --upstream is given), with TLS if asked.
    Proxy(Box<proxy::ProxyArgs>),
    /// Run the gateway a configuration file describes (listeners, auth, routes, upstream
    /// groups, metrics); `tollgate reload FILE` or `kill -HUP PID` reloads the file.
    Run(run::RunArgs),
    /// Check a configuration file: print every error with its line and column, exit non-zero
    /// if there is one.
    Check(check::CheckArgs),
    /// Check a configuration file, then make the running `tollgate run` reload it (`SIGHUP` to
    /// the process in the file's `pid_file`, or --pid).
    Reload(reload::ReloadArgs),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where a serving subcommand listens.
#[derive(Debug, Clone, Args)]
pub struct BindArgs {
    /// The address to listen on, `host:port` (`0.0.0.0:8000` for every interface).
    #[arg(long, value_name = "ADDR", env = "TOLLGATE_BIND", default_value = serve::DEFAULT_BIND)]
    pub bind: String,
}

/// Runs the parsed command line to completion.
pub fn run(cli: Cli) -> Result<(), BoxError> {
    init_logging(&cli.log, cli.log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Echo(args) => echo::run(args).await,
            Command::Hash(args) => hash::hash(args),
            Command::CheckHtpasswd(args) => hash::check_htpasswd(args),
            Command::Token(args) => token::run(args),
            Command::Serve(args) => serve_dir::run(args).await,
            Command::Proxy(args) => proxy::run(*args).await,
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::run(args).await,
            Command::Reload(args) => reload::run(args).await,
        }
    })
}

/// Logs to standard error; `RUST_LOG` overrides `--log`.
fn init_logging(filter: &str, format: LogFormat) -> Result<(), BoxError> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env)?,
        _ => EnvFilter::try_new(filter)
            .map_err(|e| format!("invalid --log filter {filter:?}: {e}"))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn echo_binds_localhost_8000_by_default() {
        let cli = Cli::try_parse_from(["tollgate", "echo"]).unwrap();
        #[allow(irrefutable_let_patterns)] // until a second subcommand lands
        let Command::Echo(args) = cli.command
        else {
            panic!("parsed as another subcommand")
        };
        assert_eq!(args.bind.bind, "127.0.0.1:8000");
    }

    #[test]
    fn echo_takes_bind() {
        let cli = Cli::try_parse_from(["tollgate", "echo", "--bind", "0.0.0.0:9"]).unwrap();
        #[allow(irrefutable_let_patterns)] // until a second subcommand lands
        let Command::Echo(args) = cli.command
        else {
            panic!("parsed as another subcommand")
        };
        assert_eq!(args.bind.bind, "0.0.0.0:9");
    }
}
