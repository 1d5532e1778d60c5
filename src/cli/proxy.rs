//! `tollgate proxy`: the one-line gateway. Arguments become the very [`Config`] a
//! `tollgate run` file describes, and the same [`Runner`] serves it: one stack builder for
//! both.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use tollgate::auth::BasicAuthConfig;
use tollgate::body::BoxError;
use tollgate::cache::CacheConfig;
use tollgate::config::{Config, ConfigErrors, RouteConfig, UpstreamGroupConfig};
use tollgate::cors::CorsConfig;
use tollgate::files::ServeDirConfig;
use tollgate::forwarded::{ForwardedConfig, Trust};
use tollgate::gateway::Runner;
use tollgate::normalize::NormalizeConfig;
use tollgate::proxy::{parse_size, Upstream};
use tollgate::rewrite::{RewriteConfig, Rule};
use tollgate::serve::{self, ServeConfig};

use super::acl::network;

/// The name of the one upstream group `--upstream` makes.
pub(super) const UPSTREAM: &str = "upstream";

/// Arguments of `tollgate proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The service to put behind the gateway, e.g. `http://127.0.0.1:9000` (a base path is
    /// allowed: `http://127.0.0.1:9000/app`); repeat it to balance over several servers
    /// (round robin, skipping servers that fail). Without it, the echo service, started on a
    /// loopback port, stands in and shows what an upstream receives.
    #[arg(long, value_name = "URL")]
    pub upstream: Vec<Upstream>,

    /// Trust this PEM CA file (instead of the public roots) for `https://` upstreams, e.g.
    /// the certificate of an upstream's own CA.
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Option<PathBuf>,

    /// Accept the legacy hashes of --users files (`{SHA}`, `$apr1$`, `{PLAIN}`), which are
    /// refused otherwise.
    #[arg(long, requires = "users")]
    pub legacy_hashes: bool,

    /// List the files of --serve-dir directories that have no `index.html` (404 otherwise).
    #[arg(long, requires = "serve_dir")]
    pub listing: bool,

    /// The address to listen on: `HOST:PORT`, `:PORT` (every interface) or `PORT`
    /// (127.0.0.1).
    #[arg(
        long,
        value_name = "ADDR",
        env = "TOLLGATE_BIND",
        default_value = "127.0.0.1:8080",
        value_parser = super::flags::bind_addr
    )]
    pub bind: String,

    /// Require Basic auth with the users of this htpasswd file (lines from `tollgate hash`
    /// or `htpasswd -B`). Without it, everyone gets through.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,

    /// The realm named in the Basic auth challenge.
    #[arg(long, value_name = "NAME", default_value = "tollgate")]
    pub realm: String,

    /// Set a header on every request passed on (repeatable), e.g. `X-Gateway=tollgate`.
    #[arg(long = "set-header", value_name = "NAME=VALUE", value_parser = name_value)]
    pub set_header: Vec<(String, String)>,

    /// Normalize request paths, hosts and queries first (`/a/./b//c` becomes `/a/b/c`;
    /// malformed targets get a 400).
    #[arg(long)]
    pub normalize: bool,

    /// Serve a directory under a path prefix instead of proxying it (repeatable), e.g.
    /// `/static=./public`.
    #[arg(long = "serve-dir", value_name = "PREFIX=DIR", value_parser = prefix_dir)]
    pub serve_dir: Vec<(String, PathBuf)>,

    /// Trust `X-Forwarded-*`/`Forwarded` from proxies in this network (repeatable), e.g.
    /// `10.0.0.0/8`. Without it, those headers (and `X-Real-IP`, `True-Client-IP` and the
    /// rest of the family, see docs/security.md) from clients are discarded.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = network)]
    pub trusted_proxy: Vec<ipnet::IpNet>,

    /// Pass request headers whose names contain `_` (nginx's `underscores_in_headers on`).
    /// Even then, spellings of headers the gateway vouches for (`X_Forwarded_User`) are
    /// removed. Without it, every such header is dropped.
    #[arg(long)]
    pub allow_underscore_headers: bool,

    /// Terminate TLS with a certificate made at start for local use (`self-signed`: for
    /// localhost and the --bind host; its SHA-256 fingerprint is printed). For real names,
    /// use --tls-cert and --tls-key.
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "tls_cert")]
    pub tls: Option<TlsMode>,

    /// Terminate TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse request bodies larger than this with 413 (`10M`, `1G`, bytes). Default: no
    /// limit, bodies stream through.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<u64>,

    /// Connections served at once, per worker (as nginx's `worker_connections`); more wait
    /// in the listen backlog. Default: 1024.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Print the configuration file these flags make (TOML that `tollgate run` accepts) and
    /// exit without serving.
    #[arg(long)]
    pub print_config: bool,

    /// Compress answers with brotli, zstd or gzip as clients accept them (text, JSON,
    /// JavaScript, XML, SVG of 256 bytes or more; the `[compression]` defaults).
    #[arg(long)]
    pub compress: bool,

    /// Keep a shared response cache of this size (`256M`) for the upstream's answers, as
    /// RFC 9111 allows (`Cache-Control`, `Vary`, revalidation; `private` answers never).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub cache: Option<u64>,

    /// Allow browsers on this origin to call the gateway (repeatable): `https://app.example`,
    /// `https://*.example.com`, or `*` for any. Preflights from it are answered before auth.
    #[arg(long = "cors", value_name = "ORIGIN")]
    pub cors: Vec<String>,

    /// How many worker threads serve requests, each with its own connections, pool and
    /// caches (as nginx's `worker_processes`). `0` means one per core.
    #[arg(long, value_name = "N", env = "TOLLGATE_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Who may use the gateway, and from where.
    #[command(flatten)]
    pub acl: super::acl::AclArgs,

    /// API tokens.
    #[command(flatten)]
    pub tokens: super::token::TokenFlags,

    /// Rate limits.
    #[command(flatten)]
    pub limits: super::limits::LimitFlags,

    /// Forward auth.
    #[command(flatten)]
    pub forward_auth: super::forward_auth::ForwardAuthFlags,

    /// Client certificates (mutual TLS).
    #[command(flatten)]
    pub mtls: super::mtls::MtlsFlags,

    /// Automatic HTTPS (ACME).
    #[command(flatten)]
    pub acme: super::acme::AcmeFlags,
}

