//! `tollgate proxy --domain NAME`: a certificate from an ACME directory (Let's Encrypt by
//! default) before serving, and the plain listener (`--http-bind`) that answers HTTP-01
//! challenges and redirects everything else to HTTPS with a `308`.

use std::path::PathBuf;

use clap::Args;
use tollgate::acme::{self, AcmeConfig, AcmeStatus, Challenges, Issued, Redirect};
use tollgate::body::BoxError;

/// Automatic HTTPS.
#[derive(Debug, Args)]
pub struct AcmeFlags {
    /// Get (and keep) a certificate for this DNS name from the ACME directory (repeatable);
    /// --bind is then the TLS listener and --http-bind the plain one.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["tls", "tls_cert"])]
    pub domain: Vec<String>,

    /// The contact address given to the CA (required by Let's Encrypt).
    #[arg(long, value_name = "ADDRESS", requires = "domain")]
    pub acme_email: Option<String>,

    /// The ACME directory URL (Let's Encrypt staging:
    /// https://acme-staging-v02.api.letsencrypt.org/directory).
    #[arg(long, value_name = "URL", requires = "domain", default_value = acme::LETS_ENCRYPT)]
    pub acme_directory: String,

    /// Trust this PEM CA for the directory's HTTPS (pebble's, a private CA's).
    #[arg(long, value_name = "FILE", requires = "domain")]
    pub acme_ca: Option<PathBuf>,

    /// Where the account key, certificates and keys are kept (owner-only).
    #[arg(long, value_name = "DIR", requires = "domain", default_value = acme::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,

    /// The plain HTTP listener: HTTP-01 challenges, and a 308 to https:// for the rest.
    /// `--http-bind ''` starts none: the CA proves the names with TLS-ALPN-01 on --bind.
    #[arg(long, value_name = "ADDR", requires = "domain", default_value = acme::DEFAULT_HTTP_BIND,
          value_parser = http_bind)]
    pub http_bind: String,

    /// Share the certificate with the other replicas through this Redis (redis://HOST:PORT/DB,
    /// redis+cluster://..., redis+sentinel://.../MASTER): one orders, the others load it.
    #[arg(long, value_name = "URL", requires = "domain", value_parser = store_url)]
    pub acme_store: Option<String>,
}

/// A `--http-bind` address, or nothing (`''`) for TLS-ALPN-01 on the TLS listener.
fn http_bind(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Ok(String::new())
    } else {
        super::flags::bind_addr(text)
    }
}

/// A `--acme-store` URL, checked as `[rate_limit] store` is.
fn store_url(text: &str) -> Result<String, String> {
    match acme::store_problem(text) {
        Some(problem) => Err(problem),
        None => Ok(text.to_owned()),
    }
}

impl AcmeFlags {
    /// The ACME settings of these flags.
    pub fn config(&self) -> AcmeConfig {
        let mut config = AcmeConfig::new(self.domain.iter().cloned());
        config.email.clone_from(&self.acme_email);
        config.directory.clone_from(&self.acme_directory);
        config.ca.clone_from(&self.acme_ca);
        config.state_dir.clone_from(&self.state_dir);
        config.http_bind.clone_from(&self.http_bind);
        config.store.clone_from(&self.acme_store);
        config
    }

    /// Starts the plain listener (or, with `--http-bind ''`, answers TLS-ALPN-01 on `bind`
    /// until the certificate is there), then gets the certificate (the stored one when it is
    /// not due) and keeps it renewed; renewals are answered by the serving listener. `None`
    /// without --domain.
    pub async fn certificate(&self, bind: &str) -> Result<Option<Issued>, BoxError> {
        if self.domain.is_empty() {
            return Ok(None);
        }
        let config = self.config();
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(format!("--domain: {}", problems.join("; ")).into());
        }
        let challenges = Challenges::default();
        let _responder = if self.http_bind.is_empty() {
            let responder = acme::answer_tls_alpn(bind)
                .await
                .map_err(|e| format!("--bind {bind} (TLS-ALPN-01): {e}"))?;
            Some(responder)
        } else {
            let redirect = Redirect::new(self.domain.clone(), bind);
            acme::serve_plain(&self.http_bind, challenges.clone(), redirect)
                .await
                .map_err(|e| format!("--http-bind {}: {e}", self.http_bind))?;
            None
        };
        let issued = acme::manage(&config, &challenges, &AcmeStatus::default())
            .await
            .map_err(|e| format!("--domain: {e}{}", crate::causes(&e)))?;
        Ok(Some(issued))
    }
}
