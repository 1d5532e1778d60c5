//! TLS termination with rustls: PEM files in, a `TlsAcceptor` offering h2 and http/1.1 out;
//! with a `client_ca`, client certificates verified (rustls's `WebPkiClientVerifier`) and
//! turned into the connection's user.

use std::io;
use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

use super::conn::ClientIdentity;
use super::{ClientAuth, ClientUser, TlsConfig};
use crate::pem;

/// What a TLS listener needs per connection: the acceptor, and how to name a client by its
/// certificate.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) clients: Option<Arc<ClientCerts>>,
}

impl TlsConfig {
    /// Loads the certificate chain and key (and the client CA) and checks that they fit
    /// together, as serving would, without serving.
    ///
    /// # Errors
    ///
    /// The error serving would fail with, naming the file at fault.
    pub async fn validate(&self) -> io::Result<()> {
        acceptor(self).await.map(drop)
    }
}

/// Builds the acceptor, failing with an error that names the file at fault.
pub(crate) async fn acceptor(config: &TlsConfig) -> io::Result<Tls> {
    let provider = Arc::new(pem::provider());
    let clients = match &config.client_ca {
        Some(ca) => Some(Arc::new(ClientCerts::new(config, ca, &provider).await?)),
        None => None,
    };
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?;
    let builder = match &clients {
        Some(clients) => builder.with_client_cert_verifier(clients.handshake_verifier()),
        None => builder.with_no_client_auth(),
    };
    let resolver = super::sni::reloading(config, Arc::clone(&provider)).await?;
    let mut server = builder.with_cert_resolver(resolver);
    // `acme-tls/1` last: only the CA offers it, alone (TLS-ALPN-01).
    let acme = super::sni::ACME_TLS_ALPN.to_vec();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), acme];
    // Stateless session tickets (keys rotated by rustls every 6 hours), as nginx and most
    // servers issue: a client may resume with a ticket more than once, where the default
    // stateful tickets are single-use. A resumed handshake skips the certificate signature.
    server.ticketer = ticketer(config)?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        clients,
    })
}

/// The session-ticket keys of the listeners with these TLS settings, made once per process.
///
/// Each worker builds its own acceptor; with a ticketer of its own each, a ticket one worker
/// issued resumed nothing on another (a client got a full handshake whenever its next
/// connection reached another worker). Listeners whose TLS settings differ keep apart keys,
/// so a resumed session never skips a check another listener would make (its client CA).
fn ticketer(config: &TlsConfig) -> io::Result<Arc<dyn rustls::server::ProducesTickets>> {
    type Keys = Arc<dyn rustls::server::ProducesTickets>;
    /// Settings kept after a reload changed them, at most (the oldest go first).
    const KEPT: usize = 32;
    static KNOWN: Mutex<Vec<(TlsConfig, Keys)>> = Mutex::new(Vec::new());
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, keys)) = known.iter().find(|(seen, _)| seen == config) {
        return Ok(Arc::clone(keys));
    }
    let keys = rustls::crypto::ring::Ticketer::new().map_err(io::Error::other)?;
    if known.len() >= KEPT {
        known.remove(0);
    }
    known.push((config.clone(), Arc::clone(&keys)));
    Ok(keys)
}

/// Client certificates: the verifier built from `client_ca`, and what names the user.
pub(crate) struct ClientCerts {
    verifier: Arc<dyn ClientCertVerifier>,
    auth: ClientAuth,
    user: ClientUser,
    status: http::StatusCode,
}

