//! `tollgate serve [DIR] [--bind ADDR] [--workers N]`: a directory on a socket, like
//! `python3 -m http.server`.

use std::path::PathBuf;

use clap::Args;
use tollgate::body::BoxError;
use tollgate::compress::CompressLayer;
use tollgate::files::{FileIo, ServeDir};
use tollgate::serve::{self, ServeConfig};
use tower_layer::Layer;

use super::BindArgs;

/// Arguments of `tollgate serve`.
#[derive(Debug, Args)]
pub struct ServeDirArgs {
    /// The directory to serve.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub bind: BindArgs,

    /// Answer 404 for directories without `index.html` instead of listing them.
    #[arg(long)]
    pub no_listing: bool,

    /// Serve and list names starting with `.` (hidden by default).
    #[arg(long)]
    pub hidden: bool,

    /// How many worker threads serve requests, each with its own runtime and listening
    /// socket (as nginx's `worker_processes`). `0` means one per core.
    #[arg(long, value_name = "N", env = "TOLLGATE_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Compress answers with brotli, zstd or gzip as clients accept them (text, JSON,
    /// JavaScript, XML, SVG of 256 bytes or more); a file's `.br`/`.gz` sibling is still
    /// preferred when there is one.
    #[arg(long)]
    pub compress: bool,

    /// Where file system calls run: `in-place`, on the worker thread as nginx does (fastest for
    /// local files in the page cache), or `pool`, on a blocking thread pool (a slow or network
    /// file system never stalls a worker).
    #[arg(long, value_enum, value_name = "WHERE", default_value = "in-place")]
    pub file_io: FileIoArg,
}

/// `--file-io`: where file system calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileIoArg {
    /// On the worker thread.
    InPlace,
    /// On a blocking thread pool.
    Pool,
}

/// The service `tollgate serve` runs: listings on, `.br` / `.gz` siblings served to clients
/// that accept them, file system calls on the worker thread unless `--file-io pool`.
pub fn service(args: &ServeDirArgs) -> ServeDir {
    ServeDir::new(&args.dir)
        .listing(!args.no_listing)
        .hidden(args.hidden)
        .precompressed_br()
        .precompressed_gzip()
        .file_io(match args.file_io {
            FileIoArg::InPlace => FileIo::InPlace,
            FileIoArg::Pool => FileIo::Pool,
        })
}

/// Serves the directory until Ctrl-C or `SIGTERM`.
pub async fn run(args: ServeDirArgs) -> Result<(), BoxError> {
    let meta = std::fs::metadata(&args.dir).map_err(|e| {
        let port = args
            .dir
            .to_str()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        match port {
            // `tollgate serve 8080`, as `python3 -m http.server 8080` takes a port.
            Some(port) => format!(
                "cannot serve {port}: there is no such directory; to serve the current \
                 directory on port {port}: tollgate serve --bind {port}"
            ),
            None => format!("cannot serve {}: {e}", args.dir.display()),
        }
    })?;
    if !meta.is_dir() {
        return Err(format!("cannot serve {}: not a directory", args.dir.display()).into());
    }
    tracing::info!(dir = %args.dir.display(), "serving files");
    let service = service(&args);
    let config = ServeConfig::bind(&args.bind.bind);
    if args.compress {
        let service = CompressLayer::default().layer(service);
        serve::serve_workers(args.workers, config, move || Ok(service.clone())).await
    } else {
        serve::serve_workers(args.workers, config, move || Ok(service.clone())).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> super::ServeDirArgs {
        match Cli::try_parse_from(args).expect("parses").command {
            Command::Serve(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_to_the_current_directory_on_localhost_8000() {
        let args = parse(&["tollgate", "serve"]);
        assert_eq!(args.dir, std::path::Path::new("."));
        assert_eq!(args.bind.bind, "127.0.0.1:8000");
        assert!(!args.no_listing && !args.hidden);
        assert_eq!(args.workers, 0);
        let config = super::service(&args).config().clone();
        assert!(config.listing && config.precompressed_br && config.precompressed_gzip);
        assert_eq!(config.file_io, tollgate::files::FileIo::InPlace);
    }

    #[test]
    fn takes_a_directory_and_bind() {
        let args = parse(&[
            "tollgate",
            "serve",
            "/srv/www",
            "--bind",
            "0.0.0.0:9",
            "--no-listing",
            "--workers",
            "2",
            "--file-io",
            "pool",
        ]);
        assert_eq!(
            super::service(&args).config().file_io,
            tollgate::files::FileIo::Pool
        );
        assert_eq!(args.workers, 2);
        assert_eq!(args.dir, std::path::Path::new("/srv/www"));
        assert_eq!(args.bind.bind, "0.0.0.0:9");
        assert!(!super::service(&args).config().listing);
    }
}