/// `--tls MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// A self-signed certificate made at start (rcgen), for local use.
    SelfSigned,
}

fn name_value(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))?;
    Ok((name.trim().to_owned(), value.to_owned()))
}

fn prefix_dir(text: &str) -> Result<(String, PathBuf), String> {
    let (prefix, dir) = text
        .split_once('=')
        .ok_or_else(|| format!("expected PREFIX=DIR, got {text:?}"))?;
    if !prefix.starts_with('/') {
        return Err(format!("the prefix {prefix:?} must start with /"));
    }
    Ok((prefix.to_owned(), PathBuf::from(dir)))
}

impl ProxyArgs {
    /// The configuration these arguments describe: what a `tollgate run` file with the same
    /// settings would hold.
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.workers = self.workers;
        config.listen = vec![self.serve_config()];
        config.proxy.max_body = self.max_body;
        config.proxy.ca_file.clone_from(&self.upstream_ca);
        self.mtls.apply_proxy(&mut config);
        if !self.set_header.is_empty() {
            let mut rewrite = RewriteConfig::new();
            for (name, value) in &self.set_header {
                rewrite = rewrite.request(Rule::set(name, value));
            }
            config.rewrite = Some(rewrite);
        }
        if let Some(users) = &self.users {
            let mut auth = BasicAuthConfig::default();
            auth.realm.clone_from(&self.realm);
            auth.htpasswd = Some(users.clone());
            auth.allow_legacy_hashes = self.legacy_hashes;
            config.auth = Some(auth);
        }
        if self.normalize {
            config.normalize = Some(NormalizeConfig::default());
        }
        config.inbound.allow_underscores = self.allow_underscore_headers;
        config.compression = self.compress.then(Default::default);
        config.cache = self.cache.map(|max_size| {
            let mut cache = CacheConfig::default();
            cache.max_size = max_size;
            cache
        });
        if !self.trusted_proxy.is_empty() {
            config.forwarded =
                Some(ForwardedConfig::default().trust(Trust::Proxies(self.trusted_proxy.clone())));
        }
        for (prefix, dir) in &self.serve_dir {
            let mut files = ServeDirConfig::default();
            files.dir.clone_from(dir);
            files.listing = self.listing;
            let mut route = RouteConfig::default();
            route.path.clone_from(prefix);
            route.files = Some(files);
            config.routes.push(route);
        }
        let mut rest = RouteConfig::default();
        if self.upstream.is_empty() {
            rest.echo = true;
        } else {
            let mut group = UpstreamGroupConfig::default();
            group.servers.clone_from(&self.upstream);
            config.upstreams.insert(UPSTREAM.to_owned(), group);
            rest.upstream = Some(UPSTREAM.to_owned());
        }
        config.routes.push(rest);
        self.acl.apply(&mut config);
        self.tokens.apply(&mut config, &self.realm);
        self.limits.apply(&mut config);
        if !self.cors.is_empty() {
            for route in &mut config.routes {
                route.cors = Some(CorsConfig::allowing(self.cors.iter().cloned()));
            }
        }
        self.forward_auth.apply(&mut config);
        config
    }

    fn serve_config(&self) -> ServeConfig {
        let mut config = ServeConfig::bind(&self.bind);
        if let Some(n) = self.max_connections {
            config.max_connections = n;
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            let mut tls = if self.acme.domain.is_empty() {
                serve::TlsConfig::new(cert, key)
            } else {
                // Served to its --domain names only: another name gets a TLS alert.
                let mut tls = serve::TlsConfig::new("", "");
                tls.certs = vec![serve::CertPair::new(cert, key)];
                tls
            };
            self.mtls.apply_listener(&mut tls);
            config.tls = Some(tls);
        }
        config
    }
}

