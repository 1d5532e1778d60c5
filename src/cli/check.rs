//! `tollgate check FILE`: every error of a configuration file, with its line and column.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use tollgate::body::BoxError;
use tollgate::config::{self, Config, ConfigErrors};
use tollgate::metrics::Metrics;

/// Arguments of `tollgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file (TOML) to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Loads and builds the file without serving it (certificates, keys, CA and credentials files
/// are read); prints `FILE: ok`, or each error as `FILE:LINE:COLUMN: message`.
pub async fn run(args: CheckArgs) -> Result<(), BoxError> {
    validate(&args.file).await?;
    let _ = writeln!(std::io::stdout().lock(), "{}: ok", args.file.display());
    Ok(())
}

/// The file's configuration if it would serve; else every error printed, and a summary.
pub(super) async fn validate(file: &Path) -> Result<Config, BoxError> {
    let result = match config::load_file(file) {
        Ok((config, text)) => match config::build(&config, &Metrics::new()).await {
            Ok(_) => Ok(config),
            Err(errors) => Err(errors.locate(&text)),
        },
        Err(errors) => Err(errors),
    };
    result.map_err(|errors| {
        let file = file.display().to_string();
        print(&file, &errors);
        let n = errors.len();
        format!("{file}: {n} error{}", if n == 1 { "" } else { "s" }).into()
    })
}

/// One line per error, as compilers print them, with its causes.
fn print(file: &str, errors: &ConfigErrors) {
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
        let _ = write!(out, "{place}: error: {key}{}", e.message());
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            let _ = write!(out, ": {cause}");
            source = cause.source();
        }
        let _ = writeln!(out);
    }
}
