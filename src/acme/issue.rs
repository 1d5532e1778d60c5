//! Ordering a certificate (instant-acme) and deciding whether a stored one is still good.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::{pem::PemObject, CertificateDer};

use super::{renewal_time, AcmeConfig, CertStore};

/// The HTTP-01 answers of the orders in flight (token → key authorization), for the plain
/// listener to serve at `/.well-known/acme-challenge/TOKEN`. With a shared store
/// (`store = "redis://..."`) they are also published there, and a token this process does not
/// know is looked up there: the replica the CA reaches answers for the one that ordered.
#[derive(Debug, Clone, Default)]
pub struct Challenges {
    local: Arc<RwLock<HashMap<String, String>>>,
    #[cfg(feature = "redis-store")]
    shared: Arc<std::sync::OnceLock<super::shared::SharedStore>>,
}

impl Challenges {
    /// The key authorization for `token`, while its order (in this process) is in flight.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.local.read().ok()?.get(token).cloned()
    }

    /// The key authorization for `token`: this process's, else one a replica published in
    /// the shared store (tokens that are not base64url of at most 128 characters are not
    /// looked up).
    pub async fn find(&self, token: &str) -> Option<String> {
        if let Some(answer) = self.answer(token) {
            return Some(answer);
        }
        let plausible = !token.is_empty()
            && token.len() <= 128
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        #[cfg(feature = "redis-store")]
        if let (true, Some(shared)) = (plausible, self.shared.get()) {
            return shared.answer(token).await;
        }
        let _ = plausible;
        None
    }

    /// Publishes the answers of this process's orders in `shared` too, and looks up there
    /// the tokens it does not know (the first store given stays).
    #[cfg(feature = "redis-store")]
    pub(super) fn share_through(&self, shared: &super::shared::SharedStore) {
        let _ = self.shared.set(shared.clone());
    }

    pub(super) async fn set(&self, token: &str, answer: Option<String>) {
        #[cfg(feature = "redis-store")]
        if let Some(shared) = self.shared.get() {
            if let Err(e) = shared.publish(token, answer.as_deref()).await {
                tracing::warn!(error = %e, "the HTTP-01 answer is not shared: only this replica can answer it");
            }
        }
        if let Ok(mut map) = self.local.write() {
            match answer {
                Some(answer) => map.insert(token.to_owned(), answer),
                None => map.remove(token),
            };
        }
    }
}

/// A certificate ready to serve.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Issued {
    /// The PEM chain file (leaf first).
    pub cert_path: PathBuf,
    /// The PEM key file.
    pub key_path: PathBuf,
    /// The end of its validity.
    pub not_after: SystemTime,
    /// When it is due for renewal.
    pub renew_at: SystemTime,
    /// Whether it was already in the store (no order was placed).
    pub reused: bool,
}

