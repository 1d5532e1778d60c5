//! `tls = { acme = { ... } }` on a listener: the certificate obtained (or the stored one
//! reused) before the listener starts and kept renewed ([`acme::manage`]); its files join the
//! listener's `certs` (served to its names, by SNI), which the listener re-reads when a renewal
//! replaces them. The
//! plain listeners (`http_bind`, one per address, shared by the listeners naming it) answer
//! HTTP-01 and redirect the rest to https.

use crate::acme::{self, AcmeConfig, AcmeStatus, Challenges, Issued, Redirect};
use crate::config::{Config, ConfigError, ConfigErrors, KeyPath};
use crate::metrics::Metrics;
use crate::serve::CertPair;

/// The ACME certificates a running gateway keeps, and its plain listeners.
#[derive(Debug, Default)]
pub(super) struct Managed {
    /// The settings in force and the certificate each keeps.
    certs: Vec<(AcmeConfig, Issued)>,
    /// The plain listeners started, by `http_bind`, with the answers they serve.
    plain: Vec<(String, Challenges)>,
    /// What the metrics say of the certificates.
    status: AcmeStatus,
}

impl Managed {
    /// At start: [`prepare`](Self::prepare)s `config` (`text` locates its errors) and, when
    /// a listener has an ACME certificate, adds their expiry and failures to `metrics`.
    pub(super) async fn start(
        mut config: Config,
        text: &str,
        metrics: &Metrics,
    ) -> Result<(Config, Self), ConfigErrors> {
        let mut managed = Managed::default();
        managed
            .prepare(&mut config, true)
            .await
            .map_err(|errors| errors.locate(text))?;
        if !managed.certs.is_empty() {
            let status = managed.status.clone();
            metrics.render_also(move |out| status.render(out));
        }
        Ok((config, managed))
    }

    /// On a reload: `config` with the certificates in force (`text` locates its errors).
    pub(super) async fn reloaded(
        &mut self,
        mut config: Config,
        text: &str,
    ) -> Result<Config, ConfigErrors> {
        self.prepare(&mut config, false)
            .await
            .map_err(|errors| errors.locate(text))?;
        Ok(config)
    }

    /// Adds the kept certificate's files to the `certs` of each `acme` listener of `config`
    /// (its `acme` then cleared): at start, after starting the plain listeners and obtaining (or reusing)
    /// each certificate; on a reload, the certificates in force (new ACME settings need a
    /// restart: a reload places no order).
    async fn prepare(&mut self, config: &mut Config, starting: bool) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let names = redirect_names(config);
        for i in 0..config.listen.len() {
            let bind = config.listen[i].bind.clone();
            let Some(tls) = config.listen[i].tls.as_mut() else {
                continue;
            };
            let Some(settings) = tls.acme.take() else {
                continue;
            };
            let at = KeyPath::root()
                .key("listen")
                .index(i)
                .key("tls")
                .key("acme");
            let kept = self.certs.iter().find(|(c, _)| *c == settings);
            let kept = kept.map(|(_, issued)| issued.clone());
            let issued = match kept.clone() {
                Some(issued) => issued,
                None if !starting => {
                    errors.push(ConfigError::new(
                        at,
                        "new ACME settings take effect when the gateway restarts (a reload \
                         places no order); restart it, or keep the settings in force",
                    ));
                    continue;
                }
                None => match self.obtain(&settings, &names, &bind, &at).await {
                    Ok(issued) => issued,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                },
            };
            // Served to its names only (SNI): any `cert`/`key` stays the default.
            let pair = CertPair::new(&issued.cert_path, &issued.key_path);
            tls.certs.push(pair);
            if kept.is_none() {
                self.certs.push((settings, issued));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The plain listener of `settings.http_bind` (started on first use), then the
    /// certificate, kept renewed.
    async fn obtain(
        &mut self,
        settings: &AcmeConfig,
        names: &[(String, Vec<String>)],
        https_bind: &str,
        at: &KeyPath,
    ) -> Result<Issued, ConfigError> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(ConfigError::new(at.clone(), problems.join("; ")));
        }
        if settings.http_bind.is_empty() {
            // TLS-ALPN-01 on the listener's address, answered until the listener serves.
            let _responder = acme::answer_tls_alpn(https_bind)
                .await
                .map_err(|e| ConfigError::from_error(at.clone(), e))?;
            return acme::manage(settings, &Challenges::default(), &self.status)
                .await
                .map_err(|e| ConfigError::from_error(at.clone(), e));
        }
        let known = self.plain.iter().find(|(b, _)| *b == settings.http_bind);
        let challenges = match known {
            Some((_, challenges)) => challenges.clone(),
            None => {
                let challenges = Challenges::default();
                let domains = names
                    .iter()
                    .find(|(b, _)| *b == settings.http_bind)
                    .map_or_else(|| settings.domains.clone(), |(_, d)| d.clone());
                let redirect = Redirect::new(domains, https_bind);
                acme::serve_plain(&settings.http_bind, challenges.clone(), redirect)
                    .await
                    .map_err(|e| ConfigError::from_error(at.key("http_bind"), e))?;
                self.plain
                    .push((settings.http_bind.clone(), challenges.clone()));
                challenges
            }
        };
        acme::manage(settings, &challenges, &self.status)
            .await
            .map_err(|e| ConfigError::from_error(at.clone(), e))
    }
}

/// Each `http_bind` with the names of every listener it serves: a plain listener redirects a
/// request to the name it asked for when it is one of them.
fn redirect_names(config: &Config) -> Vec<(String, Vec<String>)> {
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    let all = config
        .listen
        .iter()
        .filter_map(|l| l.tls.as_ref()?.acme.as_ref());
    for settings in all {
        let domains = settings.domains.iter().cloned();
        match names.iter_mut().find(|(b, _)| *b == settings.http_bind) {
            Some((_, known)) => known.extend(domains),
            None => names.push((settings.http_bind.clone(), domains.collect())),
        }
    }
    names
}
