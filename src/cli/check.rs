//! `tollgate check FILE`: every error of a configuration file, with its line and column.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use tollgate::body::BoxError;
use tollgate::config::{self, ConfigErrors};
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
    let result = match config::load_file(&args.file) {
        Ok((config, text)) => config::build(&config, &Metrics::new())
            .await
            .map(drop)
            .map_err(|errors| errors.locate(&text)),
        Err(errors) => Err(errors),
    };
    let file = args.file.display();
    match result {
        Ok(()) => {
            let _ = writeln!(std::io::stdout().lock(), "{file}: ok");
            Ok(())
        }
        Err(errors) => {
            print(&args.file.display().to_string(), &errors);
            let n = errors.len();
            Err(format!("{file}: {n} error{}", if n == 1 { "" } else { "s" }).into())
        }
    }
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
