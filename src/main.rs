//! The `tollgate` command line. It only parses arguments and calls the library: see `src/cli/`.

mod cli;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use tollgate::config::ConfigErrors;
use tollgate::probe::DesyncFound;

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<DesyncFound>() => {
            // `tollgate probe` found a desynchronization: its own status, for CI.
            eprintln!("tollgate: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            match e.downcast_ref::<ConfigErrors>() {
                // The count, then each error of the configuration on its line with its causes.
                Some(errors) => {
                    let summary = errors.to_string();
                    eprintln!("tollgate: {}", summary.lines().next().unwrap_or_default());
                    for error in errors.iter() {
                        eprintln!("  {error}{}", causes(error));
                    }
                }
                None => {
                    eprintln!("tollgate: {e}");
                    for cause in std::iter::successors(e.source(), |&c| c.source()) {
                        eprintln!("  caused by: {cause}");
                    }
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// The causes of `e` (its `source()` chain) as `: cause: cause`, empty when it has none. The
/// one place that walks an error's chain: library errors print one level and keep their
/// causes as `source()`.
pub(crate) fn causes(e: &dyn Error) -> String {
    std::iter::successors(e.source(), |&c| c.source())
        .map(|cause| format!(": {cause}"))
        .collect()
}
