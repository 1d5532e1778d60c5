//! What a configuration names on disk, read and checked before anything is built: the
//! listeners' certificates and keys, the static directories, the `[errors]` pages.

use crate::config::{Config, ConfigError, KeyPath};
use crate::filter::ErrorPages;

/// The TLS certificates and keys of the listeners, read and matched.
pub(super) async fn check_tls(config: &Config) -> Vec<ConfigError> {
    #[allow(unused_mut)]
    let mut errors = Vec::new();
    #[cfg(feature = "tls")]
    for (i, listen) in config.listen.iter().enumerate() {
        if let Some(tls) = &listen.tls {
            let at = KeyPath::root().key("listen").index(i).key("tls");
            #[cfg(feature = "acme")]
            if let Some(acme) = &tls.acme {
                // No files yet: the gateway obtains them at start (`super::acme::prepare`);
                // the files named beside are checked without it.
                let settings = at.key("acme");
                let problems = acme.problems().into_iter().chain(acme.state_dir_problem());
                errors.extend(problems.map(|p| ConfigError::new(settings.clone(), p)));
                let mut files = tls.clone();
                files.acme = None;
                if files.cert.as_os_str().is_empty() && files.certs.is_empty() {
                    continue;
                }
                if let Err(e) = files.validate().await {
                    errors.push(ConfigError::from_error(at, e));
                }
                continue;
            }
            if let Err(e) = tls.validate().await {
                errors.push(ConfigError::from_error(at, e));
            }
        }
    }
    #[cfg(not(feature = "tls"))]
    let _ = config;
    errors
}

/// The static directories of the routes.
pub(super) fn check_dirs(config: &Config) -> Vec<ConfigError> {
    #[allow(unused_mut)]
    let mut errors = Vec::new();
    #[cfg(feature = "files")]
    for (i, route) in config.routes.iter().enumerate() {
        if let Some(files) = &route.files {
            if !std::fs::metadata(&files.dir).is_ok_and(|m| m.is_dir()) {
                errors.push(ConfigError::new(
                    KeyPath::root()
                        .key("routes")
                        .index(i)
                        .key("files")
                        .key("dir"),
                    format!(
                        "{} is not a directory this process can read",
                        files.dir.display()
                    ),
                ));
            }
        }
    }
    #[cfg(not(feature = "files"))]
    let _ = config;
    errors
}

/// The `[errors]` pages, read from their files.
pub(super) fn error_pages(config: &Config, errors: &mut Vec<ConfigError>) -> ErrorPages {
    let mut pages = ErrorPages::new();
    for (status, path) in &config.errors {
        let Ok(code) = status.parse::<http::StatusCode>() else {
            continue; // `Config::check` reported it.
        };
        match std::fs::read_to_string(path) {
            Ok(html) => pages = pages.template(code, html),
            Err(e) => errors.push(
                ConfigError::new(
                    KeyPath::root().key("errors").key(status),
                    format!("cannot read the page {}: {e}", path.display()),
                )
                .with_source(e),
            ),
        }
    }
    pages
}