/// Why no certificate could be had, saying what to fix.
#[derive(Debug)]
pub struct AcmeError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AcmeError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        AcmeError {
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn with(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AcmeError {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl fmt::Display for AcmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AcmeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for AcmeError {
    fn from(e: std::io::Error) -> Self {
        AcmeError::new(e.to_string())
    }
}

/// A certificate for `config`'s names: the stored one while it covers them and is not due for
/// renewal, else a new one ordered from the directory (HTTP-01, its answers published in
/// `challenges`) and stored.
///
/// # Errors
///
/// Invalid settings, an unwritable store, or the CA's refusal (its problem document quoted:
/// the name does not resolve here, port 80 unreachable, a rate limit and its retry time).
pub async fn ensure(
    config: &AcmeConfig,
    store: &dyn CertStore,
    challenges: &Challenges,
) -> Result<Issued, AcmeError> {
    if let Some(problem) = config.problems().into_iter().next() {
        return Err(AcmeError::new(problem));
    }
    let name = &config.domains[0];
    let (cert_key, key_key) = (format!("{name}/cert.pem"), format!("{name}/key.pem"));
    match stored_state(config, store)? {
        Stored::Current(issued) => {
            tracing::info!(domain = %name, "reusing the stored ACME certificate (no new order)");
            return Ok(issued);
        }
        Stored::Due => tracing::info!(domain = %name, "the stored certificate is due for renewal"),
        Stored::Uncovered => {
            tracing::info!(domain = %name, "the stored certificate does not cover every name")
        }
        Stored::Missing => {}
    }
    let (cert_pem, key_pem) = order(config, store, challenges).await?;
    let (not_after, renew_at) = stored(cert_pem.as_bytes(), &config.domains).ok_or_else(|| {
        AcmeError::new("the CA returned a certificate that does not cover the names")
    })?;
    store.store(&key_key, key_pem.as_bytes())?;
    store.store(&cert_key, cert_pem.as_bytes())?;
    tracing::info!(domain = %name, "obtained a new ACME certificate");
    issued(store, &cert_key, &key_key, not_after, renew_at, false)
}

/// What the store holds for `config`'s names.
pub(super) enum Stored {
    /// A certificate covering them, not due for renewal.
    Current(Issued),
    /// One due for renewal.
    Due,
    /// One that does not cover every name.
    Uncovered,
    /// None (or no key).
    Missing,
}

/// What `store` holds for `config`'s names (`config.domains` not empty).
pub(super) fn stored_state(
    config: &AcmeConfig,
    store: &dyn CertStore,
) -> Result<Stored, AcmeError> {
    let name = &config.domains[0];
    let (cert_key, key_key) = (format!("{name}/cert.pem"), format!("{name}/key.pem"));
    let (Some(cert), Some(_)) = (store.load(&cert_key)?, store.load(&key_key)?) else {
        return Ok(Stored::Missing);
    };
    Ok(match stored(&cert, &config.domains) {
        Some((not_after, renew_at)) if SystemTime::now() < renew_at => Stored::Current(issued(
            store, &cert_key, &key_key, not_after, renew_at, true,
        )?),
        Some(_) => Stored::Due,
        None => Stored::Uncovered,
    })
}

fn issued(
    store: &dyn CertStore,
    cert_key: &str,
    key_key: &str,
    not_after: SystemTime,
    renew_at: SystemTime,
    reused: bool,
) -> Result<Issued, AcmeError> {
    let path = |key: &str| {
        store
            .path(key)
            .ok_or_else(|| AcmeError::new("the certificate store keeps no files to serve from"))
    };
    Ok(Issued {
        cert_path: path(cert_key)?,
        key_path: path(key_key)?,
        not_after,
        renew_at,
        reused,
    })
}

/// The end of validity and renewal time of the leaf of `pem`, when it names every domain.
fn stored(pem: &[u8], domains: &[String]) -> Option<(SystemTime, SystemTime)> {
    let der = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    let names: Vec<String> = cert
        .subject_alternative_name()
        .ok()
        .flatten()?
        .value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    if !domains
        .iter()
        .all(|d| names.contains(&d.to_ascii_lowercase()))
    {
        return None;
    }
    let time = |t: i64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t).ok()?));
    let validity = cert.validity();
    let (start, end) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let (start, end) = (time(start)?, time(end)?);
    // Up to a day, fixed per certificate: replicas agree, restarts do not move it.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    der.as_ref().hash(&mut hasher);
    let jitter = Duration::from_secs(hasher.finish() % 86_400);
    Some((end, renewal_time(start, end, jitter)))
}