/// Builds the gateway on each worker and serves it until Ctrl-C or `SIGTERM`.
pub async fn run(mut args: ProxyArgs) -> Result<(), BoxError> {
    // Kept until the gateway stops: dropping it removes the files.
    let _self_signed = match args.tls {
        Some(TlsMode::SelfSigned) if !args.print_config => {
            let made = super::self_signed::make(&args.bind)?;
            let line = format!(
                "self-signed certificate, SHA-256 fingerprint {}",
                made.fingerprint
            );
            tollgate::serve::announce(&line);
            tracing::info!(fingerprint = %made.fingerprint, cert = %made.cert.display(), "{line}");
            args.tls_cert = Some(made.cert.clone());
            args.tls_key = Some(made.key.clone());
            Some(made)
        }
        _ => None,
    };
    if !args.print_config {
        if let Some(issued) = args.acme.certificate(&args.bind).await? {
            args.tls_cert = Some(issued.cert_path);
            args.tls_key = Some(issued.key_path);
        }
    }
    if args.mtls.client_ca.is_some() && args.tls_cert.is_none() {
        return Err("--client-ca: client certificates need TLS on the listener; add                     --tls-cert/--tls-key (or --tls self-signed)"
            .into());
    }
    if args.print_config {
        let _ = write!(
            std::io::stdout().lock(),
            "{}",
            super::print_config::toml(&args)
        );
        return Ok(());
    }
    if args.upstream.is_empty() {
        // A real upstream: the echo shows what one receives, and --max-body applies to it.
        let addr = tollgate::gateway::echo_upstream().await?;
        tracing::info!(
            "no --upstream: the echo service on http://{addr} stands in for your upstream and \
             shows, as JSON, what it would receive"
        );
        args.upstream = vec![format!("http://{addr}").parse()?];
    }
    // Before anything listens, so a SIGTERM during startup is a graceful stop.
    let shutdown = serve::shutdown_signal();
    let runner = Runner::from_config(args.config()).await.map_err(|e| {
        match e.downcast::<ConfigErrors>() {
            Ok(errors) => in_flags(&errors).into(),
            Err(e) => e,
        }
    })?;
    runner.run_until(shutdown).await
}

