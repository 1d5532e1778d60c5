//! `tollgate check FILE`: every error of a configuration file, with its line and column, and
//! a warning for each route whose answers changed with the route order rule.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use tollgate::body::BoxError;
use tollgate::config::{self, Config, ConfigError, ConfigErrors, KeyPath};
use tollgate::gateway;
use tollgate::metrics::Metrics;

/// Arguments of `tollgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file (TOML) to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Loads and builds the file without serving it (certificates, keys, CA and credentials files
/// are read) and tries to bind each listener; prints every error as
/// `FILE:LINE:COLUMN: error: message`, each route the route order rule changed and each
/// address in use as a warning, then `FILE: ok` and the addresses that can be bound.
pub async fn run(args: CheckArgs) -> Result<(), BoxError> {
    let config = validate(&args.file).await?;
    let shown = args.file.display().to_string();
    let (free, errors) = probe_binds(&config, &args.file, &shown);
    if !free.is_empty() {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{shown}: these addresses can be bound: {}",
            free.join(", ")
        );
    }
    if errors > 0 {
        return Err(format!(
            "{shown}: {errors} listener address{} cannot be bound",
            if errors == 1 { "" } else { "es" }
        )
        .into());
    }
    let _ = writeln!(std::io::stdout().lock(), "{shown}: ok");
    Ok(())
}

/// The file's configuration if it would serve (its route order warnings printed); else every
/// error printed (of every phase: syntax and types, the checks between sections, the files it
/// names), and a summary.
pub(super) async fn validate(file: &Path) -> Result<Config, BoxError> {
    let shown = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            let error = ConfigError::new(
                KeyPath::root(),
                format!("cannot read the configuration file {shown}"),
            )
            .with_source(e);
            return Err(report(&shown, ConfigErrors(vec![error])));
        }
    };
    let (partial, mut errors) = config::load_partial(&text);
    if let Some(config) = &partial {
        if let Err(built) = gateway::build(config, &Metrics::new()).await {
            // `build` checks again what `load_partial` checked (without the errors that only
            // follow from a part left out): keep the rest.
            let checked = config.check();
            let same = |a: &ConfigError, b: &ConfigError| {
                a.path() == b.path() && a.message() == b.message()
            };
            let new: Vec<ConfigError> = built
                .locate(&text)
                .0
                .into_iter()
                .filter(|e| !checked.iter().chain(errors.iter()).any(|c| same(c, e)))
                .collect();
            errors.0.extend(new);
            errors.0.sort_by_key(|e| e.line().unwrap_or(usize::MAX));
        }
    }
    match partial {
        Some(config) if errors.is_empty() => {
            print(&shown, "warning", &route_order(&config, &text));
            print(&shown, "warning", &no_users(&config).locate(&text));
            Ok(config)
        }
        _ => Err(report(&shown, errors)),
    }
}

/// A warning when auth is on with a credentials file that holds no user: nobody can log in.
fn no_users(config: &Config) -> ConfigErrors {
    use tollgate::auth::htpasswd::{check, HtpasswdOptions};
    let Some(file) = config.auth.as_ref().and_then(|a| a.htpasswd.as_ref()) else {
        return ConfigErrors(Vec::new());
    };
    let text = std::fs::read(file).unwrap_or_default();
    if check(&text, &HtpasswdOptions::default()).next().is_some() {
        return ConfigErrors(Vec::new());
    }
    let at = KeyPath::root().key("auth").key("htpasswd");
    let message = format!(
        "{} holds no users: nobody can log in; add one with `tollgate users add {} USER`",
        file.display(),
        file.display()
    );
    ConfigErrors(vec![ConfigError::new(at, message)])
}

/// Prints every error and makes the summary.
fn report(shown: &str, errors: ConfigErrors) -> BoxError {
    print(shown, "error", &errors);
    let n = errors.len();
    format!("{shown}: {n} error{}", if n == 1 { "" } else { "s" }).into()
}

/// Tries to bind each listener (and the admin listener) and lets go at once: the addresses
/// that can be bound, and how many cannot for a reason other than being in use (printed as
/// errors; an address in use is a warning, since the running gateway may hold it).
fn probe_binds(config: &Config, file: &Path, shown: &str) -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut binds: Vec<(KeyPath, &str)> = config
        .listen
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                KeyPath::root().key("listen").index(i).key("bind"),
                l.bind.as_str(),
            )
        })
        .collect();
    if let Some(admin) = &config.admin {
        binds.push((
            KeyPath::root().key("admin").key("bind"),
            admin.bind.as_str(),
        ));
    }
    let (mut free, mut warnings, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (at, bind) in binds {
        match std::net::TcpListener::bind(bind) {
            Ok(_) => free.push(bind.to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                let port = bind.rsplit(':').next().unwrap_or(bind);
                warnings.push(ConfigError::new(
                    at,
                    format!(
                        "{bind} is in use now: by this gateway if it runs (a reload keeps its \
                         sockets), else by another program (`ss -ltnp 'sport = :{port}'` shows \
                         which)"
                    ),
                ));
            }
            Err(e) => errors.push(ConfigError::new(
                at,
                format!("{bind} cannot be bound: {e}{}", bind_hint(&e)),
            )),
        }
    }
    print(shown, "warning", &ConfigErrors(warnings).locate(&text));
    let n = errors.len();
    print(shown, "error", &ConfigErrors(errors).locate(&text));
    (free, n)
}

fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrNotAvailable => " (no interface of this machine has that address)",
        std::io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need privileges: CAP_NET_BIND_SERVICE, or a port above 1023)"
        }
        _ => "",
    }
}

/// The routes whose answers the route order rule changed, located in `text`.
fn route_order(config: &Config, text: &str) -> ConfigErrors {
    let changes = gateway::route_order_changes(&config.routes)
        .into_iter()
        .map(|change| {
            let at = KeyPath::root().key("routes").index(change.route);
            ConfigError::new(at, format!("route order: {}", change.message))
        })
        .collect();
    ConfigErrors(changes).locate(text)
}

/// One line per error, as compilers print them, with its causes.
fn print(file: &str, level: &str, errors: &ConfigErrors) {
    let mut out = std::io::stderr().lock();
    for e in errors.iter() {
        let place = match (e.line(), e.column()) {
            (Some(line), Some(col)) => format!("{file}:{line}:{col}"),
            _ => file.to_owned(),
        };
        let key = if e.path().0.is_empty() {
            String::new()
        } else {
            format!("[{}] ", e.path())
        };
        let causes = crate::causes(e);
        let _ = writeln!(out, "{place}: {level}: {key}{}{causes}", e.message());
    }
}
