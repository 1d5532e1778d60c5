//! `tollgate proxy`'s client-certificate flags: `--client-ca` and its companions for the
//! listener (mutual TLS with clients), `--upstream-client-cert`/`--upstream-client-key` for
//! upstreams that ask the gateway for one.

use std::path::PathBuf;

use clap::Args;
use serde::de::value::{Error as DeError, StrDeserializer};
use serde::de::IntoDeserializer;
use serde::Deserialize;
use tollgate::config::Config;
use tollgate::serve::{ClientAuth, ClientCertStatus, ClientUser, TlsConfig};
use toml_edit::{value, InlineTable};

/// Client certificates.
#[derive(Debug, Args)]
pub struct MtlsFlags {
    /// Ask clients for a certificate signed by a CA of this PEM file (mutual TLS; needs
    /// --tls-cert or --tls self-signed); its subject CN (see --client-user) is the user, as a
    /// Basic user would be (--allow, the user header, the access log).
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,

    /// `require`: a client without a valid certificate fails the TLS handshake (an alert);
    /// `request`: its requests get --client-cert-status with a page saying why.
    #[arg(long, value_name = "MODE", requires = "client_ca", default_value = "require",
          value_parser = keyword::<ClientAuth>)]
    pub client_auth: (String, ClientAuth),

    /// The part of the certificate that names the user: `cn`, `san-email`, `san-dns` or
    /// `san-uri`.
    #[arg(long, value_name = "PART", requires = "client_ca", default_value = "cn",
          value_parser = keyword::<ClientUser>)]
    pub client_user: (String, ClientUser),

    /// The status for requests without a valid certificate under `--client-auth request`:
    /// 401 or 403.
    #[arg(long, value_name = "STATUS", requires = "client_ca", default_value_t = 403,
          value_parser = status)]
    pub client_cert_status: u16,

    /// Show upstreams that ask for a client certificate this PEM chain (with
    /// --upstream-client-key).
    #[arg(long, value_name = "FILE", requires = "upstream_client_key")]
    pub upstream_client_cert: Option<PathBuf>,

    /// The PEM private key of --upstream-client-cert.
    #[arg(long, value_name = "FILE", requires = "upstream_client_cert")]
    pub upstream_client_key: Option<PathBuf>,
}

/// A configuration keyword (`require`, `san-dns`) read as the file reads it, kept with its
/// spelling for --print-config.
fn keyword<T: for<'de> Deserialize<'de>>(text: &str) -> Result<(String, T), String> {
    let de: StrDeserializer<'_, DeError> = text.into_deserializer();
    T::deserialize(de)
        .map(|v| (text.to_owned(), v))
        .map_err(|e| e.to_string())
}

fn status(text: &str) -> Result<u16, String> {
    let code: u16 = text
        .parse()
        .map_err(|_| format!("{text:?} is not 401 or 403"))?;
    ClientCertStatus::try_from(code).map(|_| code)
}

impl MtlsFlags {
    /// Puts the client-certificate settings on `tls` (the listener's).
    pub fn apply_listener(&self, tls: &mut TlsConfig) {
        let Some(ca) = &self.client_ca else { return };
        tls.client_ca = Some(ca.clone());
        tls.client_auth = self.client_auth.1;
        tls.client_user = self.client_user.1;
        if let Ok(status) = ClientCertStatus::try_from(self.client_cert_status) {
            tls.client_cert_status = status;
        }
    }

    /// Puts the upstream client certificate in `[proxy]`.
    pub fn apply_proxy(&self, config: &mut Config) {
        config
            .proxy
            .tls_client_cert
            .clone_from(&self.upstream_client_cert);
        config
            .proxy
            .tls_client_key
            .clone_from(&self.upstream_client_key);
    }

    /// The listener's `tls` table entries these flags make, for --print-config.
    pub fn print_listener(&self, tls: &mut InlineTable) {
        let Some(ca) = &self.client_ca else { return };
        tls.insert("client_ca", ca.display().to_string().into());
        tls.insert("client_auth", self.client_auth.0.as_str().into());
        tls.insert("client_user", self.client_user.0.as_str().into());
        tls.insert(
            "client_cert_status",
            i64::from(self.client_cert_status).into(),
        );
    }

    /// The `[proxy]` entries these flags make, for --print-config.
    pub fn print_proxy(&self, proxy: &mut Vec<(&'static str, toml_edit::Item)>) {
        if let (Some(cert), Some(key)) = (&self.upstream_client_cert, &self.upstream_client_key) {
            proxy.push(("tls_client_cert", value(cert.display().to_string())));
            proxy.push(("tls_client_key", value(key.display().to_string())));
        }
    }
}
