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
/// are read); prints each route the route order rule changed as `FILE:LINE:COLUMN: warning:`,
/// then `FILE: ok`; or each error as `FILE:LINE:COLUMN: error: message`.
pub async fn run(args: CheckArgs) -> Result<(), BoxError> {
    validate(&args.file).await?;
    let _ = writeln!(std::io::stdout().lock(), "{}: ok", args.file.display());
    Ok(())
}

/// The file's configuration if it would serve (its route order warnings printed); else every
/// error printed, and a summary.
pub(super) async fn validate(file: &Path) -> Result<Config, BoxError> {
    let shown = file.display().to_string();
    let result = match config::load_file(file) {
        Ok((config, text)) => match gateway::build(&config, &Metrics::new()).await {
            Ok(_) => {
                print(&shown, "warning", &route_order(&config, &text));
                Ok(config)
            }
            Err(errors) => Err(errors.locate(&text)),
        },
        Err(errors) => Err(errors),
    };
    result.map_err(|errors| {
        print(&shown, "error", &errors);
        let n = errors.len();
        format!("{shown}: {n} error{}", if n == 1 { "" } else { "s" }).into()
    })
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