/// The account (stored, else created and stored) and a new certificate and key.
async fn order(
    config: &AcmeConfig,
    store: &dyn CertStore,
    challenges: &Challenges,
) -> Result<(String, String), AcmeError> {
    let account = account(config, store).await?;
    let identifiers: Vec<Identifier> = config
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.clone()))
        .collect();
    let acme = |what: &str, e: instant_acme::Error| {
        AcmeError::with(
            format!("ACME {what} at {} failed: {e}", config.directory),
            e,
        )
    };
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|e| acme("order", e))?;
    let (mut tokens, mut names) = (Vec::new(), Vec::new());
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| acme("authorization", e))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::new(format!(
                    "the CA refused the authorization ({other:?}); check that the name resolves \
                     to this machine"
                )))
            }
        }
        // TLS-ALPN-01 when there is no plain listener (`http_bind = ""`).
        let tls_alpn = config.http_bind.is_empty();
        let (kind, what) = match tls_alpn {
            true => (ChallengeType::TlsAlpn01, "TLS-ALPN-01"),
            false => (ChallengeType::Http01, "HTTP-01"),
        };
        let mut challenge = authz.challenge(kind).ok_or_else(|| {
            AcmeError::new(format!("the CA offers no {what} challenge for this name"))
        })?;
        let answer = challenge.key_authorization();
        if tls_alpn {
            let Identifier::Dns(name) = challenge.identifier().identifier.clone() else {
                return Err(AcmeError::new(
                    "the CA asked about a name that is not a DNS name",
                ));
            };
            super::tls_alpn::offer(&name, answer.digest().as_ref())?;
            names.push(name);
        } else {
            challenges
                .set(&challenge.token, Some(answer.as_str().to_owned()))
                .await;
            tokens.push(challenge.token.clone());
        }
        challenge
            .set_ready()
            .await
            .map_err(|e| acme("challenge", e))?;
    }
    let retries = RetryPolicy::new().timeout(Duration::from_secs(90));
    let status = order.poll_ready(&retries).await;
    for token in &tokens {
        challenges.set(token, None).await;
    }
    for name in &names {
        let _ = crate::serve::set_tls_alpn_challenge(name, None);
    }
    let status = status.map_err(|e| acme("validation", e))?;
    if status != OrderStatus::Ready {
        return Err(AcmeError::new(format!(
            "the CA did not validate the names ({status:?}): is {} of this machine reachable \
             from the CA under each name?",
            if names.is_empty() {
                "port 80 (the HTTP-01 challenge, `http_bind`)"
            } else {
                "the TLS port (the TLS-ALPN-01 challenge)"
            }
        )));
    }
    let key_pem = order.finalize().await.map_err(|e| acme("finalize", e))?;
    let cert_pem = order
        .poll_certificate(&retries)
        .await
        .map_err(|e| acme("certificate download", e))?;
    Ok((cert_pem, key_pem))
}

/// The store key of the account for `config`'s directory.
pub(super) fn account_key(config: &AcmeConfig) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    config.directory.hash(&mut hasher);
    format!("account-{:016x}.json", hasher.finish())
}

/// The account for the directory: stored credentials, else a new account, stored.
async fn account(config: &AcmeConfig, store: &dyn CertStore) -> Result<Account, AcmeError> {
    let key = account_key(config);
    let builder = || match &config.ca {
        Some(ca) => Account::builder_with_root(ca).map_err(|e| {
            AcmeError::with(
                format!("the ACME CA file {} cannot be used: {e}", ca.display()),
                e,
            )
        }),
        None => Account::builder().map_err(|e| AcmeError::with(format!("no HTTPS client: {e}"), e)),
    };
    if let Some(json) = store.load(&key)? {
        let credentials: AccountCredentials = serde_json::from_slice(&json).map_err(|e| {
            AcmeError::with(format!("the stored ACME account {key} is damaged: {e}"), e)
        })?;
        return builder()?.from_credentials(credentials).await.map_err(|e| {
            AcmeError::with(
                format!(
                    "the ACME directory {} cannot be reached: {e}",
                    config.directory
                ),
                e,
            )
        });
    }
    let contact = config.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory.clone(),
            None,
        )
        .await
        .map_err(|e| AcmeError::with(format!("no ACME account at {}: {e}", config.directory), e))?;
    let json = serde_json::to_vec(&credentials)
        .map_err(|e| AcmeError::with("the ACME account cannot be saved", e))?;
    store.store(&key, &json)?;
    Ok(account)
}