impl ClientCerts {
    async fn new(
        config: &TlsConfig,
        ca: &std::path::Path,
        provider: &Arc<rustls::crypto::CryptoProvider>,
    ) -> io::Result<Self> {
        let roots = pem::roots(ca, &pem::read_async(ca, "client CA").await?)?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
                .build()
                .map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("client_ca {}: {e}", ca.display()),
                    )
                })?;
        Ok(ClientCerts {
            verifier,
            auth: config.client_auth,
            user: config.client_user,
            status: config.client_cert_status.status(),
        })
    }

    /// The verifier the handshake runs: the real one under `require`; under `request`, one
    /// that checks the proof of possession of the key but lets any chain through, so the
    /// request can be answered with a page saying what was wrong.
    fn handshake_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        match self.auth {
            ClientAuth::Require => Arc::clone(&self.verifier),
            ClientAuth::Request => Arc::new(Lenient(Arc::clone(&self.verifier))),
        }
    }

    /// Who the client of a finished handshake is, by its certificate.
    pub(crate) fn identify(&self, conn: &rustls::ServerConnection) -> ClientIdentity {
        let refused = |reason: String| ClientIdentity::Refused {
            status: self.status,
            reason: reason.into(),
        };
        let Some((leaf, intermediates)) = conn.peer_certificates().and_then(|c| c.split_first())
        else {
            return refused(
                "this address requires a client certificate and the client sent none".into(),
            );
        };
        if self.auth == ClientAuth::Request {
            if let Err(e) = self
                .verifier
                .verify_client_cert(leaf, intermediates, UnixTime::now())
            {
                return refused(format!("the client certificate was refused: {}", why(&e)));
            }
        }
        match user_of(leaf, self.user) {
            Ok(user) => ClientIdentity::User(user),
            Err(reason) => refused(reason),
        }
    }
}

/// A rustls certificate error in words an operator acts on.
fn why(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "it is not signed by the CA this address trusts (client_ca)".into()
        }
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "it has expired; issue a new one".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "it is not valid yet (check the clocks)".into()
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "it is revoked".into(),
        other => other.to_string(),
    }
}

/// The user name `part` of the certificate names: printable, at most 256 bytes.
fn user_of(der: &CertificateDer<'_>, part: ClientUser) -> Result<Arc<str>, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the client certificate cannot be read: {e}"))?;
    let name = match part {
        ClientUser::Cn => cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok()),
        _ => cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .and_then(|san| {
                san.value
                    .general_names
                    .iter()
                    .find_map(|name| match (part, name) {
                        (ClientUser::SanEmail, GeneralName::RFC822Name(n))
                        | (ClientUser::SanDns, GeneralName::DNSName(n))
                        | (ClientUser::SanUri, GeneralName::URI(n)) => Some(*n),
                        _ => None,
                    })
            }),
    };
    let what = match part {
        ClientUser::Cn => "subject common name (CN)",
        ClientUser::SanEmail => "email address among its subject alternative names",
        ClientUser::SanDns => "DNS name among its subject alternative names",
        ClientUser::SanUri => "URI among its subject alternative names",
    };
    let name = name.ok_or_else(|| {
        format!("the client certificate has no {what}, which names the user here (client_user)")
    })?;
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(format!(
            "the client certificate's user name {} is empty, too long or holds control characters",
            crate::syntax::escape_name(&crate::syntax::excerpt(name, 64))
        ));
    }
    Ok(Arc::from(name))
}

/// `client_auth = "request"`: the handshake admits any certificate whose key the client holds
/// (signatures are still checked); the chain is judged afterwards by [`ClientCerts::identify`].
#[derive(Debug)]
struct Lenient(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for Lenient {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(cn: Option<&str>, sans: Vec<rcgen::SanType>) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params.subject_alt_names = sans;
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_user_is_the_cn_or_the_chosen_san() {
        let der = cert_with(
            Some("alice"),
            vec![
                rcgen::SanType::DnsName("svc.example".try_into().unwrap()),
                rcgen::SanType::Rfc822Name("alice@example.com".try_into().unwrap()),
                rcgen::SanType::URI("spiffe://example.org/web".try_into().unwrap()),
            ],
        );
        assert_eq!(&*user_of(&der, ClientUser::Cn).unwrap(), "alice");
        assert_eq!(&*user_of(&der, ClientUser::SanDns).unwrap(), "svc.example");
        assert_eq!(
            &*user_of(&der, ClientUser::SanEmail).unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            &*user_of(&der, ClientUser::SanUri).unwrap(),
            "spiffe://example.org/web"
        );
    }

    #[test]
    fn a_missing_part_says_which_and_where_to_change_it() {
        let der = cert_with(None, Vec::new());
        let e = user_of(&der, ClientUser::Cn).unwrap_err();
        assert!(e.contains("no subject common name"), "{e}");
        assert!(e.contains("client_user"), "{e}");
        let e = user_of(&der, ClientUser::SanEmail).unwrap_err();
        assert!(e.contains("email"), "{e}");
    }

    #[test]
    fn a_control_character_in_the_name_is_refused() {
        let der = cert_with(Some("eve\r\nX-Forwarded-User: root"), Vec::new());
        assert!(user_of(&der, ClientUser::Cn).is_err());
    }
}
