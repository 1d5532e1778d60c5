//! Arguments to library calls. No HTTP behaviour lives here: every subcommand builds library
//! types and hands them to [`tollgate::serve`].
//!
//! Adding a subcommand: a file `src/cli/NAME.rs` with `NameArgs` (clap `Args`) and
//! `pub async fn run(args: NameArgs) -> Result<(), BoxError>`, a variant in [`Command`] and an
//! arm in [`run`].

mod acl;
mod acme;
mod check;
#[cfg(test)]
mod doc_snippets;
mod echo;
mod flags;
mod forward_auth;
mod hash;
mod limits;
mod logging;
mod mtls;
mod package;
mod print_config;
mod probe;
mod proxy;
mod reload;
mod run;
mod self_signed;
mod serve_dir;
mod token;
mod users;

use clap::{Args, Parser, Subcommand};
use tollgate::body::BoxError;
use tollgate::serve;

/// tollgate: an HTTP toolkit's pieces (echo service, auth gateway, proxy, file server) from the
/// command line.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version = package::version(), propagate_version = true)]
pub struct Cli {
    /// What to log: a level (`off`, `error`, `warn`, `info`, `debug`, `trace`) or
    /// TARGET=LEVEL pairs (`tollgate=debug,hyper=info`); `RUST_LOG` wins when set. Colour
    /// only on a terminal, never with `NO_COLOR`.
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

    /// How each request's access-log line is written: `log` (an ordinary log line in
    /// --log-format), `common` or `combined` (Apache's and nginx's formats), or `json` (one
    /// flat object).
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        env = "TOLLGATE_ACCESS_LOG",
        default_value = "log"
    )]
    pub access_log: logging::AccessLogFormat,

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
    /// Hash a password for a credentials file: prints one line, `USER:$argon2id$...`, and its
    /// parameters on standard error (prompts twice, or reads one line from standard input when
    /// it is not a terminal). `tollgate users` edits the file for you.
    Hash(hash::HashArgs),
    /// Check a credentials file: each line's hash scheme, or what is wrong with it.
    CheckHtpasswd(hash::CheckHtpasswdArgs),
    /// Edit a credentials file: `add`, `set`, `remove`, `verify` a user, or `list` them
    /// (atomic rewrite; comments and order kept).
    Users(users::UsersArgs),
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
    /// groups, metrics); `tollgate reload FILE` reloads the file and reports the outcome.
    Run(run::RunArgs),
    /// Check a configuration file: print every error with its line and column, exit non-zero
    /// if there is one.
    Check(check::CheckArgs),
    /// Print the shell completion script (`bash`, `zsh`, `fish`), e.g.
    /// `tollgate completions bash > ~/.local/share/bash-completion/completions/tollgate`.
    Completions(package::CompletionsArgs),
    /// Write the man pages into a directory: `tollgate man target/man`.
    Man(package::ManArgs),
    /// Check a configuration file, then make the running `tollgate run` of that file reload
    /// it; prints whether the gateway applied it or refused it and why (exit status 1).
    Reload(reload::ReloadArgs),
    /// Send a documented corpus of ambiguous HTTP/1.1 requests (request smuggling shapes) to a
    /// server you run and report how it read each; --compare a second server. Exit status 0
    /// when no case showed desynchronization, 2 when one did (the server answered more
    /// requests than were sent, or read the next request as a body), 1 on an error (a bad
    /// URL, a public address without --i-own-the-target). See docs/probe.md.
    Probe(probe::ProbeArgs),
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
    /// The address to listen on: `HOST:PORT`, `:PORT` (every interface) or `PORT`
    /// (127.0.0.1).
    #[arg(
        long,
        value_name = "ADDR",
        env = "TOLLGATE_BIND",
        default_value = serve::DEFAULT_BIND,
        value_parser = flags::bind_addr
    )]
    pub bind: String,
}

/// Runs the parsed command line to completion.
pub fn run(cli: Cli) -> Result<(), BoxError> {
    logging::init(&cli.log, cli.log_format, cli.access_log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Echo(args) => echo::run(args).await,
            Command::Hash(args) => hash::hash(args),
            Command::CheckHtpasswd(args) => hash::check_htpasswd(args),
            Command::Users(args) => users::run(args),
            Command::Token(args) => token::run(args),
            Command::Serve(args) => serve_dir::run(args).await,
            Command::Proxy(args) => proxy::run(*args).await,
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::run(args).await,
            Command::Reload(args) => reload::run(args).await,
            Command::Probe(args) => probe::run(args).await,
            Command::Completions(args) => package::completions(&args),
            Command::Man(args) => package::man(&args),
        }
    })
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
