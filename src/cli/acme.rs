//! `tollgate proxy --domain NAME`: a certificate from an ACME directory (Let's Encrypt by
//! default) before serving, and the plain listener (`--http-bind`) that answers HTTP-01
//! challenges and redirects everything else to HTTPS with a `308`.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;
use http::{header, Request, Response, StatusCode};
use tollgate::acme::{self, AcmeConfig, Challenges, DirStore, Issued};
use tollgate::body::BoxError;
use tollgate::serve::{ServeConfig, Server};
use tollgate::Body;

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
    #[arg(long, value_name = "ADDR", requires = "domain", default_value = "0.0.0.0:80",
          value_parser = super::flags::bind_addr)]
    pub http_bind: String,
}

impl AcmeFlags {
    /// The ACME settings of these flags.
    pub fn config(&self) -> AcmeConfig {
        let mut config = AcmeConfig::new(self.domain.iter().cloned());
        config.email.clone_from(&self.acme_email);
        config.directory.clone_from(&self.acme_directory);
        config.ca.clone_from(&self.acme_ca);
        config.state_dir.clone_from(&self.state_dir);
        config
    }

    /// Starts the plain listener, then gets the certificate (the stored one when it is not
    /// due). `None` without --domain.
    pub async fn certificate(&self, bind: &str) -> Result<Option<Issued>, BoxError> {
        if self.domain.is_empty() {
            return Ok(None);
        }
        let config = self.config();
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(format!("--domain: {}", problems.join("; ")).into());
        }
        let store = DirStore::open(&config.state_dir)?;
        let challenges = Challenges::default();
        let redirect = Redirect {
            domains: self.domain.clone(),
            port: https_port(bind),
        };
        plain_listener(&self.http_bind, challenges.clone(), redirect).await?;
        let issued = acme::ensure(&config, &store, &challenges)
            .await
            .map_err(|e| format!("--domain: {e}{}", crate::causes(&e)))?;
        tracing::info!(
            cert = %issued.cert_path.display(),
            reused = issued.reused,
            days_to_expiry = days(issued.not_after),
            renew_in_days = days(issued.renew_at),
            "ACME certificate ready"
        );
        tokio::spawn(renew(config, store, challenges, issued.renew_at));
        Ok(Some(issued))
    }
}

/// The shortest wait between two attempts, however short the certificate's life.
const MIN_WAIT: Duration = Duration::from_secs(10);
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// For the life of the process: at `renew_at`, a new certificate (the listener swaps it in
/// when its files change); after a failure, the current one is kept and the renewal retried
/// after a wait that doubles from a minute to six hours.
async fn renew(
    config: AcmeConfig,
    store: DirStore,
    challenges: Challenges,
    mut renew_at: SystemTime,
) {
    let mut backoff = Duration::from_secs(60);
    loop {
        let wait = renew_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .max(MIN_WAIT);
        tokio::time::sleep(wait).await;
        match acme::ensure(&config, &store, &challenges).await {
            Ok(issued) => {
                tracing::info!(
                    domain = %config.domains[0],
                    days_to_expiry = days(issued.not_after),
                    "ACME certificate renewed"
                );
                renew_at = issued.renew_at;
                backoff = Duration::from_secs(60);
            }
            Err(e) => {
                tracing::error!(
                    domain = %config.domains[0],
                    error = %format!("{e}{}", crate::causes(&e)),
                    retry_in_secs = backoff.as_secs(),
                    "ACME renewal failed; the current certificate is served until it expires"
                );
                renew_at = SystemTime::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Whole days from now until `t` (0 when past).
fn days(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs() / 86_400)
}

/// Where the plain listener redirects: one of the configured names (the request's when it
/// is one, so the redirect never names a host of the client's choosing), on the TLS port.
#[derive(Debug, Clone)]
struct Redirect {
    domains: Vec<String>,
    port: Option<u16>,
}

/// The TLS listener's port when it is not 443 (nor 0, chosen at start).
fn https_port(bind: &str) -> Option<u16> {
    let port: u16 = bind.rsplit_once(':')?.1.parse().ok()?;
    (port != 443 && port != 0).then_some(port)
}

/// Serves HTTP-01 answers and the redirect on `bind` for the life of the process.
async fn plain_listener(
    bind: &str,
    challenges: Challenges,
    redirect: Redirect,
) -> Result<(), BoxError> {
    let listener = tollgate::serve::listen(bind).await?;
    let service = tower::service_fn(move |req: Request<Body>| {
        let (challenges, redirect) = (challenges.clone(), redirect.clone());
        async move { Ok::<_, Infallible>(answer(&challenges, &redirect, &req)) }
    });
    tokio::spawn(
        Server::new(service)
            .config(ServeConfig::bind(bind))
            .with_graceful_shutdown(std::future::pending())
            .serve(listener),
    );
    Ok(())
}

/// The challenge's key authorization, or a `308` to the same path and query on `https://`.
fn answer(challenges: &Challenges, redirect: &Redirect, req: &Request<Body>) -> Response<Body> {
    let path = req.uri().path();
    if let Some(token) = path.strip_prefix("/.well-known/acme-challenge/") {
        return match challenges.answer(token) {
            Some(answer) => Response::builder()
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(answer)),
            None => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from("no such challenge\n")),
        }
        .unwrap_or_default();
    }
    let asked = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(tollgate::syntax::host::split_host_port)
        .map(|(host, _)| host.to_ascii_lowercase());
    let host = redirect
        .domains
        .iter()
        .find(|d| asked.as_deref() == Some(d.to_ascii_lowercase().as_str()))
        .unwrap_or(&redirect.domains[0]);
    let port = redirect.port.map(|p| format!(":{p}")).unwrap_or_default();
    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    Response::builder()
        .status(StatusCode::PERMANENT_REDIRECT)
        .header(header::LOCATION, format!("https://{host}{port}{target}"))
        .body(Body::empty())
        .unwrap_or_default()
}