/// The configuration's errors named by the flags that made the keys (`--users: ...` rather
/// than `[auth.htpasswd]`), one per line.
fn in_flags(errors: &ConfigErrors) -> String {
    let mut text = String::new();
    for e in errors.iter() {
        let path = e.path().to_string();
        let flag = [
            ("auth.tokens", "--tokens"),
            ("auth.token_header", "--token-header"),
            ("auth", "--users"),
            ("acl", "--groups"),
            ("forward_auth", "--forward-auth"),
            ("routes", "--serve-dir"),
            ("listen[0].tls", "--tls-cert/--tls-key/--client-ca"),
            (
                "proxy.tls_client",
                "--upstream-client-cert/--upstream-client-key",
            ),
            ("listen", "--bind"),
            ("upstreams", "--upstream"),
            ("proxy.ca_file", "--upstream-ca"),
            ("proxy", "--max-body"),
            ("rewrite", "--set-header"),
        ]
        .iter()
        .find(|(key, _)| path.starts_with(key))
        .map_or(path.as_str(), |(_, flag)| flag);
        // Every route gets the --allow list and the --cors policy: their errors are the
        // flags', not --serve-dir's.
        let flag = if path.contains(".allow") {
            "--allow"
        } else if path.contains(".cors") {
            "--cors"
        } else {
            flag
        };
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("{flag}: {}{}", e.message(), crate::causes(e)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ProxyArgs {
        use super::super::{Cli, Command};
        use clap::Parser;
        match Cli::try_parse_from(args).expect("parses").command {
            Command::Proxy(args) => *args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn flags_make_the_config_a_file_would() {
        let args = parse(&[
            "tollgate",
            "proxy",
            "--upstream",
            "http://127.0.0.1:9000",
            "--serve-dir",
            "/static=./public",
            "--users",
            "users.htpasswd",
            "--normalize",
            "--set-header",
            "X-Gateway=tollgate",
            "--max-body",
            "1M",
            "--workers",
            "3",
        ]);
        let config = args.config();
        assert!(config.check().is_empty(), "{:?}", config.check());
        assert_eq!(config.workers, 3);
        assert_eq!(config.listen[0].bind, "127.0.0.1:8080");
        assert_eq!(config.proxy.max_body, Some(1 << 20));
        assert!(config.normalize.is_some() && config.rewrite.is_some());
        assert_eq!(config.auth.as_ref().unwrap().realm, "tollgate");
        assert_eq!(config.upstreams[UPSTREAM].servers.len(), 1);
        // Static directories first, then everything else to the upstream.
        assert_eq!(config.routes.len(), 2);
        assert_eq!(config.routes[0].path, "/static");
        assert!(config.routes[0].files.is_some());
        assert_eq!(config.routes[1].path, "/");
        assert_eq!(config.routes[1].upstream.as_deref(), Some(UPSTREAM));
    }

    #[test]
    fn without_an_upstream_the_echo_service_answers() {
        let config = parse(&["tollgate", "proxy"]).config();
        assert!(config.check().is_empty());
        assert!(config.upstreams.is_empty() && config.auth.is_none());
        assert!(config.routes[0].echo);
    }

    #[test]
    fn pairs() {
        assert_eq!(
            name_value("X-A=b=c").unwrap(),
            ("X-A".to_owned(), "b=c".to_owned())
        );
        assert!(name_value("X-A").is_err());
        assert!(prefix_dir("static=./x").is_err());
        assert_eq!(prefix_dir("/s=./x").unwrap().1, PathBuf::from("./x"));
    }
}
