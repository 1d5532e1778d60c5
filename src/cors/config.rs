//! [`CorsConfig`]: a route's cross-origin policy, as its `cors` table spells it.

use std::fmt;
use std::time::Duration;

use http::{HeaderName, Method};
use serde::Deserialize;

use super::OriginPattern;

/// Which origins may call a route from a browser, and how.
///
/// ```
/// use tollgate::cors::CorsConfig;
///
/// let config: CorsConfig = serde_json::from_str(r#"{
///     "origins": ["https://app.example.com", "https://*.example.org"],
///     "credentials": true, "max_age": "10m"
/// }"#).unwrap();
/// assert!(config.check().is_empty());
///
/// let reckless: CorsConfig = serde_json::from_str(r#"{"origins": ["*"], "credentials": true}"#).unwrap();
/// assert!(reckless.check()[0].to_string().contains("any origin"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CorsConfig {
    /// The origins allowed ([`OriginPattern`]): `https://app.example.com`,
    /// `https://*.example.com` (any subdomain), or `*` (any origin, never with
    /// `credentials`). Default is none: no origin is allowed, the table does nothing.
    pub origins: Vec<String>,
    /// The methods a preflight may ask for, or `["*"]`. Default is `GET`, `HEAD`, `POST`.
    pub methods: Vec<String>,
    /// The request headers a preflight may ask for, or `["*"]`. Default is none beyond the
    /// CORS-safelisted ones (`Accept`, `Content-Type` of a form, ...).
    pub headers: Vec<String>,
    /// The answer headers the page's script may read (`Access-Control-Expose-Headers`), or
    /// `["*"]`. Default is none beyond the safelisted ones.
    pub expose_headers: Vec<String>,
    /// Whether the browser may send cookies and `Authorization`, and let the page read the
    /// answer (`Access-Control-Allow-Credentials: true`). Refused together with `*` anywhere.
    /// Default is `false`.
    pub credentials: bool,
    /// How long a browser may keep a preflight's answer (`Access-Control-Max-Age`). Default
    /// is `None`: the browser's own (5 s in Chrome and Firefox).
    #[serde(deserialize_with = "optional_duration")]
    pub max_age: Option<Duration>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            origins: Vec::new(),
            methods: ["GET", "HEAD", "POST"].map(str::to_owned).to_vec(),
            headers: Vec::new(),
            expose_headers: Vec::new(),
            credentials: false,
            max_age: None,
        }
    }
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    crate::syntax::duration::deserialize(d).map(Some)
}

impl CorsConfig {
    /// A policy allowing `origins` with the other defaults.
    pub fn allowing<I, T>(origins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        CorsConfig {
            origins: origins.into_iter().map(Into::into).collect(),
            ..CorsConfig::default()
        }
    }

    /// Everything wrong with the policy: malformed origins, methods or header names, and
    /// `credentials` together with a `*`.
    pub fn check(&self) -> Vec<CorsConfigError> {
        let mut errors = Vec::new();
        for (index, origin) in self.origins.iter().enumerate() {
            match OriginPattern::parse(origin) {
                Ok(p) if p.is_any() && self.credentials => {
                    errors.push(CorsConfigError::AnyOriginWithCredentials { index })
                }
                Ok(_) => {}
                Err(e) => errors.push(CorsConfigError::Origin { index, error: e }),
            }
        }
        let lists = [
            ("methods", &self.methods),
            ("headers", &self.headers),
            ("expose_headers", &self.expose_headers),
        ];
        for (key, list) in lists {
            for (index, entry) in list.iter().enumerate() {
                let ok = if entry == "*" {
                    !self.credentials
                } else if key == "methods" {
                    Method::from_bytes(entry.as_bytes()).is_ok()
                } else {
                    HeaderName::from_bytes(entry.as_bytes()).is_ok()
                };
                if !ok {
                    errors.push(CorsConfigError::Entry {
                        key,
                        index,
                        entry: crate::syntax::excerpt(entry, 40),
                        credentials: self.credentials && entry == "*",
                    });
                }
            }
        }
        errors
    }
}

/// What is wrong with a [`CorsConfig`], from [`CorsConfig::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsConfigError {
    /// An entry of `origins` that is not an origin.
    Origin {
        /// Its index in `origins`.
        index: usize,
        /// Why.
        error: super::OriginPatternError,
    },
    /// `origins` allows any origin and `credentials` is on.
    AnyOriginWithCredentials {
        /// The index of `*` in `origins`.
        index: usize,
    },
    /// A method or header name that is not one, or a `*` with `credentials`.
    Entry {
        /// `methods`, `headers` or `expose_headers`.
        key: &'static str,
        /// Its index in the list.
        index: usize,
        /// The entry, shortened.
        entry: String,
        /// Whether it is a `*` refused because of `credentials`.
        credentials: bool,
    },
}

impl fmt::Display for CorsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorsConfigError::Origin { error, .. } => error.fmt(f),
            CorsConfigError::AnyOriginWithCredentials { .. } => f.write_str(
                "`*` with `credentials = true` would let any origin's script read answers made \
                 with its visitors' cookies and credentials (browsers refuse `*` with \
                 credentials, and reflecting every origin instead is that hole): list the \
                 origins you trust, or set `credentials = false`",
            ),
            CorsConfigError::Entry {
                key,
                entry,
                credentials: true,
                ..
            } => write!(
                f,
                "`{entry}` in `{key}` cannot go with `credentials = true` (browsers ignore it \
                 then): list the names"
            ),
            CorsConfigError::Entry { key, entry, .. } => {
                let what = if *key == "methods" {
                    "an HTTP method"
                } else {
                    "a header name"
                };
                write!(f, "`{entry}` in `{key}` is not {what}")
            }
        }
    }
}

impl std::error::Error for CorsConfigError {}
