//! What packagers install beside the binary: shell completions (`tollgate completions
//! bash|zsh|fish`, clap_complete) and man pages (`tollgate man DIR`, clap_mangen), both made
//! from the very command line definition, so they cannot drift from it.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;
use tollgate::body::BoxError;

/// Arguments of `tollgate completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: `bash`, `zsh`, `fish` (also `elvish`, `powershell`).
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// Arguments of `tollgate man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory the pages are written to (made if missing): `tollgate.1` and one
    /// `tollgate-SUBCOMMAND.1` per subcommand.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Prints the completion script for the shell on standard output.
pub fn completions(args: &CompletionsArgs) -> Result<(), BoxError> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut super::Cli::command(),
        "tollgate",
        &mut script,
    );
    std::io::stdout().lock().write_all(&script)?;
    Ok(())
}

/// Writes the man pages into the directory.
pub fn man(args: &ManArgs) -> Result<(), BoxError> {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot make {}: {e}", args.dir.display()))?;
    clap_mangen::generate_to(super::Cli::command(), &args.dir).map_err(|e| {
        format!(
            "cannot write the man pages into {}: {e}",
            args.dir.display()
        )
    })?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "man pages written to {}; read one with `man {}/tollgate.1`",
        args.dir.display(),
        args.dir.display()
    );
    Ok(())
}

/// `0.1.0` and, for a release build from a git checkout, its revision: `0.1.0 (git
/// 1a2b3c4d5e6f)` (see `build.rs`).
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| match option_env!("TOLLGATE_GIT_REVISION") {
        Some(revision) => format!("{} (git {revision})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_owned(),
    })
}
